//! Memory sizing: genai-electron's model-metadata fallbacks, KV-cache math, `canRunModel`,
//! `getOptimalConfig` (KV-aware, MoE-aware, context policy) and the system recommendations.
//! All arithmetic is in `f64` with JavaScript rounding so results match upstream number for number.

use super::{gpu::GpuInfo, memory::MemoryInfo};
use crate::{jsnum, Error, Result};
use serde::Serialize;
use serde_json::{json, Map, Value};

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
use kv_sizing::*;

/// `KV_CACHE_BYTES_PER_ELEMENT`.
pub const KV_CACHE_BYTES_PER_ELEMENT: [(&str, f64); 8] = [
    ("f16", 2.0),
    ("bf16", 2.0),
    ("q8_0", 34.0 / 32.0),
    ("q5_0", 22.0 / 32.0),
    ("q5_1", 24.0 / 32.0),
    ("q4_0", 18.0 / 32.0),
    ("q4_1", 20.0 / 32.0),
    ("iq4_nl", 18.0 / 32.0),
];

/// `CONTEXT_GRANULARITY_LADDER`: (upper bound, step).
pub const CONTEXT_GRANULARITY_LADDER: [(f64, f64); 6] = [
    (2048.0, 128.0),
    (4096.0, 256.0),
    (8192.0, 512.0),
    (16384.0, 1024.0),
    (32768.0, 2048.0),
    (f64::INFINITY, 4096.0),
];

/// `RECOMMENDED_QUANTIZATIONS`.
pub const QUANT_BALANCED: [&str; 2] = ["Q5_K_M", "Q4_K_M"];
pub const QUANT_COMPACT: [&str; 3] = ["Q4_K_M", "Q4_K_S", "Q3_K_M"];

fn bytes_per_element(cache_type: &str) -> f64 {
    KV_CACHE_BYTES_PER_ELEMENT
        .iter()
        .find(|(k, _)| *k == cache_type)
        .map_or(f64::NAN, |(_, v)| *v)
}

/// `floorContextToGranularity(tokens)`.
pub fn floor_context_to_granularity(tokens: f64) -> f64 {
    CONTEXT_GRANULARITY_LADDER
        .iter()
        .find(|(upper, _)| tokens <= *upper)
        .map_or(tokens.floor(), |(_, step)| (tokens / step).floor() * step)
}

/// The parts of a `ModelInfo` that sizing reads. Built leniently from JSON: missing or
/// mistyped fields fall back exactly as upstream's helpers do.
#[derive(Debug, Clone, Default)]
pub struct ModelView {
    pub size: f64,
    pub kind: String,
    pub meta: Option<Map<String, Value>>,
}

/// A JS-truthy number (non-zero, not NaN).
fn truthy_num(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
        .filter(|n| *n != 0.0 && !n.is_nan())
}

/// upstream `toScalarMean`: a positive number, or the positive mean of an all-number array.
fn scalar_mean(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64().filter(|n| *n > 0.0),
        Value::Array(items) if !items.is_empty() => {
            let nums: Option<Vec<f64>> = items.iter().map(Value::as_f64).collect();
            let nums = nums?;
            let mean = nums.iter().sum::<f64>() / nums.len() as f64;
            (mean > 0.0).then_some(mean)
        }
        _ => None,
    }
}

impl ModelView {
    pub fn from_json(model: &Value) -> Self {
        ModelView {
            size: model
                .get("size")
                .and_then(Value::as_f64)
                .unwrap_or(f64::NAN),
            kind: model
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            meta: model
                .get("ggufMetadata")
                .and_then(Value::as_object)
                .cloned(),
        }
    }

    fn field(&self, key: &str) -> Option<&Value> {
        self.meta.as_ref()?.get(key)
    }

    fn architecture(&self) -> Option<&str> {
        self.field("architecture")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
    }

    /// `raw["<arch>.<suffix>"]`
    fn raw_arch(&self, suffix: &str) -> Option<&Value> {
        let arch = self.architecture()?;
        self.field("raw")?
            .as_object()?
            .get(&format!("{arch}.{suffix}"))
    }

    /// `hasGGUFMetadata`
    pub fn has_gguf_metadata(&self) -> bool {
        self.architecture().is_some()
    }

    fn has_block_count(&self) -> bool {
        self.has_gguf_metadata() && truthy_num(self.field("block_count")).is_some()
    }

    pub fn layer_count(&self) -> f64 {
        truthy_num(self.field("block_count"))
            .unwrap_or_else(|| jsnum::round(self.size / (150.0 * MIB)).clamp(24.0, 120.0))
    }

    pub fn context_length(&self) -> f64 {
        truthy_num(self.field("context_length")).unwrap_or(if self.size / GIB >= 30.0 {
            8192.0
        } else {
            4096.0
        })
    }

    fn by_size(&self, bands: [f64; 4]) -> f64 {
        let gb = self.size / GIB;
        if gb >= 60.0 {
            bands[0]
        } else if gb >= 25.0 {
            bands[1]
        } else if gb >= 10.0 {
            bands[2]
        } else {
            bands[3]
        }
    }

    pub fn attention_head_count(&self) -> f64 {
        scalar_mean(self.field("attention_head_count"))
            .unwrap_or_else(|| self.by_size([64.0, 52.0, 40.0, 32.0]))
    }

    pub fn embedding_length(&self) -> f64 {
        truthy_num(self.field("embedding_length"))
            .unwrap_or_else(|| self.by_size([8192.0, 6656.0, 5120.0, 4096.0]))
    }

    pub fn kv_head_count(&self) -> f64 {
        scalar_mean(self.field("attention_head_count_kv"))
            .or_else(|| scalar_mean(self.raw_arch("attention.head_count_kv")))
            .unwrap_or_else(|| self.attention_head_count())
    }

    pub fn head_dimension(&self) -> f64 {
        scalar_mean(self.field("attention_key_length"))
            .or_else(|| scalar_mean(self.raw_arch("attention.key_length")))
            .unwrap_or_else(|| jsnum::round(self.embedding_length() / self.attention_head_count()))
    }

    fn expert_count(&self) -> f64 {
        truthy_num(self.field("expert_count"))
            .or_else(|| {
                self.raw_arch("expert_count")
                    .and_then(Value::as_f64)
                    .filter(|v| *v > 0.0)
            })
            .unwrap_or(0.0)
    }

