//! The backend's residency: started on demand with the flags a generation needs (restarted when
//! they change), kept warm (`burst`, released after `idleTimeoutMs`) or released after the image
//! (`single`), released on request (the strongest reason is reported), and noticed when it dies.

use super::state::{lock, Prepared};
use super::{DiffusionEvent, DiffusionServer};
use crate::diffusion::backend::{self as sd, Backend, BackendSpec};
use crate::diffusion::constants::DIFFUSION_BACKEND_DEFAULTS as D;
use crate::diffusion::{
    args, BackendFlags, BackendState, BackendStatusEvent, ReleaseReason, StatusReason, UsageMode,
};
use crate::llama_server::ServerStatus;
use crate::logs::Level;
use crate::process::Exit;
use crate::{Error, Result};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

impl DiffusionServer {
    pub(super) fn set_backend_state(
        &self,
        state: BackendState,
        reason: Option<StatusReason>,
        exit: Option<Exit>,
    ) {
        let previous = std::mem::replace(&mut lock(&self.backend).state, state);
        if previous == state && reason.is_none() {
            return;
        }
        self.emit(DiffusionEvent::BackendStatus(BackendStatusEvent {
            state,
            previous,
            reason,
            exit: exit.map(|e| (e.code, e.signal_name())),
        }));
        if let (BackendState::Absent, Some(StatusReason::Release(r))) = (state, reason) {
            self.tell_released(r);
        }
    }

    /// `onBackendReleased`: the orchestrator may reload an LLM it offloaded.
    fn tell_released(&self, reason: ReleaseReason) {
        if let Some(o) = self.orchestrator() {
            o.on_backend_released(reason);
        }
    }

    /// `from` → `to` only while `handle` is still the backend in the slot (it may have died and
    /// been cleared meanwhile: then nothing changes and `false` comes back).
    pub(super) fn move_backend(
        &self,
        handle: &Arc<Backend>,
        from: BackendState,
        to: BackendState,
    ) -> bool {
        {
            let mut b = lock(&self.backend);
            let ours = b.handle.as_ref().is_some_and(|h| Arc::ptr_eq(h, handle));
            if !ours || b.state != from {
                return false;
            }
            if to == BackendState::Ready {
                b.last_used_at = Some(crate::clock::iso_now());
            }
        }
        self.set_backend_state(to, Some(StatusReason::Job), None);
        true
    }

    /// The backend with `flags`, started if absent (or restarted with other flags). `cancel`
    /// aborts a start under way (`SD_SERVER_START_ABORTED`).
    pub(super) async fn ensure_backend(
        &self,
        flags: BackendFlags,
        cancel: &CancellationToken,
    ) -> Result<Arc<Backend>> {
        for _ in 0..8 {
            if self.status() != ServerStatus::Running {
                return Err(super::not_running(self.status()));
            }
            let resident = {
                let b = lock(&self.backend);
                match (b.state, &b.handle) {
                    (BackendState::Ready | BackendState::Busy, Some(h)) => {
                        Some((h.clone(), b.flags == Some(flags)))
                    }
                    _ => None,
                }
            };
            match resident {
                Some((handle, true)) => return Ok(handle),
                Some((_, false)) => {
                    self.release_backend(ReleaseReason::FlagsChanged, false)
                        .await?
                }
                None => {
                    let _turn = self.transition.lock().await;
                    if lock(&self.backend).state != BackendState::Absent {
                        continue; // someone else started or is stopping it
                    }
                    return self.spawn_backend(flags, cancel).await;
                }
            }
        }
        Err(Error::server(
            "Could not settle the stable-diffusion.cpp backend state",
            Some(
                json!({ "code": "BACKEND_STATE_UNSETTLED", "state": self.backend_info().state,
                "suggestion": "Stop and restart the diffusion server" }),
            ),
        ))
    }

