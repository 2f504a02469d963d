//! Image generation with stable-diffusion.cpp: the types and constants genai-electron exports,
//! `DiffusionServerConfig`, and the parts the `diffusionServer` supervisor is made of.
//!
//! - `types`, `constants`, `config`: upstream's shapes and values.
//! - `progress`: sd.cpp's stdout lines as events (bars, stage markers); `tracker`: those events
//!   as upstream's progress reports (stages, percentage, batch); `png`: a PNG's size.
//! - `request`: an `ImageGenerationConfig` checked into an `ImageRequest` (front and JS).
//! - `registry`: the HTTP generations and their TTL (`GenerationRegistry`).
//! - `front`: the loopback HTTP API (hyper).
//! - `args`: sd-server's argv (model, optimisation and server flags, in the binary's dialect).
//! - `optimizations`: which parts go to the CPU (VRAM rules, configuration, overrides).
//! - `backend`: one sd-server child (spawn, readiness, tails, stop, pid record).
//! - `client`: the typed `/sdcpp/v1` client and the job image decoding.

pub mod args;
pub mod backend;
pub mod client;
pub mod config;
pub mod constants;
pub mod front;
pub mod optimizations;
pub mod png;
pub mod progress;
pub mod registry;
pub mod request;
pub mod tracker;
pub mod types;

pub use config::DiffusionServerConfig;
pub use types::*;
