//! The binary before it runs: which one (`binaryPath`, else the installed one), that it exists
//! and is executable, and upstream's Phase 1 validation (`--version` runs and exits 0), cached
//! per binary and process.

use super::LlamaServer;
use crate::binaries::source::{self, BinaryFields};
use crate::binaries::{BinaryEvent, BinaryKind, TestModel};
use crate::llama::LlamaServerConfig;
use crate::logs::Level;
use crate::models::ModelInfo;
use crate::{Error, ErrorCode, Result};
use serde_json::json;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};
use std::time::SystemTime;

/// A binary as validated: path, size, modification time.
type BinaryKey = (PathBuf, u64, Option<SystemTime>);
/// Binaries that passed validation in this process.
static VALIDATED: LazyLock<Mutex<HashSet<BinaryKey>>> = LazyLock::new(Mutex::default);

fn validated() -> std::sync::MutexGuard<'static, HashSet<BinaryKey>> {
    VALIDATED.lock().unwrap_or_else(|p| p.into_inner())
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        true
    }
}

/// The model's files are there before anything is spawned (llama-server would only exit 1): its
/// `path` and every shard.
pub fn check_model_files(model: &ModelInfo) -> Result<()> {
    let shards = model.shards.iter().flatten().map(|s| s.path.as_str());
    for path in std::iter::once(model.path.as_str()).chain(shards) {
        let p = Path::new(path);
        let problem = if p.is_file() {
            continue;
        } else if p.exists() {
            "Model path is not a file"
        } else {
            "Model file not found"
        };
        return Err(Error::server(
            format!("{problem}: {path}"),
            Some(json!({
                "modelId": model.id,
                "path": path,
                "suggestion": "The model's file was moved or deleted: download the model again (modelManager.deleteModel() removes what is left of it)",
            })),
        ));
    }
    Ok(())
}

/// The binary to run: `binary_path` (the config's, or the environment's), else `<dir>/<name>`
/// (`.exe` on Windows); an existing, executable regular file, else a BinaryError.
pub fn check_binary(binary_path: Option<&str>, dir: &Path, name: &str) -> Result<PathBuf> {
    let exe = if cfg!(windows) {
        format!("{name}.exe")
    } else {
        name.to_string()
    };
    let path = binary_path.map_or_else(|| dir.join(exe), PathBuf::from);
    let problem = if path.is_dir() {
        "Binary path is a directory, not a file"
    } else if path.exists() && !path.is_file() {
        "Binary path is not a regular file"
    } else if !path.is_file() {
        "Binary file not found"
    } else if !is_executable(&path) {
        "Binary is not executable"
    } else {
        return Ok(path);
    };
    Err(Error::new(
        ErrorCode::Binary,
        format!("{problem}: {}", path.display()),
        Some(json!({ "path": path.to_string_lossy() })),
    ))
}

/// Phase 1 of upstream's binary validation: `<binary> <kind's phase-1 arg>` must run and exit 0. Once per
/// binary (path, size, mtime) and process, unless `force`. Catches a binary that exists but
/// cannot run here (wrong architecture, missing libraries) before it is started for real.
/// `log` is the server's `binary-log`.
pub async fn validate_phase1(
    kind: BinaryKind,
    binary: &Path,
    force: bool,
    log: &(dyn Fn(&str, Level) + Send + Sync),
) -> Result<()> {
    let (name, arg) = (kind.exe_name(), kind.phase1_arg());
    log(
        &format!("Using {name} binary: {}", binary.display()),
        Level::Info,
    );
    let key = std::fs::metadata(binary)
        .map(|m| (binary.to_path_buf(), m.len(), m.modified().ok()))
        .ok();
    let known = key.as_ref().is_some_and(|k| validated().contains(k));
    if known && !force {
        log(
            "Using cached validation result (binary verified)",
            Level::Info,
        );
        return Ok(());
    }
    if force {
        log(
            "Force validation requested, re-running tests...",
            Level::Info,
        );
    }
    log("Phase 1: Testing binary basic validation...", Level::Info);
    let never = tokio_util::sync::CancellationToken::new();
    match crate::binaries::check::run_probe(binary, arg, &never).await {
        Ok(lines) => {
            if let Some(version) = lines.iter().find(|l| l.contains("version")) {
                log(version.trim(), Level::Info);
            }
            log(
                &format!("Phase 1: ✓ Binary validation passed ({arg})"),
                Level::Info,
            );
            validated().extend(key);
            Ok(())
        }
        Err(why) => {
            let why = why.to_string();
            log(
                &format!("Phase 1: ✗ Basic validation failed: {why}"),
                Level::Error,
            );
            Err(Error::new(
                ErrorCode::Binary,
                format!("{name} binary failed validation: {why}"),
                Some(json!({ "path": binary.to_string_lossy(), "error": why })),
            ))
        }
    }
}

impl LlamaServer {
    /// The given binary: `config.binaryPath` (`$GENAI_LLAMA_SERVER_PATH` when unset, see
    /// `LlamaServerConfig::with_binary_fallback`), checked now; None: provisioned at start.
    pub(super) fn binary(&self, config: &LlamaServerConfig) -> Result<Option<PathBuf>> {
        let Some(given) = config.binary_path.as_deref() else {
            return Ok(None);
        };
        check_binary(Some(given), &self.binaries_dir, "llama-server")
            .map(Some)
            .inspect_err(|e| self.binary_log(&e.message, Level::Error))
    }

    /// `binary-log`: to listeners and to the log file, as upstream.
    pub(super) fn binary_log(&self, message: &str, level: Level) {
        let _ = self.log.write(message, level);
        self.emit(super::ServerEvent::BinaryLog {
            message: message.to_string(),
            level,
        });
    }

    /// The binary to run: the given one after phase 1, else the provisioned one (`binaries/`
    /// or the read-only binaries folder), tested with the model being started. `stop()`
    /// cancels a provisioning in progress.
    pub(super) async fn ready_binary(
        &self,
        given: Option<PathBuf>,
        config: &LlamaServerConfig,
        model_path: &str,
        force: bool,
    ) -> Result<PathBuf> {
        if let Some(binary) = given {
            validate_phase1(BinaryKind::Llama, &binary, force, &|m, l| {
                self.binary_log(m, l)
            })
            .await?;
            return Ok(binary);
        }
        let me = self.me.clone();
        let events: crate::binaries::EventFn = std::sync::Arc::new(move |event| {
            let Some(me) = me.upgrade() else { return };
            match event {
                BinaryEvent::Log { message, level } => me.binary_log(&message, level),
                BinaryEvent::Progress(p) => me.emit(super::ServerEvent::BinaryProgress(p)),
            }
        });
        let cancel = tokio_util::sync::CancellationToken::new();
        *self.provisioning.lock().unwrap_or_else(|p| p.into_inner()) = Some(cancel.clone());
        let need = source::Need {
            kind: BinaryKind::Llama,
            binaries_root: self
                .binaries_dir
                .parent()
                .unwrap_or(&self.binaries_dir)
                .to_path_buf(),
            settings: config.binary_settings(),
            test_model: Some(TestModel {
                path: PathBuf::from(model_path),
                model_args: Vec::new(),
            }),
            force,
            events,
            cancel,
        };
        let result = source::provide(need).await;
        *self.provisioning.lock().unwrap_or_else(|p| p.into_inner()) = None;
        result
    }
}
