//! File-tree helpers for installing a variant: where the executable is in an extracted
//! archive, what files a tree holds, copying installed dependency files, the exec bit.

use super::manifest::{self, DepsEntry};
use std::path::{Path, PathBuf};

/// `path` with `suffix` appended to its file name.
pub(super) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// The first file named `name` (case-insensitively), shallowest first.
pub(super) fn find_executable(root: &Path, name: &str) -> Option<PathBuf> {
    let mut level = vec![root.to_path_buf()];
    while !level.is_empty() {
        let mut next = Vec::new();
        for dir in level {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut entries: Vec<_> = entries.flatten().collect();
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_file()
                    && entry
                        .file_name()
                        .to_string_lossy()
                        .eq_ignore_ascii_case(name)
                {
                    return Some(entry.path());
                }
                if kind.is_dir() {
                    next.push(entry.path());
                }
            }
        }
        level = next;
    }
    None
}

/// Every regular file under `root`, relative, with `/` separators.
pub(super) fn relative_files(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.file_type() {
                Ok(k) if k.is_dir() => todo.push(entry.path()),
                Ok(k) if k.is_file() => {
                    if let Ok(rel) = entry.path().strip_prefix(root) {
                        files.push(rel.to_string_lossy().replace('\\', "/"));
                    }
                }
                _ => {}
            }
        }
    }
    files.sort();
    files
}

/// The relative names (lowercase) the candidate gets from the main archive.
pub(super) fn placed_files(main: &Path, found: &Path) -> Vec<String> {
    let exe_dir = found.parent().unwrap_or(main);
    let mut placed: Vec<String> = relative_files(exe_dir);
    if exe_dir != main {
        placed.extend(
            std::fs::read_dir(main)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|k| k.is_file()))
                .map(|e| e.file_name().to_string_lossy().into_owned()),
        );
    }
    placed.into_iter().map(|f| f.to_ascii_lowercase()).collect()
}

/// Copies an installed dependency's files into `root`; false when any is missing.
pub(super) fn stage_installed(dir: &Path, entry: &DepsEntry, root: &Path) -> bool {
    let ok = !entry.files.is_empty()
        && entry.files.iter().all(|f| {
            let (Some(from), Some(to)) = (manifest::inside(dir, f), manifest::inside(root, f))
            else {
                return false;
            };
            to.parent()
                .is_some_and(|p| std::fs::create_dir_all(p).is_ok())
                && std::fs::copy(from, to).is_ok()
        });
    if !ok {
        let _ = std::fs::remove_dir_all(root);
    }
    ok
}

pub(super) fn make_executable(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if path.is_file() {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
