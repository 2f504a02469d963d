//! `ModelManager`: download (single file, GGUF shards, multi-component diffusion models), list,
//! inspect, verify, delete, and refresh GGUF metadata. The metadata JSON is written last, so a
//! model is listed only once every byte is on disk and verified.

use super::info::{ComponentInfo, ModelInfo, ModelSource, ModelType, Provenance, ShardInfo};
use super::naming::{extra_shards, extract_filename, is_gguf, model_id};
use super::storage::Storage;
use crate::download::{Claim, Downloader, ProgressFn, Request};
use crate::gguf::{self, metadata::gguf_metadata};
use crate::paths::Paths;
use crate::{files, Error, ErrorCode, Result};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where a file comes from: the fields `DownloadConfig` and its components share.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceSpec {
    pub source: String,
    pub url: Option<String>,
    pub repo: Option<String>,
    pub file: Option<String>,
    pub revision: Option<String>,
    pub provenance: Option<Provenance>,
    pub checksum: Option<String>,
}

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

/// `onComponentStart({ role, filename, index, total })`.
pub type ComponentStartFn = Arc<dyn Fn(&str, &str, usize, usize) + Send + Sync>;

#[derive(Default, Clone)]
pub struct Callbacks {
    pub progress: Option<ProgressFn>,
    pub component_start: Option<ComponentStartFn>,
}

fn download_error(message: impl Into<String>, details: Option<Value>) -> Error {
    Error::new(ErrorCode::DownloadFailed, message, details)
}

/// A resolved source: `{type, url}` or `{type, url, repo, file, revision}`.
#[derive(Debug, Clone)]
struct Source {
    url: String,
    hf: Option<(String, String, String)>, // repo, file, revision
}

impl Source {
    fn model_source(&self) -> ModelSource {
        let (kind, repo, file, revision) = match &self.hf {
            Some((repo, file, revision)) => (
                "huggingface",
                Some(repo.clone()),
                Some(file.clone()),
                Some(revision.clone()),
            ),
            None => ("url", None, None, None),
        };
        ModelSource {
            kind: kind.into(),
            url: self.url.clone(),
            repo,
            file,
            revision,
            extra: Map::new(),
        }
    }
    fn file(&self) -> Option<&str> {
        self.hf.as_ref().map(|h| h.1.as_str())
    }
}

fn resolve_source(spec: &SourceSpec) -> Result<Source> {
    match spec.source.as_str() {
        "url" => {
            let url = spec
                .url
                .as_deref()
                .filter(|u| !u.is_empty())
                .ok_or_else(|| download_error("URL is required when source is \"url\"", None))?;
            Ok(Source {
                url: url.to_string(),
                hf: None,
            })
        }
        "huggingface" => {
            let (Some(repo), Some(file)) = (
                spec.repo.as_deref().filter(|r| !r.is_empty()),
                spec.file.as_deref().filter(|f| !f.is_empty()),
            ) else {
                return Err(download_error(
                    "Repository and file are required when source is \"huggingface\"",
                    None,
                ));
            };
            if spec
                .revision
                .as_deref()
                .is_some_and(|r| r.trim().is_empty())
            {
                return Err(download_error(
                    "Revision must be a non-empty string when source is \"huggingface\"",
                    None,
                ));
            }
            let revision = spec
                .revision
                .as_deref()
                .unwrap_or(crate::hf::DEFAULT_REVISION);
            let url =
                crate::hf::hf_url(repo, file, revision).map_err(|m| download_error(m, None))?;
            Ok(Source {
                url,
                hf: Some((repo.into(), file.into(), revision.into())),
            })
        }
        other => Err(download_error(
            format!("Unsupported source type: {other}"),
            None,
        )),
    }
}

/// `sha256:<hex>` as genai-electron stores checksums.
fn format_checksum(c: &str) -> String {
    let hex = c.strip_prefix("sha256:").unwrap_or(c);
    format!("sha256:{}", hex.trim().to_ascii_lowercase())
}

