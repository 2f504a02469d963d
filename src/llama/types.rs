//! The llama-server supervisor's values as JS objects (`#[napi(object)]`, so that binding.d.cts
//! is typed), each converted from its core type field for field.

use crate::servers::HealthStatus;
use genai_core::llama::config::{self as core_config, FlashAttention as CoreFlashAttention};
use genai_core::llama::{LlamaServerConfig as CoreConfig, PortSetting};
use genai_core::llama_server as core;
use genai_core::logs::Level;
use napi::bindgen_prelude::*;
use napi_derive::napi;

#[napi(string_enum = "lowercase")]
pub enum ServerStatus {
    Stopped,
    Starting,
    Running,
    Stopping,
    Crashed,
}

impl From<core::ServerStatus> for ServerStatus {
    fn from(s: core::ServerStatus) -> Self {
        match s {
            core::ServerStatus::Stopped => ServerStatus::Stopped,
            core::ServerStatus::Starting => ServerStatus::Starting,
            core::ServerStatus::Running => ServerStatus::Running,
            core::ServerStatus::Stopping => ServerStatus::Stopping,
            core::ServerStatus::Crashed => ServerStatus::Crashed,
        }
    }
}

#[napi(string_enum = "lowercase")]
pub enum ExitReason {
    Stopped,
    Crashed,
    Watchdog,
    Exited,
}

/// Addition: `getInfo().exit`.
#[napi(object, use_nullable = true)]
pub struct ServerExit {
    pub reason: ExitReason,
    pub code: Option<i32>,
    pub signal: Option<String>,
}

impl From<core::ServerExit> for ServerExit {
    fn from(e: core::ServerExit) -> Self {
        let reason = match e.reason {
            core::ExitReason::Stopped => ExitReason::Stopped,
            core::ExitReason::Crashed => ExitReason::Crashed,
            core::ExitReason::Watchdog => ExitReason::Watchdog,
            core::ExitReason::Exited => ExitReason::Exited,
        };
        ServerExit {
            reason,
            code: e.code,
            signal: e.signal,
        }
    }
}

/// The `crashed` event: how the process ended.
#[napi(object, use_nullable = true)]
pub struct ProcessExit {
    pub code: Option<i32>,
    pub signal: Option<String>,
}

impl From<genai_core::process::Exit> for ProcessExit {
    fn from(e: genai_core::process::Exit) -> Self {
        ProcessExit {
            code: e.code,
            signal: e.signal_name(),
        }
    }
}

/// `getInfo()`.
#[napi(object)]
pub struct ServerInfo {
    pub status: ServerStatus,
    pub health: HealthStatus,
    pub pid: Option<u32>,
    pub port: u32,
    pub model_id: String,
    pub started_at: Option<String>,
    pub error: Option<String>,
    pub load_time_ms: Option<f64>,
    pub configured_context_size: Option<f64>,
    pub effective_context_size: Option<f64>,
    pub server_generation: Option<f64>,
    pub effective_parallel_requests: Option<f64>,
    pub exit: Option<ServerExit>,
}

impl From<core::ServerInfo> for ServerInfo {
    fn from(i: core::ServerInfo) -> Self {
        let number = |n: Option<u64>| n.map(|n| n as f64);
        ServerInfo {
            status: i.status.into(),
            health: i.health.into(),
            pid: i.pid,
            port: i.port.into(),
            model_id: i.model_id,
            started_at: i.started_at,
            error: i.error,
            load_time_ms: number(i.load_time_ms),
            configured_context_size: i.configured_context_size,
            effective_context_size: number(i.effective_context_size),
            server_generation: number(i.server_generation),
            effective_parallel_requests: number(i.effective_parallel_requests),
            exit: i.exit.map(Into::into),
        }
    }
}

/// The `ready` event.
#[napi(object)]
pub struct LlamaServerReadyState {
    pub server_generation: f64,
    pub model_id: String,
    pub port: u32,
    pub configured_context_size: Option<f64>,
    pub effective_context_size: f64,
    pub effective_parallel_requests: f64,
    pub started_at: String,
}

impl From<core::LlamaServerReadyState> for LlamaServerReadyState {
    fn from(r: core::LlamaServerReadyState) -> Self {
        LlamaServerReadyState {
            server_generation: r.server_generation as f64,
            model_id: r.model_id,
            port: r.port.into(),
            configured_context_size: r.configured_context_size,
            effective_context_size: r.effective_context_size as f64,
            effective_parallel_requests: r.effective_parallel_requests as f64,
            started_at: r.started_at,
        }
    }
}

/// The `health-check-failed` event.
#[napi(object)]
pub struct HealthCheckFailed {
    pub consecutive_failures: u32,
    pub server_info: ServerInfo,
}

impl From<core::HealthCheckFailed> for HealthCheckFailed {
    fn from(f: core::HealthCheckFailed) -> Self {
        HealthCheckFailed {
            consecutive_failures: f.consecutive_failures,
            server_info: f.server_info.into(),
        }
    }
}

#[napi(string_enum = "lowercase")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

impl From<Level> for LogLevel {
    fn from(l: Level) -> Self {
        match l {
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        }
    }
}

/// The `binary-log` event.
#[napi(object)]
pub struct BinaryLogEvent {
    pub message: String,
    #[napi(ts_type = "'info' | 'warn' | 'error'")]
    pub level: LogLevel,
}

/// `port: number | 'auto'`.
#[napi(string_enum)]
pub enum AutoPort {
    #[napi(value = "auto")]
    Auto,
}

#[napi(string_enum = "lowercase")]
pub enum FlashAttentionMode {
    On,
    Off,
    Auto,
}

