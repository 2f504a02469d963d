//! `#[napi]` shims for system detection and sizing, and the package's one detection cache.
//! Results cross as `#[napi(object)]` mirrors of the core structs (field order = upstream's key
//! order); models cross as JSON (sizing reads them leniently, as upstream does).

use crate::convert::js_json;
use crate::errors::blocking;
use genai_core::llama::config::FlashAttention;
use genai_core::llama::LlamaServerConfig;
use genai_core::system::{self as core, ModelView};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;
use std::sync::{Arc, LazyLock};

static SYSTEM: LazyLock<Arc<core::SystemInfo>> =
    LazyLock::new(|| Arc::new(core::SystemInfo::new()));

/// The detection cache of the whole package: `systemInfo` and the llama-server
/// auto-configuration read the same one, so `clearCache()` reaches both.
pub(crate) fn system() -> Arc<core::SystemInfo> {
    SYSTEM.clone()
}

/// A thrown `TypeError` for an argument without upstream's shape.
fn type_error(env: &Env, message: String) -> napi::Error {
    let err = napi::Error::new(Status::InvalidArg, message);
    napi::Error::from(JsTypeError::from(err).into_unknown(*env))
}

// ---- results ------------------------------------------------------------------------------

#[napi(object)]
pub struct CpuInfo {
    pub cores: u32,
    pub model: String,
    pub architecture: String,
}

impl From<core::CpuInfo> for CpuInfo {
    fn from(c: core::CpuInfo) -> Self {
        CpuInfo {
            cores: c.cores,
            model: c.model,
            architecture: c.architecture,
        }
    }
}

#[napi(object)]
pub struct MemoryInfo {
    pub total: f64,
    pub available: f64,
    pub used: f64,
}

impl From<core::MemoryInfo> for MemoryInfo {
    fn from(m: core::MemoryInfo) -> Self {
        MemoryInfo {
            total: m.total,
            available: m.available,
            used: m.used,
        }
    }
}

/// Addition: one GPU of `GpuInfo.devices`.
#[napi(object)]
pub struct GpuDevice {
    #[napi(js_name = "type")]
    pub kind: String,
    pub name: String,
    pub vram: Option<f64>,
    pub vram_available: Option<f64>,
    pub bus_id: Option<String>,
}

impl From<core::GpuDevice> for GpuDevice {
    fn from(d: core::GpuDevice) -> Self {
        GpuDevice {
            kind: d.kind,
            name: d.name,
            vram: d.vram,
            vram_available: d.vram_available,
            bus_id: d.bus_id,
        }
    }
}

/// genai-electron's `GPUInfo`, plus `driverVersion`, `cudaVersion` and `devices`.
#[napi(object)]
pub struct GpuInfo {
    pub available: bool,
    #[napi(js_name = "type", ts_type = "'nvidia' | 'amd' | 'apple' | 'intel'")]
    pub kind: Option<String>,
    pub name: Option<String>,
    pub vram: Option<f64>,
    pub vram_available: Option<f64>,
    pub cuda: Option<bool>,
    pub metal: Option<bool>,
    pub rocm: Option<bool>,
    pub vulkan: Option<bool>,
    pub driver_version: Option<String>,
    pub cuda_version: Option<String>,
    pub devices: Option<Vec<GpuDevice>>,
}

impl From<core::GpuInfo> for GpuInfo {
    fn from(g: core::GpuInfo) -> Self {
        GpuInfo {
            available: g.available,
            kind: g.kind,
            name: g.name,
            vram: g.vram,
            vram_available: g.vram_available,
            cuda: g.cuda,
            metal: g.metal,
            rocm: g.rocm,
            vulkan: g.vulkan,
            driver_version: g.driver_version,
            cuda_version: g.cuda_version,
            devices: (!g.devices.is_empty())
                .then(|| g.devices.into_iter().map(GpuDevice::from).collect()),
        }
    }
}

#[napi(object)]
pub struct SystemRecommendations {
    pub max_model_size: String,
    pub recommended_quantization: Vec<String>,
    pub threads: u32,
    pub gpu_layers: Option<u32>,
    pub gpu_acceleration: bool,
}

impl From<core::SystemRecommendations> for SystemRecommendations {
    fn from(r: core::SystemRecommendations) -> Self {
        SystemRecommendations {
            max_model_size: r.max_model_size,
            recommended_quantization: r.recommended_quantization,
            threads: r.threads,
            gpu_layers: r.gpu_layers,
            gpu_acceleration: r.gpu_acceleration,
        }
    }
}

#[napi(object)]
pub struct SystemCapabilities {
    pub cpu: CpuInfo,
    pub memory: MemoryInfo,
    pub gpu: GpuInfo,
    pub platform: String,
    pub recommendations: SystemRecommendations,
    pub detected_at: String,
}

