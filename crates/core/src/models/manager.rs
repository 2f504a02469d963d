//! `ModelManager`: download (single file, GGUF shards, multi-component diffusion models), list,
//! inspect, verify, delete, and refresh GGUF metadata. The metadata JSON is written last, so a
//! model is listed only once every byte is on disk and verified.

use super::info::{ModelInfo, ModelSource, ModelType, Provenance};
use super::multi::Shards;
use super::naming::{download_file_name, download_model_id, extra_shards, model_id};
use super::source::{download_error, format_checksum, redact_error, resolve_source, SourceSpec};
use super::storage::Storage;
use crate::download::{Downloader, Expected, ProgressFn, Request};
use crate::gguf::metadata::gguf_metadata;
use crate::http::{Limits, NetError};
use crate::paths::Paths;
use crate::Result;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// `DownloadConfig` without its callbacks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadConfig {
    #[serde(flatten)]
    pub spec: SourceSpec,
    pub name: String,
    #[serde(rename = "type")]
    pub model_type: String,
    pub shard_files: Option<Vec<String>>,
    pub components: Option<Vec<ComponentConfig>>,
    pub model_directory: Option<String>,
}

impl DownloadConfig {
    /// A JS `DownloadConfig` (callbacks left out) → the typed config; what does not fit is a
    /// DownloadError.
    pub fn from_value(value: Value) -> Result<DownloadConfig> {
        serde_json::from_value(value)
            .map_err(|e| download_error(format!("Invalid download configuration: {e}"), None))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ComponentConfig {
    pub role: String,
    #[serde(flatten)]
    pub spec: SourceSpec,
}

/// `onComponentStart({ role, filename, index, total })`. Upstream calls it inside its `try`: the
/// download waits for it, and a throw ends the download (see `multi.rs`).
pub type ComponentStartFn =
    Arc<dyn Fn(&str, &str, usize, usize) -> crate::callback::Answer + Send + Sync>;

#[derive(Default, Clone)]
pub struct Callbacks {
    pub progress: Option<ProgressFn>,
    pub component_start: Option<ComponentStartFn>,
}

/// The GGUF header at `url` → ModelInfo's `ggufMetadata`, with genai-electron's error text, and
/// what the download of that URL must match.
pub(super) async fn remote_metadata(
    url: &str,
    with_tensors: bool,
    limits: &Limits,
    cancel: &CancellationToken,
) -> Result<(Map<String, Value>, Expected)> {
    match crate::gguf::remote::fetch_metadata(url, limits, cancel).await {
        Ok(p) => {
            let expected = Expected {
                size: p.total,
                content_type: p.content_type,
                gguf: true,
            };
            Ok((gguf_metadata(&p.header, with_tensors), expected))
        }
        Err(_) if cancel.is_cancelled() => Err(crate::download::cancelled(url)),
        Err(e) => {
            let inner = e.to_string();
            let mut details = json!({
                "url": url,
                "originalError": inner,
                "suggestion": "Verify the URL points to a valid GGUF file. Check network connectivity if the error persists.",
            });
            if let Some(status) = e.details.as_ref().and_then(|d| d.get("status")) {
                details["status"] = status.clone();
            }
            Err(download_error(
                format!("Failed to fetch GGUF metadata before download: {inner}"),
                Some(details),
            ))
        }
    }
}

/// The size the server announces for `url` (HEAD), 0 when it does not answer in time; only a
/// cancel is an error.
pub(super) async fn head_size(
    url: &str,
    limits: &Limits,
    cancel: &CancellationToken,
) -> Result<u64> {
    let Ok(req) = crate::http::request(reqwest::Method::HEAD, url) else {
        return Ok(0);
    };
    match crate::http::send(req, limits, cancel).await {
        Ok(resp) => Ok(resp.content_length().unwrap_or(0)),
        Err(NetError::Cancelled) => Err(crate::download::cancelled(url)),
        Err(_) => Ok(0),
    }
}

/// [`head_size`] of each URL at once.
pub(super) async fn head_sizes<'a>(
    urls: impl Iterator<Item = Option<&'a str>>,
    limits: &Limits,
    cancel: &CancellationToken,
) -> Result<Vec<u64>> {
    let probes = urls.map(|url| async move {
        match url {
            Some(url) => head_size(url, limits, cancel).await,
            None => Ok(0),
        }
    });
    futures_util::future::join_all(probes)
        .await
        .into_iter()
        .collect()
}

/// Progress over several files: (bytes of finished files + this file's bytes, sum of sizes).
pub(super) struct Aggregate {
    sizes: Mutex<Vec<u64>>,
    completed: Mutex<u64>,
    user: Option<ProgressFn>,
}

impl Aggregate {
    pub(super) fn new(sizes: Vec<u64>, user: Option<ProgressFn>) -> Arc<Self> {
        Arc::new(Aggregate {
            sizes: Mutex::new(sizes),
            completed: Mutex::new(0),
            user,
        })
    }

    pub(super) fn progress_for(self: &Arc<Self>, index: usize) -> Option<ProgressFn> {
        let agg = self.clone();
        self.user.as_ref()?;
        Some(Arc::new(move |done, item_total| {
            let total: u64 = {
                let mut sizes = agg.sizes.lock().unwrap_or_else(|p| p.into_inner());
                if sizes[index] == 0 && item_total > 0 {
                    sizes[index] = item_total;
                }
                sizes.iter().sum()
            };
            let sum = *agg.completed.lock().unwrap_or_else(|p| p.into_inner()) + done;
            if let Some(cb) = &agg.user {
                cb(sum, total.max(sum));
            }
        }))
    }