/// genai-electron's `LlamaServerConfig` (plus `binaryPath`): `getConfig()`'s result.
#[napi(object)]
pub struct LlamaServerConfig {
    pub model_id: Option<String>,
    pub port: Option<Either<f64, AutoPort>>,
    pub threads: Option<f64>,
    pub context_size: Option<f64>,
    pub minimum_context_size: Option<f64>,
    pub preferred_context_size: Option<f64>,
    pub maximum_context_size: Option<f64>,
    pub gpu_layers: Option<f64>,
    pub parallel_requests: Option<f64>,
    pub flash_attention: Option<Either<bool, FlashAttentionMode>>,
    pub host: Option<String>,
    pub force_validation: Option<bool>,
    pub startup_timeout: Option<f64>,
    pub model_alias: Option<String>,
    pub continuous_batching: Option<bool>,
    pub batch_size: Option<f64>,
    pub use_mmap: Option<bool>,
    pub use_mlock: Option<bool>,
    pub jinja: Option<bool>,
    #[napi(ts_type = "'f16' | 'bf16' | 'q8_0' | 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'iq4_nl'")]
    pub cache_type_k: Option<String>,
    #[napi(ts_type = "'f16' | 'bf16' | 'q8_0' | 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'iq4_nl'")]
    pub cache_type_v: Option<String>,
    pub swa_full: Option<bool>,
    pub override_tensors: Option<String>,
    pub cache_ram: Option<f64>,
    pub cpu_moe: Option<bool>,
    pub n_cpu_moe: Option<f64>,
    #[napi(ts_type = "'auto' | 'deepseek' | 'deepseek-legacy' | 'none'")]
    pub reasoning_format: Option<String>,
    #[napi(ts_type = "'on' | 'off'")]
    pub fit: Option<String>,
    #[napi(ts_type = "'warn' | 'strict' | 'off'")]
    pub occupancy_check: Option<String>,
    pub auto_restart: Option<bool>,
    pub max_restarts: Option<f64>,
    pub health_check_interval: Option<f64>,
    pub binary_path: Option<String>,
    /// Additions: where a provisioned binary comes from (see the README's Binaries).
    pub binary_mirror: Option<String>,
    pub binary_catalog: Option<String>,
    pub binaries_dir: Option<String>,
}

/// The fields that are the same type on both sides, written once for both directions.
macro_rules! convert_config {
    ($c:ident => $Out:ident, $port:expr, $fa:expr) => {
        $Out {
            port: $c.port.map($port),
            flash_attention: $c.flash_attention.map($fa),
            model_id: $c.model_id,
            threads: $c.threads,
            context_size: $c.context_size,
            minimum_context_size: $c.minimum_context_size,
            preferred_context_size: $c.preferred_context_size,
            maximum_context_size: $c.maximum_context_size,
            gpu_layers: $c.gpu_layers,
            parallel_requests: $c.parallel_requests,
            host: $c.host,
            force_validation: $c.force_validation,
            startup_timeout: $c.startup_timeout,
            model_alias: $c.model_alias,
            continuous_batching: $c.continuous_batching,
            batch_size: $c.batch_size,
            use_mmap: $c.use_mmap,
            use_mlock: $c.use_mlock,
            jinja: $c.jinja,
            cache_type_k: $c.cache_type_k,
            cache_type_v: $c.cache_type_v,
            swa_full: $c.swa_full,
            override_tensors: $c.override_tensors,
            cache_ram: $c.cache_ram,
            cpu_moe: $c.cpu_moe,
            n_cpu_moe: $c.n_cpu_moe,
            reasoning_format: $c.reasoning_format,
            fit: $c.fit,
            occupancy_check: $c.occupancy_check,
            auto_restart: $c.auto_restart,
            max_restarts: $c.max_restarts,
            health_check_interval: $c.health_check_interval,
            binary_path: $c.binary_path,
            binary_mirror: $c.binary_mirror,
            binary_catalog: $c.binary_catalog,
            binaries_dir: $c.binaries_dir,
        }
    };
}

fn mode_to_js(m: core_config::FlashAttentionMode) -> FlashAttentionMode {
    match m {
        core_config::FlashAttentionMode::On => FlashAttentionMode::On,
        core_config::FlashAttentionMode::Off => FlashAttentionMode::Off,
        core_config::FlashAttentionMode::Auto => FlashAttentionMode::Auto,
    }
}

fn mode_from_js(m: FlashAttentionMode) -> core_config::FlashAttentionMode {
    match m {
        FlashAttentionMode::On => core_config::FlashAttentionMode::On,
        FlashAttentionMode::Off => core_config::FlashAttentionMode::Off,
        FlashAttentionMode::Auto => core_config::FlashAttentionMode::Auto,
    }
}

impl From<CoreConfig> for LlamaServerConfig {
    fn from(c: CoreConfig) -> Self {
        convert_config!(
            c => LlamaServerConfig,
            |p| match p {
                PortSetting::Number(n) => Either::A(n),
                PortSetting::Auto(_) => Either::B(AutoPort::Auto),
            },
            |fa| match fa {
                CoreFlashAttention::Bool(b) => Either::A(b),
                CoreFlashAttention::Mode(m) => Either::B(mode_to_js(m)),
            }
        )
    }
}

impl From<LlamaServerConfig> for CoreConfig {
    fn from(c: LlamaServerConfig) -> Self {
        convert_config!(
            c => CoreConfig,
            |p| match p {
                Either::A(n) => PortSetting::Number(n),
                Either::B(AutoPort::Auto) => PortSetting::Auto(core_config::AutoPort::Auto),
            },
            |fa| match fa {
                Either::A(b) => CoreFlashAttention::Bool(b),
                Either::B(m) => CoreFlashAttention::Mode(mode_from_js(m)),
            }
        )
    }
}
