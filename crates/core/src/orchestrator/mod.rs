//! `ResourceOrchestrator`: one GPU (or one machine's RAM) shared by the LLM and image
//! generation. Before an image, the LLM is stopped when both would not fit (its resolved
//! config kept); after it, the LLM is started again in the background with that config, once
//! the memory the image used has come back. Starting the LLM releases a resident `burst`
//! backend when both would not fit (`prepare_for_llm_start`). A failed reload is kept and
//! reported (`OrchestratorEvent::ReloadFailed`, `wait_for_reload`).
//!
//! `usage` holds the decision; `reload` the offload, the reload and the wait for memory.

mod reload;
pub mod usage;

use crate::diffusion::{BackendState, ImageRequest, ReleaseReason, UsageMode};
use crate::diffusion_server::DiffusionServer;
use crate::llama::LlamaServerConfig;
use crate::llama_server::{LlamaServer, ServerStatus};
use crate::logs::Level;
use crate::system::SystemInfo;
use crate::{Error, Result};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
pub use usage::{Resources, Usage};

/// `SavedLLMState`: the LLM's resolved config when it was stopped for an image.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedLlmState {
    pub config: LlamaServerConfig,
    pub was_running: bool,
    /// Milliseconds since the epoch.
    pub saved_at_ms: f64,
}

/// What the orchestrator tells its host.
#[derive(Debug, Clone)]
pub enum OrchestratorEvent {
    /// A background (or direct) reload failed after its retry; the error is kept for
    /// `wait_for_reload`.
    ReloadFailed(Error),
}

pub type OrchestratorSink = Arc<dyn Fn(OrchestratorEvent) + Send + Sync>;

/// The image size when none is known (an LLM about to start, `wouldNeedOffload()`):
/// upstream's default, 512×512.
const DEFAULT_IMAGE: (u32, u32) = (512, 512);

pub struct Orchestrator {
    me: Weak<Orchestrator>,
    llama: Arc<LlamaServer>,
    diffusion: Weak<DiffusionServer>,
    system: Arc<SystemInfo>,
    /// Bytes treated as the VRAM (or the available RAM on a CPU machine) for every decision.
    budget: Option<f64>,
    saved: Mutex<Option<SavedLlmState>>,
    /// The reload under way: `true` once it has ended.
    pending: Mutex<Option<tokio::sync::watch::Receiver<bool>>>,
    /// The last reload's error, until the next reload begins or `clear_saved_state()`.
    reload_error: Mutex<Option<Error>>,
    /// Available RAM before the image, and what the image took from it.
    memory_mark: Mutex<Option<reload::MemoryMark>>,
    events: Option<OrchestratorSink>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Orchestrator {
    /// `budget`: `GENAI_MEMORY_BUDGET_BYTES` or the constructor's option (non-positive or
    /// non-finite values are ignored).
    pub fn new(
        llama: Arc<LlamaServer>,
        diffusion: &Arc<DiffusionServer>,
        system: Arc<SystemInfo>,
        budget: Option<f64>,
        events: Option<OrchestratorSink>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Orchestrator {
            me: me.clone(),
            llama,
            diffusion: Arc::downgrade(diffusion),
            system,
            budget: budget.filter(|b| b.is_finite() && *b > 0.0),
            saved: Mutex::new(None),
            pending: Mutex::new(None),
            reload_error: Mutex::new(None),
            memory_mark: Mutex::new(None),
            events,
        })
    }

    pub fn budget(&self) -> Option<f64> {
        self.budget
    }

    fn log(&self, line: &str, level: Level) {
        let _ = self
            .llama
            .log()
            .write(&format!("[Orchestrator] {line}"), level);
    }

    fn llm_running(&self) -> bool {
        self.llama.status() == ServerStatus::Running
    }

    /// `orchestrateImageGeneration` / `orchestrateBatchGeneration`: `run` is the generation
    /// (in a slot the caller took). A pending reload is awaited first (its failure does not
    /// stop the image); the LLM is offloaded when needed; afterwards the residency settles and
    /// the LLM is reloaded in the background (`single`), also when `run` failed.
    pub async fn orchestrate<T>(
        &self,
        diffusion: &DiffusionServer,
        request: &ImageRequest,
        run: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let usage_mode = request.usage_mode;
        let _ = self.wait_for_reload().await;
        let size = (request.width.unwrap_or(512), request.height.unwrap_or(512));
        let offload = self.llm_running() && self.needs_offload(None, size).await;
        if offload {
            self.log("Resources constrained: offloading the LLM", Level::Info);
            self.offload_llm().await?;
        }
        let baseline = reload::available_ram().await;
        let result = run.await;
        if offload {
            self.mark_memory(baseline).await;
        }
        let mode = diffusion.resolve_usage_mode(usage_mode, offload);
        if let Err(e) = diffusion.settle_residency(mode).await {
            self.log(
                &format!("Failed to settle diffusion residency: {e}"),
                Level::Warn,
            );
        }
        let saved = lock(&self.saved).is_some();
        if mode == UsageMode::Single && saved && !self.reload_pending() {
            self.spawn_reload();
        }
        result
    }

