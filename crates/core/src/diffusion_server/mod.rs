//! The `diffusionServer` supervisor: a loopback HTTP front (`diffusion::front`) that is up from
//! `start()` to `stop()`, and behind it a persistent sd-server (`diffusion::backend`) started on
//! the first image and kept (`burst`) or released after each one (`single`), as genai-electron
//! 0.25/0.26 do.
//!
//! `state` (status, backend slot, generation claim), `residency` (ensure/release the backend,
//! idle timer, crashes), `generate` (one image: flags, backend, progress; batches), `job` (one
//! sd-server job: submit, polling, watchdog, cancel),
//! `http` (the front's host: background generations in the registry).

mod binary;
mod generate;
mod http;
mod job;
mod residency;
mod state;

use crate::callback::Reply;
use crate::diffusion::registry::Registry;
use crate::diffusion::{constants, BackendInfo, BackendStatusEvent, DiffusionServerConfig};
use crate::health::{self, HealthStatus};
use crate::llama_server::ServerStatus;
use crate::logs::{Level, LogFile, Rotation};
use crate::models::{ModelManager, ModelType};
use crate::system::sizing::{CanRunOptions, ModelView};
use crate::system::SystemInfo;
use crate::{defaults, Error, Result};
use serde::Serialize;
use serde_json::json;
use state::{lock, Prepared, State};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use generate::{ProgressFn, Slot};

/// `DiffusionServerInfo` (`getInfo()`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffusionServerInfo {
    pub status: ServerStatus,
    pub health: HealthStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    pub port: u16,
    pub model_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    pub busy: bool,
    pub backend: BackendInfo,
}

/// What the supervisor tells its listeners (re-emitted with upstream's event names).
#[derive(Debug, Clone, PartialEq)]
pub enum DiffusionEvent {
    Status {
        new: ServerStatus,
        old: ServerStatus,
    },
    Started(DiffusionServerInfo),
    Stopped,
    BackendStatus(BackendStatusEvent),
    BinaryLog {
        message: String,
        level: Level,
    },
    BinaryProgress(crate::binaries::BinaryProgress),
}

pub type EventSink = Arc<dyn Fn(DiffusionEvent, Reply) + Send + Sync>;

pub struct DiffusionServer {
    me: std::sync::Weak<DiffusionServer>,
    state: Mutex<State>,
    backend: Mutex<state::BackendSlot>,
    /// Serialises backend starts and stops.
    transition: tokio::sync::Mutex<()>,
    /// Serialises `start()` and `stop()`.
    lifecycle: tokio::sync::Mutex<()>,
    /// Cancels the binary's provisioning of the start in progress (`stop()`, which waits for
    /// the start otherwise).
    provisioning: Mutex<Option<tokio_util::sync::CancellationToken>>,
    /// Milliseconds since the epoch of the backend's last sign of life (output, job status).
    last_activity: AtomicU64,
    registry: Mutex<Arc<Registry>>,
    /// Progress of the generation under way (fed by the backend's output).
    progress: Mutex<Option<generate::ProgressSink>>,
    /// Counts backend starts: output of an older backend (a flags change, a crash) does not move
    /// the progress of the current one.
    backend_epoch: AtomicU64,
    /// Told when the backend's output says an image is done, so that the job is read at once
    /// instead of at the next 200 ms poll.
    job_event: tokio::sync::Notify,
    /// Learned stage durations, for the percentage (kept across images, as upstream).
    estimates: Mutex<crate::diffusion::tracker::Estimates>,
    events: EventSink,
    log: Arc<LogFile>,
    models: Arc<ModelManager>,
    system: Arc<SystemInfo>,
    binaries_dir: PathBuf,
    loras_dir: PathBuf,
    pid_record: PathBuf,
    result_ttl: Duration,
    /// The built-in `ResourceOrchestrator` (`getOrchestrator()`), when the LLM is known.
    orchestrator: Mutex<Option<Arc<crate::orchestrator::Orchestrator>>>,
}

