//! `#[napi]` shims for binary provisioning: `BINARY_VERSIONS`, `provisionBinary`,
//! `listBinaries`, and the `binary-progress` payload the servers emit.

use crate::callbacks::{self, Callback};
use crate::errors::promise;
use crate::llama::{BinaryLogEvent, LogLevel};
use genai_core::binaries::catalog::Catalog;
use genai_core::binaries::source::{self, Settings};
use genai_core::binaries::{BinaryEvent, BinaryKind, BinaryProgress};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::path::PathBuf;
use std::sync::Arc;

/// `BinaryProgressEvent`.
#[napi(object)]
pub struct BinaryProgressEvent {
    #[napi(
        ts_type = "'downloading' | 'extracting' | 'finalizing' | 'verifying' | 'testing' | 'installing'"
    )]
    pub phase: String,
    pub file: String,
    pub downloaded: Option<f64>,
    pub total: Option<f64>,
    pub percent: Option<f64>,
    pub completed_entries: Option<f64>,
    pub total_entries: Option<f64>,
    pub written_bytes: Option<f64>,
    pub total_uncompressed_bytes: Option<f64>,
}

impl From<BinaryProgress> for BinaryProgressEvent {
    fn from(p: BinaryProgress) -> Self {
        let n = |v: Option<u64>| v.map(|v| v as f64);
        let phase = serde_json::to_value(p.phase)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        BinaryProgressEvent {
            phase,
            file: p.file,
            downloaded: n(p.downloaded),
            total: n(p.total),
            percent: p.percent.map(f64::from),
            completed_entries: n(p.completed_entries),
            total_entries: n(p.total_entries),
            written_bytes: n(p.written_bytes),
            total_uncompressed_bytes: n(p.total_uncompressed_bytes),
        }
    }
}

/// `provisionBinary`'s options (the facade fills `dir` with `<userData>/binaries`).
#[napi(object)]
pub struct ProvisionOptions {
    pub dir: String,
    pub platform: Option<String>,
    pub mirror: Option<String>,
    pub catalog: Option<String>,
    pub force: Option<bool>,
}

/// `InstalledBinary`.
#[napi(object)]
pub struct InstalledBinary {
    #[napi(js_name = "type", ts_type = "'llama' | 'diffusion'")]
    pub kind: String,
    pub path: String,
    pub dir: String,
    pub variant: Option<String>,
    pub platform: Option<String>,
    pub version: Option<String>,
    pub checksum: Option<String>,
    pub validated_at: Option<String>,
    pub phase1_passed: Option<bool>,
    pub phase2_passed: Option<bool>,
    pub verified: bool,
}

impl From<source::InstalledBinary> for InstalledBinary {
    fn from(b: source::InstalledBinary) -> Self {
        InstalledBinary {
            kind: b.kind.as_str().to_string(),
            path: b.path,
            dir: b.dir,
            variant: b.variant,
            platform: b.platform,
            version: b.version,
            checksum: b.checksum,
            validated_at: b.validated_at,
            phase1_passed: b.phase1_passed,
            phase2_passed: b.phase2_passed,
            verified: b.verified,
        }
    }
}

/// `process.env` as the facade read it at the call (see `genai_core::binaries::source::BinaryEnv`).
#[napi(object)]
pub struct BinaryEnv {
    pub binary_path: Option<String>,
    pub binary_mirror: Option<String>,
    pub binary_catalog: Option<String>,
    pub binaries_dir: Option<String>,
}

impl From<BinaryEnv> for source::BinaryEnv {
    fn from(e: BinaryEnv) -> Self {
        source::BinaryEnv {
            binary_path: e.binary_path,
            binary_mirror: e.binary_mirror,
            binary_catalog: e.binary_catalog,
            binaries_dir: e.binaries_dir,
        }
    }
}

pub type ProvisionEvent = Either<BinaryLogEvent, BinaryProgressEvent>;

/// `binary-log` or `binary-progress` as `(name, payload)`.
pub fn event(e: BinaryEvent) -> (&'static str, ProvisionEvent) {
    match e {
        BinaryEvent::Log { message, level } => (
            "binary-log",
            Either::A(BinaryLogEvent {
                message,
                level: LogLevel::from(level),
            }),
        ),
        BinaryEvent::Progress(p) => ("binary-progress", Either::B(p.into())),
    }
}

/// `BINARY_VERSIONS`: the built-in catalog (upstream's shape).
#[napi(ts_return_type = "typeof import('./index').BINARY_VERSIONS")]
pub fn binary_versions() -> serde_json::Value {
    serde_json::to_value(Catalog::builtin()).unwrap_or_default()
}

fn kind(name: &str) -> Result<BinaryKind> {
    match name {
        "llama" => Ok(BinaryKind::Llama),
        "diffusion" => Ok(BinaryKind::Diffusion),
        other => Err(Error::from_reason(format!(
            "Unknown binary type: {other} (expected 'llama' or 'diffusion')"
        ))),
    }
}

/// Installs (or verifies) one engine in `options.dir`.
#[napi(
    ts_args_type = "type: 'llama' | 'diffusion', options: ProvisionOptions, onEvent: (...event: ['binary-log', BinaryLogEvent] | ['binary-progress', BinaryProgressEvent]) => void",
    ts_return_type = "Promise<InstalledBinary>"
)]
pub fn provision_binary<'env>(
    env: &'env Env,
    r#type: String,
    options: ProvisionOptions,
    on_event: Callback<(String, ProvisionEvent)>,
) -> Result<PromiseRaw<'env, InstalledBinary>> {
    let kind = kind(&r#type)?;
    let settings = Settings::from_options(&options.mirror, &options.catalog, &None);
    let events: genai_core::binaries::EventFn = Arc::new(move |e| {
        let (name, payload) = event(e);
        callbacks::notify(&on_event, (name.to_string(), payload));
    });
    promise(env, async move {
        source::install(
            kind,
            &PathBuf::from(options.dir),
            options.platform.as_deref(),
            settings,
            options.force == Some(true),
            events,
            Default::default(),
        )
        .await
        .map(InstalledBinary::from)
    })
}

/// The engines installed in a binaries folder.
#[napi(ts_return_type = "Promise<InstalledBinary[]>")]
pub fn list_binaries<'env>(
    env: &'env Env,
    dir: String,
) -> Result<PromiseRaw<'env, Vec<InstalledBinary>>> {
    crate::errors::blocking(env, move || {
        Ok(source::list(&PathBuf::from(dir))
            .into_iter()
            .map(InstalledBinary::from)
            .collect())
    })
}