    /// Called with the `transition` lock held. `starting` and the abort token are published
    /// before the first await, so that a release from now on aborts this start.
    async fn spawn_backend(
        &self,
        flags: BackendFlags,
        cancel: &CancellationToken,
    ) -> Result<Arc<Backend>> {
        let start_cancel = cancel.child_token();
        lock(&self.backend).start_cancel = Some(start_cancel.clone());
        let epoch = self.backend_epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.set_backend_state(BackendState::Starting, Some(StatusReason::Spawned), None);
        self.track(|t, now| {
            t.spawning(now);
            None
        });
        let started = crate::clock::iso_now();
        let begun = Instant::now();
        let prepared = lock(&self.state).prepared.clone(); // (no guard across the await)
        let result = match prepared {
            Some(prepared) => self.launch(&prepared, flags, epoch, start_cancel).await,
            None => Err(super::not_running(self.status())),
        };
        lock(&self.backend).start_cancel = None;
        let handle = match result {
            Ok(h) => Arc::new(h),
            Err(e) => {
                self.set_backend_state(BackendState::Absent, Some(StatusReason::StartFailed), None);
                let _ = self.log.write(
                    &format!("sd-server backend failed to start: {e}"),
                    Level::Error,
                );
                return Err(e);
            }
        };
        {
            let mut b = lock(&self.backend);
            b.handle = Some(handle.clone());
            b.flags = Some(flags);
            b.started_at = Some(started);
            b.load_ms = Some(begun.elapsed().as_millis() as u64);
            b.last_used_at = None;
        }
        self.watch_exit(handle.clone());
        self.set_backend_state(BackendState::Ready, Some(StatusReason::Ready), None);
        let _ = self.log.write(
            &format!(
                "sd-server backend ready on port {} ({} ms)",
                handle.port, handle.load_time_ms
            ),
            Level::Info,
        );
        Ok(handle)
    }

    /// The argv (flags in the binary's dialect) and the child, ready to take jobs.
    async fn launch(
        &self,
        prepared: &Prepared,
        flags: BackendFlags,
        epoch: u64,
        start_cancel: CancellationToken,
    ) -> Result<Backend> {
        let model_args = crate::diffusion::args::model_args(&prepared.model)?;
        let binary = prepared.binary.clone();
        let dialect = tokio::task::spawn_blocking(move || args::detect_dialect(&binary))
            .await
            .unwrap_or(args::FlagDialect::Legacy);
        let config = &prepared.config;
        let spec = BackendSpec {
            binary: prepared.binary.clone(),
            model_args,
            context_args: args::optimization_args(&flags, dialect),
            threads: config.threads.filter(|t| *t > 0.0).map(|t| t as u32),
            lora_dir: self.loras_dir.clone(),
            host: crate::defaults::LOOPBACK_HOST.to_string(),
            port: None,
            ready_timeout: config
                .startup_timeout
                .map_or(Duration::from_millis(D.ready_timeout_ms), |ms| {
                    Duration::from_millis(ms as u64)
                }),
            stop_timeout: Duration::from_millis(D.stop_timeout_ms),
            pid_record: self.pid_record.clone(),
        };
        let _ = self.log.write(
            &format!(
                "Starting sd-server backend: {} {}",
                spec.binary.display(),
                [spec.model_args.clone(), spec.context_args.clone()]
                    .concat()
                    .join(" ")
            ),
            Level::Info,
        );
        sd::start(spec, self.line_sink(epoch), start_cancel).await
    }

    /// A backend that ends by itself (killed, crashed) is forgotten and reported (`crashed`);
    /// the generation polling it fails on its own (it sees the exit).
    fn watch_exit(&self, handle: Arc<Backend>) {
        let me = self.me.clone();
        tokio::spawn(async move {
            let exit = handle.wait_exit().await;
            let Some(server) = me.upgrade() else { return };
            {
                let mut b = lock(&server.backend);
                let current = b.handle.as_ref().is_some_and(|h| Arc::ptr_eq(h, &handle));
                if !current || b.state == BackendState::Stopping {
                    return;
                }
                b.disarm_idle();
                b.clear();
            }
            let _ = server.log.write(
                &format!("sd-server backend exited unexpectedly ({exit})"),
                Level::Error,
            );
            server.set_backend_state(
                BackendState::Absent,
                Some(StatusReason::Release(ReleaseReason::Crashed)),
                Some(exit),
            );
        });
    }

    /// `releaseBackend({ reason, waitForInFlight })`: stops the backend (if any) and reports
    /// `absent` with the reason. A start under way is aborted; a stop under way is joined.
    pub async fn release_backend(
        &self,
        reason: ReleaseReason,
        wait_for_in_flight: bool,
    ) -> Result<()> {
        lock(&self.backend).disarm_idle();
        if wait_for_in_flight {
            let claim = lock(&self.state).claim.clone();
            if let Some(claim) = claim {
                let mut done = claim.done.subscribe();
                let _ = done.wait_for(|d| *d).await;
            }
        }
        {
            let mut b = lock(&self.backend);
            if let Some(c) = &b.start_cancel {
                c.cancel();
            }
            if b.stop_reason.is_none_or(|r| reason.rank() > r.rank()) {
                b.stop_reason = Some(reason);
            }
        }
        let _turn = self.transition.lock().await;
        self.stop_backend(reason, None).await
    }