impl DiffusionServer {
    /// `result_ttl`: how long finished HTTP generations stay readable (`IMAGE_RESULT_TTL_MS`).
    pub fn new(
        models: Arc<ModelManager>,
        system: Arc<SystemInfo>,
        events: EventSink,
        result_ttl: Option<Duration>,
    ) -> Arc<Self> {
        let paths = models.storage.paths.clone();
        let result_ttl = result_ttl.unwrap_or(constants::IMAGE_RESULT_TTL);
        Arc::new_cyclic(|me| DiffusionServer {
            me: me.clone(),
            state: Mutex::new(State::default()),
            backend: Mutex::new(state::BackendSlot::default()),
            transition: tokio::sync::Mutex::new(()),
            lifecycle: tokio::sync::Mutex::new(()),
            provisioning: Mutex::new(None),
            last_activity: AtomicU64::new(0),
            backend_epoch: AtomicU64::new(0),
            registry: Mutex::new(Arc::new(Registry::new(result_ttl))),
            progress: Mutex::new(None),
            job_event: tokio::sync::Notify::new(),
            estimates: Mutex::new(Default::default()),
            events,
            log: Arc::new(LogFile::new(
                &paths.logs.join("diffusion-server.log"),
                Rotation::default(),
            )),
            binaries_dir: paths.binaries.diffusion.clone(),
            loras_dir: paths.loras.clone(),
            pid_record: paths.temp.join("children").join("sd-server.json"),
            result_ttl,
            models,
            system,
            orchestrator: Mutex::new(None),
        })
    }

    pub fn log(&self) -> &Arc<LogFile> {
        &self.log
    }

    /// `getOrchestrator()`: every image goes through it once set.
    pub fn orchestrator(&self) -> Option<Arc<crate::orchestrator::Orchestrator>> {
        lock(&self.orchestrator).clone()
    }

    pub fn set_orchestrator(&self, orchestrator: Option<Arc<crate::orchestrator::Orchestrator>>) {
        *lock(&self.orchestrator) = orchestrator;
    }

    pub fn status(&self) -> ServerStatus {
        lock(&self.state).status
    }

    pub fn port(&self) -> u16 {
        lock(&self.state).port
    }

    /// `getConfig()`: the last `start()` configuration.
    pub fn config(&self) -> Option<DiffusionServerConfig> {
        lock(&self.state).config.clone()
    }

    /// The registry of HTTP generations (a new one per `start()`, as upstream).
    pub fn registry(&self) -> Arc<Registry> {
        lock(&self.registry).clone()
    }

    /// `getPid()`: the backend's pid, while there is one.
    pub fn pid(&self) -> Option<u32> {
        lock(&self.backend).handle.as_ref().map(|h| h.pid)
    }

    /// `getBackendInfo()`.
    pub fn backend_info(&self) -> BackendInfo {
        lock(&self.backend).info()
    }

    /// `getActiveGenerationId()`.
    pub fn active_generation_id(&self) -> Option<String> {
        lock(&self.state).claim.as_ref().and_then(|c| c.id())
    }

    pub fn is_busy(&self) -> bool {
        lock(&self.state).claim.is_some()
    }

    /// `getInfo()`.
    pub fn info(&self) -> DiffusionServerInfo {
        let backend = self.backend_info();
        let s = lock(&self.state);
        DiffusionServerInfo {
            status: s.status,
            health: HealthStatus::Unknown,
            pid: backend.pid,
            port: s.port,
            model_id: s
                .config
                .as_ref()
                .map(|c| c.model_id.clone())
                .unwrap_or_default(),
            started_at: s.started_at.clone(),
            busy: s.claim.is_some(),
            backend,
        }
    }

    /// `isHealthy()`: the front is up (it answers without the backend).
    pub async fn is_healthy(&self) -> bool {
        let s = lock(&self.state);
        s.status == ServerStatus::Running && s.front.is_some()
    }

    /// A throwing `backend-status` listener is ignored, as upstream's try/catch does; the other
    /// events are the host's (a throw is Node's uncaught exception, as for any emitter).
    fn emit(&self, event: DiffusionEvent) {
        let reply = match event {
            DiffusionEvent::BackendStatus(_) => crate::callback::channel().0,
            _ => Reply::Nobody,
        };
        (self.events)(event, reply);
    }

    fn set_status(&self, new: ServerStatus) {
        let old = std::mem::replace(&mut lock(&self.state).status, new);
        if old != new {
            self.emit(DiffusionEvent::Status { new, old });
        }
    }

