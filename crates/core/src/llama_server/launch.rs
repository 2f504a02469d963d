//! Starting the real binary: spawn with the argv, notice readiness as soon as it is ready (fast
//! health polling, early exit detection), read what it runs with from `/props`, and turn its
//! output into log lines and its exit into `stopped` or `crashed`.

use super::state::{cancelled_by_stop, lock, Capacity};
use super::types::{LlamaServerReadyState, ServerEvent, ServerInfo, ServerStatus};
use super::LlamaServer;
use crate::callback::Reply;
use crate::defaults;
use crate::llama::{self, ResolvedConfig};
use crate::logs::{classify_llama_line, Level};
use crate::process::{self, Event};
use crate::{health, Error, ErrorCode, Result};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Upstream's default `startupTimeout`.
const STARTUP_TIMEOUT: Duration = defaults::DEFAULT_TIMEOUTS.server_start;
/// Readiness is noticed within this, and an early exit too.
const POLL: Duration = Duration::from_millis(25);

impl LlamaServer {
    /// Spawns llama-server and resolves to `getInfo()` once it answers `/health` with ok and its
    /// `/props` agree with the configuration; `ready` and `started` are emitted then.
    pub(super) async fn launch(
        &self,
        binary: &Path,
        model_path: &str,
        resolved: &ResolvedConfig,
    ) -> Result<ServerInfo> {
        let args = llama::build_args(resolved, model_path);
        let _ = self.log.write(
            &format!("Starting llama-server on port {}", resolved.port),
            Level::Info,
        );
        let _ = self.log.write(
            &format!("Command: {} {}", binary.display(), args.join(" ")),
            Level::Info,
        );
        let spec = process::Spec {
            program: binary.to_path_buf(),
            args,
            ..Default::default()
        };
        let started = Instant::now();
        let child = Arc::new(process::spawn(&spec, self.output_sink()).map_err(|e| {
            Error::new(
                ErrorCode::Binary,
                format!("Failed to spawn llama-server: {e}"),
                Some(json!({ "path": binary.to_string_lossy() })),
            )
        })?);
        {
            let mut s = lock(&self.state);
            s.child = Some(child.clone());
            s.config = Some(resolved.clone());
        }
        self.pid_record.write(child.pid);
        let _ = self.log.write(
            &format!(
                "Process spawned with PID {}, waiting for health check...",
                child.pid
            ),
            Level::Info,
        );
        self.wait_until_ready(&child, resolved, started).await?;
        let load_ms = started.elapsed().as_millis() as u64;
        let capacity = read_capacity(resolved).await?;
        let ready = {
            let mut s = lock(&self.state);
            s.started_at = Some(crate::clock::iso_now());
            s.load_ms = Some(load_ms);
            s.generation += 1;
            s.capacity = Some(capacity);
            LlamaServerReadyState {
                server_generation: s.generation,
                model_id: resolved.model_id().to_string(),
                port: resolved.port,
                configured_context_size: capacity.configured,
                effective_context_size: capacity.effective,
                effective_parallel_requests: capacity.slots,
                started_at: s.started_at.clone().unwrap_or_default(),
            }
        };
        let _ = self.log.write("Server is running and healthy", Level::Info);
        self.set_status(ServerStatus::Running);
        let info = self.info();
        self.emit(ServerEvent::Ready(ready));
        self.emit(ServerEvent::Started(info.clone()));
        super::heard::check_start().await?;
        self.start_watchdog(resolved);
        Ok(info)
    }

    /// Polls `/health` until ok; fails when the child exits, `stop()` is called, or
    /// `startupTimeout` passes.
    async fn wait_until_ready(
        &self,
        child: &process::Child,
        resolved: &ResolvedConfig,
        started: Instant,
    ) -> Result<()> {
        let timeout = resolved
            .config
            .startup_timeout
            .map_or(STARTUP_TIMEOUT, |ms| Duration::from_millis(ms as u64));
        let host = resolved.probe_host();
        loop {
            if let Some(exit) = child.exit() {
                let last = self.log.recent(20).unwrap_or_default();
                return Err(Error::server(
                    format!("llama-server exited during startup ({exit})"),
                    Some(json!({ "code": exit.code, "signal": exit.signal, "lastLogs": last })),
                ));
            }
            if lock(&self.state).stop_requested {
                return Err(cancelled_by_stop());
            }
            let health = health::check_health(resolved.port, Duration::from_secs(2), &host).await;
            if health.is_ok() {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(Error::server(
                    format!(
                        "Server health check timeout after {}ms",
                        timeout.as_millis()
                    ),
                    Some(json!({ "port": resolved.port, "timeout": timeout.as_millis() as u64 })),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Output lines → the log file (levels mapped); the exit → `stopped` or `crashed` (and an
    /// automatic restart after a crash).
    fn output_sink(&self) -> process::EventFn {
        let log = self.log.clone();
        let state = self.state.clone();
        let events = self.events.clone();
        let me = self.me.clone();
        let record = self.pid_record.clone();
        Arc::new(move |event| match event {
            Event::Stdout(line) | Event::Stderr(line) => {
                let (level, message) = classify_llama_line(&line);
                let _ = log.write(&message, level);
            }
            Event::Exited(exit) => {
                record.drop_if_gone();
                let Some(new) = lock(&state).record_exit(&exit) else {
                    return;
                };
                let _ = log.write(&format!("llama-server exited ({exit})"), Level::Error);
                // Not within an operation: a listener's throw is the host's (see `heard`).
                let status = ServerEvent::Status {
                    new,
                    old: ServerStatus::Running,
                };
                events(status, Reply::Nobody);
                if new == ServerStatus::Stopped {
                    events(ServerEvent::Stopped, Reply::Nobody);
                    return;
                }
                events(ServerEvent::Crashed(exit), Reply::Nobody);
                if let Some(server) = me.upgrade() {
                    server.schedule_restart();
                }
            }
        })
    }
}

/// What the server really runs with (it may fit a smaller context), as upstream reads it.
async fn read_capacity(resolved: &ResolvedConfig) -> Result<Capacity> {
    let parallel = resolved
        .config
        .parallel_requests
        .map_or(1, |p| p as u64)
        .max(1);
    let (effective, slots) = health::runtime_capacity(
        resolved.port,
        &resolved.probe_host(),
        parallel,
        Duration::from_secs(5),
    )
    .await?;
    Ok(Capacity {
        configured: resolved.config.context_size,
        effective,
        slots,
    })
}
