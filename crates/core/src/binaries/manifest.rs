//! The files upstream leaves in `binaries/<type>/`, read and written in its shapes so that an app
//! switching from genai-electron reuses what it has: `.variant.json` `{variant, platform}`,
//! `.validation.json` `{variant, checksum, validatedAt, phase1Passed, phase2Passed?, version}`
//! (the checksum is the executable's) and `.deps.json` `{version: 1, dependencies: [{url,
//! checksum, files}]}`. Unreadable or malformed files count as absent, as upstream.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const VARIANT_FILE: &str = ".variant.json";
pub const VALIDATION_FILE: &str = ".validation.json";
pub const DEPS_FILE: &str = ".deps.json";
/// These files are a few hundred bytes; anything much larger is not one of them.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantRecord {
    pub variant: String,
    pub platform: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationRecord {
    pub variant: String,
    pub checksum: String,
    pub validated_at: String,
    pub phase1_passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase2_passed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepsEntry {
    pub url: String,
    pub checksum: String,
    pub files: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepsManifest {
    pub version: u32,
    pub dependencies: Vec<DepsEntry>,
}

impl Default for DepsManifest {
    fn default() -> Self {
        DepsManifest {
            version: 1,
            dependencies: Vec::new(),
        }
    }
}

fn read<T: DeserializeOwned>(path: &Path) -> Option<T> {
    let size = std::fs::metadata(path).ok()?.len();
    if size > MAX_MANIFEST_BYTES {
        return None;
    }
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

pub fn read_variant(dir: &Path) -> Option<VariantRecord> {
    read(&dir.join(VARIANT_FILE))
}

/// Upstream's rule: variant, checksum and validatedAt present and non-empty.
pub fn read_validation(dir: &Path) -> Option<ValidationRecord> {
    read::<ValidationRecord>(&dir.join(VALIDATION_FILE))
        .filter(|v| !v.variant.is_empty() && !v.checksum.is_empty() && !v.validated_at.is_empty())
}

/// Entries that are not `{url, checksum, files: string[]}` are dropped, as upstream.
pub fn read_deps(dir: &Path) -> DepsManifest {
    let Some(value) = read::<serde_json::Value>(&dir.join(DEPS_FILE)) else {
        return DepsManifest::default();
    };
    if value.get("version").and_then(|v| v.as_u64()) != Some(1) {
        return DepsManifest::default();
    }
    let dependencies = value
        .get("dependencies")
        .and_then(|d| d.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|e| serde_json::from_value::<DepsEntry>(e.clone()).ok())
                .collect()
        })
        .unwrap_or_default();
    DepsManifest {
        version: 1,
        dependencies,
    }
}

/// Writes `value` as pretty JSON through a temporary file and a rename.
pub fn write<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    let temp = temp_sibling(path);
    std::fs::write(&temp, text)
        .and_then(|()| std::fs::rename(&temp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })
}

fn temp_sibling(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// `relative` inside `root`, or None when it is empty, absolute, a drive path or climbs with `..`
/// (the files a `.deps.json` lists come from disk and are not trusted).
pub fn inside(root: &Path, relative: &str) -> Option<PathBuf> {
    let portable = relative.replace('\\', "/");
    let drive = portable.len() >= 2 && portable.as_bytes()[1] == b':';
    if portable.is_empty() || portable.starts_with('/') || drive {
        return None;
    }
    if portable.split('/').any(|part| part == "..") {
        return None;
    }
    Some(root.join(portable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_shapes_round_trip_and_bad_files_count_as_absent() {
        let dir = std::env::temp_dir().join(format!("genai-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let upstream = r#"{
  "variant": "cpu",
  "checksum": "abc",
  "validatedAt": "2026-01-01T00:00:00.000Z",
  "phase1Passed": true,
  "version": "b9860"
}"#;
        std::fs::write(dir.join(VALIDATION_FILE), upstream).unwrap();
        let v = read_validation(&dir).unwrap();
        assert_eq!((v.variant.as_str(), v.phase2_passed), ("cpu", None));
        write(&dir.join(VALIDATION_FILE), &v).unwrap();
        let back: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(VALIDATION_FILE)).unwrap()).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(upstream).unwrap()
        );
        std::fs::write(
            dir.join(VALIDATION_FILE),
            r#"{"variant":"cpu","checksum":""}"#,
        )
        .unwrap();
        assert_eq!(read_validation(&dir), None);
        std::fs::write(
            dir.join(DEPS_FILE),
            r#"{"version":1,"dependencies":[{"url":"u","checksum":"c","files":["a.dll"]},{"url":1}]}"#,
        )
        .unwrap();
        assert_eq!(read_deps(&dir).dependencies.len(), 1);
        std::fs::write(dir.join(DEPS_FILE), r#"{"version":2,"dependencies":[]}"#).unwrap();
        assert_eq!(read_deps(&dir), DepsManifest::default());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn inside_refuses_escapes() {
        let root = Path::new("/r");
        assert_eq!(inside(root, "a/b.dll"), Some(PathBuf::from("/r/a/b.dll")));
        for bad in ["", "/etc/passwd", "C:/x", "..\\x", "a/../../x"] {
            assert_eq!(inside(root, bad), None, "{bad}");
        }
    }
}
