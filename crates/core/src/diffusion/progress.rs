//! stable-diffusion.cpp's stdout, one line at a time as `process::spawn` splits it (on `\n` and
//! `\r`): the progress bars (tensor loading, sampling steps) and the log lines that mark a stage.
//!
//! sd.cpp draws a bar as `\r  |` + 50 cells + `| i/N - <speed>\033[K` and a newline only after
//! the last one; the speed is `1.23s/it` or `2.97it/s` for steps and `2.32GB/s` or `MB/s` for
//! tensor loading. Log lines are `[INFO ] file.cpp:LINE - message` (`--color` wraps the level in
//! ANSI codes). A marker must start the message, so a prompt echoed in a log line cannot fake one.

use std::borrow::Cow;

/// A log line that starts a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Marker {
    /// `generating image: 1/1 - seed 42`
    Generating,
    /// `sampling using Euler A method`
    Sampling,
    /// `decoding N latents` (any N)
    Decoding,
    /// `decode_first_stage completed, taking 0.13s`
    Decoded,
    /// `generate_image completed in 1.47s`
    Completed,
    /// `listening on: 127.0.0.1:1234` (sd-server is up)
    Listening,
}

/// What one stdout line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StdoutEvent {
    /// A step bar (sampling, or VAE tiling after `Decoding`): `step ≤ steps`, `steps > 0`.
    Step {
        step: u32,
        steps: u32,
    },
    /// The tensor-loading bar (sd.cpp counts tensors; the speed is in bytes per second).
    Bytes {
        done: u64,
        total: u64,
    },
    Marker(Marker),
}

/// The events of one line, bars first (in the order they appear), then the marker.
pub fn parse_line(line: &str) -> Vec<StdoutEvent> {
    let clean = strip_ansi(line);
    let mut events: Vec<StdoutEvent> = bars(&clean).filter_map(Bar::event).collect();
    if let Some(m) = marker(message(&clean)) {
        events.push(StdoutEvent::Marker(m));
    }
    events
}

/// A progress-bar line (step or loading bar): shown as progress, not written to the log file.
pub fn is_progress_bar(line: &str) -> bool {
    bars(&strip_ansi(line)).next().is_some()
}

/// The line without ANSI escape sequences (CSI `ESC [ … final`, and two-byte `ESC x`).
fn strip_ansi(line: &str) -> Cow<'_, str> {
    if !line.contains('\x1b') {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        // CSI: parameter and intermediate bytes, up to the final byte (`@`..`~`).
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    Cow::Owned(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BarKind {
    Step,
    Bytes,
}

/// `| <done>/<total> - <speed><unit>` as matched; the numbers still as digits.
#[derive(Debug, Clone, Copy)]
struct Bar<'a> {
    done: &'a str,
    total: &'a str,
    kind: BarKind,
}

impl Bar<'_> {
    fn event(self) -> Option<StdoutEvent> {
        match self.kind {
            BarKind::Step => {
                let steps: u32 = self.total.parse().ok().filter(|&n| n > 0)?;
                // Digits beyond u32 are still a bar; clamp them like any step past the end.
                let step = self.done.parse::<u32>().unwrap_or(u32::MAX).min(steps);
                Some(StdoutEvent::Step { step, steps })
            }
            BarKind::Bytes => Some(StdoutEvent::Bytes {
                done: self.done.parse().ok()?,
                total: self.total.parse().ok()?,
            }),
        }
    }
}

/// Every bar in the line: at each `|`, `\s*\d+/\d+\s*-\s*[\d.]+\s*` then a step unit
/// (`it/s`, `s/it`) or a byte-speed unit (`B/s`, `KB/s`, `MB/s`, `GB/s`).
fn bars(line: &str) -> impl Iterator<Item = Bar<'_>> {
    line.match_indices('|')
        .filter_map(move |(i, _)| bar_at(&line[i + 1..]))
}

fn bar_at(s: &str) -> Option<Bar<'_>> {
    let (done, s) = digits(s.trim_start())?;
    let (total, s) = digits(s.strip_prefix('/')?)?;
    let s = s.trim_start().strip_prefix('-')?.trim_start();
    let speed_len = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    if speed_len == 0 {
        return None;
    }
    let unit = s[speed_len..].trim_start();
    let kind = if unit.starts_with("it/s") || unit.starts_with("s/it") {
        BarKind::Step
    } else if ["B/s", "KB/s", "MB/s", "GB/s"]
        .iter()
        .any(|u| unit.starts_with(u))
    {
        BarKind::Bytes
    } else {
        return None;
    };
    Some(Bar { done, total, kind })
}

/// Leading ASCII digits (at least one) and the rest.
fn digits(s: &str) -> Option<(&str, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (end > 0).then(|| s.split_at(end))
}

/// The message of a log line: after `[LEVEL]` and `file.cpp:LINE - ` when present.
fn message(line: &str) -> &str {
    let s = line.trim();
    let s = match s.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((level, rest)) if is_level(level.trim()) => rest.trim_start(),
        _ => s,
    };
    match s.split_once(" - ") {
        Some((source, msg)) if is_source(source.trim_end()) => msg.trim_start(),
        _ => s,
    }
}

fn is_level(s: &str) -> bool {
    matches!(s, "INFO" | "WARN" | "DEBUG" | "ERROR" | "?????")
}

/// `file.cpp:123`
fn is_source(s: &str) -> bool {
    s.rsplit_once(':').is_some_and(|(file, line)| {
        !file.is_empty()
            && !file.contains(char::is_whitespace)
            && !line.is_empty()
            && line.bytes().all(|b| b.is_ascii_digit())
    })
}

fn marker(msg: &str) -> Option<Marker> {
    let msg = msg.trim_end();
    if msg.starts_with("generating image:") {
        Some(Marker::Generating)
    } else if msg.starts_with("sampling using ") && msg.ends_with(" method") {
        Some(Marker::Sampling)
    } else if is_decoding(msg) {
        Some(Marker::Decoding)
    } else if msg.starts_with("decode_first_stage completed") {
        Some(Marker::Decoded)
    } else if msg.starts_with("generate_image completed") {
        Some(Marker::Completed)
    } else if msg.starts_with("listening on:") {
        Some(Marker::Listening)
    } else {
        None
    }
}

/// `decoding N latents` for any N.
fn is_decoding(msg: &str) -> bool {
    msg.strip_prefix("decoding ")
        .and_then(digits)
        .is_some_and(|(_, rest)| rest.starts_with(" latents"))
}

#[cfg(test)]
#[path = "progress_tests.rs"]
pub(crate) mod tests;
