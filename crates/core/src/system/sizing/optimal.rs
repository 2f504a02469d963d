//! `getOptimalConfig(modelInfo, hints)` without a context policy: threads, parallel slots, and a
//! KV-aware placement (full offload, automatic `cpuMoe`, partial offload, CPU only).

use super::constrained::constrained_config;
use super::kv::{F16Room, KvPlan};
use super::kv_sizing::*;
use super::placement::{gpu_weights, MoeHints, Split};
use super::{
    calculate_gpu_layers, floor_context_to_granularity, normalize_context_constraints, Machine,
    ModelView,
};
use crate::llama::LlamaServerConfig;
use crate::Result;

/// `getOptimalConfig(model, hints)` → a partial LlamaServerConfig.
pub fn optimal_config(
    model: &ModelView,
    hints: &LlamaServerConfig,
    m: &Machine,
) -> Result<LlamaServerConfig> {
    if let Some(policy) = normalize_context_constraints(hints)? {
        return constrained_config(model, hints, &policy, m);
    }
    let mut config = LlamaServerConfig {
        threads: Some(f64::from(crate::system::cpu::recommended_threads(m.cores))),
        parallel_requests: Some(hints.parallel_requests.unwrap_or(1.0)),
        ..Default::default()
    };
    if !model.has_block_count() {
        // No usable metadata: upstream's legacy sizing.
        let total_layers = model.layer_count();
        config.context_size = Some(
            hints
                .context_size
                .unwrap_or(model.context_length().min(FLOOR_CONTEXT_TOKENS)),
        );
        config.gpu_layers = Some(hints.gpu_layers.unwrap_or_else(|| {
            m.vram()
                .map_or(0.0, |v| calculate_gpu_layers(total_layers, v, model.size))
        }));
        return Ok(config);
    }
    let p = Placer::new(model, hints, m).place();
    config.context_size = Some(p.context);
    config.gpu_layers = Some(p.gpu_layers);
    if p.cpu_moe {
        config.cpu_moe = Some(true);
    }
    p.kv.report(&mut config);
    Ok(config)
}

/// A KV-aware placement.
struct Placement {
    gpu_layers: f64,
    context: f64,
    cpu_moe: bool,
    kv: KvPlan,
}

/// What the placement steps share.
struct Placer<'a> {
    model: &'a ModelView,
    hints: &'a LlamaServerConfig,
    m: &'a Machine<'a>,
    total_layers: f64,
    model_ctx: f64,
    budget: f64,
    /// Expert bytes the hints keep in RAM.
    cpu_experts: f64,
}

impl<'a> Placer<'a> {
    fn new(model: &'a ModelView, hints: &'a LlamaServerConfig, m: &'a Machine<'a>) -> Self {
        let total_layers = model.layer_count();
        Placer {
            model,
            hints,
            m,
            total_layers,
            model_ctx: model.context_length(),
            budget: m.vram_budget(),
            cpu_experts: MoeHints::from(hints).cpu_expert_bytes(model, total_layers),
        }
    }

    /// A context on the granularity ladder, within [4096, the model's native context].
    fn clamp(&self, tokens: f64) -> f64 {
        floor_context_to_granularity(tokens)
            .min(self.model_ctx)
            .max(FLOOR_CONTEXT_TOKENS)
    }

    /// The context a CPU-only placement leaves room for.
    fn cpu_context(&self, bpt: f64) -> f64 {
        let room =
            self.m.mem.available - self.model.size * CPU_WEIGHTS_OVERHEAD - OS_RAM_MARGIN_BYTES;
        self.clamp(room / bpt)
    }

    fn place(&self) -> Placement {
        let on_gpu = self.m.vram().is_some() && self.budget > 0.0;
        let room = on_gpu.then(|| F16Room {
            weights: gpu_weights(self.model, self.cpu_experts),
            tokens: self.model_ctx,
            budget: self.budget,
            nan_overflows: true,
        });
        let kv = KvPlan::new(self.model, self.hints, room);
        let bpt = kv.bytes_per_token(self.model);
        let (gpu_layers, context, cpu_moe) = if on_gpu {
            self.gpu_placement(bpt)
        } else {
            let context = self
                .hints
                .context_size
                .unwrap_or_else(|| self.cpu_context(bpt));
            (self.hints.gpu_layers.unwrap_or(0.0), context, false)
        };
        Placement {
            gpu_layers,
            context,
            cpu_moe,
            kv,
        }
    }

