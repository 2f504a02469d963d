//! The one HTTP client (reqwest + rustls with the ring provider) used for downloads, size probes
//! and remote GGUF reads, and the limits every request runs under: a connect timeout, a deadline
//! for the response headers, and a low-speed limit on bodies as curl's `--speed-limit` /
//! `--speed-time` (fewer than `low_speed_limit` bytes/s over `low_speed_time` counts as a stall).
//! Every wait also ends when its cancellation token is cancelled.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::LazyLock;
use std::time::{Duration, Instant};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// TCP (and TLS) connection set-up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// From sending a request to its response headers, connection and redirects included.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(20);
/// A body slower than this many bytes per second over [`LOW_SPEED_TIME`] counts as stalled.
pub const LOW_SPEED_LIMIT: u64 = 16 * 1024;
pub const LOW_SPEED_TIME: Duration = Duration::from_secs(20);
/// How often a body read wakes without data (stall checks, progress).
pub const TICK: Duration = Duration::from_millis(100);

/// The time limits of one request; tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub response: Duration,
    pub low_speed_limit: u64,
    pub low_speed_time: Duration,
}

pub const DEFAULT_LIMITS: Limits = Limits {
    response: RESPONSE_TIMEOUT,
    low_speed_limit: LOW_SPEED_LIMIT,
    low_speed_time: LOW_SPEED_TIME,
};

impl Default for Limits {
    fn default() -> Self {
        DEFAULT_LIMITS
    }
}

/// Why a request or a body read ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetError {
    Cancelled,
    /// No answer, or a body below the low-speed limit.
    TimedOut(String),
    Failed(String),
}

impl std::fmt::Display for NetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetError::Cancelled => f.write_str("cancelled"),
            NetError::TimedOut(m) | NetError::Failed(m) => f.write_str(m),
        }
    }
}

/// A client of our own: its connections live on the runtime that uses them (a download's thread
/// has one of its own).
pub fn new_client() -> Result<reqwest::Client, String> {
    // reqwest is built without a default crypto provider; install ring once per process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("genai-electron-rs/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

static CLIENT: LazyLock<Result<reqwest::Client, String>> = LazyLock::new(new_client);

/// The shared client (probes, metadata, health checks).
pub fn client() -> Result<&'static reqwest::Client, String> {
    CLIENT.as_ref().map_err(Clone::clone)
}

/// A request on `client` with the Hugging Face token when the URL needs it.
pub fn request_on(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
) -> reqwest::RequestBuilder {
    let mut req = client.request(method, url);
    if let Some(auth) = crate::hf::auth_header(url) {
        req = req.header(reqwest::header::AUTHORIZATION, auth);
    }
    req
}

/// A request on the shared client with the Hugging Face token when the URL needs it.
pub fn request(method: reqwest::Method, url: &str) -> Result<reqwest::RequestBuilder, String> {
    Ok(request_on(client()?, method, url))
}

/// A GET with the Hugging Face token when the URL needs it.
pub fn get(url: &str) -> Result<reqwest::RequestBuilder, String> {
    request(reqwest::Method::GET, url)
}

fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// Sends `req` and waits for the response headers, at most `limits.response`.
pub async fn send(
    req: reqwest::RequestBuilder,
    limits: &Limits,
    cancel: &CancellationToken,
) -> Result<reqwest::Response, NetError> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(NetError::Cancelled),
        r = tokio::time::timeout(limits.response, req.send()) => match r {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(NetError::Failed(e.to_string())),
            Err(_) => Err(NetError::TimedOut(format!(
                "no response within {}",
                seconds(limits.response)
            ))),
        },
    }
}

/// curl's low-speed check: bytes received over the last `low_speed_time` (sampled in eighths of
/// it), a stall when fewer than `low_speed_limit` per second.
struct LowSpeed {
    limits: Limits,
    samples: VecDeque<(Instant, u64)>,
    total: u64,
}

impl LowSpeed {
    fn new(limits: Limits, start: Instant) -> Self {
        LowSpeed {
            limits,
            samples: VecDeque::from([(start, 0)]),
            total: 0,
        }
    }

