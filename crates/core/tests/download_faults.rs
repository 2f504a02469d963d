//! Hostile and broken servers against the downloader and ModelManager, on a real HTTP server on
//! 127.0.0.1: one that accepts and never answers, headers then silence, a trickle, and one that
//! answers the header probe with a GGUF and the download with something else. Each ends with a
//! typed DownloadError in bounded time, cancel ends every stage, and a later download works.

mod common;

use common::server::{Faults, TestServer, CONTENT_TYPE};
use genai_core::download::{partial_path, Downloader, Request};
use genai_core::http::Limits;
use genai_core::models::{Callbacks, DownloadConfig, ModelManager, SourceSpec};
use genai_core::paths::Paths;
use genai_core::{Error, ErrorCode};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Short limits, so that a hang ends in a fraction of a second.
const SHORT: Limits = Limits {
    response: Duration::from_millis(300),
    low_speed_limit: 16 * 1024,
    low_speed_time: Duration::from_millis(500),
};

/// Far below the default limits (20 s): what ends sooner was ended by the cancel.
const PROMPT: Duration = Duration::from_secs(5);

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("genai-dlf-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A small valid GGUF (v3, no tensors) padded to `len` bytes.
fn tiny_gguf(len: usize) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(0u64.to_le_bytes()); // tensors
    b.extend(1u64.to_le_bytes()); // key/values
    let (key, value) = ("general.architecture", "llama");
    b.extend((key.len() as u64).to_le_bytes());
    b.extend(key.as_bytes());
    b.extend(8u32.to_le_bytes()); // string
    b.extend((value.len() as u64).to_le_bytes());
    b.extend(value.as_bytes());
    b.resize(len, 7);
    b
}

