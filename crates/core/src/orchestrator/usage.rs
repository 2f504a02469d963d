//! The memory decision: what the LLM and the image backend would use, and whether both fit
//! (upstream's thresholds). The usages come from the models' tensors (`crate::estimate`:
//! weights placed as llama.cpp places them, KV, compute and output buffers; sd.cpp's params and
//! compute buffers), checked against the real programs; upstream's formulas (`size × 1.2 + KV`,
//! 6.5 GB when the diffusion model is unknown) remain where a model's tensors cannot be read
//! (no file, shards, components, CPU-kept experts).

use crate::diffusion::optimizations::auto_flags;
use crate::estimate::{estimate_diffusion, estimate_llm, LlmPlan};
use crate::llama::LlamaServerConfig;
use crate::models::ModelInfo;
use crate::system::gpu::GpuInfo;
use crate::system::sizing::estimate_kv_bytes_per_token;

/// Bytes in RAM and in VRAM.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub ram: f64,
    pub vram: f64,
}

/// What the decision is made against: the GPU's VRAM (when there is a GPU that reports it),
/// else the RAM available now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resources {
    pub gpu_vram: Option<f64>,
    pub available_ram: f64,
}

/// Upstream's share of the memory both may use together.
pub const THRESHOLD: f64 = 0.75;
/// Upstream's diffusion estimate when the model is unknown: 6.5 GB.
pub const DEFAULT_DIFFUSION_BYTES: f64 = 6.5 * 1024.0 * 1024.0 * 1024.0;
/// Upstream's overhead factor on model files.
const OVERHEAD: f64 = 1.2;

/// `needsOffloadForImage`: with a GPU, VRAM needed > 75 % of VRAM; else RAM needed > 75 % of
/// the available RAM. `budget` (bytes) replaces the VRAM, or the available RAM on a CPU machine.
pub fn needs_offload(res: Resources, llm: Usage, diffusion: Usage, budget: Option<f64>) -> bool {
    match res.gpu_vram.filter(|v| *v > 0.0) {
        Some(vram) => llm.vram + diffusion.vram > budget.unwrap_or(vram) * THRESHOLD,
        None => llm.ram + diffusion.ram > budget.unwrap_or(res.available_ram) * THRESHOLD,
    }
}

/// What the LLM will use: from its tensors when they can be read (one file, no experts kept on
/// the CPU), else upstream's formula (`usage_llm_upstream`).
pub fn usage_llm(model: &ModelInfo, config: &LlamaServerConfig, gpu_layers: f64) -> Usage {
    let cpu_experts = config.cpu_moe == Some(true)
        || config.override_tensors.is_some()
        || config.n_cpu_moe.is_some_and(|n| n > 0.0);
    let header = (model.shards.is_none() && !cpu_experts)
        .then(|| crate::gguf::read_metadata(std::path::Path::new(&model.path)).ok())
        .flatten();
    let Some(header) = header else {
        return usage_llm_upstream(model, config, gpu_layers);
    };
    let defaults = LlmPlan::default();
    let whole = |v: Option<f64>, d: u32| {
        v.filter(|n| n.is_finite() && *n >= 0.0)
            .map_or(d, |n| n as u32)
    };
    let plan = LlmPlan {
        context: whole(config.context_size, defaults.context),
        gpu_layers: whole(Some(gpu_layers), 0),
        parallel: whole(config.parallel_requests, 1).max(1),
        cache_type_k: config.cache_type_k.clone().unwrap_or(defaults.cache_type_k),
        cache_type_v: config.cache_type_v.clone().unwrap_or(defaults.cache_type_v),
        flash_attention: config
            .flash_attention
            .map_or(defaults.flash_attention, |f| !f.is_off()),
        batch: whole(config.batch_size, defaults.batch),
        ubatch: defaults.ubatch,
    };
    let e = estimate_llm(Some(&header), model.size, &plan);
    Usage {
        ram: e.total.ram as f64,
        vram: e.total.vram as f64,
    }
}

