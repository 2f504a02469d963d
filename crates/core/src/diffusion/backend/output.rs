//! sd-server's output: every line to the caller, the last 16 KiB of each stream (progress bars
//! left out) kept for error details, `listening on:` noticed (readiness is near), and the exit
//! handed to the pid record, the waiters and the requests in flight.

use crate::process::{self, Event, Exit, PidRecord};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

/// How much of each stream is kept for error details.
pub const TAIL_MAX_BYTES: usize = 16 * 1024;
const LISTENING_MARKER: &str = "listening on:";

/// Which pipe a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Receives every output line (the manager logs it and feeds the progress parser).
pub type LineFn = Arc<dyn Fn(&str, Stream) + Send + Sync>;

use crate::diffusion::progress::is_progress_bar;

/// The last lines of one stream, at most `TAIL_MAX_BYTES`.
#[derive(Default)]
pub(super) struct Tail {
    lines: VecDeque<String>,
    bytes: usize,
}

impl Tail {
    fn push(&mut self, line: &str) {
        let mut line = line;
        if line.len() >= TAIL_MAX_BYTES {
            let mut cut = line.len() - (TAIL_MAX_BYTES - 1);
            while !line.is_char_boundary(cut) {
                cut += 1;
            }
            line = &line[cut..];
        }
        self.bytes += line.len() + 1;
        self.lines.push_back(line.to_string());
        while self.bytes > TAIL_MAX_BYTES {
            let Some(old) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= old.len() + 1;
        }
    }

    /// Each line followed by `\n`, as upstream's tails.
    fn text(&self) -> String {
        self.lines.iter().flat_map(|l| [l.as_str(), "\n"]).collect()
    }
}

/// What the output threads and the async side share.
pub(super) struct Output {
    stdout: Mutex<Tail>,
    stderr: Mutex<Tail>,
    /// `listening on:` was logged.
    pub(super) listened: AtomicBool,
    pub(super) listening: Notify,
    pub(super) exit: watch::Sender<Option<Exit>>,
    /// Cancelled when the child exits or is stopped: ends every request to it.
    pub(super) lifetime: CancellationToken,
}

impl Output {
    pub(super) fn new() -> Self {
        Output {
            stdout: Mutex::default(),
            stderr: Mutex::default(),
            listened: AtomicBool::new(false),
            listening: Notify::new(),
            exit: watch::channel(None).0,
            lifetime: CancellationToken::new(),
        }
    }

    pub(super) fn tail(&self, stream: Stream) -> String {
        let tail = match stream {
            Stream::Stdout => &self.stdout,
            Stream::Stderr => &self.stderr,
        };
        tail.lock().unwrap_or_else(|p| p.into_inner()).text()
    }

    fn line(&self, line: &str, stream: Stream, on_line: &LineFn) {
        if line.trim().is_empty() {
            return;
        }
        if !is_progress_bar(line) {
            let tail = match stream {
                Stream::Stdout => &self.stdout,
                Stream::Stderr => &self.stderr,
            };
            tail.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
        if line.contains(LISTENING_MARKER) {
            self.listened.store(true, Ordering::SeqCst);
            self.listening.notify_one();
        }
        // A panicking callback must not end the pump (the child would block on a full pipe).
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| on_line(line, stream)));
    }
}

/// Output lines to the tails and the caller; the exit to the record, the waiters and the token.
pub(super) fn sink(out: &Arc<Output>, on_line: &LineFn, record: &PidRecord) -> process::EventFn {
    let (out, on_line, record) = (out.clone(), on_line.clone(), record.clone());
    Arc::new(move |event| match event {
        Event::Stdout(line) => out.line(&line, Stream::Stdout, &on_line),
        Event::Stderr(line) => out.line(&line, Stream::Stderr, &on_line),
        Event::Exited(exit) => {
            record.drop_if_gone();
            // The exit first: whoever sees a request cancelled can read why.
            out.exit.send_replace(Some(exit));
            out.lifetime.cancel();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_keep_the_last_16_kib() {
        let mut t = Tail::default();
        t.push("first");
        t.push("second");
        assert_eq!(t.text(), "first\nsecond\n");
        for i in 0..2000 {
            t.push(&format!("line {i:05} {}", "x".repeat(20)));
        }
        let text = t.text();
        assert!(text.len() <= TAIL_MAX_BYTES, "{}", text.len());
        assert!(text.ends_with(&format!("line 01999 {}\n", "x".repeat(20))));
        assert!(!text.contains("first"));
        // One huge line keeps its end, on a character boundary.
        let mut t = Tail::default();
        t.push(&"é".repeat(TAIL_MAX_BYTES));
        let text = t.text();
        assert!(text.len() <= TAIL_MAX_BYTES && text.ends_with("é\n"));
    }
}
