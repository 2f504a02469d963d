//! The supervisor's state: status and its transitions, the one-start-at-a-time claim, the
//! running child and what `getInfo()` reports about it.

use super::types::{ExitReason, ServerEvent, ServerExit, ServerInfo, ServerStatus};
use super::LlamaServer;
use crate::health::HealthStatus;
use crate::llama::ResolvedConfig;
use crate::process::{self, Exit};
use crate::{Error, Result};
use serde_json::json;
use std::sync::{Arc, Mutex, MutexGuard};

/// What the server really runs with (`/props`), next to what was configured.
#[derive(Debug, Clone, Copy)]
pub(super) struct Capacity {
    pub configured: Option<f64>,
    /// Per-slot context.
    pub effective: u64,
    pub slots: u64,
}

#[derive(Default)]
pub(super) struct State {
    pub status: ServerStatus,
    pub port: u16,
    /// The last resolved configuration (`getConfig()`; kept after the server ends).
    pub config: Option<ResolvedConfig>,
    pub started_at: Option<String>,
    pub load_ms: Option<u64>,
    pub generation: u64,
    pub capacity: Option<Capacity>,
    pub child: Option<Arc<process::Child>>,
    pub stop_requested: bool,
    /// Automatic restarts since the last `start()` by the caller.
    pub restarts: u32,
    /// A `start()` is under way (from its first line, before the status says so).
    pub start_claimed: bool,
    /// The watchdog killed it: its exit counts as a crash whatever the code.
    pub watchdog_kill: bool,
    /// How the last child ended.
    pub last_exit: Option<ServerExit>,
}

impl State {
    /// The process is gone: nothing of it is reported any more.
    pub fn clear_run(&mut self) {
        (self.child, self.port, self.capacity) = (None, 0, None);
    }

    /// The running child's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.pid)
    }

    /// `getInfo()`.
    pub fn info(&self) -> ServerInfo {
        let ended = matches!(self.status, ServerStatus::Stopped | ServerStatus::Crashed);
        ServerInfo {
            status: self.status,
            health: HealthStatus::Unknown,
            pid: self.pid(),
            port: self.port,
            model_id: self
                .config
                .as_ref()
                .map(|c| c.model_id().to_string())
                .unwrap_or_default(),
            started_at: self.started_at.clone(),
            error: None,
            load_time_ms: self.load_ms,
            configured_context_size: self.capacity.and_then(|c| c.configured),
            effective_context_size: self.capacity.map(|c| c.effective),
            server_generation: (self.generation > 0).then_some(self.generation),
            effective_parallel_requests: self.capacity.map(|c| c.slots),
            exit: self.last_exit.clone().filter(|_| ended),
        }
    }

    /// The child ended: remember how (`getInfo().exit`). A running server that nobody is
    /// stopping becomes `stopped` after a clean exit, else `crashed`: that new status is returned
    /// for the listeners.
    pub fn record_exit(&mut self, exit: &Exit) -> Option<ServerStatus> {
        let asked = self.stop_requested;
        let clean = exit.success() && !self.watchdog_kill;
        let reason = if asked {
            ExitReason::Stopped
        } else if self.watchdog_kill {
            ExitReason::Watchdog
        } else if clean {
            ExitReason::Exited
        } else {
            ExitReason::Crashed
        };
        self.last_exit = Some(ServerExit {
            reason,
            code: exit.code,
            signal: exit.signal_name(),
        });
        if self.status != ServerStatus::Running {
            return None;
        }
        self.clear_run();
        self.status = if asked || clean {
            ServerStatus::Stopped
        } else {
            ServerStatus::Crashed
        };
        (!asked).then_some(self.status)
    }
}

pub(super) fn lock(s: &Mutex<State>) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn cancelled_by_stop() -> Error {
    Error::server(
        "llama-server start cancelled by stop()",
        Some(json!({ "suggestion": "Call start() again" })),
    )
}

/// Held by a `start()` while it runs; released however it ends. `.1`: an automatic restart.
pub struct StartClaim(Arc<Mutex<State>>, bool);

impl StartClaim {
    /// Whether this start is an automatic restart (pre-start hooks that fail are then ignored).
    pub fn is_auto_restart(&self) -> bool {
        self.1
    }
}