    /// `onDiffusionBackendReleased(reason)`: a backend released for a reason that ends its
    /// residency restores an LLM that was offloaded for it.
    pub fn on_backend_released(&self, reason: ReleaseReason) {
        use ReleaseReason::*;
        if !matches!(
            reason,
            IdleTimeout | Explicit | Crashed | Stop | Cancel | Stuck
        ) {
            return;
        }
        if self.llm_running() {
            *lock(&self.saved) = None;
            return;
        }
        if lock(&self.saved).is_none() || self.reload_pending() {
            return;
        }
        self.log(
            &format!("Backend released ({reason}): reloading the LLM"),
            Level::Info,
        );
        self.spawn_reload();
    }

    /// `prepareForLLMStart({ config })`: a resident backend (`starting`, `ready`, `busy`) is
    /// released (`llm-start`, after the image in flight) when it and the LLM would not fit.
    pub async fn prepare_for_llm_start(&self, config: &LlamaServerConfig) -> Result<()> {
        let Some(diffusion) = self.diffusion.upgrade() else {
            return Ok(());
        };
        let state = diffusion.backend_info().state;
        if !matches!(
            state,
            BackendState::Starting | BackendState::Ready | BackendState::Busy
        ) {
            return Ok(());
        }
        if !self.needs_offload(Some(config), DEFAULT_IMAGE).await {
            return Ok(());
        }
        self.log(
            "LLM start: releasing the diffusion backend to make room",
            Level::Info,
        );
        diffusion
            .release_backend(ReleaseReason::LlmStart, true)
            .await
    }

    /// Registers `prepare_for_llm_start` as the LLM's core pre-start hook (as upstream's
    /// diffusion server registers it); the id unregisters it (`LlamaServer::unregister_pre_start_hook`).
    pub fn register_pre_start_hook(&self) -> u64 {
        let me = self.me.clone();
        self.llama
            .register_pre_start_hook(Arc::new(move |config: LlamaServerConfig| {
                let me = me.clone();
                Box::pin(async move {
                    match me.upgrade() {
                        Some(o) => o.prepare_for_llm_start(&config).await,
                        None => Ok(()),
                    }
                })
            }))
    }

    pub fn unregister_pre_start_hook(&self, id: u64) {
        self.llama.unregister_pre_start_hook(id);
    }

    /// `wouldNeedOffload()`.
    pub async fn would_need_offload(&self) -> bool {
        self.needs_offload(None, DEFAULT_IMAGE).await
    }

    /// `needsOffloadForImage(llmConfigOverride)`: the LLM's usage (the running one's, or the
    /// one about to start) and the diffusion model's, against the memory (or the budget).
    /// `image`: the size of the image to come (sd.cpp's compute buffers grow with it).
    async fn needs_offload(
        &self,
        llm_override: Option<&LlamaServerConfig>,
        image: (u32, u32),
    ) -> bool {
        let config = match llm_override {
            Some(c) => Some(c.clone()),
            None if self.llm_running() => self.llama.config(),
            None => None,
        };
        let diffusion_model = self
            .diffusion
            .upgrade()
            .and_then(|d| d.config())
            .map(|c| c.model_id);
        let system = self.system.clone();
        let models = self.llama.models().clone();
        let overriding = llm_override.is_some();
        let decided = tokio::task::spawn_blocking(move || {
            let caps = system.detect(false);
            let gpu_vram = caps.gpu.vram.filter(|_| caps.gpu.available);
            let res = Resources {
                gpu_vram,
                available_ram: crate::system::memory::memory_info().available,
            };
            let llm = config
                .and_then(|c| {
                    let model = models.storage.find(c.model_id.as_deref()?).ok()?;
                    let total = model.sizing_view().layer_count();
                    // A start that leaves gpuLayers to auto: what getOptimalConfig would pick
                    // (upstream's estimateAutoGpuLayers), else all layers on a GPU, else none.
                    let fallback = if gpu_vram.is_some() { total } else { 0.0 };
                    let layers = match c.gpu_layers {
                        Some(l) => l,
                        None if overriding => system
                            .optimal_config(&model.sizing_view(), &c.hints())
                            .ok()
                            .and_then(|o| o.gpu_layers)
                            .filter(|l| l.is_finite())
                            .unwrap_or(fallback),
                        None => 0.0,
                    };
                    Some(usage::usage_llm(&model, &c, layers))
                })
                .unwrap_or_default();
            let diffusion = diffusion_model.and_then(|id| models.storage.find(&id).ok());
            let gpu = caps.gpu.available.then_some(&caps.gpu);
            let diffusion = usage::usage_diffusion(diffusion.as_ref(), gpu, image.0, image.1);
            (res, llm, diffusion)
        })
        .await;
        let Ok((res, llm, diffusion)) = decided else {
            return false;
        };
        let needs = usage::needs_offload(res, llm, diffusion, self.budget);
        self.log(
            &format!(
                "Decision: LLM {llm:?}, diffusion {diffusion:?}, {res:?}, budget {:?}: offload {needs}",
                self.budget
            ),
            Level::Info,
        );
        needs
    }

    /// `getSavedState()`.
    pub fn saved_state(&self) -> Option<SavedLlmState> {
        lock(&self.saved).clone()
    }

    /// `clearSavedState()`: also forgets a failed reload's error.
    pub fn clear_saved_state(&self) {
        *lock(&self.saved) = None;
        *lock(&self.reload_error) = None;
    }

    fn emit(&self, event: OrchestratorEvent) {
        if let Some(sink) = &self.events {
            sink(event);
        }
    }
}
