//! A real HTTP/1.1 file server on 127.0.0.1 (hyper) for download tests: serves files from
//! memory with Range support, counts the body bytes it sends, and injects faults on demand
//! (cuts, stalls, a trickle, silence, wrong lengths, another body for the full GET).

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
    /// Send the body this many bytes at a time, one piece per interval.
    pub trickle: Option<(u64, std::time::Duration)>,
    /// Read the request and never answer it.
    pub silent: bool,
    /// A GET without Range gets this body (200) with this content type instead of the file.
    pub full_body: Option<(Bytes, String)>,
    /// Apply the faults only to requests with this method (None: every method).
    pub method: Option<hyper::Method>,
    /// Apply the faults to this many requests only, then serve normally (None: every request).
    pub times: Option<u32>,
}

/// The content type of every file served.
pub const CONTENT_TYPE: &str = "application/octet-stream";

#[derive(Default)]
struct State {
    files: HashMap<String, (Bytes, String)>, // path → (content, etag)
    faults: Faults,
    requests: Vec<(String, Option<String>, Option<String>)>, // (path, range, authorization)
    methods: Vec<hyper::Method>,                             // of each request
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
                        async move {
                            match s.handle(req) {
                                Some(resp) => Ok::<_, Infallible>(resp),
                                None => std::future::pending().await,
                            }
                        }
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

    /// The method of each request so far.
    pub fn methods(&self) -> Vec<hyper::Method> {
        self.state.lock().unwrap().methods.clone()
    }

    /// The answer to `req`; `None`: never answer.
    fn handle(
        &self,
        req: Request<hyper::body::Incoming>,
    ) -> Option<Response<BoxBody<Bytes, std::io::Error>>> {
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
        st.methods.push(req.method().clone());
        let other_method = st.faults.method.as_ref().is_some_and(|m| m != req.method());
        let faults = match st.faults.times {
            _ if other_method => Faults::default(),
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
        if faults.silent {
            return None;
        }
        if let Some(code) = faults.status {
            return Some(empty(code));
        }
        let Some((mut content, etag)) = st.files.get(&path).cloned() else {
            return Some(empty(404));
        };
        drop(st);
        let mut content_type = CONTENT_TYPE.to_string();
        if let (None, Some((body, kind))) = (&range, &faults.full_body) {
            (content, content_type) = (body.clone(), kind.clone());
        }
        let total = content.len() as u64;
        let range =
            range.filter(|_| !faults.no_range && if_range.as_deref().is_none_or(|t| t == etag));
        let (status, start, end) = match range.as_deref().and_then(|r| parse_range(r, total)) {
            Some((a, b)) => (StatusCode::PARTIAL_CONTENT, a, b),
            None if range.is_some() => {
                return Some(
                    Response::builder()
                        .status(416)
                        .header("content-range", format!("bytes */{total}"))
                        .body(Full::new(Bytes::new()).map_err(|e| match e {}).boxed())
                        .unwrap(),
                );
            }
            None => (StatusCode::OK, 0, total),
        };
        let body = content.slice(start as usize..end as usize);
        let mut builder = Response::builder()
            .status(status)
            .header("etag", &etag)
            .header("content-type", content_type)
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
                let mut piece = 64 * 1024;
                if let Some((n, every)) = faults.trickle {
                    tokio::time::sleep(every).await;
                    piece = n;
                }
                let limit = [faults.cut_after, faults.stall_after]
                    .into_iter()
                    .flatten()
                    .filter(|&n| n > pos)
                    .min()
                    .unwrap_or(u64::MAX);
                let n = piece.min(body.len() as u64 - pos).min(limit - pos);
                let chunk = body.slice(pos as usize..(pos + n) as usize);
                sent.fetch_add(n, Ordering::SeqCst);
                Some((Ok(Frame::data(chunk)), (body, pos + n)))
            }
        });
        Some(builder.body(StreamBody::new(stream).boxed()).unwrap())
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
