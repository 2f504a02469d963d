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
            url: strip_userinfo(&self.url),
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

/// The URL without `user:password@` (what is stored; the request itself still sends them, as
/// HTTP basic authentication). A URL without credentials is returned as given.
pub fn strip_userinfo(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// `text` with the `user:password@` of every `scheme://…` in it removed.
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '<' | '>' | '`') || c.is_whitespace()
            })
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        let host_start = authority.rfind('@').map_or(0, |at| at + 1);
        out.push_str(&authority[host_start..]);
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

fn redact_value(v: &mut Value) {
    match v {
        Value::String(s) if s.contains("://") => *s = redact_userinfo(s),
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        Value::Object(map) => map.values_mut().for_each(redact_value),
        _ => {}
    }
}

/// An error with the credentials of every URL in its message and details removed, so that a
/// `https://user:pass@host/…` download never reports its password.
pub fn redact_error(mut e: Error) -> Error {
    e.message = redact_userinfo(&e.message);
    if let Some(details) = e.details.as_mut() {
        redact_value(details);
    }
    e
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn credentials_are_stripped() {
        assert_eq!(
            strip_userinfo("https://u:p%40ss@host:8080/a/m.gguf?x=1"),
            "https://host:8080/a/m.gguf?x=1"
        );
        assert_eq!(strip_userinfo("https://host/m.gguf"), "https://host/m.gguf");
        assert_eq!(strip_userinfo("not a url"), "not a url");
        assert_eq!(
            redact_userinfo("failed for http://u:secret@h/m (http://h2/x) and ftp://a@b"),
            "failed for http://h/m (http://h2/x) and ftp://b"
        );
        let e = redact_error(download_error(
            "GET https://me:pw@h/x failed",
            Some(json!({ "url": "https://me:pw@h/x", "inner": [{ "u": "http://a:b@c" }], "n": 1 })),
        ));
        assert_eq!(e.message, "GET https://h/x failed");
        assert_eq!(
            e.details.unwrap(),
            json!({ "url": "https://h/x", "inner": [{ "u": "http://c" }], "n": 1 })
        );
    }
}
