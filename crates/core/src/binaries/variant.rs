//! One variant, from archive to installed folder: its dependencies (reused from `.deps.json` by
//! checksum, else downloaded and extracted), its archive (reused when its checksum matches, else
//! downloaded with resume and verified while streaming), safe extraction, the executable found,
//! tested, and the folder assembled and swapped in (`install`).

use super::catalog::{archive_extension, mirrored, normalize_checksum, Variant};
use super::install::Slot;
use super::manifest::{self, DepsEntry, DepsManifest, ValidationRecord, VariantRecord};
use super::provision::{Failure, Provisioner};
use super::tree::{
    find_executable, make_executable, placed_files, relative_files, stage_installed, with_suffix,
};
use super::{check, BinaryKind, BinaryProgress, Phase};
use crate::logs::Level;
use crate::{archive, download, Error, ErrorCode};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

type Step<T> = std::result::Result<T, Failure>;

/// Where one attempt works: `<exe>.<variant>.extract/` in the installed folder (upstream's name).
struct Stage {
    root: PathBuf,
}

impl Stage {
    fn main(&self) -> PathBuf {
        self.root.join("main")
    }
    fn dep(&self, i: usize) -> PathBuf {
        self.root.join(format!("dep{i}"))
    }
    fn test(&self) -> PathBuf {
        self.root.join("test")
    }
}

impl Provisioner {
    /// Installs `variant`; Ok(path of the installed executable).
    pub(super) async fn install_variant(&self, variant: &Variant) -> Step<PathBuf> {
        let exe = self.dir.join(self.exe_file());
        let ext = archive_extension(&variant.url);
        let archive_path = with_suffix(&exe, &format!(".{}{ext}", variant.variant.as_str()));
        let stage = Stage {
            root: with_suffix(&exe, &format!(".{}.extract", variant.variant.as_str())),
        };
        let _ = std::fs::remove_dir_all(&stage.root);
        let result = self.assemble(variant, &archive_path, &stage).await;
        let _ = std::fs::remove_dir_all(&stage.root);
        if !matches!(result, Err(Failure::Fatal(_))) {
            // Kept only on cancel, so that the next call resumes; a verified archive is cheap to
            // fetch again compared with keeping hundreds of MiB around.
            let _ = std::fs::remove_file(&archive_path);
            for i in 0..variant.dependencies.len() {
                let _ = std::fs::remove_file(self.dep_archive(variant, i));
            }
        }
        result
    }

    fn dep_archive(&self, variant: &Variant, i: usize) -> PathBuf {
        let ext = archive_extension(&variant.dependencies[i].url);
        self.dir.join(format!(".dep{i}{ext}"))
    }

    async fn assemble(
        &self,
        variant: &Variant,
        archive_path: &Path,
        stage: &Stage,
    ) -> Step<PathBuf> {
        let deps = self.dependencies(variant, stage).await?;
        self.verified_archive(
            &variant.url,
            archive_path,
            &variant.checksum,
            "binary",
            &format!("{} binary", variant.variant.as_str()),
        )
        .await?;
        let main = stage.main();
        self.extract(archive_path, &main, "binary").await?;
        let found = find_executable(&main, &self.exe_file())
            .ok_or_else(|| Failure::Variant(format!("the archive holds no {}", self.exe_file())))?;
        let placed = placed_files(&main, &found);
        if let Some(clash) = deps
            .iter()
            .flat_map(|(e, _)| &e.files)
            .find(|f| placed.contains(&f.to_ascii_lowercase()))
        {
            return Err(Failure::Variant(format!(
                "the archive and a dependency both hold {clash}"
            )));
        }
        let tested = if self.run_tests {
            self.progress(BinaryProgress::phase(Phase::Testing, "binary"));
            make_executable(&found);
            let scratch = stage.test();
            std::fs::create_dir_all(&scratch).map_err(|e| {
                Failure::Variant(format!("cannot create {}: {e}", scratch.display()))
            })?;
            let log = self.log_fn();
            match check::test_binary(
                self.kind,
                &found,
                self.test_model.as_ref(),
                &scratch,
                &log,
                &self.cancel,
            )
            .await
            {
                Ok(t) => Some(t),
                Err(_) if self.cancel.is_cancelled() => {
                    return Err(Failure::Fatal(self.cancelled()))
                }
                Err(reason) => {
                    return Err(Failure::Variant(format!(
                        "the binary failed its test: {reason}"
                    )))
                }
            }
        } else {
            None
        };
        self.progress(BinaryProgress::phase(Phase::Installing, "binary"));
        let tx = format!(
            "{}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0),
            variant.variant.as_str()
        );
        let slot = Slot::new(&self.dir);
        let candidate = slot.sibling("candidate", &tx);
        let built = self.build_candidate(variant, &found, &main, &deps, tested, &candidate);
        if let Err(e) = built {
            let _ = std::fs::remove_dir_all(&candidate);
            return Err(Failure::Variant(format!(
                "could not assemble the install: {e}"
            )));
        }
        if let Err(e) = slot.swap_in(&candidate, &tx) {
            let _ = std::fs::remove_dir_all(&candidate);
            return Err(Failure::Fatal(e));
        }
        Ok(self.dir.join(self.exe_file()))
    }

