//! `StartLlamaServerRunnerOptions` and their checks (upstream's messages and details), and the
//! runner's own errors (`CALIBRATION_*`: upstream's runner serves its calibration first).

use crate::llama::launch::SlotsEndpoint;
use crate::llama::LlamaServerConfig;
use crate::{Error, Result};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

/// How many ports an automatically placed runner tries when another process takes its port
/// between the check and the bind (`LLAMA_CALIBRATION_DEFAULTS.maxRunnerStartAttempts`).
pub const MAX_START_ATTEMPTS: u32 = 2;
/// `LLAMA_CALIBRATION_DEFAULTS.stderrMaxBytes`.
pub const OUTPUT_TAIL_BYTES: usize = 16 * 1024;
/// `LLAMA_CALIBRATION_DEFAULTS.capacityCheckTimeoutCapMs`.
pub const CAPACITY_TIMEOUT_CAP: Duration = Duration::from_secs(5);

/// `StartLlamaServerRunnerOptions` (without `signal`, which is a cancel token; numbers as
/// JavaScript gave them, checked by `validate`).
#[derive(Debug, Clone, Default)]
pub struct RunnerOptions {
    pub binary_path: PathBuf,
    pub model_path: String,
    /// `LlamaServerRunnerConfig`: the runtime fields except contextSize, parallelRequests, fit.
    pub config: LlamaServerConfig,
    pub context_size: f64,
    pub parallel_requests: f64,
    pub startup_timeout_ms: f64,
    pub port: Option<f64>,
    pub cwd: Option<PathBuf>,
    pub stderr_max_bytes: Option<f64>,
    pub slots_endpoint: SlotsEndpoint,
    pub slot_save_path: Option<String>,
    pub temporary_slot_save_path: bool,
}

/// `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

fn invalid(message: &str, details: Value) -> Error {
    let mut details = details;
    details["code"] = json!("INVALID_LLAMA_SERVER_RUNNER_OPTIONS");
    Error::server(message, Some(details))
}

fn positive_safe_integer(name: &str, value: f64) -> Result<u64> {
    if value.fract() == 0.0 && value > 0.0 && value <= MAX_SAFE_INTEGER {
        Ok(value as u64)
    } else {
        Err(invalid(
            &format!("{name} must be a positive safe integer"),
            json!({ "option": name, "value": value }),
        ))
    }
}

/// The checked numbers.
#[derive(Debug, Clone, Copy)]
pub struct Checked {
    pub context_size: u64,
    pub parallel_requests: u64,
    pub startup_timeout: Duration,
    pub tail_bytes: usize,
    pub port: Option<u16>,
}

/// upstream's `validateRunnerOptions`, in its order.
pub fn validate(o: &RunnerOptions) -> Result<Checked> {
    let context_size = positive_safe_integer("contextSize", o.context_size)?;
    let parallel_requests = positive_safe_integer("parallelRequests", o.parallel_requests)?;
    let startup = positive_safe_integer("startupTimeoutMs", o.startup_timeout_ms)?;
    let tail_bytes = match o.stderr_max_bytes {
        Some(v) => positive_safe_integer("stderrMaxBytes", v)? as usize,
        None => OUTPUT_TAIL_BYTES,
    };
    let port = match o.port {
        Some(p) if p.fract() == 0.0 && (1.0..=65535.0).contains(&p) => Some(p as u16),
        Some(p) => {
            return Err(invalid(
                "port must be a safe integer between 1 and 65535",
                json!({ "option": "port", "value": p }),
            ))
        }
        None => None,
    };
    if let Some(host) = o
        .config
        .host
        .as_deref()
        .filter(|h| h.is_empty() || h.trim() != *h)
    {
        return Err(invalid(
            "host must not be empty or contain surrounding whitespace",
            json!({ "option": "host", "value": host }),
        ));
    }
    if o.slot_save_path
        .as_deref()
        .is_some_and(|p| p.trim().is_empty())
    {
        return Err(invalid(
            "slotSavePath must not be empty",
            json!({ "option": "slotSavePath" }),
        ));
    }
    let slots = json!({ "slotsEndpoint": o.slots_endpoint });
    let saves = o.slot_save_path.is_some() || o.temporary_slot_save_path;
    if o.slots_endpoint == SlotsEndpoint::Disabled && saves {
        return Err(invalid("Disabled slots cannot use slot-save state", slots));
    }
    if o.temporary_slot_save_path && o.slots_endpoint != SlotsEndpoint::Enabled {
        return Err(invalid(
            "temporarySlotSavePath requires slotsEndpoint: 'enabled'",
            slots,
        ));
    }
    if o.temporary_slot_save_path && o.slot_save_path.is_some() {
        return Err(invalid(
            "temporarySlotSavePath cannot be combined with slotSavePath",
            json!({}),
        ));
    }
    Ok(Checked {
        context_size,
        parallel_requests,
        startup_timeout: Duration::from_millis(startup),
        tail_bytes,
        port,
    })
}

/// `signal` fired before or during the start.
pub fn aborted() -> Error {
    Error::server(
        "LLM calibration aborted",
        Some(json!({ "code": "CALIBRATION_ABORTED" })),
    )
}

/// `details.code` of a runner error, as upstream's `errorDetails(error).code` reads it.
pub fn detail_code(e: &Error) -> Option<&str> {
    e.detail_code()
}

/// A failure to confirm that the child is gone or its temporary folder removed.
pub fn cleanup_failed(pid: Option<u32>, stderr_tail: &str, cause: String) -> Error {
    Error::server(
        format!(
            "Could not confirm cleanup of calibration process {}",
            pid.map_or("undefined".to_string(), |p| p.to_string())
        ),
        Some(json!({
            "code": "CALIBRATION_CLEANUP_FAILED", "pid": pid, "stderrTail": stderr_tail, "cause": cause,
        })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> RunnerOptions {
        RunnerOptions {
            context_size: 2048.0,
            parallel_requests: 1.0,
            startup_timeout_ms: 1000.0,
            ..Default::default()
        }
    }

    fn message(o: RunnerOptions) -> String {
        let e = validate(&o).unwrap_err();
        assert_eq!(e.detail_code(), Some("INVALID_LLAMA_SERVER_RUNNER_OPTIONS"));
        e.message
    }

    #[test]
    fn upstreams_checks_in_order() {
        assert!(validate(&base()).is_ok());
        let m = message(RunnerOptions {
            context_size: 1.5,
            ..base()
        });
        assert_eq!(m, "contextSize must be a positive safe integer");
        let m = message(RunnerOptions {
            port: Some(0.0),
            ..base()
        });
        assert_eq!(m, "port must be a safe integer between 1 and 65535");
        let mut o = base();
        o.config.host = Some(" 127.0.0.1".into());
        assert!(message(o).starts_with("host must not be empty"));
        let m = message(RunnerOptions {
            temporary_slot_save_path: true,
            ..base()
        });
        assert_eq!(m, "temporarySlotSavePath requires slotsEndpoint: 'enabled'");
        let m = message(RunnerOptions {
            slots_endpoint: SlotsEndpoint::Disabled,
            slot_save_path: Some("/s".into()),
            ..base()
        });
        assert_eq!(m, "Disabled slots cannot use slot-save state");
    }
}