    /// Bytes of MoE expert weights: measured, else estimated from the parameter count.
    pub fn expert_weights_bytes(&self) -> Option<f64> {
        if let Some(measured) = self
            .field("expert_weights_bytes")
            .and_then(Value::as_f64)
            .filter(|v| *v > 0.0)
        {
            return Some(measured);
        }
        let experts = self.expert_count();
        if experts <= 0.0 {
            return None;
        }
        let expert_ff = truthy_num(self.field("expert_feed_forward_length"))
            .or_else(|| truthy_num(self.raw_arch("expert_feed_forward_length")))?;
        let total_params = self
            .field("raw")?
            .get("general.parameter_count")?
            .as_f64()
            .filter(|p| *p > 0.0)?;
        let expert_params =
            3.0 * self.embedding_length() * expert_ff * experts * self.layer_count();
        let fraction = (expert_params / total_params).min(0.95);
        (fraction > 0.0).then(|| jsnum::round(self.size * fraction))
    }

    /// Measured expert bytes only (`ggufMetadata.expert_weights_bytes`).
    fn measured_expert_bytes(&self) -> Option<f64> {
        self.field("expert_weights_bytes").and_then(Value::as_f64)
    }
}

/// `estimateKVBytesPerToken(model, k = 'f16', v = 'f16')` (NaN for an unknown cache type).
pub fn estimate_kv_bytes_per_token(model: &ModelView, cache_k: &str, cache_v: &str) -> f64 {
    model.layer_count()
        * model.kv_head_count()
        * model.head_dimension()
        * (bytes_per_element(cache_k) + bytes_per_element(cache_v))
}

/// `calculateGPULayers(totalLayers, vram, size)`.
pub fn calculate_gpu_layers(total_layers: f64, vram: f64, size: f64) -> f64 {
    if vram == 0.0 || size >= vram {
        return 0.0;
    }
    let per_layer = size / total_layers;
    let usable = (vram - 2.0 * GIB).max(0.0);
    (usable / per_layer).floor().min(total_layers)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SystemRecommendations {
    pub max_model_size: String,
    pub recommended_quantization: Vec<String>,
    pub threads: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_layers: Option<u32>,
    pub gpu_acceleration: bool,
}

/// `generateRecommendations(cores, totalRAM, gpu)`.
pub fn recommendations(cores: u32, total_ram: f64, gpu: &GpuInfo) -> SystemRecommendations {
    let ram_gb = total_ram / GIB;
    let vram_gb = gpu.vram.map_or(0.0, |v| v / GIB);
    let (size, quant): (&str, &[&str]) = if gpu.available && vram_gb >= 24.0 {
        ("70B", &QUANT_BALANCED)
    } else if gpu.available && vram_gb >= 16.0 {
        ("34B", &QUANT_BALANCED)
    } else if ram_gb >= 32.0 {
        ("34B", &QUANT_COMPACT)
    } else if ram_gb >= 16.0 {
        ("13B", &QUANT_BALANCED)
    } else if ram_gb >= 8.0 {
        ("7B", &QUANT_BALANCED)
    } else {
        ("7B", &QUANT_COMPACT)
    };
    SystemRecommendations {
        max_model_size: size.into(),
        recommended_quantization: quant.iter().map(|q| q.to_string()).collect(),
        threads: super::cpu::recommended_threads(cores),
        gpu_layers: if gpu.available { None } else { Some(0) },
        gpu_acceleration: gpu.available,
    }
}

/// Read-only view of a hints/options object as JS sees it (`undefined` and `null` alike absent).
struct Opts<'a>(Option<&'a Map<String, Value>>);

impl<'a> Opts<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.0?.get(key).filter(|v| !v.is_null())
    }
    fn num(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(Value::as_f64)
    }
    fn str(&self, key: &str) -> Option<&'a str> {
        self.get(key).and_then(Value::as_str)
    }
    fn is_true(&self, key: &str) -> bool {
        self.get(key) == Some(&Value::Bool(true))
    }
    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    /// `typeof x === 'number' && x > 0 ? min(x, cap) : 0`
    fn positive_capped(&self, key: &str, cap: f64) -> f64 {
        self.num(key)
            .filter(|n| *n > 0.0)
            .map_or(0.0, |n| n.min(cap))
    }
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

fn gb1(bytes: f64) -> String {
    jsnum::to_fixed(bytes / GIB, 1)
}

/// Bytes of expert weights kept on the CPU for the given MoE hints.
fn hinted_cpu_expert_bytes(model: &ModelView, o: &Opts, total_layers: f64) -> f64 {
    let Some(expert_bytes) = model.expert_weights_bytes().filter(|b| *b > 0.0) else {
        return 0.0;
    };
    let custom_override = o.str("overrideTensors").is_some_and(|t| t != "exps=CPU")
        || (o.has("overrideTensors") && o.str("overrideTensors").is_none());
    if custom_override {
        0.0
    } else if o.is_true("cpuMoe") || o.str("overrideTensors") == Some("exps=CPU") {
        expert_bytes
    } else {
        expert_bytes * (o.positive_capped("nCpuMoe", total_layers) / total_layers)
    }
}

