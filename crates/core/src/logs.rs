//! Server logs in genai-electron's format (`[ISO time] [LEVEL] message`, LEVEL padded to 5),
//! with size-based rotation (`.log.1`, `.log.2`, …), reading the last N lines backwards from the
//! end of the file (cost grows with N, not with the file), and llama.cpp's output mapped to
//! levels for both its old and its modern line formats.

use crate::{Error, ErrorCode, Result};
use serde::Serialize;
use serde_json::json;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub const DEFAULT_MAX_FILE_SIZE: u64 = 5 * 1024 * 1024;
pub const DEFAULT_MAX_ARCHIVES: u32 = 2;

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

fn fs_err(what: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::new(
        ErrorCode::FileSystem,
        format!("{what}: {e}"),
        Some(json!({ "path": path.to_string_lossy(), "error": e.to_string() })),
    )
}

/// One log file, written from any thread (writes are serialised).
pub struct LogFile {
    path: PathBuf,
    max_file_size: u64,
    max_archives: u32,
    size: Mutex<u64>,
}

impl LogFile {
    pub fn new(path: &Path, max_file_size: Option<u64>, max_archives: Option<u32>) -> Self {
        LogFile {
            path: path.to_path_buf(),
            max_file_size: max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE),
            max_archives: max_archives.unwrap_or(DEFAULT_MAX_ARCHIVES),
            size: Mutex::new(0),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the folder and learns the current size.
    pub fn initialize(&self) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| fs_err("Failed to initialize log directory", &self.path, &e))?;
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
        if self.max_file_size > 0 && *size + line.len() as u64 > self.max_file_size {
            self.rotate();
            *size = 0;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| fs_err("Failed to write to log file", &self.path, &e))?;
        f.write_all(line.as_bytes())
            .map_err(|e| fs_err("Failed to write to log file", &self.path, &e))?;
        *size += line.len() as u64;
        Ok(())
    }

    fn archive(&self, n: u32) -> PathBuf {
        let mut s = self.path.clone().into_os_string();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    }

    /// `.log.1` → `.log.2` …, the oldest dropped, the current file → `.log.1` (or truncated when
    /// no archives are kept).
    fn rotate(&self) {
        if self.max_archives == 0 {
            let _ = std::fs::write(&self.path, b"");
            return;
        }
        for i in (1..self.max_archives).rev() {
            let _ = std::fs::rename(self.archive(i), self.archive(i + 1));
        }
        let _ = std::fs::rename(&self.path, self.archive(1));
    }

    /// The last `n` non-blank lines (default 100, as `getRecent()`), oldest first, read backwards
    /// from the end of the file.
    pub fn recent(&self, n: impl Into<Option<usize>>) -> Result<Vec<String>> {
        let n = n.into().unwrap_or(crate::defaults::RECENT_LOG_LINES);
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(fs_err("Failed to read log file", &self.path, &e)),
        };
        let err = |e: std::io::Error| fs_err("Failed to read log file", &self.path, &e);
        let mut pos = file.seek(SeekFrom::End(0)).map_err(err)?;
        let mut tail: Vec<u8> = Vec::new();
        let mut block = 64 * 1024u64;
        // Read blocks from the end until the tail holds more than n non-blank lines (the first
        // one may be cut) or the start of the file is reached.
        let lines_in = |t: &[u8]| {
            t.split(|&b| b == b'\n')
                .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
                .count()
        };
        while pos > 0 && lines_in(&tail) <= n {
            let step = block.min(pos);
            pos -= step;
            file.seek(SeekFrom::Start(pos)).map_err(err)?;
            let mut buf = vec![0u8; step as usize];
            file.read_exact(&mut buf).map_err(err)?;
            buf.extend_from_slice(&tail);
            tail = buf;
            block = (block * 2).min(8 << 20);
        }
        let text = String::from_utf8_lossy(&tail);
        let mut lines: Vec<&str> = text.split('\n').collect();
        if pos > 0 {
            lines.remove(0); // a partial first line
        }
        let kept: Vec<String> = lines
            .into_iter()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect();
        Ok(kept[kept.len().saturating_sub(n)..].to_vec())
    }

    pub fn clear(&self) -> Result<()> {
        std::fs::write(&self.path, b"")
            .map_err(|e| fs_err("Failed to clear log file", &self.path, &e))?;
        *self.size.lock().unwrap_or_else(|p| p.into_inner()) = 0;
        Ok(())
    }
}

