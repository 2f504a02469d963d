//! One HTTP attempt of a download: ask (with Range + If-Range when resuming), check that a 206
//! continues the same file where we stopped and that the answer is the file probed before
//! (size, content type), write the journal, then stream into the partial file (hashing only
//! when a checksum is expected). A cut keeps what arrived; the caller decides whether to resume.

use super::progress::Reporter;
use super::writer::Writer;
use super::{check_space, download_error, mismatch, Request};
use crate::http::{Body, Event};
use crate::Error;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::time::Instant;
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
        /// The whole file's hash, when a checksum is expected.
        hasher: Option<Sha256>,
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
    client: &reqwest::Client,
    target: Target<'_>,
    reporter: &mut Reporter,
    cancel: &CancellationToken,
) -> Result<Attempt, Interrupted> {
    let Some(accepted) = ask(req, client, &target, cancel).await? else {
        clear(target.partial, target.journal_file).await;
        return Ok(Attempt::Restart);
    };
    if let Err(e) = check_expected(req, &accepted) {
        clear(target.partial, target.journal_file).await;
        return Err(Interrupted::Fatal(e));
    }
    if let Some(total) = accepted.total {
        let left = total.saturating_sub(accepted.start);
        check_space(&req.destination, left).map_err(Interrupted::Fatal)?;
    }
    write_journal(req, &target, &accepted).await?;
    stream_body(req, target.partial, accepted, reporter, cancel).await
}

/// The media type without parameters, lowercase.
fn media_type(value: &str) -> String {
    let kind = value.split(';').next().unwrap_or_default();
    kind.trim().to_ascii_lowercase()
}

/// The answer must be the file the caller probed before: same size, same content type.
fn check_expected(req: &Request, accepted: &Accepted) -> Result<(), Error> {
    let expected = &req.expected;
    if let (Some(want), Some(got)) = (expected.size, accepted.total) {
        if want != got {
            return Err(mismatch(req, "size", json!(want), json!(got)));
        }
    }
    let got = header(&accepted.resp, reqwest::header::CONTENT_TYPE).map(|v| media_type(&v));
    if let (Some(want), Some(got)) = (expected.content_type.as_deref().map(media_type), got) {
        if want != got {
            return Err(mismatch(req, "content type", json!(want), json!(got)));
        }
    }
    Ok(())
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
    client: &reqwest::Client,
    target: &Target<'_>,
    cancel: &CancellationToken,
) -> Result<Option<Accepted>, Interrupted> {
    let mut builder = crate::http::request_on(client, reqwest::Method::GET, &req.url);
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
    let resp = crate::http::send(builder, &req.limits, cancel)
        .await
        .map_err(|e| cut(e.to_string(), false))?;
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

async fn stream_body(
    req: &Request,
    partial: &Path,
    accepted: Accepted,
    reporter: &mut Reporter,
    cancel: &CancellationToken,
) -> Result<Attempt, Interrupted> {
    let Accepted { resp, start, total } = accepted;
    let hash = req.expected_sha256.is_some();
    let mut writer = Writer::open(partial, start, hash).map_err(Interrupted::Fatal)?;
    let mut body = Body::new(resp, &req.limits, cancel);
    let mut size = start;
    let result = loop {
        match body.next().await {
            Ok(Event::Data(chunk)) => {
                let (len, began) = (chunk.len() as u64, Instant::now());
                if let Err(e) = writer.write(chunk).await {
                    break Err(Interrupted::Fatal(e));
                }
                // Time on the disk (or the hash) is not the network's.
                body.pause(began.elapsed());
                size += len;
                reporter.report(size, total.unwrap_or(0));
            }
            Ok(Event::Tick) => reporter.report(size, total.unwrap_or(0)),
            Ok(Event::End) => break Ok(()),
            Err(e) => break Err(cut(e.to_string(), size > start)),
        }
    };
    let complete = result.is_ok() && total.is_none_or(|t| t == size);
    // Whatever happened, what reached us is on disk for the next attempt; synced when complete.
    let hasher = writer.close(complete).map_err(Interrupted::Fatal)?;
    result?;
    if let Some(total) = total.filter(|t| *t != size) {
        let why = format!("connection closed after {size} of {total} bytes");
        return Err(cut(why, size > start));
    }
    Ok(Attempt::Done { size, hasher })
}
