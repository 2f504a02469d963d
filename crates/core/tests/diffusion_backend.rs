#![cfg(unix)] // stable-diffusion.cpp is built by scripts/assets.sh (bash, cmake)
//! The sd-server backend on the real sd-server (stable-diffusion.cpp from PyPI's
//! stable-diffusion-cpp-python 0.4.7 sdist) and the real random-weight SDXS model: every flag we
//! can emit is in its `--help` and is accepted; start → ready → capabilities; real jobs decoded
//! to real PNGs; the model loaded once for two jobs; what cancel really does; SIGKILL mid-job;
//! a missing model, a taken port (before and during the start), a ready timeout, a cancelled
//! start, an orphan from an earlier run. Skipped (with the reason printed) when
//! GENAI_TEST_SD_SERVER / GENAI_TEST_SD_MODEL are unset. One sd-server at a time (a lock): each
//! holds ~530 MB and both cores.

mod common;

use common::alive::alive;
use genai_core::diffusion::args::{self, FlagDialect};
use genai_core::diffusion::backend::{self, Backend, BackendSpec, LineFn, Stream};
use genai_core::diffusion::client::{self, JobStatus, SdImageRequest, SdJob};
use genai_core::diffusion::{BackendFlags, ImageRequest};
use genai_core::process::{self, PidRecord, Signal};
use genai_core::{Error, ErrorCode};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// One sd-server at a time, whatever `--test-threads` says.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

type Lines = Arc<Mutex<Vec<(String, Stream)>>>;

fn recorder() -> (LineFn, Lines) {
    let lines: Lines = Arc::default();
    let l = lines.clone();
    (
        Arc::new(move |line, stream| l.lock().unwrap().push((line.to_string(), stream))),
        lines,
    )
}

