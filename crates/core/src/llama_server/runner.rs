//! `startLlamaServerRunner` (genai-electron's Electron-free entry): one llama-server child on a
//! fixed context and slot count, started with the manager's argv and health/`/props` code, known
//! ready only once `/props` confirms the per-slot context; stopped exactly (the child and its
//! process group), its temporary slot folder removed.

use super::runner_options::{self as opts, aborted, cleanup_failed, Checked, RunnerOptions};
use crate::health::{self, RuntimeCapacity};
use crate::llama::config::PortSetting;
use crate::llama::launch::{build_launch_args, ArgsOptions};
use crate::llama::resolved::v_cache_flash_attention;
use crate::llama::LlamaServerConfig;
use crate::process::{self, Event, Exit};
use crate::{defaults, Error, Result};
use serde_json::{json, Value};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The last bytes of the child's stdout and stderr.
struct Tails {
    max: usize,
    out: Mutex<String>,
    err: Mutex<String>,
}

impl Tails {
    /// Appends, then drops a quarter of the text from the front until it fits (upstream's
    /// `boundedTail`).
    fn push(&self, which: &Mutex<String>, line: &str) {
        let mut s = which.lock().unwrap_or_else(|p| p.into_inner());
        s.push_str(line);
        s.push('\n');
        while s.len() > self.max && s.chars().count() > 1 {
            let cut = s.chars().count().div_ceil(4);
            let at = s.char_indices().nth(cut).map_or(s.len(), |(i, _)| i);
            s.replace_range(..at, "");
        }
    }

