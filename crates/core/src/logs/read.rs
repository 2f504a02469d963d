//! `getRecent(lines)`: the log's non-blank lines, `.slice(-lines)` as upstream takes them. The
//! last N lines are read backwards from the end in growing blocks, each byte read, scanned and
//! copied once; anything that needs the whole file reads it in one go. Either way the cost is
//! linear in what is read.

use super::{fs_err, LogFile};
use crate::Result;
use std::io::{Read, Seek, SeekFrom};

/// `getRecent(lines)`'s argument, as JavaScript's `-lines` sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum RecentLines {
    /// `undefined`: the default (100).
    Default,
    /// `ToNumber(lines)` (`'3'` is 3, `null` is 0, `'abc'` is NaN).
    Count(f64),
    /// `ToNumber(lines)` threw (a Symbol, a BigInt): its message.
    Unconvertible(String),
}

/// What `slice(-count)` keeps of the lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// The last n.
    Last(usize),
    /// All but the first k.
    From(usize),
}

/// `Array.prototype.slice(-count)`: the start is `ToIntegerOrInfinity(-count)`, counted from the
/// end when negative (so 0, NaN and Infinity keep everything, -1 drops the first line, 2.5 keeps
/// 2, -Infinity keeps nothing).
fn keep(count: f64) -> Keep {
    let start = -count;
    if start.is_nan() || start == f64::NEG_INFINITY {
        return Keep::From(0);
    }
    let start = start.trunc();
    if start < 0.0 {
        Keep::Last(-start as usize) // saturates: more lines than any file has
    } else {
        Keep::From(start as usize) // +Infinity saturates too: nothing is kept
    }
}

fn non_blank(line: &str) -> bool {
    !line.chars().all(crate::files::is_js_space)
}

/// A byte that makes its line non-blank whatever surrounds it: ASCII other than whitespace, or a
/// UTF-8 lead byte that starts no whitespace character (U+00A0, U+1680, U+2000…, U+3000, U+FEFF
/// start with C2, E1, E2, E3, EF). Others are left to the exact check, so the count of lines this
/// finds never exceeds the real one.
fn surely_content(b: u8) -> bool {
    !matches!(b, 0x09..=0x0d | 0x20 | 0x80..=0xbf | 0xc2 | 0xe1 | 0xe2 | 0xe3 | 0xef)
}

/// The bytes at the end of the file that hold at least `n` whole non-blank lines (or the whole
/// file), and whether they start at the beginning of the file.
fn tail(file: &mut std::fs::File, n: usize) -> std::io::Result<(Vec<u8>, bool)> {
    let mut pos = file.seek(SeekFrom::End(0))?;
    let mut blocks: Vec<Vec<u8>> = Vec::new(); // newest first
    let (mut found, mut content) = (0usize, false);
    let mut size = 64 * 1024u64;
    while pos > 0 && found < n {
        let step = size.min(pos);
        pos -= step;
        file.seek(SeekFrom::Start(pos))?;
        let mut block = vec![0u8; step as usize];
        file.read_exact(&mut block)?;
        for &b in block.iter().rev() {
            if b == b'\n' {
                found += usize::from(content);
                content = false;
            } else {
                content |= surely_content(b);
            }
        }
        blocks.push(block);
        size = (size * 2).min(8 << 20);
    }
    let mut bytes = Vec::with_capacity(blocks.iter().map(Vec::len).sum());
    for block in blocks.iter().rev() {
        bytes.extend_from_slice(block);
    }
    Ok((bytes, pos == 0))
}

