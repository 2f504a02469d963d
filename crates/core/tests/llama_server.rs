#![cfg(unix)] // builds llama.cpp with cmake and a C++ compiler (scripts/assets.sh is bash)
//! The launch contract against the real llama-server (built from the llama.cpp source on PyPI by
//! scripts/assets.sh): every flag we can pass is in its `--help`, and the argv we build starts it
//! with the real SmolLM2 model, answers /health and a chat completion, and stops cleanly.

mod common;

use genai_core::{health, llama, logs, process};
use serde_json::json;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn llama_server() -> PathBuf {
    common::llama_server_path()
}

#[test]
fn every_flag_we_pass_is_in_llama_server_help() {
    let out = std::process::Command::new(llama_server())
        .arg("--help")
        .output()
        .expect("llama-server runs");
    let help = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let known: std::collections::HashSet<&str> = help
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| t.starts_with('-') && t.len() > 1)
        .collect();
    for flag in llama::ALL_FLAGS {
        assert!(
            known.contains(flag),
            "llama-server --help does not know {flag}"
        );
    }
    let fa = help
        .lines()
        .find(|l| l.contains("--flash-attn"))
        .unwrap_or_default();
    assert!(
        fa.contains("on") && fa.contains("off") && fa.contains("auto"),
        "{fa}"
    );
}

#[tokio::test]
async fn our_argv_serves_smollm2() {
    let port = health::find_free_port("127.0.0.1").unwrap();
    let config = json!({ "modelId": "smollm2", "port": port, "threads": 2, "contextSize": 2048, "gpuLayers": 0, "parallelRequests": 1 });
    let config = llama::LlamaServerConfig::from_json(config.as_object().unwrap().clone()).unwrap();
    let args = llama::build_args(
        &llama::ResolvedConfig::new(config, port).unwrap(),
        &common::smollm_path().to_string_lossy(),
    );
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l = lines.clone();
    let events: process::EventFn = Arc::new(move |e| {
        if let process::Event::Stdout(s) | process::Event::Stderr(s) = e {
            l.lock().unwrap().push(s);
        }
    });
    let spec = process::Spec {
        program: llama_server(),
        args,
        ..Default::default()
    };
    let child = process::spawn(&spec, events).expect("llama-server starts");
    let never = tokio_util::sync::CancellationToken::new();
    health::wait_for_healthy(
        port,
        Duration::from_secs(60),
        Duration::from_millis(50),
        Duration::from_millis(500),
        "127.0.0.1",
        &never,
    )
    .await
    .expect("healthy");
    let client = genai_core::http::client().unwrap();
    let body =
        json!({ "messages": [{ "role": "user", "content": "Say hello." }], "max_tokens": 8 });
    let resp = client
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answer: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert!(
        answer["choices"][0]["message"]["content"].is_string(),
        "{answer}"
    );

    let exit = tokio::task::spawn_blocking(move || child.stop(Duration::from_secs(10)))
        .await
        .unwrap()
        .unwrap();
    assert!(
        exit.signal == Some(libc::SIGTERM) || exit.code == Some(0),
        "{exit:?}"
    );
    assert!(
        health::is_port_bindable(port, "127.0.0.1").unwrap(),
        "port free again"
    );

    // Its output maps to levels: the model-load lines are info, nothing is an error.
    let lines = lines.lock().unwrap();
    let classified: Vec<(logs::Level, String)> =
        lines.iter().map(|l| logs::classify_llama_line(l)).collect();
    assert!(
        classified
            .iter()
            .any(|(lv, m)| *lv == logs::Level::Info && m.contains("load_model: loading model")),
        "{lines:?}"
    );
    assert!(
        classified
            .iter()
            .any(|(lv, m)| *lv == logs::Level::Warn && m.contains("no API key")),
        "{lines:?}"
    );
    assert!(
        classified
            .iter()
            .any(|(lv, m)| *lv == logs::Level::Debug && m.contains("print_timing")),
        "slot noise is debug"
    );
    assert!(
        classified.iter().any(|(_, m)| m.contains("listening")),
        "{lines:?}"
    );
    assert!(
        classified
            .iter()
            .all(|(lv, m)| *lv != logs::Level::Error || m.contains("error")),
        "{classified:?}"
    );
}
