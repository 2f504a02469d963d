//! The downloader against a real HTTP server on 127.0.0.1 serving the real SmolLM2 GGUF, with
//! injected faults: cuts at 20 points, stalls, cancel, no Range support, a changed file, 404.

mod common;

use common::server::{Faults, TestServer};
use genai_core::download::{partial_path, Downloader, ProgressFn, Request};
use genai_core::ErrorCode;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn model_bytes() -> Vec<u8> {
    std::fs::read(common::smollm_path()).expect("model readable")
}

fn hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("genai-dl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Progress calls as (downloaded, total).
type Calls = Arc<Mutex<Vec<(u64, u64)>>>;

fn recorder() -> (ProgressFn, Calls) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let c = calls.clone();
    (Arc::new(move |d, t| c.lock().unwrap().push((d, t))), calls)
}

#[tokio::test]
async fn downloads_with_progress_and_checksum() {
    let data = model_bytes();
    let server = TestServer::start().await;
    server.put("/m.gguf", data.clone());
    let dir = temp_dir("basic");
    let dest = dir.join("m.gguf");
    let mut req = Request::new(&server.url("/m.gguf"), &dest);
    req.expected_sha256 = Some(format!("sha256:{}", hex(&data)));
    let (progress, calls) = recorder();
    let out = Downloader::new()
        .download(&req, Some(progress))
        .await
        .unwrap();
    assert_eq!(out.size, data.len() as u64);
    assert_eq!(out.sha256, Some(hex(&data)));
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert!(!partial_path(&dest).exists());
    let calls = calls.lock().unwrap();
    assert_eq!(
        calls.last(),
        Some(&(data.len() as u64, data.len() as u64)),
        "progress reaches total"
    );
    assert!(
        calls.windows(2).all(|w| w[0].0 <= w[1].0),
        "progress never goes back"
    );
}

#[tokio::test]
async fn checksum_mismatch_removes_the_file() {
    let server = TestServer::start().await;
    server.put("/f", vec![7u8; 100_000]);
    let dir = temp_dir("sum");
    let dest = dir.join("f");
    let mut req = Request::new(&server.url("/f"), &dest);
    req.expected_sha256 = Some("0".repeat(64));
    let err = Downloader::new().download(&req, None).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Checksum);
    assert_eq!(
        err.to_string(),
        "Checksum verification failed: SHA256 checksum mismatch"
    );
    assert_eq!(err.details.unwrap()["actual"], hex(&[7u8; 100_000]));
    assert!(!dest.exists() && !partial_path(&dest).exists());
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing left behind"
    );
}

