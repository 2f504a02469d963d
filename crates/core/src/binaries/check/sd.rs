//! Phase 2 for sd-server (upstream's `runSdServerTest`): the real server through the diffusion
//! backend, one 64×64, 1-step job to completion, its PNG written to `<scratch>/.test-output.png`;
//! any GPU-error line fails the test.

use super::{gpu_reason, Fail, Scan};
use crate::binaries::{LogFn, TestModel};
use crate::diffusion::backend::{self, Backend, BackendSpec, LineFn};
use crate::diffusion::client::{JobStatus, SdImageRequest, SdJob, SdSampleParams};
use crate::diffusion::constants::DIFFUSION_BACKEND_DEFAULTS as D;
use crate::logs::Level;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The budget for the start and for the job (upstream: 15 s, 120 s for a multi-component
/// model): a model load on a slow disk or a busy machine is not a broken binary.
const BUDGET: Duration = Duration::from_secs(60);
const BUDGET_MULTI: Duration = Duration::from_secs(180);
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
pub const TEST_OUTPUT: &str = ".test-output.png";

pub(super) async fn phase2(
    exe: &Path,
    model: &TestModel,
    scratch: &Path,
    log: &LogFn,
    cancel: &CancellationToken,
) -> Result<(), Fail> {
    log(
        "Phase 2: Testing GPU functionality with real inference...",
        Level::Info,
    );
    let model_args = if model.model_args.is_empty() {
        vec!["-m".into(), model.path.to_string_lossy().into_owned()]
    } else {
        model.model_args.clone()
    };
    // More than one file named: a multi-component model, which loads for longer.
    let files = model_args.iter().filter(|a| !a.starts_with('-')).count();
    let budget = if files > 1 { BUDGET_MULTI } else { BUDGET };
    let lora_dir = scratch.join("loras");
    tokio::fs::create_dir_all(&lora_dir)
        .await
        .map_err(|e| format!("cannot create {}: {e}", lora_dir.display()))?;
    let spec = BackendSpec {
        binary: exe.to_path_buf(),
        model_args,
        lora_dir,
        pid_record: scratch.join("sd-server.json"),
        port: None,
        ready_timeout: budget,
        ..Default::default()
    };
    let scan = Arc::new(Scan::default());
    let sink = scan.clone();
    let on_line: LineFn = Arc::new(move |line, _| sink.line(line));
    let outcome = match backend::start(spec, on_line, cancel.child_token()).await {
        Ok(b) => {
            let job = run_job(&b, budget, scratch, cancel).await;
            // At once when cancelled, else with the backend's own grace.
            let grace = cancel.is_cancelled().then_some(super::CANCEL_GRACE);
            let stopped = b.stop(grace).await.map_err(|e| Fail::Failed(e.message));
            job.and(stopped)
        }
        Err(_) if cancel.is_cancelled() => Err(Fail::Cancelled),
        Err(e) => Err(Fail::Failed(e.message)),
    };
    let outcome = match (outcome, scan.gpu()) {
        (Err(Fail::Cancelled), _) => return Err(Fail::Cancelled),
        (_, Some(gpu)) => Err(gpu_reason("in output", gpu)),
        (Err(Fail::Failed(why)), None) => Err(why),
        (Ok(()), None) => Ok(()),
    };
    match outcome {
        Ok(()) => {
            log(
                "Phase 2: ✓ GPU functionality test passed (sd-server)",
                Level::Info,
            );
            Ok(())
        }
        Err(why) => {
            let head = scan.head();
            if !head.is_empty() {
                log(
                    &format!("Phase 2 output before failure:\n{head}"),
                    Level::Warn,
                );
            }
            log(&format!("Phase 2: ✗ {why}"), Level::Warn);
            Err(Fail::Failed(why))
        }
    }
}

/// Submits the test image, waits for it (`budget`), checks and writes the PNG.
async fn run_job(
    b: &Backend,
    budget: Duration,
    scratch: &Path,
    cancel: &CancellationToken,
) -> Result<(), Fail> {
    let request = SdImageRequest {
        prompt: "test".into(),
        width: Some(64),
        height: Some(64),
        seed: 42,
        batch_count: 1,
        sample_params: SdSampleParams {
            sample_steps: Some(1),
            ..Default::default()
        },
        ..Default::default()
    };
    let id = tokio::select! {
        biased;
        _ = cancel.cancelled() => return Err(Fail::Cancelled),
        r = b.race_exit(b.client().submit(&request)) => r.map_err(|e| e.message)?,
    };
    let job = poll(b, &id, budget, cancel).await?;
    match job.status {
        JobStatus::Completed => {}
        status => {
            let why = job
                .error
                .as_ref()
                .map_or(String::new(), |e| format!(": {}", e.message));
            return Err(format!("sd-server job {}{why}", status_name(status)).into());
        }
    }
    let b64 = job
        .result
        .as_ref()
        .and_then(|r| r.images.first())
        .map_or("", |i| i.b64_json.as_str());
    let png = crate::diffusion::client::decode_image(b64).map_err(|e| e.message)?;
    if !png.starts_with(PNG_SIGNATURE) {
        return Err("sd-server's image is not a PNG".to_string().into());
    }
    let out = scratch.join(TEST_OUTPUT);
    tokio::fs::write(&out, &png)
        .await
        .map_err(|e| format!("cannot write {}: {e}", out.display()).into())
}

fn status_name(s: JobStatus) -> &'static str {
    match s {
        JobStatus::Queued => "queued",
        JobStatus::Generating => "generating",
        JobStatus::Completed => "completed",
        JobStatus::Failed => "failed",
        JobStatus::Cancelled => "cancelled",
    }
}

/// Polls the job every 200 ms until it ends (up to 3 transient failures in a row, as upstream);
/// fails on the backend's exit and after `budget`.
async fn poll(
    b: &Backend,
    id: &str,
    budget: Duration,
    cancel: &CancellationToken,
) -> Result<SdJob, Fail> {
    let deadline = Instant::now() + budget;
    let mut transient = 0;
    loop {
        let job = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Fail::Cancelled),
            r = b.race_exit(b.client().job(id)) => r,
        };
        match job {
            Ok(job) if job.status.is_terminal() => return Ok(job),
            Ok(_) => transient = 0,
            Err(e)
                if e.detail_code().is_some_and(|c| {
                    c == "BACKEND_REQUEST_TIMEOUT" || c == "BACKEND_REQUEST_FAILED"
                }) && transient + 1 < D.max_transient_poll_failures =>
            {
                transient += 1
            }
            Err(e) => return Err(e.message.into()),
        }
        if Instant::now() >= deadline {
            let ms = budget.as_millis();
            return Err(format!("sd-server job did not finish within {ms}ms").into());
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Fail::Cancelled),
            _ = tokio::time::sleep(Duration::from_millis(D.job_poll_interval_ms)) => {}
        }
    }
}