    fn check(&mut self, now: Instant) -> Result<(), NetError> {
        let window = self.limits.low_speed_time;
        if self
            .samples
            .back()
            .is_some_and(|(t, _)| now.duration_since(*t) >= window / 8)
        {
            self.samples.push_back((now, self.total));
        }
        while self.samples.len() > 1 && now.duration_since(self.samples[1].0) >= window {
            self.samples.pop_front();
        }
        let Some(&(since, at)) = self.samples.front() else {
            return Ok(());
        };
        let span = now.duration_since(since);
        let got = self.total - at;
        if span < window || got as f64 >= self.limits.low_speed_limit as f64 * span.as_secs_f64() {
            return Ok(());
        }
        Err(NetError::TimedOut(if got == 0 {
            format!("no data for {}", seconds(window))
        } else {
            format!(
                "{got} bytes in {}, below {} bytes/s",
                seconds(span),
                self.limits.low_speed_limit
            )
        }))
    }

    /// Time spent not reading (a slow disk) does not count against the network.
    fn pause(&mut self, d: Duration) {
        for s in &mut self.samples {
            s.0 += d;
        }
    }
}

/// What a body read yields: data, a periodic tick (for progress), or the end of the body.
pub enum Event {
    Data(Bytes),
    Tick,
    End,
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A response body read under the low-speed limit and the cancellation token.
pub struct Body {
    stream: ByteStream,
    speed: LowSpeed,
    tick: Pin<Box<tokio::time::Sleep>>,
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl Body {
    pub fn new(resp: reqwest::Response, limits: &Limits, cancel: &CancellationToken) -> Self {
        Body {
            stream: Box::pin(resp.bytes_stream()),
            speed: LowSpeed::new(*limits, Instant::now()),
            tick: Box::pin(tokio::time::sleep(TICK)),
            cancelled: Box::pin(cancel.clone().cancelled_owned()),
        }
    }

    /// The next chunk, a tick every [`TICK`], or the end; a stall, a cut or a cancel is an error.
    pub async fn next(&mut self) -> Result<Event, NetError> {
        tokio::select! {
            biased;
            _ = &mut self.cancelled => Err(NetError::Cancelled),
            _ = &mut self.tick => {
                let now = Instant::now();
                self.tick.as_mut().reset((now + TICK).into());
                self.speed.check(now).map(|_| Event::Tick)
            }
            next = self.stream.next() => match next {
                None => Ok(Event::End),
                Some(Err(e)) => Err(NetError::Failed(e.to_string())),
                Some(Ok(chunk)) => {
                    self.speed.total += chunk.len() as u64;
                    Ok(Event::Data(chunk))
                }
            },
        }
    }

    /// The next chunk or the end, ticks skipped.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, NetError> {
        loop {
            match self.next().await? {
                Event::Data(b) => return Ok(Some(b)),
                Event::End => return Ok(None),
                Event::Tick => {}
            }
        }
    }

    /// `d` was spent away from the network (waiting on the disk): not a stall.
    pub fn pause(&mut self, d: Duration) {
        self.speed.pause(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        assert_eq!(CONNECT_TIMEOUT, Duration::from_secs(15));
        assert_eq!(
            Limits::default(),
            Limits {
                response: Duration::from_secs(20),
                low_speed_limit: 16 * 1024,
                low_speed_time: Duration::from_secs(20),
            }
        );
    }

    #[test]
    fn low_speed_is_measured_over_the_window() {
        let limits = Limits {
            low_speed_limit: 1000,
            low_speed_time: Duration::from_secs(8),
            ..DEFAULT_LIMITS
        };
        let t0 = Instant::now();
        let mut s = LowSpeed::new(limits, t0);
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        // 2000 B/s for 8 s: fine; then nothing: a stall once the last 8 s hold < 8000 bytes.
        for i in 1..=8 {
            s.total += 2000;
            s.check(at(i)).unwrap();
        }
        for i in 9..=11 {
            s.check(at(i)).unwrap();
        }
        let err = s.check(at(13)).unwrap_err();
        assert_eq!(
            err,
            NetError::TimedOut("6000 bytes in 8s, below 1000 bytes/s".into())
        );
        // A trickle (500 B/s) from the start.
        let mut s = LowSpeed::new(limits, t0);
        for i in 1..8 {
            s.total += 500;
            s.check(at(i)).unwrap();
        }
        s.total += 500;
        assert!(s.check(at(8)).is_err());
        // Nothing at all.
        let mut s = LowSpeed::new(limits, t0);
        assert_eq!(s.check(at(8)).unwrap_err().to_string(), "no data for 8s");
        // Time away from the network does not count.
        let mut s = LowSpeed::new(limits, t0);
        s.pause(Duration::from_secs(5));
        assert!(s.check(at(8)).is_ok());
        assert!(s.check(at(13)).is_err());
    }
}
