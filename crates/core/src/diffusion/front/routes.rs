//! One request of the front, answered as genai-electron's `createHTTPServer` answers it (same
//! order of checks, status codes, bodies and headers), with these additions:
//! - **405** `METHOD_NOT_ALLOWED` with an `Allow` header for a known path and a wrong method
//!   (upstream: 404);
//! - **413** `PAYLOAD_TOO_LARGE` past `max_body_bytes`, answered without reading the rest
//!   (upstream reads any body into memory);
//! - **400** with the `field` for every validation error (`request.rs`);
//! - **408** `REQUEST_TIMEOUT` for a body that does not arrive within the read timeout;
//! - a panic in the `FrontHost` answers upstream's catch-all 500 `INTERNAL_ERROR` (upstream's
//!   handler catches exceptions the same way) instead of dropping the connection;
//! - the query string is ignored when routing (upstream compares the whole URL, so
//!   `/health?x=1` is 404 there): a cache-busting poll works;
//! - a second Host header, or an absolute-form request target naming a foreign host, is refused
//!   like a foreign Host header (upstream reads only the first Host header).

use super::guard;
use super::reply::{empty_reply, error_reply, json_reply, Reply};
use super::{ApiRefusal, FrontHost};
use crate::diffusion::request::{self, RequestError};
use crate::diffusion::GenerationStatus;
use futures_util::FutureExt;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Map, Value};
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

/// What every request of one front shares.
pub(super) struct Shared {
    pub host: Arc<dyn FrontHost>,
    /// The Host guard is on: the front listens on a loopback address.
    pub guard_host: bool,
    pub allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub read_timeout: Duration,
}

/// Longest piece of a Host or Origin header, or of a path, repeated in a message (upstream's 100).
const SHOWN: usize = 100;

fn clip(s: &str) -> String {
    s.chars().take(SHOWN).collect()
}

/// A header's values joined as Node joins repeated ones (`, `), lossily decoded.
fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Health,
    Generations,
    Generation(String),
}

impl Route {
    /// `/health`, `/v1/images/generations`, `/v1/images/generations/<id>` (any id without `/`).
    fn of(path: &str) -> Option<Route> {
        const GENERATIONS: &str = "/v1/images/generations";
        match path {
            "/health" => Some(Route::Health),
            GENERATIONS => Some(Route::Generations),
            _ => path
                .strip_prefix(GENERATIONS)
                .and_then(|rest| rest.strip_prefix('/'))
                .filter(|id| !id.is_empty() && !id.contains('/'))
                .map(|id| Route::Generation(id.to_string())),
        }
    }

    /// The methods the route answers (OPTIONS is answered everywhere, as upstream).
    fn allow(&self) -> &'static str {
        match self {
            Route::Health => "GET, OPTIONS",
            Route::Generations => "POST, OPTIONS",
            Route::Generation(_) => "GET, DELETE, OPTIONS",
        }
    }
}

pub(super) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Reply, Infallible> {
    if shared.guard_host {
        if let Some(refused) = foreign_host(&req) {
            return Ok(refused);
        }
    }
    let origin = header_text(req.headers(), header::ORIGIN);
    let allowed = guard::resolve_allowed_origin(&shared.allowed_origins, origin.as_deref());
    // A panic in the host is upstream's catch-all 500, and the connection keeps serving.
    let mut reply = AssertUnwindSafe(answer(&shared, req, origin, allowed.is_some()))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            error_reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                "Internal server error",
            )
        });
    let headers = reply.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(value) = allowed.and_then(|a| HeaderValue::from_str(&a).ok()) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS, DELETE"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Content-Type"),
        );
    }
    Ok(reply)
}

/// 403 `INVALID_HOST` for a Host header (or an absolute-form target) that is not loopback, or
/// for more than one Host header.
fn foreign_host(req: &Request<Incoming>) -> Option<Reply> {
    let headers: Vec<String> = req
        .headers()
        .get_all(header::HOST)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let target = req.uri().authority().map(|a| a.as_str().to_string());
    let ok = headers.len() <= 1
        && headers
            .iter()
            .chain(target.iter())
            .all(|h| guard::is_loopback_host_header(Some(h)));
    let shown = clip(
        &headers
            .first()
            .or(target.as_ref())
            .cloned()
            .unwrap_or_default(),
    );
    (!ok).then(|| {
        error_reply(
            StatusCode::FORBIDDEN,
            "INVALID_HOST",
            &format!("Rejected Host header \"{shown}\": the diffusion server is bound to a loopback address and only accepts localhost or IP-literal hosts"),
        )
    })
}

async fn answer(
    shared: &Shared,
    req: Request<Incoming>,
    origin: Option<String>,
    origin_allowed: bool,
) -> Reply {
    let method = req.method().clone();
    if method == Method::OPTIONS {
        return empty_reply(StatusCode::OK);
    }
    if let Some(origin) = origin.filter(|_| !origin_allowed) {
        if method != Method::GET && method != Method::HEAD {
            return error_reply(
                StatusCode::FORBIDDEN,
                "INVALID_ORIGIN",
                &format!("Rejected cross-origin {method} from \"{}\": add the origin to DiffusionServerConfig.allowedOrigins to allow browser clients", clip(&origin)),
            );
        }
    }
    let path = req.uri().path().to_string();
    let Some(route) = Route::of(&path) else {
        return error_reply(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found");
    };
    match (&route, &method) {
        (Route::Health, &Method::GET) => health(shared),
        (Route::Generations, &Method::POST) => start(shared, req).await,
        (Route::Generation(id), &Method::GET) => get(shared, id),
        (Route::Generation(id), &Method::DELETE) => cancel(shared, id),
        _ => {
            let mut reply = error_reply(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                &format!("Method {method} is not allowed on {}", clip(&path)),
            );
            reply
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(route.allow()));
            reply
        }
    }
}

