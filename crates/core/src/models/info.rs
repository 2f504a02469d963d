//! `ModelInfo` and its parts as types. Field order is the key order genai-electron writes, so a
//! file it wrote re-saves byte for byte; keys this version does not know are kept (`extra`) at
//! every level, so nothing in a file written by a newer genai-electron is lost.

use crate::{Error, ErrorCode, Result};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// `ModelType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelType {
    #[default]
    Llm,
    Diffusion,
}

impl ModelType {
    /// Listings go through the types in this order (llm first).
    pub const ALL: [ModelType; 2] = [ModelType::Llm, ModelType::Diffusion];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelType::Llm => "llm",
            ModelType::Diffusion => "diffusion",
        }
    }

    /// A type named by a caller; anything else is genai-electron's "Unknown model type".
    pub fn parse(name: &str) -> Result<ModelType> {
        match name {
            "llm" => Ok(ModelType::Llm),
            "diffusion" => Ok(ModelType::Diffusion),
            other => Err(Error::new(
                ErrorCode::FileSystem,
                format!("Unknown model type: {other}"),
                Some(json!({ "type": other })),
            )),
        }
    }
}

/// `ModelSource`: `{ type, url }` or, from Hugging Face, with `repo`, `file`, `revision`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelSource {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `ArtifactProvenance`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    #[serde(default)]
    pub license: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_checked_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `ShardInfo`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ShardInfo {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `DiffusionComponentInfo`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ComponentInfo {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<ModelSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `ModelInfo`. `ggufMetadata` stays an open object: upstream's `GGUFMetadata` holds `raw`
/// values of any GGUF type.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type")]
    pub model_type: ModelType,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub downloaded_at: String,
    #[serde(default)]
    pub source: ModelSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_reasoning: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gguf_metadata: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shards: Option<Vec<ShardInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<IndexMap<String, ComponentInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One file a model owns.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFile {
    pub path: String,
    pub size: u64,
    pub checksum: Option<String>,
    /// The component role, for a multi-component model.
    pub role: Option<String>,
}

/// How a model's files are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Single,
    Shards,
    Components,
}

impl Layout {
    /// What one of its files is called in messages.
    pub fn file_noun(self) -> &'static str {
        match self {
            Layout::Single => "model file",
            Layout::Shards => "shard file",
            Layout::Components => "component file",
        }
    }
}

fn non_empty(checksum: &Option<String>) -> Option<String> {
    checksum.clone().filter(|c| !c.is_empty())
}

impl ModelInfo {
    /// A JS object or JSON text → `ModelInfo`; what does not fit is a FileSystemError.
    pub fn from_value(value: Value) -> Result<ModelInfo> {
        serde_json::from_value(value).map_err(|e| {
            Error::new(
                ErrorCode::FileSystem,
                format!("Invalid model metadata: {e}"),
                None,
            )
        })
    }

    /// The JSON object (what JS sees and what is written to disk).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| Value::Object(Map::new()))
    }

    pub fn layout(&self) -> Layout {
        if self.components.is_some() {
            Layout::Components
        } else if self.shards.as_ref().is_some_and(|s| !s.is_empty()) {
            Layout::Shards
        } else {
            Layout::Single
        }
    }

    /// Every file the model owns: its components, else its shards, else its single file.
    pub fn files(&self) -> Vec<ModelFile> {
        match self.layout() {
            Layout::Components => self
                .components
                .iter()
                .flatten()
                .map(|(role, c)| ModelFile {
                    path: c.path.clone(),
                    size: c.size,
                    checksum: non_empty(&c.checksum),
                    role: Some(role.clone()),
                })
                .collect(),
            Layout::Shards => self
                .shards
                .iter()
                .flatten()
                .map(|s| ModelFile {
                    path: s.path.clone(),
                    size: s.size,
                    checksum: non_empty(&s.checksum),
                    role: None,
                })
                .collect(),
            Layout::Single => vec![ModelFile {
                path: self.path.clone(),
                size: self.size,
                checksum: non_empty(&self.checksum),
                role: None,
            }],
        }
    }

    /// `getModelArchitecture`: the GGUF architecture, else the default for the type.
    pub fn architecture(&self) -> String {
        let meta = self
            .gguf_metadata
            .as_ref()
            .and_then(|g| g.get("architecture"))
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty());
        match (meta, self.model_type) {
            (Some(a), _) => a.to_string(),
            (None, ModelType::Llm) => "llama".into(),
            (None, ModelType::Diffusion) => "stable-diffusion".into(),
        }
    }

    /// The view sizing reads (`getModelLayerCount`, `getModelContextLength`, memory estimates).
    pub fn sizing_view(&self) -> crate::system::ModelView {
        crate::system::ModelView::from_json(&self.to_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_kept_at_every_level_and_key_order_is_upstreams() {
        let text = r#"{"id":"a","name":"A","type":"diffusion","size":7,"path":"/m/a.gguf","downloadedAt":"t","source":{"type":"url","url":"u","mirror":"m"},"components":{"vae":{"path":"/m/v","size":3,"future":1}},"provenance":{"license":"mit","x":true},"customTag":"kept"}"#;
        let v: Value = serde_json::from_str(text).unwrap();
        let m = ModelInfo::from_value(v.clone()).unwrap();
        assert_eq!(m.model_type, ModelType::Diffusion);
        assert_eq!(m.extra["customTag"], "kept");
        assert_eq!(m.to_value(), v);
        assert_eq!(serde_json::to_string(&m).unwrap(), text);
        assert_eq!(m.layout(), Layout::Components);
        assert_eq!(m.files()[0].role.as_deref(), Some("vae"));
        assert_eq!(m.architecture(), "stable-diffusion");
    }

    #[test]
    fn bad_type_is_a_typed_error() {
        let e = ModelInfo::from_value(json!({ "id": "x", "type": "video" })).unwrap_err();
        assert_eq!(e.code, ErrorCode::FileSystem);
        assert!(e.message.starts_with("Invalid model metadata"));
        assert_eq!(
            ModelType::parse("video").unwrap_err().message,
            "Unknown model type: video"
        );
    }
}