impl Drop for StartClaim {
    fn drop(&mut self) {
        lock(&self.0).start_claimed = false;
    }
}

impl LlamaServer {
    pub(super) fn set_status(&self, new: ServerStatus) {
        let old = std::mem::replace(&mut lock(&self.state).status, new);
        if old != new {
            self.emit(ServerEvent::Status { new, old });
        }
    }

    /// One `start()` at a time: refused (as upstream) while running, starting or stopping; the
    /// claim is taken before the first await, so two concurrent calls cannot both go ahead. A
    /// `stop()` from here on cancels the start.
    pub fn claim_start(&self) -> Result<StartClaim> {
        self.claim(true)
    }

    /// `by_caller: false` is an automatic restart: it only goes ahead from `crashed` and when no
    /// `stop()` came since, and it keeps the restart count.
    pub(super) fn claim(&self, by_caller: bool) -> Result<StartClaim> {
        let mut s = lock(&self.state);
        let status = if s.start_claimed {
            ServerStatus::Starting
        } else {
            s.status
        };
        let (what, suggestion) = match status {
            ServerStatus::Running => (
                "Server is already running",
                "Stop the server first with stop()",
            ),
            ServerStatus::Starting => (
                "Server is already starting",
                "Wait for the current start() call to finish",
            ),
            ServerStatus::Stopping => (
                "Server is already stopping",
                "Wait for stop() to finish before starting again",
            ),
            _ if !by_caller && (s.stop_requested || s.status != ServerStatus::Crashed) => (
                "Automatic restart cancelled",
                "stop() or start() was called meanwhile",
            ),
            _ => {
                s.start_claimed = true;
                s.capacity = None;
                if by_caller {
                    (s.stop_requested, s.restarts) = (false, 0);
                }
                return Ok(StartClaim(self.state.clone(), !by_caller));
            }
        };
        Err(Error::server(
            what,
            Some(json!({ "suggestion": suggestion })),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> State {
        State {
            status: ServerStatus::Running,
            port: 8080,
            ..Default::default()
        }
    }

    #[test]
    fn exits_become_stopped_or_crashed_with_a_reason() {
        let killed = Exit {
            code: None,
            signal: Some(9),
        };
        let mut s = running();
        assert_eq!(s.record_exit(&killed), Some(ServerStatus::Crashed));
        assert_eq!(s.port, 0);
        assert_eq!(
            s.info().exit,
            Some(ServerExit {
                reason: ExitReason::Crashed,
                code: None,
                signal: Some("SIGKILL".into())
            })
        );
        let clean = Exit {
            code: Some(0),
            signal: None,
        };
        let mut s = running();
        assert_eq!(s.record_exit(&clean), Some(ServerStatus::Stopped));
        assert_eq!(s.last_exit.unwrap().reason, ExitReason::Exited);
        let mut s = running();
        s.watchdog_kill = true;
        assert_eq!(s.record_exit(&clean), Some(ServerStatus::Crashed));
        assert_eq!(s.last_exit.unwrap().reason, ExitReason::Watchdog);
        // Being stopped: no event of its own (stop() reports), reason `stopped`.
        let mut s = running();
        s.stop_requested = true;
        assert_eq!(s.record_exit(&killed), None);
        assert_eq!(s.status, ServerStatus::Stopped);
        assert_eq!(s.last_exit.unwrap().reason, ExitReason::Stopped);
        // A child that dies while starting leaves the status to start().
        let mut s = State {
            status: ServerStatus::Starting,
            ..Default::default()
        };
        assert_eq!(s.record_exit(&killed), None);
        assert_eq!(s.status, ServerStatus::Starting);
        assert_eq!(s.info().exit, None, "reported once stopped or crashed");
    }

    #[test]
    fn info_serializes_as_upstream() {
        let s = State {
            status: ServerStatus::Crashed,
            last_exit: Some(ServerExit {
                reason: ExitReason::Crashed,
                code: None,
                signal: Some("SIGKILL".into()),
            }),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(s.info()).unwrap(),
            json!({ "status": "crashed", "health": "unknown", "port": 0, "modelId": "",
                    "exit": { "reason": "crashed", "code": null, "signal": "SIGKILL" } })
        );
    }
}
