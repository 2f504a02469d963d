//! Memory sizing: genai-electron's model-metadata fallbacks ([`ModelView`]), KV-cache math
//! ([`kv`]), `canRunModel`, `getOptimalConfig` (KV-aware, MoE-aware, context policy) and the
//! system recommendations. All arithmetic is in `f64` with JavaScript rounding so that results
//! match upstream number for number.

mod can_run;
mod constrained;
mod context_policy;
mod kv;
mod model_view;
mod optimal;
mod placement;
mod recommendations;

pub use can_run::{can_run_model, CanRunOptions, CanRunResult};
pub use context_policy::{normalize_context_constraints, ContextPolicy};
pub use kv::{
    estimate_kv_bytes_per_token, floor_context_to_granularity, CONTEXT_GRANULARITY_LADDER,
    KV_CACHE_BYTES_PER_ELEMENT,
};
pub use model_view::ModelView;
pub use optimal::optimal_config;
pub use placement::{calculate_gpu_layers, Machine};
pub use recommendations::{recommendations, SystemRecommendations, QUANT_BALANCED, QUANT_COMPACT};

use crate::jsnum;
use serde_json::Value;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

/// genai-electron's `KV_SIZING` constants.
pub mod kv_sizing {
    pub const FLOOR_CONTEXT_TOKENS: f64 = 4096.0;
    pub const COMPUTE_BUFFER_BYTES: f64 = super::GIB;
    pub const GPU_WEIGHTS_OVERHEAD: f64 = 1.1;
    pub const CPU_WEIGHTS_OVERHEAD: f64 = 1.2;
    pub const OS_RAM_MARGIN_BYTES: f64 = 2.0 * super::GIB;
    pub const MIN_PARTIAL_RESERVE_BYTES: f64 = 1.5 * super::GIB;
    pub const MOE_EXPERT_TOTAL_RAM_FRACTION: f64 = 0.6;
}

/// Bytes as GB with one decimal, as upstream's messages print them.
fn gb1(bytes: f64) -> String {
    jsnum::to_fixed(bytes / GIB, 1)
}

/// A number for error details: integers travel as integers so that JSON (and JS) show `4096`,
/// not `4096.0`; NaN and infinities (not JSON) become `null`.
fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, |n| {
        if x.fract() == 0.0 && x.abs() < 9e15 {
            Value::from(x as i64)
        } else {
            Value::Number(n)
        }
    })
}

/// Error details with the `undefined` fields left out, as upstream's JSON shows them.
fn details(pairs: &[(&str, Option<Value>)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
            .collect(),
    )
}

/// Shared test inputs: models, GPUs and RAM readings.
#[cfg(test)]
mod fixtures {
    use super::{CanRunOptions, ModelView};
    pub(super) use super::{GIB, MIB};
    use crate::llama::LlamaServerConfig;
    use crate::system::{GpuInfo, MemoryInfo};
    use serde_json::{json, Value};

    pub fn gib(x: f64) -> f64 {
        x * GIB
    }

    pub fn model(size: f64, meta: Value) -> ModelView {
        ModelView::from_json(&json!({ "type": "llm", "size": size, "ggufMetadata": meta }))
    }

    /// SmolLM2-135M's shape: 30 layers, 3 KV heads, head dim 64, 8192 native context.
    pub fn smollm() -> ModelView {
        model(
            100.0 * MIB,
            json!({ "architecture": "llama", "block_count": 30, "attention_head_count": 9, "attention_head_count_kv": 3,
                     "embedding_length": 576, "context_length": 8192 }),
        )
    }

    pub fn gpu(vram: f64, free: f64) -> GpuInfo {
        GpuInfo {
            available: true,
            kind: Some("nvidia".into()),
            vram: Some(vram),
            vram_available: Some(free),
            cuda: Some(true),
            ..Default::default()
        }
    }

    pub fn mem(total: f64, available: f64) -> MemoryInfo {
        MemoryInfo {
            total,
            available,
            used: total - available,
        }
    }

    /// Hints or an expected result, written as upstream's JS object.
    pub fn config(v: Value) -> LlamaServerConfig {
        serde_json::from_value(v).unwrap()
    }

    pub fn options(v: Value) -> CanRunOptions {
        serde_json::from_value(v).unwrap()
    }
}
