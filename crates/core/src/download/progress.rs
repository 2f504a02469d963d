//! Progress as genai-electron reports it.

use super::{ProgressFn, PROGRESS_INTERVAL};
use std::time::Instant;

/// genai-electron's progress rhythm: nothing in the first 100 ms, then at most every 100 ms,
/// and one final `(total, total)`. A panicking callback is contained; a callback that fails
/// changes nothing (upstream's download loop ignores a throwing `onProgress`, and the binding
/// calls it without waiting for an answer).
pub(super) struct Reporter {
    callback: Option<ProgressFn>,
    last: Instant,
    reported: Option<u64>,
}

impl Reporter {
    pub(super) fn new(callback: Option<ProgressFn>) -> Self {
        Reporter {
            callback,
            last: Instant::now(),
            reported: None,
        }
    }

    pub(super) fn report(&mut self, done: u64, total: u64) {
        if let Some(cb) = &self.callback {
            if self.last.elapsed() >= PROGRESS_INTERVAL && self.reported != Some(done) {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(done, total)));
                self.last = Instant::now();
                self.reported = Some(done);
            }
        }
    }

    pub(super) fn finish(&mut self, total: u64) {
        if let (Some(cb), true) = (&self.callback, total > 0) {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(total, total)));
        }
    }
}
