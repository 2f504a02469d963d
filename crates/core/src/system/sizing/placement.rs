//! Where the weights go: the machine's VRAM budget, the MoE experts kept in RAM, the legacy
//! `calculateGPULayers`, and the one capacity calculation (how many context tokens of KV cache fit
//! beside a given split of the weights between GPU and RAM).

use super::kv_sizing::*;
use super::{CanRunOptions, ModelView, GIB};
use crate::llama::LlamaServerConfig;
use crate::system::{GpuInfo, MemoryInfo};

/// Inputs of `getOptimalConfig` that come from the machine.
pub struct Machine<'a> {
    pub cores: u32,
    pub gpu: &'a GpuInfo,
    pub mem: &'a MemoryInfo,
}

impl Machine<'_> {
    /// Total VRAM when the GPU is available and reports a non-zero amount.
    pub(super) fn vram(&self) -> Option<f64> {
        self.gpu.vram.filter(|v| *v != 0.0 && self.gpu.available)
    }

    /// Free VRAM (else total) less the compute buffer; 0 without usable VRAM.
    pub(super) fn vram_budget(&self) -> f64 {
        self.vram().map_or(0.0, |v| {
            (self.gpu.vram_available.unwrap_or(v) - COMPUTE_BUFFER_BYTES).max(0.0)
        })
    }

    /// The most expert bytes that may be kept in RAM.
    pub(super) fn ram_expert_cap(&self) -> f64 {
        self.mem.total * MOE_EXPERT_TOTAL_RAM_FRACTION
    }
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

/// The MoE hints sizing reads (`cpuMoe`, `nCpuMoe`, `overrideTensors`), from either input.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct MoeHints<'a> {
    pub cpu_moe: Option<bool>,
    pub n_cpu_moe: Option<f64>,
    pub override_tensors: Option<&'a str>,
}

impl<'a> From<&'a LlamaServerConfig> for MoeHints<'a> {
    fn from(c: &'a LlamaServerConfig) -> Self {
        MoeHints {
            cpu_moe: c.cpu_moe,
            n_cpu_moe: c.n_cpu_moe,
            override_tensors: c.override_tensors.as_deref(),
        }
    }
}

impl<'a> From<&'a CanRunOptions> for MoeHints<'a> {
    fn from(o: &'a CanRunOptions) -> Self {
        MoeHints {
            cpu_moe: o.cpu_moe,
            n_cpu_moe: o.n_cpu_moe,
            override_tensors: o.override_tensors.as_deref(),
        }
    }
}

impl MoeHints<'_> {
    /// Whether the caller said anything about MoE placement (then sizing adds no `cpuMoe`).
    pub fn any(&self) -> bool {
        self.cpu_moe.is_some() || self.n_cpu_moe.is_some() || self.override_tensors.is_some()
    }

    /// Bytes of expert weights these hints keep in RAM: all of them for `cpuMoe` or
    /// `overrideTensors: 'exps=CPU'`, `nCpuMoe` layers' share, none for a custom override.
    pub fn cpu_expert_bytes(&self, model: &ModelView, total_layers: f64) -> f64 {
        let Some(expert_bytes) = model.expert_weights_bytes().filter(|b| *b > 0.0) else {
            return 0.0;
        };
        match self.override_tensors {
            Some(t) if t != "exps=CPU" => 0.0,
            Some(_) => expert_bytes,
            None if self.cpu_moe == Some(true) => expert_bytes,
            None => {
                let n = self
                    .n_cpu_moe
                    .filter(|n| *n > 0.0)
                    .map_or(0.0, |n| n.min(total_layers));
                expert_bytes * (n / total_layers)
            }
        }
    }
}

/// GPU-resident weight bytes (with overhead) when everything but `cpu_experts` is offloaded.
pub(super) fn gpu_weights(model: &ModelView, cpu_experts: f64) -> f64 {
    (model.size - cpu_experts) * GPU_WEIGHTS_OVERHEAD
}

/// The weights split between GPU and RAM for `layers` of `total_layers` offloaded, with
/// `cpu_experts` bytes of MoE experts held in RAM whatever the split.
#[derive(Debug, Clone, Copy)]
pub(super) struct Split {
    pub gpu_share: f64,
    pub cpu_share: f64,
    /// Bytes in VRAM, with the GPU overhead.
    pub gpu_weights: f64,
    /// Bytes in RAM, with the CPU overhead.
    pub ram_weights: f64,
}

