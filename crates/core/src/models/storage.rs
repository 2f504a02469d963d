//! Model metadata on disk, as genai-electron keeps it: `models/<type>/<id>.json` (2-space JSON,
//! same keys in the same order, unknown keys kept) beside the model files. A corrupt metadata
//! file is skipped by listings, never fatal. Writes are atomic (temp file + rename).

use crate::jsjson::stringify_pretty;
use crate::paths::Paths;
use crate::{Error, ErrorCode, Result};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

pub type ModelInfo = Map<String, Value>;

pub const MODEL_TYPES: [&str; 2] = ["llm", "diffusion"];

pub struct Storage {
    pub paths: Paths,
    initialized: AtomicBool,
}

pub fn str_field<'a>(m: &'a ModelInfo, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

/// `(path, size, checksum)` of every file a model owns: its components, else its shards, else
/// its single file.
pub fn model_files(m: &ModelInfo) -> Vec<(String, Option<f64>, Option<String>)> {
    let entry = |v: &Value| {
        Some((
            v.get("path")?.as_str()?.to_string(),
            v.get("size").and_then(Value::as_f64),
            v.get("checksum")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(str::to_string),
        ))
    };
    if let Some(components) = m
        .get("components")
        .filter(|c| !c.is_null() && *c != &Value::Bool(false))
    {
        return components
            .as_object()
            .map(|c| c.values().filter_map(entry).collect())
            .unwrap_or_default();
    }
    if let Some(shards) = m
        .get("shards")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())
    {
        return shards.iter().filter_map(entry).collect();
    }
    entry(&Value::Object(m.clone())).into_iter().collect()
}

fn fs_error(message: String, path: &Path, err: &std::io::Error) -> Error {
    Error::file_system(message, path, err)
}

impl Storage {
    pub fn new(paths: Paths) -> Self {
        Storage {
            paths,
            initialized: AtomicBool::new(false),
        }
    }

    pub fn type_dir(&self, model_type: &str) -> Result<&Path> {
        match model_type {
            "llm" => Ok(&self.paths.models.llm),
            "diffusion" => Ok(&self.paths.models.diffusion),
            other => Err(Error::new(
                ErrorCode::FileSystem,
                format!("Unknown model type: {other}"),
                Some(json!({ "type": other })),
            )),
        }
    }

    /// Creates the data folders once (`initialize`).
    pub fn initialize(&self) -> Result<()> {
        if self.initialized.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.paths.ensure_directories().map_err(|e| {
            Error::new(
                ErrorCode::FileSystem,
                "Failed to initialize storage directories",
                Some(json!({ "error": e.to_json() })),
            )
        })?;
        self.initialized.store(true, Ordering::SeqCst);
        Ok(())
    }

    pub fn reset_initialization(&self) {
        self.initialized.store(false, Ordering::SeqCst);
    }

    pub fn metadata_path(&self, model_type: &str, id: &str) -> Result<PathBuf> {
        Ok(self.type_dir(model_type)?.join(format!("{id}.json")))
    }

    /// Writes `<type>/<id>.json` atomically.
    pub fn save(&self, info: &ModelInfo) -> Result<()> {
        let id = str_field(info, "id").unwrap_or_default();
        let path = self.metadata_path(str_field(info, "type").unwrap_or_default(), id)?;
        let text = stringify_pretty(&Value::Object(info.clone()));
        let tmp = path.with_extension(format!("json.tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&tmp, text.as_bytes())?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            fs_error(format!("Failed to save model metadata: {id}"), &path, &e)
        })
    }

