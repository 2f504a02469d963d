//! Phase 2 for llama-server (upstream's `runLlamaServerTest`): the real server on a free
//! loopback port with the test model, `/health` until ok (15 s), then a 4-token `/completion`
//! (5 s) that must answer 200 with a `content`; any GPU-error line fails the test.

use super::{gpu_reason, Fail, Running, Scan};
use crate::binaries::LogFn;
use crate::health;
use crate::logs::Level;
use crate::process::{self, Event, EventFn};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const HOST: &str = "127.0.0.1";
/// For the server to become healthy: upstream's 15 s would call a big model on a slow disk a
/// broken binary (the load is part of the wait), so the test waits as long as a start does.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(60);
const HEALTH_PROBE_TIMEOUT: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(200);
/// Upstream's 5 s is missed by a 4-token completion on a busy 2-core machine.
const COMPLETION_TIMEOUT: Duration = Duration::from_secs(30);
/// SIGTERM, then SIGKILL after this.
const STOP_GRACE: Duration = Duration::from_secs(3);

pub(super) async fn phase2(
    exe: &Path,
    model: &Path,
    log: &LogFn,
    cancel: &CancellationToken,
) -> Result<(), Fail> {
    log(
        "Phase 2: Testing GPU functionality with llama-server...",
        Level::Info,
    );
    let port = health::find_free_port(HOST).map_err(|e| Fail::Failed(e.message))?;
    let spec = process::Spec {
        program: exe.to_path_buf(),
        args: [
            "-m",
            &model.to_string_lossy(),
            "--host",
            HOST,
            "--port",
            &port.to_string(),
            "-ngl",
            "1",
            "-c",
            "512",
        ]
        .map(String::from)
        .to_vec(),
        ..Default::default()
    };
    let scan = Arc::new(Scan::default());
    let sink = scan.clone();
    let events: EventFn = Arc::new(move |e| {
        if let Event::Stdout(l) | Event::Stderr(l) = e {
            sink.line(&l);
        }
    });
    let child = match Running::spawn(spec, events).await {
        Ok(c) => c,
        Err(e) => return Err(failed(log, &scan, e)),
    };
    let outcome = run(&child, port, &scan, cancel).await;
    // Always stopped and reaped before the answer; at once when cancelled.
    let grace = if cancel.is_cancelled() {
        super::CANCEL_GRACE
    } else {
        STOP_GRACE
    };
    let stopped = child.stop(grace).await;
    match (outcome, stopped) {
        (Err(Fail::Cancelled), _) => Err(Fail::Cancelled),
        (Err(e), _) => Err(failed(log, &scan, e)),
        (Ok(()), Err(why)) => Err(failed(log, &scan, why.into())),
        (Ok(()), Ok(_)) => {
            log(
                "Phase 2: ✓ GPU functionality test passed (llama-server)",
                Level::Info,
            );
            Ok(())
        }
    }
}

/// Logs a failure as upstream (the output's start, then the reason) and returns it.
fn failed(log: &LogFn, scan: &Scan, e: Fail) -> Fail {
    if let Fail::Failed(why) = &e {
        let head = scan.head();
        if !head.is_empty() {
            log(
                &format!("Phase 2 output before failure:\nstderr: {head}"),
                Level::Warn,
            );
        }
        log(&format!("Phase 2: ✗ {why}"), Level::Warn);
    }
    e
}

async fn run(
    child: &Running,
    port: u16,
    scan: &Scan,
    cancel: &CancellationToken,
) -> Result<(), Fail> {
    wait_healthy(child, port, scan, cancel).await?;
    tokio::select! {
        biased;
        _ = cancel.cancelled() => return Err(Fail::Cancelled),
        r = tokio::time::timeout(COMPLETION_TIMEOUT, completion(port)) => r.map_err(|_| {
            format!("completion request did not answer within {} s", COMPLETION_TIMEOUT.as_secs())
        })??,
    }
    if let Some(gpu) = scan.gpu() {
        return Err(gpu_reason("during inference", gpu).into());
    }
    if let Some(exit) = child.exit() {
        return Err(format!("llama-server ended ({exit}) during the completion").into());
    }
    Ok(())
}

/// Polls `/health` until ok; fails on a GPU-error line, the child's exit or the timeout.
async fn wait_healthy(
    child: &Running,
    port: u16,
    scan: &Scan,
    cancel: &CancellationToken,
) -> Result<(), Fail> {
    let start = Instant::now();
    loop {
        if let Some(gpu) = scan.gpu() {
            return Err(gpu_reason("during startup", gpu).into());
        }
        if let Some(exit) = child.exit() {
            let why = format!("llama-server ended ({exit}) before becoming healthy");
            return Err(why.into());
        }
        if start.elapsed() >= HEALTHY_TIMEOUT {
            let secs = HEALTHY_TIMEOUT.as_secs();
            return Err(format!("llama-server did not become healthy within {secs} s").into());
        }
        let healthy = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Fail::Cancelled),
            h = health::check_health(port, HEALTH_PROBE_TIMEOUT, HOST) => h.is_ok(),
        };
        // An answer once our child is gone came from another process.
        if healthy && child.exit().is_none() && scan.gpu().is_none() {
            return Ok(());
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Fail::Cancelled),
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// `POST /completion {"prompt":"2+2=","n_predict":4}`: a 200 whose JSON has a `content`.
async fn completion(port: u16) -> Result<(), Fail> {
    let url = format!("http://{HOST}:{port}/completion");
    let body = json!({ "prompt": "2+2=", "n_predict": 4 }).to_string();
    let req = crate::http::request(reqwest::Method::POST, &url)?
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    let resp = req
        .send()
        .await
        .map_err(|e| format!("completion request failed: {e}"))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("Completion request failed with status {}", status.as_u16()).into());
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("completion answer unreadable: {e}"))?;
    let answer: Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("completion answer is not JSON: {e}"))?;
    match answer.get("content").and_then(Value::as_str) {
        Some(_) => Ok(()),
        None => Err("completion answer has no `content`".to_string().into()),
    }
}
