//! `#[napi]` shims for the diffusion server (`diffusionServer`) and the generation registry.

mod types;

pub use types::*;

use crate::callbacks::{self, Callback};
use crate::errors::{js_error, promise};
use crate::json::Json;
use crate::models::NativeModelManager;
use genai_core::binaries::source::BinaryFields;
use genai_core::diffusion::{
    optimizations::FlagOverrides, registry::Registry, request, ImageProgress,
};
use genai_core::diffusion::{DiffusionServerConfig, ImageRequest, ReleaseReason, UsageMode};
use genai_core::diffusion_server::{DiffusionEvent, DiffusionServer, EventSink, ProgressFn, Slot};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::Arc;
use std::time::Duration;

pub type EventPayload = Either6<
    Vec<crate::llama::ServerStatus>,
    DiffusionServerInfo,
    Null,
    DiffusionBackendStatusEvent,
    DiffusionBinaryLog,
    crate::binaries::BinaryProgressEvent,
>;
pub type EventCallback = Callback<(String, EventPayload)>;
/// `onProgress(currentStep, totalSteps, stage, percentage)`.
pub type ProgressCallback = Callback<(u32, u32, String, Option<f64>)>;

fn event(e: DiffusionEvent) -> (&'static str, EventPayload) {
    match e {
        DiffusionEvent::Status { new, old } => ("status", Either6::A(vec![new.into(), old.into()])),
        DiffusionEvent::Started(i) => ("started", Either6::B(i.into())),
        DiffusionEvent::Stopped => ("stopped", Either6::C(Null)),
        DiffusionEvent::BackendStatus(s) => ("backend-status", Either6::D(s.into())),
        DiffusionEvent::BinaryLog { message, level } => (
            "binary-log",
            Either6::E(DiffusionBinaryLog {
                message,
                level: level.into(),
            }),
        ),
        DiffusionEvent::BinaryProgress(p) => ("binary-progress", Either6::F(p.into())),
    }
}

/// An image call: the config checked by core and the generation slot taken here, on the
/// JS thread (of two calls, the first wins, as upstream); the work on tokio.
pub(crate) fn image_call<'env, T, Fut>(
    server: &Arc<DiffusionServer>,
    env: &'env Env,
    config: &Object<'env>,
    on_progress: Option<ProgressCallback>,
    run: impl FnOnce(Arc<DiffusionServer>, Slot, ImageRequest, Option<ProgressFn>) -> Fut,
) -> Result<PromiseRaw<'env, T>>
where
    T: ToNapiValue + Send + 'static,
    Fut: std::future::Future<Output = genai_core::Result<T>> + Send + 'static,
{
    let request = image_request(env, config)?;
    let slot = server.claim_slot().map_err(|e| js_error(env, &e))?;
    let work = run(server.clone(), slot, request, progress_fn(on_progress));
    promise(env, work)
}

fn progress_fn(f: Option<ProgressCallback>) -> Option<ProgressFn> {
    let f = Arc::new(f?);
    Some(Arc::new(move |p: ImageProgress| {
        callbacks::notify(
            &f,
            (
                p.current_step,
                p.total_steps,
                p.stage.as_str().to_string(),
                p.percentage,
            ),
        );
    }))
}

/// An `ImageGenerationConfig` without `onProgress` (the facade passes it apart), checked by core.
fn image_request(env: &Env, config: &Object) -> Result<ImageRequest> {
    let (fields, non_json) = crate::convert::js_fields(env, config)?;
    request::from_js(fields, &non_json).map_err(|e| js_error(env, &e.into()))
}

#[napi]
pub struct NativeDiffusionServer {
    inner: Arc<DiffusionServer>,
}

