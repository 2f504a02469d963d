#![cfg(unix)] // builds llama.cpp with cmake and a C++ compiler (scripts/assets.sh is bash)
//! The llama-server supervisor on the real binary and the real SmolLM2 model: start, events in
//! order, health, a chat completion, logs, crash on SIGKILL, stop, and typed errors that leave the
//! state unchanged.

mod common;

use genai_core::callback::{Outcome, Reply, Thrown};
use genai_core::llama::LlamaServerConfig;
use genai_core::llama_server::{ExitReason, LlamaServer, ServerEvent, ServerExit, ServerStatus};
use genai_core::models::ModelManager;
use genai_core::paths::Paths;
use genai_core::system::SystemInfo;
use genai_core::ErrorCode;
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn llama_server_binary() -> String {
    common::llama_server_path().to_string_lossy().into_owned()
}

fn setup(tag: &str) -> (Arc<LlamaServer>, Arc<Mutex<Vec<ServerEvent>>>) {
    setup_with(tag, |_| Ok(()))
}

/// `setup` with listeners that answer as `answer` says (a JS listener that throws answers Err).
fn setup_with(
    tag: &str,
    answer: impl Fn(&ServerEvent) -> Outcome + Send + Sync + 'static,
) -> (Arc<LlamaServer>, Arc<Mutex<Vec<ServerEvent>>>) {
    let root = std::env::temp_dir().join(format!("genai-llama-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let models = Arc::new(ModelManager::new(Paths::new(&root)));
    models.storage.initialize().unwrap();
    let path = common::smollm_path();
    let header = genai_core::gguf::read_local(&path).unwrap();
    let mut info = Map::new();
    for (k, v) in [
        ("id", json!("smollm2")),
        ("name", json!("SmolLM2")),
        ("type", json!("llm")),
        ("size", json!(std::fs::metadata(&path).unwrap().len())),
        ("path", json!(path.to_string_lossy())),
        ("downloadedAt", json!("2026-01-01T00:00:00.000Z")),
        (
            "source",
            json!({ "type": "url", "url": "http://127.0.0.1/x.gguf" }),
        ),
        (
            "ggufMetadata",
            Value::Object(genai_core::gguf::metadata::gguf_metadata(&header, true)),
        ),
    ] {
        info.insert(k.into(), v);
    }
    models
        .storage
        .save(&genai_core::models::ModelInfo::from_value(Value::Object(info)).unwrap())
        .unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let e = events.clone();
    let server = LlamaServer::new(
        models,
        Arc::new(SystemInfo::new()),
        Arc::new(move |ev, reply: Reply| {
            reply.send(answer(&ev));
            e.lock().unwrap().push(ev);
        }),
    );
    (server, events)
}

/// A JS config, with the test binary, as the binding parses it.
fn config(v: Value) -> genai_core::Result<LlamaServerConfig> {
    LlamaServerConfig::from_json(raw(v))
        .map(|c| c.with_binary_fallback(Some(llama_server_binary())))
}

fn raw(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

#[tokio::test]
async fn start_serve_crash_restart_stop() {
    let (server, events) = setup("run");
    let info = server
        .start(config(json!({ "modelId": "smollm2", "port": "auto", "threads": 2 })).unwrap())
        .await
        .unwrap();
    assert_eq!(info.status, ServerStatus::Running);
    let port = info.port;
    {
        let all = events.lock().unwrap();
        let binary_log: Vec<&str> = all
            .iter()
            .filter_map(|e| {
                if let ServerEvent::BinaryLog { message, .. } = e {
                    Some(message.as_str())
                } else {
                    None
                }
            })
            .collect();
        // Validated here, or by a test that ran first in this process.
        let verdict = binary_log.last().copied().unwrap_or_default();
        assert!(
            [
                "Phase 1: ✓ Binary validation passed (--version)",
                "Using cached validation result (binary verified)"
            ]
            .contains(&verdict),
            "{binary_log:?}"
        );
        assert!(
            matches!(all[1], ServerEvent::BinaryLog { .. }),
            "binary-log comes after status starting"
        );
        let ev: Vec<&ServerEvent> = all
            .iter()
            .filter(|e| !matches!(e, ServerEvent::BinaryLog { .. }))
            .collect();
        assert_eq!(
            *ev[0],
            ServerEvent::Status {
                new: ServerStatus::Starting,
                old: ServerStatus::Stopped
            }
        );
        assert_eq!(
            *ev[1],
            ServerEvent::Status {
                new: ServerStatus::Running,
                old: ServerStatus::Starting
            }
        );
        assert!(
            matches!(&ev[2], ServerEvent::Ready(r) if r.port == port && r.effective_context_size == 8192)
        );
        assert!(matches!(&ev[3], ServerEvent::Started(i) if i.pid == info.pid));
    }
    assert!(server.is_healthy().await);
    let resolved = server.config().unwrap();
    assert_eq!(
        (resolved.context_size, resolved.gpu_layers),
        (Some(8192.0), Some(0.0)),
        "auto-configured"
    );

    let client = genai_core::http::client().unwrap();
    let resp = client
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(
            json!({ "messages": [{ "role": "user", "content": "Hi" }], "max_tokens": 4 })
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let logs = server.log().recent(200).unwrap();
    assert!(
        logs.iter()
            .any(|l| l.contains("[INFO ] srv  llama_server: listening on")),
        "{logs:?}"
    );

    // SIGKILL from outside → crashed with the signal, quickly.
    events.lock().unwrap().clear();
    let pid = info.pid.unwrap() as i32;
    let t = Instant::now();
    unsafe { libc::kill(pid, libc::SIGKILL) };
    while !events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, ServerEvent::Crashed(_)))
    {
        assert!(t.elapsed() < Duration::from_secs(2), "no crash event");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "crash noticed in {:?}",
        t.elapsed()
    );
    assert!(events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, ServerEvent::Crashed(x) if x.signal == Some(libc::SIGKILL))));
    assert_eq!(server.status(), ServerStatus::Crashed);
    assert_eq!(
        server.info().exit,
        Some(ServerExit {
            reason: ExitReason::Crashed,
            code: None,
            signal: Some("SIGKILL".into())
        }),
        "typed exit reason"
    );

    // Start again, then stop: stopped, port free, stop is idempotent.
    server
        .start(config(json!({ "modelId": "smollm2", "port": port })).unwrap())
        .await
        .unwrap();
    server.stop().await.unwrap();
    assert_eq!(server.status(), ServerStatus::Stopped);
    assert!(events.lock().unwrap().last() == Some(&ServerEvent::Stopped));
    assert_eq!(server.info().exit.unwrap().reason, ExitReason::Stopped);
    assert!(genai_core::health::is_port_bindable(port, "127.0.0.1").unwrap());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn bad_starts_are_typed_and_change_nothing() {
    let (server, events) = setup("errors");
    let start = |v: Value| {
        let server = server.clone();
        async move { server.start(config(v)?).await }
    };
    let expect = |r: genai_core::Result<genai_core::llama_server::ServerInfo>,
                  code: ErrorCode,
                  text: &str| {
        let e = r.unwrap_err();
        assert_eq!(e.code, code, "{e}");
        assert!(e.to_string().contains(text), "{e}");
    };
    expect(
        start(json!({ "modelId": "nope" })).await,
        ErrorCode::ModelNotFound,
        "Model not found: nope",
    );
    // A model whose file was deleted fails before anything is spawned, saying what is missing.
    let gone = std::env::temp_dir().join(format!("genai-deleted-{}.gguf", std::process::id()));
    let mut info = server.models().storage.find("smollm2").unwrap();
    (info.id, info.path) = ("gone".into(), gone.to_string_lossy().into_owned());
    server.models().storage.save(&info).unwrap();
    expect(
        start(json!({ "modelId": "gone", "port": "auto" })).await,
        ErrorCode::ServerError,
        &format!("Server error: Model file not found: {}", gone.display()),
    );
    assert!(
        events.lock().unwrap().is_empty(),
        "nothing started, no status change"
    );
    expect(
        start(json!({ "modelId": "smollm2", "port": 70000 })).await,
        ErrorCode::ServerError,
        "Invalid port",
    );
    expect(
        start(json!({ "modelId": "smollm2", "threads": -2 })).await,
        ErrorCode::ServerError,
        "Invalid threads",
    );
    expect(
        start(json!({ "modelId": "smollm2", "ctx": 1 })).await,
        ErrorCode::ServerError,
        "Unknown configuration field: ctx",
    );
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().port();
    expect(
        start(json!({ "modelId": "smollm2", "port": busy })).await,
        ErrorCode::PortInUse,
        &format!("Port {busy} is already in use"),
    );
    expect(
        start(json!({ "modelId": "smollm2", "binaryPath": "/nonexistent/llama-server" })).await,
        ErrorCode::Binary,
        "Binary file not found",
    );
    let dir = std::env::temp_dir();
    expect(
        start(json!({ "modelId": "smollm2", "binaryPath": dir })).await,
        ErrorCode::Binary,
        &format!("Binary path is a directory, not a file: {}", dir.display()),
    );
    // A binary that fails its `--version` check: BinaryError, nothing started.
    expect(
        start(json!({ "modelId": "smollm2", "port": "auto", "binaryPath": "/bin/false" })).await,
        ErrorCode::Binary,
        "llama-server binary failed validation: --version ended with exit code 1",
    );
    // One that passes it but exits when started: ServerError with its last log lines.
    let script = std::env::temp_dir().join(format!("genai-exits-{}.sh", std::process::id()));
    std::fs::write(&script, "#!/bin/sh\n[ \"$1\" = --version ] && exit 0\necho 'main: error: failed to load model' >&2\nexit 1\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let e = start(json!({ "modelId": "smollm2", "port": "auto", "binaryPath": script }))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ServerError);
    assert!(
        e.to_string()
            .contains("llama-server exited during startup (exit code 1)"),
        "{e}"
    );
    let last_logs = e
        .details
        .as_ref()
        .map(|d| d["lastLogs"].to_string())
        .unwrap_or_default();
    assert!(last_logs.contains("failed to load model"), "{last_logs}");
    assert_eq!(server.status(), ServerStatus::Stopped);
    // One start at a time: a claim held refuses the next one; released, it can be taken again.
    let claim = server.claim_start().unwrap();
    let refused = server.claim_start().err().unwrap();
    assert_eq!(
        refused.to_string(),
        "Server error: Server is already starting"
    );
    drop(claim);
    assert!(server.claim_start().is_ok());
    assert!(!events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, ServerEvent::Started(_) | ServerEvent::Crashed(_))));
}

