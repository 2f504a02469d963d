//! One HTTP attempt of a download: ask (with Range + If-Range when resuming), check that a 206
//! continues the same file where we stopped, write the journal, then stream into the partial
//! file while hashing. A cut keeps what arrived; the caller decides whether to resume.

use super::progress::Reporter;
use super::{check_space, download_error, Request, PROGRESS_INTERVAL};
use crate::Error;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

/// What the next attempt needs to resume: which file, which version of it, how big.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(super) struct Journal {
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
    total: Option<u64>,
}

impl Journal {
    pub(super) fn url(&self) -> &str {
        &self.url
    }
}

pub fn partial_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// Not `.json`: metadata listings must never mistake it for a model.
pub(super) fn journal_path(dest: &Path) -> PathBuf {
    let mut s = partial_path(dest).into_os_string();
    s.push("-journal");
    PathBuf::from(s)
}

pub(super) fn read_journal(path: &Path) -> Option<Journal> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

pub(super) async fn clear(partial: &Path, journal: &Path) {
    let _ = tokio::fs::remove_file(partial).await;
    let _ = tokio::fs::remove_file(journal).await;
}

pub(super) enum Attempt {
    Done {
        size: u64,
        hasher: Sha256,
    },
    /// The server's answer means starting over from byte 0 (partial already cleared).
    Restart,
}

pub(super) enum Interrupted {
    Fatal(Error),
    /// Network cut, stall or cancel: the partial file and journal stay for a resume.
    Cut {
        error: String,
        progressed: bool,
    },
}

fn cut(error: impl Into<String>, progressed: bool) -> Interrupted {
    Interrupted::Cut {
        error: error.into(),
        progressed,
    }
}

fn fs_fatal(message: String, path: &Path, e: std::io::Error) -> Interrupted {
    Interrupted::Fatal(Error::file_system(message, path, &e))
}

fn write_error(partial: &Path, e: std::io::Error) -> Interrupted {
    fs_fatal(format!("Failed to write {}", partial.display()), partial, e)
}

/// Where an attempt writes, and what it resumes from.
pub(super) struct Target<'a> {
    pub partial: &'a Path,
    pub journal_file: &'a Path,
    pub journal: Option<Journal>,
    pub offset: u64,
}

/// The answer accepted for this attempt, before its body is read.
struct Accepted {
    resp: reqwest::Response,
    /// Where the body starts in the file (0 unless a 206 continues the partial file).
    start: u64,
    total: Option<u64>,
}

