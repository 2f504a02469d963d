//! `ProcessManager`'s calls on any pid, not only our children: `isRunning` and `kill`. The
//! policy lives here: pid 0 (`kill(0)` signals our own group), our own pid and a pid that no
//! `pid_t` holds are never killed, and are refused with one error.

use super::{is_alive, signal_pid, Signal};
use crate::{Error, Result};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A pid `kill(2)` can take as one process: 1 to `i32::MAX` (a larger one would wrap to a
/// negative, i.e. a process group or every process). The same range on Windows.
fn one_process(pid: u32) -> bool {
    (1..=i32::MAX as u32).contains(&pid)
}

/// `ProcessManager.isRunning(pid)`: a live process we may signal (as `process.kill(pid, 0)`
/// succeeding), not a zombie. Our own process is running.
pub fn is_running(pid: u32) -> bool {
    if !one_process(pid) {
        return false;
    }
    #[cfg(unix)]
    // SAFETY: signal 0 only checks that the process exists and that we may signal it; the pid is
    // positive and fits a pid_t.
    if unsafe { libc::kill(pid as libc::pid_t, 0) } != 0 {
        return false;
    }
    is_alive(pid)
}

/// The error for a pid that cannot be a child of ours. `shown` is the pid as the caller wrote it
/// (a JS number: `1.5`, `-1`), `pid` the same for the details.
pub fn kill_refused(shown: &str, pid: Value) -> Error {
    failure(
        "Failed to kill process",
        shown,
        pid,
        "not the id of a child process",
    )
}

fn failure(what: &str, shown: &str, pid: Value, error: impl Into<String>) -> Error {
    Error::server(
        format!("{what} {shown}"),
        Some(json!({ "pid": pid, "error": error.into() })),
    )
}

/// `ProcessManager.kill(pid, timeout)`: SIGTERM, then SIGKILL once `grace` has passed, and back
/// once the process is gone (2 s at most after SIGKILL). Not running: nothing to do. Refused
/// (`kill_refused`): 0, our own pid, a pid over `i32::MAX`.
pub fn terminate(pid: u32, grace: Duration) -> Result<()> {
    let shown = pid.to_string();
    if !one_process(pid) || pid == std::process::id() {
        return Err(kill_refused(&shown, json!(pid)));
    }
    if !is_running(pid) {
        return Ok(());
    }
    let fail = |what, e: std::io::Error| failure(what, &shown, json!(pid), e.to_string());
    match signal_pid(pid, Signal::Term) {
        Ok(false) => return Ok(()),
        Err(e) => return Err(fail("Failed to kill process", e)),
        Ok(true) => {}
    }
    if wait_gone(pid, grace) {
        return Ok(());
    }
    match signal_pid(pid, Signal::Kill) {
        Ok(_) => {
            wait_gone(pid, Duration::from_secs(2));
            Ok(())
        }
        Err(e) => Err(fail("Failed to force kill process", e)),
    }
}

/// Polls until `pid` is gone or `timeout` passed; whether it is gone.
fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !is_alive(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