    pub(super) fn complete(&self, bytes: u64) {
        *self.completed.lock().unwrap_or_else(|p| p.into_inner()) += bytes;
    }
}

pub struct ModelManager {
    pub storage: Storage,
    pub(super) downloader: Downloader,
    /// Time limits of every request a download makes (tests shorten them).
    pub limits: Limits,
}

/// The one place a downloaded model's `ModelInfo` is made; callers add what their layout has
/// (checksum, reasoning, GGUF metadata, shards or components).
pub(super) fn new_model_info(
    cfg: &DownloadConfig,
    model_type: ModelType,
    size: u64,
    path: &Path,
    source: ModelSource,
    provenance: Option<Provenance>,
) -> ModelInfo {
    ModelInfo {
        id: model_id(&cfg.name),
        name: cfg.name.clone(),
        model_type,
        size,
        path: path.to_string_lossy().into_owned(),
        downloaded_at: crate::clock::iso_now(),
        source,
        provenance,
        ..Default::default()
    }
}

impl ModelManager {
    pub fn new(paths: Paths) -> Self {
        ModelManager {
            storage: Storage::new(paths),
            downloader: Downloader::new(),
            limits: crate::http::DEFAULT_LIMITS,
        }
    }

    pub fn cancel_download(&self) {
        self.downloader.cancel();
    }

    pub fn is_downloading(&self) -> bool {
        self.downloader.is_downloading()
    }

    pub fn delete(&self, id: &str) -> Result<()> {
        let m = self.storage.find(id)?;
        self.storage.delete_files(m.model_type, &m.id)
    }

    pub fn verify(&self, id: &str) -> Result<bool> {
        let m = self.storage.find(id)?;
        self.storage.verify(m.model_type, &m.id)
    }

    /// `downloadModel(config)`. No error reports the credentials of a URL.
    pub async fn download(&self, cfg: &DownloadConfig, callbacks: Callbacks) -> Result<ModelInfo> {
        self.download_model(cfg, callbacks)
            .await
            .map_err(redact_error)
    }

    async fn download_model(
        &self,
        cfg: &DownloadConfig,
        callbacks: Callbacks,
    ) -> Result<ModelInfo> {
        self.storage.initialize()?;
        let model_type = ModelType::parse(&cfg.model_type)?;
        let id = download_model_id(&cfg.name)?;
        let type_dir = self.storage.type_dir(model_type).to_path_buf();
        if cfg.components.as_ref().is_some_and(|c| !c.is_empty()) {
            return self.download_components(cfg, model_type, callbacks).await;
        }
        let source = resolve_source(&cfg.spec)?;
        let filename = download_file_name(&source.url, source.file())?;
        let shard_base = source.file().map_or(filename.clone(), |f| {
            f.rsplit('/').next().unwrap_or(f).to_string()
        });
        let extra = extra_shards(&shard_base, cfg.shard_files.as_deref())
            .map_err(|(m, s)| download_error(m, Some(json!({ "suggestion": s }))))?;
        self.refuse_existing_id(model_type, &id)?;
        if !extra.is_empty() {
            let shards = Shards {
                primary: &source,
                primary_name: &shard_base,
                extra: &extra,
            };
            return self
                .download_shards(cfg, model_type, shards, callbacks)
                .await;
        }
        let destination = type_dir.join(&filename);
        if destination.exists() {
            return Err(download_error(
                format!("Model file already exists: {filename}"),
                Some(json!({ "path": destination.to_string_lossy() })),
            ));
        }
        let claim = self.downloader.claim()?;
        let (gguf, expected) =
            remote_metadata(&source.url, true, &self.limits, claim.token()).await?;
        let mut req = self.request(&source.url, &destination);
        req.expected_sha256 = cfg.spec.checksum.clone().filter(|c| !c.is_empty());
        req.expected = expected;
        let outcome = claim.download(&req, callbacks.progress).await?;
        let info = ModelInfo {
            checksum: outcome.sha256.as_deref().map(format_checksum),
            supports_reasoning: Some(crate::reasoning::detect_reasoning_support(&filename)),
            gguf_metadata: Some(gguf),
            ..new_model_info(
                cfg,
                model_type,
                outcome.size,
                &destination,
                source.model_source(),
                cfg.spec.provenance.clone(),
            )
        };
        self.register(info, &[destination])
    }

    /// A download request under this manager's limits.
    pub(super) fn request(&self, url: &str, destination: &Path) -> Request {
        Request {
            limits: self.limits,
            ..Request::new(url, destination)
        }
    }

    /// Two models with one id would overwrite each other's metadata: refuse (genai-electron does
    /// so for shards and components, and silently overwrites for single files).
    pub(super) fn refuse_existing_id(&self, model_type: ModelType, id: &str) -> Result<()> {
        if self.storage.load(model_type, id).is_ok() {
            return Err(download_error(
                format!("Model already exists: {id}"),
                Some(json!({ "modelId": id })),
            ));
        }
        Ok(())
    }

    /// Writes the metadata last; if that fails the downloaded files go too, so nothing is
    /// left that blocks a retry.
    pub(super) fn register(&self, info: ModelInfo, files: &[PathBuf]) -> Result<ModelInfo> {
        if let Err(e) = self.storage.save(&info) {
            for f in files {
                let _ = std::fs::remove_file(f);
            }
            return Err(e);
        }
        Ok(info)
    }
}

pub(super) fn cleanup(files: &[PathBuf], dir: &Path) {
    for f in files {
        let _ = std::fs::remove_file(f);
    }
    let _ = std::fs::remove_dir(dir);
}