/// `canRunModel(model, options)`: `gpu` comes from the (cached) detection, `mem` is live.
pub fn can_run_model(
    model: &ModelView,
    options: Option<&Map<String, Value>>,
    gpu: &GpuInfo,
    mem: &MemoryInfo,
) -> CanRunResult {
    let o = Opts(options);
    let check_total = o.is_true("checkTotalMemory");
    if let (Some(context), true) = (o.num("contextSize"), o.has("gpuLayers")) {
        return can_run_resolved(model, &o, context, gpu, mem, check_total);
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
    let required = match o.num("gpuLayers").filter(|g| *g > 0.0) {
        Some(gpu_layers) => {
            let total_layers = o.num("totalLayers").unwrap_or_else(|| model.layer_count());
            let cpu_ratio = (1.0 - gpu_layers / total_layers).max(0.0);
            (committed * 1.2 + kv_floor) * cpu_ratio
        }
        None => committed * 1.2 + kv_floor,
    };
    let (memory, memory_type) = if check_total {
        (mem.total, "total")
    } else {
        (mem.available, "available")
    };
    // Not `memory < required` on purpose: a NaN requirement must fail, not pass.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    if !(memory >= required) {
        return CanRunResult::no(
            format!(
                "Insufficient RAM: model requires {}GB, but only {}GB {memory_type}",
                gb1(required),
                gb1(memory)
            ),
            if check_total {
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
    o: &Opts,
    context: f64,
    gpu: &GpuInfo,
    mem: &MemoryInfo,
    check_total: bool,
) -> CanRunResult {
    let total_layers = o.num("totalLayers").unwrap_or_else(|| model.layer_count());
    let gpu_layers = o
        .num("gpuLayers")
        .unwrap_or(f64::NAN)
        .min(total_layers)
        .max(0.0);
    let gpu_share = gpu_layers / total_layers;
    let cpu_share = 1.0 - gpu_share;
    let cpu_expert_bytes = hinted_cpu_expert_bytes(model, o, total_layers);
    if cpu_expert_bytes > 0.0 && cpu_expert_bytes > mem.total * MOE_EXPERT_TOTAL_RAM_FRACTION {
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
        o.str("cacheTypeK").unwrap_or("f16"),
        o.str("cacheTypeV").unwrap_or("f16"),
    );
    let vram = gpu.vram.filter(|v| *v != 0.0);
    if gpu_share > 0.0 && (!gpu.available || vram.is_none()) {
        return CanRunResult::no(
            "Resolved configuration requires GPU offload, but no usable GPU VRAM is available"
                .into(),
            "Set gpuLayers to 0 or enable a supported GPU backend",
        );
    }
    if gpu_share > 0.0 {
        let budget = (gpu.vram_available.or(vram).unwrap_or(0.0) - COMPUTE_BUFFER_BYTES).max(0.0);
        let required = (model.size - cpu_expert_bytes) * GPU_WEIGHTS_OVERHEAD * gpu_share
            + context * bpt * gpu_share;
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
    if cpu_share > 0.0 {
        let cpu_weights = (model.size - cpu_expert_bytes) * cpu_share + cpu_expert_bytes;
        let required =
            cpu_weights * CPU_WEIGHTS_OVERHEAD + context * bpt * cpu_share + OS_RAM_MARGIN_BYTES;
        let memory = if check_total {
            mem.total
        } else {
            mem.available
        };
        if required > memory {
            return CanRunResult::no(
                format!("Insufficient RAM: resolved placement requires {}GB, but only {}GB is available", gb1(required), gb1(memory)),
                "Close other applications, reduce context, or offload more layers to GPU",
            );
        }
    }
    CanRunResult::yes()
}

/// Inputs of `getOptimalConfig` that come from the machine.
pub struct Machine<'a> {
    pub cores: u32,
    pub gpu: &'a GpuInfo,
    pub mem: &'a MemoryInfo,
}

impl Machine<'_> {
    fn vram(&self) -> Option<f64> {
        self.gpu.vram.filter(|v| *v != 0.0 && self.gpu.available)
    }
    fn vram_budget(&self) -> f64 {
        self.vram().map_or(0.0, |v| {
            (self.gpu.vram_available.unwrap_or(v) - COMPUTE_BUFFER_BYTES).max(0.0)
        })
    }
}

fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, |n| {
        // Integers travel as integers so JSON (and JS) show `4096`, not `4096.0`.
        if x.fract() == 0.0 && x.abs() < 9e15 {
            Value::from(x as i64)
        } else {
            Value::Number(n)
        }
    })
}

/// `getOptimalConfig(model, hints)` → a partial LlamaServerConfig.
pub fn optimal_config(
    model: &ModelView,
    hints: Option<&Map<String, Value>>,
    m: &Machine,
) -> Result<Map<String, Value>> {
    let policy = normalize_context_constraints(hints)?;
    if let Some(policy) = policy {
        return constrained_config(model, hints, &policy, m);
    }
    let o = Opts(hints);
    let mut config = Map::new();
    config.insert(
        "threads".into(),
        Value::from(super::cpu::recommended_threads(m.cores)),
    );
    config.insert(
        "parallelRequests".into(),
        o.get("parallelRequests").cloned().unwrap_or(Value::from(1)),
    );
    let model_ctx = model.context_length();
    let total_layers = model.layer_count();
    if !model.has_block_count() {
        let ctx = o
            .num("contextSize")
            .unwrap_or(model_ctx.min(FLOOR_CONTEXT_TOKENS));
        let layers = o.num("gpuLayers").unwrap_or_else(|| {
            m.vram()
                .map_or(0.0, |v| calculate_gpu_layers(total_layers, v, model.size))
        });
        config.insert("contextSize".into(), num(ctx));
        config.insert("gpuLayers".into(), num(layers));
        return Ok(config);
    }
    let clamp_ctx = |tokens: f64| {
        floor_context_to_granularity(tokens)
            .min(model_ctx)
            .max(FLOOR_CONTEXT_TOKENS)
    };
    let mut cpu_expert_bytes = hinted_cpu_expert_bytes(model, &o, total_layers);
    let mut weights_gpu = (model.size - cpu_expert_bytes) * GPU_WEIGHTS_OVERHEAD;
    let mut recommend_cpu_moe = false;
    let budget = m.vram_budget();
    let cpu_context = |bpt: f64| {
        clamp_ctx((m.mem.available - model.size * CPU_WEIGHTS_OVERHEAD - OS_RAM_MARGIN_BYTES) / bpt)
    };
    let pinned_cache = o.has("cacheTypeK") || o.has("cacheTypeV");
    let fa_off = matches!(o.get("flashAttention"), Some(Value::Bool(false)))
        || o.str("flashAttention") == Some("off");
    let (mut cache_k, mut cache_v) = (
        o.str("cacheTypeK").unwrap_or("f16"),
        o.str("cacheTypeV").unwrap_or("f16"),
    );
    let mut auto_quantized = false;
    if !pinned_cache && !fa_off && m.vram().is_some() && budget > 0.0 {
        let abundant =
            weights_gpu + model_ctx * estimate_kv_bytes_per_token(model, "f16", "f16") <= budget;
        if !abundant {
            (cache_k, cache_v, auto_quantized) = ("q8_0", "q8_0", true);
        }
    }
    let bpt = estimate_kv_bytes_per_token(model, cache_k, cache_v);
    let pinned_ctx = o.num("contextSize");
    let hint_layers = o.num("gpuLayers");
    let (gpu_layers, context) = if m.vram().is_some() && budget > 0.0 {
        let required_kv = pinned_ctx.unwrap_or(FLOOR_CONTEXT_TOKENS) * bpt;
        let mut full_fits = weights_gpu + required_kv <= budget;
        let measured = model.measured_expert_bytes().filter(|b| *b > 0.0);
        let no_moe_hints = !o.has("cpuMoe")
            && !o.has("nCpuMoe")
            && !o.has("overrideTensors")
            && hint_layers.is_none();
        if let (false, true, Some(experts)) = (full_fits, no_moe_hints, measured) {
            let trunk = (model.size - experts) * GPU_WEIGHTS_OVERHEAD;
            if trunk + required_kv <= budget
                && experts <= m.mem.total * MOE_EXPERT_TOTAL_RAM_FRACTION
            {
                (recommend_cpu_moe, cpu_expert_bytes, weights_gpu, full_fits) =
                    (true, experts, trunk, true);
            }
        }
        if hint_layers.map_or(full_fits, |l| l >= total_layers) {
            (
                hint_layers.unwrap_or(total_layers),
                pinned_ctx.unwrap_or_else(|| clamp_ctx((budget - weights_gpu) / bpt)),
            )
        } else {
            let reserve = required_kv.max(MIN_PARTIAL_RESERVE_BYTES);
            let per_layer = weights_gpu / total_layers;
            let layers = hint_layers.unwrap_or_else(|| {
                ((budget - reserve) / per_layer)
                    .floor()
                    .max(0.0)
                    .min(total_layers)
            });
            if layers <= 0.0 {
                (0.0, pinned_ctx.unwrap_or_else(|| cpu_context(bpt)))
            } else {
                let gpu_share = layers / total_layers;
                let cpu_share = 1.0 - gpu_share;
                let gpu_kv_budget = (budget - layers * per_layer).max(0.0);
                let cpu_weights = (model.size - cpu_expert_bytes) * cpu_share + cpu_expert_bytes;
                let ram_kv_budget =
                    (m.mem.available - cpu_weights * CPU_WEIGHTS_OVERHEAD - OS_RAM_MARGIN_BYTES)
                        .max(0.0);
                let by_gpu = if gpu_share > 0.0 {
                    gpu_kv_budget / (bpt * gpu_share)
                } else {
                    f64::INFINITY
                };
                let by_ram = if cpu_share > 0.0 {
                    ram_kv_budget / (bpt * cpu_share)
                } else {
                    f64::INFINITY
                };
                (
                    layers,
                    pinned_ctx.unwrap_or_else(|| clamp_ctx(by_gpu.min(by_ram))),
                )
            }
        }
    } else {
        (
            hint_layers.unwrap_or(0.0),
            pinned_ctx.unwrap_or_else(|| cpu_context(bpt)),
        )
    };
    config.insert("contextSize".into(), num(context));
    config.insert("gpuLayers".into(), num(gpu_layers));
    if recommend_cpu_moe {
        config.insert("cpuMoe".into(), Value::Bool(true));
    }
    if auto_quantized {
        config.insert("cacheTypeK".into(), json!(cache_k));
        config.insert("cacheTypeV".into(), json!(cache_v));
        config.insert("flashAttention".into(), json!("on"));
    }
    Ok(config)
}