    pub fn load(&self, model_type: &str, id: &str) -> Result<ModelInfo> {
        let path = self.metadata_path(model_type, id)?;
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::new(
                    ErrorCode::FileSystem,
                    format!("Model metadata not found: {id}"),
                    Some(json!({ "path": path.to_string_lossy(), "modelId": id })),
                ));
            }
            Err(e) => {
                return Err(fs_error(
                    format!("Failed to load model metadata: {id}"),
                    &path,
                    &e,
                ))
            }
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) | Err(_) => Err(Error::new(
                ErrorCode::FileSystem,
                format!("Failed to load model metadata: {id}"),
                Some(json!({ "path": path.to_string_lossy(), "error": "not a JSON object" })),
            )),
        }
    }

    /// Ids of the metadata files of a type, in byte order (`listModelFiles`).
    pub fn list_ids(&self, model_type: &str) -> Result<Vec<String>> {
        let dir = self.type_dir(model_type)?;
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(fs_error(
                    format!("Failed to list model files in {}", dir.display()),
                    dir,
                    &e,
                ))
            }
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::to_string)
            })
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Every loadable model of the given type (or all types, llm first); corrupt files skipped.
    pub fn list(&self, model_type: Option<&str>) -> Result<Vec<ModelInfo>> {
        let types: Vec<&str> = model_type.map_or(MODEL_TYPES.to_vec(), |t| vec![t]);
        let mut out = Vec::new();
        for t in types {
            for id in self.list_ids(t)? {
                if let Ok(m) = self.load(t, &id) {
                    out.push(m);
                }
            }
        }
        Ok(out)
    }

    pub fn find(&self, id: &str) -> Result<ModelInfo> {
        self.list(None)?
            .into_iter()
            .find(|m| str_field(m, "id") == Some(id))
            .ok_or_else(|| Error::model_not_found(id))
    }

    /// `deleteModelFiles`: the model's files (component files shared with another model of the
    /// same type are kept), its now-empty folder, then its metadata.
    pub fn delete_files(&self, model_type: &str, id: &str) -> Result<()> {
        let meta = self.load(model_type, id)?;
        let meta_path = self.metadata_path(model_type, id)?;
        let has_components = meta
            .get("components")
            .is_some_and(|c| !c.is_null() && *c != Value::Bool(false));
        let has_shards = meta
            .get("shards")
            .and_then(Value::as_array)
            .is_some_and(|s| !s.is_empty());
        let shared: HashSet<String> = if has_components {
            self.list_ids(model_type)?
                .iter()
                .filter(|other| *other != id)
                .filter_map(|other| self.load(model_type, other).ok())
                .filter(|m| m.get("components").is_some_and(|c| c.is_object()))
                .flat_map(|m| {
                    let mut paths: Vec<String> = model_files(&m).into_iter().map(|f| f.0).collect();
                    paths.extend(str_field(&m, "path").map(str::to_string));
                    paths
                })
                .collect()
        } else {
            HashSet::new()
        };
        let what = if has_components {
            "component file"
        } else if has_shards {
            "shard file"
        } else {
            "model file"
        };
        for (path, _, _) in model_files(&meta) {
            if shared.contains(&path) {
                continue;
            }
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(fs_error(
                        format!("Failed to delete {what}: {path}"),
                        Path::new(&path),
                        &e,
                    ));
                }
                _ => {}
            }
        }
        if has_components || has_shards {
            if let Some(dir) = str_field(&meta, "path").and_then(|p| Path::new(p).parent()) {
                let _ = std::fs::remove_dir(dir); // only when empty
            }
        }
        std::fs::remove_file(&meta_path).map_err(|e| {
            fs_error(
                format!("Failed to delete metadata file: {}", meta_path.display()),
                &meta_path,
                &e,
            )
        })
    }

    /// `verifyModelIntegrity`: false when no checksum is stored; ChecksumError on a mismatch.
    pub fn verify(&self, model_type: &str, id: &str) -> Result<bool> {
        let meta = self.load(model_type, id)?;
        let components = meta.get("components").and_then(Value::as_object);
        let sharded = meta
            .get("shards")
            .and_then(Value::as_array)
            .is_some_and(|s| !s.is_empty());
        let roles: Vec<&String> = components.map(|c| c.keys().collect()).unwrap_or_default();
        let files = model_files(&meta);
        if components.is_none() && !sharded && files.first().is_none_or(|f| f.2.is_none()) {
            return Ok(false); // a single file without a stored checksum: nothing to verify
        }
        let mut any = false;
        for (i, (path, _, checksum)) in files.into_iter().enumerate() {
            let role = roles.get(i);
            if !Path::new(&path).exists() {
                let message = match role {
                    Some(r) => format!("Component file not found ({r}): {path}"),
                    None if sharded => format!("Shard file not found: {path}"),
                    None => format!("Model file not found: {path}"),
                };
                return Err(Error::new(
                    ErrorCode::FileSystem,
                    message,
                    Some(json!({ "path": path, "modelId": id })),
                ));
            }
            let Some(expected) = checksum else { continue };
            any = true;
            let actual = crate::files::sha256_file(Path::new(&path))?;
            let expected = expected
                .strip_prefix("sha256:")
                .unwrap_or(&expected)
                .to_ascii_lowercase();
            if actual != expected {
                let message = match role {
                    Some(r) => format!("SHA256 checksum mismatch for component: {r}"),
                    None if sharded => format!("SHA256 checksum mismatch for shard: {path}"),
                    None => "SHA256 checksum mismatch".to_string(),
                };
                let details = json!({ "expected": expected, "actual": actual, "suggestion": "The downloaded file may be corrupted. Try downloading again." });
                return Err(Error::new(ErrorCode::Checksum, message, Some(details)));
            }
        }
        Ok(any)
    }

    /// Sum of stored sizes, each file counted once even when models share it.
    pub fn storage_used(&self, model_type: Option<&str>) -> Result<f64> {
        let mut sizes: HashMap<String, f64> = HashMap::new();
        for m in self.list(model_type)? {
            for (path, size, _) in model_files(&m) {
                sizes.insert(path, size.unwrap_or(0.0));
            }
        }
        Ok(sizes.values().sum())
    }

    /// Bytes free on the disk that holds the models (genai-electron always answers
    /// `Number.MAX_SAFE_INTEGER`; that is still the answer when the disk cannot be read).
    pub fn check_disk_space(&self) -> f64 {
        let dir = self
            .paths
            .models
            .llm
            .ancestors()
            .find(|p| p.exists())
            .map(Path::to_path_buf);
        dir.and_then(|d| crate::files::free_space(&d))
            .map_or(9_007_199_254_740_991.0, |n| n as f64)
    }
}
