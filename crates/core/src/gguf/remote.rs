//! GGUF headers over HTTP: Range requests for a small prefix, extended only as far as the
//! header needs. A server without Range support is read as one stream, dropped as soon as the
//! header is complete. Every request runs under [`Limits`] and ends when `cancel` is cancelled.

use super::{step, Header, ReadError, INITIAL_PREFIX};
use crate::http::{Body, Limits, NetError, DEFAULT_LIMITS};
use tokio_util::sync::CancellationToken;

/// A header read, and what the server said of the whole file (to compare with a download).
#[derive(Debug, Clone)]
pub struct Probe {
    pub header: Header,
    /// Body bytes received.
    pub received: u64,
    /// The file's size: the `Content-Range` total of a 206, the length of a 200.
    pub total: Option<u64>,
    pub content_type: Option<String>,
}

/// Reads the header at `url` with the default limits. Returns it with the number of body bytes
/// received.
pub async fn fetch_header(url: &str) -> Result<(Header, u64), ReadError> {
    let p = probe(url, &DEFAULT_LIMITS, &CancellationToken::new()).await?;
    Ok((p.header, p.received))
}

/// `fetchGGUFMetadata(url)` under `limits` and `cancel`: the probe, or genai-electron's
/// DownloadError (with the HTTP status in `details` when there was one).
pub async fn fetch_metadata(
    url: &str,
    limits: &Limits,
    cancel: &CancellationToken,
) -> crate::Result<Probe> {
    probe(url, limits, cancel).await.map_err(|e| {
        let suggestion = "Verify the URL points to a valid GGUF file and is accessible. Check network connectivity if the error persists.";
        let details = serde_json::json!({ "url": url, "suggestion": suggestion });
        super::read_error(
            format!("Failed to fetch GGUF metadata from URL: {e}"),
            details,
            &e,
        )
    })
}

fn net(e: NetError) -> ReadError {
    ReadError::Io(e.to_string())
}

/// `Content-Range: bytes a-b/total` → total.
fn range_total(resp: &reqwest::Response) -> Option<u64> {
    let v = resp.headers().get(reqwest::header::CONTENT_RANGE)?;
    v.to_str().ok()?.rsplit_once('/')?.1.trim().parse().ok()
}

/// The first answer's (total, content type).
type FileInfo = (Option<u64>, Option<String>);

fn done(header: Header, buf: &[u8], file: Option<FileInfo>) -> Result<Probe, ReadError> {
    let (total, content_type) = file.unwrap_or_default();
    Ok(Probe {
        header,
        received: buf.len() as u64,
        total,
        content_type,
    })
}

/// Reads the header at `url`.
pub async fn probe(
    url: &str,
    limits: &Limits,
    cancel: &CancellationToken,
) -> Result<Probe, ReadError> {
    let mut buf = Vec::new();
    let mut target = INITIAL_PREFIX;
    let mut file: Option<FileInfo> = None;
    loop {
        let start = buf.len() as u64;
        let req = crate::http::get(url).map_err(ReadError::Io)?.header(
            reqwest::header::RANGE,
            format!("bytes={start}-{}", target - 1),
        );
        let resp = crate::http::send(req, limits, cancel).await.map_err(net)?;
        let status = resp.status();
        let ranged = status == reqwest::StatusCode::PARTIAL_CONTENT;
        if status == reqwest::StatusCode::RANGE_NOT_SATISFIABLE {
            return match step(&buf, true)? {
                Ok(h) => done(h, &buf, file),
                Err(_) => Err(ReadError::Parse("file ends inside the GGUF header".into())),
            };
        }
        if !status.is_success() {
            return Err(ReadError::Http {
                status: status.as_u16(),
                message: status.canonical_reason().unwrap_or("").to_string(),
            });
        }
        file.get_or_insert_with(|| {
            let kind = resp.headers().get(reqwest::header::CONTENT_TYPE);
            let kind = kind.and_then(|v| v.to_str().ok()).map(str::to_string);
            let total = if ranged {
                range_total(&resp)
            } else {
                resp.content_length()
            };
            (total, kind)
        });
        // 206: exactly the asked range. 200: the whole file from byte 0 (skip what we have),
        // read on until the header is complete.
        let mut skip = if ranged { 0 } else { start };
        let mut body = Body::new(resp, limits, cancel);
        let mut ended = true;
        while let Some(chunk) = body.chunk().await.map_err(net)? {
            let s = skip.min(chunk.len() as u64) as usize;
            skip -= s as u64;
            let room = if ranged {
                (target - buf.len() as u64).min((chunk.len() - s) as u64) as usize
            } else {
                chunk.len() - s
            };
            buf.extend_from_slice(&chunk[s..s + room]);
            if buf.len() as u64 >= target {
                if ranged {
                    ended = false;
                    break;
                }
                match step(&buf, false)? {
                    Ok(h) => return done(h, &buf, file),
                    Err(next) => target = next,
                }
            }
        }
        match step(&buf, ended)? {
            Ok(h) => return done(h, &buf, file),
            Err(next) => target = next,
        }
    }
}