impl Split {
    pub fn new(model: &ModelView, cpu_experts: f64, layers: f64, total_layers: f64) -> Self {
        let gpu_share = layers / total_layers;
        let cpu_share = 1.0 - gpu_share;
        let cpu_weights = (model.size - cpu_experts) * cpu_share + cpu_experts;
        Split {
            gpu_share,
            cpu_share,
            gpu_weights: gpu_weights(model, cpu_experts) * gpu_share,
            ram_weights: cpu_weights * CPU_WEIGHTS_OVERHEAD,
        }
    }

    /// Bytes left for the KV cache on each side: the VRAM budget less the GPU weights, free RAM
    /// less the RAM weights and the OS margin (negative when the weights alone do not fit).
    pub fn kv_room(&self, m: &Machine) -> KvRoom {
        KvRoom {
            gpu: m.vram_budget() - self.gpu_weights,
            ram: m.mem.available - self.ram_weights - OS_RAM_MARGIN_BYTES,
            split: *self,
        }
    }
}

/// The capacity calculation: KV bytes left beside a [`Split`], and the context it holds.
#[derive(Debug, Clone, Copy)]
pub(super) struct KvRoom {
    pub gpu: f64,
    pub ram: f64,
    split: Split,
}

impl KvRoom {
    /// The same room with no side below zero (`getOptimalConfig`'s partial offload).
    pub fn at_least_zero(self) -> Self {
        KvRoom {
            gpu: self.gpu.max(0.0),
            ram: self.ram.max(0.0),
            ..self
        }
    }

    /// Context tokens (all slots) the cache can hold: each side holds its share of every token,
    /// and a side with no layers sets no limit.
    pub fn tokens(&self, bytes_per_token: f64) -> f64 {
        let side = |bytes: f64, share: f64| {
            if share > 0.0 {
                bytes / (bytes_per_token * share)
            } else {
                f64::INFINITY
            }
        };
        side(self.gpu, self.split.gpu_share).min(side(self.ram, self.split.cpu_share))
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn gpu_layers_formula() {
        assert_eq!(calculate_gpu_layers(32.0, gib(8.0), gib(4.0)), 32.0);
        assert_eq!(calculate_gpu_layers(32.0, gib(4.0), gib(4.0)), 0.0);
        assert_eq!(calculate_gpu_layers(32.0, gib(6.0), gib(5.0)), 25.0);
        assert_eq!(calculate_gpu_layers(32.0, 0.0, gib(1.0)), 0.0);
    }

    #[test]
    fn hinted_expert_bytes() {
        let moe = model(
            gib(10.0),
            json!({ "architecture": "qwen3moe", "block_count": 40, "expert_weights_bytes": gib(8.0) }),
        );
        let bytes = |hints: serde_json::Value| {
            MoeHints::from(&config(hints)).cpu_expert_bytes(&moe, 40.0) / GIB
        };
        assert_eq!(bytes(json!({})), 0.0);
        assert_eq!(bytes(json!({ "cpuMoe": true })), 8.0);
        assert_eq!(bytes(json!({ "overrideTensors": "exps=CPU" })), 8.0);
        assert_eq!(
            bytes(json!({ "cpuMoe": true, "overrideTensors": "blk=CPU" })),
            0.0
        );
        assert_eq!(bytes(json!({ "nCpuMoe": 10 })), 2.0);
        assert_eq!(bytes(json!({ "nCpuMoe": 400 })), 8.0);
        assert_eq!(bytes(json!({ "nCpuMoe": -1 })), 0.0);
        assert!(!MoeHints::from(&config(json!({}))).any());
        assert!(MoeHints::from(&config(json!({ "cpuMoe": false }))).any());
    }

    #[test]
    fn capacity_of_a_split() {
        let (g, ram) = (gpu(gib(8.0), gib(8.0)), mem(gib(64.0), gib(48.0)));
        let m = Machine {
            cores: 8,
            gpu: &g,
            mem: &ram,
        };
        let big = model(
            gib(20.0),
            json!({ "architecture": "llama", "block_count": 40 }),
        );
        // Half on the GPU: 11 GiB of weights against a 7 GiB budget; 12 GiB + 2 GiB margin in RAM.
        let room = Split::new(&big, 0.0, 20.0, 40.0).kv_room(&m);
        assert!((room.gpu - gib(-4.0)).abs() < 1.0 && (room.ram - gib(34.0)).abs() < 1.0);
        assert!(room.tokens(1024.0) < 0.0);
        assert_eq!(room.at_least_zero().tokens(1024.0), 0.0);
        // All on the CPU: the GPU side sets no limit.
        let cpu = Split::new(&big, 0.0, 0.0, 40.0).kv_room(&m);
        assert_eq!(cpu.tokens(GIB), (gib(48.0) - gib(24.0) - gib(2.0)) / GIB);
    }
}
