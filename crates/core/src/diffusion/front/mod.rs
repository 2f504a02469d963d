//! The image front: genai-electron's loopback HTTP API for image generation (genai-lite's image
//! adapter polls it), on hyper 1 (HTTP/1.1, tokio).
//!
//! - `GET /health` → `{ status: 'ok', busy, backend }`
//! - `POST /v1/images/generations` (an `ImageGenerationConfig` + `count`) → 201
//!   `{ id, status: 'pending', createdAt }`
//! - `GET /v1/images/generations/:id` → the generation (`progress`/`result`/`error` by status)
//! - `DELETE /v1/images/generations/:id` → `{ id, status: 'cancelled' }`, 409 once terminal
//!
//! Upstream's guards: on a loopback bind, a Host header that is not localhost or an IP literal is
//! refused (403 `INVALID_HOST`, against DNS rebinding); CORS headers only for `allowed_origins`
//! (`*` allowed), and a foreign Origin on anything but GET/HEAD is refused (403
//! `INVALID_ORIGIN`). What this front adds over upstream's is listed in `routes.rs` (405, 413,
//! 400 naming the field, query strings, 500 for a panic in the host) and here: a read timeout, so that a client that sends
//! its headers (or its body) slowly, or holds an idle connection, cannot keep it forever.
//!
//! The front decides nothing about generations: a `FrontHost` (the manager) runs them and keeps
//! their state in its `Registry`.

mod guard;
mod reply;
mod routes;

pub use guard::{is_loopback_bind_address, is_loopback_host_header, resolve_allowed_origin};
pub use reply::stringify;

use super::registry::Registry;
use super::{BackendState, GenerationStatus, ImageRequest};
use crate::{Error, Result};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use routes::Shared;
use serde_json::json;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// What the front asks of the manager that runs the generations. Called on the front's tokio
/// runtime, from request handlers: no method may block (start the work, do not wait for it).
pub trait FrontHost: Send + Sync + 'static {
    /// The manager's status is `running`.
    fn is_running(&self) -> bool;
    /// A generation holds the slot.
    fn is_busy(&self) -> bool;
    fn backend_state(&self) -> BackendState;
    fn registry(&self) -> Arc<Registry>;
    /// Claims the slot, creates the registry entry, starts the work in the background; the id.
    fn submit(&self, request: ImageRequest) -> std::result::Result<String, ApiRefusal>;
    /// `cancelImageGeneration(id)` (the entry exists and is not terminal when the front calls
    /// it): the status the generation has afterwards (`cancelled`, or `complete`/`error` when it
    /// ended first), `None` when it is gone.
    fn cancel(&self, id: &str) -> Option<GenerationStatus>;
}

/// Why `submit` refused: 503 `SERVER_NOT_RUNNING` / `SERVER_BUSY` with upstream's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiRefusal {
    NotRunning,
    Busy,
}

/// Largest POST body by default (an ImageGenerationConfig is a few hundred bytes; two 10 000
/// character prompts fit).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// How long a client may take to send a request's headers (also the idle time of a kept-alive
/// connection), and again its body, by default.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `close` lets open connections finish the answer they are writing.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontConfig {
    /// Bound as given (the manager defaults it to 127.0.0.1); `[::1]` and names are accepted.
    pub host: String,
    /// 0: the system picks one (see `Front::local_addr`).
    pub port: u16,
    /// `DiffusionServerConfig.allowedOrigins`.
    pub allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
    /// Addition: see `DEFAULT_READ_TIMEOUT`.
    pub read_timeout: Duration,
}

impl Default for FrontConfig {
    fn default() -> Self {
        FrontConfig {
            host: "127.0.0.1".into(),
            port: 0,
            allowed_origins: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            read_timeout: DEFAULT_READ_TIMEOUT,
        }
    }
}

/// A listening front. Dropping it stops it in the background; `close` stops it and waits.
pub struct Front {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Front {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Front")
            .field("local_addr", &self.local_addr)
            .finish()
    }
}

impl Front {
    /// Listens on `config.host:config.port` now (synchronously) and serves on the current tokio
    /// runtime. A taken port is `Error::port_in_use(port)`.
    pub fn bind(config: FrontConfig, host: Arc<dyn FrontHost>) -> Result<Front> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::server("The image front must be started on a tokio runtime", None)
        })?;
        let std_listener = listen(&config.host, config.port)?;
        let bind_error = |e: std::io::Error| {
            Error::server(
                format!("Failed to listen on {}:{}: {e}", config.host, config.port),
                Some(
                    json!({ "host": config.host, "port": config.port, "error": crate::error::io_error_json(&e) }),
                ),
            )
        };
        std_listener.set_nonblocking(true).map_err(bind_error)?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(std_listener).map_err(bind_error)?
        };
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let shared = Arc::new(Shared {
            host,
            guard_host: is_loopback_bind_address(&config.host),
            allowed_origins: config.allowed_origins,
            max_body_bytes: config.max_body_bytes,
            read_timeout: config.read_timeout,
        });
        let (shutdown, stop) = watch::channel(false);
        let task = runtime.spawn(serve(listener, shared, stop));
        Ok(Front {
            local_addr,
            shutdown,
            task: Some(task),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and ends the open connections (an answer being written gets a moment to
    /// finish); the port is free when this returns.
    pub async fn close(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// A std listener on the first address of `host` that binds (brackets around an IPv6 literal
/// are allowed, as in a URL).
fn listen(host: &str, port: u16) -> Result<std::net::TcpListener> {
    let bare = host.trim();
    let bare = bare
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(bare);
    let failed = |e: &std::io::Error| {
        Error::server(
            format!("Failed to listen on {host}:{port}: {e}"),
            Some(json!({ "host": host, "port": port, "error": crate::error::io_error_json(e) })),
        )
    };
    let addrs = (bare, port).to_socket_addrs().map_err(|e| failed(&e))?;
    let mut last = None;
    for addr in addrs {
        match std::net::TcpListener::bind(addr) {
            Ok(listener) => return Ok(listener),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(Error::port_in_use(port))
            }
            Err(e) => last = Some(e),
        }
    }
    let e = last.unwrap_or_else(|| std::io::Error::other(format!("{host} has no address")));
    Err(failed(&e))
}

/// Told to stop (or the `Front` was dropped).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Accepts until told to stop, then closes the listener and the connections.
async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, shared.clone(), stop.clone()));
                }
                // Out of descriptors and the like: wait a little instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let finished = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(CLOSE_GRACE * 2, finished)
        .await
        .is_err()
    {
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
}

/// One HTTP/1.1 connection, with the read timeout; on stop, a graceful shutdown (idle
/// connections close at once, an answer in progress gets `CLOSE_GRACE`).
async fn connection(stream: TcpStream, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let read_timeout = shared.read_timeout;
    let service = service_fn(move |req| routes::handle(shared.clone(), req));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(read_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(CLOSE_GRACE, conn).await;
        }
    }
}
