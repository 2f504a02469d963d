//! `updateModelMetadata(id, { source })`: re-read a model's GGUF header from its file and/or
//! its source URL, in the order the strategy names, with genai-electron's messages.

use super::info::{Layout, ModelInfo};
use super::manager::ModelManager;
use super::source::download_error;
use crate::gguf::{self, metadata::gguf_metadata};
use crate::Result;
use serde_json::{json, Value};
use std::path::PathBuf;

impl ModelManager {
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
        if info.layout() == Layout::Shards {
            gguf.remove("expert_weights_bytes");
        }
        info.gguf_metadata = Some(gguf);
        self.storage.save(&info)?;
        Ok(info)
    }
}
