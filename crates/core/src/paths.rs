//! genai-electron's on-disk layout under `userData`, and where `userData` is outside Electron.

use serde::Serialize;
use std::path::{Path, PathBuf};

/// Environment variable that sets `userData` in plain Node (and for the CLI).
pub const USER_DATA_ENV: &str = "GENAI_ELECTRON_USER_DATA";

/// `PATHS` (same keys as genai-electron 0.26: models, binaries, logs, config, temp, loras).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Paths {
    pub models: ModelPaths,
    pub binaries: BinaryPaths,
    pub logs: PathBuf,
    pub config: PathBuf,
    pub temp: PathBuf,
    pub loras: PathBuf,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelPaths {
    pub llm: PathBuf,
    pub diffusion: PathBuf,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BinaryPaths {
    pub llama: PathBuf,
    pub diffusion: PathBuf,
}

impl Paths {
    pub fn new(user_data: &Path) -> Self {
        let models = user_data.join("models");
        let binaries = user_data.join("binaries");
        Paths {
            models: ModelPaths {
                llm: models.join("llm"),
                diffusion: models.join("diffusion"),
            },
            binaries: BinaryPaths {
                llama: binaries.join("llama"),
                diffusion: binaries.join("diffusion"),
            },
            logs: user_data.join("logs"),
            config: user_data.join("config"),
            temp: user_data.join("temp"),
            loras: user_data.join("loras"),
        }
    }

    /// Every directory `ensureDirectories()` creates.
    pub fn all_dirs(&self) -> [&Path; 8] {
        [
            &self.models.llm,
            &self.models.diffusion,
            &self.binaries.llama,
            &self.binaries.diffusion,
            &self.logs,
            &self.config,
            &self.temp,
            &self.loras,
        ]
    }

    /// `ensureDirectories()`; fails with genai-electron's FileSystemError message.
    pub fn ensure_directories(&self) -> crate::Result<()> {
        for dir in self.all_dirs() {
            std::fs::create_dir_all(dir).map_err(|e| {
                crate::Error::file_system(
                    format!("Failed to create directory: {}", dir.display()),
                    dir,
                    &e,
                )
            })?;
        }
        Ok(())
    }
}

/// `userData` outside Electron: `$GENAI_ELECTRON_USER_DATA`, else the OS data folder
/// (`~/.local/share/genai-electron` or `$XDG_DATA_HOME/genai-electron`,
/// `~/Library/Application Support/genai-electron`, `%APPDATA%\genai-electron`).
pub fn default_user_data() -> PathBuf {
    user_data_from(|name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

fn user_data_from(env: impl Fn(&str) -> Option<PathBuf>) -> PathBuf {
    if let Some(dir) = env(USER_DATA_ENV) {
        return dir;
    }
    let home = || {
        env("HOME")
            .or_else(|| env("USERPROFILE"))
            .unwrap_or_else(std::env::temp_dir)
    };
    let base = match crate::platform::platform() {
        "darwin" => home().join("Library").join("Application Support"),
        "win32" => env("APPDATA").unwrap_or_else(|| home().join("AppData").join("Roaming")),
        _ => env("XDG_DATA_HOME").unwrap_or_else(|| home().join(".local").join("share")),
    };
    base.join("genai-electron")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_genai_electron() {
        let p = Paths::new(Path::new("/u"));
        assert_eq!(p.models.llm, Path::new("/u/models/llm"));
        assert_eq!(p.binaries.diffusion, Path::new("/u/binaries/diffusion"));
        assert_eq!(p.loras, Path::new("/u/loras"));
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["models"]["diffusion"], "/u/models/diffusion");
        assert_eq!(json["temp"], "/u/temp");
    }

    #[test]
    fn env_override_wins() {
        let d = user_data_from(|n| (n == USER_DATA_ENV).then(|| PathBuf::from("/x")));
        assert_eq!(d, Path::new("/x"));
        #[cfg(target_os = "linux")]
        {
            let d = user_data_from(|n| (n == "HOME").then(|| PathBuf::from("/home/a")));
            assert_eq!(d, Path::new("/home/a/.local/share/genai-electron"));
            let d = user_data_from(|n| match n {
                "HOME" => Some(PathBuf::from("/home/a")),
                "XDG_DATA_HOME" => Some(PathBuf::from("/xdg")),
                _ => None,
            });
            assert_eq!(d, Path::new("/xdg/genai-electron"));
        }
    }

    #[test]
    fn ensure_directories_creates_all() {
        let root = std::env::temp_dir().join(format!("genai-paths-{}", std::process::id()));
        let p = Paths::new(&root);
        p.ensure_directories().unwrap();
        assert!(p.all_dirs().iter().all(|d| d.is_dir()));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
