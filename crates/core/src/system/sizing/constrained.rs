//! `getConstrainedOptimalConfig`: `getOptimalConfig` under a per-slot context policy. The
//! unconstrained config is the baseline; when it cannot meet the per-slot minimum, placements are
//! tried in order (full offload, automatic `cpuMoe`, then fewer GPU layers) and the first one
//! that can is taken; none can → InsufficientResourcesError.

use super::context_policy::total_native_context;
use super::kv::{F16Room, KvPlan};
use super::kv_sizing::FLOOR_CONTEXT_TOKENS;
use super::placement::{gpu_weights, MoeHints, Split};
use super::{details, floor_context_to_granularity, num, optimal_config};
use super::{ContextPolicy, Machine, ModelView};
use crate::llama::LlamaServerConfig;
use crate::{jsnum, Error, Result};
use serde_json::json;
use std::cell::Cell;

pub(super) fn constrained_config(
    model: &ModelView,
    hints: &LlamaServerConfig,
    p: &ContextPolicy,
    m: &Machine,
) -> Result<LlamaServerConfig> {
    let total_native = total_native_context(model, p)?;
    let baseline_hints = LlamaServerConfig {
        minimum_context_size: None,
        preferred_context_size: None,
        maximum_context_size: None,
        ..hints.clone()
    };
    let baseline = optimal_config(model, &baseline_hints, m)?;
    let baseline_ctx = baseline
        .context_size
        .unwrap_or(model.context_length().min(FLOOR_CONTEXT_TOKENS));
    let contract = Contract {
        hints,
        p,
        total_native,
    };
    let Some(minimum) = p.minimum else {
        let ctx = contract.cap_context(baseline_ctx, false);
        return Ok(contract.with_context(&baseline, ctx));
    };
    let search = Search::new(model, hints, m, &contract, &baseline);
    let baseline_meets_minimum = (baseline_ctx / p.parallel).floor() >= minimum;
    let baseline_selected = contract.cap_context(baseline_ctx, true);
    if baseline_meets_minimum && search.baseline_capacity() >= baseline_selected {
        return Ok(contract.with_context(&baseline, baseline_selected));
    }
    search
        .first_fit()
        .ok_or_else(|| contract.insufficient(minimum, search.best_raw.get()))
}

/// The caller's policy and what every result carries.
struct Contract<'a> {
    hints: &'a LlamaServerConfig,
    p: &'a ContextPolicy,
    /// The model's native context across all slots.
    total_native: f64,
}