#[tokio::test]
async fn auto_restart_brings_it_back_and_stop_cancels() {
    let (server, events) = setup("restart");
    let info = server
        .start(
            config(json!({ "modelId": "smollm2", "port": "auto", "autoRestart": true })).unwrap(),
        )
        .await
        .unwrap();
    let first = info.pid.unwrap() as i32;
    unsafe { libc::kill(first, libc::SIGKILL) };
    let t = Instant::now();
    let restarted = loop {
        if let Some(ServerEvent::Restarted(i)) = events
            .lock()
            .unwrap()
            .iter()
            .find(|e| matches!(e, ServerEvent::Restarted(_)))
        {
            break i.clone();
        }
        assert!(t.elapsed() < Duration::from_secs(15), "no restart");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        t.elapsed() >= Duration::from_millis(1000),
        "first retry waits 1 s"
    );
    assert_eq!(restarted.status, ServerStatus::Running);
    assert_ne!(restarted.pid.unwrap() as i32, first);
    assert_eq!(restarted.port, info.port, "same resolved config");
    assert!(server.is_healthy().await);
    // A crash, then stop() before the retry: no restart happens.
    events.lock().unwrap().clear();
    unsafe { libc::kill(restarted.pid.unwrap() as i32, libc::SIGKILL) };
    while !events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, ServerEvent::Crashed(_)))
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.stop().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(server.status(), ServerStatus::Stopped);
    assert!(!events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, ServerEvent::Restarted(_))));
}