/// A validated per-slot context policy (`normalizeContextConstraints`).
#[derive(Debug, Clone, PartialEq)]
pub struct ContextPolicy {
    pub minimum: Option<f64>,
    pub preferred: Option<f64>,
    pub maximum: Option<f64>,
    pub parallel: f64,
    pub total_minimum: Option<f64>,
    pub total_preferred: Option<f64>,
    pub total_maximum: Option<f64>,
}

/// Policy details with `undefined` fields left out, as upstream's JSON shows them.
fn details(pairs: &[(&str, Option<Value>)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
            .collect(),
    )
}

/// `normalizeContextConstraints(hints)`: `None` when no min/preferred/max is set.
pub fn normalize_context_constraints(
    hints: Option<&Map<String, Value>>,
) -> Result<Option<ContextPolicy>> {
    let o = Opts(hints);
    let (min_v, pref_v, max_v) = (
        o.get("minimumContextSize"),
        o.get("preferredContextSize"),
        o.get("maximumContextSize"),
    );
    if min_v.is_none() && pref_v.is_none() && max_v.is_none() {
        return Ok(None);
    }
    let valid = |v: Option<&Value>| {
        v.is_none_or(|v| v.as_f64().is_some_and(jsnum::is_positive_safe_integer))
    };
    let c = |v: Option<&Value>| v.cloned();
    let fail = |msg: &str, reason: &str, extra: &[(&str, Option<Value>)], suggestion: &str| {
        let mut pairs = vec![
            ("reason", Some(json!(reason))),
            ("stage", Some(json!("validation"))),
        ];
        pairs.extend_from_slice(extra);
        pairs.push(("suggestion", Some(json!(suggestion))));
        Error::context_constraint(msg, details(&pairs))
    };
    let all = [
        ("minimumContextSize", c(min_v)),
        ("preferredContextSize", c(pref_v)),
        ("maximumContextSize", c(max_v)),
    ];
    for (i, (key, word)) in [
        ("minimumContextSize", "minimum"),
        ("preferredContextSize", "preferred"),
        ("maximumContextSize", "maximum"),
    ]
    .iter()
    .enumerate()
    {
        if !valid(o.get(key)) {
            return Err(fail(
                &format!("{key} must be a positive safe integer"),
                &format!("invalid-{word}"),
                &all[i..=i],
                &format!("Set {key} to a positive integer no larger than Number.MAX_SAFE_INTEGER"),
            ));
        }
    }
    let (min, pref, max) = (
        o.num("minimumContextSize"),
        o.num("preferredContextSize"),
        o.num("maximumContextSize"),
    );
    if let (Some(a), Some(b)) = (min, pref) {
        if a > b {
            return Err(fail(
                "minimumContextSize cannot be greater than preferredContextSize",
                "minimum-exceeds-preferred",
                &all,
                "Choose context values where minimumContextSize <= preferredContextSize",
            ));
        }
    }
    if let (Some(a), Some(b)) = (pref, max) {
        if a > b {
            return Err(fail(
                "preferredContextSize cannot be greater than maximumContextSize",
                "preferred-exceeds-maximum",
                &all,
                "Choose context values where preferredContextSize <= maximumContextSize",
            ));
        }
    }
    if let (Some(a), Some(b)) = (min, max) {
        if a > b {
            return Err(fail(
                "minimumContextSize cannot be greater than maximumContextSize",
                "minimum-exceeds-maximum",
                &[all[0].clone(), all[2].clone()],
                "Choose an inclusive range where minimumContextSize <= maximumContextSize",
            ));
        }
    }
    if let Some(ctx) = o.get("contextSize") {
        let mut extra = vec![("contextSize", Some(ctx.clone()))];
        extra.extend_from_slice(&all);
        return Err(fail(
            "contextSize is mutually exclusive with minimumContextSize/preferredContextSize/maximumContextSize",
            "exact-range-conflict",
            &extra,
            "Use either an exact contextSize or minimum/preferred/maximum context policy",
        ));
    }
    let parallel_v = o.get("parallelRequests").cloned().unwrap_or(json!(1));
    let Some(parallel) = parallel_v
        .as_f64()
        .filter(|p| jsnum::is_positive_safe_integer(*p))
    else {
        let mut extra = all.to_vec();
        extra.push(("parallelRequests", Some(parallel_v)));
        return Err(fail(
            "parallelRequests must be a positive safe integer when context policy is used",
            "unsafe-total-capacity",
            &extra,
            "Use a positive integer number of parallel request slots",
        ));
    };
    let total = |v: Option<f64>, key: &str| -> Result<Option<f64>> {
        let Some(v) = v else { return Ok(None) };
        let t = v * parallel;
        if jsnum::is_positive_safe_integer(t) {
            return Ok(Some(t));
        }
        Err(fail(
            "Context capacity exceeds the safe numeric range",
            "unsafe-total-capacity",
            &[
                (key, Some(num(v))),
                ("parallelRequests", Some(num(parallel))),
            ],
            "Use smaller context values or fewer parallel request slots",
        ))
    };
    Ok(Some(ContextPolicy {
        minimum: min,
        preferred: pref,
        maximum: max,
        parallel,
        total_minimum: total(min, "minimumContextSize")?,
        total_preferred: total(pref, "preferredContextSize")?,
        total_maximum: total(max, "maximumContextSize")?,
    }))
}