impl Contract<'_> {
    /// Capped by the preferred and maximum totals.
    fn cap_all(&self, tokens: f64) -> f64 {
        tokens
            .min(self.p.total_preferred.unwrap_or(f64::INFINITY))
            .min(self.p.total_maximum.unwrap_or(f64::INFINITY))
    }

    /// `capContext`: capped, floored to the ladder, raised to the minimum if `require_minimum`.
    fn cap_context(&self, tokens: f64, require_minimum: bool) -> f64 {
        let cap = self.cap_all(tokens).min(self.total_native);
        let mut selected = floor_context_to_granularity(cap);
        if selected <= 0.0 {
            selected = cap.floor();
        }
        match self.p.total_minimum {
            Some(min) if require_minimum && selected < min => min,
            _ => selected,
        }
    }

    /// `chooseContext`: the context a raw capacity gives, `None` below the minimum.
    fn choose(&self, raw: f64) -> Option<f64> {
        let total_min = self.p.total_minimum?;
        let cap = self.cap_all(raw).min(self.total_native);
        if cap < total_min {
            return None;
        }
        let rounded = floor_context_to_granularity(cap);
        Some(if rounded >= total_min {
            rounded
        } else {
            total_min
        })
    }

    /// `attachContract`: the caller's cache, flash-attention and MoE hints and the policy.
    fn attach(&self, config: &LlamaServerConfig) -> LlamaServerConfig {
        let h = self.hints;
        LlamaServerConfig {
            cache_type_k: h
                .cache_type_k
                .clone()
                .or_else(|| config.cache_type_k.clone()),
            cache_type_v: h
                .cache_type_v
                .clone()
                .or_else(|| config.cache_type_v.clone()),
            flash_attention: h.flash_attention.or(config.flash_attention),
            cpu_moe: h.cpu_moe.or(config.cpu_moe),
            n_cpu_moe: h.n_cpu_moe.or(config.n_cpu_moe),
            override_tensors: h
                .override_tensors
                .clone()
                .or_else(|| config.override_tensors.clone()),
            minimum_context_size: self.p.minimum.or(config.minimum_context_size),
            preferred_context_size: self.p.preferred.or(config.preferred_context_size),
            maximum_context_size: self.p.maximum.or(config.maximum_context_size),
            ..config.clone()
        }
    }

    fn with_context(&self, config: &LlamaServerConfig, ctx: f64) -> LlamaServerConfig {
        LlamaServerConfig {
            context_size: Some(ctx),
            ..self.attach(config)
        }
    }

    /// No permitted placement meets the minimum.
    fn insufficient(&self, minimum: f64, best_raw: f64) -> Error {
        let p = self.p;
        let max_per_slot = (self.cap_all(best_raw) / p.parallel).floor().max(0.0);
        let total_min = p.total_minimum.unwrap_or(minimum * p.parallel);
        let plural = if p.parallel == 1.0 { "" } else { "s" };
        let (min_s, slots) = (jsnum::to_string(minimum), jsnum::to_string(p.parallel));
        Error::insufficient_resources(
            format!("Cannot satisfy minimum context {min_s} tokens per slot"),
            details(&[
                (
                    "required",
                    Some(json!(format!(
                        "{min_s} context tokens per slot ({} total across {slots} slot{plural})",
                        jsnum::to_string(total_min),
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
        )
    }
}

/// The placements tried for the minimum, with the best raw capacity seen (for the error).
struct Search<'a> {
    model: &'a ModelView,
    hints: &'a LlamaServerConfig,
    m: &'a Machine<'a>,
    contract: &'a Contract<'a>,
    baseline: &'a LlamaServerConfig,
    total_layers: f64,
    has_vram: bool,
    /// Expert bytes the hints keep in RAM.
    hinted_experts: f64,
    kv: KvPlan,
    bpt: f64,
    best_raw: Cell<f64>,
}

impl<'a> Search<'a> {
    fn new(
        model: &'a ModelView,
        hints: &'a LlamaServerConfig,
        m: &'a Machine<'a>,
        contract: &'a Contract<'a>,
        baseline: &'a LlamaServerConfig,
    ) -> Self {
        let total_layers = model.layer_count();
        let has_vram = m.vram().is_some();
        let hinted_experts = MoeHints::from(hints).cpu_expert_bytes(model, total_layers);
        // The baseline's own auto-quantisation stands; else the plan asks for the minimum.
        let kv = if baseline.cache_type_k.is_some() || baseline.cache_type_v.is_some() {
            KvPlan::auto(
                baseline.cache_type_k.as_deref(),
                baseline.cache_type_v.as_deref(),
            )
        } else {
            let room = contract
                .p
                .total_minimum
                .filter(|_| has_vram)
                .map(|tokens| F16Room {
                    weights: gpu_weights(model, hinted_experts),
                    tokens,
                    budget: m.vram_budget(),
                    nan_overflows: false,
                });
            KvPlan::new(model, hints, room)
        };
        let bpt = kv.bytes_per_token(model);
        Search {
            model,
            hints,
            m,
            contract,
            baseline,
            total_layers,
            has_vram,
            hinted_experts,
            kv,
            bpt,
            best_raw: Cell::new(0.0),
        }
    }

    /// `rawCapacityForPlacement`: total context tokens that fit with `requested_layers` on the
    /// GPU and `cpu_experts` bytes of experts in RAM (0 where the placement is not possible).
    fn raw_capacity(&self, cpu_experts: f64, requested_layers: f64) -> f64 {
        if cpu_experts > 0.0 && cpu_experts > self.m.ram_expert_cap() {
            return 0.0;
        }
        let layers = requested_layers.min(self.total_layers).max(0.0);
        if layers > 0.0 && !self.has_vram {
            return 0.0;
        }
        let split = Split::new(self.model, cpu_experts, layers, self.total_layers);
        let raw = split
            .kv_room(self.m)
            .tokens(self.bpt)
            .min(self.contract.total_native)
            .max(0.0);
        self.best_raw.set(self.best_raw.get().max(raw));
        raw
    }

    /// The raw capacity of the baseline's own placement.
    fn baseline_capacity(&self) -> f64 {
        let experts = if self.baseline.cpu_moe == Some(true) {
            self.model.expert_weights_bytes().unwrap_or(0.0)
        } else {
            self.hinted_experts
        };
        self.raw_capacity(experts, self.baseline.gpu_layers.unwrap_or(0.0))
    }

    /// The first placement that meets the minimum: the caller's `gpuLayers` if pinned; else
    /// full offload, full offload with the measured experts in RAM, then fewer GPU layers.
    fn first_fit(&self) -> Option<LlamaServerConfig> {
        let hinted = self.hinted_experts;
        if let Some(pinned) = self.hints.gpu_layers {
            return self.try_place(hinted, pinned, false);
        }
        if self.has_vram {
            if let Some(r) = self.try_place(hinted, self.total_layers, false) {
                return Some(r);
            }
        }
        let measured = self
            .model
            .measured_expert_bytes()
            .filter(|b| *b > 0.0 && *b <= self.m.ram_expert_cap());
        let can_auto_moe = !MoeHints::from(self.hints).any();
        if let (true, true, Some(experts)) = (self.has_vram, can_auto_moe, measured) {
            if let Some(r) = self.try_place(experts, self.total_layers, true) {
                return Some(r);
            }
        }
        let mut layers = if self.has_vram {
            self.total_layers - 1.0
        } else {
            0.0
        };
        while layers >= 0.0 {
            if let Some(r) = self.try_place(hinted, layers, false) {
                return Some(r);
            }
            layers -= 1.0;
        }
        None
    }

    fn try_place(&self, cpu_experts: f64, layers: f64, cpu_moe: bool) -> Option<LlamaServerConfig> {
        let ctx = self
            .contract
            .choose(self.raw_capacity(cpu_experts, layers))?;
        Some(self.build(ctx, layers, cpu_moe))
    }

    /// `buildResult`: the baseline with the contract, this placement and its KV cache.
    fn build(&self, ctx: f64, layers: f64, cpu_moe: bool) -> LlamaServerConfig {
        let h = self.hints;
        let mut r = LlamaServerConfig {
            context_size: Some(ctx),
            gpu_layers: Some(layers),
            ..self.contract.attach(self.baseline)
        };
        if !self.kv.report(&mut r) {
            if h.cache_type_k.is_none() {
                r.cache_type_k = None;
            }
            if h.cache_type_v.is_none() {
                r.cache_type_v = None;
            }
            if h.flash_attention.is_none() {
                r.flash_attention = None;
            }
        }
        if cpu_moe {
            r.cpu_moe = Some(true);
        } else if h.cpu_moe.is_none() {
            r.cpu_moe = None;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::system::GpuInfo;
    use serde_json::Value;

    #[test]
    fn context_policy_selection() {
        let none = GpuInfo::unavailable();
        let roomy = Machine {
            cores: 2,
            gpu: &none,
            mem: &mem(gib(24.0), gib(16.0)),
        };
        let c = optimal_config(&smollm(), &config(json!({ "minimumContextSize": 2048, "maximumContextSize": 3000, "parallelRequests": 2 })), &roomy).unwrap();
        // total max 6000 → floored to 5632 on the 512-step band; per slot 2816 ≥ 2048.
        assert_eq!(c.context_size, Some(5632.0));
        assert_eq!(c.minimum_context_size, Some(2048.0));
        assert_eq!(c.maximum_context_size, Some(3000.0));
        assert_eq!(c.parallel_requests, Some(2.0));

        let tight = Machine {
            cores: 2,
            gpu: &none,
            mem: &mem(gib(4.0), gib(3.0)),
        };
        let m2 = model(
            gib(2.0),
            json!({ "architecture": "llama", "block_count": 32, "attention_head_count_kv": 8, "attention_key_length": 128, "context_length": 32768 }),
        );
        let e = optimal_config(&m2, &config(json!({ "minimumContextSize": 16384 })), &tight)
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
    fn fewer_layers_quantised_cache_and_the_callers_hints() {
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
        let policy = |extra: Value| {
            let mut hints = json!({ "minimumContextSize": 32768, "parallelRequests": 2, "overrideTensors": "blk\\.0=CPU" });
            hints
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            optimal_config(&big, &config(hints), &m)
        };
        // The baseline (32768 tokens for 2 slots) misses the minimum: the search takes the most
        // GPU layers that leave room for 2 × 32768 tokens of q8_0 cache.
        let c = policy(json!({})).unwrap();
        assert_eq!(c.cache_type_k.as_deref(), Some("q8_0"));
        assert_eq!(c.flash_attention.map(|f| f.flag_value()), Some("on"));
        assert_eq!(c.context_size, Some(65536.0));
        let layers = c.gpu_layers.unwrap();
        assert!(layers > 0.0 && layers < 40.0, "{layers}");
        assert!(policy(json!({ "gpuLayers": layers })).is_ok());
        let e = policy(json!({ "gpuLayers": layers + 1.0 })).unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InsufficientResources);
        // The caller's hints and the policy travel with the result; no cpuMoe was asked for.
        assert_eq!(c.override_tensors.as_deref(), Some("blk\\.0=CPU"));
        assert_eq!(
            (c.minimum_context_size, c.parallel_requests, c.cpu_moe),
            (Some(32768.0), Some(2.0), None)
        );
        // A baseline that meets the minimum is kept as it is (10 layers, as without a policy).
        let kept =
            optimal_config(&big, &config(json!({ "minimumContextSize": 32768 })), &m).unwrap();
        let plain = optimal_config(&big, &LlamaServerConfig::default(), &m).unwrap();
        assert_eq!(
            (kept.gpu_layers, kept.context_size),
            (plain.gpu_layers, plain.context_size)
        );
    }
}
