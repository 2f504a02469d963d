//! Downloads that never lose work: streamed to `<dest>.partial` with SHA-256 computed on the way,
//! a small journal (`<dest>.partial-journal`: URL, ETag, Last-Modified, size) so an interrupted
//! download resumes with an HTTP Range request (in this call after a network cut, or in a later
//! call or process), a restart from zero when the server has no Range support or the file
//! changed, and an atomic rename into place only after the size and checksum are verified.

use crate::{Error, ErrorCode, Result};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

/// `(downloaded, total)` in bytes; `total` is 0 when the server gives no size.
pub type ProgressFn = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Progress is reported at most this often (genai-electron's rate), plus a final call.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Clone)]
pub struct Request {
    pub url: String,
    pub destination: PathBuf,
    pub headers: Vec<(String, String)>,
    /// Hex SHA-256 (an optional `sha256:` prefix is allowed); a mismatch deletes the file.
    pub expected_sha256: Option<String>,
    /// A connection that sends nothing for this long counts as cut.
    pub stall_timeout: Duration,
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
            stall_timeout: Duration::from_secs(60),
            max_resumes: 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
    /// Bytes that were already on disk from an earlier, interrupted attempt.
    pub resumed_from: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Journal {
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
    total: Option<u64>,
}

pub fn partial_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// Not `.json`: metadata listings must never mistake it for a model.
fn journal_path(dest: &Path) -> PathBuf {
    let mut s = partial_path(dest).into_os_string();
    s.push("-journal");
    PathBuf::from(s)
}

fn download_error(message: &str, details: serde_json::Value) -> Error {
    Error::new(ErrorCode::DownloadFailed, message, Some(details))
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

/// Downloads `req.url` to `req.destination`, resuming any earlier partial download of the same URL.
pub async fn download(
    req: &Request,
    progress: Option<ProgressFn>,
    cancel: &CancellationToken,
) -> Result<Outcome> {
    let partial = partial_path(&req.destination);
    let journal_file = journal_path(&req.destination);
    let mut reporter = Reporter::new(progress);
    let (mut resumes, mut stuck) = (0, 0);
    let mut first_offset = None;
    loop {
        let journal = read_journal(&journal_file).filter(|j| j.url == req.url);
        let on_disk = tokio::fs::metadata(&partial)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        let offset = if journal.is_some() { on_disk } else { 0 };
        first_offset.get_or_insert(offset);
        match attempt(
            req,
            &partial,
            &journal_file,
            journal,
            offset,
            &mut reporter,
            cancel,
        )
        .await
        {
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
                    return Err(download_error(
                        "Download cancelled",
                        json!({ "url": req.url }),
                    ));
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
                tokio::time::sleep(Duration::from_millis(200 * resumes as u64)).await;
            }
        }
    }
}

enum Attempt {
    Done {
        size: u64,
        hasher: Sha256,
    },
    /// The server's answer means starting over from byte 0 (partial already cleared).
    Restart,
}

enum Interrupted {
    Fatal(Error),
    /// Network cut, stall or cancel: the partial file and journal stay for a resume.
    Cut {
        error: String,
        progressed: bool,
    },
}

fn read_journal(path: &Path) -> Option<Journal> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

async fn clear(partial: &Path, journal: &Path) {
    let _ = tokio::fs::remove_file(partial).await;
    let _ = tokio::fs::remove_file(journal).await;
}

fn header(resp: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `Content-Range: bytes a-b/total` → (a, total).
fn content_range(resp: &reqwest::Response) -> Option<(u64, Option<u64>)> {
    let v = header(resp, reqwest::header::CONTENT_RANGE)?;
    let rest = v.strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let start = range.split_once('-')?.0.trim().parse().ok()?;
    Some((start, total.trim().parse().ok()))
}

async fn hash_prefix(partial: &Path, len: u64) -> std::io::Result<Sha256> {
    let path = partial.to_path_buf();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        crate::files::sha256_reader(std::fs::File::open(&path)?.take(len))
    })
    .await
    .map_err(std::io::Error::other)?
}

async fn attempt(
    req: &Request,
    partial: &Path,
    journal_file: &Path,
    journal: Option<Journal>,
    offset: u64,
    reporter: &mut Reporter,
    cancel: &CancellationToken,
) -> std::result::Result<Attempt, Interrupted> {
    let fs_err = |msg: String, path: &Path, e: std::io::Error| {
        Interrupted::Fatal(Error::file_system(msg, path, &e))
    };
    let cut = |error: String, progressed: bool| Interrupted::Cut { error, progressed };
    let mut builder = crate::http::get(&req.url).map_err(|e| {
        Interrupted::Fatal(download_error(
            "Download failed",
            json!({ "url": req.url, "error": e }),
        ))
    })?;
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let validator = journal
        .as_ref()
        .and_then(|j| j.etag.clone().or_else(|| j.last_modified.clone()));
    if offset > 0 {
        builder = builder.header(reqwest::header::RANGE, format!("bytes={offset}-"));
        if let Some(v) = &validator {
            builder = builder.header(reqwest::header::IF_RANGE, v.as_str());
        }
    }
    let resp = tokio::select! {
        r = builder.send() => r.map_err(|e| cut(e.to_string(), false))?,
        _ = cancel.cancelled() => return Err(cut("cancelled".into(), false)),
    };
    let status = resp.status();
    if status == reqwest::StatusCode::RANGE_NOT_SATISFIABLE && offset > 0 {
        clear(partial, journal_file).await; // the partial no longer fits the file: start over
        return Ok(Attempt::Restart);
    }
    if !status.is_success() {
        let reason = status.canonical_reason().unwrap_or("");
        return Err(Interrupted::Fatal(download_error(
            &format!("HTTP error: {} {reason}", status.as_u16()),
            json!({ "status": status.as_u16(), "url": req.url }),
        )));
    }
    let etag = header(&resp, reqwest::header::ETAG);
    let last_modified = header(&resp, reqwest::header::LAST_MODIFIED);
    let length = resp.content_length();
    // A 206 must continue exactly where we stopped, for the same version of the file.
    let resumed = status == reqwest::StatusCode::PARTIAL_CONTENT && offset > 0;
    let range = content_range(&resp);
    if resumed {
        let same_start = range.is_some_and(|(start, _)| start == offset);
        let same_file = journal.as_ref().is_some_and(|j| {
            (j.etag.is_none() || j.etag == etag)
                && (j.last_modified.is_none() || j.last_modified == last_modified)
        });
        if !same_start || !same_file {
            clear(partial, journal_file).await;
            return Ok(Attempt::Restart);
        }
    }
    let start = if resumed { offset } else { 0 };
    let total = if resumed {
        range.and_then(|(_, t)| t).or(length.map(|l| l + start))
    } else {
        length
    };
    if let Some(total) = total {
        check_space(&req.destination, total.saturating_sub(start)).map_err(Interrupted::Fatal)?;
    }
    let new_journal = Journal {
        url: req.url.clone(),
        etag,
        last_modified,
        total,
    };
    let journal_bytes = serde_json::to_vec(&new_journal).unwrap_or_default();
    tokio::fs::write(journal_file, journal_bytes)
        .await
        .map_err(|e| {
            fs_err(
                format!(
                    "Failed to write download journal: {}",
                    journal_file.display()
                ),
                journal_file,
                e,
            )
        })?;
    let mut hasher = if start > 0 {
        hash_prefix(partial, start).await.map_err(|e| {
            fs_err(
                format!("Failed to read partial download: {}", partial.display()),
                partial,
                e,
            )
        })?
    } else {
        Sha256::new()
    };
    let file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(start > 0)
        .truncate(start == 0)
        .open(partial)
        .await
        .map_err(|e| fs_err(format!("Failed to open {}", partial.display()), partial, e))?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut size = start;
    let mut stream = resp.bytes_stream();
    let mut idle = Duration::ZERO;
    let result = loop {
        // Wait in short slices so progress is still reported when the data pauses.
        let next = tokio::select! {
            n = tokio::time::timeout(PROGRESS_INTERVAL, stream.next()) => n,
            _ = cancel.cancelled() => break Err(cut("cancelled".into(), size > start)),
        };
        let Ok(next) = next else {
            reporter.report(size, total.unwrap_or(0));
            idle += PROGRESS_INTERVAL;
            if idle >= req.stall_timeout {
                break Err(cut(
                    format!("no data for {:?}", req.stall_timeout),
                    size > start,
                ));
            }
            continue;
        };
        idle = Duration::ZERO;
        match next {
            None => break Ok(()),
            Some(Err(e)) => break Err(cut(e.to_string(), size > start)),
            Some(Ok(chunk)) => {
                if let Err(e) = out.write_all(&chunk).await {
                    break Err(write_error(partial, e));
                }
                hasher.update(&chunk);
                size += chunk.len() as u64;
                reporter.report(size, total.unwrap_or(0));
            }
        }
    };
    // Whatever happened, what reached us is kept on disk for the next attempt.
    let flushed = out.flush().await;
    result?;
    flushed.map_err(|e| write_error(partial, e))?;
    if let Some(total) = total.filter(|t| *t != size) {
        return Err(cut(
            format!("connection closed after {size} of {total} bytes"),
            size > start,
        ));
    }
    out.into_inner()
        .sync_all()
        .await
        .map_err(|e| write_error(partial, e))?;
    Ok(Attempt::Done { size, hasher })
}

fn write_error(partial: &Path, e: std::io::Error) -> Interrupted {
    Interrupted::Fatal(Error::file_system(
        format!("Failed to write {}", partial.display()),
        partial,
        &e,
    ))
}

/// Refuses to start when the destination's disk cannot hold what is left to download.
fn check_space(destination: &Path, needed: u64) -> Result<()> {
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
    hasher: Sha256,
    resumed_from: u64,
    reporter: &mut Reporter,
) -> Result<Outcome> {
    let sha256 = crate::files::to_hex(&hasher.finalize());
    if let Some(expected) = &req.expected_sha256 {
        let expected = expected
            .strip_prefix("sha256:")
            .unwrap_or(expected)
            .trim()
            .to_ascii_lowercase();
        if expected != sha256 {
            clear(partial, journal_file).await;
            return Err(Error::new(
                ErrorCode::Checksum,
                "SHA256 checksum mismatch",
                Some(
                    json!({ "expected": expected, "actual": sha256, "suggestion": "The downloaded file may be corrupted. Try downloading again." }),
                ),
            ));
        }
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

/// genai-electron's progress rhythm: nothing in the first 100 ms, then at most every 100 ms,
/// and one final `(total, total)`. A panicking callback is contained.
struct Reporter {
    callback: Option<ProgressFn>,
    last: Instant,
    reported: Option<u64>,
}

impl Reporter {
    fn new(callback: Option<ProgressFn>) -> Self {
        Reporter {
            callback,
            last: Instant::now(),
            reported: None,
        }
    }

    fn report(&mut self, done: u64, total: u64) {
        if let Some(cb) = &self.callback {
            if self.last.elapsed() >= PROGRESS_INTERVAL && self.reported != Some(done) {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(done, total)));
                self.last = Instant::now();
                self.reported = Some(done);
            }
        }
    }

    fn finish(&mut self, total: u64) {
        if let (Some(cb), true) = (&self.callback, total > 0) {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(total, total)));
        }
    }
}
