//! `autoRestart`: after a crash, start again with the resolved config after 1 s, 2 s, 4 s … up to
//! `maxRestarts` (3) attempts since the caller's last `start()`. `stop()` cancels.

use super::state::lock;
use super::types::ServerEvent;
use super::LlamaServer;
use crate::logs::Level;
use std::time::Duration;

/// Upstream's default `maxRestarts`.
const MAX_RESTARTS: u32 = 3;

impl LlamaServer {
    pub(super) fn schedule_restart(&self) {
        let (config, attempt) = {
            let mut s = lock(&self.state);
            let Some(resolved) = s.config.clone() else {
                return;
            };
            let max = resolved
                .config
                .max_restarts
                .filter(|m| m.fract() == 0.0 && *m >= 0.0)
                .map_or(MAX_RESTARTS, |m| m as u32);
            if resolved.config.auto_restart != Some(true) || s.restarts >= max {
                return;
            }
            s.restarts += 1;
            (resolved.config, s.restarts)
        };
        let Some(runtime) = self.runtime() else {
            return;
        };
        let me = self.me.clone();
        let delay = Duration::from_millis(1000 * 2u64.pow(attempt - 1));
        let _ = self.log.write(
            &format!(
                "Restarting llama-server in {} ms (attempt {attempt})",
                delay.as_millis()
            ),
            Level::Warn,
        );
        runtime.spawn(async move {
            tokio::time::sleep(delay).await;
            let Some(server) = me.upgrade() else { return };
            let Ok(claim) = server.claim(false) else {
                return; // stopped or started by hand meanwhile
            };
            match server.start_claimed(claim, config).await {
                Ok(info) => server.emit(ServerEvent::Restarted(info)),
                Err(e) => {
                    let _ = server
                        .log
                        .write(&format!("Automatic restart failed: {e}"), Level::Error);
                    server.schedule_restart();
                }
            }
        });
    }
}
