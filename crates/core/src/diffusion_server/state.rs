//! The supervisor's state: the front's status, the resident backend, the one generation slot.

use crate::diffusion::backend::Backend;
use crate::diffusion::{
    BackendFlags, BackendInfo, BackendState, DiffusionServerConfig, ReleaseReason,
};
use crate::llama_server::ServerStatus;
use crate::models::ModelInfo;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The sd-server child and what `getBackendInfo()` says about it.
#[derive(Default)]
pub(super) struct BackendSlot {
    pub state: BackendState,
    pub handle: Option<Arc<Backend>>,
    pub flags: Option<BackendFlags>,
    pub started_at: Option<String>,
    pub load_ms: Option<u64>,
    pub last_used_at: Option<String>,
    /// Why it is being released (the strongest reason wins while it stops).
    pub stop_reason: Option<ReleaseReason>,
    /// Cancels a start under way (a release while it starts aborts it).
    pub start_cancel: Option<CancellationToken>,
    /// Cancels the idle-release timer of `burst` mode (a token, not an abort: a release that
    /// has begun runs to its end).
    pub idle_timer: Option<CancellationToken>,
}

impl BackendSlot {
    pub fn info(&self) -> BackendInfo {
        BackendInfo {
            state: self.state,
            pid: self.handle.as_ref().map(|h| h.pid),
            started_at: self.started_at.clone(),
            load_time_ms: self.load_ms,
            last_used_at: self.last_used_at.clone(),
            flags: self.flags,
        }
    }

    /// Forgets the child (it is gone or being stopped by the caller).
    pub fn clear(&mut self) -> Option<Arc<Backend>> {
        self.flags = None;
        self.started_at = None;
        self.load_ms = None;
        self.last_used_at = None;
        self.handle.take()
    }

    pub fn disarm_idle(&mut self) {
        if let Some(t) = self.idle_timer.take() {
            t.cancel();
        }
    }
}

/// The one generation at a time (`generateImage` or an HTTP generation).
pub(super) struct Claim {
    /// The HTTP generation's id (`getActiveGenerationId()`); none for `generateImage`.
    pub id: Mutex<Option<String>>,
    pub cancel: CancellationToken,
    pub cancel_requested: AtomicBool,
    /// Closed when the generation ends (`releaseBackend({ waitForInFlight })`).
    pub done: tokio::sync::watch::Sender<bool>,
}

impl Claim {
    pub fn new() -> Arc<Self> {
        Arc::new(Claim {
            id: Mutex::new(None),
            cancel: CancellationToken::new(),
            cancel_requested: AtomicBool::new(false),
            done: tokio::sync::watch::channel(false).0,
        })
    }

    pub fn request_cancel(&self) {
        self.cancel_requested.store(true, Ordering::SeqCst);
        self.cancel.cancel();
    }

    pub fn id(&self) -> Option<String> {
        lock(&self.id).clone()
    }

    pub fn cancelled(&self) -> bool {
        self.cancel_requested.load(Ordering::SeqCst)
    }
}

/// What `start()` resolved, for the backend it starts later.
#[derive(Clone)]
pub(super) struct Prepared {
    pub config: DiffusionServerConfig,
    pub model: ModelInfo,
    pub binary: PathBuf,
    pub host: String,
}

#[derive(Default)]
pub(super) struct State {
    pub status: ServerStatus,
    pub port: u16,
    pub started_at: Option<String>,
    /// The last `start()` configuration (`getConfig()`; kept after stop).
    pub config: Option<DiffusionServerConfig>,
    pub prepared: Option<Prepared>,
    pub front: Option<crate::diffusion::front::Front>,
    pub claim: Option<Arc<Claim>>,
    /// A `start()` is under way.
    pub start_claimed: bool,
}
