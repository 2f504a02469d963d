//! genai-electron's file helpers: sizes, names, checksums and small fs operations, with its
//! FileSystemError messages.

use crate::{jsnum, Error, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

const UNITS: [&str; 6] = ["Bytes", "KB", "MB", "GB", "TB", "PB"];

/// `formatBytes(bytes, decimals = 2)`, including its edge cases: `0 Bytes`, base 1024, trailing
/// zeros dropped (`1.5 KB`), and `NaN undefined` for negative input (units past PB are `undefined`).
pub fn format_bytes(bytes: f64, decimals: impl Into<Option<i32>>) -> String {
    let decimals = decimals
        .into()
        .unwrap_or(crate::defaults::FORMAT_BYTES_DECIMALS);
    if bytes == 0.0 {
        return "0 Bytes".to_string();
    }
    if bytes.is_nan() || bytes < 0.0 {
        return "NaN undefined".to_string(); // Math.log of a negative number is NaN
    }
    let dm = decimals.max(0) as usize;
    let i = (bytes.ln() / 1024f64.ln()).floor();
    let value = bytes / 1024f64.powf(i);
    let unit = if (0.0..6.0).contains(&i) {
        UNITS[i as usize]
    } else {
        "undefined"
    };
    let rounded: f64 = jsnum::to_fixed(value, dm).parse().unwrap_or(value); // parseFloat(toFixed)
    format!("{} {unit}", jsnum::to_string(rounded))
}

/// JavaScript's `\s` (and what `String.prototype.trim` removes).
pub fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// Replaces every run of JS whitespace with `with` (`s.replace(/\s+/g, with)`).
pub fn collapse_js_space(s: &str, with: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_space = false;
    for c in s.chars() {
        if is_js_space(c) {
            if !in_space {
                out.push_str(with);
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    out
}

/// `sanitizeFilename`: drop `< > : " / \ | ? *` and U+0000–U+001F, collapse whitespace, trim.
pub fn sanitize_filename(name: &str) -> String {
    let kept: String = name
        .chars()
        .filter(|&c| {
            !matches!(
                c,
                '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*' | '\0'..='\u{1F}'
            )
        })
        .collect();
    collapse_js_space(&kept, " ")
        .trim_matches(is_js_space)
        .to_string()
}

/// Streaming SHA-256 of a file, lowercase hex (`calculateChecksum` / `calculateSHA256`).
pub fn sha256_file(path: &Path) -> Result<String> {
    let fail = |e: std::io::Error| {
        Error::file_system(
            format!("Failed to calculate checksum: {}", path.display()),
            path,
            &e,
        )
    };
    let file = std::fs::File::open(path).map_err(fail)?;
    Ok(to_hex(&sha256_reader(file).map_err(fail)?.finalize()))
}

/// Feeds everything `reader` yields into a SHA-256 hasher (1 MiB at a time) and returns it.
pub fn sha256_reader(mut reader: impl Read) -> std::io::Result<Sha256> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher);
        }
        hasher.update(&buf[..n]);
    }
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `verifyChecksum`: compares with an expected hex digest, an optional `sha256:` prefix allowed.
pub fn verify_checksum(path: &Path, expected: &str) -> Result<bool> {
    let expected = expected.strip_prefix("sha256:").unwrap_or(expected);
    Ok(sha256_file(path)?.eq_ignore_ascii_case(expected.trim()))
}

/// Bytes free for this user on the disk holding `dir` (the mount with the longest matching
/// prefix); `None` when it cannot be told.
pub fn free_space(dir: &Path) -> Option<u64> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let disks = sysinfo::Disks::new_with_refreshed_list().ok()?;
    disks
        .iter()
        .filter(|d| dir.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len())
        .map(|d| d.available_space())
}

pub fn ensure_directory(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::file_system(
            format!("Failed to create directory: {}", dir.display()),
            dir,
            &e,
        )
    })
}

pub fn file_exists(path: &Path) -> bool {
    path.exists()
}

pub fn file_size(path: &Path) -> Result<u64> {
    std::fs::metadata(path).map(|m| m.len()).map_err(|e| {
        Error::file_system(
            format!("Failed to get file size: {}", path.display()),
            path,
            &e,
        )
    })
}

pub fn delete_file(path: &Path) -> Result<()> {
    std::fs::remove_file(path).map_err(|e| {
        Error::file_system(
            format!("Failed to delete file: {}", path.display()),
            path,
            &e,
        )
    })
}

pub fn move_file(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|e| {
        let mut err = Error::file_system(
            format!(
                "Failed to move file from {} to {}",
                from.display(),
                to.display()
            ),
            from,
            &e,
        );
        err.details = Some(serde_json::json!({
            "fromPath": from.to_string_lossy(),
            "toPath": to.to_string_lossy(),
            "error": crate::error::io_error_json(&e),
        }));
        err
    })
}

