//! The napi-rs binding: `#[napi]` shims only. Each converts its arguments, calls `genai_core`, and
//! converts the result. Blocking work runs on tokio's blocking pool, never on the JS thread.
//! Core errors cross as JS errors with `code` and `details` (see `errors.rs`); the JS facade
//! (lib/errors.cjs) maps the code to genai-electron's error class.

// napi-derive registers the exports only outside `cfg(test)`, so in the test build (clippy
// --all-targets) every `#[napi]` item would look unused.
#![cfg_attr(test, allow(dead_code))]

use genai_core::files;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::path::PathBuf;

mod binaries;
mod callbacks;
mod constants;
mod convert;
mod diffusion;
mod errors;
mod json;
mod launch;
mod llama;
mod models;
mod orchestrator;
mod process;
mod servers;
mod system;

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