/// The GGUF header at `url` → ModelInfo's `ggufMetadata`, with genai-electron's error text.
async fn remote_metadata(url: &str, with_tensors: bool) -> Result<Map<String, Value>> {
    match gguf::fetch_metadata(url).await {
        Ok(h) => Ok(gguf_metadata(&h, with_tensors)),
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

/// File sizes announced by the server (HEAD, 10 s), 0 when unknown.
async fn head_size(url: &str) -> u64 {
    let Ok(client) = crate::http::client() else {
        return 0;
    };
    let mut req = client.head(url).timeout(Duration::from_secs(10));
    if let Some(auth) = crate::hf::auth_header(url) {
        req = req.header(reqwest::header::AUTHORIZATION, auth);
    }
    req.send()
        .await
        .ok()
        .and_then(|r| r.content_length())
        .unwrap_or(0)
}

/// Progress over several files: (bytes of finished files + this file's bytes, sum of sizes).
struct Aggregate {
    sizes: Mutex<Vec<u64>>,
    completed: Mutex<u64>,
    user: Option<ProgressFn>,
}

impl Aggregate {
    fn progress_for(self: &Arc<Self>, index: usize) -> Option<ProgressFn> {
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

    fn complete(&self, bytes: u64) {
        *self.completed.lock().unwrap_or_else(|p| p.into_inner()) += bytes;
    }
}

pub struct ModelManager {
    pub storage: Storage,
    downloader: Downloader,
}

struct Item {
    role: String,
    url: String,
    filename: String,
    destination: PathBuf,
    checksum: Option<String>,
    source: ModelSource,
    provenance: Option<Provenance>,
}

/// The one place a downloaded model's `ModelInfo` is made; callers add what their layout has
/// (checksum, reasoning, GGUF metadata, shards or components).
fn new_model_info(
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

    /// `downloadModel(config)`.
    pub async fn download(&self, cfg: &DownloadConfig, callbacks: Callbacks) -> Result<ModelInfo> {
        self.storage.initialize()?;
        let model_type = ModelType::parse(&cfg.model_type)?;
        let type_dir = self.storage.type_dir(model_type).to_path_buf();
        if cfg.components.as_ref().is_some_and(|c| !c.is_empty()) {
            return self
                .download_components(cfg, model_type, &type_dir, callbacks)
                .await;
        }
        let source = resolve_source(&cfg.spec)?;
        let id = model_id(&cfg.name);
        let filename = extract_filename(&source.url, source.file());
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
                .download_shards(cfg, model_type, &type_dir, shards, callbacks)
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
        let gguf = remote_metadata(&source.url, true).await?;
        let mut req = Request::new(&source.url, &destination);
        req.expected_sha256 = cfg.spec.checksum.clone().filter(|c| !c.is_empty());
        let outcome = claim.download(&req, callbacks.progress).await?;
        let info = ModelInfo {
            checksum: req
                .expected_sha256
                .as_ref()
                .map(|_| format_checksum(&outcome.sha256)),
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

    /// Two models with one id would overwrite each other's metadata: refuse (genai-electron does
    /// so for shards and components, and silently overwrites for single files).
    fn refuse_existing_id(&self, model_type: ModelType, id: &str) -> Result<()> {
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
    fn register(&self, info: ModelInfo, files: &[PathBuf]) -> Result<ModelInfo> {
        if let Err(e) = self.storage.save(&info) {
            for f in files {
                let _ = std::fs::remove_file(f);
            }
            return Err(e);
        }
        Ok(info)
    }

    async fn download_shards(
        &self,
        cfg: &DownloadConfig,
        model_type: ModelType,
        type_dir: &Path,
        shards_in: Shards<'_>,
        callbacks: Callbacks,
    ) -> Result<ModelInfo> {
        let Shards {
            primary,
            primary_name,
            extra,
        } = shards_in;
        let id = model_id(&cfg.name);
        let dir = type_dir.join(&id);
        let mut items = vec![(
            primary.url.clone(),
            primary_name.to_string(),
            dir.join(files::sanitize_filename(primary_name)),
        )];
        for entry in extra {
            let url = shard_url(entry, primary);
            let is_url = entry.starts_with("http://") || entry.starts_with("https://");
            let filename = extract_filename(&url, if is_url { None } else { Some(entry) });
            items.push((
                url,
                filename.clone(),
                dir.join(files::sanitize_filename(&filename)),
            ));
        }
        for (_, filename, dest) in &items {
            if dest.exists() {
                return Err(download_error(
                    format!("Model file already exists: {filename}"),
                    Some(json!({ "path": dest.to_string_lossy() })),
                ));
            }
        }
        let claim = self.downloader.claim()?;
        let gguf = remote_metadata(&primary.url, false).await?;
        let sizes =
            futures_util::future::join_all(items.iter().map(|(url, _, _)| head_size(url))).await;
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::file_system(
                format!("Failed to create directory: {}", dir.display()),
                &dir,
                &e,
            )
        })?;
        let agg = Arc::new(Aggregate {
            sizes: Mutex::new(sizes),
            completed: Mutex::new(0),
            user: callbacks.progress,
        });
        let mut done: Vec<PathBuf> = Vec::new();
        let mut shards = Vec::new();
        let checksum = cfg.spec.checksum.clone().filter(|c| !c.is_empty());
        for (i, (url, _, dest)) in items.iter().enumerate() {
            let mut req = Request::new(url, dest);
            req.expected_sha256 = if i == 0 { checksum.clone() } else { None };
            match claim.download(&req, agg.progress_for(i)).await {
                Ok(outcome) => {
                    agg.complete(outcome.size);
                    done.push(dest.clone());
                    shards.push(ShardInfo {
                        path: dest.to_string_lossy().into_owned(),
                        size: outcome.size,
                        checksum: (i == 0 && checksum.is_some())
                            .then(|| format_checksum(&outcome.sha256)),
                        extra: Map::new(),
                    });
                }
                Err(e) => {
                    cleanup(&done, &dir);
                    return Err(e);
                }
            }
        }
        drop(claim);
        let size: u64 = shards.iter().map(|s| s.size).sum();
        let info = ModelInfo {
            checksum: shards.first().and_then(|s| s.checksum.clone()),
            supports_reasoning: Some(crate::reasoning::detect_reasoning_support(primary_name)),
            gguf_metadata: Some(gguf),
            shards: Some(shards),
            ..new_model_info(
                cfg,
                model_type,
                size,
                &items[0].2,
                primary.model_source(),
                cfg.spec.provenance.clone(),
            )
        };
        let result = self.register(info, &done);
        if result.is_err() {
            let _ = std::fs::remove_dir(&dir);
        }
        result
    }

    async fn download_components(
        &self,
        cfg: &DownloadConfig,
        model_type: ModelType,
        type_dir: &Path,
        callbacks: Callbacks,
    ) -> Result<ModelInfo> {
        let components = cfg.components.clone().unwrap_or_default();
        if components.iter().any(|c| c.role == "diffusion_model") {
            return Err(download_error(
                "Component with role \"diffusion_model\" is not allowed \u{2014} the top-level config describes the primary diffusion model",
                None,
            ));
        }
        let primary = resolve_source(&cfg.spec)?;
        let id = model_id(&cfg.name);
        self.refuse_existing_id(model_type, &id)?;
        // Resolve everything before touching the disk, so a bad component leaves nothing behind.
        let mut sources = vec![(
            primary.clone(),
            "diffusion_model".to_string(),
            cfg.spec.checksum.clone(),
            cfg.spec.provenance.clone(),
        )];
        for c in &components {
            let s = resolve_source(&c.spec)?;
            sources.push((
                s,
                c.role.clone(),
                c.spec.checksum.clone(),
                c.spec.provenance.clone(),
            ));
        }
        let dir_name = cfg
            .model_directory
            .as_deref()
            .filter(|d| !d.is_empty())
            .map_or(id.clone(), model_id);
        let dir = type_dir.join(&dir_name);
        let items: Vec<Item> = sources
            .into_iter()
            .map(|(s, role, checksum, provenance)| {
                let filename = s
                    .file()
                    .map_or_else(|| extract_filename(&s.url, None), str::to_string);
                Item {
                    destination: dir.join(files::sanitize_filename(&filename)),
                    role,
                    url: s.url.clone(),
                    filename,
                    checksum: checksum.filter(|c| !c.is_empty()),
                    source: s.model_source(),
                    provenance,
                }
            })
            .collect();
        let claim = self.downloader.claim()?;
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::file_system(
                format!("Failed to create directory: {}", dir.display()),
                &dir,
                &e,
            )
        })?;
        let existed: Vec<bool> = items.iter().map(|it| it.destination.exists()).collect();
        let sizes = futures_util::future::join_all(items.iter().zip(&existed).map(|(it, e)| {
            let url = it.url.clone();
            let exists = *e;
            async move {
                if exists {
                    0
                } else {
                    head_size(&url).await
                }
            }
        }))
        .await;
        let gguf = if is_gguf(&items[0].filename) {
            tokio::time::timeout(
                Duration::from_secs(15),
                gguf::remote::fetch_header(&items[0].url),
            )
            .await
            .ok()
            .and_then(|r| r.ok())
            .map(|(h, _)| gguf_metadata(&h, true))
        } else {
            None
        };
        let agg = Arc::new(Aggregate {
            sizes: Mutex::new(sizes),
            completed: Mutex::new(0),
            user: callbacks.progress.clone(),
        });
        let mut downloaded: Vec<PathBuf> = Vec::new();
        let result = self
            .fetch_components(&claim, &items, &existed, &agg, &callbacks, &mut downloaded)
            .await;
        drop(claim);
        if let Err(e) = result {
            cleanup(&downloaded, &dir);
            return Err(e);
        }
        let mut components = indexmap::IndexMap::new();
        let mut total = 0u64;
        for it in &items {
            let size = files::file_size(&it.destination)?;
            total += size;
            let component = ComponentInfo {
                path: it.destination.to_string_lossy().into_owned(),
                size,
                checksum: it.checksum.as_deref().map(format_checksum),
                source: Some(it.source.clone()),
                provenance: it.provenance.clone(),
                extra: Map::new(),
            };
            components.insert(it.role.clone(), component);
        }
        let info = ModelInfo {
            gguf_metadata: gguf,
            components: Some(components),
            ..new_model_info(
                cfg,
                model_type,
                total,
                &items[0].destination,
                items[0].source.clone(),
                items[0].provenance.clone(),
            )
        };
        self.register(info, &downloaded)
    }

    async fn fetch_components(
        &self,
        claim: &Claim<'_>,
        items: &[Item],
        existed: &[bool],
        agg: &Arc<Aggregate>,
        callbacks: &Callbacks,
        downloaded: &mut Vec<PathBuf>,
    ) -> Result<()> {
        let n = items.len();
        for (i, it) in items.iter().enumerate() {
            if let Some(cb) = &callbacks.component_start {
                cb(&it.role, &it.filename, i + 1, n);
            }
            if existed[i] {
                // Reuse a file already there (shared with another model) when it verifies.
                let valid = match &it.checksum {
                    Some(sum) => files::verify_checksum(&it.destination, sum)?,
                    None => true,
                };
                if valid {
                    continue;
                }
                files::delete_file(&it.destination)?;
            }
            let mut req = Request::new(&it.url, &it.destination);
            req.expected_sha256 = it.checksum.clone();
            let outcome = claim.download(&req, agg.progress_for(i)).await.map_err(|e| match e.code {
                ErrorCode::Checksum => download_error(
                    format!("Checksum verification failed for component: {}", it.role),
                    Some(json!({ "expected": e.details.as_ref().and_then(|d| d.get("expected")).cloned(), "actual": e.details.as_ref().and_then(|d| d.get("actual")).cloned(), "component": it.role })),
                ),
                _ => e,
            })?;
            downloaded.push(it.destination.clone());
            agg.complete(outcome.size);
        }
        Ok(())
    }

    /// `updateModelMetadata(id, { source })`: re-read the GGUF header locally and/or remotely.
    pub async fn update_metadata(&self, id: &str, strategy: Option<&str>) -> Result<ModelInfo> {
        let mut info = self.storage.find(id)?;
        let strategy = strategy.unwrap_or("local-remote");
        let path = info.path.clone();
        let url = Some(info.source.url.clone()).filter(|u| !u.is_empty());
        let local = || {
            let path = PathBuf::from(&path);
            async move {
                tokio::task::spawn_blocking(move || gguf::read_metadata(&path))
                    .await
                    .map_err(|e| e.to_string())?
                    .map(|h| gguf_metadata(&h, true))
                    .map_err(|e| e.to_string())
            }
        };
        let remote = |url: String| async move {
            gguf::fetch_metadata(&url)
                .await
                .map(|h| gguf_metadata(&h, true))
                .map_err(|e| e.to_string())
        };
        let fail = |msg: String, details: Value| download_error(msg, Some(details));
        let mut gguf = match strategy {
            "local-only" => local().await.map_err(|m| fail(
                format!("Failed to read GGUF metadata from local file: {m}"),
                json!({ "modelId": id, "path": path, "suggestion": "The file may be corrupted. Try re-downloading the model or use source: \"remote-only\" to fetch from the original URL." }),
            ))?,
            "remote-only" => {
                let Some(url) = url else {
                    return Err(fail("Cannot fetch remote metadata: No source URL available for this model".into(), json!({ "modelId": id, "suggestion": "This model does not have a source URL. Use source: \"local-only\" instead." })));
                };
                remote(url.clone()).await.map_err(|m| fail(
                    format!("Failed to fetch GGUF metadata from remote URL: {m}"),
                    json!({ "modelId": id, "url": url, "suggestion": "Check network connectivity. If the URL is no longer valid, use source: \"local-only\" to read from the downloaded file." }),
                ))?
            }
            "local-remote" => match (local().await, url) {
                (Ok(m), _) => m,
                (Err(l), None) => return Err(fail(format!("Failed to read GGUF metadata from local file and no remote URL available: {l}"), json!({ "modelId": id, "path": path }))),
                (Err(l), Some(url)) => remote(url).await.map_err(|r| fail("Failed to fetch GGUF metadata from both local and remote sources".into(), json!({ "modelId": id, "localError": l, "remoteError": r })))?,
            },
            "remote-local" => match url {
                Some(url) => match remote(url).await {
                    Ok(m) => m,
                    Err(r) => local().await.map_err(|l| fail("Failed to fetch GGUF metadata from both remote and local sources".into(), json!({ "modelId": id, "remoteError": r, "localError": l })))?,
                },
                None => local().await.map_err(|l| fail(format!("No remote URL available and local fetch failed: {l}"), json!({ "modelId": id, "path": path })))?,
            },
            other => return Err(download_error(format!("Invalid metadata fetch strategy: {other}"), None)),
        };
        if info.layout() == super::info::Layout::Shards {
            gguf.remove("expert_weights_bytes");
        }
        info.gguf_metadata = Some(gguf);
        self.storage.save(&info)?;
        Ok(info)
    }
}

/// A shard entry: a full URL as is, else a sibling of the primary (same HF folder / URL folder).
fn shard_url(entry: &str, primary: &Source) -> String {
    if entry.to_ascii_lowercase().starts_with("http://")
        || entry.to_ascii_lowercase().starts_with("https://")
    {
        return entry.to_string();
    }
    if let Some((repo, file, revision)) = &primary.hf {
        let hf_file = match file.rfind('/') {
            Some(i) => format!("{}{entry}", &file[..=i]),
            None => entry.to_string(),
        };
        return crate::hf::hf_url(repo, &hf_file, revision).unwrap_or_default();
    }
    match url::Url::parse(&primary.url) {
        Ok(mut u) => {
            let dir = u
                .path()
                .rfind('/')
                .map_or("/".to_string(), |i| u.path()[..=i].to_string());
            u.set_path(&format!("{dir}{entry}"));
            u.to_string()
        }
        Err(_) => format!(
            "{}{entry}",
            &primary.url[..primary.url.rfind('/').map_or(0, |i| i + 1)]
        ),
    }
}

/// The files of a sharded download: the primary and the extra shard entries.
struct Shards<'a> {
    primary: &'a Source,
    primary_name: &'a str,
    extra: &'a [String],
}

fn cleanup(files: &[PathBuf], dir: &Path) {
    for f in files {
        let _ = std::fs::remove_file(f);
    }
    let _ = std::fs::remove_dir(dir);
}
