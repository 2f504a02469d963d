//! Image generation with stable-diffusion.cpp: the types and constants genai-electron exports,
//! `DiffusionServerConfig`, and the parts the `diffusionServer` supervisor is made of.
//!
//! - `types`, `constants`, `config`: upstream's shapes and values.

pub mod config;
pub mod constants;
pub mod types;

pub use config::DiffusionServerConfig;
pub use types::*;
