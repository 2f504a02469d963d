//! Installing by rename: a variant is assembled in a sibling `<type>.candidate-<tx>/` folder and
//! swapped in with two renames, the previous folder kept as `<type>.backup-<tx>/` until the new
//! one is in place (upstream's names). A half-installed binary is never at `binaries/<type>/`,
//! and a crash between the two renames is repaired by the next call: the backup is put back.

use crate::{Error, ErrorCode, Result};
use serde_json::json;
use std::path::{Path, PathBuf};

/// `binaries/<type>` and the siblings an install uses.
pub struct Slot {
    pub dir: PathBuf,
}

impl Slot {
    pub fn new(dir: &Path) -> Slot {
        Slot {
            dir: dir.to_path_buf(),
        }
    }

    fn name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// `<type>.<what>-<tx>` next to the folder.
    pub fn sibling(&self, what: &str, tx: &str) -> PathBuf {
        self.dir
            .with_file_name(format!("{}.{what}-{tx}", self.name()))
    }

    /// Siblings `<type>.<what>-*`, with the process id their transaction starts with.
    fn siblings(&self, what: &str) -> Vec<(PathBuf, Option<u32>)> {
        let prefix = format!("{}.{what}-", self.name());
        let Some(parent) = self.dir.parent() else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(parent) else {
            return Vec::new();
        };
        let mut found: Vec<(PathBuf, Option<u32>)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let tx = name.strip_prefix(&prefix)?.to_string();
                let pid = tx.split('-').next().and_then(|p| p.parse().ok());
                Some((e.path(), pid))
            })
            .collect();
        found.sort();
        found
    }

    /// Repairs what an interrupted install left: with no folder, the newest backup is put back;
    /// leftovers of processes that are gone are removed. Returns what it did, for the log.
    pub fn recover(&self) -> Vec<String> {
        let mut done = Vec::new();
        let foreign = |pid: Option<u32>| {
            pid.is_some_and(|p| p != std::process::id() && !crate::process::is_alive(p))
        };
        let backups = self.siblings("backup");
        if !self.dir.exists() {
            if let Some((backup, _)) = backups
                .iter()
                .rev()
                .find(|(_, pid)| foreign(*pid) || pid.is_none())
            {
                if std::fs::rename(backup, &self.dir).is_ok() {
                    done.push(format!(
                        "Restored the previous binaries from {} (an install was interrupted)",
                        backup.display()
                    ));
                }
            }
        }
        for (path, pid) in self
            .siblings("backup")
            .into_iter()
            .chain(self.siblings("candidate"))
        {
            if foreign(pid) && std::fs::remove_dir_all(&path).is_ok() {
                done.push(format!("Removed the leftover {}", path.display()));
            }
        }
        done
    }

    /// Puts `candidate` in place of the folder; on failure the previous folder is back.
    pub fn swap_in(&self, candidate: &Path, tx: &str) -> Result<()> {
        let backup = self.sibling("backup", tx);
        let had = self.dir.exists();
        if had {
            std::fs::rename(&self.dir, &backup)
                .map_err(|e| failed("move the installed binaries aside", &self.dir, &e))?;
        }
        if let Err(commit) = std::fs::rename(candidate, &self.dir) {
            let mut details =
                json!({ "commitError": commit.to_string(), "path": self.dir.to_string_lossy() });
            if had {
                if let Err(restore) = std::fs::rename(&backup, &self.dir) {
                    details["restoreError"] = json!(restore.to_string());
                    details["priorInstallBackupDir"] = json!(backup.to_string_lossy());
                    return Err(Error::new(
                        ErrorCode::Binary,
                        "Binary installation failed and prior install restoration failed",
                        Some(details),
                    ));
                }
            }
            return Err(Error::new(
                ErrorCode::Binary,
                format!("Binary installation failed: {commit}"),
                Some(details),
            ));
        }
        let _ = std::fs::remove_dir_all(&backup);
        Ok(())
    }
}

fn failed(what: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::new(
        ErrorCode::Binary,
        format!("Binary installation failed: could not {what}: {e}"),
        Some(json!({ "path": path.to_string_lossy(), "error": e.to_string() })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("genai-slot-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn swap_replaces_and_removes_the_backup() {
        let root = tmp("swap");
        let slot = Slot::new(&root.join("llama"));
        std::fs::create_dir_all(&slot.dir).unwrap();
        std::fs::write(slot.dir.join("old"), "1").unwrap();
        let cand = slot.sibling("candidate", "1-2-cpu");
        std::fs::create_dir_all(&cand).unwrap();
        std::fs::write(cand.join("new"), "2").unwrap();
        slot.swap_in(&cand, "1-2-cpu").unwrap();
        assert!(slot.dir.join("new").exists() && !slot.dir.join("old").exists());
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 1);
        // A candidate that is not there: the installed folder stays.
        assert!(slot.swap_in(&root.join("nothing"), "1-3-cpu").is_err());
        assert!(slot.dir.join("new").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn recover_puts_back_a_backup_left_by_a_dead_process() {
        let root = tmp("recover");
        let slot = Slot::new(&root.join("llama"));
        // A process that no longer exists: pid 0x7fff_fff0 is never a live pid here.
        let dead = format!("{}-1-cpu", 0x7fff_fff0u32);
        let backup = slot.sibling("backup", &dead);
        let cand = slot.sibling("candidate", &dead);
        std::fs::create_dir_all(&backup).unwrap();
        std::fs::write(backup.join("llama-server"), "old").unwrap();
        std::fs::create_dir_all(&cand).unwrap();
        let done = slot.recover();
        assert_eq!(done.len(), 2, "{done:?}");
        assert_eq!(
            std::fs::read_to_string(slot.dir.join("llama-server")).unwrap(),
            "old"
        );
        assert!(!cand.exists() && !backup.exists());
        // Our own (live) transaction is left alone.
        let mine = slot.sibling("candidate", &format!("{}-1-cpu", std::process::id()));
        std::fs::create_dir_all(&mine).unwrap();
        assert!(slot.recover().is_empty());
        assert!(mine.exists());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
