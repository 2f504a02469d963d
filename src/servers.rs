//! `#[napi]` shims for server plumbing: log files, health probes, ports, processes.

use crate::{blocking, to_json};
use genai_core::{health, logs, process};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[napi]
pub struct NativeLogFile {
    inner: Arc<logs::LogFile>,
}

#[napi]
impl NativeLogFile {
    #[napi(constructor)]
    pub fn new(path: String, max_file_size: Option<f64>, max_archives: Option<f64>) -> Self {
        let file = logs::LogFile::new(
            &PathBuf::from(path),
            max_file_size.map(|v| v.max(0.0) as u64),
            max_archives.map(|v| v.max(0.0) as u32),
        );
        NativeLogFile {
            inner: Arc::new(file),
        }
    }

    #[napi]
    pub async fn initialize(&self) -> Result<()> {
        let f = self.inner.clone();
        blocking(move || f.initialize()).await
    }

    #[napi]
    pub async fn write(&self, message: String, level: Option<String>) -> Result<()> {
        let f = self.inner.clone();
        let level = level
            .as_deref()
            .and_then(logs::Level::parse)
            .unwrap_or(logs::Level::Info);
        blocking(move || f.write(&message, level)).await
    }

    #[napi]
    pub async fn get_recent(&self, lines: Option<u32>) -> Result<Vec<String>> {
        let f = self.inner.clone();
        blocking(move || f.recent(lines.unwrap_or(100) as usize)).await
    }

    #[napi]
    pub async fn clear(&self) -> Result<()> {
        let f = self.inner.clone();
        blocking(move || f.clear()).await
    }

    #[napi]
    pub fn get_log_path(&self) -> String {
        self.inner.path().to_string_lossy().into_owned()
    }
}

#[napi(
    ts_return_type = "{ timestamp: string; level: 'debug' | 'info' | 'warn' | 'error'; message: string } | null"
)]
pub fn parse_log_entry(line: String) -> Result<Value> {
    logs::parse_entry(&line).map_or(Ok(Value::Null), |e| to_json(&e))
}

/// Cancels a running native wait (an `AbortSignal` in the facade).
#[napi]
pub struct NativeCancelToken {
    inner: tokio_util::sync::CancellationToken,
}

#[napi]
impl NativeCancelToken {
    #[napi(constructor)]
    pub fn new() -> Self {
        NativeCancelToken {
            inner: tokio_util::sync::CancellationToken::new(),
        }
    }

    #[napi]
    pub fn cancel(&self) {
        self.inner.cancel();
    }
}

/// A JS duration in ms as `setTimeout` reads it (negative → 0).
fn ms(v: f64) -> Duration {
    Duration::from_millis(v.max(0.0) as u64)
}

#[napi(string_enum = "lowercase")]
pub enum HealthStatus {
    Ok,
    Loading,
    Error,
    Unknown,
}

impl From<health::HealthStatus> for HealthStatus {
    fn from(s: health::HealthStatus) -> Self {
        match s {
            health::HealthStatus::Ok => HealthStatus::Ok,
            health::HealthStatus::Loading => HealthStatus::Loading,
            health::HealthStatus::Error => HealthStatus::Error,
            health::HealthStatus::Unknown => HealthStatus::Unknown,
        }
    }
}

/// `HealthCheckResponse` is open (`[key: string]: unknown`: whatever the server said), so it
/// crosses as JSON. Never throws; core decides what an impossible port means.
#[napi(ts_return_type = "Promise<{ status: HealthStatus; [key: string]: unknown }>")]
pub async fn check_health(port: f64, timeout_ms: f64, host: String) -> Result<Value> {
    let health = health::check_health(port, ms(timeout_ms), &host).await;
    serde_json::to_value(health).map_err(|e| napi::Error::from_reason(e.to_string()))
}

#[napi(ts_return_type = "Promise<void>")]
pub fn wait_for_healthy<'env>(
    env: &'env Env,
    port: f64,
    timeout_ms: f64,
    initial_delay_ms: f64,
    max_delay_ms: f64,
    host: String,
    token: Option<&NativeCancelToken>,
) -> Result<PromiseRaw<'env, ()>> {
    let cancel = token.map(|t| t.inner.clone()).unwrap_or_default();
    let (timeout, initial, max) = (ms(timeout_ms), ms(initial_delay_ms), ms(max_delay_ms));
    crate::errors::promise(env, async move {
        health::wait_for_healthy(port, timeout, initial, max, &host, &cancel).await
    })
}

#[napi]
pub async fn is_server_responding(port: f64, timeout_ms: f64, host: String) -> bool {
    health::is_server_responding(port, ms(timeout_ms), &host).await
}

#[napi]
pub fn normalize_health_host(host: Option<String>) -> String {
    health::normalize_health_host(host.as_deref())
}

#[napi(ts_return_type = "Promise<number>")]
pub fn find_free_port<'env>(env: &'env Env, host: String) -> Result<PromiseRaw<'env, u32>> {
    crate::errors::blocking(env, move || health::find_free_port(&host).map(u32::from))
}

#[napi(ts_return_type = "Promise<boolean>")]
pub fn is_port_bindable<'env>(
    env: &'env Env,
    port: f64,
    host: String,
) -> Result<PromiseRaw<'env, bool>> {
    crate::errors::blocking(env, move || health::is_port_bindable(port, &host))
}

// ---- ProcessManager --------------------------------------------------------------------------

/// `ProcessManager.kill(pid, timeout)`: SIGTERM, SIGKILL after `timeout` ms, back once gone.
#[napi]
pub async fn kill_process(pid: f64, timeout_ms: f64) -> Result<()> {
    blocking(move || process::terminate(pid, timeout_ms)).await
}

/// `ProcessManager.isRunning(pid)`.
#[napi]
pub fn is_process_running(pid: f64) -> bool {
    process::is_running(pid)
}
