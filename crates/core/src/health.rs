//! Health probes and ports, as genai-electron 0.26: `checkHealth`, `waitForHealthy`,
//! `isServerResponding`, `normalizeHealthHost`, `isPortBindable`, `findFreePort`.
//!
//! Ports are taken as JavaScript numbers (`impl Into<f64>`: a `u16` works too) because the policy
//! for an impossible one is decided here, as upstream: the probes (`checkHealth`,
//! `isServerResponding`) never throw, so it is simply not answering; `waitForHealthy` and
//! `isPortBindable` reject it with a ServerError.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// genai-electron's `HealthStatus`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Ok,
    Loading,
    Error,
    #[default]
    Unknown,
}

/// `HealthCheckResponse`: the status and whatever else the server's JSON said.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HealthCheck {
    pub status: HealthStatus,
    #[serde(flatten)]
    pub body: Map<String, Value>,
}

impl HealthCheck {
    fn of(status: HealthStatus) -> Self {
        HealthCheck {
            status,
            body: Map::new(),
        }
    }

    pub fn is_ok(&self) -> bool {
        self.status == HealthStatus::Ok
    }
}

/// A JavaScript number as a TCP port: a whole number from 0 to 65535, else a ServerError.
pub fn port_number(port: impl Into<f64>) -> Result<u16> {
    let port = port.into();
    if port.fract() == 0.0 && (0.0..=65535.0).contains(&port) {
        Ok(port as u16)
    } else {
        Err(Error::server(
            format!("Invalid port: {port}"),
            Some(json!({ "port": port })),
        ))
    }
}

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
        None | Some("") | Some("0.0.0.0") => crate::defaults::LOOPBACK_HOST.into(),
        Some(h) => h.to_string(),
    }
}

fn health_url(port: u16, host: &str) -> String {
    format!("http://{}:{port}/health", format_http_host(host))
}

/// `checkHealth`: never fails. Non-2xx → `error`; a JSON status among ok/loading/error/unknown is
/// returned with every field; another status → `unknown`; a non-JSON 200 → `ok`; no answer (or
/// an impossible port) → `unknown`.
pub async fn check_health(port: impl Into<f64>, timeout: Duration, host: &str) -> HealthCheck {
    let unknown = || HealthCheck::of(HealthStatus::Unknown);
    let (Ok(port), Ok(client)) = (port_number(port), crate::http::client()) else {
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
        return HealthCheck::of(HealthStatus::Error);
    }
    let parsed = resp
        .bytes()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    match parsed {
        Some(Value::Object(mut body)) => {
            let status = body
                .remove("status")
                .and_then(|s| serde_json::from_value(s).ok())
                .unwrap_or_default();
            HealthCheck { status, body }
        }
        Some(_) => unknown(), // JSON, but not an object
        None if status == reqwest::StatusCode::OK => HealthCheck::of(HealthStatus::Ok),
        None => unknown(),
    }
}

/// `LlamaRuntimeCapacity`: what `/props` says a running llama-server runs with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeCapacity {
    /// Per-slot context (`default_generation_settings.n_ctx`).
    pub effective_context_size: u64,
    /// Absent when the server does not report `total_slots`.
    pub total_slots: Option<u64>,
    pub model_path: Option<String>,
}

/// What a running llama-server reports in `/props`: the per-slot context (`n_ctx`) and the slot
/// count (the configured one when it reports none). As upstream, anything unusable is a
/// ContextConstraintError (`runtime-capacity-unavailable`), and a slot count other than
/// `parallel` one too (`runtime-slots-mismatch`).
pub async fn runtime_capacity(
    port: u16,
    host: &str,
    parallel: u64,
    timeout: Duration,
) -> Result<(u64, u64)> {
    let c = fetch_runtime_capacity(port.into(), host, parallel, timeout).await?;
    Ok((c.effective_context_size, c.total_slots.unwrap_or(parallel)))
}

/// `fetchLlamaRuntimeCapacity`: `/props` as read, `total_slots` left absent when it is.
pub async fn fetch_runtime_capacity(
    port: f64,
    host: &str,
    parallel: u64,
    timeout: Duration,
) -> Result<RuntimeCapacity> {
    let port = port_number(port).map_err(|e| {
        capacity_unavailable(
            "Could not read effective context from llama-server /props",
            e.message,
            parallel,
        )
    })?;
    let props = fetch_props(port, host, parallel, timeout).await?;
    capacity_from_props(&props, parallel)
}

