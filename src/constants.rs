//! genai-electron's exported constants, read from the core so that the facade freezes these
//! values instead of copying them. Numbers cross as JS numbers (napi doubles), so the ladder's
//! last bound arrives as `Infinity` (JSON could not carry it).

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

#[napi(object)]
pub struct Constants {
    /// `KV_CACHE_BYTES_PER_ELEMENT` as `[cacheType, bytes]` pairs, in upstream's key order.
    pub kv_cache_bytes_per_element: Vec<(String, f64)>,
    /// `CONTEXT_GRANULARITY_LADDER`: `[upperBound, granularity]`, the last bound `Infinity`.
    pub context_granularity_ladder: Vec<(f64, f64)>,
    pub reasoning_model_patterns: Vec<String>,
    pub default_ports: DefaultPorts,
    pub default_timeouts: DefaultTimeouts,
}

#[napi]
pub fn constants() -> Constants {
    let ms = |d: std::time::Duration| d.as_millis() as f64;
    let t = defaults::DEFAULT_TIMEOUTS;
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
    }
}