fn health(shared: &Shared) -> Reply {
    json_reply(
        StatusCode::OK,
        &json!({
            "status": "ok",
            "busy": shared.host.is_busy(),
            "backend": shared.host.backend_state().as_str(),
        }),
    )
}

/// 503 with upstream's message, code and suggestion.
fn refusal(refused: ApiRefusal) -> Reply {
    let (message, code, suggestion) = match refused {
        ApiRefusal::NotRunning => (
            "Server is not running",
            "SERVER_NOT_RUNNING",
            "Start the server first with start()",
        ),
        ApiRefusal::Busy => (
            "Server is busy generating another image",
            "SERVER_BUSY",
            "Wait for current generation to complete and try again",
        ),
    };
    json_reply(
        StatusCode::SERVICE_UNAVAILABLE,
        &json!({ "error": { "message": message, "code": code, "suggestion": suggestion } }),
    )
}

fn invalid(e: &RequestError) -> Reply {
    let mut error = json!({ "message": e.message, "code": "INVALID_REQUEST" });
    if let Some(field) = &e.field {
        error["field"] = Value::String(field.clone());
    }
    json_reply(StatusCode::BAD_REQUEST, &json!({ "error": error }))
}

/// An error answer after which the connection closes: the rest of the body stays unread.
fn closing(status: StatusCode, code: &str, message: &str) -> Reply {
    let mut reply = error_reply(status, code, message);
    reply
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    reply
}

/// The body, at most `max_body_bytes` (a larger `Content-Length` is refused before reading any),
/// within the read timeout.
async fn read_body(shared: &Shared, req: Request<Incoming>) -> Result<bytes::Bytes, Reply> {
    let max = shared.max_body_bytes;
    let too_large = || {
        closing(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            &format!("Request body exceeds {max} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let body = Limited::new(req.into_body(), max).collect();
    match tokio::time::timeout(shared.read_timeout, body).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(closing(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            &format!("Failed to read the request body: {e}"),
        )),
        Err(_) => Err(closing(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            &format!(
                "Request body not received within {} ms",
                shared.read_timeout.as_millis()
            ),
        )),
    }
}

/// `POST /v1/images/generations`: upstream's order (not running, body, validation, busy).
async fn start(shared: &Shared, req: Request<Incoming>) -> Reply {
    if !shared.host.is_running() {
        return refusal(ApiRefusal::NotRunning);
    }
    let body = match read_body(shared, req).await {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let request = match request::parse_body(&body) {
        Ok(request) => request,
        Err(e) => return invalid(&e),
    };
    match shared.host.submit(request) {
        // The entry's own createdAt (upstream answers a second `Date.now()`, a few ms later).
        Ok(id) => {
            let registry = shared.host.registry();
            let created_at = registry
                .get(&id)
                .map_or_else(|| registry.now(), |s| s.created_at);
            json_reply(
                StatusCode::CREATED,
                &json!({ "id": id, "status": "pending", "createdAt": created_at }),
            )
        }
        Err(refused) => refusal(refused),
    }
}

fn not_found() -> Reply {
    error_reply(StatusCode::NOT_FOUND, "NOT_FOUND", "Generation not found")
}

/// `GET /v1/images/generations/:id`: progress only while in progress, the result only when
/// complete, the error only on error.
fn get(shared: &Shared, id: &str) -> Reply {
    let Some(state) = shared.host.registry().get(id) else {
        return not_found();
    };
    let mut body = Map::new();
    body.insert("id".into(), json!(state.id));
    body.insert("status".into(), json!(state.status));
    body.insert("createdAt".into(), json!(state.created_at));
    body.insert("updatedAt".into(), json!(state.updated_at));
    let shown = match state.status {
        GenerationStatus::InProgress => state.progress.map(|p| ("progress", json!(p))),
        GenerationStatus::Complete => state.result.map(|r| ("result", json!(r))),
        GenerationStatus::Error => state.error.map(|e| ("error", json!(e))),
        _ => None,
    };
    if let Some((key, value)) = shown {
        body.insert(key.into(), value);
    }
    json_reply(StatusCode::OK, &Value::Object(body))
}

/// `DELETE /v1/images/generations/:id`: 409 once complete or failed; a cancelled one answers 200
/// again (as upstream).
fn cancel(shared: &Shared, id: &str) -> Reply {
    let Some(state) = shared.host.registry().get(id) else {
        return not_found();
    };
    // The generation may end while it is being cancelled: the host says who won.
    let status = match state.status {
        s if s.is_terminal() => Some(s),
        _ => shared.host.cancel(id),
    };
    match status {
        None => not_found(),
        Some(s @ (GenerationStatus::Complete | GenerationStatus::Error)) => error_reply(
            StatusCode::CONFLICT,
            "ALREADY_TERMINAL",
            &format!("Generation is already {s} and cannot be cancelled"),
        ),
        Some(_) => json_reply(StatusCode::OK, &json!({ "id": id, "status": "cancelled" })),
    }
}

#[cfg(test)]
mod tests {
    use super::Route;

    #[test]
    fn routes() {
        assert_eq!(Route::of("/health"), Some(Route::Health));
        assert_eq!(
            Route::of("/v1/images/generations"),
            Some(Route::Generations)
        );
        assert_eq!(
            Route::of("/v1/images/generations/gen_1_a"),
            Some(Route::Generation("gen_1_a".into()))
        );
        for p in [
            "/",
            "/health/",
            "/v1/images/generations/",
            "/v1/images/generations/a/b",
            "/v1/images/generationsx",
            "/v1/images",
        ] {
            assert_eq!(Route::of(p), None, "{p}");
        }
    }
}