impl From<core::SystemCapabilities> for SystemCapabilities {
    fn from(c: core::SystemCapabilities) -> Self {
        SystemCapabilities {
            cpu: c.cpu.into(),
            memory: c.memory.into(),
            gpu: c.gpu.into(),
            platform: c.platform,
            recommendations: c.recommendations.into(),
            detected_at: c.detected_at,
        }
    }
}

/// A detection and its generation (the facade returns the same object while the cache holds
/// this generation).
#[napi(object)]
pub struct NumberedCapabilities {
    pub generation: f64,
    /// How much longer the native cache holds it.
    pub valid_for_ms: f64,
    pub capabilities: SystemCapabilities,
}

#[napi(object)]
pub struct CanRunResult {
    pub possible: bool,
    pub reason: Option<String>,
    pub suggestion: Option<String>,
}

impl From<core::CanRunResult> for CanRunResult {
    fn from(r: core::CanRunResult) -> Self {
        CanRunResult {
            possible: r.possible,
            reason: r.reason,
            suggestion: r.suggestion,
        }
    }
}

// ---- arguments ----------------------------------------------------------------------------

/// `canRunModel`'s options.
#[napi(object)]
pub struct CanRunOptions {
    pub check_total_memory: Option<bool>,
    pub gpu_layers: Option<f64>,
    pub total_layers: Option<f64>,
    pub context_size: Option<f64>,
    pub cache_type_k: Option<String>,
    pub cache_type_v: Option<String>,
    pub cpu_moe: Option<bool>,
    pub n_cpu_moe: Option<f64>,
    pub override_tensors: Option<String>,
}

impl From<CanRunOptions> for core::CanRunOptions {
    fn from(o: CanRunOptions) -> Self {
        core::CanRunOptions {
            check_total_memory: o.check_total_memory,
            gpu_layers: o.gpu_layers,
            total_layers: o.total_layers,
            context_size: o.context_size,
            cache_type_k: o.cache_type_k,
            cache_type_v: o.cache_type_v,
            cpu_moe: o.cpu_moe,
            n_cpu_moe: o.n_cpu_moe,
            override_tensors: o.override_tensors,
        }
    }
}

/// The `LlamaServerConfig` fields of sizing: `getOptimalConfig`'s hints (`OptimalConfigHints`;
/// `threads` is ignored there) and its result (`Partial<LlamaServerConfig>`).
#[napi(object)]
pub struct OptimalConfig {
    pub threads: Option<f64>,
    pub parallel_requests: Option<f64>,
    pub context_size: Option<f64>,
    pub gpu_layers: Option<f64>,
    pub cpu_moe: Option<bool>,
    pub cache_type_k: Option<String>,
    pub cache_type_v: Option<String>,
    #[napi(ts_type = "boolean | 'on' | 'off' | 'auto'")]
    pub flash_attention: Option<Either<bool, String>>,
    pub n_cpu_moe: Option<f64>,
    pub override_tensors: Option<String>,
    pub minimum_context_size: Option<f64>,
    pub preferred_context_size: Option<f64>,
    pub maximum_context_size: Option<f64>,
}

impl OptimalConfig {
    /// The hints as core takes them; a `flashAttention` string other than core's modes is an error.
    fn into_core(self) -> std::result::Result<LlamaServerConfig, String> {
        let flash_attention = match self.flash_attention {
            None => None,
            Some(Either::A(on)) => Some(FlashAttention::Bool(on)),
            Some(Either::B(mode)) => Some(
                serde_json::from_value::<FlashAttention>(Value::String(mode.clone())).map_err(
                    |_| format!("flashAttention must be a boolean or 'on', 'off' or 'auto', not '{mode}'"),
                )?,
            ),
        };
        Ok(LlamaServerConfig {
            threads: self.threads,
            parallel_requests: self.parallel_requests,
            context_size: self.context_size,
            gpu_layers: self.gpu_layers,
            cpu_moe: self.cpu_moe,
            cache_type_k: self.cache_type_k,
            cache_type_v: self.cache_type_v,
            flash_attention,
            n_cpu_moe: self.n_cpu_moe,
            override_tensors: self.override_tensors,
            minimum_context_size: self.minimum_context_size,
            preferred_context_size: self.preferred_context_size,
            maximum_context_size: self.maximum_context_size,
            ..Default::default()
        })
    }
}

impl From<LlamaServerConfig> for OptimalConfig {
    fn from(c: LlamaServerConfig) -> Self {
        OptimalConfig {
            threads: c.threads,
            parallel_requests: c.parallel_requests,
            context_size: c.context_size,
            gpu_layers: c.gpu_layers,
            cpu_moe: c.cpu_moe,
            cache_type_k: c.cache_type_k,
            cache_type_v: c.cache_type_v,
            flash_attention: c.flash_attention.map(|f| match f {
                FlashAttention::Bool(on) => Either::A(on),
                FlashAttention::Mode(_) => Either::B(f.flag_value().to_string()),
            }),
            n_cpu_moe: c.n_cpu_moe,
            override_tensors: c.override_tensors,
            minimum_context_size: c.minimum_context_size,
            preferred_context_size: c.preferred_context_size,
            maximum_context_size: c.maximum_context_size,
        }
    }
}