/// Modern llama.cpp prefix `0.00.344.987 I ` → (level letter, rest).
fn modern_prefix(line: &str) -> Option<(char, &str)> {
    let (stamp, rest) = line.split_once(' ')?;
    if stamp.is_empty()
        || !stamp.chars().all(|c| c.is_ascii_digit() || c == '.')
        || stamp.matches('.').count() < 2
    {
        return None;
    }
    let mut chars = rest.chars();
    let letter = chars.next()?;
    let rest = chars.as_str();
    (matches!(letter, 'I' | 'W' | 'E' | 'D') && rest.starts_with(' '))
        .then(|| (letter, rest.trim_start()))
}

/// A llama.cpp output line → (level, message to log). Modern lines keep their own level (an
/// `I` line still gets genai-electron's heuristics, which demote template dumps and slot noise);
/// old lines get the heuristics and lose an existing `[..] [..]` prefix.
pub fn classify_llama_line(line: &str) -> (Level, String) {
    if let Some((letter, rest)) = modern_prefix(line) {
        let level = match letter {
            'E' => Level::Error,
            'W' => Level::Warn,
            'D' => Level::Debug,
            _ => llama_level(rest),
        };
        return (level, rest.to_string());
    }
    (llama_level(line), strip_llama_formatting(line).to_string())
}

/// genai-electron's `parseLlamaCppLogLevel` heuristics.
pub fn llama_level(line: &str) -> Level {
    let l = line.to_lowercase();
    let has = |s: &str| l.contains(s);
    let status = |first: &[u8]| {
        let b = l.as_bytes();
        (0..b.len().saturating_sub(3)).any(|i| {
            b[i].is_ascii_whitespace()
                && first.contains(&b[i + 1])
                && b[i + 2].is_ascii_digit()
                && b[i + 3].is_ascii_digit()
                && b.get(i + 4).is_none_or(|c| c.is_ascii_whitespace())
        })
    };
    if has("{%") || has("{{") || has("example_format:") {
        Level::Debug
    } else if has("request:") && status(b"2") {
        Level::Info
    } else if has("request:") && status(b"45") {
        Level::Error
    } else if has("slot")
        && [
            "update_slots",
            "launch_slot",
            "release",
            "get_availabl",
            "print_timing",
        ]
        .iter()
        .any(|s| has(s))
    {
        Level::Debug
    } else if [
        "server is listening",
        "all slots are idle",
        "main:",
        "params_from_",
    ]
    .iter()
    .any(|s| has(s))
    {
        Level::Info
    } else if ["failed", "error:", "exception", "fatal"]
        .iter()
        .any(|s| has(s))
    {
        Level::Error
    } else if has("warn") {
        Level::Warn
    } else {
        Level::Info
    }
}

