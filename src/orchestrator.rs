//! `#[napi]` shims for the resource orchestrator (`ResourceOrchestrator`; the built-in one is
//! attached to `diffusionServer`, whose images then go through it).

use crate::callbacks::{self, Callback};
use crate::diffusion::{
    image_call, ImageGenerationResult, NativeDiffusionServer, ProgressCallback,
};
use crate::errors::{js_error, promise};
use crate::json::Json;
use crate::llama::{LlamaServerConfig, NativeLlamaServer};
use genai_core::diffusion::ReleaseReason;
use genai_core::diffusion_server::DiffusionServer;
use genai_core::llama::LlamaServerConfig as CoreConfig;
use genai_core::orchestrator::{Orchestrator, OrchestratorEvent, OrchestratorSink};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::Arc;

/// `SavedLLMState`, `savedAt` in milliseconds since the epoch (the facade makes the `Date`).
#[napi(object, object_from_js = false)]
pub struct SavedLlmState {
    pub config: LlamaServerConfig,
    pub was_running: bool,
    pub saved_at: f64,
}

/// A reload that failed: the core error's parts (the facade makes the typed error).
#[napi(object, object_from_js = false)]
pub struct ReloadFailure {
    pub message: String,
    pub code: String,
    #[napi(ts_type = "unknown")]
    pub details: Option<Json>,
}

/// `('reload-failed', failure)` → JS, without waiting.
pub type OrchestratorCallback = Callback<(String, ReloadFailure)>;

#[napi]
pub struct NativeOrchestrator {
    inner: Arc<Orchestrator>,
    diffusion: Arc<DiffusionServer>,
}

#[napi]
impl NativeOrchestrator {
    /// `budgetBytes`: the forced budget (the option, else `GENAI_MEMORY_BUDGET_BYTES` as the
    /// facade read it).
    #[napi(
        constructor,
        ts_args_type = "llama: NativeLlamaServer, diffusion: NativeDiffusionServer, budgetBytes?: number | undefined | null, onEvent?: ((event: 'reload-failed', failure: ReloadFailure) => void) | undefined | null"
    )]
    pub fn new(
        llama: &NativeLlamaServer,
        diffusion: &NativeDiffusionServer,
        budget_bytes: Option<f64>,
        on_event: Option<OrchestratorCallback>,
    ) -> Self {
        let events: Option<OrchestratorSink> = on_event.map(|f| {
            let f = Arc::new(f);
            let sink: OrchestratorSink = Arc::new(move |e: OrchestratorEvent| match e {
                OrchestratorEvent::ReloadFailed(err) => {
                    let failure = ReloadFailure {
                        message: err.message.clone(),
                        code: err.code.as_str().to_string(),
                        details: err.details.as_ref().map(Json::of),
                    };
                    callbacks::notify(&f, ("reload-failed".to_string(), failure));
                }
            });
            sink
        });
        let diffusion = diffusion.shared();
        let inner = Orchestrator::new(
            llama.shared(),
            &diffusion,
            crate::system::system(),
            budget_bytes,
            events,
        );
        NativeOrchestrator { inner, diffusion }
    }

    /// Makes this the diffusion server's orchestrator: its images go through it, and it hears
    /// the backend's releases.
    #[napi]
    pub fn attach(&self) {
        self.diffusion.set_orchestrator(Some(self.inner.clone()));
    }

    /// Its `prepareForLLMStart` as the LLM's pre-start hook, run by the core after the start's
    /// claim (so a JS `start()` still claims synchronously); the id unregisters it.
    #[napi]
    pub fn register_pre_start_hook(&self) -> f64 {
        self.inner.register_pre_start_hook() as f64
    }

    #[napi]
    pub fn unregister_pre_start_hook(&self, id: f64) {
        self.inner.unregister_pre_start_hook(id as u64);
    }

    #[napi]
    pub fn budget_bytes(&self) -> Option<f64> {
        self.inner.budget()
    }

    #[napi(
        ts_args_type = "config: Omit<ImageGenerationConfig, 'onProgress'>, onProgress?: ((currentStep: number, totalSteps: number, stage: ImageGenerationStage, percentage?: number) => void) | undefined | null",
        ts_return_type = "Promise<ImageGenerationResult>"
    )]
    pub fn orchestrate_image_generation<'env>(
        &self,
        env: &'env Env,
        config: Object<'env>,
        on_progress: Option<ProgressCallback>,
    ) -> Result<PromiseRaw<'env, ImageGenerationResult>> {
        let me = self.inner.clone();
        image_call(
            &self.diffusion,
            env,
            &config,
            on_progress,
            |server, slot, request, report| async move {
                server
                    .generate_with(Some(me), slot, request, report)
                    .await
                    .map(Into::into)
            },
        )
    }

    #[napi(
        ts_args_type = "config: Omit<ImageGenerationConfig, 'onProgress'>, onProgress?: ((currentStep: number, totalSteps: number, stage: ImageGenerationStage, percentage?: number) => void) | undefined | null",
        ts_return_type = "Promise<ImageGenerationResult[]>"
    )]
    pub fn orchestrate_batch_generation<'env>(
        &self,
        env: &'env Env,
        config: Object<'env>,
        on_progress: Option<ProgressCallback>,
    ) -> Result<PromiseRaw<'env, Vec<ImageGenerationResult>>> {
        let me = self.inner.clone();
        image_call(
            &self.diffusion,
            env,
            &config,
            on_progress,
            |server, slot, request, report| async move {
                server
                    .generate_batch_with(Some(me), slot, request, report)
                    .await
                    .map(|v| v.into_iter().map(Into::into).collect())
            },
        )
    }

    /// A reason it does not know is ignored (as any reason that does not end a residency).
    #[napi(ts_args_type = "reason: DiffusionBackendReleaseReason")]
    pub fn on_diffusion_backend_released(&self, reason: String) {
        if let Some(reason) = ReleaseReason::parse(&reason) {
            // (a reload it starts is spawned on napi's tokio runtime: this runs on the JS thread)
            within_runtime_if_available(|| self.inner.on_backend_released(reason));
        }
    }

    /// The config as `llamaServer.start` takes it (checked by core).
    #[napi(
        ts_args_type = "config: LlamaServerConfig",
        ts_return_type = "Promise<void>"
    )]
    pub fn prepare_for_llm_start<'env>(
        &self,
        env: &'env Env,
        config: Object<'env>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let (fields, non_json) = crate::convert::js_fields(env, &config)?;
        let config = CoreConfig::from_js(fields, &non_json).map_err(|e| js_error(env, &e))?;
        let me = self.inner.clone();
        promise(env, async move { me.prepare_for_llm_start(&config).await })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn offload_llm<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let me = self.inner.clone();
        promise(env, async move { me.offload_llm().await })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn reload_llm<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let me = self.inner.clone();
        promise(env, async move { me.reload_llm().await })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn wait_for_reload<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let me = self.inner.clone();
        promise(env, async move { me.wait_for_reload().await })
    }

    #[napi]
    pub async fn would_need_offload(&self) -> bool {
        self.inner.would_need_offload().await
    }

    #[napi]
    pub fn saved_state(&self) -> Option<SavedLlmState> {
        self.inner.saved_state().map(|s| SavedLlmState {
            config: s.config.into(),
            was_running: s.was_running,
            saved_at: s.saved_at_ms,
        })
    }

    #[napi]
    pub fn clear_saved_state(&self) {
        self.inner.clear_saved_state();
    }
}
