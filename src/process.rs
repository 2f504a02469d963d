//! `#[napi]` shims for ProcessManager's pid calls and the exit hook. They convert JS numbers
//! (a pid, a delay as `setTimeout` reads it); the policy (which pids are refused, and the error)
//! is the core's (`genai_core::process`).

use genai_core::{jsnum, process};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::time::Duration;

/// A JS number that names one process: a whole number from 1 to `i32::MAX` (what a `pid_t`
/// holds; 0, a negative, a fraction, NaN or a larger number is none).
fn pid_of(pid: f64) -> Option<u32> {
    (pid.fract() == 0.0 && (1.0..=i32::MAX as f64).contains(&pid)).then_some(pid as u32)
}

/// A delay as `setTimeout` reads it: whole milliseconds from 1 to 2^31−1; anything else (NaN,
/// ≤ 0, fractions below 1, `Infinity`, larger) is 1 ms.
fn set_timeout_delay(ms: f64) -> Duration {
    Duration::from_millis(if (1.0..=2_147_483_647.0).contains(&ms) {
        ms as u64
    } else {
        1
    })
}

/// `ProcessManager.kill(pid, timeout)`: SIGTERM, SIGKILL after `timeout` ms, back once gone.
/// A number that is no pid is refused with the core's error, naming the pid as JS prints it.
#[napi(ts_return_type = "Promise<void>")]
pub fn kill_process<'env>(
    env: &'env Env,
    pid: f64,
    timeout_ms: f64,
) -> Result<PromiseRaw<'env, ()>> {
    let grace = set_timeout_delay(timeout_ms);
    crate::errors::blocking(env, move || match pid_of(pid) {
        Some(pid) => process::terminate(pid, grace),
        None => Err(process::kill_refused(
            &jsnum::to_string(pid),
            serde_json::json!(pid),
        )),
    })
}

/// `ProcessManager.isRunning(pid)`.
#[napi]
pub fn is_process_running(pid: f64) -> bool {
    pid_of(pid).is_some_and(process::is_running)
}

/// SIGKILL to every child we started (for the facade's synchronous `process.on('exit')` hook).
#[napi]
pub fn kill_all_children() -> u32 {
    process::kill_all() as u32
}