    /// The candidate folder: the executable's folder (a nested top folder is flattened), the
    /// archive's top-level files, the dependencies' files, and the three manifests.
    fn build_candidate(
        &self,
        variant: &Variant,
        found: &Path,
        main: &Path,
        deps: &[(DepsEntry, PathBuf)],
        tested: Option<check::Tested>,
        candidate: &Path,
    ) -> std::io::Result<()> {
        let exe_dir = found.parent().unwrap_or(main);
        std::fs::rename(exe_dir, candidate)?;
        if exe_dir != main {
            for entry in std::fs::read_dir(main)?.flatten() {
                let target = candidate.join(entry.file_name());
                if entry.file_type()?.is_file() && !target.exists() {
                    std::fs::rename(entry.path(), target)?;
                }
            }
        }
        for (entry, root) in deps {
            for file in &entry.files {
                let (Some(from), Some(to)) = (
                    manifest::inside(root, file),
                    manifest::inside(candidate, file),
                ) else {
                    continue;
                };
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::rename(from, to)?;
            }
        }
        let exe = candidate.join(self.exe_file());
        make_executable(&exe);
        if self.kind == BinaryKind::Diffusion {
            make_executable(&candidate.join(self.platform_file("sd-cli")));
        }
        let deps_manifest = DepsManifest {
            version: 1,
            dependencies: deps.iter().map(|(e, _)| e.clone()).collect(),
        };
        manifest::write(&candidate.join(manifest::DEPS_FILE), &deps_manifest)?;
        let record = VariantRecord {
            variant: variant.variant.as_str().into(),
            platform: self.platform_key.clone(),
        };
        manifest::write(&candidate.join(manifest::VARIANT_FILE), &record)?;
        if let Some(tested) = tested {
            let validation = ValidationRecord {
                variant: variant.variant.as_str().into(),
                checksum: crate::files::sha256_file(&exe)
                    .map_err(|e| std::io::Error::other(e.message))?,
                validated_at: crate::clock::iso_now(),
                phase1_passed: tested.phase1_passed,
                phase2_passed: tested.phase2_passed,
                version: Some(self.release.version.clone()),
            };
            manifest::write(&candidate.join(manifest::VALIDATION_FILE), &validation)?;
        }
        Ok(())
    }

    /// Each dependency: the installed copy when `.deps.json` lists its checksum and its files
    /// are there, else its archive, extracted into the stage.
    async fn dependencies(
        &self,
        variant: &Variant,
        stage: &Stage,
    ) -> Step<Vec<(DepsEntry, PathBuf)>> {
        let installed = manifest::read_deps(&self.dir);
        let mut prepared = Vec::new();
        for (i, dep) in variant.dependencies.iter().enumerate() {
            let label = dep
                .description
                .clone()
                .unwrap_or_else(|| format!("Dependency {}", i + 1));
            let root = stage.dep(i);
            let checksum = normalize_checksum(&dep.checksum).unwrap_or_default();
            let cached = installed
                .dependencies
                .iter()
                .find(|e| e.checksum == checksum);
            if let Some(entry) = cached.filter(|e| stage_installed(&self.dir, e, &root)) {
                self.log(
                    &format!("Using installed {label} (checksum match)"),
                    Level::Info,
                );
                prepared.push((
                    DepsEntry {
                        url: dep.url.clone(),
                        ..entry.clone()
                    },
                    root,
                ));
                continue;
            }
            let archive_path = self.dep_archive(variant, i);
            self.verified_archive(&dep.url, &archive_path, &dep.checksum, &label, &label)
                .await?;
            self.extract(&archive_path, &root, &label).await?;
            let files = relative_files(&root);
            if files.is_empty() {
                return Err(Failure::Variant(format!(
                    "the dependency archive {} holds no files",
                    dep.url
                )));
            }
            self.log(&format!("{label} extracted successfully"), Level::Info);
            prepared.push((
                DepsEntry {
                    url: dep.url.clone(),
                    checksum,
                    files,
                },
                root,
            ));
        }
        Ok(prepared)
    }