    /// Stops the backend; the caller holds the `transition` lock. `only_idle`: only if that
    /// backend is still the one, and `ready` (a generation that moved it to `busy` first wins;
    /// one that comes later finds it `stopping` and starts another).
    async fn stop_backend(
        &self,
        reason: ReleaseReason,
        only_idle: Option<&Arc<Backend>>,
    ) -> Result<()> {
        let (handle, reason, previous) = {
            let mut b = lock(&self.backend);
            if let Some(idle) = only_idle {
                let same = b.handle.as_ref().is_some_and(|h| Arc::ptr_eq(h, idle));
                if !same || b.state != BackendState::Ready {
                    return Ok(());
                }
            }
            let reason = b.stop_reason.take().unwrap_or(reason);
            let Some(handle) = b.handle.clone() else {
                // Nothing runs (no start is under way either: the transition lock is ours),
                // whatever the state says.
                let previous = std::mem::replace(&mut b.state, BackendState::Absent);
                drop(b);
                if previous != BackendState::Absent {
                    self.announce(previous, BackendState::Absent, reason, None);
                }
                return Ok(());
            };
            let previous = std::mem::replace(&mut b.state, BackendState::Stopping);
            b.stop_reason = Some(reason);
            (handle, reason, previous)
        };
        self.announce(previous, BackendState::Stopping, reason, None);
        let stopped = handle
            .stop(Some(Duration::from_millis(D.stop_timeout_ms)))
            .await;
        if let Err(e) = &stopped {
            let _ = self.log.write(
                &format!("Failed to stop the sd-server backend cleanly: {e}"),
                Level::Error,
            );
        }
        let reason = {
            let mut b = lock(&self.backend);
            b.clear();
            b.stop_reason.take().unwrap_or(reason)
        };
        self.set_backend_state(
            BackendState::Absent,
            Some(StatusReason::Release(reason)),
            None,
        );
        stopped
    }

    fn announce(
        &self,
        previous: BackendState,
        state: BackendState,
        reason: ReleaseReason,
        exit: Option<Exit>,
    ) {
        self.emit(DiffusionEvent::BackendStatus(BackendStatusEvent {
            state,
            previous,
            reason: Some(StatusReason::Release(reason)),
            exit: exit.map(|e| (e.code, e.signal_name())),
        }));
        if state == BackendState::Absent {
            self.tell_released(reason);
        }
    }

    /// `resolveUsageMode(requestMode, llmWasOffloaded)`: the request's mode, else the server's,
    /// else `single` when the LLM had to make room and `burst` otherwise.
    pub fn resolve_usage_mode(
        &self,
        request: Option<UsageMode>,
        llm_was_offloaded: bool,
    ) -> UsageMode {
        request
            .or_else(|| {
                lock(&self.state)
                    .config
                    .as_ref()
                    .and_then(|c| c.fixed_usage_mode())
            })
            .unwrap_or(if llm_was_offloaded {
                UsageMode::Single
            } else {
                UsageMode::Burst
            })
    }

    /// `settleResidency(mode)`: `single` releases the backend now; `burst` arms the idle timer.
    pub async fn settle_residency(&self, mode: UsageMode) -> Result<()> {
        match mode {
            UsageMode::Single => self.release_backend(ReleaseReason::Single, false).await,
            UsageMode::Burst => {
                self.arm_idle_timer();
                Ok(())
            }
        }
    }

    /// After `idleTimeoutMs` without a generation, the backend is released (`idle-timeout`). A
    /// generation that takes the slot first disarms it; one that comes while it fires wins.
    fn arm_idle_timer(&self) {
        let idle_ms = lock(&self.state)
            .config
            .as_ref()
            .and_then(|c| c.idle_timeout_ms)
            .unwrap_or(D.idle_timeout_ms as f64);
        let mut b = lock(&self.backend);
        b.disarm_idle();
        let Some(handle) = b.handle.clone() else {
            return;
        };
        if b.state != BackendState::Ready || !idle_ms.is_finite() || idle_ms <= 0.0 {
            return;
        }
        let token = CancellationToken::new();
        b.idle_timer = Some(token.clone());
        let me = self.me.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(idle_ms as u64)) => {}
                _ = token.cancelled() => return,
            }
            let Some(server) = me.upgrade() else { return };
            let _turn = server.transition.lock().await;
            if !token.is_cancelled() && lock(&server.state).claim.is_none() {
                let _ = server
                    .stop_backend(ReleaseReason::IdleTimeout, Some(&handle))
                    .await;
            }
        });
    }
}
