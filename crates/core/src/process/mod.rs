//! Child processes that cannot outlive us. Every child is spawned from one long-lived spawner
//! thread (Linux's `PR_SET_PDEATHSIG` fires when the *thread* that forked exits), into its own
//! process group, with `PR_SET_PDEATHSIG(SIGKILL)` and a parent-pid re-check that closes the
//! fork race; on Windows into a kill-on-close job. Output is read line by line (`\n`, `\r`,
//! partial last line, invalid UTF-8), the exit is watched, and a stop is SIGTERM to the group,
//! then SIGKILL after a grace period. `kill_all()` is for a synchronous exit hook:
//! `process.exit()` skips every Rust destructor.
//!
//! - `spawn`: the spawner thread, the pre-exec setup, the output pumps, `kill_all`.
//! - `signals`: [`Signal`], signal names from libc's numbers, signalling a group or a pid.
//! - `manager`: `ProcessManager`'s calls on any pid (`is_running`, `terminate`).
//! - `identity`: a process beyond its pid (start time, executable), liveness, orphan reaping.
//! - `record`: [`PidRecord`], the file naming a running child, for reaping it after our crash.
//! - `windows_job`: the Windows kill-on-close job and TerminateProcess.

mod identity;
mod manager;
mod record;
mod signals;
mod spawn;
#[cfg(test)]
mod tests;
#[cfg(windows)]
mod windows_job;

pub use identity::{identity, is_alive, reap_orphan, Identity};
pub use manager::{is_running, kill_refused, terminate};
pub use record::PidRecord;
pub use signals::{signal_group, signal_name, signal_number, signal_pid, Signal};
/// The line splitter of every child's output, for tests that feed it chunks directly.
#[cfg(test)]
pub(crate) use spawn::pump;
pub use spawn::{kill_all, spawn};

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct Spec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
}

/// How a child ended: its exit code, or the signal that killed it (Unix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl Exit {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The signal as Node names it (`'SIGKILL'`), as in a ChildProcess `exit` event.
    pub fn signal_name(&self) -> Option<String> {
        self.signal.map(signal_name)
    }
}

impl std::fmt::Display for Exit {
    /// `exit code 1`, `signal SIGKILL`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal_name()) {
            (Some(code), _) => write!(f, "exit code {code}"),
            (None, Some(signal)) => write!(f, "signal {signal}"),
            (None, None) => f.write_str("unknown exit status"),
        }
    }
}

/// What a child sends back: output lines and, last, its exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Stdout(String),
    Stderr(String),
    Exited(Exit),
}

pub type EventFn = Arc<dyn Fn(Event) + Send + Sync>;

/// A running (or finished) child.
pub struct Child {
    pub pid: u32,
    exit: Arc<(Mutex<Option<Exit>>, Condvar)>,
}

impl Child {
    /// The exit, once it happened.
    pub fn exit(&self) -> Option<Exit> {
        *self.exit.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits up to `timeout` for the exit.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Exit> {
        let (lock, cv) = &*self.exit;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = cv
            .wait_timeout_while(guard, timeout, |e| e.is_none())
            .unwrap_or_else(|p| p.into_inner());
        *guard
    }

    /// SIGTERM to the whole group, SIGKILL after `grace`. Blocking; returns the exit.
    pub fn stop(&self, grace: Duration) -> Option<Exit> {
        if let Some(e) = self.exit() {
            return Some(e);
        }
        signal_group(self.pid, Signal::Term);
        if let Some(e) = self.wait_timeout(grace) {
            return Some(e);
        }
        signal_group(self.pid, Signal::Kill);
        self.wait_timeout(Duration::from_secs(5))
    }

    /// SIGKILL to the whole group now.
    pub fn kill(&self) {
        signal_group(self.pid, Signal::Kill);
    }
}
