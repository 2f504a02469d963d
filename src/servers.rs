//! `#[napi]` shims for server plumbing: log files, health probes, ports.

use genai_core::{defaults, health, logs};
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
    /// `rotation`'s numbers as given (core applies upstream's meaning and caps the archives).
    #[napi(constructor)]
    pub fn new(path: String, max_file_size: Option<f64>, max_archives: Option<f64>) -> Self {
        let file = logs::LogFile::new(
            &PathBuf::from(path),
            logs::Rotation::from_js(max_file_size, max_archives),
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

    /// `lines` is converted as upstream's `slice(-lines)` converts it (`ToNumber`); core slices.
    #[napi(ts_return_type = "Promise<string[]>")]
    pub fn get_recent<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "number | undefined")] lines: Unknown<'env>,
    ) -> Result<PromiseRaw<'env, crate::json::Lines>> {
        let lines = recent_lines(lines)?;
        let f = self.inner.clone();
        crate::errors::blocking(env, move || {
            f.get_recent(lines).map(crate::json::Lines::new)
        })
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

/// JavaScript's `ToNumber(lines)`; a Symbol or BigInt (where it throws) is left for core to
/// report, as upstream reports it. An object whose `valueOf` throws throws here.
fn recent_lines(lines: Unknown<'_>) -> Result<logs::RecentLines> {
    let unconvertible = |what: &str| {
        Ok(logs::RecentLines::Unconvertible(format!(
            "Cannot convert a {what} value to a number"
        )))
    };
    match lines.get_type()? {
        ValueType::Undefined => Ok(logs::RecentLines::Default),
        ValueType::Symbol => unconvertible("Symbol"),
        ValueType::Unknown => unconvertible("BigInt"), // the one type napi4 does not name
        _ => Ok(logs::RecentLines::Count(
            lines.coerce_to_number()?.get_double()?,
        )),
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

impl NativeCancelToken {
    /// The core token (other binding files wait on it).
    pub(crate) fn token(&self) -> tokio_util::sync::CancellationToken {
        self.inner.clone()
    }
}

/// A JS duration in ms as `setTimeout` reads it (negative → 0); `undefined` → core's default.
fn ms(v: Option<f64>, default: Duration) -> Duration {
    v.map_or(default, |v| Duration::from_millis(v.max(0.0) as u64))
}

/// `undefined` → the loopback host core probes by default.
fn host_or_default(host: Option<String>) -> String {
    host.unwrap_or_else(|| defaults::LOOPBACK_HOST.to_string())
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
pub async fn check_health(
    port: f64,
    timeout_ms: Option<f64>,
    host: Option<String>,
) -> Result<Value> {
    let timeout = ms(timeout_ms, defaults::DEFAULT_TIMEOUTS.health_check);
    let health = health::check_health(port, timeout, &host_or_default(host)).await;
    serde_json::to_value(health).map_err(|e| napi::Error::from_reason(e.to_string()))
}

#[napi(ts_return_type = "Promise<void>")]
pub fn wait_for_healthy<'env>(
    env: &'env Env,
    port: f64,
    timeout_ms: Option<f64>,
    initial_delay_ms: Option<f64>,
    max_delay_ms: Option<f64>,
    host: Option<String>,
    token: Option<&NativeCancelToken>,
) -> Result<PromiseRaw<'env, ()>> {
    let cancel = token.map(|t| t.inner.clone()).unwrap_or_default();
    let timeout = ms(timeout_ms, defaults::DEFAULT_TIMEOUTS.server_start);
    let initial = ms(initial_delay_ms, defaults::HEALTH_WAIT_INITIAL_DELAY);
    let max = ms(max_delay_ms, defaults::HEALTH_WAIT_MAX_DELAY);
    let host = host_or_default(host);
    crate::errors::promise(env, async move {
        health::wait_for_healthy(port, timeout, initial, max, &host, &cancel).await
    })
}

#[napi]
pub async fn is_server_responding(
    port: f64,
    timeout_ms: Option<f64>,
    host: Option<String>,
) -> bool {
    let timeout = ms(timeout_ms, defaults::RESPONDING_TIMEOUT);
    health::is_server_responding(port, timeout, &host_or_default(host)).await
}

#[napi]
pub fn normalize_health_host(host: Option<String>) -> String {
    health::normalize_health_host(host.as_deref())
}

#[napi(ts_return_type = "Promise<number>")]
pub fn find_free_port<'env>(env: &'env Env, host: Option<String>) -> Result<PromiseRaw<'env, u32>> {
    let host = host_or_default(host);
    crate::errors::blocking(env, move || health::find_free_port(&host).map(u32::from))
}

#[napi(ts_return_type = "Promise<boolean>")]
pub fn is_port_bindable<'env>(
    env: &'env Env,
    port: f64,
    host: Option<String>,
) -> Result<PromiseRaw<'env, bool>> {
    let host = host_or_default(host);
    crate::errors::blocking(env, move || health::is_port_bindable(port, &host))
}
