//! A real HTTP/1.1 file server on 127.0.0.1 (hyper) for download tests: serves files from
//! memory with Range support, counts the body bytes it sends, and injects faults on demand.

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::{Request, Response, StatusCode};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Close the connection after sending this many body bytes (once per request).
    pub cut_after: Option<u64>,
    /// Stop sending (but keep the connection open) after this many body bytes.
    pub stall_after: Option<u64>,
    /// Announce this Content-Length instead of the real one.
    pub wrong_length: Option<u64>,
    /// Answer every request with this status and an empty body.
    pub status: Option<u16>,
    /// Ignore Range headers (always 200 with the whole file).
    pub no_range: bool,
    /// Apply the faults to this many requests only, then serve normally (None: every request).
    pub times: Option<u32>,
}

#[derive(Default)]
struct State {
    files: HashMap<String, (Bytes, String)>, // path → (content, etag)
    faults: Faults,
    requests: Vec<(String, Option<String>, Option<String>)>, // (path, range, authorization)
}

#[derive(Clone)]
pub struct TestServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    sent: Arc<AtomicU64>,
}

impl TestServer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = TestServer {
            addr,
            state: Arc::default(),
            sent: Arc::default(),
        };
        let s = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let s = s.clone();
                        async move { Ok::<_, Infallible>(s.handle(req)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn put(&self, path: &str, content: impl Into<Bytes>) {
        let content = content.into();
        let etag = format!(
            "\"{:x}-{}\"",
            content.len(),
            content.iter().take(64).map(|&b| b as u64).sum::<u64>()
        );
        self.state
            .lock()
            .unwrap()
            .files
            .insert(path.to_string(), (content, etag));
    }

    pub fn set_faults(&self, faults: Faults) {
        self.state.lock().unwrap().faults = faults;
    }

    /// Body bytes sent so far (all requests), and reset the counter.
    pub fn take_sent(&self) -> u64 {
        self.sent.swap(0, Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<(String, Option<String>, Option<String>)> {
        self.state.lock().unwrap().requests.clone()
    }

    fn handle(
        &self,
        req: Request<hyper::body::Incoming>,
    ) -> Response<BoxBody<Bytes, std::io::Error>> {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (range, auth, if_range) =
            (header("range"), header("authorization"), header("if-range"));
        let path = req.uri().path().to_string();
        let mut st = self.state.lock().unwrap();
        st.requests.push((path.clone(), range.clone(), auth));
        let faults = match st.faults.times {
            Some(0) => Faults::default(),
            Some(n) => {
                st.faults.times = Some(n - 1);
                st.faults.clone()
            }
            None => st.faults.clone(),
        };
        let empty = |code: u16| {
            Response::builder()
                .status(code)
                .body(Full::new(Bytes::new()).map_err(|e| match e {}).boxed())
                .unwrap()
        };
        if let Some(code) = faults.status {
            return empty(code);
        }
        let Some((content, etag)) = st.files.get(&path).cloned() else {
            return empty(404);
        };
        drop(st);
        let total = content.len() as u64;
        let range =
            range.filter(|_| !faults.no_range && if_range.as_deref().is_none_or(|t| t == etag));
        let (status, start, end) = match range.as_deref().and_then(|r| parse_range(r, total)) {
            Some((a, b)) => (StatusCode::PARTIAL_CONTENT, a, b),
            None if range.is_some() => {
                return Response::builder()
                    .status(416)
                    .header("content-range", format!("bytes */{total}"))
                    .body(Full::new(Bytes::new()).map_err(|e| match e {}).boxed())
                    .unwrap();
            }
            None => (StatusCode::OK, 0, total),
        };
        let body = content.slice(start as usize..end as usize);
        let mut builder = Response::builder()
            .status(status)
            .header("etag", &etag)
            .header("content-length", faults.wrong_length.unwrap_or(end - start));
        if !faults.no_range {
            builder = builder.header("accept-ranges", "bytes");
        }
        if status == StatusCode::PARTIAL_CONTENT {
            builder = builder.header(
                "content-range",
                format!("bytes {start}-{}/{total}", end - 1),
            );
        }
        let sent = self.sent.clone();
        let stream = futures_util::stream::unfold((body, 0u64), move |(body, pos)| {
            let sent = sent.clone();
            async move {
                if pos >= body.len() as u64 {
                    return None;
                }
                if faults.stall_after.is_some_and(|n| pos >= n) {
                    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                }
                if faults.cut_after.is_some_and(|n| pos >= n) {
                    return Some((Err(std::io::Error::other("cut")), (body, u64::MAX)));
                }
                let limit = [faults.cut_after, faults.stall_after]
                    .into_iter()
                    .flatten()
                    .filter(|&n| n > pos)
                    .min()
                    .unwrap_or(u64::MAX);
                let n = (64 * 1024).min(body.len() as u64 - pos).min(limit - pos);
                let chunk = body.slice(pos as usize..(pos + n) as usize);
                sent.fetch_add(n, Ordering::SeqCst);
                Some((Ok(Frame::data(chunk)), (body, pos + n)))
            }
        });
        builder.body(StreamBody::new(stream).boxed()).unwrap()
    }
}

/// `bytes=a-b` / `bytes=a-` → [start, end) within `total`.
fn parse_range(r: &str, total: u64) -> Option<(u64, u64)> {
    let spec = r.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let start: u64 = a.parse().ok()?;
    let end = if b.is_empty() {
        total
    } else {
        b.parse::<u64>().ok()?.saturating_add(1).min(total)
    };
    (start < end).then_some((start, end))
}
