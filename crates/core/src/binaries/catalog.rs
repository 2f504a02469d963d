//! `BINARY_VERSIONS`: the pinned releases, as data (`catalog.json`, taken from genai-electron
//! 0.26.0), or a JSON file of the same shape that replaces it (`GENAI_BINARY_CATALOG`), and the
//! mirror that replaces the `https://github.com/` prefix of every URL (`GENAI_BINARY_MIRROR`).

use super::BinaryKind;
use crate::{Error, ErrorCode, Result};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::Path;

/// The prefix a mirror replaces.
pub const GITHUB_PREFIX: &str = "https://github.com/";
/// A catalog file larger than this is not a catalog.
const MAX_CATALOG_BYTES: u64 = 4 << 20;

/// Upstream's `BinaryVariant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VariantType {
    Cuda,
    Vulkan,
    Metal,
    Cpu,
}

impl VariantType {
    pub fn as_str(self) -> &'static str {
        match self {
            VariantType::Cuda => "cuda",
            VariantType::Vulkan => "vulkan",
            VariantType::Metal => "metal",
            VariantType::Cpu => "cpu",
        }
    }
}

/// An archive the variant needs besides its own (the Windows CUDA runtime).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    pub url: String,
    pub checksum: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Upstream's `BinaryVariantConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    #[serde(rename = "type")]
    pub variant: VariantType,
    pub url: String,
    pub checksum: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
}

/// One engine's pinned release: its tag and, per platform key, the variants in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    pub version: String,
    pub variants: IndexMap<String, Vec<Variant>>,
}

/// `BINARY_VERSIONS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Catalog {
    pub llama_server: Release,
    pub diffusion_cpp: Release,
}

impl Catalog {
    /// The built-in pins.
    pub fn builtin() -> Catalog {
        // The file is part of the build and checked by a test, so this cannot fail at run time.
        serde_json::from_str(include_str!("catalog.json")).unwrap_or_else(|e| {
            unreachable!("catalog.json does not parse: {e}");
        })
    }

    /// `path`'s catalog, or the built-in one.
    pub fn load(path: Option<&Path>) -> Result<Catalog> {
        let Some(path) = path else {
            return Ok(Catalog::builtin());
        };
        let invalid = |reason: String| {
            Error::new(
                ErrorCode::Binary,
                format!("Invalid binary catalog {}: {reason}", path.display()),
                Some(json!({ "path": path.to_string_lossy(), "reason": reason })),
            )
        };
        let size = std::fs::metadata(path)
            .map_err(|e| invalid(e.to_string()))?
            .len();
        if size > MAX_CATALOG_BYTES {
            return Err(invalid(format!("{size} bytes is too large for a catalog")));
        }
        let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
        let catalog: Catalog = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        catalog.check().map_err(invalid)?;
        Ok(catalog)
    }

    pub fn release(&self, kind: BinaryKind) -> &Release {
        match kind {
            BinaryKind::Llama => &self.llama_server,
            BinaryKind::Diffusion => &self.diffusion_cpp,
        }
    }

