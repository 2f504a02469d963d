//! The llama-server supervisor behind `llamaServer`: resolve the configuration (port,
//! auto-configuration), validate and start the real binary through `process`, notice readiness
//! as soon as it is ready, log its output, report status transitions and a crash, watch and
//! restart it when asked, stop it (SIGTERM to the group, SIGKILL after the grace period).
//!
//! `state` (status, claim, `getInfo()`), `validation` (which binary, `--version`), `resolve`
//! (port, auto-configuration), `launch` (spawn, readiness, `/props`, exit), `watchdog`,
//! `restart`, `orphans` (the pid record); `runner` (+ `runner_options`) is the Electron-free
//! entry's single-run launcher over the same argv and probes.

mod heard;
mod launch;
mod orphans;
mod resolve;
mod restart;
pub mod runner;
pub mod runner_options;
mod state;
mod types;
mod validation;
mod watchdog;

pub use state::StartClaim;
pub use types::{
    ExitReason, HealthCheckFailed, LlamaServerReadyState, ServerEvent, ServerExit, ServerInfo,
    ServerStatus,
};
pub use validation::{check_binary, check_model_files, validate_phase1};

use crate::defaults;
use crate::llama::LlamaServerConfig;
use crate::logs::{Level, LogFile, Rotation};
use crate::models::ModelManager;
use crate::system::SystemInfo;
use crate::{health, Error, Result};
use serde_json::{Map, Value};
use state::{cancelled_by_stop, lock, State};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const DEFAULT_PORT: u16 = 8080;
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Tells the host's listeners; the reply says whether one threw, to whom (see `heard`).
pub type EventSink = Arc<dyn Fn(ServerEvent, crate::callback::Reply) + Send + Sync>;

fn hooks_of(
    m: &Mutex<Vec<(u64, PreStartHook)>>,
) -> std::sync::MutexGuard<'_, Vec<(u64, PreStartHook)>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A pre-start hook in the core (the built-in orchestrator's `prepareForLLMStart`): awaited
/// after the start's claim, before anything else; its error fails a start (and is ignored, as
/// upstream, for an automatic restart). JS hooks run in the facade, before the native start.
pub type PreStartHook = Arc<
    dyn Fn(LlamaServerConfig) -> futures_util::future::BoxFuture<'static, Result<()>> + Send + Sync,
>;

pub struct LlamaServer {
    me: std::sync::Weak<LlamaServer>,
    /// `<userData>/temp/children/llama-server.json`: the running child, for orphan reaping.
    pid_record: crate::process::PidRecord,
    runtime: Mutex<Option<tokio::runtime::Handle>>,
    state: Arc<Mutex<State>>,
    events: EventSink,
    log: Arc<LogFile>,
    models: Arc<ModelManager>,
    system: Arc<SystemInfo>,
    binaries_dir: PathBuf,
    pre_start: Mutex<Vec<(u64, PreStartHook)>>,
    /// Cancels the binary's provisioning of the start in progress (`stop()`).
    provisioning: Mutex<Option<tokio_util::sync::CancellationToken>>,
    next_hook: std::sync::atomic::AtomicU64,
}

impl LlamaServer {
    pub fn new(models: Arc<ModelManager>, system: Arc<SystemInfo>, events: EventSink) -> Arc<Self> {
        let paths = models.storage.paths.clone();
        Arc::new_cyclic(|me| LlamaServer {
            me: me.clone(),
            pid_record: crate::process::PidRecord::new(
                paths.temp.join("children").join("llama-server.json"),
            ),
            runtime: Mutex::new(None),
            log: Arc::new(LogFile::new(
                &paths.logs.join("llama-server.log"),
                Rotation::default(),
            )),
            binaries_dir: paths.binaries.llama.clone(),
            state: Arc::new(Mutex::new(State::default())),
            events,
            models,
            system,
            pre_start: Mutex::new(Vec::new()),
            provisioning: Mutex::new(None),
            next_hook: std::sync::atomic::AtomicU64::new(1),
        })
    }