fn config(name: &str, url: &str) -> DownloadConfig {
    DownloadConfig {
        spec: SourceSpec {
            source: "url".into(),
            url: Some(url.into()),
            ..Default::default()
        },
        name: name.into(),
        model_type: "llm".into(),
        ..Default::default()
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn error_text(e: &Error) -> String {
    format!("{e} {}", e.details.clone().unwrap_or_default())
}

/// Runs `work` in a task, waits until `ready`, cancels with `cancel`, and returns the task's
/// result, which must come well before any default timeout.
async fn cancel_when<T: Send + 'static>(
    work: impl Future<Output = T> + Send + 'static,
    ready: impl Fn() -> bool,
    cancel: impl FnOnce(),
) -> T {
    let task = tokio::spawn(work);
    while !ready() {
        assert!(!task.is_finished(), "ended before the stage under test");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    cancel();
    tokio::time::timeout(PROMPT, task)
        .await
        .expect("cancel ends the stage promptly")
        .unwrap()
}

#[tokio::test]
async fn hangs_end_with_a_typed_error_and_free_the_downloader() {
    let server = TestServer::start().await;
    let data = vec![9u8; 2_000_000];
    server.put("/f", data.clone());
    let dir = temp_dir("hangs");
    let dest = dir.join("f");
    let downloader = Downloader::new();
    let mut req = Request::new(&server.url("/f"), &dest);
    req.limits = SHORT;
    req.max_resumes = 2;

    // Accepts, never answers: no response headers in time, three times → DownloadError.
    server.set_faults(Faults {
        silent: true,
        ..Default::default()
    });
    let err = downloader.download(&req, None).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::DownloadFailed);
    assert!(
        error_text(&err).contains("no response within 0.3s"),
        "{err:?}"
    );
    assert!(!downloader.is_downloading());

    // Headers, then silence: a stall (no data) → resume, which stalls again → DownloadError.
    server.set_faults(Faults {
        stall_after: Some(0),
        ..Default::default()
    });
    let err = downloader.download(&req, None).await.unwrap_err();
    assert!(error_text(&err).contains("no data for 0.5s"), "{err:?}");

    // A trickle (2 KB/s, under the 16 KiB/s limit) is a stall too; what came is kept.
    server.set_faults(Faults {
        trickle: Some((200, Duration::from_millis(100))),
        ..Default::default()
    });
    let err = downloader.download(&req, None).await.unwrap_err();
    assert!(error_text(&err).contains("below 16384 bytes/s"), "{err:?}");
    assert_eq!(err.details.as_ref().unwrap()["resumable"], true);
    let kept = std::fs::metadata(partial_path(&dest)).unwrap().len();
    assert!(kept > 0, "the trickled bytes are kept");

    // The next download works and continues from there.
    server.set_faults(Faults::default());
    let out = downloader.download(&req, None).await.unwrap();
    assert_eq!(out.resumed_from, kept);
    assert_eq!(std::fs::read(&dest).unwrap(), data);
}

#[tokio::test]
async fn cancel_ends_a_request_that_never_answers() {
    let server = TestServer::start().await;
    server.put("/f", vec![1u8; 1000]);
    server.set_faults(Faults {
        silent: true,
        ..Default::default()
    });
    let dir = temp_dir("cancel-silent");
    let downloader = Arc::new(Downloader::new());
    let (d, req) = (
        downloader.clone(),
        Request::new(&server.url("/f"), &dir.join("f")),
    );
    let result = cancel_when(
        async move { d.download(&req, None).await },
        || !server.requests().is_empty(),
        || downloader.cancel(),
    )
    .await;
    assert_eq!(
        result.unwrap_err().to_string(),
        "Download failed: Download cancelled"
    );
    assert!(!downloader.is_downloading());
}

/// A manager whose requests run under `limits`.
fn manager(tag: &str, limits: Limits) -> (Arc<ModelManager>, PathBuf) {
    let root = temp_dir(tag);
    let mut mgr = ModelManager::new(Paths::new(&root));
    mgr.limits = limits;
    (Arc::new(mgr), root.join("models/llm"))
}

#[tokio::test]
async fn cancel_ends_every_stage_of_download_model() {
    let server = TestServer::start().await;
    let gguf = tiny_gguf(1_000_000);
    server.put("/m.gguf", gguf.clone());
    for i in 1..=2 {
        server.put(&format!("/s-0000{i}-of-00002.gguf"), gguf.clone());
    }
    let (mgr, llm) = manager("stages", genai_core::http::DEFAULT_LIMITS);
    let seen = |method: hyper::Method| {
        let server = server.clone();
        move || server.methods().contains(&method)
    };
    let run = |cfg: DownloadConfig| {
        let mgr = mgr.clone();
        async move { mgr.download(&cfg, Callbacks::default()).await }
    };
    let cancel = || mgr.cancel_download();

    // 1. The GGUF header probe never answers.
    server.set_faults(Faults {
        silent: true,
        ..Default::default()
    });
    let url = server.url("/m.gguf");
    let r = cancel_when(run(config("A", &url)), seen(hyper::Method::GET), cancel).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Download failed: Download cancelled"
    );
    assert!(!mgr.is_downloading());

    // 2. The HEAD size probes of a sharded model never answer.
    server.set_faults(Faults {
        silent: true,
        method: Some(hyper::Method::HEAD),
        ..Default::default()
    });
    let mut cfg = config("S", &server.url("/s-00001-of-00002.gguf"));
    cfg.shard_files = Some(vec!["s-00002-of-00002.gguf".into()]);
    let r = cancel_when(run(cfg.clone()), seen(hyper::Method::HEAD), cancel).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Download failed: Download cancelled"
    );

    // 3. The body stops halfway (after the probe's 256 KiB range).
    server.set_faults(Faults {
        stall_after: Some(500_000),
        method: Some(hyper::Method::GET),
        times: Some(2), // the probe, then the download
        ..Default::default()
    });
    let body_started = {
        let server = server.clone();
        move || server.requests().iter().any(|r| r.1.is_none())
    };
    let r = cancel_when(run(config("A", &url)), body_started, cancel).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Download failed: Download cancelled"
    );
    assert!(!mgr.is_downloading());
    assert_eq!(
        mgr.storage.list(None).unwrap().len(),
        0,
        "nothing registered"
    );

    // Later downloads work (the single file resumes its partial).
    server.set_faults(Faults::default());
    mgr.download(&config("A", &url), Callbacks::default())
        .await
        .unwrap();
    mgr.download(&cfg, Callbacks::default()).await.unwrap();
    assert_eq!(std::fs::read(llm.join("m.gguf")).unwrap(), gguf);
    assert_eq!(mgr.storage.list(None).unwrap().len(), 2);
}

