//! `#[napi]` shims for server plumbing: log files, health probes, ports.

use crate::{blocking, core_err, to_json};
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
