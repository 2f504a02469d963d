//! `ensureBinary`: the binary in `binaries/<type>/`, installed when missing, of another pinned
//! version, or failing its tests; each variant of the platform tried in the catalog's order
//! (CUDA only with an NVIDIA GPU and driver), every failure's reason kept for the final error.

use super::catalog::{Release, VariantType};
use super::install::Slot;
use super::manifest::{self, ValidationRecord};
use super::{check, BinaryEvent, BinaryKind, BinaryProgress, EventFn, TestModel};
use crate::logs::Level;
use crate::{archive, Error, ErrorCode, Result};
use serde_json::json;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// Why a variant was not installed: its own failure (try the next), or one that ends the call.
#[derive(Debug)]
pub enum Failure {
    Variant(String),
    Fatal(Error),
}

/// One `ensureBinary` call's inputs.
pub struct Provisioner {
    pub kind: BinaryKind,
    pub platform_key: String,
    pub release: Release,
    /// `binaries/<type>`.
    pub dir: PathBuf,
    /// Replaces `https://github.com/` in every URL.
    pub mirror: Option<String>,
    /// An NVIDIA GPU with a working driver: CUDA variants are tried.
    pub cuda: bool,
    /// False for another platform's binaries (they cannot run here): nothing is tested and no
    /// `.validation.json` is written.
    pub run_tests: bool,
    pub test_model: Option<TestModel>,
    pub events: EventFn,
    pub cancel: CancellationToken,
    pub limits: archive::Limits,
}

/// What `ensure` found or installed.
#[derive(Debug, Clone, PartialEq)]
pub struct Ensured {
    pub path: PathBuf,
    /// A variant was downloaded and installed by this call.
    pub installed: bool,
}

impl Provisioner {
    pub(super) fn log(&self, message: &str, level: Level) {
        (self.events)(BinaryEvent::Log {
            message: message.to_string(),
            level,
        });
    }

    /// `name` as the platform's executable (`.exe` on Windows), also for another platform's.
    pub(super) fn platform_file(&self, name: &str) -> String {
        if self.platform_key.starts_with("win32") {
            format!("{name}.exe")
        } else {
            name.to_string()
        }
    }

    pub(super) fn exe_file(&self) -> String {
        self.platform_file(self.kind.exe_name())
    }

