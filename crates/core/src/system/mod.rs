//! `SystemInfo`: what this machine has (CPU, RAM, GPUs), cached for 60 s, and what it can run.

pub mod cpu;
pub mod gpu;
pub mod memory;
pub mod sizing;

use crate::llama::LlamaServerConfig;
use serde::Serialize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use cpu::{cpu_info, recommended_threads, CpuInfo};
pub use gpu::{detect_gpu, GpuDevice, GpuInfo, InvalidGpuInfo};
pub use memory::{estimate_vram, memory_info, MemoryInfo};
pub use sizing::{CanRunOptions, CanRunResult, ModelView, SystemRecommendations};

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

/// One detection, numbered: a newer detection has a higher generation.
struct Cached {
    at: Instant,
    generation: u64,
    caps: SystemCapabilities,
}

impl Cached {
    fn detection(&self) -> Detection {
        Detection {
            generation: self.generation,
            valid_for: CACHE_TTL.saturating_sub(self.at.elapsed()),
            caps: self.caps.clone(),
        }
    }
}

/// A detection as `detect_numbered` returns it.
pub struct Detection {
    pub generation: u64,
    /// How much longer the cache holds this detection.
    pub valid_for: Duration,
    pub caps: SystemCapabilities,
}

/// The detection cache. One per process (the binding holds it), shared by `systemInfo` and by
/// the llama-server auto-configuration, so that `clearCache()` reaches both.
#[derive(Default)]
pub struct SystemInfo {
    cache: Mutex<Option<Cached>>,
    generations: std::sync::atomic::AtomicU64,
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
        self.detect_numbered(force_refresh).caps
    }

    /// `detect`, with the detection's generation and how much longer the cache holds it: the
    /// facade returns the same object until then (or until `clearCache`/`forceRefresh`, which go
    /// through it), without asking again.
    pub fn detect_numbered(&self, force_refresh: bool) -> Detection {
        if !force_refresh {
            if let Some(d) = self.fresh(Cached::detection) {
                return d;
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
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        // Numbered under the lock: the cache always holds the highest generation written.
        let generation = 1 + self
            .generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cached = Cached {
            at: started,
            generation,
            caps,
        };
        let detection = cached.detection();
        *cache = Some(cached);
        detection
    }

    fn fresh<T>(&self, read: impl FnOnce(&Cached) -> T) -> Option<T> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .as_ref()
            .filter(|c| c.at.elapsed() < CACHE_TTL)
            .map(read)
    }

    pub fn clear_cache(&self) {
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// `canRunModel(modelInfo, options)`: GPU from the cached detection, RAM read now.
    pub fn can_run_model(&self, model: &ModelView, options: &CanRunOptions) -> CanRunResult {
        let caps = self.detect(false);
        sizing::can_run_model(model, options, &caps.gpu, &memory_info())
    }

    /// `getOptimalConfig(modelInfo, hints)` → `Partial<LlamaServerConfig>`.
    pub fn optimal_config(
        &self,
        model: &ModelView,
        hints: &LlamaServerConfig,
    ) -> crate::Result<LlamaServerConfig> {
        let caps = self.detect(false);
        let mem = memory_info();
        let machine = sizing::Machine {
            cores: caps.cpu.cores,
            gpu: &caps.gpu,
            mem: &mem,
        };
        sizing::optimal_config(model, hints, &machine)
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
        // Every detection is numbered; the cached one is what `detect(false)` returns, for as
        // long as it says.
        let g1 = s.detect_numbered(false);
        assert!(g1.valid_for <= CACHE_TTL && g1.valid_for > CACHE_TTL / 2);
        let g2 = s.detect_numbered(true);
        assert!(g2.generation > g1.generation);
        assert_eq!(s.detect_numbered(false).generation, g2.generation);
        s.clear_cache();
        assert!(s.detect_numbered(false).generation > g2.generation);
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
