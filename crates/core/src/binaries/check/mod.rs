//! Testing a candidate binary, as upstream's `testBinary`: phase 1 runs it (`--version` /
//! `--help`, 5 s, exit 0); phase 2, when a model is at hand, a tiny real inference on it
//! (llama-server: `/health`, then a 4-token `/completion`; sd-server: one 64×64, 1-step job),
//! its output scanned for upstream's GPU-error patterns. Every child is stopped and reaped
//! before an answer, cancelled or not.
//!
//! - `gpu`: the GPU-error patterns.
//! - `llama`, `sd`: phase 2 per engine.

mod format;
mod gpu;
mod llama;
mod sd;

pub use format::check_program;
pub use gpu::gpu_error;
/// The test image's name in `scratch` (upstream's `.test-output.png`).
pub use sd::TEST_OUTPUT;

use super::{BinaryKind, LogFn, TestModel};
use crate::logs::Level;
use crate::process::{self, Event, EventFn, Exit};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Upstream's phase-1 limit.
pub const PHASE1_TIMEOUT: Duration = Duration::from_secs(5);

/// SIGTERM, then SIGKILL after this, for a child whose test was cancelled.
const CANCEL_GRACE: Duration = Duration::from_millis(200);

/// What the tests showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tested {
    pub phase1_passed: bool,
    /// `None`: no model at hand, phase 2 skipped.
    pub phase2_passed: Option<bool>,
}

/// Why a test did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fail {
    Cancelled,
    Failed(String),
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fail::Cancelled => f.write_str("cancelled"),
            Fail::Failed(why) => f.write_str(why),
        }
    }
}

impl From<String> for Fail {
    fn from(why: String) -> Self {
        Fail::Failed(why)
    }
}

/// Phase 1, then phase 2 when `model` is given and its file exists. `Err(reason)`: why this
/// binary does not work here, one line; `Err("cancelled")` when `cancel` fired (any child is
/// stopped first). `scratch`: an existing folder the test may write into.
pub async fn test_binary(
    kind: BinaryKind,
    exe: &Path,
    model: Option<&TestModel>,
    scratch: &Path,
    log: &LogFn,
    cancel: &CancellationToken,
) -> std::result::Result<Tested, String> {
    let arg = kind.phase1_arg();
    log("Phase 1: Testing binary basic validation...", Level::Info);
    match run_probe(exe, arg, cancel).await {
        Ok(_) => log(
            &format!("Phase 1: ✓ Binary validation passed ({arg})"),
            Level::Info,
        ),
        Err(Fail::Cancelled) => return Err(Fail::Cancelled.to_string()),
        Err(Fail::Failed(why)) => {
            log(
                &format!("Phase 1: ✗ Basic validation failed: {why}"),
                Level::Error,
            );
            log(
                "Binary validation failed, variant will be skipped",
                Level::Warn,
            );
            return Err(format!("Phase 1 failed: {why}"));
        }
    }
    let model = match model {
        Some(m) if is_file(&m.path).await => m,
        _ => {
            log(
                "No test model provided, skipping Phase 2 (GPU functionality test)",
                Level::Info,
            );
            return Ok(Tested {
                phase1_passed: true,
                phase2_passed: None,
            });
        }
    };
    let phase2 = match kind {
        BinaryKind::Llama => llama::phase2(exe, &model.path, log, cancel).await,
        BinaryKind::Diffusion => sd::phase2(exe, model, scratch, log, cancel).await,
    };
    match phase2 {
        Ok(()) => Ok(Tested {
            phase1_passed: true,
            phase2_passed: Some(true),
        }),
        Err(Fail::Cancelled) => Err(Fail::Cancelled.to_string()),
        Err(Fail::Failed(why)) => {
            log(
                "GPU functionality test failed, variant will be skipped",
                Level::Warn,
            );
            Err(format!("Phase 2 failed: {why}"))
        }
    }
}

async fn is_file(path: &Path) -> bool {
    tokio::fs::metadata(path).await.is_ok_and(|m| m.is_file())
}

