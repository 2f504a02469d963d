//! The llama-server supervisor behind `llamaServer`: resolve the configuration (validation,
//! port, auto-configuration), start the real binary through `process`, notice readiness as soon
//! as it is ready (fast health polling, early exit detection), log its output, report status
//! transitions and a crash, stop it (SIGTERM to the group, SIGKILL after the grace period).

use crate::logs::{classify_llama_line, Level, LogFile};
use crate::models::ModelManager;
use crate::process::{self, Event, Exit};
use crate::system::SystemInfo;
use crate::{health, llama, Error, ErrorCode, Result};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// Environment variable naming the llama-server binary (after `config.binaryPath`).
pub const BINARY_ENV: &str = "GENAI_LLAMA_SERVER_PATH";
pub const DEFAULT_PORT: u16 = 8080;
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// Upstream's Phase 1 limit.
const VALIDATION_TIMEOUT: Duration = Duration::from_secs(5);

/// A binary as validated: path, size, modification time.
type BinaryKey = (PathBuf, u64, Option<std::time::SystemTime>);
/// Binaries that passed validation in this process.
static VALIDATED: LazyLock<Mutex<HashSet<BinaryKey>>> = LazyLock::new(Mutex::default);

/// What the manager tells its listeners (the facade re-emits them with genai-electron's names).
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    Status {
        new: &'static str,
        old: &'static str,
    },
    Ready(Value),
    Started(Value),
    Stopped,
    Crashed(Exit),
    /// After an automatic restart (`autoRestart`), with the new `getInfo()`.
    Restarted(Value),
    /// Watchdog (`healthCheckInterval`): a passed check, with `getInfo()`.
    HealthOk(Value),
    /// Watchdog: a failed check, `{ consecutiveFailures, serverInfo }`; three in a row kill the
    /// hung server (then `crashed`, and `autoRestart` applies).
    HealthFailed(Value),
    /// What happens to the binary before it runs (`binary-log`): which one, its validation.
    BinaryLog {
        message: String,
        level: Level,
    },
}

pub type EventSink = Arc<dyn Fn(ServerEvent) + Send + Sync>;

#[derive(Default)]
struct State {
    status: &'static str,
    port: u16,
    config: Option<Map<String, Value>>,
    started_at: Option<String>,
    load_ms: Option<u64>,
    generation: u64,
    /// `contextSize` as configured, and what the server reports per slot / as slots (`/props`).
    capacity: Option<(Value, u64, u64)>,
    child: Option<Arc<process::Child>>,
    stop_requested: bool,
    /// Automatic restarts since the last `start()` by the caller.
    restarts: u32,
    /// A `start()` is under way (from its first line, before the status says so).
    start_claimed: bool,
    /// The watchdog killed it: its exit counts as a crash whatever the code.
    watchdog_kill: bool,
    /// How the last child ended: `{ reason: 'stopped'|'crashed'|'watchdog'|'exited', code, signal }`.
    last_exit: Option<Value>,
}

impl State {
    /// The process is gone: nothing of it is reported any more.
    fn clear_run(&mut self) {
        (self.child, self.port, self.capacity) = (None, 0, None);
    }

    /// The running child's pid.
    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.pid)
    }
}

/// Held by a `start()` while it runs; released however it ends.
pub struct StartClaim(Arc<Mutex<State>>);

impl Drop for StartClaim {
    fn drop(&mut self) {
        lock(&self.0).start_claimed = false;
    }
}

pub struct LlamaServer {
    me: std::sync::Weak<LlamaServer>,
    /// `<userData>/config/children/llama-server.json`: the running child, for orphan reaping.
    pid_record: PathBuf,
    runtime: Mutex<Option<tokio::runtime::Handle>>,
    state: Arc<Mutex<State>>,
    events: EventSink,
    log: Arc<LogFile>,
    models: Arc<ModelManager>,
    system: Arc<SystemInfo>,
    binaries_dir: PathBuf,
}

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

fn cancelled_by_stop() -> Error {
    Error::server(
        "llama-server start cancelled by stop()",
        Some(json!({ "suggestion": "Call start() again" })),
    )
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        true
    }
}

