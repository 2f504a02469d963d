//! A pid record (`<userData>/temp/children/<server>.json`): a running child's identity, so that
//! a child left running by an earlier run that died without cleaning up (possible where the OS
//! has no parent-death signal) is killed before a new one starts. One implementation for every
//! server we supervise; each has its own record file.

use super::Identity;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidRecord {
    path: PathBuf,
}

impl PidRecord {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        PidRecord { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The identity recorded, if the file holds one.
    pub fn read(&self) -> Option<Identity> {
        let bytes = std::fs::read(&self.path).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Records `pid` (with its start time and executable) once it is running. Best effort: a
    /// record that cannot be written only loses the reaping after a crash of ours.
    pub fn write(&self, pid: u32) {
        let Some(identity) = super::identity(pid) else {
            return;
        };
        if let (Some(dir), Ok(bytes)) = (self.path.parent(), serde_json::to_vec(&identity)) {
            let _ = std::fs::create_dir_all(dir);
            let _ = std::fs::write(&self.path, bytes);
        }
    }

    /// After a child exited: the record may already describe a newer child, so it is removed only
    /// when the process it names is gone.
    pub fn drop_if_gone(&self) {
        if self
            .read()
            .is_some_and(|r| super::identity(r.pid).is_none())
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// Kills the process the record names if it is still the one recorded (same pid, start time
    /// and executable) and not ours (`ours`, or any child alive in this process); the record is
    /// removed. Returns the pid it killed. Blocking (up to 2 s while the process dies).
    pub fn reap(&self, ours: Option<u32>) -> Option<u32> {
        let record = self.read()?;
        if ours == Some(record.pid) || super::spawn::is_live_child(record.pid) {
            return None;
        }
        let reaped = super::reap_orphan(&record).then_some(record.pid);
        let _ = std::fs::remove_file(&self.path);
        reaped
    }
}
