//! `#[napi]` shims for the llama-server supervisor and the exit hook.

mod types;

pub use types::*;

use crate::callbacks::{self, Callback};
use crate::errors::{js_error, promise};
use crate::models::NativeModelManager;
use genai_core::binaries::source::BinaryFields;
use genai_core::llama::LlamaServerConfig as CoreConfig;
use genai_core::llama_server::{EventSink, LlamaServer, ServerEvent};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::Arc;

/// An event's payload, typed per event (see the constructor's `onEvent` type).
pub type EventPayload = Either8<
    Vec<ServerStatus>,
    LlamaServerReadyState,
    ServerInfo,
    Null,
    ProcessExit,
    HealthCheckFailed,
    BinaryLogEvent,
    crate::binaries::BinaryProgressEvent,
>;

/// `(eventName, payload)` → JS, weak (the facade keeps Node alive while a server runs). Core
/// hears the answer (a listener that throws fails `start()`/`stop()`, see core's `heard`).
pub type EventCallback = Callback<(String, EventPayload)>;

fn event(e: ServerEvent) -> (&'static str, EventPayload) {
    match e {
        ServerEvent::Status { new, old } => ("status", Either8::A(vec![new.into(), old.into()])),
        ServerEvent::Ready(r) => ("ready", Either8::B(r.into())),
        ServerEvent::Started(i) => ("started", Either8::C(i.into())),
        ServerEvent::Restarted(i) => ("restarted", Either8::C(i.into())),
        ServerEvent::HealthOk(i) => ("health-check-ok", Either8::C(i.into())),
        ServerEvent::Stopped => ("stopped", Either8::D(Null)),
        ServerEvent::Crashed(exit) => ("crashed", Either8::E(exit.into())),
        ServerEvent::HealthFailed(f) => ("health-check-failed", Either8::F(f.into())),
        ServerEvent::BinaryLog { message, level } => (
            "binary-log",
            Either8::G(BinaryLogEvent {
                message,
                level: level.into(),
            }),
        ),
        ServerEvent::BinaryProgress(p) => ("binary-progress", Either8::H(p.into())),
    }
}

#[napi]
pub struct NativeLlamaServer {
    inner: Arc<LlamaServer>,
}

#[napi]
impl NativeLlamaServer {
    #[napi(
        constructor,
        ts_args_type = "models: NativeModelManager, onEvent: (...event: ['status', [ServerStatus, ServerStatus]] | ['ready', LlamaServerReadyState] | ['started' | 'restarted' | 'health-check-ok', ServerInfo] | ['stopped', null] | ['crashed', ProcessExit] | ['health-check-failed', HealthCheckFailed] | ['binary-log', BinaryLogEvent] | ['binary-progress', BinaryProgressEvent]) => void"
    )]
    pub fn new(models: &NativeModelManager, on_event: EventCallback) -> Self {
        let events: EventSink = callbacks::event_sink(on_event, event);
        NativeLlamaServer {
            inner: LlamaServer::new(models.shared(), crate::system::system(), events),
        }
    }

    /// The config is parsed by core (`LlamaServerConfig::from_js`: unknown keys are reported
    /// with upstream's message, so it arrives as plain JSON; values JSON cannot hold, such as
    /// NaN, are named apart and reported by core). The binary fields fall back
    /// to `binaryEnv`, which the facade reads from `process.env` (`GENAI_LLAMA_SERVER_PATH`, …). The
    /// claim is taken first, here on the JS thread, so that calls are served in call order.
    #[napi(
        ts_args_type = "config: LlamaServerConfig, binaryEnv: BinaryEnv",
        ts_return_type = "Promise<ServerInfo>"
    )]
    pub fn start<'env>(
        &self,
        env: &'env Env,
        config: Object<'env>,
        binary_env: crate::binaries::BinaryEnv,
    ) -> Result<PromiseRaw<'env, ServerInfo>> {
        let (fields, non_json) = crate::convert::js_fields(env, &config)?;
        let claim = self.inner.claim_start().map_err(|e| js_error(env, &e))?;
        let config = CoreConfig::from_js(fields, &non_json)
            .map_err(|e| js_error(env, &e))?
            .with_binary_env(binary_env.into());
        let inner = self.inner.clone();
        promise(env, async move {
            inner
                .start_claimed(claim, config)
                .await
                .map(ServerInfo::from)
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.clone();
        promise(env, async move { inner.stop().await })
    }

    #[napi]
    pub async fn is_healthy(&self) -> bool {
        self.inner.is_healthy().await
    }

    #[napi]
    pub fn info(&self) -> ServerInfo {
        self.inner.info().into()
    }

    #[napi]
    pub fn config(&self) -> Option<LlamaServerConfig> {
        self.inner.config().map(Into::into)
    }

    #[napi]
    pub fn status(&self) -> ServerStatus {
        self.inner.status().into()
    }

    #[napi]
    pub fn log_path(&self) -> String {
        self.inner.log().path().to_string_lossy().into_owned()
    }
}

impl NativeLlamaServer {
    /// The core supervisor (the orchestrator's binding uses it).
    pub(crate) fn shared(&self) -> Arc<LlamaServer> {
        self.inner.clone()
    }
}
