//! One sd-server child (genai-electron's `SdServerRunner`): spawned on the shared process
//! supervision (own group, parent-death signal, Windows job), recorded in a pid record, ready
//! once `GET /sdcpp/v1/capabilities` answers 200, stopped with SIGTERM then SIGKILL. Every output
//! line goes to the caller; the last 16 KiB of each stream (progress bars left out) are kept for
//! error details.
//!
//! Errors carry upstream's codes in `details.code`: `SD_SERVER_EXITED`,
//! `SD_SERVER_READY_TIMEOUT`, `SD_SERVER_START_ABORTED`, `SD_SERVER_TERMINATION_UNCONFIRMED`.
//!
//! The pinned sd-server says nothing when its port is taken: it logs `listening on:` and exits 0.
//! That exit, before readiness, counts as a bind collision (as do upstream's bind messages): an
//! automatic port is retried once with a new one, a fixed port is `PortInUseError`.
//!
//! - `spec`: [`BackendSpec`] and its checks.
//! - `output`: the lines, the tails, the exit.

mod output;
mod spec;

pub use output::{LineFn, Stream, TAIL_MAX_BYTES};
pub use spec::BackendSpec;

use super::args;
use super::client::{coded, Client};
use super::constants::DIFFUSION_BACKEND_DEFAULTS;
use crate::process::{self, Exit, PidRecord};
use crate::{health, Error, Result};
use output::{sink, Output};
use serde_json::{json, Value};
use spec::validate;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const MAX_START_ATTEMPTS: u32 = 2;
const READY_POLL_INITIAL: Duration = Duration::from_millis(150);
const READY_POLL_MAX: Duration = Duration::from_millis(1000);
const READY_PROBE_TIMEOUT: Duration = Duration::from_millis(2000);
/// Once sd-server logged that it listens, the socket is a moment away: probe often.
const LISTENING_POLL: Duration = Duration::from_millis(25);

/// A running (or ended) sd-server.
pub struct Backend {
    pub pid: u32,
    pub port: u16,
    pub host: String,
    pub args: Vec<String>,
    /// From spawn to readiness (the model load).
    pub load_time_ms: u64,
    /// A child of an earlier run, named by the pid record, killed before this start.
    pub reaped_orphan: Option<u32>,
    child: Arc<process::Child>,
    out: Arc<Output>,
    client: Client,
    stop_timeout: Duration,
}

/// Starts sd-server and resolves once it answers `GET /sdcpp/v1/capabilities` with 200.
/// `cancel` aborts the start (`SD_SERVER_START_ABORTED`, the child stopped).
pub async fn start(
    spec: BackendSpec,
    on_line: LineFn,
    cancel: CancellationToken,
) -> Result<Backend> {
    validate(&spec)?;
    aborted(&cancel)?;
    let record = PidRecord::new(&spec.pid_record);
    let reaper = record.clone();
    let reaped = tokio::task::spawn_blocking(move || reaper.reap(None))
        .await
        .ok()
        .flatten();
    if let Some(port) = spec.port {
        if !health::is_port_bindable(port, &spec.host)? {
            return Err(Error::port_in_use(port));
        }
    }
    let attempts = if spec.port.is_some() {
        1
    } else {
        MAX_START_ATTEMPTS
    };
    let mut attempt = 1;
    loop {
        aborted(&cancel)?;
        let port = match spec.port {
            Some(p) => p,
            None => health::find_free_port(&spec.host)?,
        };
        match start_on(&spec, port, &on_line, &cancel, &record).await {
            Ok(mut backend) => {
                backend.reaped_orphan = reaped;
                return Ok(backend);
            }
            Err((_, true)) if spec.port.is_some() => return Err(Error::port_in_use(port)),
            Err((_, true)) if attempt < attempts => attempt += 1,
            Err((error, _)) => return Err(error),
        }
    }
}