/// `validateModelContextRange` → total native context across slots.
fn total_native_context(model: &ModelView, p: &ContextPolicy) -> Result<f64> {
    let legacy = model.context_length().min(FLOOR_CONTEXT_TOKENS);
    let native = model
        .field("context_length")
        .and_then(Value::as_f64)
        .filter(|c| jsnum::is_positive_safe_integer(*c));
    let base = |reason: &str, stage: &str| {
        vec![
            ("reason", Some(json!(reason))),
            ("stage", Some(json!(stage))),
            ("minimumContextSize", p.minimum.map(num)),
            ("preferredContextSize", p.preferred.map(num)),
            ("maximumContextSize", p.maximum.map(num)),
        ]
    };
    if let (Some(min), Some(native)) = (p.minimum, native) {
        if min > native {
            let mut d = base("minimum-exceeds-native", "sizing");
            d.extend([
                ("nativeContextSize", Some(num(native))),
                ("parallelRequests", Some(num(p.parallel))),
            ]);
            d.push((
                "suggestion",
                Some(json!(format!(
                    "Choose minimumContextSize <= {}",
                    jsnum::to_string(native)
                ))),
            ));
            return Err(Error::context_constraint(
                format!(
                    "Minimum context {} exceeds the model's native context {}",
                    jsnum::to_string(min),
                    jsnum::to_string(native)
                ),
                details(&d),
            ));
        }
    }
    if let (Some(min), None) = (p.minimum, native) {
        if min > legacy {
            let mut d = base("model-context-unknown", "sizing");
            d.push(("parallelRequests", Some(num(p.parallel))));
            d.push(("suggestion", Some(json!("Refresh the model GGUF metadata, or choose a minimum no larger than the conservative legacy recommendation"))));
            return Err(Error::context_constraint(
                format!("Cannot verify minimum context {} because native context metadata is unavailable", jsnum::to_string(min)),
                details(&d),
            ));
        }
    }
    let per_slot = native.unwrap_or(legacy);
    let total = per_slot * p.parallel;
    if !jsnum::is_positive_safe_integer(total) {
        let mut d = base("unsafe-total-capacity", "sizing");
        d.extend([
            ("nativeContextSize", Some(num(per_slot))),
            ("parallelRequests", Some(num(p.parallel))),
        ]);
        d.push((
            "suggestion",
            Some(json!("Use fewer parallel request slots")),
        ));
        return Err(Error::context_constraint(
            "Native multi-slot context exceeds the safe numeric range",
            details(&d),
        ));
    }
    Ok(total)
}