/// The directory entry `path` names, with every folder above it resolved (symlinks followed,
/// `.` and `..` gone) but the entry itself not followed: removing a symlink removes the link,
/// wherever it points. Folders that do not exist yet are kept as named. `None` for a relative
/// path, a path ending in `..`, or one that cannot be resolved.
pub fn resolved_entry(path: &Path) -> Option<PathBuf> {
    use std::path::Component;
    if !path.is_absolute() {
        return None;
    }
    let mut tail: Vec<&std::ffi::OsStr> = Vec::new();
    let mut at = path;
    loop {
        match at.components().next_back()? {
            Component::Normal(name) => tail.push(name),
            _ => return None,
        }
        let parent = at.parent()?;
        match std::fs::canonicalize(parent) {
            Ok(real) => return Some(tail.iter().rev().fold(real, |p, n| p.join(n))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => at = parent,
            Err(_) => return None,
        }
    }
}

/// Whether `path` names an entry strictly inside the folder `root` once both are resolved
/// ([`resolved_entry`]); false when either cannot be resolved. The one containment check
/// before a model's file is written or deleted.
pub fn entry_inside(root: &Path, path: &Path) -> bool {
    match (std::fs::canonicalize(root), resolved_entry(path)) {
        (Ok(root), Some(entry)) => entry != root && entry.starts_with(&root),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_bytes_matches_upstream() {
        assert_eq!(format_bytes(0.0, 2), "0 Bytes");
        assert_eq!(format_bytes(1024.0, 2), "1 KB");
        assert_eq!(format_bytes(1536.0, 2), "1.5 KB");
        assert_eq!(format_bytes(1023.0, 2), "1023 Bytes");
        assert_eq!(format_bytes(1_073_741_824.0, 2), "1 GB");
        assert_eq!(format_bytes(1_500_000_000.0, 2), "1.4 GB");
        assert_eq!(format_bytes(123_456_789.0, 0), "118 MB");
        assert_eq!(format_bytes(-1.0, 2), "NaN undefined");
        // exact tie: 1.125 KB -> toFixed(2) rounds half up to 1.13
        assert_eq!(format_bytes(1152.0, 2), "1.13 KB");
        assert_eq!(format_bytes(1024f64.powi(6), 2), "1 undefined");
        assert_eq!(format_bytes(1_234_567.0, None), "1.18 MB"); // decimals = 2
    }

    #[test]
    fn sanitize() {
        assert_eq!(sanitize_filename("  a<b>:c\"d/e\\f|g?h*i  "), "abcdefghi");
        assert_eq!(
            sanitize_filename("my \t\n model\u{1}.gguf"),
            "my model.gguf"
        );
        assert_eq!(sanitize_filename("\u{3000}x\u{A0}\u{A0}y "), "x y");
    }

    #[test]
    fn containment_resolves_folders_but_not_the_entry() {
        let base = std::env::temp_dir().join(format!("genai-inside-{}", std::process::id()));
        let root = base.join("root");
        ensure_directory(&root.join("sub")).unwrap();
        let root = std::fs::canonicalize(&root).unwrap();
        assert!(entry_inside(&root, &root.join("a.gguf")));
        assert!(entry_inside(&root, &root.join("sub/../a.gguf")));
        assert!(
            entry_inside(&root, &root.join("new/folder/a.gguf")),
            "folders made later"
        );
        assert!(!entry_inside(&root, &root), "the folder itself");
        assert!(!entry_inside(&root, &root.join("..")));
        assert!(!entry_inside(&root, &root.join("../x")));
        assert!(!entry_inside(&root, &root.join("sub/../../x")));
        assert!(
            !entry_inside(&root, &root.join("new/../../x")),
            "`..` after a missing folder"
        );
        assert!(!entry_inside(&root, Path::new("a.gguf")), "relative");
        assert!(!entry_inside(
            &base.join("missing"),
            &base.join("missing/a")
        ));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&base, root.join("up")).unwrap();
            std::os::unix::fs::symlink(&base, root.join("link")).unwrap();
            assert!(
                !entry_inside(&root, &root.join("up/x")),
                "a symlinked folder is followed"
            );
            assert!(
                entry_inside(&root, &root.join("link")),
                "the entry itself is not"
            );
        }
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn checksum_and_fs_errors() {
        let dir = std::env::temp_dir().join(format!("genai-files-{}", std::process::id()));
        ensure_directory(&dir).unwrap();
        let f = dir.join("a.txt");
        std::fs::write(&f, b"abc").unwrap();
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_file(&f).unwrap(), abc);
        assert!(verify_checksum(&f, &format!("sha256:{}", abc.to_uppercase())).unwrap());
        assert!(free_space(&dir).is_some_and(|n| n > 0));
        assert_eq!(file_size(&f).unwrap(), 3);
        let g = dir.join("b.txt");
        move_file(&f, &g).unwrap();
        assert!(!file_exists(&f) && file_exists(&g));
        let err = delete_file(&f).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::FileSystem);
        assert!(err
            .to_string()
            .starts_with("File system error: Failed to delete file: "));
        assert_eq!(err.details.unwrap()["error"]["code"], "ENOENT");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
