//! GGUF headers over HTTP: Range requests for a small prefix, extended only as far as the
//! header needs. A server without Range support is read as a stream and dropped once the header
//! is complete.

use super::{step, Header, ReadError, INITIAL_PREFIX};
use futures_util::StreamExt;

/// Reads the header at `url`. Returns it with the number of body bytes received.
pub async fn fetch_header(url: &str) -> Result<(Header, u64), ReadError> {
    let mut buf = Vec::new();
    let mut target = INITIAL_PREFIX;
    loop {
        let start = buf.len() as u64;
        let ended = fetch_range(url, &mut buf, start, target).await?;
        match step(&buf, ended)? {
            Ok(h) => return Ok((h, buf.len() as u64)),
            Err(next) => target = next,
        }
    }
}

/// Appends bytes `[start, end)` of `url` to `buf`. Returns true when the resource ended first.
async fn fetch_range(url: &str, buf: &mut Vec<u8>, start: u64, end: u64) -> Result<bool, ReadError> {
    let http = |e: reqwest::Error| ReadError::Io(format!("{e}"));
    let req = crate::http::get(url).map_err(ReadError::Io)?;
    let resp = req.header(reqwest::header::RANGE, format!("bytes={start}-{}", end - 1)).send().await.map_err(http)?;
    let status = resp.status();
    if status == reqwest::StatusCode::RANGE_NOT_SATISFIABLE {
        return Ok(true);
    }
    if !status.is_success() {
        return Err(ReadError::Http { status: status.as_u16(), message: status.canonical_reason().unwrap_or("").to_string() });
    }
    // 206: the range itself. 200: the whole file from byte 0 (skip what we already have).
    let mut skip = if status == reqwest::StatusCode::PARTIAL_CONTENT { 0 } else { start };
    let want = end - start;
    let mut got = 0u64;
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(http)?;
        let mut data = &chunk[..];
        let s = skip.min(data.len() as u64) as usize;
        data = &data[s..];
        skip -= s as u64;
        let take = (want - got).min(data.len() as u64) as usize;
        buf.extend_from_slice(&data[..take]);
        got += take as u64;
        if got >= want {
            return Ok(false); // dropping the stream closes the connection
        }
    }
    Ok(true)
}
