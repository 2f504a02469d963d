//! The diffusion server's values as JS objects (`#[napi(object)]`, so that binding.d.cts is
//! typed), converted from core's types field for field.

use crate::llama::{LogLevel, ProcessExit, ServerStatus};
use crate::servers::HealthStatus;
use genai_core::diffusion as core;
use genai_core::diffusion_server as server;
use napi::bindgen_prelude::*;
use napi_derive::napi;

#[napi(object)]
pub struct DiffusionBackendFlags {
    pub clip_on_cpu: bool,
    pub vae_on_cpu: bool,
    pub offload_to_cpu: bool,
    pub diffusion_flash_attention: bool,
}

impl From<core::BackendFlags> for DiffusionBackendFlags {
    fn from(f: core::BackendFlags) -> Self {
        DiffusionBackendFlags {
            clip_on_cpu: f.clip_on_cpu,
            vae_on_cpu: f.vae_on_cpu,
            offload_to_cpu: f.offload_to_cpu,
            diffusion_flash_attention: f.diffusion_flash_attention,
        }
    }
}

/// `DiffusionBackendInfo`.
#[napi(object)]
pub struct DiffusionBackendInfo {
    #[napi(ts_type = "'absent' | 'starting' | 'ready' | 'busy' | 'stopping'")]
    pub state: String,
    pub pid: Option<u32>,
    pub started_at: Option<String>,
    pub load_time_ms: Option<f64>,
    pub last_used_at: Option<String>,
    pub flags: Option<DiffusionBackendFlags>,
}

impl From<core::BackendInfo> for DiffusionBackendInfo {
    fn from(b: core::BackendInfo) -> Self {
        DiffusionBackendInfo {
            state: b.state.as_str().into(),
            pid: b.pid,
            started_at: b.started_at,
            load_time_ms: b.load_time_ms.map(|m| m as f64),
            last_used_at: b.last_used_at,
            flags: b.flags.map(Into::into),
        }
    }
}

/// `DiffusionServerInfo`.
#[napi(object)]
pub struct DiffusionServerInfo {
    pub status: ServerStatus,
    pub health: HealthStatus,
    pub pid: Option<u32>,
    pub port: u32,
    pub model_id: String,
    pub started_at: Option<String>,
    pub busy: bool,
    pub backend: DiffusionBackendInfo,
}

impl From<server::DiffusionServerInfo> for DiffusionServerInfo {
    fn from(i: server::DiffusionServerInfo) -> Self {
        DiffusionServerInfo {
            status: i.status.into(),
            health: i.health.into(),
            pid: i.pid,
            port: i.port.into(),
            model_id: i.model_id,
            started_at: i.started_at,
            busy: i.busy,
            backend: i.backend.into(),
        }
    }
}

/// `DiffusionBackendStatusEvent`.
#[napi(object)]
pub struct DiffusionBackendStatusEvent {
    #[napi(ts_type = "'absent' | 'starting' | 'ready' | 'busy' | 'stopping'")]
    pub state: String,
    #[napi(ts_type = "'absent' | 'starting' | 'ready' | 'busy' | 'stopping'")]
    pub previous: String,
    pub reason: Option<String>,
    pub exit: Option<ProcessExit>,
}

impl From<core::BackendStatusEvent> for DiffusionBackendStatusEvent {
    fn from(e: core::BackendStatusEvent) -> Self {
        DiffusionBackendStatusEvent {
            state: e.state.as_str().into(),
            previous: e.previous.as_str().into(),
            reason: e.reason.map(|r| r.as_str().into()),
            exit: e.exit.map(|(code, signal)| ProcessExit { code, signal }),
        }
    }
}

/// `ImageGenerationResult`.
#[napi(object)]
pub struct ImageGenerationResult {
    pub image: Buffer,
    #[napi(ts_type = "'png'")]
    pub format: String,
    pub time_taken: f64,
    pub seed: f64,
    pub width: u32,
    pub height: u32,
}

impl From<core::ImageResult> for ImageGenerationResult {
    fn from(r: core::ImageResult) -> Self {
        ImageGenerationResult {
            image: r.image.into(),
            format: "png".into(),
            time_taken: r.time_taken as f64,
            seed: r.seed as f64,
            width: r.width,
            height: r.height,
        }
    }
}

/// The `binary-log` event of the diffusion server.
#[napi(object)]
pub struct DiffusionBinaryLog {
    pub message: String,
    pub level: LogLevel,
}
