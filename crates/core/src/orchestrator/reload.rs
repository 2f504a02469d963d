//! Offload and reload of the LLM: stop it keeping its resolved config; start it again with
//! that config (one retry after 2 s, as upstream), after the memory the image took has come
//! back (as Ollama waits for VRAM to recover before loading the next model).

use super::{lock, Orchestrator, OrchestratorEvent, SavedLlmState};
use crate::logs::Level;
use crate::{Error, Result};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Upstream's delay before the one retry of a reload.
pub const RELOAD_RETRY_DELAY: Duration = Duration::from_secs(2);
/// How often the available memory is read while waiting for it to come back.
pub const MEMORY_POLL: Duration = Duration::from_millis(250);
/// The longest wait for memory before reloading anyway.
pub const MEMORY_WAIT_LIMIT: Duration = Duration::from_secs(5);
/// The share of what the image took that must be back before the reload.
pub const MEMORY_BACK_SHARE: f64 = 0.75;

/// Available RAM before the image, and what the image took from it (measured after it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryMark {
    pub baseline: f64,
    pub took: f64,
}

/// The machine's available RAM moves by tens of MB on its own (other processes, the page
/// cache): what is within this of the baseline counts as back (measured: a 216 MB image left
/// 20–140 MB "missing" for seconds after sd-server had exited).
pub const MEMORY_NOISE_BYTES: f64 = 256.0 * 1024.0 * 1024.0;

impl MemoryMark {
    /// The available RAM at which ≥ 75 % of what the image took is back (within the noise).
    pub fn target(&self) -> f64 {
        let slack = ((1.0 - MEMORY_BACK_SHARE) * self.took).max(MEMORY_NOISE_BYTES);
        self.baseline - slack
    }
}

pub(super) async fn available_ram() -> f64 {
    tokio::task::spawn_blocking(|| crate::system::memory_info().available)
        .await
        .unwrap_or(0.0)
}

impl Orchestrator {
    /// `offloadLLM()`: stops a running LLM, keeping its resolved config (`getConfig()`: port,
    /// context, threads and flags as they were resolved).
    pub async fn offload_llm(&self) -> Result<()> {
        if !self.llm_running() {
            return Ok(());
        }
        let config = self
            .llama
            .config()
            .ok_or_else(|| Error::server("Cannot offload LLM: no configuration found", None))?;
        let saved_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_millis() as f64);
        *lock(&self.saved) = Some(SavedLlmState {
            config,
            was_running: true,
            saved_at_ms,
        });
        self.llama.stop().await
    }

    /// After an offloaded image: what it took from the available RAM, for the reload's wait.
    pub(super) async fn mark_memory(&self, baseline: f64) {
        let now = available_ram().await;
        *lock(&self.memory_mark) = Some(MemoryMark {
            baseline,
            took: (baseline - now).max(0.0),
        });
    }

    /// Waits (every 250 ms, 5 s at most) until ≥ 75 % of what the image took is available
    /// again.
    async fn wait_for_memory(&self) {
        let Some(mark) = lock(&self.memory_mark).take() else {
            return;
        };
        let deadline = Instant::now() + MEMORY_WAIT_LIMIT;
        loop {
            let available = available_ram().await;
            if available >= mark.target() {
                return;
            }
            if Instant::now() >= deadline {
                self.log(
                    &format!("Memory not back after {MEMORY_WAIT_LIMIT:?} ({available} of {} bytes): reloading anyway", mark.target()),
                    Level::Warn,
                );
                return;
            }
            tokio::time::sleep(MEMORY_POLL).await;
        }
    }

    /// `reloadLLM()`: starts the saved config (one retry after 2 s); the saved state is cleared
    /// once the LLM runs. A failure is kept for `wait_for_reload`, reported
    /// (`ReloadFailed`) and returned.
    pub async fn reload_llm(&self) -> Result<()> {
        let Some(saved) = lock(&self.saved).clone().filter(|s| s.was_running) else {
            return Ok(());
        };
        *lock(&self.reload_error) = None;
        self.wait_for_memory().await;
        let mut result = self.llama.start(saved.config.clone()).await;
        if let Err(e) = &result {
            self.log(&format!("First reload attempt failed: {e}"), Level::Warn);
            tokio::time::sleep(RELOAD_RETRY_DELAY).await;
            self.system.clear_cache();
            result = self.llama.start(saved.config).await;
        }
        match result {
            Ok(_) => {
                *lock(&self.saved) = None;
                Ok(())
            }
            Err(e) => {
                self.log(&format!("Failed to reload the LLM: {e}"), Level::Error);
                *lock(&self.reload_error) = Some(e.clone());
                self.emit(OrchestratorEvent::ReloadFailed(e.clone()));
                Err(e)
            }
        }
    }

    pub(super) fn reload_pending(&self) -> bool {
        lock(&self.pending).as_ref().is_some_and(|rx| !*rx.borrow())
    }

    /// A reload in the background; `wait_for_reload` joins it.
    pub(super) fn spawn_reload(&self) {
        let Some(me) = self.me.upgrade() else { return };
        let (done, rx) = tokio::sync::watch::channel(false);
        *lock(&self.pending) = Some(rx);
        *lock(&self.reload_error) = None;
        tokio::spawn(async move {
            let _ = me.reload_llm().await;
            done.send_replace(true);
        });
    }

    /// `waitForReload()`: resolves once the reload under way (if any) has ended; rejects with
    /// the error of the last reload when it failed.
    pub async fn wait_for_reload(&self) -> Result<()> {
        let rx = lock(&self.pending).clone();
        if let Some(mut rx) = rx {
            let _ = rx.wait_for(|done| *done).await;
        }
        match lock(&self.reload_error).clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_target_is_three_quarters_back() {
        const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
        let mark = MemoryMark {
            baseline: 10.0 * GIB,
            took: 4.0 * GIB,
        };
        assert_eq!(mark.target(), 9.0 * GIB);
        // A small image: the machine's own noise is the slack.
        let small = MemoryMark {
            baseline: 10.0 * GIB,
            took: 0.2 * GIB,
        };
        assert_eq!(small.target(), 10.0 * GIB - MEMORY_NOISE_BYTES);
    }
}