/// `<binary> <arg>` (`--version`, `--help`): its output lines if it exits 0 within
/// [`PHASE1_TIMEOUT`], else why not (a child that overruns is killed and reaped).
pub(crate) async fn run_probe(
    binary: &Path,
    arg: &str,
    cancel: &CancellationToken,
) -> std::result::Result<Vec<String>, Fail> {
    check_program(binary)?;
    let spec = process::Spec {
        program: binary.to_path_buf(),
        args: vec![arg.into()],
        ..Default::default()
    };
    let output = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = output.clone();
    let events: EventFn = Arc::new(move |e| {
        if let Event::Stdout(l) | Event::Stderr(l) = e {
            sink.lock().unwrap_or_else(|p| p.into_inner()).push(l);
        }
    });
    let child = Running::spawn(spec, events).await?;
    let exit = tokio::select! {
        biased;
        _ = cancel.cancelled() => {
            let _ = child.stop(Duration::ZERO).await;
            return Err(Fail::Cancelled);
        }
        exit = child.wait(PHASE1_TIMEOUT) => exit,
    };
    let Some(exit) = exit else {
        let _ = child.stop(Duration::ZERO).await;
        let secs = PHASE1_TIMEOUT.as_secs();
        return Err(format!("{arg} did not finish within {secs} s").into());
    };
    let lines = std::mem::take(&mut *output.lock().unwrap_or_else(|p| p.into_inner()));
    if exit.success() {
        Ok(lines)
    } else {
        Err(format!("{arg} ended with {exit}: {}", tail(&lines.join(" | "))).into())
    }
}

/// The last 500 bytes of a child's output (upstream keeps as much), on a character boundary.
fn tail(text: &str) -> &str {
    const KEEP: usize = 500;
    let mut start = text.len().saturating_sub(KEEP);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// A child of a test: killed (group-wide) if dropped while running, so that an abandoned test
/// leaves nothing behind.
pub(crate) struct Running {
    child: Arc<process::Child>,
}

impl Running {
    /// `process::spawn` off the async threads (fork and exec block).
    pub(crate) async fn spawn(spec: process::Spec, events: EventFn) -> Result<Self, Fail> {
        let program = spec.program.clone();
        let spawned = tokio::task::spawn_blocking(move || process::spawn(&spec, events))
            .await
            .map_err(|e| Fail::Failed(e.to_string()))?;
        let child = spawned.map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        Ok(Running {
            child: Arc::new(child),
        })
    }

    pub(crate) fn exit(&self) -> Option<Exit> {
        self.child.exit()
    }

    /// Waits up to `timeout` for the exit.
    pub(crate) async fn wait(&self, timeout: Duration) -> Option<Exit> {
        let child = self.child.clone();
        tokio::task::spawn_blocking(move || child.wait_timeout(timeout))
            .await
            .ok()
            .flatten()
    }

    /// SIGTERM to the group, SIGKILL after `grace`; waits for the exit (the child reaped).
    /// `Err`: it could not be confirmed.
    pub(crate) async fn stop(&self, grace: Duration) -> Result<Exit, String> {
        let child = self.child.clone();
        let exit = tokio::task::spawn_blocking(move || {
            if grace.is_zero() {
                child.kill();
                child.wait_timeout(Duration::from_secs(5))
            } else {
                child.stop(grace)
            }
        })
        .await
        .ok()
        .flatten();
        exit.ok_or_else(|| {
            format!(
                "could not confirm the end of the test process {}",
                self.child.pid
            )
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.exit().is_none() {
            self.child.kill();
        }
    }
}

/// What a phase-2 child printed: the first GPU error seen and the start of its output.
#[derive(Default)]
pub(crate) struct Scan {
    inner: Mutex<ScanState>,
}

#[derive(Default)]
struct ScanState {
    gpu: Option<(&'static str, String)>,
    head: String,
}

/// As upstream's `stderr.slice(0, 500)` in its failure logs.
const HEAD_CHARS: usize = 500;

impl Scan {
    pub(crate) fn line(&self, line: &str) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if s.gpu.is_none() {
            s.gpu = gpu_error(line).map(|label| (label, line.trim().to_string()));
        }
        let room = HEAD_CHARS.saturating_sub(s.head.chars().count());
        if room > 0 {
            s.head.extend(line.chars().take(room));
            s.head.push('\n');
        }
    }

    /// The first GPU error: its label and the line.
    pub(crate) fn gpu(&self) -> Option<(&'static str, String)> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .gpu
            .clone()
    }

    pub(crate) fn head(&self) -> String {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .head
            .clone()
    }
}

/// `label (line)`: a GPU error for a reason.
pub(crate) fn gpu_reason(when: &str, (label, line): (&str, String)) -> String {
    format!("GPU error detected {when}: {label} ({line})")
}
