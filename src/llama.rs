//! `#[napi]` shims for the llama-server supervisor and the exit hook.

use crate::{core_err, models::NativeModelManager};
use genai_core::llama_server::{LlamaServer, ServerEvent};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::{json, Value};
use std::sync::Arc;

/// `(eventName, payload)` → JS, weak (the facade keeps Node alive while a server runs).
pub type EventCallback =
    ThreadsafeFunction<FnArgs<(String, Value)>, (), FnArgs<(String, Value)>, Status, false, true>;

fn event(e: ServerEvent) -> (String, Value) {
    match e {
        ServerEvent::Status { new, old } => ("status".into(), json!([new, old])),
        ServerEvent::Ready(v) => ("ready".into(), v),
        ServerEvent::Started(v) => ("started".into(), v),
        ServerEvent::Stopped => ("stopped".into(), Value::Null),
        ServerEvent::Crashed(exit) => (
            "crashed".into(),
            json!({ "code": exit.code, "signal": exit.signal_name() }),
        ),
        ServerEvent::Restarted(info) => ("restarted".into(), info),
        ServerEvent::HealthOk(info) => ("health-check-ok".into(), info),
        ServerEvent::HealthFailed(v) => ("health-check-failed".into(), v),
        ServerEvent::BinaryLog { message, level } => (
            "binary-log".into(),
            json!({ "message": message, "level": level }),
        ),
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
        ts_args_type = "models: NativeModelManager, onEvent: (name: string, payload: any) => void"
    )]
    pub fn new(models: &NativeModelManager, on_event: EventCallback) -> Self {
        let sink = Arc::new(on_event);
        let events: genai_core::llama_server::EventSink = Arc::new(move |e| {
            sink.call(event(e).into(), ThreadsafeFunctionCallMode::NonBlocking);
        });
        NativeLlamaServer {
            inner: LlamaServer::new(models.shared(), crate::system::system(), events),
        }
    }

    /// The claim is taken here, on the JS thread, so that calls are served in call order.
    #[napi(ts_args_type = "config: any", ts_return_type = "Promise<any>")]
    pub fn start<'env>(&self, env: &'env Env, config: Value) -> Result<PromiseRaw<'env, Value>> {
        let Value::Object(config) = config else {
            return Err(napi::Error::from_reason("config must be an object"));
        };
        let claim = self.inner.claim_start().map_err(core_err)?;
        let inner = self.inner.clone();
        env.spawn_future(async move { inner.start_claimed(claim, config).await.map_err(core_err) })
    }

    #[napi]
    pub async fn stop(&self) -> Result<()> {
        self.inner.stop().await.map_err(core_err)
    }

    #[napi]
    pub async fn is_healthy(&self) -> bool {
        self.inner.is_healthy().await
    }

    #[napi(ts_return_type = "any")]
    pub fn info(&self) -> Value {
        self.inner.info()
    }

    #[napi(ts_return_type = "any")]
    pub fn config(&self) -> Value {
        self.inner.config().map_or(Value::Null, Value::Object)
    }

    #[napi]
    pub fn status(&self) -> String {
        self.inner.status().to_string()
    }

    #[napi]
    pub fn log_path(&self) -> String {
        self.inner.log().path().to_string_lossy().into_owned()
    }
}

/// SIGKILL to every child we started (for the facade's synchronous `process.on('exit')` hook).
#[napi]
pub fn kill_all_children() -> u32 {
    genai_core::process::kill_all() as u32
}
