//! `generateRecommendations(cores, totalRAM, gpu)`: the model size and quantisations this
//! machine suits.

use super::GIB;
use crate::system::GpuInfo;
use serde::Serialize;

/// `RECOMMENDED_QUANTIZATIONS`.
pub const QUANT_BALANCED: [&str; 2] = ["Q5_K_M", "Q4_K_M"];
pub const QUANT_COMPACT: [&str; 3] = ["Q4_K_M", "Q4_K_S", "Q3_K_M"];

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
        threads: crate::system::cpu::recommended_threads(cores),
        gpu_layers: if gpu.available { None } else { Some(0) },
        gpu_acceleration: gpu.available,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

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
}