    /// One `start()` at a time, taken at once on the caller's thread (of two calls made one
    /// after the other, the first wins; the second gets upstream's error).
    pub fn claim_start(&self) -> Result<StartClaim> {
        let mut s = lock(&self.state);
        let running = s.status == ServerStatus::Running;
        if running || s.status == ServerStatus::Starting || s.start_claimed {
            let (what, suggestion) = if running {
                ("running", "Stop the server first with stop()")
            } else {
                ("starting", "Wait for the current start() call to finish")
            };
            return Err(Error::server(
                format!("Server is already {what}"),
                Some(json!({ "suggestion": suggestion })),
            ));
        }
        s.start_claimed = true;
        Ok(StartClaim(self.me.clone()))
    }

    /// `start(config)` with the claim: checks the model, the binary and the port, then serves
    /// the front; the backend starts with the first image. The config comes from
    /// `DiffusionServerConfig::from_js`. Waits for a `stop()` under way. A failed start leaves
    /// everything as it was.
    pub async fn start(
        &self,
        claim: StartClaim,
        config: DiffusionServerConfig,
    ) -> Result<DiffusionServerInfo> {
        let _life = self.lifecycle.lock().await;
        let (previous, started_at) = {
            let s = lock(&self.state);
            (s.config.clone(), s.started_at.clone())
        };
        let result = self.start_claimed(config).await;
        drop(claim);
        if let Err(e) = &result {
            {
                let mut s = lock(&self.state);
                s.config = previous;
                s.started_at = started_at;
                (s.front, s.prepared, s.port) = (None, None, 0);
            }
            self.set_status(ServerStatus::Stopped);
            let _ = self
                .log
                .write(&format!("Failed to start: {e}"), Level::Error);
        }
        result
    }

    async fn start_claimed(&self, config: DiffusionServerConfig) -> Result<DiffusionServerInfo> {
        // Files, GPU detection: off the async threads.
        let me = self
            .me
            .upgrade()
            .ok_or_else(|| not_running(ServerStatus::Stopped))?;
        let checked = config.clone();
        let prepared = tokio::task::spawn_blocking(move || me.prepare(&checked))
            .await
            .map_err(|e| Error::server(format!("Failed to start diffusion-server: {e}"), None))??;
        self.set_status(ServerStatus::Starting);
        lock(&self.state).config = Some(config.clone());
        *lock(&self.registry) = Arc::new(Registry::new(self.result_ttl));
        self.log.initialize()?;
        let _ = self.log.write(
            &format!("Preparing diffusion server for model {}", config.model_id),
            Level::Info,
        );
        let mut prepared = prepared;
        let given = (!prepared.binary.as_os_str().is_empty()).then(|| prepared.binary.clone());
        let force = config.force_validation == Some(true);
        prepared.binary = self
            .ready_binary(given, &config, &prepared.model, force)
            .await?;
        let port = self.front_port(&config, &prepared.host).await?;
        let _ = self.log.write(
            &format!("Starting diffusion server on {}:{port}", prepared.host),
            Level::Info,
        );
        let front = crate::diffusion::front::Front::bind(
            crate::diffusion::front::FrontConfig {
                host: prepared.host.clone(),
                port,
                allowed_origins: config.allowed_origins.clone().unwrap_or_default(),
                ..Default::default()
            },
            Arc::new(http::Host(self.me.clone())),
        )?;
        let bound = front.local_addr().port();
        let _ = self.log.write(
            &format!("HTTP server listening on {}:{bound}", prepared.host),
            Level::Info,
        );
        {
            let mut s = lock(&self.state);
            s.front = Some(front);
            s.port = bound;
            s.started_at = Some(crate::clock::iso_now());
            s.prepared = Some(prepared);
        }
        self.set_status(ServerStatus::Running);
        let _ = self.log.write("Diffusion server is running", Level::Info);
        self.system.clear_cache();
        let info = self.info();
        self.emit(DiffusionEvent::Started(info.clone()));
        Ok(info)
    }