fn positive_int(config: &Map<String, Value>, key: &str, allow_minus_one: bool) -> Result<()> {
    let Some(v) = config.get(key).filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let ok = v.as_f64().is_some_and(|n| {
        n.fract() == 0.0 && (n > 0.0 || (allow_minus_one && (n == -1.0 || n == 0.0)))
    });
    if ok {
        return Ok(());
    }
    Err(Error::server(
        format!("Invalid {key}: {v}"),
        Some(
            json!({ "field": key, "value": v, "suggestion": format!("Use a positive whole number for {key}") }),
        ),
    ))
}

impl LlamaServer {
    pub fn new(models: Arc<ModelManager>, system: Arc<SystemInfo>, events: EventSink) -> Arc<Self> {
        let paths = models.storage.paths.clone();
        Arc::new_cyclic(|me| LlamaServer {
            me: me.clone(),
            pid_record: paths.config.join("children").join("llama-server.json"),
            runtime: Mutex::new(None),
            log: Arc::new(LogFile::new(
                &paths.logs.join("llama-server.log"),
                None,
                None,
            )),
            binaries_dir: paths.binaries.llama.clone(),
            state: Arc::new(Mutex::new(State {
                status: "stopped",
                ..Default::default()
            })),
            events,
            models,
            system,
        })
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

    fn set_status(&self, new: &'static str) {
        let old = std::mem::replace(&mut lock(&self.state).status, new);
        if old != new {
            (self.events)(ServerEvent::Status { new, old });
        }
    }

    pub fn status(&self) -> &'static str {
        lock(&self.state).status
    }

    /// `getInfo()`.
    pub fn info(&self) -> Value {
        let s = lock(&self.state);
        let mut info = json!({
            "status": s.status,
            "health": "unknown",
            "port": s.port,
            "modelId": s.config.as_ref().and_then(|c| c.get("modelId")).cloned().unwrap_or(json!("")),
        });
        if let Some(pid) = s.pid() {
            info["pid"] = json!(pid);
        }
        if let Some(t) = &s.started_at {
            info["startedAt"] = json!(t);
        }
        if let Some(ms) = s.load_ms {
            info["loadTimeMs"] = json!(ms);
        }
        if let Some((configured, effective, parallel)) = &s.capacity {
            if !configured.is_null() {
                info["configuredContextSize"] = configured.clone();
            }
            info["effectiveContextSize"] = json!(effective);
            info["effectiveParallelRequests"] = json!(parallel);
        }
        if s.generation > 0 {
            info["serverGeneration"] = json!(s.generation);
        }
        if let (Some(exit), "stopped" | "crashed") = (&s.last_exit, s.status) {
            info["exit"] = exit.clone();
        }
        info
    }

    pub fn config(&self) -> Option<Map<String, Value>> {
        lock(&self.state).config.clone()
    }