/// upstream's `estimateLLMUsage`: weights × 1.2 plus the KV cache (context × bytes per token),
/// split between VRAM and RAM by the share of offloaded layers; experts kept on the CPU
/// (`cpuMoe`, `overrideTensors: 'exps=CPU'`, `nCpuMoe`) stay in RAM.
pub fn usage_llm_upstream(model: &ModelInfo, config: &LlamaServerConfig, gpu_layers: f64) -> Usage {
    let view = model.sizing_view();
    let total_layers = view.layer_count().max(1.0);
    let block_count = model
        .gguf_metadata
        .as_ref()
        .and_then(|m| m.get("block_count"))
        .and_then(serde_json::Value::as_f64);
    let kv = if block_count.is_some_and(|b| b != 0.0 && !b.is_nan()) {
        let k = config.cache_type_k.as_deref().unwrap_or("f16");
        let v = config.cache_type_v.as_deref().unwrap_or("f16");
        config.context_size.unwrap_or(4096.0) * estimate_kv_bytes_per_token(&view, k, v)
    } else {
        0.0
    };
    let size = view.size;
    if gpu_layers <= 0.0 {
        return Usage {
            ram: size * OVERHEAD + kv,
            vram: 0.0,
        };
    }
    let experts = view.expert_weights_bytes().unwrap_or(0.0);
    let cpu_experts = match (
        config.cpu_moe,
        config.override_tensors.as_deref(),
        config.n_cpu_moe,
    ) {
        (Some(true), _, _) | (_, Some("exps=CPU"), _) => experts,
        (_, _, Some(n)) if n > 0.0 => experts * (n / total_layers).min(1.0),
        _ => 0.0,
    };
    let ratio = (gpu_layers / total_layers).min(1.0);
    let offloadable = (size - cpu_experts) * OVERHEAD + kv;
    Usage {
        ram: offloadable * (1.0 - ratio) + cpu_experts * OVERHEAD,
        vram: offloadable * ratio,
    }
}

/// What the image backend will use for a `width × height` image: sd.cpp's params and largest
/// compute buffer from the model's tensors (one file, or the `diffusion_model` component with
/// the other components' tensors beside it), else upstream's formula.
pub fn usage_diffusion(
    model: Option<&ModelInfo>,
    gpu: Option<&GpuInfo>,
    width: u32,
    height: u32,
) -> Usage {
    let Some(m) = model else {
        return usage_diffusion_upstream(model);
    };
    let flags = auto_flags(m, gpu);
    let on_gpu = gpu.is_some_and(|g| g.available);
    let main = m.components.as_ref().map_or(m.path.as_str(), |c| {
        c.get("diffusion_model").map_or("", |d| d.path.as_str())
    });
    let Ok(header) = crate::gguf::read_metadata(std::path::Path::new(main)) else {
        return usage_diffusion_upstream(model);
    };
    let size = std::fs::metadata(main).map_or(m.size, |f| f.len());
    let e = estimate_diffusion(Some(&header), size, width, height, &flags, on_gpu);
    let mut usage = Usage {
        ram: e.total.ram as f64,
        vram: e.total.vram as f64,
    };
    for (role, component) in m.components.iter().flatten() {
        if role == "diffusion_model" {
            continue;
        }
        let Some(bytes) = component_bytes(&component.path) else {
            return usage_diffusion_upstream(model);
        };
        // Text encoders follow clipOnCpu, the VAE vaeOnCpu (sd.cpp's --clip-on-cpu/--vae-on-cpu).
        let on_cpu = if role == "vae" {
            flags.vae_on_cpu
        } else {
            flags.clip_on_cpu
        };
        if on_gpu && !on_cpu {
            usage.vram += bytes;
        } else {
            usage.ram += bytes;
        }
    }
    usage
}

/// A component file's tensor bytes (what sd.cpp loads of it).
fn component_bytes(path: &str) -> Option<f64> {
    let header = crate::gguf::read_metadata(std::path::Path::new(path)).ok()?;
    let sizes = crate::estimate::tensor_sizes(&header)?;
    Some(sizes.iter().map(|(_, b)| *b as f64).sum())
}

