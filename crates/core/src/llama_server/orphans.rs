//! The pid record (`<userData>/config/children/llama-server.json`): the running child's identity,
//! so that a llama-server left running by an earlier run that died without cleaning up (possible
//! where the OS has no parent-death signal) is killed before a new one starts.

use super::state::lock;
use super::LlamaServer;
use crate::logs::Level;
use crate::process;
use std::path::Path;

fn read_record(path: &Path) -> Option<process::Identity> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// After a child exited: the record may already describe a newer child, so it is removed only
/// when the process it names is gone.
pub(super) fn drop_record_if_gone(path: &Path) {
    if read_record(path).is_some_and(|r| process::identity(r.pid).is_none()) {
        let _ = std::fs::remove_file(path);
    }
}

impl LlamaServer {
    /// Kills the process the record names if it is still the llama-server that was recorded (and
    /// not ours, alive in this process); the record is removed.
    pub(super) fn reap_orphan(&self) {
        let Some(record) = read_record(&self.pid_record) else {
            return;
        };
        if lock(&self.state).pid() == Some(record.pid) {
            return;
        }
        if process::reap_orphan(&record) {
            self.binary_log(
                &format!(
                    "Killed llama-server (PID {}) left running by an earlier run",
                    record.pid
                ),
                Level::Warn,
            );
        }
        let _ = std::fs::remove_file(&self.pid_record);
    }

    pub(super) fn write_pid_record(&self, pid: u32) {
        let Some(identity) = process::identity(pid) else {
            return;
        };
        if let (Some(dir), Ok(bytes)) = (self.pid_record.parent(), serde_json::to_vec(&identity)) {
            let _ = std::fs::create_dir_all(dir);
            let _ = std::fs::write(&self.pid_record, bytes);
        }
    }
}