#[tokio::test]
async fn resumes_after_cuts_at_20_points() {
    let data = model_bytes();
    let server = TestServer::start().await;
    server.put("/m.gguf", data.clone());
    let want = hex(&data);
    let mut seed = 0x2545F4914F6CDD1Du64;
    for i in 0..20 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let cut = 1 + seed % (data.len() as u64 - 1);
        server.set_faults(Faults {
            cut_after: Some(cut),
            times: Some(1),
            ..Default::default()
        });
        let dir = temp_dir(&format!("cut{i}"));
        let dest = dir.join("m.gguf");
        // The checksum covers the bytes kept before the cut (hashed again on resume).
        let mut req = Request::new(&server.url("/m.gguf"), &dest);
        req.expected_sha256 = Some(want.clone());
        let out = Downloader::new().download(&req, None).await.unwrap();
        assert_eq!(out.sha256.as_ref(), Some(&want), "cut at {cut}");
        assert_eq!(std::fs::metadata(&dest).unwrap().len(), data.len() as u64);
        // The second request continues from what reached the disk (at most the cut).
        let requests = server.requests();
        let resumed_at = requests.last().and_then(|r| r.1.clone());
        let at: u64 = resumed_at
            .as_deref()
            .and_then(|r| r.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok())
            .unwrap_or(0);
        assert!(at <= cut, "resumed at {at}, cut at {cut}");
        assert_eq!(requests.len(), 2 * (i + 1), "one cut, one resume");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[tokio::test]
async fn resumes_in_a_later_call_and_after_cancel() {
    let data = model_bytes();
    let server = TestServer::start().await;
    server.put("/m.gguf", data.clone());
    let dir = temp_dir("later");
    let dest = dir.join("m.gguf");
    let mut req = Request::new(&server.url("/m.gguf"), &dest);
    req.max_resumes = 0;
    req.expected_sha256 = Some(hex(&data));

    // 1. cut at 30 MB, no automatic resume: the call fails, the partial stays, nothing at dest.
    server.set_faults(Faults {
        cut_after: Some(30_000_000),
        times: Some(1),
        ..Default::default()
    });
    let err = Downloader::new().download(&req, None).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::DownloadFailed);
    assert_eq!(err.details.as_ref().unwrap()["resumable"], true);
    assert!(!dest.exists());
    let kept = std::fs::metadata(partial_path(&dest)).unwrap().len();
    assert!(kept > 0 && kept <= 30_000_000, "{kept}");

    // 2. a new downloader (as a new process would) continues from there, then is cancelled
    //    while the server stalls 30 MB further on.
    server.set_faults(Faults {
        stall_after: Some(30_000_000),
        times: Some(1),
        ..Default::default()
    });
    let stall_at = kept + 30_000_000;
    let downloader = Arc::new(Downloader::new());
    let d2 = downloader.clone();
    let r2 = req.clone();
    let (progress, seen) = recorder();
    let task = tokio::spawn(async move { d2.download(&r2, Some(progress)).await });
    // Progress is throttled, so wait until it is close to the stall point, then let the last
    // bytes before the stall arrive.
    while seen
        .lock()
        .unwrap()
        .last()
        .is_none_or(|(d, _)| *d + 4_000_000 < stall_at)
    {
        if task.is_finished() {
            panic!("download ended early: {:?}", task.await);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(downloader.is_downloading());
    downloader.cancel();
    let err = task.await.unwrap().unwrap_err();
    assert_eq!(err.to_string(), "Download failed: Download cancelled");
    assert!(!downloader.is_downloading());

    // 3. resume again: only the rest is sent, the result is byte-identical.
    server.take_sent();
    let (progress, calls) = recorder();
    let out = Downloader::new()
        .download(&req, Some(progress))
        .await
        .unwrap();
    assert_eq!(out.sha256, Some(hex(&data)));
    assert_eq!(
        out.resumed_from, stall_at,
        "the cancelled call flushed everything it had"
    );
    assert_eq!(server.take_sent(), data.len() as u64 - out.resumed_from);
    assert!(calls
        .lock()
        .unwrap()
        .iter()
        .all(|(d, t)| *d >= out.resumed_from && *t == data.len() as u64));
}

#[tokio::test]
async fn restarts_when_resume_is_impossible() {
    let server = TestServer::start().await;
    let v1: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    let v2: Vec<u8> = (0..2_500_000u32).map(|i| (i % 241) as u8).collect();
    let dir = temp_dir("restart");
    let dest = dir.join("f.bin");
    let mut req = Request::new(&server.url("/f.bin"), &dest);
    req.max_resumes = 0;
    let leave_partial = |server: &TestServer| {
        server.set_faults(Faults {
            cut_after: Some(1_000_000),
            times: Some(1),
            ..Default::default()
        });
    };

    // A server without Range support: the partial is discarded and the file fetched whole.
    server.put("/f.bin", v1.clone());
    leave_partial(&server);
    Downloader::new().download(&req, None).await.unwrap_err();
    server.set_faults(Faults {
        no_range: true,
        ..Default::default()
    });
    let out = Downloader::new().download(&req, None).await.unwrap();
    assert_eq!(out.size, v1.len() as u64);
    assert_eq!(out.sha256, None, "no checksum expected: nothing hashed");
    assert_eq!(std::fs::read(&dest).unwrap(), v1);

    // The file changed on the server (new ETag): If-Range makes it send the new file whole.
    std::fs::remove_file(&dest).unwrap();
    leave_partial(&server);
    Downloader::new().download(&req, None).await.unwrap_err();
    server.put("/f.bin", v2.clone());
    server.set_faults(Faults::default());
    req.expected_sha256 = Some(hex(&v2));
    let out = Downloader::new().download(&req, None).await.unwrap();
    assert_eq!(out.sha256, Some(hex(&v2)));
    assert_eq!(std::fs::read(&dest).unwrap(), v2);
}

#[tokio::test]
async fn http_errors_stalls_and_concurrency() {
    let server = TestServer::start().await;
    server.put("/f", vec![1u8; 3_000_000]);
    let dir = temp_dir("errors");
    let dest = dir.join("f");

    let err = Downloader::new()
        .download(&Request::new(&server.url("/missing"), &dest), None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Download failed: HTTP error: 404 Not Found"
    );
    assert_eq!(err.details.as_ref().unwrap()["status"], 404);
    server.set_faults(Faults {
        status: Some(403),
        ..Default::default()
    });
    let err = Downloader::new()
        .download(&Request::new(&server.url("/f"), &dest), None)
        .await
        .unwrap_err();
    assert_eq!(err.details.as_ref().unwrap()["status"], 403);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "state unchanged"
    );

    // A stalled connection counts as cut after the stall timeout.
    server.set_faults(Faults {
        stall_after: Some(1_000_000),
        ..Default::default()
    });
    let mut req = Request::new(&server.url("/f"), &dest);
    req.limits.low_speed_time = Duration::from_millis(300);
    req.max_resumes = 0;
    let err = Downloader::new().download(&req, None).await.unwrap_err();
    assert!(
        err.details.as_ref().unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("no data"),
        "{err:?}"
    );

    // A server announcing more than it sends: the short file is never moved into place.
    server.set_faults(Faults {
        wrong_length: Some(4_000_000),
        ..Default::default()
    });
    let _ = std::fs::remove_file(partial_path(&dest));
    assert!(Downloader::new().download(&req, None).await.is_err());
    assert!(!dest.exists());

    // One download at a time per downloader.
    server.set_faults(Faults {
        stall_after: Some(100_000),
        ..Default::default()
    });
    let downloader = Arc::new(Downloader::new());
    let d = downloader.clone();
    let r = Request::new(&server.url("/f"), &dir.join("g"));
    let first = tokio::spawn(async move { d.download(&r, None).await });
    while !downloader.is_downloading() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let err = downloader
        .download(&Request::new(&server.url("/f"), &dir.join("h")), None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Download failed: Download already in progress"
    );
    downloader.cancel();
    assert!(first.await.unwrap().is_err());
}

/// The health probes against a real HTTP server (the test server answers /health with 404
/// until a file is put there).
#[tokio::test]
async fn health_probes() {
    use genai_core::health::{check_health, is_server_responding, wait_for_healthy, HealthStatus};
    use tokio_util::sync::CancellationToken;
    let server = TestServer::start().await;
    let port = server.addr.port();
    let t = Duration::from_secs(2);
    let health = |port: u16| async move {
        serde_json::to_value(check_health(port, t, "127.0.0.1").await).unwrap()
    };
    assert_eq!(health(port).await, serde_json::json!({ "status": "error" }));
    assert!(!is_server_responding(port, t, "127.0.0.1").await);
    server.put("/health", br#"{"status":"loading","slots":1}"#.to_vec());
    assert_eq!(
        health(port).await,
        serde_json::json!({ "status": "loading", "slots": 1 })
    );
    server.put("/health", br#"{"status":"weird"}"#.to_vec());
    assert_eq!(
        check_health(port, t, "127.0.0.1").await.status,
        HealthStatus::Unknown
    );
    server.put("/health", b"plain ok".to_vec());
    assert_eq!(
        check_health(port, t, "127.0.0.1").await.status,
        HealthStatus::Ok
    );
    assert!(is_server_responding(port, t, "127.0.0.1").await);
    let closed = genai_core::health::find_free_port("127.0.0.1").unwrap();
    assert_eq!(
        check_health(closed, t, "127.0.0.1").await.status,
        HealthStatus::Unknown
    );

    // waitForHealthy: ready after a while → returns; never ready → ServerError with attempts.
    server.put("/health", br#"{"status":"loading"}"#.to_vec());
    let s2 = server.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        s2.put("/health", br#"{"status":"ok"}"#.to_vec());
    });
    let never = CancellationToken::new();
    wait_for_healthy(
        port,
        Duration::from_secs(10),
        Duration::from_millis(100),
        Duration::from_millis(2000),
        "127.0.0.1",
        &never,
    )
    .await
    .unwrap();
    let err = wait_for_healthy(
        closed,
        Duration::from_millis(500),
        Duration::from_millis(100),
        Duration::from_millis(2000),
        "127.0.0.1",
        &never,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Server error: Server health check timeout after 500ms ("),
        "{err}"
    );
    assert!(err.details.unwrap()["attempts"].as_u64().unwrap() >= 2);
}