pub(super) async fn attempt(
    req: &Request,
    target: Target<'_>,
    reporter: &mut Reporter,
    cancel: &CancellationToken,
) -> Result<Attempt, Interrupted> {
    let Some(accepted) = ask(req, &target, cancel).await? else {
        clear(target.partial, target.journal_file).await;
        return Ok(Attempt::Restart);
    };
    if let Some(total) = accepted.total {
        let left = total.saturating_sub(accepted.start);
        check_space(&req.destination, left).map_err(Interrupted::Fatal)?;
    }
    write_journal(req, &target, &accepted).await?;
    let (hasher, out) = open_partial(target.partial, accepted.start).await?;
    stream_body(req, target.partial, accepted, hasher, out, reporter, cancel).await
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

/// Sends the request; `None` when the answer means starting over from byte 0.
async fn ask(
    req: &Request,
    target: &Target<'_>,
    cancel: &CancellationToken,
) -> Result<Option<Accepted>, Interrupted> {
    let mut builder = crate::http::get(&req.url).map_err(|e| {
        Interrupted::Fatal(download_error(
            "Download failed",
            json!({ "url": req.url, "error": e }),
        ))
    })?;
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let journal = target.journal.as_ref();
    if target.offset > 0 {
        let range = format!("bytes={}-", target.offset);
        builder = builder.header(reqwest::header::RANGE, range);
        if let Some(v) = journal.and_then(|j| j.etag.as_ref().or(j.last_modified.as_ref())) {
            builder = builder.header(reqwest::header::IF_RANGE, v.as_str());
        }
    }
    let resp = tokio::select! {
        r = builder.send() => r.map_err(|e| cut(e.to_string(), false))?,
        _ = cancel.cancelled() => return Err(cut("cancelled", false)),
    };
    let status = resp.status();
    if status == reqwest::StatusCode::RANGE_NOT_SATISFIABLE && target.offset > 0 {
        return Ok(None); // the partial no longer fits the file
    }
    if !status.is_success() {
        let reason = status.canonical_reason().unwrap_or("");
        return Err(Interrupted::Fatal(download_error(
            &format!("HTTP error: {} {reason}", status.as_u16()),
            json!({ "status": status.as_u16(), "url": req.url }),
        )));
    }
    Ok(accept(resp, target))
}

/// A 206 must continue exactly where we stopped, for the same version of the file.
fn accept(resp: reqwest::Response, target: &Target<'_>) -> Option<Accepted> {
    let length = resp.content_length();
    let resumed = resp.status() == reqwest::StatusCode::PARTIAL_CONTENT && target.offset > 0;
    if !resumed {
        return Some(Accepted {
            resp,
            start: 0,
            total: length,
        });
    }
    let range = content_range(&resp);
    let same_start = range.is_some_and(|(start, _)| start == target.offset);
    let (etag, modified) = (
        header(&resp, reqwest::header::ETAG),
        header(&resp, reqwest::header::LAST_MODIFIED),
    );
    let same_file = target.journal.as_ref().is_some_and(|j| {
        (j.etag.is_none() || j.etag == etag)
            && (j.last_modified.is_none() || j.last_modified == modified)
    });
    (same_start && same_file).then(|| Accepted {
        total: range
            .and_then(|(_, t)| t)
            .or(length.map(|l| l + target.offset)),
        start: target.offset,
        resp,
    })
}

async fn write_journal(
    req: &Request,
    target: &Target<'_>,
    accepted: &Accepted,
) -> Result<(), Interrupted> {
    let journal = Journal {
        url: req.url.clone(),
        etag: header(&accepted.resp, reqwest::header::ETAG),
        last_modified: header(&accepted.resp, reqwest::header::LAST_MODIFIED),
        total: accepted.total,
    };
    let bytes = serde_json::to_vec(&journal).unwrap_or_default();
    let path = target.journal_file;
    tokio::fs::write(path, bytes).await.map_err(|e| {
        let message = format!("Failed to write download journal: {}", path.display());
        fs_fatal(message, path, e)
    })
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

type PartialWriter = tokio::io::BufWriter<tokio::fs::File>;

/// The hash of the bytes already kept, and the partial file opened to append after them.
async fn open_partial(partial: &Path, start: u64) -> Result<(Sha256, PartialWriter), Interrupted> {
    let hasher = if start > 0 {
        hash_prefix(partial, start).await.map_err(|e| {
            let message = format!("Failed to read partial download: {}", partial.display());
            fs_fatal(message, partial, e)
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
        .map_err(|e| fs_fatal(format!("Failed to open {}", partial.display()), partial, e))?;
    Ok((hasher, tokio::io::BufWriter::with_capacity(1 << 20, file)))
}

async fn stream_body(
    req: &Request,
    partial: &Path,
    accepted: Accepted,
    mut hasher: Sha256,
    mut out: PartialWriter,
    reporter: &mut Reporter,
    cancel: &CancellationToken,
) -> Result<Attempt, Interrupted> {
    let Accepted { resp, start, total } = accepted;
    let mut size = start;
    let mut stream = resp.bytes_stream();
    let mut idle = Duration::ZERO;
    let result = loop {
        // Wait in short slices so progress is still reported when the data pauses.
        let next = tokio::select! {
            n = tokio::time::timeout(PROGRESS_INTERVAL, stream.next()) => n,
            _ = cancel.cancelled() => break Err(cut("cancelled", size > start)),
        };
        let Ok(next) = next else {
            reporter.report(size, total.unwrap_or(0));
            idle += PROGRESS_INTERVAL;
            if idle >= req.stall_timeout {
                let why = format!("no data for {:?}", req.stall_timeout);
                break Err(cut(why, size > start));
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
        let why = format!("connection closed after {size} of {total} bytes");
        return Err(cut(why, size > start));
    }
    out.into_inner()
        .sync_all()
        .await
        .map_err(|e| write_error(partial, e))?;
    Ok(Attempt::Done { size, hasher })
}