/// genai-electron's `stripLlamaCppFormatting`: drops a `[a] [b] ` (or `[a] `) prefix.
pub fn strip_llama_formatting(line: &str) -> &str {
    fn bracket(s: &str) -> Option<&str> {
        let rest = s.strip_prefix('[')?;
        let end = rest.find(']')?;
        (end > 0).then(|| rest[end + 1..].trim_start())
    }
    // `[a] [b] msg`, possibly after other text
    fn two(s: &str) -> Option<&str> {
        bracket(s)
            .and_then(bracket)
            .filter(|m| !m.trim().is_empty())
    }
    if let Some(m) = two(line) {
        return m.trim();
    }
    if let Some(m) = line
        .char_indices()
        .filter(|(_, c)| *c == '[')
        .find_map(|(i, _)| two(&line[i..]))
    {
        return m.trim();
    }
    match bracket(line).filter(|m| !m.trim().is_empty()) {
        Some(m) => m.trim(),
        None => line,
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
        let log = LogFile::new(&path, None, None);
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

    #[test]
    fn rotates_by_size() {
        let path = temp_log("rotate");
        let log = LogFile::new(&path, Some(200), Some(2));
        log.initialize().unwrap();
        for i in 0..20 {
            log.write(&format!("line {i:02} {}", "x".repeat(40)), Level::Info)
                .unwrap();
        }
        let archive = |n: u32| std::fs::read_to_string(format!("{}.{n}", path.display())).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() <= 200);
        assert!(archive(1).contains("line 17") || archive(1).contains("line 18"));
        assert!(!archive(2).is_empty());
        assert!(!std::path::Path::new(&format!("{}.3", path.display())).exists());
        assert!(log.recent(1).unwrap()[0].contains("line 19"));
    }

    #[test]
    fn recent_reads_backwards_across_blocks() {
        let path = temp_log("tail");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let body: String = (0..50_000).map(|i| format!("line {i}\n\n")).collect();
        std::fs::write(&path, body).unwrap();
        let log = LogFile::new(&path, None, None);
        let last = log.recent(3).unwrap();
        assert_eq!(last, vec!["line 49997", "line 49998", "line 49999"]);
        assert_eq!(log.recent(30_000).unwrap().len(), 30_000);
        assert_eq!(log.recent(100_000).unwrap().len(), 50_000);
        let default = log.recent(None).unwrap();
        assert_eq!((default.len(), default[0].as_str()), (100, "line 49900"));
    }

    #[test]
    fn level_defaults_to_info() {
        assert_eq!(Level::parse_or_info(None), Level::Info);
        assert_eq!(Level::parse_or_info(Some("trace")), Level::Info);
        assert_eq!(Level::parse_or_info(Some("WARN")), Level::Warn);
    }

    #[test]
    fn llama_lines() {
        assert_eq!(
            classify_llama_line(
                "0.00.344.987 I srv  llama_server: listening on http://127.0.0.1:18080"
            ),
            (
                Level::Info,
                "srv  llama_server: listening on http://127.0.0.1:18080".into()
            )
        );
        assert_eq!(
            classify_llama_line("0.01.000.001 W load: special tokens cache size = 17").0,
            Level::Warn
        );
        assert_eq!(
            classify_llama_line("0.01.000.001 E main: failed to load model").0,
            Level::Error
        );
        assert_eq!(
            classify_llama_line(
                "0.01.000.001 I slot launch_slot_: id  0 | task 0 | processing task"
            )
            .0,
            Level::Debug
        );
        assert_eq!(
            llama_level("srv  log_server_r: request: POST /v1/chat/completions 127.0.0.1 200"),
            Level::Info
        );
        assert_eq!(
            llama_level("srv  log_server_r: request: GET /health 127.0.0.1 503"),
            Level::Error
        );
        assert_eq!(llama_level("{{- bos_token }}"), Level::Debug);
        assert_eq!(
            llama_level("llama_model_load: error: failed to open"),
            Level::Error
        );
        assert_eq!(llama_level("warning: no usable GPU found"), Level::Warn);
        assert_eq!(
            llama_level("load_tensors: CPU model buffer size = 69.58 MiB"),
            Level::Info
        );
        assert_eq!(
            strip_llama_formatting("[1700000000] [INFO] model loaded"),
            "model loaded"
        );
        assert_eq!(strip_llama_formatting("prefix [a] [b] msg"), "msg");
        assert_eq!(strip_llama_formatting("[ts] msg"), "msg");
        assert_eq!(strip_llama_formatting("plain line"), "plain line");
    }
}
