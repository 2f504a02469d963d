//! What to start (`StartSdServerRunnerOptions`), with upstream's defaults and option checks.

use crate::diffusion::client::coded;
use crate::diffusion::constants::DIFFUSION_BACKEND_DEFAULTS;
use crate::Result;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

/// What to start (`StartSdServerRunnerOptions`).
#[derive(Debug, Clone)]
pub struct BackendSpec {
    pub binary: PathBuf,
    pub model_args: Vec<String>,
    pub context_args: Vec<String>,
    /// `-t`; `None` or 0 leaves it to sd.cpp.
    pub threads: Option<u32>,
    pub lora_dir: PathBuf,
    pub host: String,
    /// `None`: a free port, and one more try on a bind collision.
    pub port: Option<u16>,
    pub ready_timeout: Duration,
    pub stop_timeout: Duration,
    /// `<userData>/temp/children/sd-server.json`.
    pub pid_record: PathBuf,
}

impl Default for BackendSpec {
    fn default() -> Self {
        BackendSpec {
            binary: PathBuf::new(),
            model_args: Vec::new(),
            context_args: Vec::new(),
            threads: None,
            lora_dir: PathBuf::new(),
            host: crate::defaults::LOOPBACK_HOST.into(),
            port: None,
            ready_timeout: Duration::from_millis(DIFFUSION_BACKEND_DEFAULTS.ready_timeout_ms),
            stop_timeout: Duration::from_millis(DIFFUSION_BACKEND_DEFAULTS.stop_timeout_ms),
            pid_record: PathBuf::new(),
        }
    }
}

/// `validateRunnerOptions`: `INVALID_SD_SERVER_RUNNER_OPTIONS` with the option and value.
pub(super) fn validate(spec: &BackendSpec) -> Result<()> {
    let invalid = |option: &str, message: &str, value: Value| {
        Err(coded(
            "INVALID_SD_SERVER_RUNNER_OPTIONS",
            message,
            json!({ "option": option, "value": value }),
        ))
    };
    if spec.binary.as_os_str().is_empty() {
        return invalid("binaryPath", "binaryPath must not be empty", Value::Null);
    }
    if spec.lora_dir.as_os_str().is_empty() {
        return invalid("loraDir", "loraDir must not be empty", Value::Null);
    }
    if spec.host.is_empty() || spec.host.trim() != spec.host {
        let message = "host must not be empty or contain surrounding whitespace";
        return invalid("host", message, json!(spec.host));
    }
    if spec.port == Some(0) {
        let message = "port must be a safe integer between 1 and 65535";
        return invalid("port", message, json!(0));
    }
    if spec.ready_timeout.is_zero() {
        let message = "readyTimeoutMs must be a positive safe integer";
        return invalid("readyTimeoutMs", message, json!(0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_validation_as_upstream() {
        let good = BackendSpec {
            binary: "/bin/sd-server".into(),
            lora_dir: "/loras".into(),
            ..Default::default()
        };
        assert!(validate(&good).is_ok());
        let code = |spec: BackendSpec| {
            let e = validate(&spec).unwrap_err();
            (
                e.details.as_ref().unwrap()["option"].clone(),
                e.details
                    .as_ref()
                    .and_then(|d| d["code"].as_str())
                    .map(String::from),
            )
        };
        let (option, c) = code(BackendSpec {
            port: Some(0),
            ..good.clone()
        });
        assert_eq!(
            (option, c.as_deref()),
            (json!("port"), Some("INVALID_SD_SERVER_RUNNER_OPTIONS"))
        );
        assert_eq!(
            code(BackendSpec {
                host: " x".into(),
                ..good.clone()
            })
            .0,
            "host"
        );
        assert_eq!(
            code(BackendSpec {
                lora_dir: PathBuf::new(),
                ..good
            })
            .0,
            "loraDir"
        );
    }
}
