//! Models on disk: genai-electron-compatible metadata storage, downloads, GGUF metadata.

pub mod info;
pub mod manager;
pub mod naming;
pub mod storage;

pub use info::{
    ComponentInfo, ModelFile, ModelInfo, ModelSource, ModelType, Provenance, ShardInfo,
};
pub use manager::{Callbacks, ComponentConfig, DownloadConfig, ModelManager, SourceSpec};
pub use storage::Storage;