/// One try on `port`; on failure the error and whether it was a bind collision.
async fn start_on(
    spec: &BackendSpec,
    port: u16,
    on_line: &LineFn,
    cancel: &CancellationToken,
    record: &PidRecord,
) -> std::result::Result<Backend, (Error, bool)> {
    let args = args::server_args(
        &spec.model_args,
        &spec.context_args,
        spec.threads,
        &spec.host,
        port,
        &spec.lora_dir,
    );
    let out = Arc::new(Output::new());
    let process_spec = process::Spec {
        program: spec.binary.clone(),
        args: args.clone(),
        // As upstream: next to the binary (its shared libraries on Windows).
        cwd: spec
            .binary
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(PathBuf::from),
        ..Default::default()
    };
    let started = Instant::now();
    let child = process::spawn(&process_spec, sink(&out, on_line, record)).map_err(|e| {
        let message = format!("stable-diffusion.cpp sd-server failed to run: {e}");
        let details = json!({ "exitCode": null, "signal": null, "spawnError": e.to_string(), "args": args.join(" ") });
        (coded("SD_SERVER_EXITED", message, details), false)
    })?;
    record.write(child.pid);
    let mut backend = Backend {
        pid: child.pid,
        port,
        host: spec.host.clone(),
        args,
        load_time_ms: 0,
        reaped_orphan: None,
        child: Arc::new(child),
        // A wildcard bind address is reached on loopback.
        client: Client::new(
            &health::normalize_health_host(Some(&spec.host)),
            port,
            Duration::from_millis(DIFFUSION_BACKEND_DEFAULTS.job_request_timeout_ms),
            out.lifetime.clone(),
        ),
        out,
        stop_timeout: spec.stop_timeout,
    };
    match backend.wait_ready(spec.ready_timeout, cancel).await {
        Ok(()) => {
            backend.load_time_ms = started.elapsed().as_millis() as u64;
            Ok(backend)
        }
        Err(error) => {
            let collision = backend.is_bind_collision();
            backend.stop(None).await.map_err(|e| (e, false))?;
            let abort = cancel.is_cancelled() && code_of(&error) != Some("SD_SERVER_START_ABORTED");
            Err((if abort { start_aborted() } else { error }, collision))
        }
    }
}

fn code_of(error: &Error) -> Option<&str> {
    error.details.as_ref()?.get("code")?.as_str()
}

fn start_aborted() -> Error {
    coded(
        "SD_SERVER_START_ABORTED",
        "sd-server startup aborted",
        json!({}),
    )
}

fn aborted(cancel: &CancellationToken) -> Result<()> {
    if cancel.is_cancelled() {
        Err(start_aborted())
    } else {
        Ok(())
    }
}

impl Backend {
    /// The `/sdcpp/v1` client (its requests end when the child exits or is stopped).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The last non-progress lines of stdout, each followed by `\n`.
    pub fn stdout_tail(&self) -> String {
        self.out.tail(Stream::Stdout)
    }

    /// The last lines of stderr (sd.cpp's `[ERROR]` lines), each followed by `\n`.
    pub fn stderr_tail(&self) -> String {
        self.out.tail(Stream::Stderr)
    }

    /// The exit, once it happened.
    pub fn exit(&self) -> Option<Exit> {
        *self.out.exit.borrow()
    }

    /// Resolves when the child has exited (at once if it has).
    pub async fn wait_exit(&self) -> Exit {
        let mut rx = self.out.exit.subscribe();
        let exit = rx.wait_for(Option::is_some).await.ok().and_then(|e| *e);
        exit.unwrap_or(Exit {
            code: None,
            signal: None,
        })
    }

    /// `raceWithExit`: `op`, unless the child exits first; a failure once it has exited is the
    /// exit's error (`SD_SERVER_EXITED`).
    pub async fn race_exit<T>(&self, op: impl Future<Output = Result<T>>) -> Result<T> {
        let result = tokio::select! {
            r = op => r,
            exit = self.wait_exit() => return Err(self.exit_error(exit)),
        };
        match (result, self.exit()) {
            (Err(_), Some(exit)) => Err(self.exit_error(exit)),
            (result, _) => result,
        }
    }

    /// `backendExitError`: the exit with sd.cpp's own error lines (stderr tail) and the argv.
    pub fn exit_error(&self, exit: Exit) -> Error {
        let stderr = Some(self.stderr_tail()).filter(|s| !s.is_empty());
        let stdout = Some(self.stdout_tail()).filter(|s| !s.is_empty());
        let args = self.args.join(" ");
        let code = exit.code.map_or("null".to_string(), |c| c.to_string());
        let signal = exit.signal_name();
        let message = format!(
            "stable-diffusion.cpp exited with code {code}{}{}\nArgs: {args}",
            signal.as_ref().map_or(String::new(), |s| format!(" ({s})")),
            stderr
                .as_ref()
                .map_or(String::new(), |s| format!("\n{}", s.trim_end())),
        );
        let mut details =
            json!({ "pid": self.pid, "exitCode": exit.code, "signal": signal, "args": args });
        for (key, text) in [("stderr", stderr), ("stdout", stdout)] {
            if let Some(text) = text {
                details[key] = Value::String(text);
            }
        }
        coded("SD_SERVER_EXITED", message, details)
    }

