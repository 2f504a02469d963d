//! The pid record (`<userData>/temp/children/llama-server.json`, a `process::PidRecord`): the
//! running child's identity, so that a llama-server left running by an earlier run that died
//! without cleaning up (possible where the OS has no parent-death signal) is killed before a new
//! one starts.

use super::state::lock;
use super::LlamaServer;
use crate::logs::Level;

impl LlamaServer {
    /// Kills the process the record names if it is still the llama-server that was recorded (and
    /// not ours, alive in this process); the record is removed.
    pub(super) fn reap_orphan(&self) {
        let ours = lock(&self.state).pid();
        if let Some(pid) = self.pid_record.reap(ours) {
            self.binary_log(
                &format!("Killed llama-server (PID {pid}) left running by an earlier run"),
                Level::Warn,
            );
        }
    }
}
