//! `healthCheckInterval`: a health check every interval while one server generation runs; three
//! failures in a row kill the hung server (its exit then counts as a crash, and `autoRestart`
//! applies).

use super::state::lock;
use super::types::{HealthCheckFailed, ServerEvent, ServerStatus};
use super::{LlamaServer, STOP_GRACE};
use crate::defaults;
use crate::llama::ResolvedConfig;
use crate::logs::Level;
use crate::{health, process};
use std::time::Duration;

/// Failed checks in a row that make a server count as hung.
const MAX_FAILURES: u32 = 3;

impl LlamaServer {
    pub(super) fn start_watchdog(&self, resolved: &ResolvedConfig) {
        let Some(interval) = resolved.config.health_check_interval.filter(|i| *i > 0.0) else {
            return;
        };
        let Some(runtime) = self.runtime() else {
            return;
        };
        let (me, host) = (self.me.clone(), resolved.probe_host());
        let generation = lock(&self.state).generation;
        runtime.spawn(async move {
            let mut failures = 0u32;
            loop {
                tokio::time::sleep(Duration::from_millis(interval as u64)).await;
                let Some(server) = me.upgrade() else { return };
                if !server.watch_once(generation, &host, &mut failures).await {
                    return;
                }
            }
        });
    }

    /// One check of `generation`; false once there is nothing more to watch.
    async fn watch_once(&self, generation: u64, host: &str, failures: &mut u32) -> bool {
        let (port, child) = {
            let s = lock(&self.state);
            if s.status != ServerStatus::Running || s.generation != generation {
                return false;
            }
            (s.port, s.child.clone())
        };
        let healthy = health::check_health(port, defaults::DEFAULT_TIMEOUTS.health_check, host)
            .await
            .is_ok();
        if lock(&self.state).status != ServerStatus::Running {
            return false;
        }
        if healthy {
            *failures = 0;
            self.emit(ServerEvent::HealthOk(self.info()));
            return true;
        }
        *failures += 1;
        self.emit(ServerEvent::HealthFailed(HealthCheckFailed {
            consecutive_failures: *failures,
            server_info: self.info(),
        }));
        if *failures < MAX_FAILURES {
            return true;
        }
        let _ = self.log.write(
            &format!(
                "Watchdog: {failures} consecutive health-check failures - killing hung process"
            ),
            Level::Error,
        );
        lock(&self.state).watchdog_kill = true;
        if let Some(child) = child {
            // A stopped (SIGSTOP) process only acts on SIGTERM once continued.
            process::signal_group(child.pid, process::Signal::Cont);
            let _ = tokio::task::spawn_blocking(move || child.stop(STOP_GRACE)).await;
        }
        false
    }
}
