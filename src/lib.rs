//! The napi-rs binding: `#[napi]` shims only. Each converts its arguments, calls `genai_core`, and
//! converts the result. Blocking work runs on tokio's blocking pool, never on the JS thread.
//! Core errors cross as JS errors with `code` and `details` (see `errors.rs`); the JS facade
//! (lib/errors.cjs) maps the code to genai-electron's error class.

// napi-derive registers the exports only outside `cfg(test)`, so in the test build (clippy
// --all-targets) every `#[napi]` item would look unused.
#![cfg_attr(test, allow(dead_code))]

use genai_core::{files, system, Error as CoreError};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::LazyLock;

mod constants;
mod errors;
mod llama;
mod models;
mod process;
mod servers;

static SYSTEM: LazyLock<system::SystemInfo> = LazyLock::new(system::SystemInfo::new);

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

fn as_object(v: Option<Value>) -> Option<Map<String, Value>> {
    match v {
        Some(Value::Object(m)) => Some(m),
        _ => None,
    }
}

// ---- system ---------------------------------------------------------------------------------

#[napi(ts_return_type = "Promise<any>")]
pub async fn system_detect(force_refresh: bool) -> Result<Value> {
    let caps = blocking(move || Ok(SYSTEM.detect(force_refresh))).await?;
    to_json(&caps)
}

#[napi]
pub fn system_clear_cache() {
    SYSTEM.clear_cache();
}

#[napi(ts_return_type = "any")]
pub fn cpu_info() -> Result<Value> {
    to_json(&system::cpu_info())
}

#[napi(ts_return_type = "any")]
pub fn memory_info() -> Result<Value> {
    to_json(&system::memory_info())
}

#[napi]
pub fn recommended_threads(cores: u32) -> u32 {
    system::recommended_threads(cores)
}

#[napi(ts_return_type = "Promise<any>")]
pub async fn detect_gpu() -> Result<Value> {
    to_json(&blocking(|| Ok(system::detect_gpu())).await?)
}

#[napi(ts_return_type = "Promise<any>")]
pub async fn gpu_info() -> Result<Value> {
    to_json(&blocking(|| Ok(system::gpu_info())).await?)
}

#[napi(ts_args_type = "gpu: any")]
pub async fn estimate_vram(gpu: Value) -> Result<Option<f64>> {
    let gpu: system::GpuInfo = serde_json::from_value(gpu).unwrap_or_default();
    blocking(move || Ok(system::estimate_vram(&gpu))).await
}

#[napi(
    ts_args_type = "model: any, options?: any",
    ts_return_type = "Promise<any>"
)]
pub async fn can_run_model(model: Value, options: Option<Value>) -> Result<Value> {
    let result =
        blocking(move || Ok(SYSTEM.can_run_model(&model, as_object(options).as_ref()))).await?;
    to_json(&result)
}

#[napi(
    ts_args_type = "model: any, hints?: any",
    ts_return_type = "Promise<any>"
)]
pub async fn get_optimal_config(model: Value, hints: Option<Value>) -> Result<Value> {
    let config = blocking(move || SYSTEM.optimal_config(&model, as_object(hints).as_ref())).await?;
    Ok(Value::Object(config))
}

#[napi(ts_args_type = "model: any, cacheTypeK?: string, cacheTypeV?: string")]
pub fn estimate_kv_bytes_per_token(
    model: Value,
    cache_type_k: Option<String>,
    cache_type_v: Option<String>,
) -> f64 {
    let view = system::ModelView::from_json(&model);
    system::sizing::estimate_kv_bytes_per_token(
        &view,
        cache_type_k.as_deref().unwrap_or("f16"),
        cache_type_v.as_deref().unwrap_or("f16"),
    )
}

#[napi]
pub fn floor_context_to_granularity(tokens: f64) -> f64 {
    system::sizing::floor_context_to_granularity(tokens)
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

/// `decimals` truncates as `toFixed` does; the core applies the default.
#[napi]
pub fn format_bytes(bytes: f64, decimals: Option<f64>) -> String {
    files::format_bytes(bytes, decimals.map(|d| d as i32))
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
    lossy(&genai_core::paths::default_user_data())
}

fn lossy(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

#[napi(object)]
pub struct ModelPaths {
    pub llm: String,
    pub diffusion: String,
}

#[napi(object)]
pub struct BinaryPaths {
    pub llama: String,
    pub diffusion: String,
}

/// `PATHS`.
#[napi(object)]
pub struct Paths {
    pub models: ModelPaths,
    pub binaries: BinaryPaths,
    pub logs: String,
    pub config: String,
    pub temp: String,
    pub loras: String,
}

impl From<genai_core::paths::Paths> for Paths {
    fn from(p: genai_core::paths::Paths) -> Self {
        Paths {
            models: ModelPaths {
                llm: lossy(&p.models.llm),
                diffusion: lossy(&p.models.diffusion),
            },
            binaries: BinaryPaths {
                llama: lossy(&p.binaries.llama),
                diffusion: lossy(&p.binaries.diffusion),
            },
            logs: lossy(&p.logs),
            config: lossy(&p.config),
            temp: lossy(&p.temp),
            loras: lossy(&p.loras),
        }
    }
}

#[napi]
pub fn resolve_paths(user_data: String) -> Paths {
    genai_core::paths::Paths::new(&PathBuf::from(user_data)).into()
}

#[napi(ts_return_type = "Promise<void>")]
pub fn ensure_directories(env: &Env, user_data: String) -> Result<PromiseRaw<'_, ()>> {
    errors::blocking(env, move || {
        genai_core::paths::Paths::new(&PathBuf::from(user_data)).ensure_directories()
    })
}

#[napi(ts_return_type = "Promise<void>")]
pub fn ensure_directory(env: &Env, dir: String) -> Result<PromiseRaw<'_, ()>> {
    errors::blocking(env, move || files::ensure_directory(&PathBuf::from(dir)))
}

#[napi(ts_return_type = "Promise<boolean>")]
pub fn file_exists(env: &Env, path: String) -> Result<PromiseRaw<'_, bool>> {
    errors::blocking(env, move || Ok(files::file_exists(&PathBuf::from(path))))
}

#[napi(ts_return_type = "Promise<number>")]
pub fn get_file_size(env: &Env, path: String) -> Result<PromiseRaw<'_, f64>> {
    errors::blocking(env, move || {
        files::file_size(&PathBuf::from(path)).map(|n| n as f64)
    })
}

#[napi(ts_return_type = "Promise<void>")]
pub fn delete_file(env: &Env, path: String) -> Result<PromiseRaw<'_, ()>> {
    errors::blocking(env, move || files::delete_file(&PathBuf::from(path)))
}

#[napi(ts_return_type = "Promise<void>")]
pub fn move_file(env: &Env, from: String, to: String) -> Result<PromiseRaw<'_, ()>> {
    errors::blocking(env, move || {
        files::move_file(&PathBuf::from(from), &PathBuf::from(to))
    })
}

#[napi(ts_return_type = "Promise<string>")]
pub fn calculate_checksum(env: &Env, path: String) -> Result<PromiseRaw<'_, String>> {
    errors::blocking(env, move || files::sha256_file(&PathBuf::from(path)))
}

#[napi(ts_return_type = "Promise<boolean>")]
pub fn verify_checksum(env: &Env, path: String, expected: String) -> Result<PromiseRaw<'_, bool>> {
    errors::blocking(env, move || {
        files::verify_checksum(&PathBuf::from(path), &expected)
    })
}
