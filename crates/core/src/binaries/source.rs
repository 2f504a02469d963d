//! Where a manager's binary comes from when no path is given: a read-only folder of installed
//! binaries (`GENAI_BINARIES_DIR`, an offline bundle), else `<userData>/binaries/<type>/`,
//! provisioned on first use. And the on-demand entry points: install ahead of time, list.

use super::catalog::Catalog;
use super::manifest;
use super::provision::{Ensured, Provisioner};
use super::{BinaryEvent, BinaryKind, EventFn, TestModel};
use crate::logs::Level;
use crate::{archive, Error, ErrorCode, Result};
use serde::Serialize;
use serde_json::json;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// The mirror, the catalog file and the read-only binaries folder of one call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    pub mirror: Option<String>,
    pub catalog: Option<PathBuf>,
    pub binaries_dir: Option<PathBuf>,
}

/// What the environment says (`$GENAI_LLAMA_SERVER_PATH` or `$GENAI_SD_SERVER_PATH`,
/// `$GENAI_BINARY_MIRROR`, `$GENAI_BINARY_CATALOG`, `$GENAI_BINARIES_DIR`), as the facade read it
/// from `process.env` (the value JS sees) at the call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BinaryEnv {
    pub binary_path: Option<String>,
    pub binary_mirror: Option<String>,
    pub binary_catalog: Option<String>,
    pub binaries_dir: Option<String>,
}

impl BinaryEnv {
    /// Fills each field the caller left unset (`BinaryFields`' order) from the environment (an
    /// empty value is none). The result stays in the config, so `getConfig()` and restarts see it.
    pub fn fill(self, fields: [&mut Option<String>; 4]) {
        let values = [
            self.binary_path,
            self.binary_mirror,
            self.binary_catalog,
            self.binaries_dir,
        ];
        for (field, value) in fields.into_iter().zip(values) {
            if field.is_none() {
                *field = value.filter(|v| !v.trim().is_empty());
            }
        }
    }
}

/// A start config's binary fields: `binaryPath`, `binaryMirror`, `binaryCatalog`, `binariesDir`.
pub trait BinaryFields: Clone {
    fn binary_fields(&mut self) -> [&mut Option<String>; 4];

    /// The environment fills what the caller left unset.
    fn with_binary_env(mut self, env: BinaryEnv) -> Self {
        env.fill(self.binary_fields());
        self
    }

    /// Where a provisioned binary comes from, as this config says.
    fn binary_settings(&self) -> Settings {
        let mut config = self.clone();
        let [_, mirror, catalog, dir] = config.binary_fields();
        Settings::from_options(mirror, catalog, dir)
    }
}

/// The start config fields that name a binary or where it comes from.
pub const CONFIG_FIELDS: [&str; 4] = ["binaryPath", "binaryMirror", "binaryCatalog", "binariesDir"];

impl Settings {
    pub fn from_options(
        mirror: &Option<String>,
        catalog: &Option<String>,
        binaries_dir: &Option<String>,
    ) -> Settings {
        let given = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        Settings {
            mirror: given(mirror),
            catalog: given(catalog).map(PathBuf::from),
            binaries_dir: given(binaries_dir).map(PathBuf::from),
        }
    }
}

/// What a manager asks for at start.
pub struct Need {
    pub kind: BinaryKind,
    /// `<userData>/binaries`.
    pub binaries_root: PathBuf,
    pub settings: Settings,
    pub test_model: Option<TestModel>,
    pub force: bool,
    pub events: EventFn,
    pub cancel: CancellationToken,
}

/// The binary for a manager's start: from the read-only folder when one is set (never written,
/// never downloaded into), else provisioned in `binaries/<type>/`.
pub async fn provide(need: Need) -> Result<PathBuf> {
    let settings = need.settings.clone();
    if let Some(root) = &settings.binaries_dir {
        return from_bundle(&need, root).await;
    }
    let provisioner = provisioner(
        need.kind,
        &need.binaries_root,
        None,
        &settings,
        need.test_model,
        need.events,
        need.cancel,
    )
    .await?;
    Ok(provisioner.ensure(need.force).await?.path)
}

/// The binary in a read-only folder: used as is when `.validation.json` vouches for it, else
/// after phase 1 (remembered for this process, nothing written).
async fn from_bundle(need: &Need, root: &Path) -> Result<PathBuf> {
    let dir = root.join(need.kind.as_str());
    let exe = dir.join(need.kind.file_name());
    let log = |m: &str, l: Level| {
        (need.events)(BinaryEvent::Log {
            message: m.to_string(),
            level: l,
        })
    };
    if !exe.is_file() {
        let message = format!("Binary not found in the binaries folder: {}", exe.display());
        log(&message, Level::Error);
        return Err(Error::new(
            ErrorCode::Binary,
            message,
            Some(
                json!({ "path": exe.to_string_lossy(), "binariesDir": root.to_string_lossy(), "suggestion": format!("Install it there first: genai-electron-rs binaries install --type {} --dir {}", need.kind.as_str(), root.display()) }),
            ),
        ));
    }
    log(
        &format!(
            "Using {} from the binaries folder {}",
            need.kind.exe_name(),
            root.display()
        ),
        Level::Info,
    );
    if let Some(v) = manifest::read_validation(&dir) {
        let path = exe.clone();
        let sum = tokio::task::spawn_blocking(move || crate::files::sha256_file(&path).ok())
            .await
            .ok()
            .flatten();
        if !need.force && sum.as_deref() == Some(v.checksum.as_str()) {
            log(
                "Using cached validation result (binary verified)",
                Level::Info,
            );
            return Ok(exe);
        }
    }
    crate::llama_server::validate_phase1(need.kind, &exe, need.force, &log).await?;
    Ok(exe)
}