    /// Adds a core pre-start hook; the id removes it (`unregister_pre_start_hook`).
    pub fn register_pre_start_hook(&self, hook: PreStartHook) -> u64 {
        let id = self
            .next_hook
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        hooks_of(&self.pre_start).push((id, hook));
        id
    }

    pub fn unregister_pre_start_hook(&self, id: u64) {
        hooks_of(&self.pre_start).retain(|(h, _)| *h != id);
    }

    async fn run_pre_start_hooks(
        &self,
        claim: &StartClaim,
        config: &LlamaServerConfig,
    ) -> Result<()> {
        let hooks: Vec<PreStartHook> = hooks_of(&self.pre_start)
            .iter()
            .map(|(_, h)| h.clone())
            .collect();
        for hook in hooks {
            if let Err(e) = hook(config.clone()).await {
                if !claim.is_auto_restart() {
                    return Err(e);
                }
                let _ = self.log.write(
                    &format!("Pre-start hook failed during auto-restart (ignored): {e}"),
                    Level::Warn,
                );
            }
        }
        if lock(&self.state).stop_requested {
            return Err(cancelled_by_stop());
        }
        Ok(())
    }

    /// The tokio runtime of the last `start()`, for background work (watchdog, restarts).
    fn runtime(&self) -> Option<tokio::runtime::Handle> {
        self.runtime
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn log(&self) -> &Arc<LogFile> {
        &self.log
    }

    /// The model store it starts models from.
    pub fn models(&self) -> &Arc<ModelManager> {
        &self.models
    }

    pub fn status(&self) -> ServerStatus {
        lock(&self.state).status
    }

    /// `getInfo()`.
    pub fn info(&self) -> ServerInfo {
        lock(&self.state).info()
    }

    /// `getConfig()`: the last resolved configuration (port as a number, auto-configured fields
    /// filled in).
    pub fn config(&self) -> Option<LlamaServerConfig> {
        lock(&self.state).config.as_ref().map(|r| r.config.clone())
    }

    /// `start(config)`: resolves to `getInfo()` once the server answers /health with ok. The
    /// config comes from `LlamaServerConfig::from_json` (or an earlier `getConfig()`).
    pub async fn start(&self, config: LlamaServerConfig) -> Result<ServerInfo> {
        let claim = self.claim_start()?;
        self.start_claimed(claim, config).await
    }

    /// `start()` for a caller that took the claim itself, synchronously (the binding does, so
    /// that of two calls made one after the other the first one wins).
    /// The claim lives as long as this call. A listener that throws fails it (see `heard`).
    pub async fn start_claimed(
        &self,
        claim: StartClaim,
        config: LlamaServerConfig,
    ) -> Result<ServerInfo> {
        heard::operation(self.start_heard(claim, config)).await
    }

    async fn start_heard(
        &self,
        claim: StartClaim,
        config: LlamaServerConfig,
    ) -> Result<ServerInfo> {
        self.run_pre_start_hooks(&claim, &config).await?;
        *self.runtime.lock().unwrap_or_else(|p| p.into_inner()) =
            tokio::runtime::Handle::try_current().ok();
        let port = resolve::port(&config)?;
        self.reap_orphan();
        let model = self.models.storage.find(resolve::model_id(&config)?)?;
        validation::check_model_files(&model)?;
        let binary = self.binary(&config)?;
        let host = health::normalize_health_host(config.host.as_deref());
        if health::is_server_responding(port, defaults::RESPONDING_TIMEOUT, &host).await
            || !health::is_port_bindable(port, &host)?
        {
            return Err(Error::port_in_use(port));
        }
        let force = config.force_validation == Some(true);
        let settings = config.clone();
        let resolved = self.resolve(config, port, &model)?;
        let model_path = model.path.clone();
        self.log.initialize()?;
        {
            let mut s = lock(&self.state);
            if s.stop_requested {
                return Err(cancelled_by_stop());
            }
            (s.watchdog_kill, s.last_exit) = (false, None);
            s.port = port;
        }
        self.set_status(ServerStatus::Starting);
        let result = self
            .validate_and_launch(binary, &settings, force, &model_path, &resolved)
            .await;
        if let Err(e) = &result {
            self.abandon_start(e).await;
        }
        result
    }

    async fn validate_and_launch(
        &self,
        given: Option<std::path::PathBuf>,
        config: &LlamaServerConfig,
        force: bool,
        model_path: &str,
        resolved: &crate::llama::ResolvedConfig,
    ) -> Result<ServerInfo> {
        heard::check_start().await?;
        let binary = self.ready_binary(given, config, model_path, force).await;
        if lock(&self.state).stop_requested {
            return Err(cancelled_by_stop());
        }
        let binary = binary?;
        heard::check_start().await?;
        self.launch(&binary, model_path, resolved).await
    }

    /// A start that failed after `starting`: the status is `stopped` again (before its child, if
    /// any, is stopped, as upstream's `handleStartupError` does; then the child's exit cannot
    /// turn a `running` status into `stopped` unreported).
    async fn abandon_start(&self, e: &Error) {
        let child = {
            let mut s = lock(&self.state);
            s.stop_requested |= s.child.is_some();
            let child = s.child.clone();
            s.clear_run();
            child
        };
        self.set_status(ServerStatus::Stopped);
        if let Some(child) = child {
            let _ = tokio::task::spawn_blocking(move || child.stop(Duration::from_secs(5))).await;
        }
        let _ = self
            .log
            .write(&format!("Failed to start: {e}"), Level::Error);
    }

    /// `stop()`: idempotent; SIGTERM to the group, SIGKILL after 10 s. A listener that throws
    /// fails it once the server is stopped (upstream's would leave the process running).
    pub async fn stop(&self) -> Result<()> {
        heard::operation(self.stop_heard()).await
    }

    async fn stop_heard(&self) -> Result<()> {
        let (gone, child) = {
            let mut s = lock(&self.state);
            s.stop_requested = true; // also cancels a pending automatic restart
            if let Some(provisioning) = self
                .provisioning
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
            {
                provisioning.cancel();
            }
            let ended = matches!(s.status, ServerStatus::Stopped | ServerStatus::Crashed);
            (ended && s.child.is_none(), s.child.clone()) // kept (with its pid) until it is gone
        };
        if gone {
            self.set_status(ServerStatus::Stopped);
            return heard::check("stop server", Map::new()).await;
        }
        let pid = child.as_ref().map(|c| c.pid);
        self.set_status(ServerStatus::Stopping);
        if let Some(child) = child {
            tokio::task::spawn_blocking(move || child.stop(STOP_GRACE))
                .await
                .map_err(|e| Error::server(format!("Failed to stop server: {e}"), None))?;
        }
        lock(&self.state).clear_run();
        let _ = self.log.write("Server stopped", Level::Info);
        self.set_status(ServerStatus::Stopped);
        self.emit(ServerEvent::Stopped);
        let mut extra = Map::new();
        extra.extend(pid.map(|p| ("pid".to_string(), Value::from(p))));
        heard::check("stop server", extra).await
    }

    /// `isHealthy()`: never throws.
    pub async fn is_healthy(&self) -> bool {
        let (status, port, host) = {
            let s = lock(&self.state);
            let host = s.config.as_ref().and_then(|r| r.config.host.clone());
            (
                s.status,
                s.port,
                health::normalize_health_host(host.as_deref()),
            )
        };
        status == ServerStatus::Running
            && port != 0
            && health::check_health(port, defaults::DEFAULT_TIMEOUTS.health_check, &host)
                .await
                .is_ok()
    }
}