    /// `destination` holds the archive with `checksum`: reused when it already does, else
    /// downloaded (from the mirror, resuming a partial download) and verified while streaming.
    async fn verified_archive(
        &self,
        url: &str,
        destination: &Path,
        checksum: &str,
        file: &str,
        label: &str,
    ) -> Step<()> {
        let want = normalize_checksum(checksum).unwrap_or_default();
        if destination.is_file() {
            self.progress(BinaryProgress::phase(Phase::Verifying, file));
            let path = destination.to_path_buf();
            let have = tokio::task::spawn_blocking(move || crate::files::sha256_file(&path))
                .await
                .ok()
                .and_then(|r| r.ok());
            if have.as_deref() == Some(want.as_str()) {
                self.log(&format!("Reusing verified {label} archive"), Level::Info);
                return Ok(());
            }
            self.log(
                &format!("Discarding checksum-mismatched {label} archive"),
                Level::Warn,
            );
            let _ = std::fs::remove_file(destination);
        }
        let url = mirrored(url, self.mirror.as_deref());
        self.log(&format!("Downloading {label} from {url}..."), Level::Info);
        let mut req = download::Request::new(&url, destination);
        req.expected_sha256 = Some(want);
        let outcome = download::download(
            &req,
            Some(self.download_progress(file, label)),
            &self.cancel,
        )
        .await;
        if self.cancel.is_cancelled() {
            return Err(Failure::Fatal(self.cancelled()));
        }
        match outcome {
            Ok(done) => {
                if done.resumed_from > 0 {
                    self.log(
                        &format!("Resumed {label} from byte {}", done.resumed_from),
                        Level::Info,
                    );
                }
                self.progress(BinaryProgress::phase(Phase::Verifying, file));
                Ok(())
            }
            Err(e) if e.code == ErrorCode::Checksum => {
                let actual = e
                    .details
                    .as_ref()
                    .and_then(|d| d.get("actual"))
                    .and_then(|a| a.as_str())
                    .unwrap_or("?");
                Err(Failure::Variant(format!(
                    "checksum mismatch for {url} (expected {checksum}, got {actual})"
                )))
            }
            Err(e) => Err(Failure::Variant(format!(
                "download of {url} failed: {}",
                describe(&e)
            ))),
        }
    }

    fn download_progress(&self, file: &str, label: &str) -> download::ProgressFn {
        let (events, file, label) = (self.events.clone(), file.to_string(), label.to_string());
        let last = AtomicU32::new(u32::MAX);
        Arc::new(move |downloaded, total| {
            let ratio = if total > 0 {
                downloaded as f64 / total as f64
            } else {
                0.0
            };
            let percent = (ratio * 100.0).floor().clamp(0.0, 100.0) as u32;
            if last.swap(percent, Ordering::Relaxed) == percent {
                return;
            }
            let message = format!("Downloading {label}: {:.1}%", ratio * 100.0);
            events(super::BinaryEvent::Log {
                message,
                level: Level::Info,
            });
            events(super::BinaryEvent::Progress(BinaryProgress {
                downloaded: Some(downloaded),
                total: Some(total),
                percent: Some(percent),
                ..BinaryProgress::phase(Phase::Downloading, &file)
            }));
        })
    }

    /// Safe extraction off the async threads, with `extracting` progress, then `finalizing`.
    async fn extract(&self, archive_path: &Path, dest: &Path, file: &str) -> Step<()> {
        self.progress(BinaryProgress::phase(Phase::Extracting, file));
        let (events, label) = (self.events.clone(), file.to_string());
        let (src, dst, limits) = (archive_path.to_path_buf(), dest.to_path_buf(), self.limits);
        let run = tokio::task::spawn_blocking(move || {
            archive::extract(&src, &dst, &limits, &mut |p| {
                let percent = p.total_uncompressed_bytes.filter(|t| *t > 0).map(|t| {
                    ((p.written_bytes as f64 / t as f64) * 100.0)
                        .floor()
                        .min(100.0) as u32
                });
                events(super::BinaryEvent::Progress(BinaryProgress {
                    completed_entries: Some(p.files),
                    total_entries: p.total_files,
                    written_bytes: Some(p.written_bytes),
                    total_uncompressed_bytes: p.total_uncompressed_bytes,
                    percent,
                    ..BinaryProgress::phase(Phase::Extracting, &label)
                }))
            })
        })
        .await;
        match run {
            Ok(Ok(_)) => {
                self.progress(BinaryProgress::phase(Phase::Finalizing, file));
                Ok(())
            }
            Ok(Err(e)) => Err(Failure::Variant(format!(
                "extraction refused: {}",
                describe(&e)
            ))),
            Err(e) => Err(Failure::Variant(format!("extraction failed: {e}"))),
        }
    }

    pub(super) fn cancelled(&self) -> Error {
        Error::new(
            ErrorCode::Binary,
            "Binary download cancelled",
            Some(json!({ "type": self.kind.as_str() })),
        )
    }
}

/// An error's message with the detail that says why (an OS error, an entry name).
fn describe(e: &Error) -> String {
    let detail = e.details.as_ref().and_then(|d| {
        ["reason", "error", "entry"]
            .iter()
            .find_map(|k| d.get(*k).and_then(|v| v.as_str()).map(str::to_string))
    });
    match detail {
        Some(d) if !e.message.contains(&d) => format!("{} ({d})", e.message),
        _ => e.message.clone(),
    }
}
