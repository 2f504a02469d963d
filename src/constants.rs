//! genai-electron's exported constants, read from the core so that the facade freezes these
//! values instead of copying them. Numbers cross as JS numbers (napi doubles), so the ladder's
//! last bound arrives as `Infinity` (JSON could not carry it).

use genai_core::diffusion::constants as diffusion;
use genai_core::{defaults, reasoning, system::sizing};
use napi_derive::napi;

#[napi(object)]
pub struct DefaultPorts {
    pub llama: u32,
    pub diffusion: u32,
}

/// Milliseconds, as upstream's `DEFAULT_TIMEOUTS`.
#[napi(object)]
pub struct DefaultTimeouts {
    pub download: f64,
    pub server_start: f64,
    pub server_stop: f64,
    pub health_check: f64,
}

/// `DIFFUSION_VRAM_THRESHOLDS` (bytes).
#[napi(object)]
pub struct DiffusionVramThresholds {
    pub clip_on_cpu_headroom_bytes: f64,
    pub vae_on_cpu_headroom_bytes: f64,
    pub model_overhead_multiplier: f64,
}

/// `DIFFUSION_BACKEND_DEFAULTS` (milliseconds, a count).
#[napi(object)]
pub struct DiffusionBackendDefaults {
    pub idle_timeout_ms: f64,
    pub job_poll_interval_ms: f64,
    pub job_request_timeout_ms: f64,
    pub ready_timeout_ms: f64,
    pub stop_timeout_ms: f64,
    pub max_transient_poll_failures: u32,
    pub job_activity_timeout_ms: f64,
}

#[napi(object)]
pub struct Constants {
    /// `KV_CACHE_BYTES_PER_ELEMENT` as `[cacheType, bytes]` pairs, in upstream's key order.
    pub kv_cache_bytes_per_element: Vec<(String, f64)>,
    /// `CONTEXT_GRANULARITY_LADDER`: `[upperBound, granularity]`, the last bound `Infinity`.
    pub context_granularity_ladder: Vec<(f64, f64)>,
    pub reasoning_model_patterns: Vec<String>,
    pub default_ports: DefaultPorts,
    pub default_timeouts: DefaultTimeouts,
    /// `[role, flag]` pairs in `DIFFUSION_COMPONENT_ORDER` (the facade makes both constants).
    pub diffusion_components: Vec<(String, String)>,
    pub diffusion_vram_thresholds: DiffusionVramThresholds,
    pub diffusion_backend_defaults: DiffusionBackendDefaults,
}

#[napi]
pub fn constants() -> Constants {
    let ms = |d: std::time::Duration| d.as_millis() as f64;
    let t = defaults::DEFAULT_TIMEOUTS;
    let vram = diffusion::DIFFUSION_VRAM_THRESHOLDS;
    let backend = diffusion::DIFFUSION_BACKEND_DEFAULTS;
    Constants {
        kv_cache_bytes_per_element: sizing::KV_CACHE_BYTES_PER_ELEMENT
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        context_granularity_ladder: sizing::CONTEXT_GRANULARITY_LADDER.to_vec(),
        reasoning_model_patterns: reasoning::REASONING_MODEL_PATTERNS
            .iter()
            .map(|p| p.to_string())
            .collect(),
        default_ports: DefaultPorts {
            llama: defaults::DEFAULT_PORTS.llama.into(),
            diffusion: defaults::DEFAULT_PORTS.diffusion.into(),
        },
        default_timeouts: DefaultTimeouts {
            download: ms(t.download),
            server_start: ms(t.server_start),
            server_stop: ms(t.server_stop),
            health_check: ms(t.health_check),
        },
        diffusion_components: diffusion::DIFFUSION_COMPONENTS
            .iter()
            .map(|(role, flag)| (role.to_string(), flag.to_string()))
            .collect(),
        diffusion_vram_thresholds: DiffusionVramThresholds {
            clip_on_cpu_headroom_bytes: vram.clip_on_cpu_headroom_bytes as f64,
            vae_on_cpu_headroom_bytes: vram.vae_on_cpu_headroom_bytes as f64,
            model_overhead_multiplier: vram.model_overhead_multiplier,
        },
        diffusion_backend_defaults: DiffusionBackendDefaults {
            idle_timeout_ms: backend.idle_timeout_ms as f64,
            job_poll_interval_ms: backend.job_poll_interval_ms as f64,
            job_request_timeout_ms: backend.job_request_timeout_ms as f64,
            ready_timeout_ms: backend.ready_timeout_ms as f64,
            stop_timeout_ms: backend.stop_timeout_ms as f64,
            max_transient_poll_failures: backend.max_transient_poll_failures,
            job_activity_timeout_ms: backend.job_activity_timeout_ms as f64,
        },
    }
}
