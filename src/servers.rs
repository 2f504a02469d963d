//! `#[napi]` shims for server plumbing: log files, health probes, ports.

use crate::{blocking, core_err};
use genai_core::{health, logs};
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

    #[napi(ts_return_type = "Promise<void>")]
    pub fn initialize<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let f = self.inner.clone();
        crate::errors::blocking(env, move || f.initialize())
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn write<'env>(
        &self,
        env: &'env Env,
        message: String,
        level: Option<String>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let f = self.inner.clone();
        let level = logs::Level::parse_or_info(level.as_deref());
        crate::errors::blocking(env, move || f.write(&message, level))
    }

    #[napi(ts_return_type = "Promise<string[]>")]
    pub fn get_recent<'env>(
        &self,
        env: &'env Env,
        lines: Option<u32>,
    ) -> Result<PromiseRaw<'env, Vec<String>>> {
        let f = self.inner.clone();
        crate::errors::blocking(env, move || f.recent(lines.map(|n| n as usize)))
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn clear<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let f = self.inner.clone();
        crate::errors::blocking(env, move || f.clear())
    }

    #[napi]
    pub fn get_log_path(&self) -> String {
        self.inner.path().to_string_lossy().into_owned()
    }
}

/// `LogManager.parseEntry`'s result.
#[napi(object)]
pub struct LogEntry {
    pub timestamp: String,
    #[napi(ts_type = "'debug' | 'info' | 'warn' | 'error'")]
    pub level: String,
    pub message: String,
}

impl From<logs::Entry> for LogEntry {
    fn from(e: logs::Entry) -> Self {
        LogEntry {
            timestamp: e.timestamp,
            level: e.level.as_str().to_string(),
            message: e.message,
        }
    }
}

/// `null` for a line that is not a log entry.
#[napi]
pub fn parse_log_entry(line: String) -> Option<LogEntry> {
    logs::parse_entry(&line).map(LogEntry::from)
}

/// Cancels a running native wait (an `AbortSignal` in the facade).
#[napi]
#[derive(Default)]
pub struct NativeCancelToken {
    inner: tokio_util::sync::CancellationToken,
}

#[napi]
impl NativeCancelToken {
    #[napi(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    #[napi]
    pub fn cancel(&self) {
        self.inner.cancel();
    }
}

fn ms(v: f64) -> Duration {
    Duration::from_millis(v.max(0.0) as u64)
}

fn port_number(port: f64) -> Result<u16> {
    if port.fract() == 0.0 && (0.0..=65535.0).contains(&port) {
        Ok(port as u16)
    } else {
        Err(core_err(genai_core::Error::server(
            format!("Invalid port: {port}"),
            Some(serde_json::json!({ "port": port })),
        )))
    }
}

#[napi(ts_return_type = "Promise<any>")]
pub async fn check_health(port: f64, timeout_ms: f64, host: String) -> Result<Value> {
    // Never throws, as upstream: an impossible port is simply not answering.
    match port_number(port) {
        Ok(port) => Ok(health::check_health(port, ms(timeout_ms), &host).await),
        Err(_) => Ok(serde_json::json!({ "status": "unknown" })),
    }
}

#[napi]
pub async fn wait_for_healthy(
    port: f64,
    timeout_ms: f64,
    initial_delay_ms: f64,
    max_delay_ms: f64,
    host: String,
    token: Option<&NativeCancelToken>,
) -> Result<()> {
    let cancel = token.map(|t| t.inner.clone()).unwrap_or_default();
    let port = port_number(port)?;
    health::wait_for_healthy(
        port,
        ms(timeout_ms),
        ms(initial_delay_ms),
        ms(max_delay_ms),
        &host,
        &cancel,
    )
    .await
    .map_err(core_err)
}

#[napi]
pub async fn is_server_responding(port: f64, timeout_ms: f64, host: String) -> Result<bool> {
    Ok(match port_number(port) {
        Ok(port) => health::is_server_responding(port, ms(timeout_ms), &host).await,
        Err(_) => false,
    })
}

#[napi]
pub fn normalize_health_host(host: Option<String>) -> String {
    health::normalize_health_host(host.as_deref())
}

#[napi]
pub async fn find_free_port(host: String) -> Result<u32> {
    blocking(move || health::find_free_port(&host).map(u32::from)).await
}

#[napi]
pub async fn is_port_bindable(port: f64, host: String) -> Result<bool> {
    let port = port_number(port)?;
    blocking(move || health::is_port_bindable(port, &host)).await
}
