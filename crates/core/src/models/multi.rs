//! Downloads of several files as one model: GGUF shards into the model's folder, and
//! multi-component diffusion models (components shared with another model are reused when they
//! verify). Progress is reported over all files; a failure removes what this call downloaded.

use super::info::{ComponentInfo, ModelInfo, ModelSource, ModelType, Provenance, ShardInfo};
use super::manager::{
    cleanup, head_sizes, new_model_info, remote_metadata, Aggregate, Callbacks, DownloadConfig,
    ModelManager,
};
use super::naming::{
    check_file_name, download_file_name, extract_filename, is_gguf, model_directory, model_id,
};
use super::source::{download_error, format_checksum, resolve_source, shard_url, Source};
use crate::download::{Claim, Expected};
use crate::gguf::metadata::gguf_metadata;
use crate::http::Limits;
use crate::{files, ErrorCode, Result};
use serde_json::{json, Map};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The optional GGUF metadata read of a component model's primary gives up after this long.
const COMPONENT_METADATA_TIMEOUT: Duration = Duration::from_secs(15);

struct Item {
    role: String,
    url: String,
    filename: String,
    destination: PathBuf,
    checksum: Option<String>,
    source: ModelSource,
    provenance: Option<Provenance>,
}

/// The files of a sharded download: the primary and the extra shard entries.
pub(super) struct Shards<'a> {
    pub(super) primary: &'a Source,
    pub(super) primary_name: &'a str,
    pub(super) extra: &'a [String],
}