#[tokio::test]
async fn watchdog_kills_a_hung_server_and_auto_restart_recovers() {
    let (server, events) = setup("watchdog");
    let cfg = config(
        json!({ "modelId": "smollm2", "port": "auto", "healthCheckInterval": 200, "autoRestart": true }),
    )
    .unwrap();
    let info = server.start(cfg).await.unwrap();
    let wait_for = |pred: fn(&ServerEvent) -> bool, secs: u64| {
        let events = events.clone();
        async move {
            let t = Instant::now();
            while !events.lock().unwrap().iter().any(pred) {
                assert!(
                    t.elapsed() < Duration::from_secs(secs),
                    "event not seen in {secs} s"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_for(|e| matches!(e, ServerEvent::HealthOk(_)), 5).await;
    // Hang it: SIGSTOP. Three failed checks later the watchdog kills it; auto-restart recovers.
    unsafe { libc::kill(info.pid.unwrap() as i32, libc::SIGSTOP) };
    wait_for(
        |e| matches!(e, ServerEvent::HealthFailed(v) if v.consecutive_failures == 3),
        30,
    )
    .await;
    wait_for(|e| matches!(e, ServerEvent::Crashed(_)), 15).await;
    wait_for(|e| matches!(e, ServerEvent::Restarted(_)), 15).await;
    assert!(server.is_healthy().await);
    server.stop().await.unwrap();
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn an_orphan_from_an_earlier_run_is_reaped_at_the_next_start() {
    let (server, _events) = setup("orphan");
    // A llama-server started outside this process's supervision, as a crashed earlier run leaves it.
    let port = genai_core::health::find_free_port("127.0.0.1").unwrap();
    let mut orphan = std::process::Command::new(llama_server_binary())
        .args([
            "-m",
            &common::smollm_path().to_string_lossy(),
            "--port",
            &port.to_string(),
            "-c",
            "512",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let identity = genai_core::process::identity(orphan.id()).expect("orphan alive");
    let record = server
        .log()
        .path()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("temp/children/llama-server.json");
    std::fs::create_dir_all(record.parent().unwrap()).unwrap();
    std::fs::write(&record, serde_json::to_vec(&identity).unwrap()).unwrap();

    let info = server
        .start(config(json!({ "modelId": "smollm2", "port": "auto" })).unwrap())
        .await
        .unwrap();
    let status = orphan.wait().unwrap(); // it was killed, not left running
    assert!(!status.success());
    assert!(server
        .log()
        .recent(100)
        .unwrap()
        .iter()
        .any(|l| l.contains("left running by an earlier run")));
    // The record now names the new child; a record for a different process is ignored.
    let now: genai_core::process::Identity =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    assert_eq!(Some(now.pid), info.pid);
    server.stop().await.unwrap();
    assert!(!record.exists(), "removed when the child exits");
}

fn thrown(message: &str) -> Outcome {
    Err(Thrown {
        message: message.into(),
    })
}

/// Upstream emits start()'s and stop()'s events inside their `try`: a listener that throws fails
/// the call with `Failed to start llama-server: …` / `Failed to stop server: …`, and nothing is
/// left running.
#[tokio::test]
async fn a_throwing_listener_fails_start_and_stop() {
    let (server, events) = setup_with("throws", |e| match e {
        ServerEvent::Started(_) => thrown("boom"),
        ServerEvent::Status {
            new: ServerStatus::Stopping,
            ..
        } => thrown("no stopping"),
        _ => Ok(()),
    });
    let e = server
        .start(config(json!({ "modelId": "smollm2", "port": "auto", "threads": 2 })).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ServerError);
    assert_eq!(
        e.to_string(),
        "Server error: Failed to start llama-server: boom"
    );
    assert_eq!(e.details, Some(json!({ "error": "boom" })));
    assert_eq!(server.status(), ServerStatus::Stopped);
    let pid = events.lock().unwrap().iter().find_map(|e| match e {
        ServerEvent::Started(info) => info.pid,
        _ => None,
    });
    let pid = pid.expect("it had started");
    assert!(
        !genai_core::process::is_running(pid),
        "the child is stopped"
    );
    // The status went running → stopped (reported, so that a facade holding Node alive lets go).
    assert!(events.lock().unwrap().iter().any(|e| matches!(
        e,
        ServerEvent::Status {
            new: ServerStatus::Stopped,
            old: ServerStatus::Running
        }
    )));

    // stop(): the server is stopped all the same, and the call reports the throw.
    let (server, _) = setup_with("throws-stop", |e| match e {
        ServerEvent::Status {
            new: ServerStatus::Stopping,
            ..
        } => thrown("no stopping"),
        _ => Ok(()),
    });
    let info = server
        .start(config(json!({ "modelId": "smollm2", "port": "auto", "threads": 2 })).unwrap())
        .await
        .unwrap();
    let e = server.stop().await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "Server error: Failed to stop server: no stopping"
    );
    assert_eq!(
        e.details,
        Some(json!({ "error": "no stopping", "pid": info.pid }))
    );
    assert_eq!(server.status(), ServerStatus::Stopped);
    assert!(!genai_core::process::is_running(info.pid.unwrap()));
}
