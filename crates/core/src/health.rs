//! Health probes and ports, as genai-electron 0.26: `checkHealth`, `waitForHealthy`,
//! `isServerResponding`, `normalizeHealthHost`, `isPortBindable`, `findFreePort`.

use crate::{Error, Result};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// IPv6 literals in URLs need brackets.
pub fn format_http_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Wildcard and empty bind addresses are probed on loopback.
pub fn normalize_health_host(host: Option<&str>) -> String {
    match host {
        Some("::") => "::1".into(),
        None | Some("") | Some("0.0.0.0") => "127.0.0.1".into(),
        Some(h) => h.to_string(),
    }
}

fn health_url(port: u16, host: &str) -> String {
    format!("http://{}:{port}/health", format_http_host(host))
}

/// `checkHealth`: never fails. Non-2xx → `error`; a JSON status among ok/loading/error/unknown is
/// returned with every field; another status → `unknown`; a non-JSON 200 → `ok`; no answer →
/// `unknown`.
pub async fn check_health(port: u16, timeout: Duration, host: &str) -> Value {
    let unknown = || json!({ "status": "unknown" });
    let Ok(client) = crate::http::client() else {
        return unknown();
    };
    let req = client
        .get(health_url(port, host))
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(timeout);
    let Ok(resp) = req.send().await else {
        return unknown();
    };
    let status = resp.status();
    if !status.is_success() {
        return json!({ "status": "error" });
    }
    let parsed = resp
        .bytes()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    match parsed {
        Some(Value::Object(mut body)) => {
            let known = matches!(
                body.get("status").and_then(Value::as_str),
                Some("ok" | "loading" | "error" | "unknown")
            );
            if !known {
                body.insert("status".into(), json!("unknown"));
            }
            Value::Object(body)
        }
        Some(_) => unknown(), // JSON, but not an object
        None => {
            json!({ "status": if status == reqwest::StatusCode::OK { "ok" } else { "unknown" } })
        }
    }
}

/// What a running llama-server reports in `/props`: the per-slot context (`n_ctx`) and the slot
/// count. As upstream, anything unusable is a ContextConstraintError
/// (`runtime-capacity-unavailable`), and a slot count other than `parallel` one too
/// (`runtime-slots-mismatch`).
pub async fn runtime_capacity(
    port: u16,
    host: &str,
    parallel: u64,
    timeout: Duration,
) -> Result<(u64, u64)> {
    let unavailable = |message: &str, cause: String| {
        Error::context_constraint(
            message,
            json!({
                "reason": "runtime-capacity-unavailable", "stage": "runtime", "parallelRequests": parallel, "cause": cause,
                "suggestion": "Check llama-server logs and verify that GET /props returns a compatible response",
            }),
        )
    };
    let url = format!("http://{}:{port}/props", format_http_host(host));
    let unreadable = |cause: String| {
        unavailable(
            "Could not read effective context from llama-server /props",
            cause,
        )
    };
    let unreachable = |e: reqwest::Error| {
        unreadable(if e.is_timeout() {
            format!("Timed out after {}ms", timeout.as_millis())
        } else {
            e.to_string()
        })
    };
    let client = crate::http::client().map_err(unreadable)?;
    let resp = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(timeout)
        .send()
        .await
        .map_err(unreachable)?;
    let status = resp.status();
    if !status.is_success() {
        let code = status.as_u16();
        return Err(unavailable(
            &format!("llama-server /props returned HTTP {code}"),
            format!("HTTP {code}"),
        ));
    }
    let body = resp.bytes().await.map_err(unreachable)?;
    let props: Value = serde_json::from_slice(&body).map_err(|e| {
        unavailable(
            "llama-server /props did not return valid JSON",
            e.to_string(),
        )
    })?;
    let Some(props) = props.as_object() else {
        return Err(unavailable(
            "llama-server /props returned an invalid object",
            "Expected a JSON object".into(),
        ));
    };
    let Some(settings) = props
        .get("default_generation_settings")
        .and_then(Value::as_object)
    else {
        return Err(unavailable(
            "llama-server /props is missing default_generation_settings",
            "Missing default_generation_settings object".into(),
        ));
    };
    let positive = |v: &Value| v.as_u64().filter(|n| *n > 0 && *n < 1 << 53);
    let raw_ctx = settings.get("n_ctx").unwrap_or(&Value::Null);
    let Some(n_ctx) = positive(raw_ctx) else {
        return Err(unavailable(
            "llama-server /props reported an invalid effective context",
            format!("Invalid default_generation_settings.n_ctx: {raw_ctx}"),
        ));
    };
    let slots = match props.get("total_slots") {
        None => return Ok((n_ctx, parallel)),
        Some(raw) => positive(raw).ok_or_else(|| {
            unavailable(
                "llama-server /props reported an invalid slot count",
                format!("Invalid total_slots: {raw}"),
            )
        })?,
    };
    if slots != parallel {
        return Err(Error::context_constraint(
            format!("llama-server reported {slots} slots, but {parallel} were configured"),
            json!({
                "reason": "runtime-slots-mismatch", "stage": "runtime", "effectiveContextSize": n_ctx, "parallelRequests": parallel,
                "effectiveParallelRequests": slots, "suggestion": "Check the emitted -np argument and llama-server fitting behavior",
            }),
        ));
    }
    Ok((n_ctx, slots))
}

