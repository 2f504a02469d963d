//! Models on disk: genai-electron-compatible metadata storage, downloads, GGUF metadata.

pub mod info;
pub mod manager;
mod multi;
pub mod naming;
mod refresh;
pub mod source;
pub mod storage;

pub use info::{
    ComponentInfo, ModelFile, ModelInfo, ModelSource, ModelType, Provenance, ShardInfo,
};
pub use manager::{Callbacks, ComponentConfig, DownloadConfig, ModelManager};
pub use source::SourceSpec;
pub use storage::Storage;