/// `getConstrainedOptimalConfig`: the baseline config, then the best placement that meets the
/// per-slot minimum (full offload, auto cpuMoe, then fewer GPU layers), else
/// InsufficientResourcesError.
fn constrained_config(
    model: &ModelView,
    hints: Option<&Map<String, Value>>,
    p: &ContextPolicy,
    m: &Machine,
) -> Result<Map<String, Value>> {
    let o = Opts(hints);
    let total_native = total_native_context(model, p)?;
    let mut baseline_hints = hints.cloned().unwrap_or_default();
    for key in [
        "minimumContextSize",
        "preferredContextSize",
        "maximumContextSize",
    ] {
        baseline_hints.remove(key);
    }
    let baseline = optimal_config(model, Some(&baseline_hints), m)?;
    let baseline_ctx = baseline
        .get("contextSize")
        .and_then(Value::as_f64)
        .unwrap_or(model.context_length().min(FLOOR_CONTEXT_TOKENS));
    let cap_all = |x: f64| {
        x.min(p.total_preferred.unwrap_or(f64::INFINITY))
            .min(p.total_maximum.unwrap_or(f64::INFINITY))
    };
    let attach = |config: &Map<String, Value>| {
        let mut r = config.clone();
        for key in [
            "cacheTypeK",
            "cacheTypeV",
            "flashAttention",
            "cpuMoe",
            "nCpuMoe",
            "overrideTensors",
        ] {
            if let Some(v) = o.get(key) {
                r.insert(key.into(), v.clone());
            }
        }
        for (key, v) in [
            ("minimumContextSize", p.minimum),
            ("preferredContextSize", p.preferred),
            ("maximumContextSize", p.maximum),
        ] {
            if let Some(v) = v {
                r.insert(key.into(), num(v));
            }
        }
        r
    };
    let cap_context = |tokens: f64, require_minimum: bool| {
        let cap = cap_all(tokens).min(total_native);
        let mut selected = floor_context_to_granularity(cap);
        if selected <= 0.0 {
            selected = cap.floor();
        }
        match p.total_minimum {
            Some(min) if require_minimum && selected < min => min,
            _ => selected,
        }
    };
    let with_context = |config: &Map<String, Value>, ctx: f64| {
        let mut r = attach(config);
        r.insert("contextSize".into(), num(ctx));
        r
    };
    let Some(minimum) = p.minimum else {
        return Ok(with_context(&baseline, cap_context(baseline_ctx, false)));
    };
    let baseline_meets_minimum = (baseline_ctx / p.parallel).floor() >= minimum;
    let total_layers = model.layer_count();
    let has_vram = m.vram().is_some();
    let budget = m.vram_budget();
    let expert_bytes = model.expert_weights_bytes();
    let hinted_cpu_experts = hinted_cpu_expert_bytes(model, &o, total_layers);
    let pinned_cache = o.has("cacheTypeK") || o.has("cacheTypeV");
    let fa_off = matches!(o.get("flashAttention"), Some(Value::Bool(false)))
        || o.str("flashAttention") == Some("off");
    let (mut cache_k, mut cache_v) = (
        o.str("cacheTypeK").unwrap_or("f16").to_string(),
        o.str("cacheTypeV").unwrap_or("f16").to_string(),
    );
    let baseline_str = |k: &str| baseline.get(k).and_then(Value::as_str).map(str::to_string);
    let mut auto_quantized =
        baseline.contains_key("cacheTypeK") || baseline.contains_key("cacheTypeV");
    if auto_quantized {
        cache_k = baseline_str("cacheTypeK").unwrap_or("q8_0".into());
        cache_v = baseline_str("cacheTypeV").unwrap_or("q8_0".into());
    } else if let (false, false, true, Some(total_min)) =
        (pinned_cache, fa_off, has_vram, p.total_minimum)
    {
        let weights = (model.size - hinted_cpu_experts) * GPU_WEIGHTS_OVERHEAD;
        if weights + total_min * estimate_kv_bytes_per_token(model, "f16", "f16") > budget {
            (cache_k, cache_v, auto_quantized) = ("q8_0".into(), "q8_0".into(), true);
        }
    }
    let bpt = estimate_kv_bytes_per_token(model, &cache_k, &cache_v);
    let mut best_raw: f64 = 0.0;
    let mut raw_capacity = |cpu_experts: f64, requested_layers: f64| -> f64 {
        if cpu_experts > 0.0 && cpu_experts > m.mem.total * MOE_EXPERT_TOTAL_RAM_FRACTION {
            return 0.0;
        }
        let layers = requested_layers.min(total_layers).max(0.0);
        if layers > 0.0 && !has_vram {
            return 0.0;
        }
        let gpu_share = layers / total_layers;
        let cpu_share = 1.0 - gpu_share;
        let gpu_weights = (model.size - cpu_experts) * GPU_WEIGHTS_OVERHEAD * gpu_share;
        let by_gpu = if gpu_share > 0.0 {
            (budget - gpu_weights) / (bpt * gpu_share)
        } else {
            f64::INFINITY
        };
        let cpu_weights = (model.size - cpu_experts) * cpu_share + cpu_experts;
        let ram_kv = m.mem.available - cpu_weights * CPU_WEIGHTS_OVERHEAD - OS_RAM_MARGIN_BYTES;
        let by_ram = if cpu_share > 0.0 {
            ram_kv / (bpt * cpu_share)
        } else {
            f64::INFINITY
        };
        let raw = by_gpu.min(by_ram).min(total_native).max(0.0);
        best_raw = best_raw.max(raw);
        raw
    };
    let baseline_selected = cap_context(baseline_ctx, true);
    let baseline_cpu_experts = if baseline.get("cpuMoe") == Some(&Value::Bool(true)) {
        expert_bytes.unwrap_or(0.0)
    } else {
        hinted_cpu_experts
    };
    let baseline_layers = baseline
        .get("gpuLayers")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    if baseline_meets_minimum
        && raw_capacity(baseline_cpu_experts, baseline_layers) >= baseline_selected
    {
        return Ok(with_context(&baseline, baseline_selected));
    }
    let choose = |raw: f64| -> Option<f64> {
        let total_min = p.total_minimum?;
        let cap = cap_all(raw).min(total_native);
        if cap < total_min {
            return None;
        }
        let rounded = floor_context_to_granularity(cap);
        Some(if rounded >= total_min {
            rounded
        } else {
            total_min
        })
    };
    let build = |ctx: f64, layers: f64, cpu_moe: bool| {
        let mut r = attach(&baseline);
        r.insert("contextSize".into(), num(ctx));
        r.insert("gpuLayers".into(), num(layers));
        if auto_quantized {
            r.insert("cacheTypeK".into(), json!(cache_k));
            r.insert("cacheTypeV".into(), json!(cache_v));
            r.insert("flashAttention".into(), json!("on"));
        } else {
            for key in ["cacheTypeK", "cacheTypeV", "flashAttention"] {
                if !o.has(key) {
                    r.remove(key);
                }
            }
        }
        if cpu_moe {
            r.insert("cpuMoe".into(), Value::Bool(true));
        } else if !o.has("cpuMoe") {
            r.remove("cpuMoe");
        }
        r
    };
    if let Some(pinned) = o.num("gpuLayers") {
        if let Some(ctx) = choose(raw_capacity(hinted_cpu_experts, pinned)) {
            return Ok(build(ctx, pinned, false));
        }
    } else {
        if has_vram {
            if let Some(ctx) = choose(raw_capacity(hinted_cpu_experts, total_layers)) {
                return Ok(build(ctx, total_layers, false));
            }
        }
        let measured = model
            .measured_expert_bytes()
            .filter(|b| *b > 0.0 && *b <= m.mem.total * MOE_EXPERT_TOTAL_RAM_FRACTION);
        let can_auto_moe = !o.has("cpuMoe") && !o.has("nCpuMoe") && !o.has("overrideTensors");
        if let (true, true, Some(experts)) = (has_vram, can_auto_moe, measured) {
            if let Some(ctx) = choose(raw_capacity(experts, total_layers)) {
                return Ok(build(ctx, total_layers, true));
            }
        }
        let highest = if has_vram { total_layers - 1.0 } else { 0.0 };
        let mut layers = highest;
        while layers >= 0.0 {
            if let Some(ctx) = choose(raw_capacity(hinted_cpu_experts, layers)) {
                return Ok(build(ctx, layers, false));
            }
            layers -= 1.0;
        }
    }
    let max_per_slot = (cap_all(best_raw) / p.parallel).floor().max(0.0);
    let total_min = p.total_minimum.unwrap_or(minimum * p.parallel);
    let plural = if p.parallel == 1.0 { "" } else { "s" };
    Err(Error::insufficient_resources(
        format!("Cannot satisfy minimum context {} tokens per slot", jsnum::to_string(minimum)),
        details(&[
            (
                "required",
                Some(json!(format!(
                    "{} context tokens per slot ({} total across {} slot{plural})",
                    jsnum::to_string(minimum),
                    jsnum::to_string(total_min),
                    jsnum::to_string(p.parallel)
                ))),
            ),
            ("available", Some(json!(format!("At most {} context tokens per slot under the permitted placement", jsnum::to_string(max_per_slot))))),
            ("minimumContextSize", Some(num(minimum))),
            ("preferredContextSize", p.preferred.map(num)),
            ("maximumContextSize", p.maximum.map(num)),
            ("maxFeasibleContextSize", Some(num(max_per_slot))),
            ("parallelRequests", Some(num(p.parallel))),
            (
                "suggestion",
                Some(json!("Close memory-heavy applications, reduce parallel requests or the minimum context, allow fewer GPU layers, or use a smaller model/quantization")),
            ),
        ]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gib(x: f64) -> f64 {
        x * GIB
    }

    fn model(size: f64, meta: Value) -> ModelView {
        ModelView::from_json(&json!({ "type": "llm", "size": size, "ggufMetadata": meta }))
    }

    /// SmolLM2-135M's shape: 30 layers, 3 KV heads, head dim 64, 8192 native context.
    fn smollm() -> ModelView {
        model(
            100.0 * MIB,
            json!({ "architecture": "llama", "block_count": 30, "attention_head_count": 9, "attention_head_count_kv": 3,
                     "embedding_length": 576, "context_length": 8192 }),
        )
    }

    fn gpu(vram: f64, free: f64) -> GpuInfo {
        GpuInfo {
            available: true,
            kind: Some("nvidia".into()),
            vram: Some(vram),
            vram_available: Some(free),
            cuda: Some(true),
            ..Default::default()
        }
    }

    fn mem(total: f64, available: f64) -> MemoryInfo {
        MemoryInfo {
            total,
            available,
            used: total - available,
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn granularity_ladder() {
        assert_eq!(floor_context_to_granularity(2000.0), 1920.0);
        assert_eq!(floor_context_to_granularity(5000.0), 4608.0);
        assert_eq!(floor_context_to_granularity(100_000.0), 98_304.0);
        assert_eq!(floor_context_to_granularity(f64::INFINITY), f64::INFINITY);
    }

    #[test]
    fn gpu_layers_formula() {
        assert_eq!(calculate_gpu_layers(32.0, gib(8.0), gib(4.0)), 32.0);
        assert_eq!(calculate_gpu_layers(32.0, gib(4.0), gib(4.0)), 0.0);
        assert_eq!(calculate_gpu_layers(32.0, gib(6.0), gib(5.0)), 25.0);
        assert_eq!(calculate_gpu_layers(32.0, 0.0, gib(1.0)), 0.0);
    }

    #[test]
    fn kv_bytes_and_fallbacks() {
        let m = smollm();
        assert_eq!(m.head_dimension(), 64.0);
        assert_eq!(estimate_kv_bytes_per_token(&m, "f16", "f16"), 23_040.0);
        assert_eq!(estimate_kv_bytes_per_token(&m, "q8_0", "q8_0"), 12_240.0);
        assert!(estimate_kv_bytes_per_token(&m, "nope", "f16").is_nan());
        // No metadata: layers from size (150 MiB each, clamped 24..120), heads/embedding by size band.
        let bare = ModelView::from_json(&json!({ "size": gib(4.0) }));
        assert_eq!(bare.layer_count(), 27.0);
        assert_eq!(bare.context_length(), 4096.0);
        assert_eq!(bare.head_dimension(), 128.0);
        assert!(!bare.has_gguf_metadata());
        // Per-layer arrays are averaged; raw `<arch>.` keys are a fallback.
        let arr = model(
            gib(1.0),
            json!({ "architecture": "gemma3", "attention_head_count_kv": [4, 8], "raw": { "gemma3.attention.key_length": 256 } }),
        );
        assert_eq!(arr.kv_head_count(), 6.0);
        assert_eq!(arr.head_dimension(), 256.0);
    }

    #[test]
    fn recommendations_table() {
        let none = GpuInfo::unavailable();
        let r = recommendations(2, gib(24.0), &none);
        assert_eq!(
            (
                r.max_model_size.as_str(),
                r.threads,
                r.gpu_layers,
                r.gpu_acceleration
            ),
            ("13B", 2, Some(0), false)
        );
        assert_eq!(r.recommended_quantization, vec!["Q5_K_M", "Q4_K_M"]);
        assert_eq!(recommendations(8, gib(64.0), &none).max_model_size, "34B");
        assert_eq!(
            recommendations(8, gib(64.0), &none).recommended_quantization,
            vec!["Q4_K_M", "Q4_K_S", "Q3_K_M"]
        );
        assert_eq!(recommendations(8, gib(4.0), &none).max_model_size, "7B");
        let big = recommendations(16, gib(8.0), &gpu(gib(24.0), gib(20.0)));
        assert_eq!(
            (big.max_model_size.as_str(), big.gpu_layers, big.threads),
            ("70B", None, 14)
        );
        assert_eq!(
            recommendations(16, gib(8.0), &gpu(gib(16.0), gib(1.0))).max_model_size,
            "34B"
        );
    }

    #[test]
    fn optimal_config_cpu_only() {
        let none = GpuInfo::unavailable();
        let m = Machine {
            cores: 2,
            gpu: &none,
            mem: &mem(gib(24.0), gib(16.0)),
        };
        let c = optimal_config(&smollm(), None, &m).unwrap();
        assert_eq!(
            Value::Object(c),
            json!({ "threads": 2, "parallelRequests": 1, "contextSize": 8192, "gpuLayers": 0 })
        );
        // No metadata: legacy sizing.
        let bare = ModelView::from_json(&json!({ "size": gib(4.0) }));
        let c = optimal_config(&bare, Some(&obj(json!({ "parallelRequests": 2 }))), &m).unwrap();
        assert_eq!(
            Value::Object(c),
            json!({ "threads": 2, "parallelRequests": 2, "contextSize": 4096, "gpuLayers": 0 })
        );
    }

    #[test]
    fn optimal_config_gpu_auto_quantizes_kv() {
        let g = gpu(gib(24.0), gib(20.0));
        let m = Machine {
            cores: 16,
            gpu: &g,
            mem: &mem(gib(64.0), gib(48.0)),
        };
        let llama8b = model(
            gib(8.0),
            json!({ "architecture": "llama", "block_count": 32, "attention_head_count": 32, "attention_head_count_kv": 8,
                     "attention_key_length": 128, "context_length": 131072 }),
        );
        let c = optimal_config(&llama8b, None, &m).unwrap();
        assert_eq!(
            Value::Object(c),
            json!({ "threads": 14, "parallelRequests": 1, "contextSize": 131072, "gpuLayers": 32,
                    "cacheTypeK": "q8_0", "cacheTypeV": "q8_0", "flashAttention": "on" })
        );
        // Pinned cache types are kept and not reported back.
        let c = optimal_config(
            &llama8b,
            Some(&obj(json!({ "cacheTypeK": "f16", "cacheTypeV": "f16" }))),
            &m,
        )
        .unwrap();
        assert_eq!(c.get("cacheTypeK"), None);
        assert_eq!(c["gpuLayers"], 32);
        // (19 GiB budget − 8.8 GiB weights) / 131072 B per token = 83558 → floored to 81920.
        assert_eq!(c["contextSize"], 81920);
    }

    #[test]
    fn optimal_config_partial_offload() {
        let g = gpu(gib(8.0), gib(8.0));
        let m = Machine {
            cores: 8,
            gpu: &g,
            mem: &mem(gib(64.0), gib(48.0)),
        };
        let big = model(
            gib(20.0),
            json!({ "architecture": "llama", "block_count": 40, "attention_head_count_kv": 8, "attention_key_length": 128, "context_length": 32768 }),
        );
        let c = optimal_config(&big, None, &m).unwrap();
        // budget 7 GiB, weights 22 GiB (0.55 GiB/layer), reserve max(4096 × q8 bytes, 1.5 GiB) = 1.5 GiB → 10 layers
        assert_eq!(c["gpuLayers"], 10);
        assert_eq!(c["cacheTypeK"], "q8_0");
        assert_eq!(c["contextSize"], 32768);
    }

    #[test]
    fn context_policy_errors() {
        let none = GpuInfo::unavailable();
        let m = Machine {
            cores: 2,
            gpu: &none,
            mem: &mem(gib(24.0), gib(16.0)),
        };
        let check = |hints: Value, reason: &str| {
            let err = optimal_config(&smollm(), Some(&obj(hints)), &m).unwrap_err();
            assert_eq!(err.code, crate::ErrorCode::ContextConstraint);
            assert_eq!(err.details.as_ref().unwrap()["reason"], reason, "{err}");
            err
        };
        let e = check(json!({ "minimumContextSize": -1 }), "invalid-minimum");
        assert_eq!(
            e.to_string(),
            "Context constraint error: minimumContextSize must be a positive safe integer"
        );
        assert_eq!(e.details.unwrap()["minimumContextSize"], -1);
        check(json!({ "preferredContextSize": 1.5 }), "invalid-preferred");
        check(
            json!({ "minimumContextSize": 4096, "preferredContextSize": 2048 }),
            "minimum-exceeds-preferred",
        );
        check(
            json!({ "preferredContextSize": 4096, "maximumContextSize": 2048 }),
            "preferred-exceeds-maximum",
        );
        check(
            json!({ "minimumContextSize": 4096, "maximumContextSize": 2048 }),
            "minimum-exceeds-maximum",
        );
        check(
            json!({ "minimumContextSize": 1024, "contextSize": 2048 }),
            "exact-range-conflict",
        );
        check(
            json!({ "minimumContextSize": 1024, "parallelRequests": 0 }),
            "unsafe-total-capacity",
        );
        let e = check(
            json!({ "minimumContextSize": 16384 }),
            "minimum-exceeds-native",
        );
        assert_eq!(e.to_string(), "Context constraint error: Minimum context 16384 exceeds the model's native context 8192");
        let bare = ModelView::from_json(&json!({ "size": gib(1.0) }));
        let e = optimal_config(&bare, Some(&obj(json!({ "minimumContextSize": 8192 }))), &m)
            .unwrap_err();
        assert_eq!(e.details.unwrap()["reason"], "model-context-unknown");
    }

    #[test]
    fn context_policy_selection() {
        let none = GpuInfo::unavailable();
        let roomy = Machine {
            cores: 2,
            gpu: &none,
            mem: &mem(gib(24.0), gib(16.0)),
        };
        let c = optimal_config(&smollm(), Some(&obj(json!({ "minimumContextSize": 2048, "maximumContextSize": 3000, "parallelRequests": 2 }))), &roomy).unwrap();
        // total max 6000 → floored to 5632 on the 512-step band; per slot 2816 ≥ 2048.
        assert_eq!(c["contextSize"], 5632);
        assert_eq!(c["minimumContextSize"], 2048);
        assert_eq!(c["maximumContextSize"], 3000);
        assert_eq!(c["parallelRequests"], 2);

        let tight = Machine {
            cores: 2,
            gpu: &none,
            mem: &mem(gib(4.0), gib(3.0)),
        };
        let m2 = model(
            gib(2.0),
            json!({ "architecture": "llama", "block_count": 32, "attention_head_count_kv": 8, "attention_key_length": 128, "context_length": 32768 }),
        );
        let e = optimal_config(
            &m2,
            Some(&obj(json!({ "minimumContextSize": 16384 }))),
            &tight,
        )
        .unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InsufficientResources);
        assert_eq!(
            e.to_string(),
            "Cannot satisfy minimum context 16384 tokens per slot"
        );
        let d = e.details.unwrap();
        assert_eq!(d["maxFeasibleContextSize"], 0);
        assert_eq!(
            d["required"],
            "16384 context tokens per slot (16384 total across 1 slot)"
        );
    }

    #[test]
    fn can_run_model_messages() {
        let none = GpuInfo::unavailable();
        let m = ModelView::from_json(&json!({ "size": gib(10.0) }));
        let r = can_run_model(&m, None, &none, &mem(gib(16.0), gib(8.0)));
        assert!(!r.possible);
        assert_eq!(
            r.reason.as_deref(),
            Some("Insufficient RAM: model requires 12.0GB, but only 8.0GB available")
        );
        let opts = obj(json!({ "checkTotalMemory": true }));
        let r = can_run_model(&m, Some(&opts), &none, &mem(gib(32.0), gib(1.0)));
        assert_eq!(
            r.reason.as_deref(),
            Some("Model will run on CPU only, which may be slow for this size")
        );
        assert!(r.possible);
        let small = ModelView::from_json(&json!({ "size": gib(1.0) }));
        assert_eq!(
            can_run_model(&small, None, &none, &mem(gib(16.0), gib(8.0))),
            CanRunResult::yes()
        );
        // Half the layers on the GPU halves the RAM needed.
        let half = obj(json!({ "gpuLayers": 16, "totalLayers": 32 }));
        assert!(
            can_run_model(
                &m,
                Some(&half),
                &gpu(gib(24.0), gib(24.0)),
                &mem(gib(16.0), gib(7.0))
            )
            .possible
        );
        // Resolved placement without a GPU.
        let resolved = obj(json!({ "gpuLayers": 8, "contextSize": 4096 }));
        let r = can_run_model(&smollm(), Some(&resolved), &none, &mem(gib(16.0), gib(8.0)));
        assert_eq!(
            r.reason.as_deref(),
            Some(
                "Resolved configuration requires GPU offload, but no usable GPU VRAM is available"
            )
        );
    }
}
