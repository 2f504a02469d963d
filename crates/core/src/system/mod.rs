//! `SystemInfo`: what this machine has (CPU, RAM, GPUs), cached for 60 s, and what it can run.

pub mod cpu;
pub mod gpu;
pub mod memory;
pub mod sizing;

use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use cpu::{cpu_info, recommended_threads, CpuInfo};
pub use gpu::{detect_gpu, GpuDevice, GpuInfo};
pub use memory::{estimate_vram, memory_info, MemoryInfo};
pub use sizing::{CanRunResult, ModelView, SystemRecommendations};

/// `SystemCapabilities`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SystemCapabilities {
    pub cpu: CpuInfo,
    pub memory: MemoryInfo,
    pub gpu: GpuInfo,
    pub platform: String,
    pub recommendations: SystemRecommendations,
    pub detected_at: String,
}

pub const CACHE_TTL: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct SystemInfo {
    cache: Mutex<Option<(Instant, SystemCapabilities)>>,
}

/// The GPU with its VRAM filled in where detection gave none (`getGPUInfo`).
pub fn gpu_info() -> GpuInfo {
    let mut gpu = detect_gpu();
    if gpu.available && gpu.vram.is_none() {
        gpu.vram = estimate_vram(&gpu);
    }
    gpu
}

impl SystemInfo {
    pub fn new() -> Self {
        Self::default()
    }

    /// `detect(forceRefresh)`: blocking (GPU probing may read sysfs or load NVML); call it off
    /// the JS thread.
    pub fn detect(&self, force_refresh: bool) -> SystemCapabilities {
        if !force_refresh {
            if let Some((at, caps)) = self
                .cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
            {
                if at.elapsed() < CACHE_TTL {
                    return caps.clone();
                }
            }
        }
        let started = Instant::now();
        let cpu = cpu_info();
        let memory = memory_info();
        let gpu = gpu_info();
        let recommendations = sizing::recommendations(cpu.cores, memory.total, &gpu);
        let caps = SystemCapabilities {
            cpu,
            memory,
            gpu,
            platform: crate::platform::platform().to_string(),
            recommendations,
            detected_at: crate::clock::iso_now(),
        };
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some((started, caps.clone()));
        caps
    }

    pub fn clear_cache(&self) {
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// `canRunModel(modelInfo, options)`: GPU from the cached detection, RAM read now.
    pub fn can_run_model(
        &self,
        model: &Value,
        options: Option<&Map<String, Value>>,
    ) -> CanRunResult {
        let caps = self.detect(false);
        sizing::can_run_model(
            &ModelView::from_json(model),
            options,
            &caps.gpu,
            &memory_info(),
        )
    }

    /// `getOptimalConfig(modelInfo, hints)`.
    pub fn optimal_config(
        &self,
        model: &Value,
        hints: Option<&Map<String, Value>>,
    ) -> crate::Result<Map<String, Value>> {
        let caps = self.detect(false);
        let mem = memory_info();
        let machine = sizing::Machine {
            cores: caps.cpu.cores,
            gpu: &caps.gpu,
            mem: &mem,
        };
        sizing::optimal_config(&ModelView::from_json(model), hints, &machine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_caches_and_refreshes() {
        let s = SystemInfo::new();
        let a = s.detect(false);
        let b = s.detect(false);
        assert_eq!(a.detected_at, b.detected_at);
        std::thread::sleep(Duration::from_millis(2));
        let c = s.detect(true);
        assert_ne!(a.detected_at, c.detected_at);
        s.clear_cache();
        std::thread::sleep(Duration::from_millis(2));
        assert_ne!(s.detect(false).detected_at, c.detected_at);
        let json = serde_json::to_value(&a).unwrap();
        for key in [
            "cpu",
            "memory",
            "gpu",
            "platform",
            "recommendations",
            "detectedAt",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
    }
}