/// `runtime-capacity-unavailable`, with what went wrong as `cause`.
fn capacity_unavailable(message: &str, cause: String, parallel: u64) -> Error {
    Error::context_constraint(
        message,
        json!({
            "reason": "runtime-capacity-unavailable", "stage": "runtime", "parallelRequests": parallel, "cause": cause,
            "suggestion": "Check llama-server logs and verify that GET /props returns a compatible response",
        }),
    )
}

/// `GET /props` as a JSON object.
async fn fetch_props(
    port: u16,
    host: &str,
    parallel: u64,
    timeout: Duration,
) -> Result<Map<String, Value>> {
    let unavailable = |message: &str, cause: String| capacity_unavailable(message, cause, parallel);
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
    match props {
        Value::Object(props) => Ok(props),
        // An array is a JS object too: upstream reads it as one with no settings.
        Value::Array(_) => Ok(Map::new()),
        _ => Err(unavailable(
            "llama-server /props returned an invalid object",
            "Expected a JSON object".into(),
        )),
    }
}

/// The capacity in `/props`, its slot count checked against the configured one.
fn capacity_from_props(props: &Map<String, Value>, parallel: u64) -> Result<RuntimeCapacity> {
    let unavailable = |message: &str, cause: String| capacity_unavailable(message, cause, parallel);
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
    let model_path = props
        .get("model_path")
        .and_then(Value::as_str)
        .map(str::to_string);
    let slots = match props.get("total_slots") {
        None => {
            return Ok(RuntimeCapacity {
                effective_context_size: n_ctx,
                total_slots: None,
                model_path,
            })
        }
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
    Ok(RuntimeCapacity {
        effective_context_size: n_ctx,
        total_slots: Some(slots),
        model_path,
    })
}

/// `waitForHealthy`: polls until `status: ok`, sleeping `initial_delay` ×1.5 up to `max_delay`
/// between tries; ServerError after `timeout` (or at once for an impossible port); stops early
/// when `cancel` fires.
pub async fn wait_for_healthy(
    port: impl Into<f64>,
    timeout: Duration,
    initial_delay: Duration,
    max_delay: Duration,
    host: &str,
    cancel: &CancellationToken,
) -> Result<()> {
    let port = port_number(port)?;
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
            h = check_health(port, crate::defaults::DEFAULT_TIMEOUTS.health_check, host) => h,
            _ = cancel.cancelled() => return Err(aborted()),
        };
        if health.is_ok() {
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

/// `isServerResponding`: true iff `/health` answers 2xx within `timeout` (never fails).
pub async fn is_server_responding(port: impl Into<f64>, timeout: Duration, host: &str) -> bool {
    let (Ok(port), Ok(client)) = (port_number(port), crate::http::client()) else {
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

/// `isPortBindable(port, host)`: false when the address is in use; other failures (an
/// impossible port included) are errors.
pub fn is_port_bindable(port: impl Into<f64>, host: &str) -> Result<bool> {
    let port = port_number(port)?;
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
        let e = is_port_bindable(70000.0, "127.0.0.1").unwrap_err();
        assert_eq!(e.to_string(), "Server error: Invalid port: 70000");
        assert_eq!(e.details, Some(json!({ "port": 70000.0 })));
        assert!(is_port_bindable(80.5, "127.0.0.1").is_err());
        assert!(is_port_bindable(-1.0, "127.0.0.1").is_err());
    }

    #[tokio::test]
    async fn impossible_ports_are_not_answering_for_probes_and_errors_for_waits() {
        let t = Duration::from_millis(200);
        assert_eq!(
            check_health(70000.0, t, "127.0.0.1").await,
            HealthCheck::of(HealthStatus::Unknown)
        );
        assert!(!is_server_responding(f64::NAN, t, "127.0.0.1").await);
        let never = CancellationToken::new();
        let e = wait_for_healthy(70000.0, t, t, t, "127.0.0.1", &never)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "Server error: Invalid port: 70000");
    }

    #[test]
    fn health_check_serializes_as_upstream() {
        let mut body = Map::new();
        body.insert("slots".into(), json!(1));
        let h = HealthCheck {
            status: HealthStatus::Loading,
            body,
        };
        assert_eq!(
            serde_json::to_value(&h).unwrap(),
            json!({ "status": "loading", "slots": 1 })
        );
    }
}
