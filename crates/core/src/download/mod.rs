//! Downloads that never lose work: streamed to `<dest>.partial` (SHA-256 computed on the way when
//! a checksum is expected), a small journal (`<dest>.partial-journal`: URL, ETag, Last-Modified,
//! size) so an interrupted download resumes with an HTTP Range request (in this call after a
//! network cut or stall, or in a later call or process), a restart from zero when the server has
//! no Range support or the file changed, and an atomic rename into place only after the size,
//! the file's signature and the checksum are verified. Every request runs under
//! [`crate::http::Limits`] and ends promptly on cancel.

mod attempt;
mod progress;
mod writer;

use crate::{Error, ErrorCode, Result};
use attempt::{attempt, clear, journal_path, read_journal, Attempt, Interrupted, Target};
use progress::Reporter;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

pub use attempt::partial_path;

/// `(downloaded, total)` in bytes; `total` is 0 when the server gives no size.
pub type ProgressFn = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Progress is reported at most this often (genai-electron's rate), plus a final call.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Automatic resumes after a cut or stall within one call.
pub const MAX_RESUMES: u32 = 5;

/// What a probe before the download saw (the GGUF header read): an answer that differs is
/// refused, and nothing is moved into place.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expected {
    /// The file's size (the probe's `Content-Range` total).
    pub size: Option<u64>,
    /// The media type, compared without parameters.
    pub content_type: Option<String>,
    /// The file must start with the GGUF magic.
    pub gguf: bool,
}

#[derive(Clone)]
pub struct Request {
    pub url: String,
    pub destination: PathBuf,
    pub headers: Vec<(String, String)>,
    /// Hex SHA-256 (an optional `sha256:` prefix is allowed); a mismatch deletes the file.
    pub expected_sha256: Option<String>,
    pub expected: Expected,
    /// Response and low-speed limits of each request.
    pub limits: crate::http::Limits,
    /// Automatic resumes after a cut within one call.
    pub max_resumes: u32,
}

impl Request {
    pub fn new(url: &str, destination: &Path) -> Self {
        Request {
            url: url.to_string(),
            destination: destination.to_path_buf(),
            headers: Vec::new(),
            expected_sha256: None,
            expected: Expected::default(),
            limits: crate::http::DEFAULT_LIMITS,
            max_resumes: MAX_RESUMES,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub size: u64,
    /// Lowercase hex, computed when a checksum was expected.
    pub sha256: Option<String>,
    /// Bytes that were already on disk from an earlier, interrupted attempt.
    pub resumed_from: u64,
}

pub(crate) fn download_error(message: &str, details: serde_json::Value) -> Error {
    Error::new(ErrorCode::DownloadFailed, message, Some(details))
}

pub(crate) fn cancelled(url: &str) -> Error {
    download_error("Download cancelled", json!({ "url": url }))
}

const MISMATCH_HINT: &str = "The server answered the download differently from the probe before it (an error page or another file?). Check the URL.";

/// The answer to the download is not the file probed before it.
fn mismatch(
    req: &Request,
    what: &str,
    expected: serde_json::Value,
    actual: serde_json::Value,
) -> Error {
    download_error(
        &format!(
            "The server sent a different file than the one probed before download ({what} {actual} instead of {expected})"
        ),
        json!({ "url": req.url, "expected": { what: expected }, "actual": { what: actual }, "suggestion": MISMATCH_HINT }),
    )
}

/// One download at a time per `Downloader` (genai-electron's rule), cancellable from any thread.
#[derive(Default)]
pub struct Downloader {
    busy: AtomicBool,
    cancel: Mutex<Option<CancellationToken>>,
}

impl Downloader {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_downloading(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }

    /// Stops the running download; its partial file is kept so the next call resumes.
    pub fn cancel(&self) {
        if let Some(token) = self
            .cancel
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            token.cancel();
        }
    }

    pub async fn download(&self, req: &Request, progress: Option<ProgressFn>) -> Result<Outcome> {
        self.claim()?.download(req, progress).await
    }

    /// Holds the downloader for a multi-file flow (shards, components): one "download in
    /// progress" from the first file to the last. Released when dropped.
    pub fn claim(&self) -> Result<Claim<'_>> {
        if self.busy.swap(true, Ordering::SeqCst) {
            return Err(Error::new(
                ErrorCode::DownloadFailed,
                "Download already in progress",
                None,
            ));
        }
        let token = CancellationToken::new();
        *self.cancel.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
        Ok(Claim { owner: self, token })
    }
}

pub struct Claim<'a> {
    owner: &'a Downloader,
    token: CancellationToken,
}

impl Claim<'_> {
    /// Cancelled by [`Downloader::cancel`]: every stage of a flow under this claim waits on it.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    pub async fn download(&self, req: &Request, progress: Option<ProgressFn>) -> Result<Outcome> {
        download(req, progress, &self.token).await
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        *self.owner.cancel.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.owner.busy.store(false, Ordering::SeqCst);
    }
}

/// Downloads `req.url` to `req.destination`, resuming any earlier partial download of the same
/// URL. The transfer runs on a thread of its own with its own runtime and HTTP client, so that
/// the socket reads and the file writes happen on one core (as curl does) and blocking file I/O
/// never holds up the caller's runtime. Dropping the returned future cancels it.
pub async fn download(
    req: &Request,
    progress: Option<ProgressFn>,
    cancel: &CancellationToken,
) -> Result<Outcome> {
    let cancel = cancel.child_token();
    let _stop_when_dropped = cancel.clone().drop_guard();
    let (req, url) = (req.clone(), req.url.clone());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("genai-download".into())
        .spawn(move || {
            let result = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(transfer(&req, progress, &cancel)),
                Err(e) => Err(download_error(
                    "Download failed",
                    json!({ "url": req.url, "error": e.to_string() }),
                )),
            };
            let _ = tx.send(result);
        });
    let thread_failed =
        |e: String| download_error("Download failed", json!({ "url": url, "error": e }));
    spawned.map_err(|e| thread_failed(e.to_string()))?;
    rx.await
        .unwrap_or_else(|_| Err(thread_failed("the download thread ended".into())))
}

