//! `canRunModel(modelInfo, options)`: whether the model fits in RAM (legacy estimate), or, with a
//! resolved `contextSize` and `gpuLayers`, whether that exact placement fits in VRAM and RAM.

use super::kv_sizing::*;
use super::placement::{MoeHints, Split};
use super::{estimate_kv_bytes_per_token, gb1, Machine, ModelView, GIB};
use crate::jsnum;
use crate::system::{GpuInfo, MemoryInfo};
use serde::{Deserialize, Serialize};

/// `canRunModel`'s options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanRunOptions {
    /// Compare with total RAM instead of the RAM available now.
    pub check_total_memory: Option<bool>,
    pub gpu_layers: Option<f64>,
    pub total_layers: Option<f64>,
    pub context_size: Option<f64>,
    /// `KVCacheType` (an unknown type makes the KV estimate NaN, which never fits).
    pub cache_type_k: Option<String>,
    pub cache_type_v: Option<String>,
    pub cpu_moe: Option<bool>,
    pub n_cpu_moe: Option<f64>,
    pub override_tensors: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CanRunResult {
    pub possible: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl CanRunResult {
    fn yes() -> Self {
        CanRunResult {
            possible: true,
            reason: None,
            suggestion: None,
        }
    }

    fn no(reason: String, suggestion: &str) -> Self {
        CanRunResult {
            possible: false,
            reason: Some(reason),
            suggestion: Some(suggestion.into()),
        }
    }
}

/// The RAM to compare with, and its word in the message.
fn ram_to_check(o: &CanRunOptions, mem: &MemoryInfo) -> (f64, &'static str) {
    if o.check_total_memory == Some(true) {
        (mem.total, "total")
    } else {
        (mem.available, "available")
    }
}

/// `canRunModel(model, options)`: `gpu` comes from the (cached) detection, `mem` is live.
pub fn can_run_model(
    model: &ModelView,
    o: &CanRunOptions,
    gpu: &GpuInfo,
    mem: &MemoryInfo,
) -> CanRunResult {
    if let (Some(context), Some(gpu_layers)) = (o.context_size, o.gpu_layers) {
        let m = Machine { cores: 0, gpu, mem };
        return can_run_resolved(model, o, context, gpu_layers, &m);
    }
    let kv_floor = if model.has_block_count() {
        FLOOR_CONTEXT_TOKENS * estimate_kv_bytes_per_token(model, "f16", "f16")
    } else {
        0.0
    };
    let expert_bytes = model.expert_weights_bytes().unwrap_or(0.0);
    if expert_bytes > 0.0 && expert_bytes > mem.total * MOE_EXPERT_TOTAL_RAM_FRACTION {
        return CanRunResult::no(
            format!(
                "Insufficient RAM for MoE expert weights: {}GB of experts exceeds {}% of total RAM ({}GB)",
                gb1(expert_bytes),
                jsnum::to_fixed(MOE_EXPERT_TOTAL_RAM_FRACTION * 100.0, 0),
                gb1(mem.total)
            ),
            "Try a smaller quantization of this model, or add more system RAM",
        );
    }
    let committed = model.size - expert_bytes;
    let required = match o.gpu_layers.filter(|g| *g > 0.0) {
        Some(gpu_layers) => {
            let total_layers = o.total_layers.unwrap_or_else(|| model.layer_count());
            let cpu_ratio = (1.0 - gpu_layers / total_layers).max(0.0);
            (committed * 1.2 + kv_floor) * cpu_ratio
        }
        None => committed * 1.2 + kv_floor,
    };
    let (memory, memory_type) = ram_to_check(o, mem);
    // Not `memory < required` on purpose: a NaN requirement must fail, not pass.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    if !(memory >= required) {
        return CanRunResult::no(
            format!(
                "Insufficient RAM: model requires {}GB, but only {}GB {memory_type}",
                gb1(required),
                gb1(memory)
            ),
            if o.check_total_memory == Some(true) {
                "This model is too large for your system. Try a smaller model or quantization."
            } else {
                "Try closing other applications or using a smaller quantization (Q4_K_M instead of Q8_0)"
            },
        );
    }
    if model.size > 8.0 * GIB && !gpu.available {
        return CanRunResult {
            possible: true,
            reason: Some("Model will run on CPU only, which may be slow for this size".into()),
            suggestion: Some(
                "Consider using a GPU for better performance with large models".into(),
            ),
        };
    }
    CanRunResult::yes()
}

