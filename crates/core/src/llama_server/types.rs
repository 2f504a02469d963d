//! What the supervisor reports: its status, `getInfo()`, how the last child ended, and the
//! payloads of its events (genai-electron's shapes, field for field).

use crate::health::HealthStatus;
use crate::logs::Level;
use crate::process::Exit;
use serde::Serialize;

/// genai-electron's `ServerStatus`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerStatus {
    #[default]
    Stopped,
    Starting,
    Running,
    Stopping,
    Crashed,
}

/// Why the last child ended: `stop()`, a crash, the watchdog, or a clean exit on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExitReason {
    Stopped,
    Crashed,
    Watchdog,
    Exited,
}

/// Addition: `getInfo().exit`, once the server is stopped or crashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerExit {
    pub reason: ExitReason,
    pub code: Option<i32>,
    /// As Node names it (`'SIGKILL'`).
    pub signal: Option<String>,
}

/// `getInfo()`: genai-electron's `ServerInfo`, plus `exit`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    pub status: ServerStatus,
    /// Always `unknown` here, as upstream (`isHealthy()` probes).
    pub health: HealthStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    pub port: u16,
    pub model_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// Upstream's field; this supervisor reports failures as errors and `exit` instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_time_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configured_context_size: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_context_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_generation: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_parallel_requests: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<ServerExit>,
}

/// The `ready` event: what the server really runs with (`LlamaServerReadyState`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LlamaServerReadyState {
    pub server_generation: u64,
    pub model_id: String,
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configured_context_size: Option<f64>,
    pub effective_context_size: u64,
    pub effective_parallel_requests: u64,
    pub started_at: String,
}

/// The `health-check-failed` event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckFailed {
    pub consecutive_failures: u32,
    pub server_info: ServerInfo,
}

/// What the supervisor tells its listeners (the facade re-emits them with genai-electron's names).
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    Status {
        new: ServerStatus,
        old: ServerStatus,
    },
    Ready(LlamaServerReadyState),
    Started(ServerInfo),
    Stopped,
    Crashed(Exit),
    /// After an automatic restart (`autoRestart`), with the new `getInfo()`.
    Restarted(ServerInfo),
    /// Watchdog (`healthCheckInterval`): a passed check, with `getInfo()`.
    HealthOk(ServerInfo),
    /// Watchdog: a failed check; three in a row kill the hung server (then `crashed`, and
    /// `autoRestart` applies).
    HealthFailed(HealthCheckFailed),
    /// What happens to the binary before it runs (`binary-log`): which one, its validation.
    BinaryLog {
        message: String,
        level: Level,
    },
    /// Provisioning's steps (`binary-progress`).
    BinaryProgress(crate::binaries::BinaryProgress),
}
