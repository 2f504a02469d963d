//! Binary provisioning: the pinned llama.cpp and stable-diffusion.cpp release builds
//! (`BINARY_VERSIONS`), chosen by platform and hardware, downloaded and verified, extracted
//! safely, tested, and installed in upstream's `binaries/<type>/` layout.
//!
//! `check` runs a candidate (phase 1: `--version`/`--help`; phase 2: a tiny real inference).

pub mod check;

use crate::logs::Level;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which engine (upstream's `type: 'llama' | 'diffusion'`, also the folder under `binaries/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BinaryKind {
    Llama,
    Diffusion,
}

impl BinaryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryKind::Llama => "llama",
            BinaryKind::Diffusion => "diffusion",
        }
    }

    /// The server the managers run.
    pub fn exe_name(self) -> &'static str {
        match self {
            BinaryKind::Llama => "llama-server",
            BinaryKind::Diffusion => "sd-server",
        }
    }

    /// `exe_name` with `.exe` on Windows.
    pub fn file_name(self) -> String {
        exe_file(self.exe_name())
    }
}

/// `name` with `.exe` on Windows.
pub fn exe_file(name: &str) -> String {
    if cfg!(windows) {
        format!("{name}.exe")
    } else {
        name.to_string()
    }
}

/// A model at hand for phase 2 (upstream's `testModelPath` / `testModelArgs`).
#[derive(Debug, Clone, PartialEq)]
pub struct TestModel {
    pub path: PathBuf,
    /// sd-server's model flags (`diffusion::args::model_args`); empty for llama (`-m <path>`).
    pub model_args: Vec<String>,
}

/// Where `binary-log` lines go.
pub type LogFn = dyn Fn(&str, Level) + Send + Sync;
