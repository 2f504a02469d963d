//! genai-electron's diffusion constants (`config/defaults.js` of 0.26.0), exported to JS from here.

use std::time::Duration;

/// `DiffusionComponentRole`s in the order their flags are passed (`DIFFUSION_COMPONENT_ORDER`),
/// with each one's sd.cpp flag (`DIFFUSION_COMPONENT_FLAGS`).
pub const DIFFUSION_COMPONENTS: [(&str, &str); 7] = [
    ("diffusion_model", "--diffusion-model"),
    ("clip_l", "--clip_l"),
    ("clip_g", "--clip_g"),
    ("t5xxl", "--t5xxl"),
    ("llm", "--llm"),
    ("llm_vision", "--llm_vision"),
    ("vae", "--vae"),
];

/// `DIFFUSION_VRAM_THRESHOLDS`.
pub struct VramThresholds {
    pub clip_on_cpu_headroom_bytes: u64,
    pub vae_on_cpu_headroom_bytes: u64,
    pub model_overhead_multiplier: f64,
}

pub const DIFFUSION_VRAM_THRESHOLDS: VramThresholds = VramThresholds {
    clip_on_cpu_headroom_bytes: 6 * 1024 * 1024 * 1024,
    vae_on_cpu_headroom_bytes: 2 * 1024 * 1024 * 1024,
    model_overhead_multiplier: 1.2,
};

/// `DIFFUSION_BACKEND_DEFAULTS` (milliseconds, as upstream exports them).
pub struct BackendDefaults {
    pub idle_timeout_ms: u64,
    pub job_poll_interval_ms: u64,
    pub job_request_timeout_ms: u64,
    pub ready_timeout_ms: u64,
    pub stop_timeout_ms: u64,
    pub max_transient_poll_failures: u32,
    pub job_activity_timeout_ms: u64,
}

pub const DIFFUSION_BACKEND_DEFAULTS: BackendDefaults = BackendDefaults {
    idle_timeout_ms: 300_000,
    job_poll_interval_ms: 200,
    job_request_timeout_ms: 10_000,
    ready_timeout_ms: crate::defaults::DEFAULT_TIMEOUTS.server_start.as_millis() as u64,
    stop_timeout_ms: crate::defaults::DEFAULT_TIMEOUTS.server_stop.as_millis() as u64,
    max_transient_poll_failures: 3,
    job_activity_timeout_ms: 600_000,
};

/// How long a finished HTTP generation stays readable (`IMAGE_RESULT_TTL_MS`, default).
pub const IMAGE_RESULT_TTL: Duration = Duration::from_millis(300_000);
/// How often expired generations are dropped (`IMAGE_CLEANUP_INTERVAL_MS`, default).
pub const IMAGE_CLEANUP_INTERVAL: Duration = Duration::from_millis(60_000);
/// `count` bounds of one request.
pub const MAX_IMAGES_PER_REQUEST: u32 = 5;
