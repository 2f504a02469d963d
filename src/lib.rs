//! The napi-rs binding: `#[napi]` shims only. Each converts its arguments, calls `genai_core`, and
//! converts the result. Blocking work runs on tokio's blocking pool, never on the JS thread.
//! Errors carry `{"code","message","details"}` JSON in their reason; the JS facade (index.cjs)
//! rebuilds genai-electron's error classes from it.

use genai_core::{files, Error as CoreError};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;
use std::path::PathBuf;

mod errors;
mod llama;
mod models;
mod servers;
mod system;

pub(crate) fn core_err(e: CoreError) -> napi::Error {
    napi::Error::from_reason(e.to_json().to_string())
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| napi::Error::from_reason(e.to_string()))
}

/// Runs blocking core work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> genai_core::Result<T> + Send + 'static,
) -> Result<T> {
    napi::tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| napi::Error::from_reason(format!("internal task failed: {e}")))?
        .map_err(core_err)
}

// ---- platform, ids, names -------------------------------------------------------------------

/// Throws a plain Error (not a GenaiElectronError), as genai-electron does.
#[napi]
pub fn platform_key() -> Result<String> {
    genai_core::platform::platform_key().map_err(napi::Error::from_reason)
}

#[napi]
pub fn generate_id() -> String {
    genai_core::ids::generate_id()
}

#[napi]
pub fn format_bytes(bytes: f64, decimals: Option<f64>) -> String {
    files::format_bytes(bytes, decimals.map_or(2, |d| d as i32))
}

#[napi]
pub fn sanitize_filename(name: String) -> String {
    files::sanitize_filename(&name)
}

#[napi]
pub fn detect_reasoning_support(filename: String) -> bool {
    genai_core::reasoning::detect_reasoning_support(&filename)
}

// ---- paths and files ------------------------------------------------------------------------

#[napi]
pub fn default_user_data() -> String {
    genai_core::paths::default_user_data()
        .to_string_lossy()
        .into_owned()
}

#[napi(ts_return_type = "any")]
pub fn resolve_paths(user_data: String) -> Result<Value> {
    to_json(&genai_core::paths::Paths::new(&PathBuf::from(user_data)))
}

#[napi]
pub async fn ensure_directories(user_data: String) -> Result<()> {
    blocking(move || genai_core::paths::Paths::new(&PathBuf::from(user_data)).ensure_directories())
        .await
}

#[napi]
pub async fn ensure_directory(dir: String) -> Result<()> {
    blocking(move || files::ensure_directory(&PathBuf::from(dir))).await
}

#[napi]
pub async fn file_exists(path: String) -> Result<bool> {
    blocking(move || Ok(files::file_exists(&PathBuf::from(path)))).await
}

#[napi]
pub async fn get_file_size(path: String) -> Result<f64> {
    blocking(move || files::file_size(&PathBuf::from(path)).map(|n| n as f64)).await
}

#[napi]
pub async fn delete_file(path: String) -> Result<()> {
    blocking(move || files::delete_file(&PathBuf::from(path))).await
}

#[napi]
pub async fn move_file(from: String, to: String) -> Result<()> {
    blocking(move || files::move_file(&PathBuf::from(from), &PathBuf::from(to))).await
}

#[napi]
pub async fn calculate_checksum(path: String) -> Result<String> {
    blocking(move || files::sha256_file(&PathBuf::from(path))).await
}

#[napi]
pub async fn verify_checksum(path: String, expected: String) -> Result<bool> {
    blocking(move || files::verify_checksum(&PathBuf::from(path), &expected)).await
}
