//! Diffusion memory as stable-diffusion.cpp allocates it: every tensor of the model file
//! (`total params memory size`) plus the largest of the per-stage compute buffers (each stage's
//! buffer is freed after the stage), which grow with the image size.

use super::{file_size_usage, tensor_sizes, Basis, Usage};
use crate::diffusion::BackendFlags;
use crate::gguf::Header;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffusionEstimate {
    pub params: Usage,
    pub compute: Usage,
    pub total: Usage,
    pub basis: Basis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    TextEncoder,
    Unet,
    /// The tiny autoencoder (`tae.*`), as SDXS ships it.
    Taesd,
    Vae,
}

/// The component a tensor belongs to, by sd.cpp's name prefixes.
fn part(name: &str) -> Part {
    let te = ["cond_stage_model.", "text_encoders.", "te.", "conditioner."];
    if te.iter().any(|p| name.starts_with(p)) {
        Part::TextEncoder
    } else if name.starts_with("tae.") || name.starts_with("taesd.") {
        Part::Taesd
    } else if name.starts_with("first_stage_model.") || name.starts_with("vae.") {
        Part::Vae
    } else {
        Part::Unet
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// Compute buffers of each stage, fitted to sd-server 0.4.7 (CPU) with the SDXS test model
/// (`ggml_extend.hpp: <stage> compute buffer size`, 1 step, prompt "a cat"):
///
/// | image   | clip    | unet     | taesd     |
/// |---------|---------|----------|-----------|
/// | 64×64   | 1.42 MB | 4.15 MB  | 7.50 MB   |
/// | 128×128 | 1.42 MB | 8.65 MB  | 30.00 MB  |
/// | 256×256 | 1.42 MB | 30.69 MB | 120.02 MB |
///
/// (sd.cpp's MB are MiB.) With n = latent pixels (W/8 · H/8):
/// - unet: `2.74 MiB + 0.02168 MiB·n + 5.48e-6 MiB·n²` (the n² term is self-attention's
///   scores; flash attention does not hold them, so it is dropped with `diffusion_flash_attention`);
/// - taesd: 1920 bytes per image pixel (exactly linear);
/// - full VAE (`first_stage_model.*`, not in the test model, so not measured here):
///   6656 bytes per pixel, the 1664 MiB sd.cpp reports for SD 1.x at 512×512;
/// - text encoder: fixed by the 77-token prompt; 1.42 MiB for 66.6 MiB of CLIP-L weights,
///   scaled by the encoder's weights.
fn stage_compute(part: Part, part_bytes: u64, width: u32, height: u32, fa: bool) -> u64 {
    let pixels = f64::from(width) * f64::from(height);
    let n = pixels / 64.0;
    let mib = match part {
        Part::TextEncoder => 1.42 * part_bytes as f64 / (66.61 * MIB),
        Part::Unet => 2.74 + 0.02168 * n + if fa { 0.0 } else { 5.48e-6 * n * n },
        Part::Taesd => 1920.0 * pixels / MIB,
        Part::Vae => 6656.0 * pixels / MIB,
    };
    (mib * MIB).round() as u64
}

/// Whether sd.cpp keeps a component's weights (and runs it) on the GPU.
fn part_on_gpu(part: Part, flags: &BackendFlags, on_gpu: bool) -> bool {
    on_gpu
        && match part {
            Part::TextEncoder => !flags.clip_on_cpu,
            Part::Vae | Part::Taesd => !flags.vae_on_cpu,
            Part::Unet => true,
        }
}

/// The estimate of what sd.cpp allocates for this model at `width × height`. Without a
/// usable tensor table: upstream's `size × 1.2` (in RAM and in VRAM, as upstream counts it).
pub fn estimate_diffusion(
    header: Option<&Header>,
    file_size: u64,
    width: u32,
    height: u32,
    flags: &BackendFlags,
    on_gpu: bool,
) -> DiffusionEstimate {
    let Some(sizes) = header.and_then(tensor_sizes) else {
        let usage = file_size_usage(file_size);
        let params = Usage {
            ram: usage,
            vram: usage,
        };
        return DiffusionEstimate {
            params,
            compute: Usage::default(),
            total: params,
            basis: Basis::FileSize,
        };
    };
    let mut per_part: Vec<(Part, u64)> = Vec::new();
    for (name, bytes) in sizes {
        let p = part(name);
        match per_part.iter_mut().find(|(q, _)| *q == p) {
            Some(e) => e.1 += bytes,
            None => per_part.push((p, bytes)),
        }
    }
    let mut params = Usage::default();
    let mut compute = Usage::default();
    for (p, bytes) in &per_part {
        let gpu = part_on_gpu(*p, flags, on_gpu);
        // --offload-to-cpu: weights live in RAM and visit the GPU one stage at a time.
        if gpu && flags.offload_to_cpu {
            params.ram += bytes;
            params.vram = params.vram.max(*bytes);
        } else {
            params += Usage::on(gpu, *bytes);
        }
        let c = stage_compute(*p, *bytes, width, height, flags.diffusion_flash_attention);
        let c = Usage::on(gpu, c);
        compute = Usage {
            ram: compute.ram.max(c.ram),
            vram: compute.vram.max(c.vram),
        };
    }
    DiffusionEstimate {
        params,
        compute,
        total: params + compute,
        basis: Basis::Tensors,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::header;
    use super::*;

    fn sd_header() -> Header {
        header(
            &[(
                "general.architecture",
                crate::gguf::Value::String("sd".into()),
            )],
            &[
                ("cond_stage_model.transformer.w", 0, &[1024, 1024]),
                ("model.diffusion_model.w", 1, &[4096, 1024]),
                ("tae.decoder.w", 0, &[256, 64]),
            ],
        )
    }

    #[test]
    fn cpu_params_are_every_tensor_and_compute_is_the_largest_stage() {
        let h = sd_header();
        let e = estimate_diffusion(Some(&h), 1, 256, 256, &BackendFlags::default(), false);
        assert_eq!(e.basis, Basis::Tensors);
        assert_eq!(
            e.params,
            Usage {
                ram: 4 * 1024 * 1024 + 8 * 1024 * 1024 + 65536,
                vram: 0
            }
        );
        // taesd at 256×256 (120 MiB) is larger than the unet (30.7 MiB).
        assert_eq!(e.compute.ram, 120 * 1024 * 1024);
        assert_eq!(e.total.ram, e.params.ram + e.compute.ram);
    }

    #[test]
    fn gpu_placement_follows_the_flags() {
        let h = sd_header();
        let flags = BackendFlags {
            clip_on_cpu: true,
            vae_on_cpu: true,
            ..Default::default()
        };
        let e = estimate_diffusion(Some(&h), 1, 64, 64, &flags, true);
        assert_eq!(e.params.vram, 8 * 1024 * 1024);
        assert_eq!(e.params.ram, 4 * 1024 * 1024 + 65536);
        assert_eq!(e.compute.ram, 7_864_320); // taesd on the CPU, 64×64
        let off = BackendFlags {
            offload_to_cpu: true,
            ..Default::default()
        };
        let e = estimate_diffusion(Some(&h), 1, 64, 64, &off, true);
        assert_eq!(e.params.ram, 4 * 1024 * 1024 + 8 * 1024 * 1024 + 65536);
        assert_eq!(e.params.vram, 8 * 1024 * 1024);
    }

    #[test]
    fn flash_attention_drops_the_quadratic_term() {
        let h = sd_header();
        let fa = BackendFlags {
            diffusion_flash_attention: true,
            ..Default::default()
        };
        let with = stage_compute(Part::Unet, 0, 512, 512, false);
        let without = stage_compute(Part::Unet, 0, 512, 512, fa.diffusion_flash_attention);
        assert!(with > without + 80 * 1024 * 1024);
        let _ = h;
    }

    #[test]
    fn without_a_header_it_is_upstreams_size_times_1_2() {
        let e = estimate_diffusion(None, 1000, 64, 64, &BackendFlags::default(), true);
        assert_eq!(e.basis, Basis::FileSize);
        assert_eq!(
            e.total,
            Usage {
                ram: 1200,
                vram: 1200
            }
        );
    }
}