impl LogFile {
    /// `getRecent(lines)`: upstream's `lines.filter(non-blank).slice(-lines)`; a missing file has
    /// no lines.
    pub fn get_recent(&self, lines: RecentLines) -> Result<Vec<String>> {
        let keep = match lines {
            RecentLines::Default => Keep::Last(crate::defaults::RECENT_LOG_LINES),
            RecentLines::Count(count) => keep(count),
            RecentLines::Unconvertible(why) => {
                // Upstream converts after it found the file: a missing one still gives [].
                return match std::fs::metadata(&self.path) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                    _ => Err(fs_err("Failed to read log file", &self.path, why)),
                };
            }
        };
        self.read_lines(keep)
    }

    /// The last `n` non-blank lines (default 100, as `getRecent()`), oldest first.
    pub fn recent(&self, n: impl Into<Option<usize>>) -> Result<Vec<String>> {
        self.read_lines(Keep::Last(
            n.into().unwrap_or(crate::defaults::RECENT_LOG_LINES),
        ))
    }

    fn read_lines(&self, keep: Keep) -> Result<Vec<String>> {
        let err = |e: std::io::Error| fs_err("Failed to read log file", &self.path, e);
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(err(e)),
        };
        let (bytes, whole) = match keep {
            Keep::Last(n) => tail(&mut file, n).map_err(err)?,
            Keep::From(_) => {
                let mut all = Vec::new();
                file.read_to_end(&mut all).map_err(err)?;
                (all, true)
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        // A tail that does not start the file starts inside a line: that piece is not a line.
        let skip_partial = usize::from(!whole);
        let lines: Vec<&str> = text
            .split('\n')
            .skip(skip_partial)
            .filter(|l| non_blank(l))
            .collect();
        let start = match keep {
            Keep::Last(n) => lines.len().saturating_sub(n),
            Keep::From(k) => k.min(lines.len()),
        };
        Ok(lines[start..].iter().map(|l| (*l).to_string()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::Rotation;

    fn log_with(tag: &str, body: &str) -> LogFile {
        let dir =
            std::env::temp_dir().join(format!("genai-logs-read-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.log");
        std::fs::write(&path, body).unwrap();
        LogFile::new(&path, Rotation::default())
    }

    #[test]
    fn slice_semantics_as_javascript() {
        let log = log_with("slice", "a\nb\n\n  \nc\r\nd\n");
        let get = |n: f64| log.get_recent(RecentLines::Count(n)).unwrap();
        let all = vec!["a", "b", "c\r", "d"];
        assert_eq!(log.get_recent(RecentLines::Default).unwrap(), all);
        assert_eq!(get(3.0), vec!["b", "c\r", "d"]);
        assert_eq!(get(-1.0), vec!["b", "c\r", "d"], "slice(1)");
        for everything in [0.0, -0.0, f64::NAN, f64::INFINITY, 0.5, 1e300] {
            assert_eq!(get(everything), all, "{everything}");
        }
        assert_eq!(get(f64::NEG_INFINITY), Vec::<String>::new());
        assert_eq!(get(-10.0), Vec::<String>::new());
        assert_eq!(get(2.5), vec!["c\r", "d"]);
        assert_eq!(get(-2.5), vec!["c\r", "d"], "slice(2.5) starts at 2");
        let e = log
            .get_recent(RecentLines::Unconvertible(
                "Cannot convert a Symbol value to a number".into(),
            ))
            .unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::FileSystem);
        assert_eq!(
            e.message,
            "Failed to read log file: Cannot convert a Symbol value to a number"
        );
        let missing = LogFile::new(&log.path.with_file_name("none.log"), Rotation::default());
        assert!(missing
            .get_recent(RecentLines::Unconvertible("x".into()))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn reads_backwards_across_blocks() {
        let body: String = (0..50_000).map(|i| format!("line {i}\n\n")).collect();
        let log = log_with("tail", &body);
        let last = log.recent(3).unwrap();
        assert_eq!(last, vec!["line 49997", "line 49998", "line 49999"]);
        assert_eq!(log.recent(30_000).unwrap().len(), 30_000);
        assert_eq!(log.recent(100_000).unwrap().len(), 50_000);
        let default = log.recent(None).unwrap();
        assert_eq!((default.len(), default[0].as_str()), (100, "line 49900"));
    }

    #[test]
    fn blank_is_javascripts_blank() {
        // Lines of Unicode spaces only are blank for `trim()`; a tail made of them must still
        // reach back to the lines asked for (the backwards count never over-counts).
        let filler = "\u{a0}\u{feff}\u{3000}\n".repeat(40_000);
        let body = format!("first\nsecond\n{filler}£\n\u{85}\n");
        let log = log_with("blank", &body);
        assert_eq!(
            log.recent(4).unwrap(),
            vec!["first", "second", "£", "\u{85}"]
        );
        assert_eq!(log.recent(2).unwrap(), vec!["£", "\u{85}"]);
    }
}
