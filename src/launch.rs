//! `#[napi]` shims for the Electron-free entry (`genai-electron-rs/llama-server-launch`):
//! the argv, the V-cache rule, `/props`, `formatHttpHost`, and the single-run llama-server runner.

use crate::errors::{blocking, js_error, promise};
use crate::llama::{FlashAttentionMode, LlamaServerConfig, ProcessExit};
use crate::servers::NativeCancelToken;
use genai_core::health;
use genai_core::llama::launch::{self, SlotsEndpoint};
use genai_core::llama::LlamaServerConfig as CoreConfig;
use genai_core::llama_server::runner::Runner;
use genai_core::llama_server::runner_options::RunnerOptions;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

#[napi(string_enum = "lowercase")]
pub enum LlamaSlotsEndpointMode {
    Default,
    Enabled,
    Disabled,
}

impl From<LlamaSlotsEndpointMode> for SlotsEndpoint {
    fn from(m: LlamaSlotsEndpointMode) -> Self {
        match m {
            LlamaSlotsEndpointMode::Default => SlotsEndpoint::Default,
            LlamaSlotsEndpointMode::Enabled => SlotsEndpoint::Enabled,
            LlamaSlotsEndpointMode::Disabled => SlotsEndpoint::Disabled,
        }
    }
}

/// `buildLlamaServerArgs(config, { path }, { slotsEndpoint, slotSavePath })` (`port` is
/// `config.port`, passed apart because the config type also allows `'auto'`).
#[napi]
pub fn build_llama_server_args(
    env: &Env,
    config: LlamaServerConfig,
    port: f64,
    model_path: String,
    slots_endpoint: Option<LlamaSlotsEndpointMode>,
    slot_save_path: Option<String>,
) -> Result<Vec<String>> {
    let options = launch::ArgsOptions {
        slots_endpoint: slots_endpoint.map_or(SlotsEndpoint::Default, Into::into),
        slot_save_path,
    };
    launch::build_launch_args(CoreConfig::from(config), port, &model_path, &options)
        .map_err(|e| js_error(env, &e))
}

/// The `flashAttention` that `normalizeLlamaVCacheConfig` gives `config` (only `cacheTypeV` and
/// `flashAttention` are read).
#[napi]
pub fn llama_v_cache_flash_attention(
    env: &Env,
    config: LlamaServerConfig,
) -> Result<Option<Either<bool, FlashAttentionMode>>> {
    let c = CoreConfig::from(config);
    let fa = genai_core::llama::resolved::v_cache_flash_attention(
        c.cache_type_v.as_deref(),
        c.flash_attention,
    )
    .map_err(|e| js_error(env, &e))?;
    let out = CoreConfig {
        flash_attention: fa,
        ..Default::default()
    };
    Ok(LlamaServerConfig::from(out).flash_attention)
}

#[napi]
pub fn format_http_host(host: String) -> String {
    health::format_http_host(&host)
}

/// `LlamaRuntimeCapacity`.
#[napi(object)]
pub struct LlamaRuntimeCapacity {
    pub effective_context_size: f64,
    pub total_slots: Option<f64>,
    pub model_path: Option<String>,
}

impl From<health::RuntimeCapacity> for LlamaRuntimeCapacity {
    fn from(c: health::RuntimeCapacity) -> Self {
        LlamaRuntimeCapacity {
            effective_context_size: c.effective_context_size as f64,
            total_slots: c.total_slots.map(|n| n as f64),
            model_path: c.model_path,
        }
    }
}

/// `fetchLlamaRuntimeCapacity(port, host, parallelRequests, timeout = 5000)`; `token` is the
/// facade's AbortSignal.
#[napi(ts_return_type = "Promise<LlamaRuntimeCapacity>")]
pub fn fetch_llama_runtime_capacity<'env>(
    env: &'env Env,
    port: f64,
    host: String,
    parallel_requests: f64,
    timeout_ms: Option<f64>,
    token: Option<&NativeCancelToken>,
) -> Result<PromiseRaw<'env, LlamaRuntimeCapacity>> {
    let cancel = token.map(NativeCancelToken::token).unwrap_or_default();
    let timeout = Duration::from_millis(timeout_ms.unwrap_or(5000.0).max(0.0) as u64);
    let parallel = parallel_requests.max(0.0) as u64;
    promise(env, async move {
        napi::tokio::select! {
            c = health::fetch_runtime_capacity(port, &host, parallel, timeout) => c.map(Into::into),
            // The facade rejects with the signal's reason.
            _ = cancel.cancelled() => Err(genai_core::Error::server("aborted", None)),
        }
    })
}

