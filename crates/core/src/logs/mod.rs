//! Server logs in genai-electron's format (`[ISO time] [LEVEL] message`, LEVEL padded to 5),
//! with size-based rotation (`.log.1`, `.log.2`, …; the cost of a rotation grows with the archives
//! that exist, never with `maxArchives`), `getRecent`'s reading (`read`: the last N lines backwards
//! from the end, the whole file in one read) and llama.cpp's output mapped to levels (`llama`).

mod llama;
mod read;

pub use llama::{classify_llama_line, llama_level, strip_llama_formatting};
pub use read::RecentLines;

use crate::{Error, ErrorCode, Result};
use serde::Serialize;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub const DEFAULT_MAX_FILE_SIZE: u64 = 5 * 1024 * 1024;
pub const DEFAULT_MAX_ARCHIVES: u32 = 2;
/// The most archives a log keeps, whatever `maxArchives` asks (upstream renames every index up to
/// `maxArchives` on each rotation: `1e9` costs hours per write and `Infinity` never ends). Each
/// rotation renames the archives that exist, so this bounds its work and the disk it uses.
pub const MAX_LOG_ARCHIVES: u32 = 100;

/// `LogRotationConfig`, as the log applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// 0: never rotate.
    pub max_file_size: u64,
    /// 0: a rotation truncates the file.
    pub max_archives: u32,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            max_archives: DEFAULT_MAX_ARCHIVES,
        }
    }
}

impl Rotation {
    /// JavaScript numbers (`undefined` → the default) with upstream's meaning: a size that is not
    /// above 0 (or NaN) never rotates; archives ≤ 0 truncate; a count that is not a whole number
    /// (or NaN) keeps one archive, as upstream's loop does; more than `MAX_LOG_ARCHIVES` keeps that
    /// many.
    pub fn from_js(max_file_size: Option<f64>, max_archives: Option<f64>) -> Rotation {
        let max_file_size = max_file_size.map_or(DEFAULT_MAX_FILE_SIZE, |v| {
            if v > 0.0 {
                v as u64 // floors (a size is compared with whole byte counts) and saturates
            } else {
                0
            }
        });
        let max_archives = max_archives.map_or(DEFAULT_MAX_ARCHIVES, |v| {
            if v <= 0.0 {
                0
            } else if v >= f64::from(MAX_LOG_ARCHIVES) {
                MAX_LOG_ARCHIVES
            } else if v.fract() != 0.0 || v.is_nan() {
                1
            } else {
                v as u32
            }
        });
        Rotation {
            max_file_size,
            max_archives,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" => Some(Level::Warn),
            "error" => Some(Level::Error),
            _ => None,
        }
    }

    /// A level named by the caller: `info` when none is given or the name is not a level.
    pub fn parse_or_info(s: Option<&str>) -> Level {
        s.and_then(Level::parse).unwrap_or(Level::Info)
    }

    /// The name upstream's `parseEntry` returns (`info`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }

    fn upper(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO ",
            Level::Warn => "WARN ",
            Level::Error => "ERROR",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub timestamp: String,
    pub level: Level,
    pub message: String,
}

/// `LogManager.parseEntry(line)`: `[ts] [LEVEL ] message` with one of the four levels.
pub fn parse_entry(line: &str) -> Option<Entry> {
    let line = line.trim();
    let rest = line.strip_prefix('[')?;
    let (timestamp, rest) = rest.split_once("] [")?;
    let (level, message) = rest.split_once("] ")?;
    if timestamp.is_empty() || timestamp.contains(']') || message.is_empty() {
        return None;
    }
    let word = level.trim_end();
    if word.is_empty() || !word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some(Entry {
        timestamp: timestamp.to_string(),
        level: Level::parse(word)?,
        message: message.to_string(),
    })
}

fn fs_err(what: &str, path: &Path, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::FileSystem,
        format!("{what}: {e}"),
        Some(json!({ "path": path.to_string_lossy(), "error": e.to_string() })),
    )
}

/// One log file, written from any thread (writes are serialised).
pub struct LogFile {
    path: PathBuf,
    rotation: Rotation,
    size: Mutex<u64>,
}

