//! Where a model's files come from: `source: 'url' | 'huggingface'` resolved to URLs (with
//! genai-electron's messages), sibling shard URLs, checksums as genai-electron stores them.

use super::info::{ModelSource, Provenance};
use crate::{Error, ErrorCode, Result};
use serde::Deserialize;
use serde_json::{Map, Value};

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

pub(super) fn download_error(message: impl Into<String>, details: Option<Value>) -> Error {
    Error::new(ErrorCode::DownloadFailed, message, details)
}

/// A resolved source: `{type, url}` or `{type, url, repo, file, revision}`.
#[derive(Debug, Clone)]
pub(super) struct Source {
    pub(super) url: String,
    pub(super) hf: Option<(String, String, String)>, // repo, file, revision
}

impl Source {
    pub(super) fn model_source(&self) -> ModelSource {
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
    pub(super) fn file(&self) -> Option<&str> {
        self.hf.as_ref().map(|h| h.1.as_str())
    }
}

pub(super) fn resolve_source(spec: &SourceSpec) -> Result<Source> {
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
pub(super) fn format_checksum(c: &str) -> String {
    let hex = c.strip_prefix("sha256:").unwrap_or(c);
    format!("sha256:{}", hex.trim().to_ascii_lowercase())
}

/// A shard entry: a full URL as is, else a sibling of the primary (same HF folder / URL folder).
pub(super) fn shard_url(entry: &str, primary: &Source) -> String {
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