fn count(lines: &Lines, needle: &str) -> usize {
    lines
        .lock()
        .unwrap()
        .iter()
        .filter(|(l, _)| l.contains(needle))
        .count()
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("genai-sd-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("loras")).unwrap();
    d
}

/// A spec for `model` (single file) in a fresh directory: auto port, 2 threads.
fn spec(server: &Path, model: &Path, tag: &str) -> BackendSpec {
    let dir = temp_dir(tag);
    BackendSpec {
        binary: server.to_path_buf(),
        model_args: vec!["-m".into(), model.to_string_lossy().into_owned()],
        threads: Some(2),
        lora_dir: dir.join("loras"),
        pid_record: dir.join("children/sd-server.json"),
        ready_timeout: Duration::from_secs(120),
        ..Default::default()
    }
}

fn code(e: &Error) -> &str {
    e.details
        .as_ref()
        .and_then(|d| d.get("code"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn request(size: u32, steps: u32) -> SdImageRequest {
    let req = ImageRequest {
        prompt: "a lighthouse".into(),
        width: Some(size),
        height: Some(size),
        steps: Some(steps),
        ..Default::default()
    };
    SdImageRequest::from_request(&req, 42, None)
}

/// Polls a job until `done(status)` (2 minutes at most).
async fn poll_until(b: &Backend, id: &str, done: impl Fn(JobStatus) -> bool) -> SdJob {
    let t = Instant::now();
    loop {
        let job = b.client().job(id).await.expect("job readable");
        if done(job.status) {
            return job;
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "job {id} stuck: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The PNG's IHDR size.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&png[12..16], b"IHDR");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The pid the record names, once it names one (the child was spawned).
async fn recorded_pid(record: &Path) -> u32 {
    let record = PidRecord::new(record);
    let t = Instant::now();
    loop {
        if let Some(id) = record.read() {
            return id.pid;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "no pid record");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn gone(pid: u32) -> bool {
    let t = Instant::now();
    while alive(pid) && t.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    !alive(pid)
}

#[test]
fn every_flag_we_can_emit_is_in_sd_server_help() {
    let Some((server, _)) = common::sd_assets("every_flag_we_can_emit_is_in_sd_server_help") else {
        return;
    };
    let help = args::help_text(&server).unwrap();
    let dialect = args::dialect_from_help(&help);
    // The pinned 0.4.7 build has --clip-on-cpu/--vae-on-cpu and no --backend.
    assert_eq!(dialect, FlagDialect::Legacy, "{help}");
    assert_eq!(args::detect_dialect(&server), dialect);
    for flag in args::emitted_flags(dialect) {
        assert!(
            args::help_lists(&help, flag),
            "sd-server --help does not list {flag}"
        );
    }
    assert!(!args::help_lists(&help, "--bogus-flag"));
}

#[tokio::test]
async fn starts_serves_two_jobs_with_one_model_load_and_stops() {
    let Some((server, model)) = common::sd_assets("starts_serves_two_jobs") else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let mut spec = spec(&server, &model, "jobs");
    // Every optimisation flag, in the binary's dialect: sd-server's parser takes them all.
    let all = BackendFlags {
        clip_on_cpu: true,
        vae_on_cpu: true,
        offload_to_cpu: true,
        diffusion_flash_attention: true,
    };
    spec.context_args = args::optimization_args(&all, args::detect_dialect(&server));
    let record = spec.pid_record.clone();
    let (on_line, lines) = recorder();
    let b = backend::start(spec, on_line, CancellationToken::new())
        .await
        .expect("sd-server starts");
    assert!(
        b.args.contains(&"--clip-on-cpu".to_string()),
        "{:?}",
        b.args
    );
    assert_eq!(PidRecord::new(&record).read().unwrap().pid, b.pid);
    assert!(count(&lines, "listening on:") == 1);
    let caps = b.client().capabilities().await.unwrap();
    assert_eq!(caps["current_mode"], "img_gen");
    assert!(caps["defaults"].is_object());

    for size in [64, 128] {
        let id = b.client().submit(&request(size, 2)).await.unwrap();
        let job = poll_until(&b, &id, JobStatus::is_terminal).await;
        assert_eq!(job.status, JobStatus::Completed, "{job:?}");
        let result = job.result.unwrap();
        assert_eq!(result.output_format.as_deref(), Some("png"));
        let png = client::decode_image(&result.images[0].b64_json).unwrap();
        assert_eq!(png_size(&png), (size, size));
    }
    // The model was loaded once for both jobs; each job drew its step bar.
    assert_eq!(count(&lines, "loading tensors completed"), 1);
    assert_eq!(count(&lines, "generate_image completed"), 2);
    assert!(count(&lines, "| 2/2 - ") >= 2);
    // Progress bars reach the caller but not the tails.
    assert!(b.stdout_tail().contains("generate_image completed"));
    assert!(!b.stdout_tail().contains("| 2/2 - "));
    assert_eq!(b.stderr_tail(), "");

    b.stop(None).await.unwrap();
    let exit = b.wait_exit().await;
    assert!(exit.code.is_some() || exit.signal.is_some(), "{exit:?}");
    assert!(gone(b.pid).await, "sd-server outlived stop()");
    assert!(!record.exists(), "pid record left after the exit");
    let e = b.client().job("job_x").await.unwrap_err();
    assert!(code(&e).starts_with("BACKEND_"), "{e:?}");
}

/// sd-server 0.4.7 cancels a queued job; a generating one cannot be interrupted (409) and runs on.
#[tokio::test]
async fn cancel_takes_a_queued_job_and_refuses_a_generating_one() {
    let Some((server, model)) = common::sd_assets("cancel") else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let (on_line, _) = recorder();
    let b = backend::start(
        spec(&server, &model, "cancel"),
        on_line,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let long = b.client().submit(&request(256, 20)).await.unwrap();
    let queued = b.client().submit(&request(64, 2)).await.unwrap();
    poll_until(&b, &long, |s| s == JobStatus::Generating).await;
    let waiting = b.client().job(&queued).await.unwrap();
    assert_eq!(waiting.status, JobStatus::Queued);
    assert_eq!(waiting.queue_position, Some(1));

    let r = b.client().cancel(&long).await.unwrap();
    assert_eq!((r.cancelled, r.http_status), (false, 409));
    assert_eq!(
        b.client().job(&long).await.unwrap().status,
        JobStatus::Generating
    );

    let r = b.client().cancel(&queued).await.unwrap();
    assert_eq!((r.cancelled, r.http_status), (true, 200));
    let job = b.client().job(&queued).await.unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(job.error.unwrap().code.as_deref(), Some("cancelled"));
    // Unknown jobs: a 404 answer, and BACKEND_JOB_NOT_FOUND when read.
    let r = b.client().cancel("job_none").await.unwrap();
    assert_eq!((r.cancelled, r.http_status), (false, 404));
    let e = b.client().job("job_none").await.unwrap_err();
    assert_eq!(code(&e), "BACKEND_JOB_NOT_FOUND");
    // A body sd-server refuses (its validation: "cfg_scale must be positive").
    let mut bad = request(64, 2);
    bad.sample_params.guidance.txt_cfg = Some(-1.0);
    match b.client().submit(&bad).await {
        Err(e) => {
            assert_eq!(code(&e), "BACKEND_BAD_REQUEST", "{e:?}");
            assert_eq!(
                e.details.unwrap()["backendMessage"],
                "invalid generation parameters"
            );
        }
        Ok(id) => panic!("sd-server accepted a negative cfg scale as job {id}"),
    }
    b.stop(None).await.unwrap();
    assert!(gone(b.pid).await);
}

#[tokio::test]
async fn sigkill_mid_job_is_an_exit_with_the_signal() {
    let Some((server, model)) = common::sd_assets("sigkill") else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let (on_line, _) = recorder();
    let spec = spec(&server, &model, "sigkill");
    let record = spec.pid_record.clone();
    let b = backend::start(spec, on_line, CancellationToken::new())
        .await
        .unwrap();
    let id = b.client().submit(&request(256, 20)).await.unwrap();
    poll_until(&b, &id, |s| s == JobStatus::Generating).await;
    assert!(process::signal_pid(b.pid, Signal::Kill).unwrap());
    let exit = tokio::time::timeout(Duration::from_secs(10), b.wait_exit())
        .await
        .expect("the exit is seen");
    assert_eq!(exit.signal_name().as_deref(), Some("SIGKILL"));
    assert_eq!(b.exit(), Some(exit));
    let e = b.client().job(&id).await.unwrap_err();
    assert!(code(&e).starts_with("BACKEND_"), "{e:?}");
    let e = b.race_exit(b.client().job(&id)).await.unwrap_err();
    assert_eq!(code(&e), "SD_SERVER_EXITED");
    let details = e.details.unwrap();
    assert_eq!(details["signal"], "SIGKILL");
    assert!(details["args"].as_str().unwrap().contains("--listen-port"));
    assert!(!record.exists());
    b.stop(None).await.unwrap(); // already gone: nothing to do
}

#[tokio::test]
async fn a_missing_model_fails_with_sd_cpps_own_error_lines() {
    let Some((server, _)) = common::sd_assets("missing_model") else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let (on_line, lines) = recorder();
    let missing = temp_dir("missing").join("nope.gguf");
    let spec = spec(&server, &missing, "missing");
    let record = spec.pid_record.clone();
    let e = backend::start(spec, on_line, CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ServerError);
    assert_eq!(code(&e), "SD_SERVER_EXITED", "{e:?}");
    let details = e.details.clone().unwrap();
    assert_eq!(details["exitCode"], 1);
    let stderr = details["stderr"].as_str().unwrap();
    assert!(
        stderr.contains("[ERROR]") && stderr.contains("new_sd_ctx_t failed"),
        "{stderr}"
    );
    assert!(e.message.contains("exited with code 1") && e.message.contains("new_sd_ctx_t failed"));
    assert!(details["stdout"].as_str().unwrap().contains("not found"));
    assert!(count(&lines, "init model loader from file failed") == 1);
    let pid = details["pid"].as_u64().unwrap() as u32;
    assert!(!alive(pid));
    assert!(!record.exists());
}

#[tokio::test]
async fn a_fixed_port_taken_before_or_during_the_start_is_port_in_use() {
    let Some((server, model)) = common::sd_assets("port_in_use") else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    // Taken before: refused without spawning.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let mut s = spec(&server, &model, "port");
    s.port = Some(port);
    let (on_line, lines) = recorder();
    let e = backend::start(s.clone(), on_line, CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::PortInUse);
    assert!(lines.lock().unwrap().is_empty(), "nothing spawned");
    drop(held);

    // Taken while the model loads: sd-server logs `listening on:` and exits 0.
    let port = genai_core::health::find_free_port("127.0.0.1").unwrap();
    s.port = Some(port);
    let (on_line, lines) = recorder();
    let start = tokio::spawn(backend::start(s.clone(), on_line, CancellationToken::new()));
    let pid = recorded_pid(&s.pid_record).await;
    let held = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let e = start.await.unwrap().unwrap_err();
    assert_eq!(e.code, ErrorCode::PortInUse, "{e:?}");
    assert_eq!(count(&lines, "listening on:"), 1);
    assert!(!alive(pid));
    drop(held);
}

/// An automatic port lost during the load is retried once on a new port.
#[cfg(target_os = "linux")] // the child's argv read from /proc
#[tokio::test]
async fn an_automatic_port_lost_during_the_load_is_retried_on_another() {
    let Some((server, model)) = common::sd_assets("auto_port_retry") else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let s = spec(&server, &model, "retry");
    let (on_line, lines) = recorder();
    let start = tokio::spawn(backend::start(s.clone(), on_line, CancellationToken::new()));
    let pid = recorded_pid(&s.pid_record).await;
    let argv = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let argv: Vec<String> = argv
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let at = argv.iter().position(|a| a == "--listen-port").unwrap();
    let first: u16 = argv[at + 1].parse().unwrap();
    let held = std::net::TcpListener::bind(("127.0.0.1", first)).unwrap();
    let b = start.await.unwrap().expect("the second port works");
    assert_ne!(b.port, first);
    assert_ne!(b.pid, pid);
    assert!(!alive(pid));
    assert_eq!(count(&lines, "listening on:"), 2);
    assert!(b.client().capabilities().await.is_ok());
    b.stop(None).await.unwrap();
    drop(held);
}

#[tokio::test]
async fn a_ready_timeout_and_a_cancelled_start_leave_no_process() {
    let Some((server, model)) = common::sd_assets("ready_timeout") else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    // The model load alone takes longer than 1 ms of readiness.
    let mut s = spec(&server, &model, "timeout");
    s.ready_timeout = Duration::from_millis(1);
    let (on_line, _) = recorder();
    let e = backend::start(s.clone(), on_line, CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(code(&e), "SD_SERVER_READY_TIMEOUT", "{e:?}");
    let pid = e.details.unwrap()["pid"].as_u64().unwrap() as u32;
    assert!(!alive(pid));

    // Cancelled once the child is running.
    s.ready_timeout = Duration::from_secs(120);
    let (on_line, _) = recorder();
    let cancel = CancellationToken::new();
    let start = tokio::spawn(backend::start(s.clone(), on_line, cancel.clone()));
    let pid = recorded_pid(&s.pid_record).await;
    cancel.cancel();
    let e = start.await.unwrap().unwrap_err();
    assert_eq!(code(&e), "SD_SERVER_START_ABORTED", "{e:?}");
    assert!(
        !alive(pid),
        "sd-server left running after a cancelled start"
    );
    assert!(!s.pid_record.exists());
    // Cancelled before anything was spawned.
    let (on_line, lines) = recorder();
    let e = backend::start(s, on_line, cancel).await.unwrap_err();
    assert_eq!(code(&e), "SD_SERVER_START_ABORTED");
    assert!(lines.lock().unwrap().is_empty());
}

/// A child an earlier run recorded and left running (its identity still matches) is killed
/// before the next start; the new backend says which. Dropping a backend ends its child.
#[tokio::test]
async fn an_orphan_named_by_the_pid_record_is_reaped_at_the_next_start() {
    let Some((server, model)) = common::sd_assets("orphan") else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let s = spec(&server, &model, "orphan");
    let mut orphan = std::process::Command::new("sleep")
        .arg("300")
        .spawn()
        .unwrap();
    PidRecord::new(&s.pid_record).write(orphan.id());
    let (on_line, _) = recorder();
    let b = backend::start(s.clone(), on_line, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(b.reaped_orphan, Some(orphan.id()));
    assert!(!alive(orphan.id()));
    let _ = orphan.wait();
    assert_eq!(PidRecord::new(&s.pid_record).read().unwrap().pid, b.pid);
    // A handle dropped without stop() takes its child with it.
    let pid = b.pid;
    drop(b);
    assert!(gone(pid).await, "sd-server outlived its dropped handle");
}