// ---- entry points -------------------------------------------------------------------------

#[napi(ts_return_type = "Promise<NumberedCapabilities>")]
pub fn system_detect(
    env: &Env,
    force_refresh: bool,
) -> Result<PromiseRaw<'_, NumberedCapabilities>> {
    let system = system();
    blocking(env, move || {
        let d = system.detect_numbered(force_refresh);
        Ok(NumberedCapabilities {
            generation: d.generation as f64,
            valid_for_ms: d.valid_for.as_secs_f64() * 1000.0,
            capabilities: d.caps.into(),
        })
    })
}

#[napi]
pub fn system_clear_cache() {
    SYSTEM.clear_cache();
}

#[napi]
pub fn cpu_info() -> CpuInfo {
    core::cpu_info().into()
}

#[napi]
pub fn memory_info() -> MemoryInfo {
    core::memory_info().into()
}

#[napi]
pub fn recommended_threads(cores: u32) -> u32 {
    core::recommended_threads(cores)
}

#[napi(ts_return_type = "Promise<GpuInfo>")]
pub fn detect_gpu(env: &Env) -> Result<PromiseRaw<'_, GpuInfo>> {
    blocking(env, || Ok(core::detect_gpu().into()))
}

#[napi(ts_return_type = "Promise<GpuInfo>")]
pub fn gpu_info(env: &Env) -> Result<PromiseRaw<'_, GpuInfo>> {
    blocking(env, || Ok(core::gpu_info().into()))
}

/// A malformed GPU object throws a TypeError (core says what is malformed).
#[napi(
    ts_args_type = "gpu: GpuInfo",
    ts_return_type = "Promise<number | null>"
)]
pub fn estimate_vram<'env>(
    env: &'env Env,
    gpu: Unknown<'env>,
) -> Result<PromiseRaw<'env, Option<f64>>> {
    let gpu = js_json(env, gpu)?.unwrap_or(Value::Null);
    let gpu = core::GpuInfo::from_json(&gpu).map_err(|e| type_error(env, e.to_string()))?;
    blocking(env, move || Ok(core::estimate_vram(&gpu)))
}

#[napi(
    ts_args_type = "model: { size: number; type?: string; ggufMetadata?: Record<string, any> }, options?: CanRunOptions",
    ts_return_type = "Promise<CanRunResult>"
)]
pub fn can_run_model<'env>(
    env: &'env Env,
    model: Unknown<'env>,
    options: Option<CanRunOptions>,
) -> Result<PromiseRaw<'env, CanRunResult>> {
    let model = model_view(env, model)?;
    let options: core::CanRunOptions = options.map(Into::into).unwrap_or_default();
    let system = system();
    blocking(env, move || {
        Ok(system.can_run_model(&model, &options).into())
    })
}

/// The model argument; `null`/`undefined` is the TypeError upstream's first read throws.
fn model_view(env: &Env, model: Unknown) -> Result<ModelView> {
    let model = js_json(env, model)?;
    ModelView::from_js(model.as_ref()).map_err(|m| type_error(env, m))
}

#[napi(
    ts_args_type = "model: { size: number; type?: string; ggufMetadata?: Record<string, any> }, hints?: OptimalConfig",
    ts_return_type = "Promise<OptimalConfig>"
)]
pub fn get_optimal_config<'env>(
    env: &'env Env,
    model: Unknown<'env>,
    hints: Option<OptimalConfig>,
) -> Result<PromiseRaw<'env, OptimalConfig>> {
    let model = model_view(env, model)?;
    let hints = match hints.map(OptimalConfig::into_core).transpose() {
        Ok(hints) => hints.unwrap_or_default(),
        Err(message) => return Err(type_error(env, message)),
    };
    let system = system();
    blocking(env, move || {
        system
            .optimal_config(&model, &hints)
            .map(OptimalConfig::from)
    })
}

#[napi(
    ts_args_type = "model: { size: number; type?: string; ggufMetadata?: Record<string, any> }, cacheTypeK?: string, cacheTypeV?: string"
)]
pub fn estimate_kv_bytes_per_token(
    env: &Env,
    model: Unknown,
    cache_type_k: Option<String>,
    cache_type_v: Option<String>,
) -> Result<f64> {
    Ok(core::sizing::estimate_kv_bytes_per_token(
        &model_view(env, model)?,
        cache_type_k.as_deref().unwrap_or("f16"),
        cache_type_v.as_deref().unwrap_or("f16"),
    ))
}

#[napi]
pub fn floor_context_to_granularity(tokens: f64) -> f64 {
    core::sizing::floor_context_to_granularity(tokens)
}