    /// The model (a diffusion model whose files are there, that the machine can hold), the
    /// binary and the bind address. Nothing is changed yet.
    fn prepare(&self, config: &DiffusionServerConfig) -> Result<Prepared> {
        let model = self.models.storage.find(&config.model_id)?;
        if model.model_type != ModelType::Diffusion {
            // Upstream passes this sentence as ModelNotFoundError's model id (message and details).
            return Err(Error::model_not_found(&format!(
                "Model {} is not a diffusion model (type: {})",
                config.model_id,
                model.model_type.as_str()
            )));
        }
        crate::llama_server::check_model_files(&model)?;
        let view = ModelView::from_json(&serde_json::to_value(&model).unwrap_or_default());
        let can = self.system.can_run_model(
            &view,
            &CanRunOptions {
                check_total_memory: Some(true),
                ..Default::default()
            },
        );
        if !can.possible {
            let total = self.system.detect(false).memory.total;
            let gib = |b: f64| (b / 1024f64.powi(3)).round();
            return Err(Error::insufficient_resources(
                format!(
                    "System cannot run model: {}",
                    can.reason
                        .clone()
                        .unwrap_or_else(|| "Insufficient resources".into())
                ),
                json!({
                    "required": format!("Model size: {}GB", gib(model.size as f64)),
                    "available": format!("Total RAM: {}GB", gib(total)),
                    "suggestion": can.suggestion.or(can.reason).unwrap_or_else(|| "Try a smaller model".into()),
                }),
            ));
        }
        // Empty: none given, provisioned at start (`ready_binary`).
        let binary = self.given_binary(config)?.unwrap_or_default();
        let host = config
            .host
            .clone()
            .unwrap_or_else(|| defaults::LOOPBACK_HOST.to_string());
        Ok(Prepared {
            config: config.clone(),
            model,
            binary,
            host,
        })
    }

    /// The front's port: `'auto'` a free one, else the given one (default 8081), refused when
    /// something answers there or it cannot be bound.
    async fn front_port(&self, config: &DiffusionServerConfig, host: &str) -> Result<u16> {
        use crate::llama::PortSetting;
        match config.port {
            Some(PortSetting::Auto(_)) => health::find_free_port(host),
            Some(PortSetting::Number(n)) => self.free_port(health::port_number(n)?, host).await,
            None => {
                self.free_port(defaults::DEFAULT_PORTS.diffusion, host)
                    .await
            }
        }
    }

    async fn free_port(&self, port: u16, host: &str) -> Result<u16> {
        let probe = health::normalize_health_host(Some(host));
        if health::is_server_responding(port, defaults::RESPONDING_TIMEOUT, &probe).await
            || !health::is_port_bindable(port, host)?
        {
            return Err(Error::port_in_use(port));
        }
        Ok(port)
    }

    /// `stop()`: cancels the generation under way, releases the backend, closes the front.
    /// Idempotent (stopped: only makes sure no backend is left).
    pub async fn stop(&self) -> Result<()> {
        if let Some(provisioning) = lock(&self.provisioning).as_ref() {
            provisioning.cancel();
        }
        let _life = self.lifecycle.lock().await;
        if self.status() == ServerStatus::Stopped {
            return self
                .release_backend(crate::diffusion::ReleaseReason::Stop, false)
                .await;
        }
        self.set_status(ServerStatus::Stopping);
        let _ = self.log.write("Stopping diffusion server...", Level::Info);
        if let Some(claim) = lock(&self.state).claim.clone() {
            claim.request_cancel();
        }
        let released = self
            .release_backend(crate::diffusion::ReleaseReason::Stop, false)
            .await;
        let front = lock(&self.state).front.take();
        if let Some(front) = front {
            front.close().await;
        }
        self.registry().clear();
        {
            let mut s = lock(&self.state);
            s.port = 0;
            s.prepared = None;
        }
        self.set_status(ServerStatus::Stopped);
        let _ = self.log.write("Diffusion server stopped", Level::Info);
        self.system.clear_cache();
        self.emit(DiffusionEvent::Stopped);
        released.map_err(|e| {
            Error::server(
                format!("Failed to stop server: {}", e.message),
                Some(json!({ "error": e.message })),
            )
        })
    }
}

/// A `start()` under way (see `claim_start`); the claim ends when this is dropped.
pub struct StartClaim(std::sync::Weak<DiffusionServer>);

impl Drop for StartClaim {
    fn drop(&mut self) {
        if let Some(server) = self.0.upgrade() {
            lock(&server.state).start_claimed = false;
        }
    }
}

/// A generation's time in ms, and `Date.now()`.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// upstream's "Server is not running" (`details.code` says so for the HTTP API's mapping).
pub(super) fn not_running(status: ServerStatus) -> Error {
    Error::server(
        "Server is not running",
        Some(json!({ "code": "SERVER_NOT_RUNNING", "status": status,
            "suggestion": "Start the server first with start()" })),
    )
}
