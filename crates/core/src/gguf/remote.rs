//! GGUF headers over HTTP: Range requests for a small prefix, extended only as far as the
//! header needs. A server without Range support is read as one stream, dropped as soon as the
//! header is complete.

use super::{step, Header, ReadError, INITIAL_PREFIX};
use futures_util::StreamExt;

/// Reads the header at `url`. Returns it with the number of body bytes received.
pub async fn fetch_header(url: &str) -> Result<(Header, u64), ReadError> {
    let http = |e: reqwest::Error| ReadError::Io(format!("{e}"));
    let mut buf = Vec::new();
    let mut target = INITIAL_PREFIX;
    loop {
        let start = buf.len() as u64;
        let req = crate::http::get(url).map_err(ReadError::Io)?;
        let resp = req
            .header(
                reqwest::header::RANGE,
                format!("bytes={start}-{}", target - 1),
            )
            .send()
            .await
            .map_err(http)?;
        let status = resp.status();
        let ranged = status == reqwest::StatusCode::PARTIAL_CONTENT;
        if status == reqwest::StatusCode::RANGE_NOT_SATISFIABLE {
            return step(&buf, true).and_then(|r| {
                r.map(|h| (h, buf.len() as u64))
                    .map_err(|_| ReadError::Parse("file ends inside the GGUF header".into()))
            });
        }
        if !status.is_success() {
            return Err(ReadError::Http {
                status: status.as_u16(),
                message: status.canonical_reason().unwrap_or("").to_string(),
            });
        }
        // 206: exactly the asked range. 200: the whole file from byte 0 (skip what we have),
        // read on until the header is complete.
        let mut skip = if ranged { 0 } else { start };
        let mut stream = resp.bytes_stream();
        let mut ended = true;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(http)?;
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
                    Ok(h) => return Ok((h, buf.len() as u64)),
                    Err(next) => target = next,
                }
            }
        }
        match step(&buf, ended)? {
            Ok(h) => return Ok((h, buf.len() as u64)),
            Err(next) => target = next,
        }
    }
}