/// `canRunModel` when both `contextSize` and `gpuLayers` are given: checks the resolved placement.
fn can_run_resolved(
    model: &ModelView,
    o: &CanRunOptions,
    context: f64,
    gpu_layers: f64,
    m: &Machine,
) -> CanRunResult {
    let total_layers = o.total_layers.unwrap_or_else(|| model.layer_count());
    let gpu_layers = gpu_layers.min(total_layers).max(0.0);
    let cpu_expert_bytes = MoeHints::from(o).cpu_expert_bytes(model, total_layers);
    if cpu_expert_bytes > 0.0 && cpu_expert_bytes > m.ram_expert_cap() {
        return CanRunResult::no(
            format!(
                "Insufficient RAM for CPU-resident MoE experts: {}GB exceeds {}% of total RAM",
                gb1(cpu_expert_bytes),
                jsnum::to_fixed(MOE_EXPERT_TOTAL_RAM_FRACTION * 100.0, 0)
            ),
            "Use fewer CPU-resident experts or a smaller model quantization",
        );
    }
    let bpt = estimate_kv_bytes_per_token(
        model,
        o.cache_type_k.as_deref().unwrap_or("f16"),
        o.cache_type_v.as_deref().unwrap_or("f16"),
    );
    let split = Split::new(model, cpu_expert_bytes, gpu_layers, total_layers);
    if split.gpu_share > 0.0 && m.vram().is_none() {
        return CanRunResult::no(
            "Resolved configuration requires GPU offload, but no usable GPU VRAM is available"
                .into(),
            "Set gpuLayers to 0 or enable a supported GPU backend",
        );
    }
    if split.gpu_share > 0.0 {
        let budget = m.vram_budget();
        let required = split.gpu_weights + context * bpt * split.gpu_share;
        if required > budget {
            return CanRunResult::no(
                format!(
                    "Insufficient VRAM: resolved placement requires {}GB, but {}GB is available after compute reserve",
                    gb1(required),
                    gb1(budget)
                ),
                "Reduce GPU layers or context, or use quantized KV cache",
            );
        }
    }
    if split.cpu_share > 0.0 {
        let required = split.ram_weights + context * bpt * split.cpu_share + OS_RAM_MARGIN_BYTES;
        let (memory, _) = ram_to_check(o, m.mem);
        if required > memory {
            return CanRunResult::no(
                format!("Insufficient RAM: resolved placement requires {}GB, but only {}GB is available", gb1(required), gb1(memory)),
                "Close other applications, reduce context, or offload more layers to GPU",
            );
        }
    }
    CanRunResult::yes()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn can_run_model_messages() {
        let none = GpuInfo::unavailable();
        let m = ModelView::from_json(&json!({ "size": gib(10.0) }));
        let no_options = CanRunOptions::default();
        let r = can_run_model(&m, &no_options, &none, &mem(gib(16.0), gib(8.0)));
        assert!(!r.possible);
        assert_eq!(
            r.reason.as_deref(),
            Some("Insufficient RAM: model requires 12.0GB, but only 8.0GB available")
        );
        let opts = options(json!({ "checkTotalMemory": true }));
        let r = can_run_model(&m, &opts, &none, &mem(gib(32.0), gib(1.0)));
        assert_eq!(
            r.reason.as_deref(),
            Some("Model will run on CPU only, which may be slow for this size")
        );
        assert!(r.possible);
        let small = ModelView::from_json(&json!({ "size": gib(1.0) }));
        assert_eq!(
            can_run_model(&small, &no_options, &none, &mem(gib(16.0), gib(8.0))),
            CanRunResult::yes()
        );
        // Half the layers on the GPU halves the RAM needed.
        let half = options(json!({ "gpuLayers": 16, "totalLayers": 32 }));
        assert!(
            can_run_model(
                &m,
                &half,
                &gpu(gib(24.0), gib(24.0)),
                &mem(gib(16.0), gib(7.0))
            )
            .possible
        );
        // Resolved placement without a GPU.
        let resolved = options(json!({ "gpuLayers": 8, "contextSize": 4096 }));
        let r = can_run_model(&smollm(), &resolved, &none, &mem(gib(16.0), gib(8.0)));
        assert_eq!(
            r.reason.as_deref(),
            Some(
                "Resolved configuration requires GPU offload, but no usable GPU VRAM is available"
            )
        );
    }

    #[test]
    fn resolved_placement_budgets() {
        let big = model(
            gib(20.0),
            json!({ "architecture": "llama", "block_count": 40, "attention_head_count_kv": 8, "attention_key_length": 128 }),
        );
        let (g, ram) = (gpu(gib(8.0), gib(8.0)), mem(gib(64.0), gib(48.0)));
        // 10 of 40 layers: 5.5 GiB of weights + 4096 × 160 KiB / 4 of cache against 7 GiB.
        let fits = options(json!({ "gpuLayers": 10, "contextSize": 4096 }));
        assert_eq!(can_run_model(&big, &fits, &g, &ram), CanRunResult::yes());
        let too_many = options(json!({ "gpuLayers": 20, "contextSize": 4096 }));
        let r = can_run_model(&big, &too_many, &g, &ram);
        assert_eq!(
            r.reason.as_deref(),
            Some("Insufficient VRAM: resolved placement requires 11.3GB, but 7.0GB is available after compute reserve")
        );
        let tight =
            options(json!({ "gpuLayers": 0, "contextSize": 4096, "checkTotalMemory": true }));
        let r = can_run_model(&big, &tight, &g, &mem(gib(24.0), gib(1.0)));
        assert_eq!(
            r.reason.as_deref(),
            Some("Insufficient RAM: resolved placement requires 26.6GB, but only 24.0GB is available")
        );
    }
}
