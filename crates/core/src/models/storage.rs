//! Model metadata on disk, as genai-electron keeps it: `models/<type>/<id>.json` (2-space JSON,
//! same keys in the same order, unknown keys kept) beside the model files. A corrupt metadata
//! file is skipped by listings, never fatal. Writes are atomic (temp file + rename).
//!
//! Every id is checked (`naming::check_model_id`) before it becomes a path, a metadata file
//! counts only when its `id` and `type` are those of its name and folder, and nothing a model
//! names is deleted unless it lies inside `models/<type>/` (`files::entry_inside`).

use super::info::{Layout, ModelInfo, ModelType};
use super::naming::check_model_id;
use crate::jsjson::stringify_pretty;
use crate::paths::Paths;
use crate::{Error, ErrorCode, Result};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Storage {
    pub paths: Paths,
    initialized: AtomicBool,
}

fn fs_error(message: String, path: &Path, err: &std::io::Error) -> Error {
    Error::file_system(message, path, err)
}

fn outside(type_dir: &Path, path: &Path, id: &str) -> Error {
    Error::new(
        ErrorCode::FileSystem,
        format!(
            "Path is outside the models folder {}: {}",
            type_dir.display(),
            path.display()
        ),
        Some(json!({
            "path": path.to_string_lossy(),
            "modelId": id,
            "folder": type_dir.to_string_lossy(),
            "suggestion": "A model's files must lie inside its type folder; remove the metadata file by hand if it was not written by this package",
        })),
    )
}

impl Storage {
    pub fn new(paths: Paths) -> Self {
        Storage {
            paths,
            initialized: AtomicBool::new(false),
        }
    }