    /// `binary-log` as a free-standing function (for the tests, which outlive no borrow).
    pub(super) fn log_fn(&self) -> impl Fn(&str, Level) + Send + Sync + 'static {
        let events = self.events.clone();
        move |message: &str, level: Level| {
            events(BinaryEvent::Log {
                message: message.to_string(),
                level,
            })
        }
    }

    pub(super) fn progress(&self, progress: BinaryProgress) {
        (self.events)(BinaryEvent::Progress(progress));
    }

    /// The platform's variants, CUDA ones only with CUDA.
    fn variants(&self) -> Result<Vec<super::catalog::Variant>> {
        let key = &self.platform_key;
        let all = self.release.variants.get(key).cloned().unwrap_or_default();
        if all.is_empty() {
            return Err(Error::new(
                ErrorCode::Binary,
                format!("No binary variants available for platform: {key}"),
                Some(
                    json!({ "platform": key, "suggestion": format!("Build {} from source and pass its path as binaryPath", self.kind.exe_name()) }),
                ),
            ));
        }
        if !all.iter().any(|v| v.variant == VariantType::Cuda) || self.cuda {
            if self.cuda && all.iter().any(|v| v.variant == VariantType::Cuda) {
                self.log(
                    "CUDA GPU detected, CUDA variants will be tried",
                    Level::Info,
                );
            }
            return Ok(all);
        }
        self.log(
            "Skipping CUDA variants: no NVIDIA GPU with CUDA detected",
            Level::Info,
        );
        let rest: Vec<_> = all
            .into_iter()
            .filter(|v| v.variant != VariantType::Cuda)
            .collect();
        if rest.is_empty() {
            return Err(Error::new(
                ErrorCode::Binary,
                format!("No compatible binary variants available for platform: {key}"),
                Some(
                    json!({ "platform": key, "suggestion": "All variants were filtered out (e.g., CUDA variants on non-NVIDIA system)" }),
                ),
            ));
        }
        Ok(rest)
    }

    /// The installed binary, after installing it if needed. `force` re-runs the tests.
    pub async fn ensure(&self, force: bool) -> Result<Ensured> {
        let variants = self.variants()?;
        for line in Slot::new(&self.dir).recover() {
            self.log(&line, Level::Warn);
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            Error::file_system(
                format!("Failed to create directory: {}", self.dir.display()),
                &self.dir,
                &e,
            )
        })?;
        self.prune_deps();
        let exe = self.dir.join(self.exe_file());
        if exe.is_file() && self.keep_installed(&exe, force).await? {
            return Ok(Ensured {
                path: exe,
                installed: false,
            });
        }
        let mut failures = Vec::new();
        for variant in &variants {
            let name = variant.variant.as_str();
            self.log(
                &format!("Trying {name} variant for {}...", self.platform_key),
                Level::Info,
            );
            match self.install_variant(variant).await {
                Ok(path) => {
                    self.log(
                        &format!("Successfully installed {name} variant"),
                        Level::Info,
                    );
                    return Ok(Ensured {
                        path,
                        installed: true,
                    });
                }
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Variant(reason)) => {
                    self.log(
                        &format!("Failed to use {name} variant: {reason}"),
                        Level::Warn,
                    );
                    failures.push((variant.clone(), reason));
                }
            }
        }
        Err(self.all_failed(&failures))
    }

    fn all_failed(&self, failures: &[(super::catalog::Variant, String)]) -> Error {
        let errors: Vec<String> = failures
            .iter()
            .map(|(v, r)| format!("{}: {r}", v.variant.as_str()))
            .collect();
        let variants: Vec<_> = failures
            .iter()
            .map(|(v, r)| json!({ "variant": v.variant.as_str(), "url": v.url, "reason": r }))
            .collect();
        Error::new(
            ErrorCode::Binary,
            format!(
                "Failed to download binary. Tried all variants for {}.",
                self.platform_key
            ),
            Some(json!({
                "platform": self.platform_key,
                "errors": errors.join("; "),
                "variants": variants,
                "suggestion": "Check your GPU drivers are installed, or the system may not support any variant",
            })),
        )
    }

    /// The installed binary is used as is when its checksum is the validated one of this
    /// version; else it is tested again (and kept if it passes). False: install a variant.
    async fn keep_installed(&self, exe: &Path, force: bool) -> Result<bool> {
        let cache = manifest::read_validation(&self.dir);
        let version = &self.release.version;
        if let Some(cache) = cache
            .as_ref()
            .filter(|c| !force && c.version.as_ref() != Some(version))
        {
            let was = cache.version.as_deref().unwrap_or("unknown");
            self.log(
                &format!("Binary version changed ({was} → {version}), re-downloading..."),
                Level::Info,
            );
            return Ok(false);
        }
        // The file's checksum, once: compared here, recorded after a passing test.
        let mut checksum = None;
        if let Some(cache) = cache.as_ref().filter(|_| !force) {
            self.log("Verifying binary integrity...", Level::Info);
            checksum = sha256(exe).await;
            if checksum.as_deref() == Some(cache.checksum.as_str()) {
                self.log(
                    "Using cached validation result (binary verified)",
                    Level::Info,
                );
                self.log(
                    &format!("Last validated: {}", cache.validated_at),
                    Level::Info,
                );
                return Ok(true);
            }
            self.log("Binary checksum mismatch, re-validating...", Level::Warn);
        } else if force {
            self.log(
                "Force validation requested, re-running tests...",
                Level::Info,
            );
        }
        if !self.run_tests {
            return Ok(false);
        }
        super::tree::make_executable(exe);
        let scratch = self.dir.join(format!(".test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&scratch);
        let log = self.log_fn();
        let tested = check::test_binary(
            self.kind,
            exe,
            self.test_model.as_ref(),
            &scratch,
            &log,
            &self.cancel,
        )
        .await;
        let _ = std::fs::remove_dir_all(&scratch);
        if self.cancel.is_cancelled() {
            return Err(self.cancelled());
        }
        match tested {
            Ok(t) => {
                let record = ValidationRecord {
                    variant: cache.map_or_else(|| "unknown".into(), |c| c.variant),
                    checksum: match checksum {
                        Some(sum) => sum,
                        None => sha256(exe).await.unwrap_or_default(),
                    },
                    validated_at: crate::clock::iso_now(),
                    phase1_passed: t.phase1_passed,
                    phase2_passed: t.phase2_passed,
                    version: Some(version.clone()),
                };
                if let Err(e) = manifest::write(&self.dir.join(manifest::VALIDATION_FILE), &record)
                {
                    self.log(
                        &format!("Failed to save validation cache: {e}"),
                        Level::Warn,
                    );
                }
                self.log("Binary validated successfully", Level::Info);
                Ok(true)
            }
            Err(reason) => {
                self.log(
                    &format!("Existing binary not working ({reason}), re-downloading..."),
                    Level::Warn,
                );
                Ok(false)
            }
        }
    }

    /// Drops `.deps.json` entries no variant of the catalog uses any more (upstream's prune).
    fn prune_deps(&self) {
        let mut deps = manifest::read_deps(&self.dir);
        let known: Vec<String> = self
            .release
            .variants
            .values()
            .flatten()
            .flat_map(|v| &v.dependencies)
            .filter_map(|d| super::catalog::normalize_checksum(&d.checksum))
            .collect();
        let before = deps.dependencies.len();
        deps.dependencies.retain(|d| known.contains(&d.checksum));
        if deps.dependencies.len() != before {
            let _ = manifest::write(&self.dir.join(manifest::DEPS_FILE), &deps);
        }
    }
}

async fn sha256(path: &Path) -> Option<String> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || crate::files::sha256_file(&path).ok())
        .await
        .ok()
        .flatten()
}