    /// SIGTERM to the group, SIGKILL after `grace` (default: the spec's stop timeout); resolves
    /// once the child is gone, else `SD_SERVER_TERMINATION_UNCONFIRMED`.
    pub async fn stop(&self, grace: Option<Duration>) -> Result<()> {
        self.out.lifetime.cancel();
        let child = self.child.clone();
        let grace = grace.unwrap_or(self.stop_timeout);
        let exit = tokio::task::spawn_blocking(move || child.stop(grace))
            .await
            .ok()
            .flatten();
        self.confirm_stop(exit)
    }

    /// `stop` for a caller off the async runtime (an exit hook, a blocking pool thread).
    pub fn stop_blocking(&self, grace: Option<Duration>) -> Result<()> {
        self.out.lifetime.cancel();
        let exit = self.child.stop(grace.unwrap_or(self.stop_timeout));
        self.confirm_stop(exit)
    }

    fn confirm_stop(&self, exit: Option<Exit>) -> Result<()> {
        if exit.is_some() || !process::is_alive(self.pid) {
            return Ok(());
        }
        Err(coded(
            "SD_SERVER_TERMINATION_UNCONFIRMED",
            format!(
                "Could not confirm termination of the sd-server process {}",
                self.pid
            ),
            json!({ "pid": self.pid, "stderrTail": self.stderr_tail(), "cause": "process is still alive after SIGKILL" }),
        ))
    }

    /// Polls the capabilities until 200; fails on the exit, the timeout or `cancel`.
    async fn wait_ready(&self, timeout: Duration, cancel: &CancellationToken) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let probe = Client::new(
            &self.client.host,
            self.port,
            READY_PROBE_TIMEOUT,
            self.out.lifetime.clone(),
        );
        let mut exited = self.out.exit.subscribe();
        let mut interval = READY_POLL_INITIAL;
        loop {
            if let Some(exit) = self.exit() {
                return Err(self.exit_error(exit));
            }
            let ready = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(start_aborted()),
                r = probe.capabilities() => r.is_ok(),
            };
            if ready {
                // An answer while our child is gone came from another process.
                return match self.exit() {
                    Some(exit) => Err(self.exit_error(exit)),
                    None => Ok(()),
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(self.ready_timeout_error(timeout));
            }
            if self.out.listened.load(Ordering::SeqCst) {
                interval = interval.min(LISTENING_POLL);
            }
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(start_aborted()),
                _ = exited.changed() => {}
                _ = self.out.listening.notified() => {}
                _ = tokio::time::sleep(interval.min(deadline - now)) => {}
            }
            interval = interval.mul_f64(1.5).min(READY_POLL_MAX);
        }
    }

    fn ready_timeout_error(&self, timeout: Duration) -> Error {
        let ms = timeout.as_millis() as u64;
        let mut details = json!({
            "pid": self.pid, "port": self.port, "host": self.host, "timeoutMs": ms,
            "suggestion": "Increase DiffusionServerConfig.startupTimeout for large multi-component models",
        });
        for (key, text) in [
            ("stderrTail", self.stderr_tail()),
            ("stdoutTail", self.stdout_tail()),
        ] {
            if !text.is_empty() {
                details[key] = Value::String(text);
            }
        }
        coded(
            "SD_SERVER_READY_TIMEOUT",
            format!("stable-diffusion.cpp sd-server was not ready within {ms}ms"),
            details,
        )
    }

    /// The start failed because the port was taken: a bind message (upstream's pattern), or the
    /// pinned sd-server's silent exit 0 right after `listening on:`.
    fn is_bind_collision(&self) -> bool {
        let text = format!("{}{}", self.stdout_tail(), self.stderr_tail()).to_lowercase();
        let bind_failed = text.lines().any(|l| {
            l.contains("address already in use")
                || l.contains("failed to bind")
                || l.split_once("bind")
                    .is_some_and(|(_, rest)| rest.contains("failed"))
        });
        let silent_exit = self.out.listened.load(Ordering::SeqCst)
            && self.exit().is_some_and(|e| e.code == Some(0));
        bind_failed || silent_exit
    }
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("pid", &self.pid)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("load_time_ms", &self.load_time_ms)
            .field("exit", &self.exit())
            .finish_non_exhaustive()
    }
}

impl Drop for Backend {
    /// A backend nobody stopped must not outlive its handle.
    fn drop(&mut self) {
        self.out.lifetime.cancel();
        if self.exit().is_none() {
            self.child.kill();
        }
    }
}
