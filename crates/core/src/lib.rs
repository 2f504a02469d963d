//! genai-electron-rs core: everything genai-electron does, as a plain Rust library with no
//! Node dependency. The napi binding (repository root) only converts values and forwards calls.

pub mod archive;
pub mod binaries;
pub mod callback;
pub mod clock;
pub mod defaults;
pub mod diffusion;
pub mod diffusion_server;
pub mod download;
pub mod error;
pub mod estimate;
pub mod files;
pub mod gguf;
pub mod health;
pub mod hf;
pub mod http;
pub mod ids;
pub mod jsjson;
pub mod jsnum;
pub mod llama;
pub mod llama_server;
pub mod logs;
pub mod models;
pub mod orchestrator;
pub mod paths;
pub mod platform;
pub mod process;
pub mod reasoning;
pub mod system;

pub use error::{Error, ErrorCode, Result};