/// upstream's `estimateDiffusionUsage`: the model's size × 1.2 in both RAM and VRAM (6.5 GB ×
/// 1.2 when the model is unknown).
pub fn usage_diffusion_upstream(model: Option<&ModelInfo>) -> Usage {
    let size = model.map_or(DEFAULT_DIFFUSION_BYTES, |m| m.size as f64);
    Usage {
        ram: size * OVERHEAD,
        vram: size * OVERHEAD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GB: f64 = 1024.0 * 1024.0 * 1024.0;
    const CPU: Resources = Resources {
        gpu_vram: None,
        available_ram: 16.0 * GB,
    };
    const GPU: Resources = Resources {
        gpu_vram: Some(8.0 * GB),
        available_ram: 64.0 * GB,
    };

    fn u(ram: f64, vram: f64) -> Usage {
        Usage {
            ram: ram * GB,
            vram: vram * GB,
        }
    }

    #[test]
    fn cpu_decides_on_available_ram_as_upstream() {
        // 75 % of 16 GB = 12 GB.
        assert!(!needs_offload(CPU, u(5.0, 0.0), u(7.0, 7.0), None));
        assert!(needs_offload(CPU, u(5.1, 0.0), u(7.0, 7.0), None));
    }

    #[test]
    fn gpu_decides_on_vram_as_upstream() {
        // 75 % of 8 GB = 6 GB; RAM is not looked at.
        assert!(!needs_offload(GPU, u(50.0, 3.0), u(3.0, 3.0), None));
        assert!(needs_offload(GPU, u(0.0, 3.1), u(3.0, 3.0), None));
    }

    #[test]
    fn a_budget_replaces_vram_or_available_ram() {
        assert!(needs_offload(CPU, u(1.0, 0.0), u(1.0, 1.0), Some(2.0 * GB)));
        assert!(!needs_offload(
            CPU,
            u(5.0, 0.0),
            u(7.0, 7.0),
            Some(1e6 * GB)
        ));
        assert!(needs_offload(GPU, u(0.0, 1.0), u(1.0, 1.0), Some(2.0 * GB)));
        assert!(!needs_offload(
            GPU,
            u(0.0, 3.1),
            u(3.0, 3.0),
            Some(100.0 * GB)
        ));
    }

    fn llm(size: u64, meta: serde_json::Value) -> ModelInfo {
        ModelInfo::from_value(serde_json::json!({
            "id": "m", "name": "m", "type": "llm", "size": size, "path": "/m.gguf",
            "downloadedAt": "2026-01-01T00:00:00.000Z", "source": { "type": "url", "url": "http://x/m.gguf" },
            "ggufMetadata": meta,
        }))
        .unwrap()
    }

    #[test]
    fn llm_usage_is_upstreams_formula() {
        // No block_count: no KV; weights × 1.2, split by the offloaded share of 30 layers.
        let m = llm(1000, serde_json::json!({ "architecture": "llama" }));
        let cpu = usage_llm(&m, &LlamaServerConfig::default(), 0.0);
        assert_eq!((cpu.ram, cpu.vram), (1200.0, 0.0));
        let m = llm(
            1000,
            serde_json::json!({ "architecture": "llama", "block_count": 10 }),
        );
        let c = LlamaServerConfig {
            context_size: Some(0.0),
            ..Default::default()
        };
        let half = usage_llm(&m, &c, 5.0);
        assert_eq!((half.ram, half.vram), (600.0, 600.0));
        // Experts kept on the CPU stay in RAM.
        let moe = llm(
            1000,
            serde_json::json!({ "architecture": "llama", "block_count": 10, "expert_weights_bytes": 500 }),
        );
        let c = LlamaServerConfig {
            context_size: Some(0.0),
            cpu_moe: Some(true),
            ..Default::default()
        };
        let u = usage_llm(&moe, &c, 10.0);
        assert_eq!((u.ram, u.vram), (600.0, 600.0));
    }

    #[test]
    fn unknown_diffusion_model_is_six_and_a_half_gb() {
        let d = usage_diffusion(None, None, 512, 512);
        assert_eq!(d.ram, 6.5 * GB * 1.2);
        assert_eq!(d.vram, d.ram);
    }
}
