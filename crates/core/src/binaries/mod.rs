//! Binary provisioning: the pinned llama.cpp and stable-diffusion.cpp release builds
//! (`BINARY_VERSIONS`), chosen by platform and hardware, downloaded and verified, extracted
//! safely, tested, and installed in upstream's `binaries/<type>/` layout.
//!
//! `check` runs a candidate (phase 1: `--version`/`--help`; phase 2: a tiny real inference).

pub mod catalog;
pub mod check;
pub mod install;
pub mod manifest;
pub mod provision;
pub mod source;
mod tree;
mod variant;

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

    /// Upstream's phase-1 argument: the server must run with it and exit 0.
    pub fn phase1_arg(self) -> &'static str {
        match self {
            BinaryKind::Llama => "--version",
            BinaryKind::Diffusion => "--help",
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

/// `BinaryProgressEvent`'s phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Downloading,
    Verifying,
    Extracting,
    Finalizing,
    Testing,
    Installing,
}

/// `BinaryProgressEvent`: `file` is `binary` or the dependency's description.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BinaryProgress {
    pub phase: Phase,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downloaded: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_entries: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_entries: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_uncompressed_bytes: Option<u64>,
}

impl BinaryProgress {
    pub fn phase(phase: Phase, file: &str) -> Self {
        BinaryProgress {
            phase,
            file: file.to_string(),
            downloaded: None,
            total: None,
            percent: None,
            completed_entries: None,
            total_entries: None,
            written_bytes: None,
            total_uncompressed_bytes: None,
        }
    }
}

/// What provisioning reports: `binary-log` and `binary-progress`.
#[derive(Debug, Clone, PartialEq)]
pub enum BinaryEvent {
    Log { message: String, level: Level },
    Progress(BinaryProgress),
}

pub type EventFn = std::sync::Arc<dyn Fn(BinaryEvent) + Send + Sync>;