#[tokio::test]
async fn probes_time_out_under_the_limits() {
    let server = TestServer::start().await;
    let gguf = tiny_gguf(300_000);
    server.put("/m.gguf", gguf.clone());
    for i in 1..=2 {
        server.put(&format!("/s-0000{i}-of-00002.gguf"), gguf.clone());
    }
    let (mgr, llm) = manager("probes", SHORT);

    // The header probe: genai-electron's error, with why.
    server.set_faults(Faults {
        silent: true,
        ..Default::default()
    });
    let err = mgr
        .download(&config("A", &server.url("/m.gguf")), Callbacks::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Download failed: Failed to fetch GGUF metadata before download: Download failed: Failed to fetch GGUF metadata from URL: no response within 0.3s"
    );
    assert!(files_in(&llm).is_empty());

    // Sizes the server does not tell in time are unknown; the download goes on.
    server.set_faults(Faults {
        silent: true,
        method: Some(hyper::Method::HEAD),
        ..Default::default()
    });
    let mut cfg = config("S", &server.url("/s-00001-of-00002.gguf"));
    cfg.shard_files = Some(vec!["s-00002-of-00002.gguf".into()]);
    let info = mgr.download(&cfg, Callbacks::default()).await.unwrap();
    assert_eq!(info.size, 2 * gguf.len() as u64);

    // A body that trickles during the probe.
    server.set_faults(Faults {
        trickle: Some((100, Duration::from_millis(50))),
        ..Default::default()
    });
    let err = mgr
        .download(&config("A", &server.url("/m.gguf")), Callbacks::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("below 16384 bytes/s"), "{err}");
}

/// Each way a download can differ from its probe: refused, nothing registered, nothing left.
#[tokio::test]
async fn a_download_that_differs_from_its_probe_is_refused() {
    let server = TestServer::start().await;
    let gguf = tiny_gguf(1_000_000);
    server.put("/m.gguf", gguf.clone());
    let (mgr, llm) = manager("differs", SHORT);
    let html = b"<!DOCTYPE html><html><body>Not found</body></html>\n\n\n\n".to_vec();
    assert_eq!(html.len(), 54);
    let mut not_gguf = gguf.clone();
    not_gguf[..4].copy_from_slice(b"<!--");
    let cases = [
        // An error page for the full GET: another size and type.
        (
            html,
            "text/html; charset=utf-8",
            "size 54 instead of 1000000",
        ),
        // The same bytes as another type.
        (
            gguf.clone(),
            "text/html",
            "content type \"text/html\" instead of \"application/octet-stream\"",
        ),
        // The same size and type, not a GGUF.
        (not_gguf, CONTENT_TYPE, "Downloaded file is not a GGUF file"),
    ];
    for (body, kind, why) in cases {
        server.set_faults(Faults {
            full_body: Some((body.into(), kind.into())),
            ..Default::default()
        });
        let err = mgr
            .download(&config("A", &server.url("/m.gguf")), Callbacks::default())
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::DownloadFailed);
        assert!(err.to_string().contains(why), "{err}");
        assert!(files_in(&llm).is_empty(), "{:?}", files_in(&llm));
        assert!(mgr.storage.list(None).unwrap().is_empty());
    }
    server.set_faults(Faults::default());
    let info = mgr
        .download(&config("A", &server.url("/m.gguf")), Callbacks::default())
        .await
        .unwrap();
    assert_eq!(std::fs::read(&info.path).unwrap(), gguf);
}