impl ModelManager {
    pub(super) async fn download_shards(
        &self,
        cfg: &DownloadConfig,
        model_type: ModelType,
        shards_in: Shards<'_>,
        callbacks: Callbacks,
    ) -> Result<ModelInfo> {
        let Shards {
            primary,
            primary_name,
            extra,
        } = shards_in;
        let dir = self
            .storage
            .model_folder(model_type, &model_id(&cfg.name))?;
        let items = shard_items(primary, primary_name, extra, &dir)?;
        let claim = self.downloader.claim()?;
        let token = claim.token();
        let (gguf, expected) = remote_metadata(&primary.url, false, &self.limits, token).await?;
        let urls = items.iter().map(|(url, _, _)| Some(url.as_str()));
        let sizes = head_sizes(urls, &self.limits, token).await?;
        files::ensure_directory(&dir)?;
        let agg = Aggregate::new(sizes, callbacks.progress);
        let mut done: Vec<PathBuf> = Vec::new();
        let mut shards = Vec::new();
        let checksum = cfg.spec.checksum.clone().filter(|c| !c.is_empty());
        for (i, (url, _, dest)) in items.iter().enumerate() {
            let mut req = self.request(url, dest);
            req.expected_sha256 = if i == 0 { checksum.clone() } else { None };
            // The primary was probed; the other shards are taken as the server sends them.
            req.expected = if i == 0 {
                expected.clone()
            } else {
                Expected::default()
            };
            match claim.download(&req, agg.progress_for(i)).await {
                Ok(outcome) => {
                    agg.complete(outcome.size);
                    done.push(dest.clone());
                    shards.push(ShardInfo {
                        path: dest.to_string_lossy().into_owned(),
                        size: outcome.size,
                        checksum: outcome.sha256.as_deref().map(format_checksum),
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

    pub(super) async fn download_components(
        &self,
        cfg: &DownloadConfig,
        model_type: ModelType,
        callbacks: Callbacks,
    ) -> Result<ModelInfo> {
        let components = cfg.components.clone().unwrap_or_default();
        if model_type != ModelType::Diffusion {
            return Err(download_error(
                format!(
                    "Multi-component downloads are only supported for diffusion models (type: {})",
                    model_type.as_str()
                ),
                Some(json!({ "type": model_type.as_str() })),
            ));
        }
        if components.iter().any(|c| c.role == "diffusion_model") {
            return Err(download_error(
                "Component with role \"diffusion_model\" is not allowed \u{2014} the top-level config describes the primary diffusion model",
                None,
            ));
        }
        let primary = resolve_source(&cfg.spec)?;
        let id = model_id(&cfg.name);
        self.refuse_existing_id(model_type, &id)?;
        let dir_name = model_directory(cfg.model_directory.as_deref(), &id)?;
        let dir = self.storage.model_folder(model_type, &dir_name)?;
        // Resolve everything before touching the disk, so a bad component leaves nothing behind.
        let items = component_items(cfg, &components, primary, &dir)?;
        let existed = self.reusable_components(model_type, &id, &items)?;
        let claim = self.downloader.claim()?;
        files::ensure_directory(&dir)?;
        let probed = probe_components(&items, &existed, &self.limits, claim.token()).await;
        let (sizes, gguf, probed) = match probed {
            Ok(p) => p,
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                return Err(e);
            }
        };
        let agg = Aggregate::new(sizes, callbacks.progress.clone());
        let mut downloaded: Vec<PathBuf> = Vec::new();
        let result = self
            .fetch_components(&claim, &items, &probed, &agg, &callbacks, &mut downloaded)
            .await;
        drop(claim);
        if let Err(e) = result {
            cleanup(&downloaded, &dir);
            return Err(e);
        }
        let info = component_model_info(cfg, model_type, &items, gguf)?;
        self.register(info, &downloaded)
    }

    /// Which items are already there as another model's component (reused when they verify);
    /// any other file in the way is refused ("Component file already exists"), so a download
    /// never takes over, and a later delete never removes, a file that is not its own.
    fn reusable_components(
        &self,
        model_type: ModelType,
        id: &str,
        items: &[Item],
    ) -> Result<Vec<bool>> {
        let shared: std::collections::HashSet<PathBuf> = self
            .storage
            .list(Some(model_type))?
            .into_iter()
            .filter(|m| m.components.is_some())
            .flat_map(|m| m.files())
            .filter_map(|f| files::resolved_entry(Path::new(&f.path)))
            .collect();
        items
            .iter()
            .map(|it| {
                if std::fs::symlink_metadata(&it.destination).is_err() {
                    return Ok(false);
                }
                if files::resolved_entry(&it.destination).is_some_and(|e| shared.contains(&e)) {
                    return Ok(true);
                }
                Err(download_error(
                    format!("Component file already exists: {}", it.filename),
                    Some(json!({
                        "path": it.destination.to_string_lossy(),
                        "component": it.role,
                        "modelId": id,
                        "suggestion": "The file is no component of another model: remove it, or choose another modelDirectory",
                    })),
                ))
            })
            .collect()
    }

    async fn fetch_components(
        &self,
        claim: &Claim<'_>,
        items: &[Item],
        probed: &[Probed],
        agg: &Arc<Aggregate>,
        callbacks: &Callbacks,
        downloaded: &mut Vec<PathBuf>,
    ) -> Result<()> {
        let n = items.len();
        for (i, it) in items.iter().enumerate() {
            if let Some(cb) = &callbacks.component_start {
                cb(&it.role, &it.filename, i + 1, n)
                    .await
                    .map_err(component_start_threw)?;
            }
            if probed[i].existed {
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
            let mut req = self.request(&it.url, &it.destination);
            req.expected_sha256 = it.checksum.clone();
            req.expected = probed[i].expected.clone();
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
}

/// A throwing `onComponentStart` ends the download as upstream's `catch` ends it (the files of
/// this call are removed by the caller).
fn component_start_threw(t: crate::callback::Thrown) -> crate::Error {
    download_error(
        "Multi-component download failed",
        Some(json!({ "error": t.message })),
    )
}

/// The primary (`diffusion_model`) and every component as a download item.
fn component_items(
    cfg: &DownloadConfig,
    components: &[super::manager::ComponentConfig],
    primary: Source,
    dir: &Path,
) -> Result<Vec<Item>> {
    let mut sources = vec![(
        primary,
        "diffusion_model".to_string(),
        cfg.spec.checksum.clone(),
        cfg.spec.provenance.clone(),
    )];
    for c in components {
        let s = resolve_source(&c.spec)?;
        sources.push((
            s,
            c.role.clone(),
            c.spec.checksum.clone(),
            c.spec.provenance.clone(),
        ));
    }
    sources
        .into_iter()
        .map(|(s, role, checksum, provenance)| {
            let filename = match s.file() {
                Some(f) => f.to_string(),
                None => download_file_name(&s.url, None)?,
            };
            let file = files::sanitize_filename(&filename);
            check_file_name(&file)?;
            Ok(Item {
                destination: dir.join(file),
                role,
                url: s.url.clone(),
                filename,
                checksum: checksum.filter(|c| !c.is_empty()),
                source: s.model_source(),
                provenance,
            })
        })
        .collect()
}

/// What the probes before a component download found for one item.
struct Probed {
    /// The file was there before this call (shared with another model).
    existed: bool,
    /// What its download must match.
    expected: Expected,
}

type ComponentProbe = (
    Vec<u64>,
    Option<Map<String, serde_json::Value>>,
    Vec<Probed>,
);

/// Announced sizes (0 for files already there), for a GGUF primary its metadata (read for at
/// most [`COMPONENT_METADATA_TIMEOUT`], optional), and what each download must match. Only a
/// cancel is an error.
async fn probe_components(
    items: &[Item],
    existed: &[bool],
    limits: &Limits,
    cancel: &CancellationToken,
) -> Result<ComponentProbe> {
    let urls = items.iter().zip(existed);
    let urls = urls.map(|(it, e)| (!e).then_some(it.url.as_str()));
    let sizes = head_sizes(urls, limits, cancel).await?;
    let mut primary = None;
    if is_gguf(&items[0].filename) {
        let url = &items[0].url;
        let read = crate::gguf::remote::probe(url, limits, cancel);
        let read = tokio::time::timeout(COMPONENT_METADATA_TIMEOUT, read).await;
        if cancel.is_cancelled() {
            return Err(crate::download::cancelled(url));
        }
        primary = read.ok().and_then(|r| r.ok());
    }
    let gguf = primary.as_ref().map(|p| gguf_metadata(&p.header, true));
    let probed = items.iter().zip(existed).enumerate();
    let probed = probed.map(|(i, (it, &existed))| {
        let expected = match (&primary, i) {
            (Some(p), 0) => Expected {
                size: p.total,
                content_type: p.content_type.clone(),
                gguf: true,
            },
            _ => Expected {
                gguf: is_gguf(&it.filename),
                ..Default::default()
            },
        };
        Probed { existed, expected }
    });
    Ok((sizes, gguf, probed.collect()))
}

/// The registered model: sizes as they are on disk, one entry per role.
fn component_model_info(
    cfg: &DownloadConfig,
    model_type: ModelType,
    items: &[Item],
    gguf: Option<Map<String, serde_json::Value>>,
) -> Result<ModelInfo> {
    let mut components = indexmap::IndexMap::new();
    let mut total = 0u64;
    for it in items {
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
    Ok(ModelInfo {
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
    })
}

/// `(url, filename, destination)` of the primary and each extra shard; a file already there
/// is refused before anything is downloaded.
fn shard_items(
    primary: &Source,
    primary_name: &str,
    extra: &[String],
    dir: &Path,
) -> Result<Vec<(String, String, PathBuf)>> {
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
    Ok(items)
}