async fn provisioner(
    kind: BinaryKind,
    binaries_root: &Path,
    platform: Option<&str>,
    settings: &Settings,
    test_model: Option<TestModel>,
    events: EventFn,
    cancel: CancellationToken,
) -> Result<Provisioner> {
    let here =
        crate::platform::platform_key().map_err(|e| Error::new(ErrorCode::Binary, e, None))?;
    let platform_key = platform.map_or_else(|| here.clone(), str::to_string);
    let catalog_path = settings.catalog.clone();
    let catalog = tokio::task::spawn_blocking(move || Catalog::load(catalog_path.as_deref()))
        .await
        .map_err(|e| Error::new(ErrorCode::Binary, e.to_string(), None))??;
    let run_tests = platform_key == here;
    let cuda = run_tests
        && tokio::task::spawn_blocking(|| {
            let gpu = crate::system::gpu_info();
            gpu.available && gpu.cuda == Some(true)
        })
        .await
        .unwrap_or(false);
    Ok(Provisioner {
        kind,
        platform_key,
        release: catalog.release(kind).clone(),
        dir: binaries_root.join(kind.as_str()),
        mirror: settings.mirror.clone(),
        cuda,
        run_tests,
        test_model: test_model.filter(|_| run_tests),
        events,
        cancel,
        limits: archive::Limits::default(),
    })
}

/// `provisionBinary` / `binaries install`: install (or verify) one engine in `binaries_root`,
/// for `platform` (default this machine; another platform's binaries are not tested).
pub async fn install(
    kind: BinaryKind,
    binaries_root: &Path,
    platform: Option<&str>,
    settings: Settings,
    force: bool,
    events: EventFn,
    cancel: CancellationToken,
) -> Result<InstalledBinary> {
    let p = provisioner(
        kind,
        binaries_root,
        platform,
        &settings,
        None,
        events,
        cancel,
    )
    .await?;
    let Ensured { .. } = p.ensure(force).await?;
    Ok(describe(kind, binaries_root))
}

/// What is installed in a binaries folder (`InstalledBinary`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstalledBinary {
    #[serde(rename = "type")]
    pub kind: BinaryKind,
    pub path: String,
    pub dir: String,
    pub variant: Option<String>,
    pub platform: Option<String>,
    pub version: Option<String>,
    pub checksum: Option<String>,
    pub validated_at: Option<String>,
    pub phase1_passed: Option<bool>,
    pub phase2_passed: Option<bool>,
    /// The file's checksum is the one `.validation.json` records.
    pub verified: bool,
}

fn describe(kind: BinaryKind, binaries_root: &Path) -> InstalledBinary {
    let dir = binaries_root.join(kind.as_str());
    let variant = manifest::read_variant(&dir);
    // A bundle for another platform holds that platform's file name.
    let exe = [kind.file_name(), format!("{}.exe", kind.exe_name())]
        .into_iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| dir.join(kind.file_name()));
    let validation = manifest::read_validation(&dir);
    let checksum = crate::files::sha256_file(&exe).ok();
    InstalledBinary {
        kind,
        path: exe.to_string_lossy().into_owned(),
        dir: dir.to_string_lossy().into_owned(),
        variant: validation
            .as_ref()
            .map(|v| v.variant.clone())
            .or(variant.as_ref().map(|v| v.variant.clone())),
        platform: variant.map(|v| v.platform),
        version: validation.as_ref().and_then(|v| v.version.clone()),
        verified: validation
            .as_ref()
            .is_some_and(|v| checksum.as_deref() == Some(v.checksum.as_str())),
        checksum,
        validated_at: validation.as_ref().map(|v| v.validated_at.clone()),
        phase1_passed: validation.as_ref().map(|v| v.phase1_passed),
        phase2_passed: validation.and_then(|v| v.phase2_passed),
    }
}

/// The engines installed in `binaries_root` (those whose executable is there).
pub fn list(binaries_root: &Path) -> Vec<InstalledBinary> {
    [BinaryKind::Llama, BinaryKind::Diffusion]
        .into_iter()
        .filter(|k| {
            let dir = binaries_root.join(k.as_str());
            dir.join(k.file_name()).is_file() || dir.join(format!("{}.exe", k.exe_name())).is_file()
        })
        .map(|k| describe(k, binaries_root))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llama::LlamaServerConfig;

    #[test]
    fn the_environment_fills_only_unset_binary_fields() {
        let given: LlamaServerConfig = serde_json::from_value(serde_json::json!({
            "modelId": "m", "binaryMirror": "http://mine/", "binariesDir": ""
        }))
        .unwrap();
        let env = BinaryEnv {
            binary_path: Some(" ".into()),
            binary_mirror: Some("http://env/".into()),
            binary_catalog: Some("/env/catalog.json".into()),
            binaries_dir: Some("/env/bundle".into()),
        };
        let filled = given.with_binary_env(env);
        assert_eq!(filled.binary_path, None, "a blank value is none");
        assert_eq!(filled.binary_mirror.as_deref(), Some("http://mine/"));
        assert_eq!(filled.binary_catalog.as_deref(), Some("/env/catalog.json"));
        assert_eq!(
            filled.binaries_dir.as_deref(),
            Some(""),
            "given, even empty"
        );
        let settings = filled.binary_settings();
        assert_eq!(settings.mirror.as_deref(), Some("http://mine/"));
        assert_eq!(settings.catalog, Some(PathBuf::from("/env/catalog.json")));
        assert_eq!(
            settings.binaries_dir, None,
            "an empty folder option is none"
        );
    }
}