    pub fn type_dir(&self, model_type: ModelType) -> &Path {
        match model_type {
            ModelType::Llm => &self.paths.models.llm,
            ModelType::Diffusion => &self.paths.models.diffusion,
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

    /// `<type>/<id>.json`: the one place this path is made, for a valid id only.
    pub fn metadata_path(&self, model_type: ModelType, id: &str) -> Result<PathBuf> {
        check_model_id(id)?;
        Ok(self.type_dir(model_type).join(format!("{id}.json")))
    }

    /// `<type>/<name>/`, the folder of a sharded or multi-component model (`name` is an id or a
    /// model directory slug); refused when it resolves outside the type folder (a symlink).
    pub fn model_folder(&self, model_type: ModelType, name: &str) -> Result<PathBuf> {
        check_model_id(name)?;
        let type_dir = self.type_dir(model_type);
        let dir = type_dir.join(name);
        // A file in it, so that the folder itself is resolved too.
        if crate::files::entry_inside(type_dir, &dir.join("_")) {
            return Ok(dir);
        }
        Err(outside(type_dir, &dir, name))
    }

    /// A file a model names must lie inside `models/<type>/` (folders resolved, symlinks
    /// followed) before it is written or deleted.
    pub fn check_inside(&self, model_type: ModelType, path: &Path, id: &str) -> Result<()> {
        let type_dir = self.type_dir(model_type);
        if crate::files::entry_inside(type_dir, path) {
            return Ok(());
        }
        Err(outside(type_dir, path, id))
    }

    /// Writes `<type>/<id>.json` atomically.
    pub fn save(&self, info: &ModelInfo) -> Result<()> {
        let id = &info.id;
        let path = self.metadata_path(info.model_type, id)?;
        let text = stringify_pretty(&info.to_value());
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

    /// `<type>/<id>.json`, which must hold that id and type (a file copied or edited to claim
    /// another model's id would make a delete remove that model's files).
    pub fn load(&self, model_type: ModelType, id: &str) -> Result<ModelInfo> {
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
        let info = serde_json::from_str::<ModelInfo>(&text).map_err(|e| {
            Error::new(
                ErrorCode::FileSystem,
                format!("Failed to load model metadata: {id}"),
                Some(json!({ "path": path.to_string_lossy(), "error": e.to_string() })),
            )
        })?;
        if info.id != id || info.model_type != model_type {
            return Err(Error::new(
                ErrorCode::FileSystem,
                format!(
                    "Model metadata does not match its file: {} holds id {} of type {}",
                    path.display(),
                    serde_json::to_string(&info.id).unwrap_or_default(),
                    info.model_type.as_str()
                ),
                Some(
                    json!({ "path": path.to_string_lossy(), "modelId": id, "foundId": info.id, "foundType": info.model_type.as_str() }),
                ),
            ));
        }
        Ok(info)
    }

    /// Ids of the metadata files of a type, in byte order (`listModelFiles`); a file whose name
    /// is no valid id is left out.
    pub fn list_ids(&self, model_type: ModelType) -> Result<Vec<String>> {
        let dir = self.type_dir(model_type);
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
                    .filter(|id| super::naming::id_problem(id).is_none())
                    .map(str::to_string)
            })
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Every loadable model of the given type (or all types, llm first); corrupt files skipped.
    pub fn list(&self, model_type: Option<ModelType>) -> Result<Vec<ModelInfo>> {
        let types: Vec<ModelType> = model_type.map_or(ModelType::ALL.to_vec(), |t| vec![t]);
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
            .find(|m| m.id == id)
            .ok_or_else(|| Error::model_not_found(id))
    }

    /// `deleteModelFiles`: the model's files, its now-empty folder, then its metadata. A file
    /// that another model of the same type names is kept (upstream does so for components), and
    /// every file is checked to lie inside `models/<type>/` before any is deleted.
    pub fn delete_files(&self, model_type: ModelType, id: &str) -> Result<()> {
        let meta = self.load(model_type, id)?;
        let meta_path = self.metadata_path(model_type, id)?;
        let layout = meta.layout();
        let kept = self.files_of_others(model_type, id)?;
        let mut doomed = Vec::new();
        for file in meta.files() {
            let path = Path::new(&file.path);
            if std::fs::symlink_metadata(path).is_err() {
                continue; // nothing there (or nothing this process may see)
            }
            self.check_inside(model_type, path, id)?;
            if !crate::files::resolved_entry(path).is_some_and(|e| kept.contains(&e)) {
                doomed.push(file.path);
            }
        }
        for path in doomed {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(fs_error(
                        format!("Failed to delete {}: {}", layout.file_noun(), path),
                        Path::new(&path),
                        &e,
                    ));
                }
                _ => {}
            }
        }
        if layout != Layout::Single {
            let dir = Path::new(&meta.path).parent();
            if let Some(dir) =
                dir.filter(|d| crate::files::entry_inside(self.type_dir(model_type), d))
            {
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

    /// What a delete of `id` must keep (resolved): every metadata file of the type, its own
    /// included (it goes last), and every file another model of the type names.
    fn files_of_others(&self, model_type: ModelType, id: &str) -> Result<HashSet<PathBuf>> {
        let mut paths: Vec<PathBuf> = Vec::new();
        for other in self.list_ids(model_type)? {
            paths.push(self.metadata_path(model_type, &other)?);
            if other == id {
                continue;
            }
            if let Ok(m) = self.load(model_type, &other) {
                paths.extend(m.files().into_iter().map(|f| PathBuf::from(f.path)));
                paths.push(PathBuf::from(m.path));
            }
        }
        Ok(paths
            .iter()
            .filter_map(|p| crate::files::resolved_entry(p))
            .collect())
    }

    /// `verifyModelIntegrity`: false when no checksum is stored; ChecksumError on a mismatch.
    pub fn verify(&self, model_type: ModelType, id: &str) -> Result<bool> {
        let meta = self.load(model_type, id)?;
        let layout = meta.layout();
        let files = meta.files();
        if layout == Layout::Single && files.first().is_none_or(|f| f.checksum.is_none()) {
            return Ok(false); // a single file without a stored checksum: nothing to verify
        }
        let mut any = false;
        for file in files {
            let path = &file.path;
            if !Path::new(path).exists() {
                let message = match (&file.role, layout) {
                    (Some(r), _) => format!("Component file not found ({r}): {path}"),
                    (None, Layout::Shards) => format!("Shard file not found: {path}"),
                    (None, _) => format!("Model file not found: {path}"),
                };
                return Err(Error::new(
                    ErrorCode::FileSystem,
                    message,
                    Some(json!({ "path": path, "modelId": id })),
                ));
            }
            let Some(expected) = file.checksum else {
                continue;
            };
            any = true;
            let actual = crate::files::sha256_file(Path::new(path))?;
            let expected = expected
                .strip_prefix("sha256:")
                .unwrap_or(&expected)
                .to_ascii_lowercase();
            if actual != expected {
                let message = match (&file.role, layout) {
                    (Some(r), _) => format!("SHA256 checksum mismatch for component: {r}"),
                    (None, Layout::Shards) => format!("SHA256 checksum mismatch for shard: {path}"),
                    (None, _) => "SHA256 checksum mismatch".to_string(),
                };
                let details = json!({ "expected": expected, "actual": actual, "suggestion": "The downloaded file may be corrupted. Try downloading again." });
                return Err(Error::new(ErrorCode::Checksum, message, Some(details)));
            }
        }
        Ok(any)
    }

    /// Sum of stored sizes, each file counted once even when models share it.
    pub fn storage_used(&self, model_type: Option<ModelType>) -> Result<f64> {
        let mut sizes: HashMap<String, u64> = HashMap::new();
        for m in self.list(model_type)? {
            for file in m.files() {
                sizes.insert(file.path, file.size);
            }
        }
        Ok(sizes.values().sum::<u64>() as f64)
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