    /// The binary: `config.binaryPath`, else `$GENAI_LLAMA_SERVER_PATH`, else the installed one.
    fn binary(&self, config: &Map<String, Value>) -> Result<PathBuf> {
        let exe = if cfg!(windows) {
            "llama-server.exe"
        } else {
            "llama-server"
        };
        let path = config
            .get("binaryPath")
            .and_then(Value::as_str)
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os(BINARY_ENV)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| self.binaries_dir.join(exe));
        let problem = if !path.is_file() {
            Some("Binary file not found")
        } else if !is_executable(&path) {
            Some("Binary is not executable")
        } else {
            None
        };
        if let Some(problem) = problem {
            let message = format!("{problem}: {}", path.display());
            self.binary_log(&message, Level::Error);
            return Err(Error::new(
                ErrorCode::Binary,
                message,
                Some(json!({ "path": path.to_string_lossy() })),
            ));
        }
        Ok(path)
    }

    /// `binary-log`: to listeners and to the log file, as upstream.
    fn binary_log(&self, message: &str, level: Level) {
        let _ = self.log.write(message, level);
        (self.events)(ServerEvent::BinaryLog {
            message: message.to_string(),
            level,
        });
    }

    /// Phase 1 of upstream's binary validation: `--version` must run and exit 0. Once per binary
    /// (path, size, mtime) and process, unless `forceValidation`. Catches a binary that exists but
    /// cannot run here (wrong architecture, missing libraries) before it is started for real.
    async fn validate_binary(&self, binary: &Path, force: bool) -> Result<()> {
        self.binary_log(
            &format!("Using llama-server binary: {}", binary.display()),
            Level::Info,
        );
        let key = std::fs::metadata(binary)
            .map(|m| (binary.to_path_buf(), m.len(), m.modified().ok()))
            .ok();
        let known = key.as_ref().is_some_and(|k| {
            VALIDATED
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(k)
        });
        if known && !force {
            self.binary_log(
                "Using cached validation result (binary verified)",
                Level::Info,
            );
            return Ok(());
        }
        if force {
            self.binary_log(
                "Force validation requested, re-running tests...",
                Level::Info,
            );
        }
        self.binary_log("Phase 1: Testing binary basic validation...", Level::Info);
        let spec = process::Spec {
            program: binary.to_path_buf(),
            args: vec!["--version".into()],
            ..Default::default()
        };
        let run = tokio::task::spawn_blocking(move || {
            let output = Arc::new(Mutex::new(Vec::<String>::new()));
            let sink = output.clone();
            let child = process::spawn(
                &spec,
                Arc::new(move |e| {
                    if let Event::Stdout(l) | Event::Stderr(l) = e {
                        sink.lock().unwrap_or_else(|p| p.into_inner()).push(l);
                    }
                }),
            )
            .map_err(|e| e.to_string())?;
            let exit = child.wait_timeout(VALIDATION_TIMEOUT).ok_or_else(|| {
                child.kill();
                format!(
                    "--version did not finish within {} s",
                    VALIDATION_TIMEOUT.as_secs()
                )
            })?;
            let lines = output.lock().unwrap_or_else(|p| p.into_inner()).clone();
            match exit.success() {
                true => Ok(lines),
                false => Err(format!(
                    "--version ended with {exit}: {}",
                    lines.join(" | ")
                )),
            }
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        match run {
            Ok(lines) => {
                if let Some(version) = lines.iter().find(|l| l.contains("version")) {
                    self.binary_log(version.trim(), Level::Info);
                }
                self.binary_log(
                    "Phase 1: ✓ Binary validation passed (--version)",
                    Level::Info,
                );
                if let Some(key) = key {
                    VALIDATED
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(key);
                }
                Ok(())
            }
            Err(why) => {
                self.binary_log(
                    &format!("Phase 1: ✗ Basic validation failed: {why}"),
                    Level::Error,
                );
                Err(Error::new(
                    ErrorCode::Binary,
                    format!("llama-server binary failed validation: {why}"),
                    Some(json!({ "path": binary.to_string_lossy(), "error": why })),
                ))
            }
        }
    }

    /// Validation and the port: everything checked before anything changes.
    fn validate(&self, config: &Map<String, Value>) -> Result<u16> {
        let mut fields: Vec<&str> = llama::VALID_CONFIG_FIELDS.to_vec();
        fields.push("binaryPath"); // addition: a binary outside userData
        llama::validate_fields(config, &fields, "LlamaServerManager")?;
        if config
            .get("modelId")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(Error::server(
                "modelId is required",
                Some(json!({ "field": "modelId" })),
            ));
        }
        positive_int(config, "threads", false)?;
        positive_int(config, "contextSize", false)?;
        positive_int(config, "parallelRequests", false)?;
        positive_int(config, "gpuLayers", true)?;
        match config.get("port").filter(|v| !v.is_null()) {
            None => Ok(DEFAULT_PORT),
            Some(Value::String(s)) if s == "auto" => health::find_free_port("127.0.0.1"),
            Some(v) => match v.as_f64() {
                Some(p) if p.fract() == 0.0 && (1.0..=65535.0).contains(&p) => Ok(p as u16),
                _ => Err(Error::server(
                    format!("Invalid port: {v}"),
                    Some(
                        json!({ "port": v, "suggestion": "Use a port between 1 and 65535, or 'auto'" }),
                    ),
                )),
            },
        }
    }

    /// `start(config)`: resolves to `getInfo()` once the server answers /health with ok.
    pub async fn start(&self, config: Map<String, Value>) -> Result<Value> {
        let claim = self.claim_start()?;
        self.start_claimed(claim, config).await
    }

    /// `start()` for a caller that took the claim itself, synchronously (the binding does, so
    /// that of two calls made one after the other the first one wins).
    /// The claim lives as long as this call.
    pub async fn start_claimed(
        &self,
        _claim: StartClaim,
        config: Map<String, Value>,
    ) -> Result<Value> {
        *self.runtime.lock().unwrap_or_else(|p| p.into_inner()) =
            tokio::runtime::Handle::try_current().ok();
        let port = self.validate(&config)?;
        self.reap_orphan();
        let model_id = config
            .get("modelId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let model = self.models.storage.find(&model_id)?;
        let binary = self.binary(&config)?;
        let host = health::normalize_health_host(config.get("host").and_then(Value::as_str));
        if health::is_server_responding(port, Duration::from_secs(2), &host).await
            || !health::is_port_bindable(port, &host)?
        {
            return Err(Error::port_in_use(port));
        }
        let resolved = self.resolve(&config, port, &model)?;
        let model_path = model
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        self.log.initialize()?;
        {
            let mut s = lock(&self.state);
            if s.stop_requested {
                return Err(cancelled_by_stop());
            }
            (s.watchdog_kill, s.last_exit) = (false, None);
            s.port = port;
        }
        self.set_status("starting");
        let force = config.get("forceValidation") == Some(&Value::Bool(true));
        let result = match self.validate_binary(&binary, force).await {
            Ok(()) if lock(&self.state).stop_requested => Err(cancelled_by_stop()),
            Ok(()) => {
                self.launch(&binary, &model_path, &resolved, port, &host)
                    .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(info) => Ok(info),
            Err(e) => {
                let child = lock(&self.state).child.clone();
                if let Some(child) = child {
                    lock(&self.state).stop_requested = true;
                    let _ = tokio::task::spawn_blocking(move || child.stop(Duration::from_secs(5)))
                        .await;
                }
                lock(&self.state).clear_run();
                self.set_status("stopped");
                let _ = self
                    .log
                    .write(&format!("Failed to start: {e}"), Level::Error);
                Err(e)
            }
        }
    }

    /// One `start()` at a time: refused (as upstream) while running, starting or stopping; the
    /// claim is taken before the first await, so two concurrent calls cannot both go ahead. A
    /// `stop()` from here on cancels the start.
    pub fn claim_start(&self) -> Result<StartClaim> {
        self.claim(true)
    }

    /// `by_caller: false` is an automatic restart: it only goes ahead from `crashed` and when no
    /// `stop()` came since, and it keeps the restart count.
    fn claim(&self, by_caller: bool) -> Result<StartClaim> {
        let mut s = lock(&self.state);
        let status = if s.start_claimed {
            "starting"
        } else {
            s.status
        };
        let (what, suggestion) = match status {
            "running" => (
                "Server is already running",
                "Stop the server first with stop()",
            ),
            "starting" => (
                "Server is already starting",
                "Wait for the current start() call to finish",
            ),
            "stopping" => (
                "Server is already stopping",
                "Wait for stop() to finish before starting again",
            ),
            _ if !by_caller && (s.stop_requested || s.status != "crashed") => (
                "Automatic restart cancelled",
                "stop() or start() was called meanwhile",
            ),
            _ => {
                s.start_claimed = true;
                s.capacity = None;
                if by_caller {
                    (s.stop_requested, s.restarts) = (false, 0);
                }
                return Ok(StartClaim(self.state.clone()));
            }
        };
        Err(Error::server(
            what,
            Some(json!({ "suggestion": suggestion })),
        ))
    }

    /// Caller values win; what is missing comes from `getOptimalConfig` (and the V-cache rule).
    fn resolve(
        &self,
        config: &Map<String, Value>,
        port: u16,
        model: &Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        let hints: Map<String, Value> = config
            .iter()
            .filter(|(k, _)| {
                matches!(
                    k.as_str(),
                    "contextSize"
                        | "gpuLayers"
                        | "parallelRequests"
                        | "flashAttention"
                        | "cacheTypeK"
                        | "cacheTypeV"
                        | "cpuMoe"
                        | "nCpuMoe"
                        | "overrideTensors"
                        | "minimumContextSize"
                        | "preferredContextSize"
                        | "maximumContextSize"
                )
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let view = crate::system::ModelView::from_json(&Value::Object(model.clone()));
        let optimal = self.system.optimal_config(&view, &typed_hints(hints))?;
        let optimal = untyped(&optimal);
        let mut resolved = config.clone();
        for (k, v) in optimal {
            if matches!(
                k.as_str(),
                "minimumContextSize" | "preferredContextSize" | "maximumContextSize"
            ) {
                continue;
            }
            resolved.entry(k).or_insert(v);
        }
        resolved.insert("port".into(), json!(port));
        llama::normalize_v_cache(&mut resolved)?;
        Ok(resolved)
    }

    async fn launch(
        &self,
        binary: &Path,
        model_path: &str,
        config: &Map<String, Value>,
        port: u16,
        host: &str,
    ) -> Result<Value> {
        let args = llama::build_args(config, model_path);
        let _ = self.log.write(
            &format!("Starting llama-server on port {port}"),
            Level::Info,
        );
        let _ = self.log.write(
            &format!("Command: {} {}", binary.display(), args.join(" ")),
            Level::Info,
        );
        let spec = process::Spec {
            program: binary.to_path_buf(),
            args,
            ..Default::default()
        };
        let started = Instant::now();
        let sink = self.output_sink();
        let child = Arc::new(process::spawn(&spec, sink).map_err(|e| {
            Error::new(
                ErrorCode::Binary,
                format!("Failed to spawn llama-server: {e}"),
                Some(json!({ "path": binary.to_string_lossy() })),
            )
        })?);
        {
            let mut s = lock(&self.state);
            s.child = Some(child.clone());
            s.config = Some(config.clone());
        }
        self.write_pid_record(child.pid);
        let _ = self.log.write(
            &format!(
                "Process spawned with PID {}, waiting for health check...",
                child.pid
            ),
            Level::Info,
        );
        let timeout = config
            .get("startupTimeout")
            .and_then(Value::as_f64)
            .map_or(Duration::from_secs(120), |ms| {
                Duration::from_millis(ms as u64)
            });
        // Poll fast: readiness is noticed within ~25 ms, and an early exit at once.
        loop {
            if let Some(exit) = child.exit() {
                let last = self.log.recent(20).unwrap_or_default();
                return Err(Error::server(
                    format!("llama-server exited during startup ({exit})"),
                    Some(json!({ "code": exit.code, "signal": exit.signal, "lastLogs": last })),
                ));
            }
            if lock(&self.state).stop_requested {
                return Err(cancelled_by_stop());
            }
            if health::check_health(port, Duration::from_secs(2), host).await["status"] == "ok" {
                break;
            }
            if started.elapsed() > timeout {
                return Err(Error::server(
                    format!(
                        "Server health check timeout after {}ms",
                        timeout.as_millis()
                    ),
                    Some(json!({ "port": port, "timeout": timeout.as_millis() as u64 })),
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let load_ms = started.elapsed().as_millis() as u64;
        // What the server really runs with (it may fit a smaller context), as upstream reads it.
        let configured = config.get("contextSize").cloned().unwrap_or(Value::Null);
        let parallel = config
            .get("parallelRequests")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .max(1);
        let (effective, slots) =
            health::runtime_capacity(port, host, parallel, Duration::from_secs(5)).await?;
        {
            let mut s = lock(&self.state);
            s.started_at = Some(crate::clock::iso_now());
            s.load_ms = Some(load_ms);
            s.generation += 1;
            s.capacity = Some((configured.clone(), effective, slots));
        }
        let _ = self.log.write("Server is running and healthy", Level::Info);
        self.set_status("running");
        let info = self.info();
        (self.events)(ServerEvent::Ready(json!({
            "serverGeneration": info["serverGeneration"],
            "modelId": info["modelId"],
            "port": port,
            "configuredContextSize": configured,
            "effectiveContextSize": effective,
            "effectiveParallelRequests": slots,
            "startedAt": info["startedAt"],
        })));
        (self.events)(ServerEvent::Started(info.clone()));
        self.start_watchdog(config, host);
        Ok(info)
    }

    /// `healthCheckInterval`: a health check every interval while this server generation runs.
    fn start_watchdog(&self, config: &Map<String, Value>, host: &str) {
        let Some(interval) = config
            .get("healthCheckInterval")
            .and_then(Value::as_f64)
            .filter(|i| *i > 0.0)
        else {
            return;
        };
        let Some(runtime) = self.runtime() else {
            return;
        };
        let (me, host) = (self.me.clone(), host.to_string());
        let generation = lock(&self.state).generation;
        runtime.spawn(async move {
            let mut failures = 0u32;
            loop {
                tokio::time::sleep(Duration::from_millis(interval as u64)).await;
                let Some(server) = me.upgrade() else { return };
                let (port, child) = {
                    let s = lock(&server.state);
                    if s.status != "running" || s.generation != generation {
                        return;
                    }
                    (s.port, s.child.clone())
                };
                let healthy = health::check_health(port, Duration::from_secs(5), &host).await["status"] == "ok";
                if lock(&server.state).status != "running" {
                    return;
                }
                if healthy {
                    failures = 0;
                    (server.events)(ServerEvent::HealthOk(server.info()));
                    continue;
                }
                failures += 1;
                (server.events)(ServerEvent::HealthFailed(json!({ "consecutiveFailures": failures, "serverInfo": server.info() })));
                if failures >= 3 {
                    let _ = server.log.write(&format!("Watchdog: {failures} consecutive health-check failures - killing hung process"), Level::Error);
                    lock(&server.state).watchdog_kill = true;
                    if let Some(child) = child {
                        // A stopped (SIGSTOP) process only acts on SIGTERM once continued.
                        process::signal_group(child.pid, process::Signal::Cont);
                        let _ = tokio::task::spawn_blocking(move || child.stop(STOP_GRACE)).await;
                    }
                    return;
                }
            }
        });
    }

    /// A llama-server left running by an earlier run that died without cleaning up (possible
    /// where the OS has no parent-death signal) is killed before a new one starts.
    fn reap_orphan(&self) {
        let record = std::fs::read(&self.pid_record)
            .ok()
            .and_then(|b| serde_json::from_slice::<process::Identity>(&b).ok());
        let Some(record) = record else { return };
        if lock(&self.state).pid() == Some(record.pid) {
            return; // ours, alive in this process
        }
        if process::reap_orphan(&record) {
            self.binary_log(
                &format!(
                    "Killed llama-server (PID {}) left running by an earlier run",
                    record.pid
                ),
                Level::Warn,
            );
        }
        let _ = std::fs::remove_file(&self.pid_record);
    }

    fn write_pid_record(&self, pid: u32) {
        let Some(identity) = process::identity(pid) else {
            return;
        };
        if let (Some(dir), Ok(bytes)) = (self.pid_record.parent(), serde_json::to_vec(&identity)) {
            let _ = std::fs::create_dir_all(dir);
            let _ = std::fs::write(&self.pid_record, bytes);
        }
    }

    /// Output lines → the log file (levels mapped); the exit → stopped or crashed.
    fn output_sink(&self) -> process::EventFn {
        let log = self.log.clone();
        let state = self.state.clone();
        let events = self.events.clone();
        let me = self.me.clone();
        let record = self.pid_record.clone();
        Arc::new(move |event| match event {
            Event::Stdout(line) | Event::Stderr(line) => {
                let (level, message) = classify_llama_line(&line);
                let _ = log.write(&message, level);
            }
            Event::Exited(exit) => {
                // The record may already describe a newer child: drop it only if its process is gone.
                let stale = std::fs::read(&record)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<process::Identity>(&b).ok());
                if stale.is_some_and(|r| process::identity(r.pid).is_none()) {
                    let _ = std::fs::remove_file(&record);
                }
                let (was, asked, clean) = {
                    let mut s = lock(&state);
                    let was = s.status;
                    let asked = s.stop_requested;
                    let clean = exit.success() && !s.watchdog_kill;
                    let reason = if asked {
                        "stopped"
                    } else if s.watchdog_kill {
                        "watchdog"
                    } else if clean {
                        "exited"
                    } else {
                        "crashed"
                    };
                    s.last_exit = Some(
                        json!({ "reason": reason, "code": exit.code, "signal": exit.signal_name() }),
                    );
                    if was == "running" {
                        s.clear_run();
                        s.status = if asked || clean { "stopped" } else { "crashed" };
                    }
                    (was, asked, clean)
                };
                if was == "running" && !asked {
                    let _ = log.write(&format!("llama-server exited ({exit})"), Level::Error);
                    let new = if clean { "stopped" } else { "crashed" };
                    events(ServerEvent::Status {
                        new,
                        old: "running",
                    });
                    if clean {
                        events(ServerEvent::Stopped);
                    } else {
                        events(ServerEvent::Crashed(exit));
                        if let Some(server) = me.upgrade() {
                            server.schedule_restart();
                        }
                    }
                }
            }
        })
    }

    /// `autoRestart`: after a crash, start again with the resolved config after 1 s, 2 s, 4 s …
    /// up to `maxRestarts` (3) attempts since the caller's last `start()`. `stop()` cancels.
    fn schedule_restart(&self) {
        let (config, attempt) = {
            let mut s = lock(&self.state);
            let Some(config) = s.config.clone() else {
                return;
            };
            let max = config
                .get("maxRestarts")
                .and_then(Value::as_u64)
                .unwrap_or(3) as u32;
            if config.get("autoRestart") != Some(&Value::Bool(true)) || s.restarts >= max {
                return;
            }
            s.restarts += 1;
            (config, s.restarts)
        };
        let Some(runtime) = self.runtime() else {
            return;
        };
        let me = self.me.clone();
        let delay = Duration::from_millis(1000 * 2u64.pow(attempt - 1));
        let _ = self.log.write(
            &format!(
                "Restarting llama-server in {} ms (attempt {attempt})",
                delay.as_millis()
            ),
            Level::Warn,
        );
        runtime.spawn(async move {
            tokio::time::sleep(delay).await;
            let Some(server) = me.upgrade() else { return };
            let Ok(claim) = server.claim(false) else {
                return; // stopped or started by hand meanwhile
            };
            match server.start_claimed(claim, config).await {
                Ok(info) => (server.events)(ServerEvent::Restarted(info)),
                Err(e) => {
                    let _ = server
                        .log
                        .write(&format!("Automatic restart failed: {e}"), Level::Error);
                    server.schedule_restart();
                }
            }
        });
    }

    /// `stop()`: idempotent; SIGTERM to the group, SIGKILL after 10 s.
    pub async fn stop(&self) -> Result<()> {
        let child = {
            let mut s = lock(&self.state);
            s.stop_requested = true; // also cancels a pending automatic restart
            if matches!(s.status, "stopped" | "crashed") && s.child.is_none() {
                drop(s);
                self.set_status("stopped");
                return Ok(());
            }
            s.child.clone() // kept (with its pid) until it is gone
        };
        self.set_status("stopping");
        if let Some(child) = child {
            tokio::task::spawn_blocking(move || child.stop(STOP_GRACE))
                .await
                .map_err(|e| Error::server(format!("Failed to stop server: {e}"), None))?;
        }
        lock(&self.state).clear_run();
        let _ = self.log.write("Server stopped", Level::Info);
        self.set_status("stopped");
        (self.events)(ServerEvent::Stopped);
        Ok(())
    }

    /// `isHealthy()`: never throws.
    pub async fn is_healthy(&self) -> bool {
        let (status, port, host) = {
            let s = lock(&self.state);
            let host = s
                .config
                .as_ref()
                .and_then(|c| c.get("host"))
                .and_then(Value::as_str)
                .map(str::to_string);
            (s.status, s.port, host)
        };
        status == "running"
            && port != 0
            && health::check_health(
                port,
                Duration::from_secs(5),
                &health::normalize_health_host(host.as_deref()),
            )
            .await["status"]
                == "ok"
    }
}

/// The hints as `getOptimalConfig` takes them; a value of the wrong type is left out (as if
/// absent), so that start() goes on to report it or pass it to llama-server as before.
fn typed_hints(hints: Map<String, Value>) -> crate::llama::LlamaServerConfig {
    let typed: Map<String, Value> = hints
        .into_iter()
        .filter(|(k, v)| {
            let one = Value::Object(Map::from_iter([(k.clone(), v.clone())]));
            serde_json::from_value::<crate::llama::LlamaServerConfig>(one).is_ok()
        })
        .collect();
    serde_json::from_value(Value::Object(typed)).unwrap_or_default()
}

/// The config back as JSON, whole numbers as integers (as the map-based sizing gave them).
fn untyped(config: &crate::llama::LlamaServerConfig) -> Map<String, Value> {
    let Ok(Value::Object(map)) = serde_json::to_value(config) else {
        return Map::new();
    };
    map.into_iter()
        .map(|(k, v)| match v.as_f64() {
            Some(x) if x.fract() == 0.0 && x.abs() < 9e15 => (k, Value::from(x as i64)),
            _ => (k, v),
        })
        .collect()
}
