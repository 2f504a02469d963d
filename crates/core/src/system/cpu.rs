//! CPU facts (`getCPUInfo`) and the thread ladder (`getRecommendedThreads`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CpuInfo {
    /// Logical CPUs, as `os.cpus().length`.
    pub cores: u32,
    pub model: String,
    /// `process.arch` spelling (`x64`, `arm64`).
    pub architecture: String,
}

pub fn cpu_info() -> CpuInfo {
    use sysinfo::{CpuRefreshKind, RefreshKind, System};
    let sys =
        System::new_with_specifics(RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing())).ok();
    let cpus = sys.as_ref().map_or(&[][..], |s| s.cpus());
    let model = cpus
        .first()
        .map(|c| c.brand().trim().to_string())
        .filter(|m| !m.is_empty());
    let cores = if cpus.is_empty() {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        cpus.len()
    };
    CpuInfo {
        cores: cores as u32,
        model: model.unwrap_or_else(|| "Unknown CPU".to_string()),
        architecture: crate::platform::architecture().to_string(),
    }
}

/// ≤2 cores → all; ≤8 → cores−1; ≤16 → cores−2; else ⌊cores × 0.85⌋.
pub fn recommended_threads(cores: u32) -> u32 {
    match cores {
        0..=2 => cores,
        3..=8 => cores - 1,
        9..=16 => cores - 2,
        _ => (cores as f64 * 0.85).floor() as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladder() {
        let got: Vec<u32> = [1, 2, 3, 4, 8, 9, 12, 16, 17, 20, 32, 64]
            .map(recommended_threads)
            .to_vec();
        assert_eq!(got, vec![1, 2, 2, 3, 7, 7, 10, 14, 14, 17, 27, 54]);
    }

    #[test]
    fn detects_this_machine() {
        let c = cpu_info();
        assert!(c.cores >= 1);
        assert!(!c.model.is_empty());
        assert_eq!(c.architecture, crate::platform::architecture());
    }
}
