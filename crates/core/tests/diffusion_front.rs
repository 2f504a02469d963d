//! The image front over real HTTP on 127.0.0.1: a real client (reqwest) and raw sockets for
//! malformed requests, huge bodies and foreign Host headers. The `FrontHost` here stands in for
//! the manager (its generations complete when the test says so, through the real registry).
//! This file: generations (start, poll, busy, cancel, TTL, validation, body limit);
//! `diffusion_front/guards.rs`: Host/Origin guards, routes, timeouts, the port.

#[path = "diffusion_front/guards.rs"]
mod guards;
#[path = "diffusion_front/host.rs"]
mod host;
#[path = "diffusion_front/http.rs"]
mod http;

use base64::Engine;
use genai_core::diffusion::front::FrontConfig;
use host::{front, front_with, TestHost, PNG};
use http::{call, delete, get, post, raw, GENERATIONS};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Polls until the generation leaves pending/in_progress (the host completes it on `finish`).
async fn poll_until_done(base: &str, id: &str) -> Value {
    for _ in 0..400 {
        let (status, body) = get(&format!("{base}{GENERATIONS}/{id}")).await;
        assert_eq!(status, 200, "{body}");
        if !["pending", "in_progress"].contains(&body["status"].as_str().unwrap()) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("generation {id} never finished");
}

async fn start(base: &str, body: Value) -> String {
    let (status, reply) = post(base, &body.to_string()).await;
    assert_eq!(status, 201, "{reply}");
    reply["id"].as_str().unwrap().to_string()
}

/// Waits until the host's job has marked the generation in progress.
async fn until_in_progress(host: &TestHost, id: &str) {
    use genai_core::diffusion::front::FrontHost;
    for _ in 0..400 {
        if host
            .registry()
            .get(id)
            .is_some_and(|s| s.status.as_str() == "in_progress")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{id} never started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_with_upstreams_shape_and_headers() {
    let (front, _host, base) = front();
    let (status, body, headers) = call(Method::GET, &format!("{base}/health"), None, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "status": "ok", "busy": false, "backend": "absent" })
    );
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["vary"], "Origin");
    assert!(!headers.contains_key("access-control-allow-origin"));
    // Our choice: the query string is ignored when routing (upstream: 404).
    assert_eq!(get(&format!("{base}/health?cache=1")).await.0, 200);
    front.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_host_is_a_500_and_the_front_keeps_serving() {
    let (front, host, base) = front();
    host.panics.store(true, Ordering::SeqCst);
    let (status, body, headers) = call(Method::GET, &format!("{base}/health"), None, &[]).await;
    assert_eq!(status, 500);
    let error = json!({ "message": "Internal server error", "code": "INTERNAL_ERROR" });
    assert_eq!(body, json!({ "error": error }));
    assert_eq!(headers["vary"], "Origin");
    host.panics.store(false, Ordering::SeqCst);
    assert_eq!(get(&format!("{base}/health")).await.0, 200);
    front.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_then_poll_to_complete_with_base64_images() {
    let (front, host, base) = front();
    let (status, created) = post(
        &base,
        r#"{"prompt":"a red fox","count":3,"seed":7,"width":64,"height":64}"#,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("gen_"), "{id}");
    assert_eq!(created["status"], "pending");
    let keys: Vec<&String> = created.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "status", "createdAt"]);
    until_in_progress(&host, &id).await;
    let (_, running) = get(&format!("{base}{GENERATIONS}/{id}")).await;
    assert_eq!(running["status"], "in_progress");
    assert_eq!(running["createdAt"], created["createdAt"]);
    assert_eq!(
        running["progress"],
        json!({ "currentStep": 1, "totalSteps": 2, "stage": "diffusion", "percentage": 50 })
    );
    assert!(running.get("result").is_none());
    assert_eq!(get(&format!("{base}/health")).await.1["busy"], true);

    host.finish();
    let done = poll_until_done(&base, &id).await;
    assert_eq!(done["status"], "complete", "{done}");
    assert!(
        done.get("progress").is_none(),
        "progress only while in progress"
    );
    assert_eq!(done["result"]["format"], "png");
    let images = done["result"]["images"].as_array().unwrap();
    assert_eq!(images.len(), 3);
    for (i, image) in images.iter().enumerate() {
        let png = base64::engine::general_purpose::STANDARD
            .decode(image["image"].as_str().unwrap())
            .unwrap();
        assert_eq!(png, PNG);
        assert_eq!(image["seed"], 7 + i as i64);
        assert_eq!(
            (image["width"].as_u64(), image["height"].as_u64()),
            (Some(64), Some(64))
        );
    }
    assert_eq!(get(&format!("{base}/health")).await.1["busy"], false);
    let submitted = host.submitted.lock().unwrap().clone();
    assert_eq!(submitted.len(), 1);
    assert_eq!(
        (submitted[0].count, submitted[0].seed, submitted[0].width),
        (Some(3), Some(7), Some(64))
    );
    front.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_and_not_running_are_503_after_upstreams_checks() {
    let (front, host, base) = front();
    let first = start(&base, json!({ "prompt": "one" })).await;
    let (status, body) = post(&base, r#"{"prompt":"two"}"#).await;
    assert_eq!(status, 503);
    assert_eq!(
        body,
        json!({ "error": { "message": "Server is busy generating another image", "code": "SERVER_BUSY",
                "suggestion": "Wait for current generation to complete and try again" } })
    );
    // Validation comes before the busy check, as upstream.
    assert_eq!(post(&base, r#"{"prompt":"two","steps":0}"#).await.0, 400);
    host.finish();
    assert_eq!(poll_until_done(&base, &first).await["status"], "complete");

    host.running.store(false, Ordering::SeqCst);
    for body in [r#"{"prompt":"three"}"#, "not json"] {
        let (status, reply) = post(&base, body).await;
        assert_eq!(status, 503);
        assert_eq!(reply["error"]["code"], "SERVER_NOT_RUNNING");
        assert_eq!(reply["error"]["message"], "Server is not running");
        assert_eq!(
            reply["error"]["suggestion"],
            "Start the server first with start()"
        );
    }
    assert_eq!(get(&format!("{base}/health")).await.0, 200);
    assert_eq!(host.calls(), ["submit one"]);
    front.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_answers_200_409_and_404() {
    let (front, host, base) = front();
    let id = start(&base, json!({ "prompt": "cancel me" })).await;
    until_in_progress(&host, &id).await;
    assert_eq!(
        delete(&base, &id).await,
        (StatusCode::OK, json!({ "id": id, "status": "cancelled" }))
    );
    let (_, state) = get(&format!("{base}{GENERATIONS}/{id}")).await;
    assert_eq!(state["status"], "cancelled");
    assert!(state.get("progress").is_none());
    // Cancelled again: 200, and the host is not asked twice (as upstream).
    assert_eq!(delete(&base, &id).await.0, 200);
    assert_eq!(
        host.calls(),
        ["submit cancel me".to_string(), format!("cancel {id}")]
    );

    let done = start(&base, json!({ "prompt": "done" })).await;
    host.finish();
    poll_until_done(&base, &done).await;
    assert_eq!(
        delete(&base, &done).await,
        (
            StatusCode::CONFLICT,
            json!({ "error": {
            "message": "Generation is already complete and cannot be cancelled", "code": "ALREADY_TERMINAL" } })
        )
    );
    let failed = start(&base, json!({ "prompt": "fails" })).await;
    host.fail(&failed);
    let (status, body) = delete(&base, &failed).await;
    assert_eq!(status, 409);
    assert_eq!(
        body["error"]["message"],
        "Generation is already error and cannot be cancelled"
    );
    let (_, state) = get(&format!("{base}{GENERATIONS}/{failed}")).await;
    assert_eq!(
        state["error"],
        json!({ "message": "sd-server exited", "code": "BACKEND_ERROR" })
    );

    let missing = json!({ "error": { "message": "Generation not found", "code": "NOT_FOUND" } });
    assert_eq!(
        delete(&base, "gen_0_nothing").await,
        (StatusCode::NOT_FOUND, missing.clone())
    );
    assert_eq!(
        get(&format!("{base}{GENERATIONS}/gen_0_nothing")).await,
        (StatusCode::NOT_FOUND, missing)
    );
    front.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_result_is_404_as_soon_as_the_ttl_passes() {
    let (front, host, base) = front_with(FrontConfig::default(), Duration::from_millis(1000));
    let id = start(&base, json!({ "prompt": "short lived" })).await;
    host.finish();
    poll_until_done(&base, &id).await;
    host.advance(1000);
    assert_eq!(get(&format!("{base}{GENERATIONS}/{id}")).await.0, 200);
    host.advance(1);
    assert_eq!(get(&format!("{base}{GENERATIONS}/{id}")).await.0, 404);
    assert_eq!(delete(&base, &id).await.0, 404);
    front.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_bodies_are_400_naming_the_field() {
    let (front, host, base) = front();
    let cases: [(&str, Option<&str>, &str); 9] = [
        ("{\"prompt\":", None, "Malformed JSON request body"),
        ("[]", None, "Missing required field: prompt"),
        (
            r#"{"prompt":""}"#,
            Some("prompt"),
            "Missing required field: prompt",
        ),
        (
            r#"{"prompt":"x","count":9}"#,
            Some("count"),
            "count must be between 1 and 5",
        ),
        (
            r#"{"prompt":"x","usageMode":"auto"}"#,
            Some("usageMode"),
            "usageMode must be 'burst' or 'single'",
        ),
        (
            r#"{"prompt":"x","foo":1}"#,
            Some("foo"),
            "Unknown field: foo",
        ),
        (
            r#"{"prompt":"x","width":"64"}"#,
            Some("width"),
            "width must be a whole number from 64 to 2048 (got a string, \"64\")",
        ),
        (
            r#"{"prompt":"x","steps":151}"#,
            Some("steps"),
            "steps must be a whole number from 1 to 150 (got 151)",
        ),
        (
            r#"{"prompt":"x","cfgScale":-1}"#,
            Some("cfgScale"),
            "cfgScale must be a number from 0 to 30 (got -1)",
        ),
    ];
    for (body, field, message) in cases {
        let (status, reply) = post(&base, body).await;
        assert_eq!(status, 400, "{body}");
        let mut error = json!({ "message": message, "code": "INVALID_REQUEST" });
        if let Some(field) = field {
            error["field"] = json!(field);
        }
        assert_eq!(reply, json!({ "error": error }), "{body}");
    }
    assert!(host.calls().is_empty());
    front.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_413_without_reading_it() {
    let config = FrontConfig {
        max_body_bytes: 1024,
        ..FrontConfig::default()
    };
    let (front, host, base) = front_with(config, Duration::from_secs(300));
    let addr = front.local_addr();
    // 10 MB announced, none sent: the answer comes anyway, and the connection closes.
    let head = format!(
        "POST {GENERATIONS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10000000\r\n\r\n"
    );
    let res = raw(addr, head.as_bytes()).await;
    assert_eq!(res.status, 413);
    assert_eq!(res.header("connection"), Some("close"));
    assert_eq!(
        res.json(),
        json!({ "error": { "message": "Request body exceeds 1024 bytes", "code": "PAYLOAD_TOO_LARGE" } })
    );
    // Chunked, no length: refused once past the limit.
    let chunk = format!("{{\"prompt\":\"{}\"}}", "a".repeat(1100));
    let req = format!(
        "POST {GENERATIONS} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    assert_eq!(raw(addr, req.as_bytes()).await.status, 413);
    // At the limit it is accepted.
    let fits = format!("{{\"prompt\":\"{}\"}}", "a".repeat(1024 - 13));
    assert_eq!(fits.len(), 1024);
    assert_eq!(post(&base, &fits).await.0, 201);
    assert_eq!(host.calls().len(), 1);
    front.close().await;
}