/// `StartLlamaServerRunnerOptions` without `signal` (a token) and with the model's path.
#[napi(object)]
pub struct LlamaServerRunnerOptions {
    pub binary_path: String,
    pub model_path: String,
    pub config: LlamaServerConfig,
    pub context_size: f64,
    pub parallel_requests: f64,
    pub startup_timeout_ms: f64,
    pub port: Option<f64>,
    pub cwd: Option<String>,
    pub stderr_max_bytes: Option<f64>,
    pub slots_endpoint: Option<LlamaSlotsEndpointMode>,
    pub slot_save_path: Option<String>,
    pub temporary_slot_save_path: Option<bool>,
}

impl From<LlamaServerRunnerOptions> for RunnerOptions {
    fn from(o: LlamaServerRunnerOptions) -> Self {
        RunnerOptions {
            binary_path: PathBuf::from(o.binary_path),
            model_path: o.model_path,
            config: o.config.into(),
            context_size: o.context_size,
            parallel_requests: o.parallel_requests,
            startup_timeout_ms: o.startup_timeout_ms,
            port: o.port,
            cwd: o.cwd.map(PathBuf::from),
            stderr_max_bytes: o.stderr_max_bytes,
            slots_endpoint: o.slots_endpoint.map_or(SlotsEndpoint::Default, Into::into),
            slot_save_path: o.slot_save_path,
            temporary_slot_save_path: o.temporary_slot_save_path == Some(true),
        }
    }
}

/// A started runner's fixed data (`LlamaServerHandle` without the promises).
#[napi(object)]
pub struct LlamaServerRunnerStarted {
    pub port: u32,
    pub args: Vec<String>,
    pub config: LlamaServerConfig,
    pub capacity: LlamaRuntimeCapacity,
    pub load_time_ms: f64,
    pub pid: u32,
}

/// One llama-server started by `startLlamaServerRunner`.
#[napi]
#[derive(Default)]
pub struct NativeLlamaRunner {
    inner: Arc<OnceLock<Arc<Runner>>>,
}

#[napi]
impl NativeLlamaRunner {
    #[napi(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    #[napi(ts_return_type = "Promise<LlamaServerRunnerStarted>")]
    pub fn start<'env>(
        &self,
        env: &'env Env,
        options: LlamaServerRunnerOptions,
        token: Option<&NativeCancelToken>,
    ) -> Result<PromiseRaw<'env, LlamaServerRunnerStarted>> {
        let cancel = token.map(NativeCancelToken::token).unwrap_or_default();
        let slot = self.inner.clone();
        promise(env, async move {
            let r = Runner::start(options.into(), cancel).await?;
            let started = LlamaServerRunnerStarted {
                port: u32::from(r.port),
                args: r.args.clone(),
                config: r.config.clone().into(),
                capacity: r.capacity.clone().into(),
                load_time_ms: r.load_ms as f64,
                pid: r.pid,
            };
            let _ = slot.set(Arc::new(r));
            Ok(started)
        })
    }

    /// Stops the child (and removes its temporary folder); nothing to do before a start.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let runner = self.inner.get().cloned();
        blocking(env, move || runner.map_or(Ok(()), |r| r.stop()))
    }

    /// Resolves with the exit once the child has exited (and its folder is removed).
    #[napi(ts_return_type = "Promise<ProcessExit>")]
    pub fn wait_exit<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ProcessExit>> {
        let runner = self.inner.get().cloned();
        promise(env, async move {
            match runner {
                Some(r) => r.wait_exit().await.map(ProcessExit::from),
                None => Ok(ProcessExit {
                    code: None,
                    signal: None,
                }),
            }
        })
    }

    /// Throws the error of an operation the child's exit cut short (`raceWithExit`).
    #[napi]
    pub fn throw_crash_error(&self, env: &Env) -> Result<()> {
        match self.inner.get() {
            Some(r) => Err(js_error(env, &r.crash_error())),
            None => Ok(()),
        }
    }

    #[napi]
    pub fn stderr_tail(&self) -> String {
        self.inner
            .get()
            .map(|r| r.stderr_tail())
            .unwrap_or_default()
    }

    #[napi]
    pub fn stdout_tail(&self) -> String {
        self.inner
            .get()
            .map(|r| r.stdout_tail())
            .unwrap_or_default()
    }
}