async fn transfer(
    req: &Request,
    progress: Option<ProgressFn>,
    cancel: &CancellationToken,
) -> Result<Outcome> {
    let client = crate::http::new_client()
        .map_err(|e| download_error("Download failed", json!({ "url": req.url, "error": e })))?;
    let partial = partial_path(&req.destination);
    let journal_file = journal_path(&req.destination);
    let mut reporter = Reporter::new(progress);
    let (mut resumes, mut stuck) = (0, 0);
    let mut first_offset = None;
    loop {
        let journal = read_journal(&journal_file).filter(|j| j.url() == req.url);
        let on_disk = tokio::fs::metadata(&partial)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        let offset = if journal.is_some() { on_disk } else { 0 };
        first_offset.get_or_insert(offset);
        let target = Target {
            partial: &partial,
            journal_file: &journal_file,
            journal,
            offset,
        };
        match attempt(req, &client, target, &mut reporter, cancel).await {
            Ok(Attempt::Done { size, hasher }) => {
                return finish(
                    req,
                    &partial,
                    &journal_file,
                    size,
                    hasher,
                    first_offset.unwrap_or(0),
                    &mut reporter,
                )
                .await;
            }
            Ok(Attempt::Restart) => continue,
            Err(Interrupted::Fatal(e)) => return Err(e),
            Err(Interrupted::Cut { error, progressed }) => {
                if cancel.is_cancelled() {
                    return Err(cancelled(&req.url));
                }
                // Resume while the transfer moves; a connection that yields nothing gets two more tries.
                resumes += 1;
                stuck = if progressed { 0 } else { stuck + 1 };
                if resumes > req.max_resumes || stuck > 2 {
                    return Err(download_error(
                        "Download failed",
                        json!({ "url": req.url, "error": error, "resumable": true }),
                    ));
                }
                let backoff = Duration::from_millis(200 * resumes as u64);
                tokio::select! {
                    _ = cancel.cancelled() => return Err(cancelled(&req.url)),
                    _ = tokio::time::sleep(backoff) => {}
                }
            }
        }
    }
}

/// Refuses to start when the destination's disk cannot hold what is left to download.
pub(super) fn check_space(destination: &Path, needed: u64) -> Result<()> {
    let dir = destination.parent().unwrap_or(destination);
    let Some(free) = crate::files::free_space(dir) else {
        return Ok(());
    };
    if needed <= free {
        return Ok(());
    }
    let f = |b: u64| crate::files::format_bytes(b as f64, 2);
    Err(Error::insufficient_resources(
        format!(
            "Not enough disk space to download {}",
            destination
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ),
        json!({ "required": f(needed), "available": f(free), "suggestion": "Free up disk space or delete unused models, then try again" }),
    ))
}

async fn finish(
    req: &Request,
    partial: &Path,
    journal_file: &Path,
    size: u64,
    hasher: Option<Sha256>,
    resumed_from: u64,
    reporter: &mut Reporter,
) -> Result<Outcome> {
    let sha256 = hasher.map(|h| crate::files::to_hex(&h.finalize()));
    if let Err(e) = verify(req, partial, size, sha256.as_deref()).await {
        clear(partial, journal_file).await;
        return Err(e);
    }
    tokio::fs::rename(partial, &req.destination)
        .await
        .map_err(|e| {
            Error::file_system(
                format!(
                    "Failed to move file from {} to {}",
                    partial.display(),
                    req.destination.display()
                ),
                partial,
                &e,
            )
        })?;
    let _ = tokio::fs::remove_file(journal_file).await;
    reporter.finish(size);
    Ok(Outcome {
        size,
        sha256,
        resumed_from,
    })
}

/// The complete partial file is the file expected: its size, its signature, its checksum.
async fn verify(req: &Request, partial: &Path, size: u64, sha256: Option<&str>) -> Result<()> {
    if let Some(want) = req.expected.size.filter(|w| *w != size) {
        return Err(mismatch(req, "size", json!(want), json!(size)));
    }
    if req.expected.gguf {
        let mut magic = [0u8; 4];
        let read = match tokio::fs::File::open(partial).await {
            Ok(mut f) => f.read_exact(&mut magic).await.is_ok(),
            Err(_) => false,
        };
        if !read || &magic != b"GGUF" {
            return Err(download_error(
                "Downloaded file is not a GGUF file",
                json!({ "url": req.url, "suggestion": MISMATCH_HINT }),
            ));
        }
    }
    if let (Some(expected), Some(actual)) = (&req.expected_sha256, sha256) {
        let expected = expected
            .strip_prefix("sha256:")
            .unwrap_or(expected)
            .trim()
            .to_ascii_lowercase();
        if expected != actual {
            return Err(Error::new(
                ErrorCode::Checksum,
                "SHA256 checksum mismatch",
                Some(
                    json!({ "expected": expected, "actual": actual, "suggestion": "The downloaded file may be corrupted. Try downloading again." }),
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_defaults() {
        let req = Request::new("http://h/x", Path::new("/tmp/x"));
        assert_eq!(req.limits, crate::http::DEFAULT_LIMITS);
        assert_eq!(req.max_resumes, 5);
        assert_eq!(req.expected, Expected::default());
        assert_eq!(req.expected_sha256, None);
    }
}
