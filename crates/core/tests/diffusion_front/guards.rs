//! Who may talk to the front and how: the Host guard, origins and CORS, routes and methods,
//! slow clients, the port.

use super::host::{front, front_with, TestHost};
use super::http::{call, client, get, raw, raw_get, GENERATIONS};
use genai_core::diffusion::front::{Front, FrontConfig};
use genai_core::ErrorCode;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_guard_on_a_loopback_bind() {
    let (front, _host, _base) = front();
    let addr = front.local_addr();
    let res = raw_get(addr, "/health", "Host: evil.example:8081\r\n").await;
    assert_eq!(res.status, 403);
    assert_eq!(
        res.json(),
        json!({ "error": { "code": "INVALID_HOST", "message":
        "Rejected Host header \"evil.example:8081\": the diffusion server is bound to a loopback address and only accepts localhost or IP-literal hosts" } })
    );
    assert_eq!(
        res.header("vary"),
        None,
        "upstream answers before setting Vary"
    );
    for ok in [
        "Host: localhost:1234\r\n",
        "Host: 127.0.0.1\r\n",
        "Host: [::1]\r\n",
        "Host: app.localhost\r\n",
        "",
    ] {
        assert_eq!(raw_get(addr, "/health", ok).await.status, 200, "{ok:?}");
    }
    // Two Host headers, or an absolute-form target naming another host: refused.
    assert_eq!(
        raw_get(addr, "/health", "Host: localhost\r\nHost: evil.example\r\n")
            .await
            .status,
        403
    );
    assert_eq!(
        raw_get(addr, "http://evil.example/health", "Host: localhost\r\n")
            .await
            .status,
        403
    );
    let long = format!("Host: {}.example\r\n", "x".repeat(300));
    let message = raw_get(addr, "/health", &long).await.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with(&format!("Rejected Host header \"{}\": ", "x".repeat(100))),
        "{message}"
    );
    front.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_and_cors() {
    let (front, host, base) = front();
    let evil = [("origin", "http://evil.example")];
    let (status, body, headers) = call(Method::GET, &format!("{base}/health"), None, &evil).await;
    assert_eq!(
        status, 200,
        "GET from any origin works (the browser hides the answer)"
    );
    assert!(body["status"] == "ok" && !headers.contains_key("access-control-allow-origin"));
    let (status, body, headers) = call(
        Method::POST,
        &format!("{base}{GENERATIONS}"),
        Some(r#"{"prompt":"x"}"#),
        &evil,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        json!({ "error": { "code": "INVALID_ORIGIN", "message":
        "Rejected cross-origin POST from \"http://evil.example\": add the origin to DiffusionServerConfig.allowedOrigins to allow browser clients" } })
    );
    assert_eq!(headers["vary"], "Origin");
    let (status, body, _) = call(
        Method::DELETE,
        &format!("{base}{GENERATIONS}/gen_1_x"),
        None,
        &evil,
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["error"]["code"].as_str()),
        (403, Some("INVALID_ORIGIN"))
    );
    // OPTIONS: 200 for everyone, CORS headers only for allowed origins.
    let (status, body, headers) = call(
        Method::OPTIONS,
        &format!("{base}{GENERATIONS}"),
        None,
        &evil,
    )
    .await;
    assert_eq!((status.as_u16(), body), (200, Value::Null));
    assert!(!headers.contains_key("access-control-allow-origin"));
    assert!(host.calls().is_empty());
    front.close().await;

    let app = "http://app.example";
    let config = FrontConfig {
        allowed_origins: vec![app.into()],
        ..FrontConfig::default()
    };
    let (front, _host, base) = front_with(config, Duration::from_secs(300));
    for (method, path, body) in [
        (Method::OPTIONS, "/anything", None),
        (Method::POST, GENERATIONS, Some(r#"{"prompt":"x"}"#)),
        (Method::GET, "/nowhere", None),
    ] {
        let (_, _, headers) = call(
            method.clone(),
            &format!("{base}{path}"),
            body,
            &[("origin", app)],
        )
        .await;
        assert_eq!(
            headers["access-control-allow-origin"], app,
            "{method} {path}"
        );
        assert_eq!(
            headers["access-control-allow-methods"],
            "GET, POST, OPTIONS, DELETE"
        );
        assert_eq!(headers["access-control-allow-headers"], "Content-Type");
    }
    front.close().await;

    let config = FrontConfig {
        allowed_origins: vec!["*".into()],
        ..FrontConfig::default()
    };
    let (front, _host, base) = front_with(config, Duration::from_secs(300));
    let (_, _, headers) = call(Method::GET, &format!("{base}/health"), None, &[]).await;
    assert_eq!(headers["access-control-allow-origin"], "*");
    front.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let (front, _host, base) = front();
    let not_found = json!({ "error": { "message": "Not found", "code": "NOT_FOUND" } });
    for path in ["/", "/health/", "/v1/images/generations/a/b", "/v1/images"] {
        assert_eq!(
            get(&format!("{base}{path}")).await,
            (StatusCode::NOT_FOUND, not_found.clone()),
            "{path}"
        );
    }
    for (method, path, allow) in [
        (Method::PUT, "/health", "GET, OPTIONS"),
        (Method::HEAD, "/health", "GET, OPTIONS"),
        (Method::GET, GENERATIONS, "POST, OPTIONS"),
        (
            Method::POST,
            "/v1/images/generations/gen_1_x",
            "GET, DELETE, OPTIONS",
        ),
    ] {
        let (status, body, headers) =
            call(method.clone(), &format!("{base}{path}"), None, &[]).await;
        assert_eq!(status, 405, "{method} {path}");
        assert_eq!(headers["allow"], allow);
        if method != Method::HEAD {
            assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED");
            assert_eq!(
                body["error"]["message"],
                format!("Method {method} is not allowed on {path}")
            );
        }
    }
    front.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    let config = FrontConfig {
        read_timeout: Duration::from_millis(300),
        ..FrontConfig::default()
    };
    let (front, _host, _base) = front_with(config, Duration::from_secs(300));
    let addr = front.local_addr();
    // Half a request head, then nothing: the server closes the connection (`raw` reads to EOF).
    let res = tokio::time::timeout(Duration::from_secs(10), async {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        s.write_all(b"GET /health HTTP/1.1\r\nHo").await.unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await
    })
    .await;
    assert!(res.is_ok(), "the connection was not closed");
    // A body that never comes: 408.
    let head = format!(
        "POST {GENERATIONS} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{{\"prompt\""
    );
    let res = raw(addr, head.as_bytes()).await;
    assert_eq!(res.status, 408);
    assert_eq!(res.json()["error"]["code"], "REQUEST_TIMEOUT");
    front.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_is_port_in_use_and_close_frees_the_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let config = FrontConfig {
        port,
        ..FrontConfig::default()
    };
    let host: Arc<TestHost> = TestHost::new(Duration::from_secs(1));
    let err = Front::bind(config.clone(), host.clone()).unwrap_err();
    assert_eq!(err.code, ErrorCode::PortInUse);
    assert_eq!(err.message, format!("Port {port} is already in use"));
    drop(taken);

    let front = Front::bind(config.clone(), host.clone()).expect("the port is free again");
    assert_eq!(front.local_addr().port(), port);
    // An open keep-alive connection does not keep the port (or the close) waiting.
    let client = client();
    let url = format!("http://127.0.0.1:{port}/health");
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    let mut idle = tokio::net::TcpStream::connect(front.local_addr())
        .await
        .unwrap();
    front.close().await;
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "close() freed the port"
    );
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(10), idle.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "open connections end: {closed:?}"
    );
    assert!(
        client.get(&url).send().await.is_err(),
        "nothing answers after close"
    );
}

#[test]
fn binding_outside_a_runtime_is_an_error() {
    let host: Arc<TestHost> = TestHost::new(Duration::from_secs(1));
    let err = Front::bind(FrontConfig::default(), host).unwrap_err();
    assert_eq!(err.code, ErrorCode::ServerError);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binds_ipv6_loopback_and_names_with_the_guard_on() {
    let mut hosts = vec!["localhost"];
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        hosts.push("[::1]"); // as a URL writes it
        hosts.push("::1");
    }
    for name in hosts {
        let config = FrontConfig {
            host: name.into(),
            ..FrontConfig::default()
        };
        let (front, _host, _base) = front_with(config, Duration::from_secs(300));
        let addr = front.local_addr();
        assert!(addr.ip().is_loopback(), "{name}: {addr}");
        assert_eq!(
            raw_get(addr, "/health", "Host: [::1]\r\n").await.status,
            200,
            "{name}"
        );
        assert_eq!(
            raw_get(addr, "/health", "Host: evil.example\r\n")
                .await
                .status,
            403,
            "{name}"
        );
        front.close().await;
    }
}
