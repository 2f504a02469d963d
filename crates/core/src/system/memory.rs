//! RAM (`getMemoryInfo`) and VRAM estimates (`estimateVRAM`).

use super::gpu::GpuInfo;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct MemoryInfo {
    pub total: f64,
    pub available: f64,
    pub used: f64,
}

/// Live RAM reading. `available` is what the OS can hand out without swapping (Linux
/// `MemAvailable`, as Node's `os.freemem()`).
pub fn memory_info() -> MemoryInfo {
    #[cfg(target_os = "linux")]
    if let Some(info) = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| parse_meminfo(&t))
    {
        return info; // a direct read: 5× cheaper than sysinfo's, same source
    }
    use sysinfo::{MemoryRefreshKind, RefreshKind, System};
    let sys = System::new_with_specifics(
        RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()),
    )
    .ok();
    let total = sys.as_ref().map_or(0.0, |s| s.total_memory() as f64);
    let available = sys.as_ref().map_or(0.0, |s| s.available_memory() as f64);
    MemoryInfo {
        total,
        available,
        used: total - available,
    }
}

/// `MemTotal` and `MemAvailable` (kB) from `/proc/meminfo`, in bytes.
pub fn parse_meminfo(text: &str) -> Option<MemoryInfo> {
    let field = |name: &str| {
        let line = text.lines().find(|l| l.starts_with(name))?;
        line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<f64>()
            .ok()
            .map(|kb| kb * 1024.0)
    };
    let total = field("MemTotal:")?;
    let available = field("MemAvailable:")?;
    Some(MemoryInfo {
        total,
        available,
        used: total - available,
    })
}

/// `estimateVRAM(gpu)`: total VRAM in bytes when it can be known. Apple (unified memory): 70 % of
/// RAM; otherwise the detected total (NVML, sysfs, nvidia-smi, rocm-smi); `None` when unknown.
pub fn estimate_vram(gpu: &GpuInfo) -> Option<f64> {
    if !gpu.available {
        return None;
    }
    if crate::platform::platform() == "darwin" && gpu.metal == Some(true) {
        return Some((memory_info().total * 0.7).floor());
    }
    if gpu.vram.is_some() {
        return gpu.vram;
    }
    // Re-read the primary device: a caller may pass a GPUInfo it built itself.
    let fresh = super::gpu::detect_gpu();
    (fresh.available && fresh.kind == gpu.kind)
        .then_some(fresh.vram)
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ram() {
        let m = memory_info();
        assert!(m.total > 0.0 && m.available > 0.0 && m.available <= m.total);
        assert_eq!(m.used, m.total - m.available);
    }

    #[test]
    fn meminfo_parser() {
        let text = "MemTotal:       24684096 kB\nMemFree:        20000000 kB\nMemAvailable:   24184320 kB\n";
        let m = parse_meminfo(text).unwrap();
        assert_eq!(m.total, 24684096.0 * 1024.0);
        assert_eq!(m.available, 24184320.0 * 1024.0);
        assert_eq!(parse_meminfo("MemTotal: x kB"), None);
    }

    #[test]
    fn no_gpu_no_vram() {
        assert_eq!(estimate_vram(&GpuInfo::unavailable()), None);
    }
}