    /// With usable VRAM: everything on the GPU if it fits (with the measured MoE experts moved
    /// to RAM if that makes it fit), else as many layers as leave a KV reserve.
    /// Returns (gpu layers, context, cpuMoe recommended).
    fn gpu_placement(&self, bpt: f64) -> (f64, f64, bool) {
        let (hints, total_layers) = (self.hints, self.total_layers);
        let pinned_ctx = hints.context_size;
        let required_kv = pinned_ctx.unwrap_or(FLOOR_CONTEXT_TOKENS) * bpt;
        let mut cpu_experts = self.cpu_experts;
        let mut weights = gpu_weights(self.model, cpu_experts);
        let mut full_fits = weights + required_kv <= self.budget;
        let mut cpu_moe = false;
        let may_move_experts = !MoeHints::from(hints).any() && hints.gpu_layers.is_none();
        let measured = self.model.measured_expert_bytes().filter(|b| *b > 0.0);
        if let (false, true, Some(experts)) = (full_fits, may_move_experts, measured) {
            let trunk = gpu_weights(self.model, experts);
            if trunk + required_kv <= self.budget && experts <= self.m.ram_expert_cap() {
                (cpu_moe, cpu_experts, weights, full_fits) = (true, experts, trunk, true);
            }
        }
        if hints.gpu_layers.map_or(full_fits, |l| l >= total_layers) {
            let context = pinned_ctx.unwrap_or_else(|| self.clamp((self.budget - weights) / bpt));
            return (hints.gpu_layers.unwrap_or(total_layers), context, cpu_moe);
        }
        let reserve = required_kv.max(MIN_PARTIAL_RESERVE_BYTES);
        let per_layer = weights / total_layers;
        let layers = hints.gpu_layers.unwrap_or_else(|| {
            ((self.budget - reserve) / per_layer)
                .floor()
                .max(0.0)
                .min(total_layers)
        });
        if layers <= 0.0 {
            return (
                0.0,
                pinned_ctx.unwrap_or_else(|| self.cpu_context(bpt)),
                cpu_moe,
            );
        }
        let context = pinned_ctx.unwrap_or_else(|| {
            let room = Split::new(self.model, cpu_experts, layers, total_layers).kv_room(self.m);
            self.clamp(room.at_least_zero().tokens(bpt))
        });
        (layers, context, cpu_moe)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::system::GpuInfo;
    use serde_json::json;

    #[test]
    fn optimal_config_cpu_only() {
        let none = GpuInfo::unavailable();
        let m = Machine {
            cores: 2,
            gpu: &none,
            mem: &mem(gib(24.0), gib(16.0)),
        };
        let c = optimal_config(&smollm(), &LlamaServerConfig::default(), &m).unwrap();
        assert_eq!(
            c,
            config(
                json!({ "threads": 2, "parallelRequests": 1, "contextSize": 8192, "gpuLayers": 0 })
            )
        );
        // No metadata: legacy sizing.
        let bare = ModelView::from_json(&json!({ "size": gib(4.0) }));
        let c = optimal_config(&bare, &config(json!({ "parallelRequests": 2 })), &m).unwrap();
        assert_eq!(
            c,
            config(
                json!({ "threads": 2, "parallelRequests": 2, "contextSize": 4096, "gpuLayers": 0 })
            )
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
        let c = optimal_config(&llama8b, &LlamaServerConfig::default(), &m).unwrap();
        assert_eq!(
            c,
            config(
                json!({ "threads": 14, "parallelRequests": 1, "contextSize": 131072, "gpuLayers": 32,
                    "cacheTypeK": "q8_0", "cacheTypeV": "q8_0", "flashAttention": "on" })
            )
        );
        // Pinned cache types are kept and not reported back.
        let c = optimal_config(
            &llama8b,
            &config(json!({ "cacheTypeK": "f16", "cacheTypeV": "f16" })),
            &m,
        )
        .unwrap();
        assert_eq!(c.cache_type_k, None);
        assert_eq!(c.gpu_layers, Some(32.0));
        // (19 GiB budget − 8.8 GiB weights) / 131072 B per token = 83558 → floored to 81920.
        assert_eq!(c.context_size, Some(81920.0));
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
        let c = optimal_config(&big, &LlamaServerConfig::default(), &m).unwrap();
        // budget 7 GiB, weights 22 GiB (0.55 GiB/layer), reserve max(4096 × q8 bytes, 1.5 GiB) = 1.5 GiB → 10 layers
        assert_eq!(c.gpu_layers, Some(10.0));
        assert_eq!(c.cache_type_k.as_deref(), Some("q8_0"));
        assert_eq!(c.context_size, Some(32768.0));
    }

    #[test]
    fn optimal_config_moves_measured_experts_to_ram() {
        let g = gpu(gib(12.0), gib(12.0));
        let m = Machine {
            cores: 8,
            gpu: &g,
            mem: &mem(gib(64.0), gib(48.0)),
        };
        // 20 GiB of which 16 GiB are experts: the 4.4 GiB trunk fits the 11 GiB budget.
        let moe = model(
            gib(20.0),
            json!({ "architecture": "qwen3moe", "block_count": 48, "attention_head_count_kv": 4, "attention_key_length": 128,
                     "context_length": 32768, "expert_weights_bytes": gib(16.0) }),
        );
        let c = optimal_config(&moe, &LlamaServerConfig::default(), &m).unwrap();
        assert_eq!((c.gpu_layers, c.cpu_moe), (Some(48.0), Some(true)));
        // A MoE hint of the caller's turns that off.
        let c = optimal_config(&moe, &config(json!({ "nCpuMoe": 4 })), &m).unwrap();
        assert_eq!(c.cpu_moe, None);
        assert!(c.gpu_layers.unwrap() < 48.0);
    }
}