/// `waitForHealthy`: polls until `status: ok`, sleeping `initial_delay` ×1.5 up to `max_delay`
/// between tries; ServerError after `timeout`; stops early when `cancel` fires.
pub async fn wait_for_healthy(
    port: u16,
    timeout: Duration,
    initial_delay: Duration,
    max_delay: Duration,
    host: &str,
    cancel: &CancellationToken,
) -> Result<()> {
    let start = Instant::now();
    let mut delay = initial_delay;
    let mut attempts = 0u32;
    let aborted = || Error::server("Health check aborted", Some(json!({ "port": port })));
    while start.elapsed() < timeout {
        if cancel.is_cancelled() {
            return Err(aborted());
        }
        attempts += 1;
        let health = tokio::select! {
            h = check_health(port, Duration::from_secs(5), host) => h,
            _ = cancel.cancelled() => return Err(aborted()),
        };
        if health["status"] == "ok" {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = cancel.cancelled() => return Err(aborted()),
        }
        delay = delay.mul_f64(1.5).min(max_delay);
    }
    let ms = timeout.as_millis();
    Err(Error::server(
        format!("Server health check timeout after {ms}ms ({attempts} attempts)"),
        Some(
            json!({ "port": port, "timeout": ms as u64, "attempts": attempts, "suggestion": "Check server logs for startup errors or increase timeout" }),
        ),
    ))
}

/// `isServerResponding`: true iff `/health` answers 2xx within `timeout`.
pub async fn is_server_responding(port: u16, timeout: Duration, host: &str) -> bool {
    let Ok(client) = crate::http::client() else {
        return false;
    };
    client
        .get(health_url(port, host))
        .timeout(timeout)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

fn bind(port: u16, host: &str) -> std::io::Result<std::net::TcpListener> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    std::net::TcpListener::bind((host, port))
}

/// `findFreePort(host)`: a port the OS hands out for binding port 0.
pub fn find_free_port(host: &str) -> Result<u16> {
    bind(0, host)
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| {
            Error::server(
                format!("Failed to allocate a free port: {e}"),
                Some(json!({ "host": host })),
            )
        })
}

/// `isPortBindable(port, host)`: false when the address is in use; other failures are errors.
pub fn is_port_bindable(port: u16, host: &str) -> Result<bool> {
    match bind(port, host) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Ok(false),
        Err(e) => Err(Error::server(
            format!("Cannot bind {host}:{port}: {e}"),
            Some(json!({ "port": port, "host": host })),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(format_http_host("::1"), "[::1]");
        assert_eq!(format_http_host("[::1]"), "[::1]");
        assert_eq!(normalize_health_host(Some("::")), "::1");
        assert_eq!(normalize_health_host(Some("0.0.0.0")), "127.0.0.1");
        assert_eq!(normalize_health_host(None), "127.0.0.1");
        assert_eq!(normalize_health_host(Some("10.1.2.3")), "10.1.2.3");
    }

    #[test]
    fn ports() {
        let port = find_free_port("127.0.0.1").unwrap();
        assert!(is_port_bindable(port, "127.0.0.1").unwrap());
        let held = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        assert!(!is_port_bindable(port, "127.0.0.1").unwrap());
        drop(held);
        assert!(is_port_bindable(0, "not a host name!").is_err());
    }
}
