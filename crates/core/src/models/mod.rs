//! Models on disk: genai-electron-compatible metadata storage, downloads, GGUF metadata.

pub mod manager;
pub mod naming;
pub mod storage;

pub use manager::{Callbacks, ComponentConfig, DownloadConfig, ModelManager, SourceSpec};
pub use storage::{ModelInfo, Storage};
