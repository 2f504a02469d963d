//! Image generation with stable-diffusion.cpp: the types and constants genai-electron exports,
//! `DiffusionServerConfig`, and the parts the `diffusionServer` supervisor is made of.
//!
//! - `types`, `constants`, `config`: upstream's shapes and values.
//! - `args`: sd-server's argv (model, optimisation and server flags, in the binary's dialect).
//! - `optimizations`: which parts go to the CPU (VRAM rules, configuration, overrides).
//! - `backend`: one sd-server child (spawn, readiness, tails, stop, pid record).
//! - `client`: the typed `/sdcpp/v1` client and the job image decoding.

pub mod args;
pub mod backend;
pub mod client;
pub mod config;
pub mod constants;
pub mod optimizations;
pub mod types;

pub use config::DiffusionServerConfig;
pub use types::*;
