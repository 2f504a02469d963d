//! `computeDiffusionOptimizations`: which parts go to the CPU, resolved per generation from the
//! GPU's memory and the model's size (`DIFFUSION_VRAM_THRESHOLDS`), then the configuration, then
//! a generation's own overrides (each wins over the one before).

use super::constants::DIFFUSION_VRAM_THRESHOLDS;
use super::{BackendFlags, DiffusionServerConfig};
use crate::models::ModelInfo;
use crate::system::GpuInfo;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
/// Free VRAM below this after the model keeps the text encoder on the CPU.
const CLIP_FREE_VRAM_FLOOR: f64 = 2.0 * GIB;
/// A model that would take more than this share of the VRAM is offloaded.
const OFFLOAD_SHARE: f64 = 0.85;

/// Flags a single generation asks for; `None` leaves the configuration's (or the automatic) one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlagOverrides {
    pub clip_on_cpu: Option<bool>,
    pub vae_on_cpu: Option<bool>,
    pub offload_to_cpu: Option<bool>,
    pub diffusion_flash_attention: Option<bool>,
}

impl FlagOverrides {
    /// A `DiffusionOffloadCombo` from JavaScript (`label` is a name for people, ignored here).
    pub fn from_object(combo: serde_json::Map<String, serde_json::Value>) -> crate::Result<Self> {
        let mut o = FlagOverrides::default();
        for (key, value) in combo {
            let slot = match key.as_str() {
                "label" if value.is_string() => continue,
                "clipOnCpu" => &mut o.clip_on_cpu,
                "vaeOnCpu" => &mut o.vae_on_cpu,
                "offloadToCpu" => &mut o.offload_to_cpu,
                "diffusionFlashAttention" => &mut o.diffusion_flash_attention,
                _ => {
                    return Err(crate::Error::server(
                        format!("Invalid flag override {key}: {value}"),
                        Some(serde_json::json!({ "code": "INVALID_REQUEST", "field": key })),
                    ))
                }
            };
            *slot = Some(value.as_bool().ok_or_else(|| {
                crate::Error::server(
                    format!("Invalid flag override {key}: {value} (a boolean is expected)"),
                    Some(serde_json::json!({ "code": "INVALID_REQUEST", "field": key })),
                )
            })?);
        }
        Ok(o)
    }
}

/// The flags the hardware alone suggests. `gpu`: `None` when detection failed (treated as no
/// GPU, as upstream): the text encoder on the CPU, nothing else.
pub fn auto_flags(model: &ModelInfo, gpu: Option<&GpuInfo>) -> BackendFlags {
    let footprint = model.size as f64 * DIFFUSION_VRAM_THRESHOLDS.model_overhead_multiplier;
    // Flash attention pays off for models with an LLM text encoder.
    let diffusion_flash_attention = model
        .components
        .as_ref()
        .is_some_and(|c| c.contains_key("llm"));
    let no_gpu = BackendFlags {
        clip_on_cpu: true,
        diffusion_flash_attention,
        ..Default::default()
    };
    let Some((gpu, vram)) = gpu.filter(|g| g.available).and_then(|g| Some((g, g.vram?))) else {
        return no_gpu;
    };
    let headroom = vram - footprint;
    let low_free = gpu
        .vram_available
        .is_some_and(|free| free - footprint < CLIP_FREE_VRAM_FLOOR);
    BackendFlags {
        clip_on_cpu: headroom < DIFFUSION_VRAM_THRESHOLDS.clip_on_cpu_headroom_bytes as f64
            || low_free,
        vae_on_cpu: headroom < DIFFUSION_VRAM_THRESHOLDS.vae_on_cpu_headroom_bytes as f64,
        offload_to_cpu: footprint > vram * OFFLOAD_SHARE,
        diffusion_flash_attention,
    }
}

/// The flags a generation runs with: its overrides, else the configuration's, else
/// [`auto_flags`].
pub fn resolve(
    config: &DiffusionServerConfig,
    overrides: Option<&FlagOverrides>,
    model: &ModelInfo,
    gpu: Option<&GpuInfo>,
) -> BackendFlags {
    let auto = auto_flags(model, gpu);
    let o = overrides.copied().unwrap_or_default();
    BackendFlags {
        clip_on_cpu: o
            .clip_on_cpu
            .or(config.clip_on_cpu)
            .unwrap_or(auto.clip_on_cpu),
        vae_on_cpu: o
            .vae_on_cpu
            .or(config.vae_on_cpu)
            .unwrap_or(auto.vae_on_cpu),
        offload_to_cpu: o
            .offload_to_cpu
            .or(config.offload_to_cpu)
            .unwrap_or(auto.offload_to_cpu),
        diffusion_flash_attention: o
            .diffusion_flash_attention
            .or(config.diffusion_flash_attention)
            .unwrap_or(auto.diffusion_flash_attention),
    }
}