    fn get(which: &Mutex<String>) -> String {
        which.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A started runner (`LlamaServerHandle`'s data; the facade adds the promises).
pub struct Runner {
    pub port: u16,
    pub args: Vec<String>,
    /// `ResolvedLlamaServerRunnerConfig`: the config on the port, with the fixed context and
    /// slots, `fit: 'off'` and the V-cache rule applied.
    pub config: LlamaServerConfig,
    /// `VerifiedLlamaRuntimeCapacity` (`total_slots` is always there).
    pub capacity: RuntimeCapacity,
    pub load_ms: u64,
    pub pid: u32,
    child: process::Child,
    tails: Arc<Tails>,
    exited: watch::Receiver<Option<Exit>>,
    /// The temporary slot folder this runner made, removed when it ends.
    owned_dir: Option<PathBuf>,
}

impl Runner {
    /// Starts one runner (on a free port unless `port` is given, trying another port when the
    /// chosen one is taken before llama-server binds it). `cancel` is the caller's AbortSignal.
    pub async fn start(o: RunnerOptions, cancel: CancellationToken) -> Result<Runner> {
        let checked = opts::validate(&o)?;
        let stop_if_aborted = || cancel.is_cancelled().then(aborted).map_or(Ok(()), Err);
        stop_if_aborted()?;
        let bind_host = o
            .config
            .host
            .clone()
            .unwrap_or_else(|| defaults::LOOPBACK_HOST.into());
        let connect = health::normalize_health_host(o.config.host.as_deref());
        if let Some(port) = checked.port {
            if health::is_server_responding(port, Duration::from_secs(2), &connect).await {
                return Err(Error::port_in_use(port));
            }
            stop_if_aborted()?;
            if !health::is_port_bindable(port, &bind_host)? {
                return Err(Error::port_in_use(port));
            }
        }
        let attempts = if checked.port.is_some() {
            1
        } else {
            opts::MAX_START_ATTEMPTS
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            stop_if_aborted()?;
            let port = match checked.port {
                Some(p) => p,
                None => health::find_free_port(&bind_host)?,
            };
            let owned_dir = if o.temporary_slot_save_path {
                Some(temporary_dir()?)
            } else {
                None
            };
            match start_once(&o, &checked, port, owned_dir, &cancel).await {
                Ok(runner) => return Ok(runner),
                Err((e, collided)) => {
                    let cleanup = opts::detail_code(&e) == Some("CALIBRATION_CLEANUP_FAILED");
                    if cleanup || !collided || attempt >= attempts {
                        return Err(e);
                    }
                }
            }
        }
    }

    pub fn stdout_tail(&self) -> String {
        Tails::get(&self.tails.out)
    }

    pub fn stderr_tail(&self) -> String {
        Tails::get(&self.tails.err)
    }

    /// The exit, once it happened.
    pub fn exit(&self) -> Option<Exit> {
        *self.exited.borrow()
    }

    /// The error of an operation the child's exit cut short (`raceWithExit`).
    pub fn crash_error(&self) -> Error {
        crash_error(Some(self.pid), self.exit(), &self.stderr_tail())
    }

    /// Resolves when the child has exited and the runner's folder is removed.
    pub async fn wait_exit(&self) -> Result<Exit> {
        let mut exited = self.exited.clone();
        let exit = exited
            .wait_for(Option::is_some)
            .await
            .map(|e| *e)
            .ok()
            .flatten()
            .unwrap_or(Exit {
                code: None,
                signal: None,
            });
        self.remove_owned_dir()?;
        Ok(exit)
    }

    /// `stop()`: SIGTERM, SIGKILL after the stop grace; fails if the child cannot be confirmed
    /// gone or its folder removed. Blocking; may be called again.
    pub fn stop(&self) -> Result<()> {
        if self.child.stop(super::STOP_GRACE).is_none() {
            return Err(cleanup_failed(
                Some(self.pid),
                &self.stderr_tail(),
                "process is still alive after exact-child kill completed".into(),
            ));
        }
        self.remove_owned_dir()
    }

    fn remove_owned_dir(&self) -> Result<()> {
        remove_dir(self.owned_dir.as_ref())
            .map_err(|e| cleanup_failed(Some(self.pid), &self.stderr_tail(), e.to_string()))
    }
}

fn remove_dir(dir: Option<&PathBuf>) -> std::io::Result<()> {
    match dir.map(std::fs::remove_dir_all) {
        Some(Err(e)) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// A fresh folder under the OS temp folder (`genai-electron-llama-server-…`).
fn temporary_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    let name = format!(
        "genai-electron-llama-server-{}-{}",
        std::process::id(),
        crate::ids::generate_id()
    );
    let dir = base.join(name);
    std::fs::create_dir(&dir)
        .map_err(|e| Error::file_system("Failed to create slot save folder", &dir, &e))?;
    Ok(dir)
}

fn crash_error(pid: Option<u32>, exit: Option<Exit>, stderr: &str) -> Error {
    let exit = exit.unwrap_or(Exit {
        code: None,
        signal: None,
    });
    Error::server(
        "Calibration candidate process exited unexpectedly",
        Some(json!({
            "code": "CALIBRATION_CANDIDATE_CRASHED", "pid": pid, "exitCode": exit.code,
            "signal": exit.signal_name(), "stderrTail": stderr,
        })),
    )
}

/// The config the runner starts with (`ResolvedLlamaServerRunnerConfig`).
fn resolved_config(o: &RunnerOptions, c: &Checked, port: u16) -> Result<LlamaServerConfig> {
    let mut config = o.config.clone();
    config.port = Some(PortSetting::Number(f64::from(port)));
    config.context_size = Some(c.context_size as f64);
    config.parallel_requests = Some(c.parallel_requests as f64);
    config.fit = Some("off".into());
    config.flash_attention =
        v_cache_flash_attention(config.cache_type_v.as_deref(), config.flash_attention)?;
    Ok(config)
}

/// One try on `port`. On failure the child is stopped and the folder removed; the flag says
/// whether llama-server could not bind the port (another try may use another).
async fn start_once(
    o: &RunnerOptions,
    c: &Checked,
    port: u16,
    owned_dir: Option<PathBuf>,
    cancel: &CancellationToken,
) -> std::result::Result<Runner, (Error, bool)> {
    let prepared = resolved_config(o, c, port).and_then(|config| {
        let args = ArgsOptions {
            slots_endpoint: o.slots_endpoint,
            slot_save_path: owned_dir
                .as_ref()
                .map(|d| d.to_string_lossy().into_owned())
                .or_else(|| o.slot_save_path.clone()),
        };
        let argv = build_launch_args(config.clone(), f64::from(port), &o.model_path, &args)?;
        Ok((config, argv))
    });
    let (config, args) = match prepared {
        Ok(p) => p,
        Err(e) => {
            let removed = remove_dir(owned_dir.as_ref());
            return Err((
                removed.map_or_else(|r| cleanup_failed(None, "", r.to_string()), |_| e),
                false,
            ));
        }
    };
    let tails = Arc::new(Tails {
        max: c.tail_bytes,
        out: Mutex::new(String::new()),
        err: Mutex::new(String::new()),
    });
    let (tx, exited) = watch::channel(None);
    let sink_tails = tails.clone();
    let sink: process::EventFn = Arc::new(move |event| match event {
        Event::Stdout(l) => sink_tails.push(&sink_tails.out, &l),
        Event::Stderr(l) => sink_tails.push(&sink_tails.err, &l),
        Event::Exited(exit) => {
            tx.send_replace(Some(exit));
        }
    });
    let spec = process::Spec {
        program: o.binary_path.clone(),
        args: args.clone(),
        cwd: o.cwd.clone(),
        ..Default::default()
    };
    let started = Instant::now();
    let child = match process::spawn(&spec, sink) {
        Ok(child) => child,
        Err(e) => {
            let _ = remove_dir(owned_dir.as_ref());
            let mut err = crash_error(None, None, "");
            if let Some(d) = err.details.as_mut() {
                d["spawnError"] = json!(e.to_string());
            }
            return Err((err, false));
        }
    };
    let mut runner = Runner {
        port,
        args,
        config,
        capacity: RuntimeCapacity {
            effective_context_size: 0,
            total_slots: None,
            model_path: None,
        },
        load_ms: 0,
        pid: child.pid,
        child,
        tails,
        exited,
        owned_dir,
    };
    match verify(&mut runner, c, started, cancel).await {
        Ok(()) => Ok(runner),
        Err(e) => Err(fail(runner, e, cancel).await),
    }
}

/// Waits for `/health`, then checks `/props` against the fixed profile; the child's exit cuts
/// either wait short.
async fn verify(
    r: &mut Runner,
    c: &Checked,
    started: Instant,
    cancel: &CancellationToken,
) -> Result<()> {
    let host = health::normalize_health_host(r.config.host.as_deref());
    let healthy = health::wait_for_healthy(
        r.port,
        c.startup_timeout,
        defaults::HEALTH_WAIT_INITIAL_DELAY,
        defaults::HEALTH_WAIT_MAX_DELAY,
        &host,
        cancel,
    );
    race_with_exit(r, healthy).await?;
    r.load_ms = started.elapsed().as_millis() as u64;
    let timeout = c.startup_timeout.min(opts::CAPACITY_TIMEOUT_CAP);
    let props =
        health::fetch_runtime_capacity(f64::from(r.port), &host, c.parallel_requests, timeout);
    let capacity = race_with_exit(r, props)
        .await
        .map_err(|e| slots_unavailable_from(r, e))?;
    if capacity.total_slots.is_none() {
        return Err(Error::server(
            "llama-server did not report total_slots during calibration",
            Some(json!({
                "code": "CALIBRATION_SLOTS_UNAVAILABLE",
                "suggestion": "Use the pinned llama-server build with a compatible /props endpoint",
            })),
        ));
    }
    let expected = c.context_size / c.parallel_requests;
    if capacity.effective_context_size != expected {
        return Err(Error::server(
            format!(
                "llama-server reported {} context tokens per slot; expected {expected}",
                capacity.effective_context_size
            ),
            Some(json!({
                "code": "CALIBRATION_SLOTS_UNAVAILABLE", "configuredContextSize": c.context_size,
                "parallelRequests": c.parallel_requests, "effectiveContextSize": capacity.effective_context_size,
            })),
        ));
    }
    r.capacity = capacity;
    if cancel.is_cancelled() {
        return Err(aborted());
    }
    Ok(())
}

/// `op`, unless the child exits first (or exited by the time it finished).
async fn race_with_exit<T>(r: &Runner, op: impl Future<Output = Result<T>>) -> Result<T> {
    let mut exited = r.exited.clone();
    let result = tokio::select! {
        result = op => result,
        _ = exited.wait_for(Option::is_some) => return Err(r.crash_error()),
    };
    match r.exit() {
        Some(_) => Err(r.crash_error()),
        None => result,
    }
}

/// A `/props` failure as the runner reports it.
fn slots_unavailable_from(r: &Runner, e: Error) -> Error {
    if matches!(
        opts::detail_code(&e),
        Some("CALIBRATION_CANDIDATE_CRASHED" | "CALIBRATION_CLEANUP_FAILED")
    ) {
        return e;
    }
    let cause = e.to_string();
    let mut details = e.details.clone().unwrap_or_else(|| json!({}));
    details["code"] = json!("CALIBRATION_SLOTS_UNAVAILABLE");
    details["cause"] = json!(cause);
    let stderr = r.stderr_tail();
    if !stderr.is_empty() {
        details["stderrTail"] = json!(stderr);
    }
    Error::server(
        format!("Could not verify the fixed calibration capacity profile: {cause}"),
        Some(details),
    )
}

/// A failed start: the child stopped, then upstream's wrapping (aborted; the stderr tail added).
/// The flag says whether llama-server reported that it could not bind its port.
async fn fail(r: Runner, e: Error, cancel: &CancellationToken) -> (Error, bool) {
    // Stopping waits for the child: on the blocking pool, not on a runtime worker.
    let (r, stopped) = match tokio::task::spawn_blocking(move || {
        let stopped = r.stop();
        (r, stopped)
    })
    .await
    {
        Ok(done) => done,
        Err(join) => return (cleanup_failed(None, "", join.to_string()), false),
    };
    if let Err(cleanup) = stopped {
        return (cleanup, false);
    }
    let stderr = r.stderr_tail();
    let collided = is_bind_collision(&stderr);
    if cancel.is_cancelled() {
        return (aborted(), collided);
    }
    let has_tail = e
        .details
        .as_ref()
        .and_then(|d| d.get("stderrTail"))
        .is_some_and(Value::is_string);
    if stderr.is_empty() || has_tail {
        return (e, collided);
    }
    let mut details = e.details.clone().unwrap_or_else(|| json!({}));
    details["stderrTail"] = json!(stderr);
    let message = format!("Calibration candidate startup failed: {e}");
    (Error::server(message, Some(details)), collided)
}

/// llama-server's words for a port it could not bind.
fn is_bind_collision(stderr: &str) -> bool {
    let s = stderr.to_lowercase();
    s.contains("address already in use")
        || s.contains("failed to bind")
        || s.lines()
            .any(|l| l.find("bind").is_some_and(|i| l[i..].contains("failed")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_keep_the_end_within_the_limit() {
        let t = Tails {
            max: 16,
            out: Mutex::new(String::new()),
            err: Mutex::new(String::new()),
        };
        for i in 0..10 {
            t.push(&t.out, &format!("line {i}"));
        }
        let out = Tails::get(&t.out);
        assert!(out.len() <= 16 && out.ends_with("line 9\n"), "{out:?}");
    }

    #[test]
    fn bind_collisions_are_recognised() {
        assert!(is_bind_collision(
            "couldn't bind HTTP server socket: Address already in use"
        ));
        assert!(is_bind_collision("main: bind to port failed"));
        assert!(!is_bind_collision("model loaded"));
    }
}
