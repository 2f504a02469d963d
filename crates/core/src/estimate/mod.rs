//! Memory estimates from the model itself: the GGUF tensor table and hyper-parameters, placed
//! as llama.cpp and stable-diffusion.cpp place them, with compute buffers from formulas fitted to
//! what the real programs report (see `llm.rs` and `diffusion.rs`). Upstream's `size × 1.2` is
//! the fallback when the metadata is missing ([`Basis::FileSize`]).

pub mod diffusion;
pub mod ggml;
pub mod llm;

pub use diffusion::{estimate_diffusion, DiffusionEstimate};
pub use llm::{estimate_llm, estimate_llm_upstream, LlmEstimate, LlmPlan};

use crate::gguf::Header;

/// Bytes in system RAM and in GPU memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub ram: u64,
    pub vram: u64,
}

impl Usage {
    pub fn on(gpu: bool, bytes: u64) -> Self {
        if gpu {
            Usage {
                ram: 0,
                vram: bytes,
            }
        } else {
            Usage {
                ram: bytes,
                vram: 0,
            }
        }
    }

    pub fn sum(self) -> u64 {
        self.ram.saturating_add(self.vram)
    }
}

impl std::ops::Add for Usage {
    type Output = Usage;
    fn add(self, o: Usage) -> Usage {
        Usage {
            ram: self.ram.saturating_add(o.ram),
            vram: self.vram.saturating_add(o.vram),
        }
    }
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        *self = *self + o;
    }
}

/// What an estimate was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The GGUF tensor table and hyper-parameters.
    Tensors,
    /// Upstream's `size × 1.2` (the metadata was missing or unusable).
    FileSize,
}

/// Upstream's overhead factor on the file size.
pub const FILE_SIZE_FACTOR: f64 = 1.2;

/// `file_size × 1.2`, rounded.
pub fn file_size_usage(file_size: u64) -> u64 {
    (file_size as f64 * FILE_SIZE_FACTOR).round() as u64
}

/// The bytes of every tensor, by name; `None` when a tensor's type is unknown (or there are none).
pub(crate) fn tensor_sizes(h: &Header) -> Option<Vec<(&str, u64)>> {
    if h.tensors.is_empty() {
        return None;
    }
    h.tensors
        .iter()
        .map(|t| ggml::tensor_bytes(t).map(|b| (t.name.as_str(), b)))
        .collect()
}

/// A numeric metadata value.
pub(crate) fn meta_num(h: &Header, key: &str) -> Option<f64> {
    h.get(key)
        .and_then(crate::gguf::Value::as_f64)
        .filter(|v| v.is_finite())
}

/// `<general.architecture>.<path>` as a number.
pub(crate) fn arch_num(h: &Header, path: &str) -> Option<f64> {
    let arch = h.get("general.architecture")?.as_str()?;
    meta_num(h, &format!("{arch}.{path}"))
}

#[cfg(test)]
pub(crate) mod fixtures;
