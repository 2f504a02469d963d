//! Image generation with stable-diffusion.cpp: the types and constants genai-electron exports,
//! `DiffusionServerConfig`, and the parts the `diffusionServer` supervisor is made of.
//!
//! - `types`, `constants`, `config`: upstream's shapes and values.
//! - `progress`: sd.cpp's stdout lines as events (bars, stage markers); `tracker`: those events
//!   as upstream's progress reports (stages, percentage, batch); `png`: a PNG's size.

pub mod config;
pub mod constants;
pub mod png;
pub mod progress;
pub mod tracker;
pub mod types;

pub use config::DiffusionServerConfig;
pub use types::*;