impl LogFile {
    pub fn new(path: &Path, rotation: Rotation) -> Self {
        LogFile {
            path: path.to_path_buf(),
            rotation,
            size: Mutex::new(0),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn rotation(&self) -> Rotation {
        self.rotation
    }

    /// Creates the folder and learns the current size.
    pub fn initialize(&self) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| fs_err("Failed to initialize log directory", &self.path, e))?;
        }
        *self.size.lock().unwrap_or_else(|p| p.into_inner()) =
            std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        Ok(())
    }

    /// Appends one formatted line, rotating first when it would pass the size limit.
    pub fn write(&self, message: &str, level: Level) -> Result<()> {
        let line = format!(
            "[{}] [{}] {message}\n",
            crate::clock::iso_now(),
            level.upper()
        );
        let mut size = self.size.lock().unwrap_or_else(|p| p.into_inner());
        let limit = self.rotation.max_file_size;
        if limit > 0 && *size + line.len() as u64 > limit {
            self.rotate();
            *size = 0;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| fs_err("Failed to write to log file", &self.path, e))?;
        f.write_all(line.as_bytes())
            .map_err(|e| fs_err("Failed to write to log file", &self.path, e))?;
        *size += line.len() as u64;
        Ok(())
    }

    fn archive(&self, n: u32) -> PathBuf {
        let mut s = self.path.clone().into_os_string();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    }

    /// The archives below `below` that exist (`.log.1` …), newest first, found by listing the
    /// folder: the work grows with what is there, not with `maxArchives`.
    fn archives_below(&self, below: u32) -> Vec<u32> {
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return Vec::new();
        };
        let prefix = format!("{}.", name.to_string_lossy());
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut found: Vec<u32> = entries
            .filter_map(|e| {
                let file = e.ok()?.file_name();
                let n: u32 = file.to_str()?.strip_prefix(&prefix)?.parse().ok()?;
                // Only the names a rotation makes (`.3`, not `.03` or `.+3`).
                (n >= 1 && n < below && file.to_str()? == format!("{prefix}{n}")).then_some(n)
            })
            .collect();
        found.sort_unstable_by(|a, b| b.cmp(a));
        found
    }

    /// `.log.1` → `.log.2` …, the oldest dropped, the current file → `.log.1` (or truncated when
    /// no archives are kept). Failures are ignored, as upstream's.
    fn rotate(&self) {
        let keep = self.rotation.max_archives;
        if keep == 0 {
            let _ = std::fs::write(&self.path, b"");
            return;
        }
        for i in self.archives_below(keep) {
            let _ = std::fs::rename(self.archive(i), self.archive(i + 1));
        }
        let _ = std::fs::rename(&self.path, self.archive(1));
    }

    pub fn clear(&self) -> Result<()> {
        std::fs::write(&self.path, b"")
            .map_err(|e| fs_err("Failed to clear log file", &self.path, e))?;
        *self.size.lock().unwrap_or_else(|p| p.into_inner()) = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_log(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("genai-logs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("logs").join("llama-server.log")
    }

    #[test]
    fn format_and_parse_round_trip() {
        let path = temp_log("fmt");
        let log = LogFile::new(&path, Rotation::default());
        log.initialize().unwrap();
        log.write("Server is running and healthy", Level::Info)
            .unwrap();
        log.write("boom", Level::Error).unwrap();
        let lines = log.recent(10).unwrap();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].ends_with("] [INFO ] Server is running and healthy"),
            "{}",
            lines[0]
        );
        let e = parse_entry(&lines[1]).unwrap();
        assert_eq!((e.level, e.message.as_str()), (Level::Error, "boom"));
        assert_eq!(
            parse_entry("[2025-10-19T12:00:00.000Z] [DEBUG] x")
                .unwrap()
                .level,
            Level::Debug
        );
        assert_eq!(parse_entry("[t] [TRACE] x"), None);
        assert_eq!(parse_entry("no brackets"), None);
        log.clear().unwrap();
        assert!(log.recent(10).unwrap().is_empty());
    }

    fn sized(path: &Path, size: u64, archives: u32) -> LogFile {
        let log = LogFile::new(
            path,
            Rotation {
                max_file_size: size,
                max_archives: archives,
            },
        );
        log.initialize().unwrap();
        log
    }

    fn exists(path: &Path, n: u32) -> bool {
        Path::new(&format!("{}.{n}", path.display())).exists()
    }

    #[test]
    fn rotates_by_size() {
        let path = temp_log("rotate");
        let log = sized(&path, 200, 2);
        for i in 0..20 {
            log.write(&format!("line {i:02} {}", "x".repeat(40)), Level::Info)
                .unwrap();
        }
        let archive = |n: u32| std::fs::read_to_string(format!("{}.{n}", path.display())).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() <= 200);
        assert!(archive(1).contains("line 17") || archive(1).contains("line 18"));
        assert!(!archive(2).is_empty());
        assert!(!exists(&path, 3));
        assert!(log.recent(1).unwrap()[0].contains("line 19"));
    }

    #[test]
    fn rotation_js_numbers_and_the_archive_cap() {
        let r = |size: Option<f64>, archives: Option<f64>| Rotation::from_js(size, archives);
        assert_eq!(r(None, None), Rotation::default());
        assert_eq!(r(Some(1e9), Some(1e9)).max_archives, MAX_LOG_ARCHIVES);
        assert_eq!(r(None, Some(f64::INFINITY)).max_archives, MAX_LOG_ARCHIVES);
        assert_eq!(r(None, Some(3.0)).max_archives, 3);
        // Upstream's loop: a fraction or NaN keeps one archive, <= 0 truncates.
        for (given, kept) in [(2.5, 1), (f64::NAN, 1), (0.0, 0), (-4.0, 0)] {
            assert_eq!(r(None, Some(given)).max_archives, kept, "{given}");
        }
        for (given, size) in [(100.7, 100), (0.0, 0), (-1.0, 0), (f64::NAN, 0)] {
            assert_eq!(r(Some(given), None).max_file_size, size, "{given}");
        }
    }

    #[test]
    fn rotation_renames_only_the_archives_that_exist() {
        // A huge maxArchives (capped) costs as little as a small one, and never keeps more than
        // the cap; names a rotation does not make are left alone.
        let path = temp_log("cap");
        let log = sized(&path, 10, Rotation::from_js(None, Some(4e9)).max_archives);
        let stray = format!("{}.01", path.display());
        std::fs::write(&stray, "stray").unwrap();
        let beyond = MAX_LOG_ARCHIVES + 5;
        std::fs::write(format!("{}.{beyond}", path.display()), "old").unwrap();
        for i in 0..(MAX_LOG_ARCHIVES + 20) {
            log.write(&format!("line {i}"), Level::Info).unwrap();
        }
        assert!((1..=MAX_LOG_ARCHIVES).all(|n| exists(&path, n)));
        assert!(!exists(&path, MAX_LOG_ARCHIVES + 1));
        assert!(
            exists(&path, beyond),
            "an index beyond the cap is not touched"
        );
        assert_eq!(std::fs::read_to_string(&stray).unwrap(), "stray");
        let newest = std::fs::read_to_string(format!("{}.1", path.display())).unwrap();
        assert!(newest.contains(&format!("line {}", MAX_LOG_ARCHIVES + 18)));
        // A gap is kept as upstream's renames keep it: .1 → .2 while .3 → .4.
        let gap = temp_log("gap");
        let log = sized(&gap, 10, 5);
        for n in [1, 3] {
            std::fs::write(format!("{}.{n}", gap.display()), format!("a{n}")).unwrap();
        }
        log.write("x", Level::Info).unwrap(); // rotates first: the line is above 10 bytes
        let read = |n: u32| std::fs::read_to_string(format!("{}.{n}", gap.display())).unwrap();
        assert_eq!((read(2).as_str(), read(4).as_str()), ("a1", "a3"));
    }

    #[test]
    fn level_defaults_to_info() {
        assert_eq!(Level::parse_or_info(None), Level::Info);
        assert_eq!(Level::parse_or_info(Some("trace")), Level::Info);
        assert_eq!(Level::parse_or_info(Some("WARN")), Level::Warn);
    }
}