#[napi]
impl NativeDiffusionServer {
    /// `resultTtlMs`: `IMAGE_RESULT_TTL_MS` as the facade read it from `process.env`.
    #[napi(
        constructor,
        ts_args_type = "models: NativeModelManager, onEvent: (...event: ['status', [ServerStatus, ServerStatus]] | ['started', DiffusionServerInfo] | ['stopped', null] | ['backend-status', DiffusionBackendStatusEvent] | ['binary-log', DiffusionBinaryLog] | ['binary-progress', BinaryProgressEvent]) => void, resultTtlMs?: number | undefined | null"
    )]
    pub fn new(
        models: &NativeModelManager,
        on_event: EventCallback,
        result_ttl_ms: Option<f64>,
    ) -> Self {
        let events: EventSink = callbacks::event_sink(on_event, event);
        let ttl = result_ttl_ms
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .map(|ms| Duration::from_millis(ms as u64));
        NativeDiffusionServer {
            inner: DiffusionServer::new(models.shared(), crate::system::system(), events, ttl),
        }
    }

    /// `binaryEnv`: `process.env` (`GENAI_SD_SERVER_PATH`, …) as the facade read it.
    #[napi(
        ts_args_type = "config: DiffusionServerConfig, binaryEnv: BinaryEnv",
        ts_return_type = "Promise<DiffusionServerInfo>"
    )]
    pub fn start<'env>(
        &self,
        env: &'env Env,
        config: Object<'env>,
        binary_env: crate::binaries::BinaryEnv,
    ) -> Result<PromiseRaw<'env, DiffusionServerInfo>> {
        let (fields, non_json) = crate::convert::js_fields(env, &config)?;
        let config = DiffusionServerConfig::from_js(fields, &non_json)
            .map_err(|e| js_error(env, &e))?
            .with_binary_env(binary_env.into());
        let claim = self.inner.claim_start().map_err(|e| js_error(env, &e))?;
        let inner = self.inner.clone();
        promise(env, async move {
            inner.start(claim, config).await.map(Into::into)
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.clone();
        promise(env, async move { inner.stop().await })
    }

    /// The core supervisor (the orchestrator's binding uses it).
    pub(crate) fn shared(&self) -> Arc<DiffusionServer> {
        self.inner.clone()
    }

    fn image_call<'env, T, Fut>(
        &self,
        env: &'env Env,
        config: &Object<'env>,
        on_progress: Option<ProgressCallback>,
        run: impl FnOnce(Arc<DiffusionServer>, Slot, ImageRequest, Option<ProgressFn>) -> Fut,
    ) -> Result<PromiseRaw<'env, T>>
    where
        T: ToNapiValue + Send + 'static,
        Fut: std::future::Future<Output = genai_core::Result<T>> + Send + 'static,
    {
        image_call(&self.inner, env, config, on_progress, run)
    }

    #[napi(
        ts_args_type = "config: Omit<ImageGenerationConfig, 'onProgress'>, onProgress?: ((currentStep: number, totalSteps: number, stage: ImageGenerationStage, percentage?: number) => void) | undefined | null",
        ts_return_type = "Promise<ImageGenerationResult>"
    )]
    pub fn generate_image<'env>(
        &self,
        env: &'env Env,
        config: Object<'env>,
        on_progress: Option<ProgressCallback>,
    ) -> Result<PromiseRaw<'env, ImageGenerationResult>> {
        self.image_call(
            env,
            &config,
            on_progress,
            |inner, slot, request, report| async move {
                inner
                    .generate_image(slot, request, report)
                    .await
                    .map(Into::into)
            },
        )
    }

    #[napi(
        ts_args_type = "config: Omit<ImageGenerationConfig, 'onProgress'>, onProgress?: ((currentStep: number, totalSteps: number, stage: ImageGenerationStage, percentage?: number) => void) | undefined | null, flagOverrides?: DiffusionOffloadCombo | undefined | null",
        ts_return_type = "Promise<ImageGenerationResult>"
    )]
    pub fn execute_image_generation<'env>(
        &self,
        env: &'env Env,
        config: Object<'env>,
        on_progress: Option<ProgressCallback>,
        flag_overrides: Option<Object<'env>>,
    ) -> Result<PromiseRaw<'env, ImageGenerationResult>> {
        let overrides = match flag_overrides {
            Some(o) => Some(
                FlagOverrides::from_object(crate::convert::js_fields(env, &o)?.0)
                    .map_err(|e| js_error(env, &e))?,
            ),
            None => None,
        };
        self.image_call(
            env,
            &config,
            on_progress,
            move |inner, slot, request, report| async move {
                inner
                    .execute_image_generation(slot, request, report, overrides)
                    .await
                    .map(Into::into)
            },
        )
    }

    #[napi(
        ts_args_type = "config: Omit<ImageGenerationConfig, 'onProgress'>, onProgress?: ((currentStep: number, totalSteps: number, stage: ImageGenerationStage, percentage?: number) => void) | undefined | null",
        ts_return_type = "Promise<ImageGenerationResult[]>"
    )]
    pub fn execute_batch_generation<'env>(
        &self,
        env: &'env Env,
        config: Object<'env>,
        on_progress: Option<ProgressCallback>,
    ) -> Result<PromiseRaw<'env, Vec<ImageGenerationResult>>> {
        self.image_call(
            env,
            &config,
            on_progress,
            |inner, slot, request, report| async move {
                inner
                    .execute_batch_generation(slot, request, report)
                    .await
                    .map(|v| v.into_iter().map(Into::into).collect())
            },
        )
    }

    #[napi]
    pub fn cancel_image_generation(&self, env: &Env, id: String) -> Result<()> {
        self.inner
            .cancel_image_generation(&id)
            .map_err(|e| js_error(env, &e))
    }

    #[napi]
    pub fn active_generation_id(&self) -> Option<String> {
        self.inner.active_generation_id()
    }

    /// `reason`: a `DiffusionBackendReleaseReason` (default `'explicit'`).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn release_backend<'env>(
        &self,
        env: &'env Env,
        reason: Option<String>,
        wait_for_in_flight: Option<bool>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let reason = match reason.as_deref() {
            None => ReleaseReason::Explicit,
            Some(r) => ReleaseReason::parse(r).ok_or_else(|| {
                let e = genai_core::Error::server(
                    format!("Unknown release reason: {r}"),
                    Some(serde_json::json!({ "reason": r, "validReasons": ReleaseReason::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>() })),
                );
                js_error(env, &e)
            })?,
        };
        let inner = self.inner.clone();
        promise(env, async move {
            inner
                .release_backend(reason, wait_for_in_flight == Some(true))
                .await
        })
    }

    #[napi]
    pub fn backend_info(&self) -> DiffusionBackendInfo {
        self.inner.backend_info().into()
    }

    #[napi]
    pub fn info(&self) -> DiffusionServerInfo {
        self.inner.info().into()
    }

    #[napi]
    pub async fn is_healthy(&self) -> bool {
        self.inner.is_healthy().await
    }

    #[napi]
    pub fn pid(&self) -> Option<u32> {
        self.inner.pid()
    }

    #[napi]
    pub fn status(&self) -> crate::llama::ServerStatus {
        self.inner.status().into()
    }

    #[napi]
    pub fn port(&self) -> u32 {
        self.inner.port().into()
    }

    #[napi(ts_return_type = "DiffusionServerConfig | undefined")]
    pub fn config(&self) -> Option<Json> {
        self.inner.config().map(|c| Json::of(&c))
    }

    #[napi]
    pub fn log_path(&self) -> String {
        self.inner.log().path().to_string_lossy().into_owned()
    }

    #[napi(
        ts_args_type = "requestMode: DiffusionUsageMode | undefined | null, llmWasOffloaded: boolean",
        ts_return_type = "DiffusionUsageMode"
    )]
    pub fn resolve_usage_mode(
        &self,
        request_mode: Option<String>,
        llm_was_offloaded: bool,
    ) -> String {
        let mode = request_mode.as_deref().and_then(UsageMode::parse);
        self.inner
            .resolve_usage_mode(mode, llm_was_offloaded)
            .as_str()
            .into()
    }

    #[napi(
        ts_args_type = "mode: DiffusionUsageMode",
        ts_return_type = "Promise<void>"
    )]
    pub fn settle_residency<'env>(
        &self,
        env: &'env Env,
        mode: String,
    ) -> Result<PromiseRaw<'env, ()>> {
        let mode = UsageMode::parse(&mode)
            .ok_or_else(|| Error::new(Status::InvalidArg, format!("Unknown usage mode: {mode}")))?;
        let inner = self.inner.clone();
        promise(env, async move { inner.settle_residency(mode).await })
    }
}