    /// Every URL is http(s) and every checksum a SHA-256 in hex.
    fn check(&self) -> std::result::Result<(), String> {
        for release in [&self.llama_server, &self.diffusion_cpp] {
            if release.version.trim().is_empty() {
                return Err("a release has an empty version".into());
            }
            for variant in release.variants.values().flatten() {
                let deps = variant.dependencies.iter().map(|d| (&d.url, &d.checksum));
                for (url, checksum) in
                    std::iter::once((&variant.url, &variant.checksum)).chain(deps)
                {
                    if !(url.starts_with("https://") || url.starts_with("http://")) {
                        return Err(format!("{url} is not an http(s) URL"));
                    }
                    if normalize_checksum(checksum).is_none() {
                        return Err(format!("{checksum} is not a SHA-256 in hex ({url})"));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Lowercase hex without an optional `sha256:` prefix; None unless it is 64 hex digits.
pub fn normalize_checksum(checksum: &str) -> Option<String> {
    let hex = checksum
        .trim()
        .strip_prefix("sha256:")
        .unwrap_or(checksum.trim());
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// `url` with its `https://github.com/` prefix replaced by `mirror` (a `/` is added between).
pub fn mirrored(url: &str, mirror: Option<&str>) -> String {
    match (
        mirror.map(str::trim).filter(|m| !m.is_empty()),
        url.strip_prefix(GITHUB_PREFIX),
    ) {
        (Some(mirror), Some(rest)) => format!("{}/{rest}", mirror.trim_end_matches('/')),
        _ => url.to_string(),
    }
}

/// The archive's extension as upstream names its files: `.tar.gz`, `.tgz` or `.zip`.
pub fn archive_extension(url: &str) -> &'static str {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    if path.ends_with(".tar.gz") {
        ".tar.gz"
    } else if path.ends_with(".tgz") {
        ".tgz"
    } else {
        ".zip"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_has_upstreams_pins() {
        let c = Catalog::builtin();
        assert_eq!(c.llama_server.version, "b9860");
        assert_eq!(c.diffusion_cpp.version, "master-782-b290693");
        let linux = &c.llama_server.variants["linux-x64"];
        assert_eq!(
            linux.iter().map(|v| v.variant).collect::<Vec<_>>(),
            [VariantType::Vulkan, VariantType::Cpu]
        );
        let win = &c.llama_server.variants["win32-x64"][0];
        assert_eq!(win.variant, VariantType::Cuda);
        assert_eq!(win.dependencies.len(), 1);
        assert!(c.diffusion_cpp.variants["darwin-x64"].is_empty());
        assert!(c.check().is_ok());
        // Round trip: the export is the file.
        let again: serde_json::Value = serde_json::to_value(&c).unwrap();
        let file: serde_json::Value = serde_json::from_str(include_str!("catalog.json")).unwrap();
        assert_eq!(again, file);
    }

    #[test]
    fn mirror_replaces_only_the_github_prefix() {
        let url = "https://github.com/ggml-org/llama.cpp/releases/download/b1/x.zip";
        assert_eq!(
            mirrored(url, Some("http://127.0.0.1:9/")),
            "http://127.0.0.1:9/ggml-org/llama.cpp/releases/download/b1/x.zip"
        );
        assert_eq!(
            mirrored(url, Some("http://m/base")),
            "http://m/base/ggml-org/llama.cpp/releases/download/b1/x.zip"
        );
        assert_eq!(mirrored(url, None), url);
        assert_eq!(mirrored(url, Some(" ")), url);
        assert_eq!(
            mirrored("https://example.com/x.zip", Some("http://m")),
            "https://example.com/x.zip"
        );
    }

    #[test]
    fn checksums_and_extensions() {
        let hex = "A".repeat(64);
        assert_eq!(
            normalize_checksum(&format!("sha256:{hex}")),
            Some("a".repeat(64))
        );
        assert_eq!(normalize_checksum("abc"), None);
        assert_eq!(normalize_checksum(&"g".repeat(64)), None);
        assert_eq!(archive_extension("https://x/a.tar.gz"), ".tar.gz");
        assert_eq!(archive_extension("https://x/a.TGZ?x=1"), ".tgz");
        assert_eq!(archive_extension("https://x/a.zip"), ".zip");
    }

    #[test]
    fn a_bad_catalog_file_is_a_binary_error_naming_it() {
        let dir = std::env::temp_dir().join(format!("genai-catalog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases = [
            ("not json", "expected"),
            (
                r#"{"llamaServer":{"version":"b1","variants":{}}}"#,
                "diffusionCpp",
            ),
            (
                r#"{"llamaServer":{"version":"b1","variants":{"linux-x64":[{"type":"cpu","url":"ftp://x/a.zip","checksum":"00"}]}},"diffusionCpp":{"version":"m","variants":{}}}"#,
                "not an http(s) URL",
            ),
            (
                r#"{"llamaServer":{"version":"b1","variants":{"linux-x64":[{"type":"gpu","url":"https://x/a.zip","checksum":"00"}]}},"diffusionCpp":{"version":"m","variants":{}}}"#,
                "unknown variant",
            ),
        ];
        for (i, (text, reason)) in cases.iter().enumerate() {
            let file = dir.join(format!("c{i}.json"));
            std::fs::write(&file, text).unwrap();
            let err = Catalog::load(Some(&file)).unwrap_err();
            assert_eq!(err.code, ErrorCode::Binary);
            assert!(
                err.message.starts_with("Invalid binary catalog"),
                "{}",
                err.message
            );
            assert!(
                err.message.contains(reason),
                "{} lacks {reason}",
                err.message
            );
        }
        let missing = Catalog::load(Some(&dir.join("missing.json"))).unwrap_err();
        assert_eq!(missing.code, ErrorCode::Binary);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