/// Upstream's log line for a resolution (`VRAM optimizations: clipOnCpu=…`).
pub fn describe(flags: &BackendFlags, auto: &BackendFlags, batch_size: Option<f64>) -> String {
    let batch = batch_size.map_or(String::new(), |b| format!(", batchSize={b}"));
    format!(
        "VRAM optimizations: clipOnCpu={}, vaeOnCpu={}, offloadToCpu={}, diffusionFa={}{batch} (auto: clip={}, vae={}, offload={}, fa={})",
        flags.clip_on_cpu,
        flags.vae_on_cpu,
        flags.offload_to_cpu,
        flags.diffusion_flash_attention,
        auto.clip_on_cpu,
        auto.vae_on_cpu,
        auto.offload_to_cpu,
        auto.diffusion_flash_attention,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ComponentInfo;

    fn model(size_gib: f64, llm: bool) -> ModelInfo {
        ModelInfo {
            size: (size_gib * GIB) as u64,
            components: llm.then(|| {
                [
                    ("diffusion_model", ComponentInfo::default()),
                    ("llm", ComponentInfo::default()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect()
            }),
            ..Default::default()
        }
    }

    fn gpu(vram_gib: f64, free_gib: Option<f64>) -> GpuInfo {
        GpuInfo {
            available: true,
            vram: Some(vram_gib * GIB),
            vram_available: free_gib.map(|f| f * GIB),
            ..Default::default()
        }
    }

    fn flags(clip: bool, vae: bool, offload: bool, fa: bool) -> BackendFlags {
        BackendFlags {
            clip_on_cpu: clip,
            vae_on_cpu: vae,
            offload_to_cpu: offload,
            diffusion_flash_attention: fa,
        }
    }

    #[test]
    fn no_gpu_keeps_the_text_encoder_on_the_cpu() {
        let m = model(2.0, false);
        assert_eq!(auto_flags(&m, None), flags(true, false, false, false));
        let off = GpuInfo::default();
        assert_eq!(auto_flags(&m, Some(&off)), flags(true, false, false, false));
        let no_vram = GpuInfo {
            available: true,
            ..Default::default()
        };
        assert_eq!(
            auto_flags(&m, Some(&no_vram)),
            flags(true, false, false, false)
        );
        assert_eq!(
            auto_flags(&model(2.0, true), None),
            flags(true, false, false, true)
        );
    }

    #[test]
    fn upstreams_vram_thresholds() {
        // 5 GiB model → 6 GiB footprint (×1.2).
        let m = model(5.0, false);
        // 24 GiB: 18 GiB headroom, nothing moved.
        assert_eq!(
            auto_flags(&m, Some(&gpu(24.0, None))),
            flags(false, false, false, false)
        );
        // 12 GiB: headroom 6 GiB exactly → not below the clip threshold.
        assert_eq!(
            auto_flags(&m, Some(&gpu(12.0, None))),
            flags(false, false, false, false)
        );
        // 11 GiB: headroom 5 GiB < 6 → clip on CPU; VAE stays (≥ 2 GiB).
        assert_eq!(
            auto_flags(&m, Some(&gpu(11.0, None))),
            flags(true, false, false, false)
        );
        // 7.5 GiB: headroom 1.5 GiB < 2 → VAE on CPU too; 6 > 7.5×0.85 = 6.375? no → no offload.
        assert_eq!(
            auto_flags(&m, Some(&gpu(7.5, None))),
            flags(true, true, false, false)
        );
        // 7 GiB: 6 > 5.95 → offload.
        assert_eq!(
            auto_flags(&m, Some(&gpu(7.0, None))),
            flags(true, true, true, false)
        );
        // Plenty of VRAM but little free: free − footprint < 2 GiB → clip on CPU.
        assert_eq!(
            auto_flags(&m, Some(&gpu(24.0, Some(7.9)))),
            flags(true, false, false, false)
        );
        assert_eq!(
            auto_flags(&m, Some(&gpu(24.0, Some(8.0)))),
            flags(false, false, false, false)
        );
    }

    #[test]
    fn overrides_then_config_then_auto() {
        let m = model(5.0, true);
        let g = gpu(24.0, None);
        let mut config = DiffusionServerConfig::default();
        assert_eq!(
            resolve(&config, None, &m, Some(&g)),
            flags(false, false, false, true)
        );
        config.clip_on_cpu = Some(true);
        config.diffusion_flash_attention = Some(false);
        assert_eq!(
            resolve(&config, None, &m, Some(&g)),
            flags(true, false, false, false)
        );
        let o = FlagOverrides {
            clip_on_cpu: Some(false),
            offload_to_cpu: Some(true),
            ..Default::default()
        };
        assert_eq!(
            resolve(&config, Some(&o), &m, Some(&g)),
            flags(false, false, true, false)
        );
    }

    #[test]
    fn log_line_as_upstream() {
        let f = flags(true, false, false, true);
        assert_eq!(
            describe(&f, &flags(true, false, false, false), Some(2.0)),
            "VRAM optimizations: clipOnCpu=true, vaeOnCpu=false, offloadToCpu=false, diffusionFa=true, batchSize=2 (auto: clip=true, vae=false, offload=false, fa=false)"
        );
        assert!(!describe(&f, &f, None).contains("batchSize"));
    }
}