/// `GenerationRegistry`: the HTTP generations and their results (a finished one is dropped once
/// it is older than `maxResultAgeMs`; reading it after that finds nothing).
#[napi]
pub struct NativeGenerationRegistry {
    inner: Arc<Registry>,
}

#[napi]
impl NativeGenerationRegistry {
    #[napi(constructor)]
    pub fn new(max_result_age_ms: Option<f64>) -> Self {
        let age = max_result_age_ms
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .map_or(genai_core::diffusion::constants::IMAGE_RESULT_TTL, |ms| {
                Duration::from_millis(ms as u64)
            });
        NativeGenerationRegistry {
            inner: Arc::new(Registry::new(age)),
        }
    }

    #[napi(ts_args_type = "config: ImageGenerationConfig")]
    pub fn create(&self, env: &Env, config: Object) -> Result<String> {
        let request = image_request(env, &config)?;
        Ok(self.inner.create(request))
    }

    #[napi(ts_return_type = "GenerationState | null")]
    pub fn get(&self, id: String) -> Option<Json> {
        self.inner.get(&id).map(|g| Json::of(&g))
    }

    /// `update(id, updates)`: the given fields replace the entry's (checked by core).
    #[napi(ts_args_type = "id: string, updates: Partial<GenerationState>")]
    pub fn update(&self, env: &Env, id: String, updates: Object) -> Result<()> {
        let (fields, _) = crate::convert::js_fields(env, &updates)?;
        self.inner.merge(&id, fields).map_err(|e| js_error(env, &e))
    }

    #[napi]
    pub fn delete(&self, id: String) {
        self.inner.delete(&id);
    }

    #[napi]
    pub fn get_all_ids(&self) -> Vec<String> {
        self.inner.ids()
    }

    #[napi]
    pub fn size(&self) -> u32 {
        self.inner.len() as u32
    }

    #[napi]
    pub fn cleanup(&self, max_age_ms: f64) -> u32 {
        self.inner
            .cleanup(Duration::from_millis(max_age_ms.max(0.0) as u64)) as u32
    }

    #[napi]
    pub fn clear(&self) {
        self.inner.clear();
    }
}
