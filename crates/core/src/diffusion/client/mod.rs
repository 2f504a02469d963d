//! A typed client of sd-server's native async API (`/sdcpp/v1`), over `crate::http`: the
//! capabilities, submitting an image job (202), reading a job, cancelling one. Every failure is
//! a ServerError with upstream's `BACKEND_*` code in `details.code`.
//!
//! - `wire`: the request and job types.

mod wire;

pub use wire::*;

use crate::http::{self, NetError};
use crate::{Error, Result};
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A job answer holds every image as base64; more than this is not an answer from sd-server.
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;
/// A ServerError with a `BACKEND_*` (or other upstream) code and more details.
pub(crate) fn coded(code: &str, message: impl Into<String>, extra: Value) -> Error {
    let mut details = json!({ "code": code });
    if let (Some(d), Value::Object(more)) = (details.as_object_mut(), extra) {
        d.extend(more);
    }
    Error::server(message, Some(details))
}

/// A job image's PNG bytes; bad or empty base64 is `IMAGE_DECODE_FAILED`.
pub fn decode_image(b64: &str) -> Result<Vec<u8>> {
    let fail = |why: String| {
        coded(
            "IMAGE_DECODE_FAILED",
            format!("Failed to decode generated image: {why}"),
            json!({}),
        )
    };
    if b64.is_empty() {
        return Err(fail("no image data in job result".into()));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| fail(format!("invalid base64 ({e})")))?;
    if bytes.is_empty() {
        return Err(fail("empty image payload".into()));
    }
    Ok(bytes)
}

/// `encodeURIComponent` for a path segment.
fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One sd-server's `/sdcpp/v1` API.
#[derive(Debug, Clone)]
pub struct Client {
    pub host: String,
    pub port: u16,
    base: String,
    timeout: Duration,
    cancel: CancellationToken,
}

impl Client {
    /// `timeout` bounds each request (answer and body); `cancel` ends every request at once
    /// (the backend cancels it when the child exits or is stopped).
    pub fn new(host: &str, port: u16, timeout: Duration, cancel: CancellationToken) -> Self {
        Client {
            host: host.to_string(),
            port,
            base: format!("http://{}:{port}", crate::health::format_http_host(host)),
            timeout,
            cancel,
        }
    }

    /// `GET /sdcpp/v1/capabilities`: sd-server's defaults and modes (an object).
    pub async fn capabilities(&self) -> Result<Map<String, Value>> {
        let path = "/sdcpp/v1/capabilities";
        let (status, body) = self.send(Method::GET, path, None).await?;
        if !status.is_success() {
            return Err(status_error(path, status));
        }
        match read_json(path, status, &body)? {
            Value::Object(map) => Ok(map),
            _ => Err(coded(
                "BACKEND_INVALID_RESPONSE",
                format!("sd-server {path} returned a non-object body"),
                json!({ "path": path }),
            )),
        }
    }

    /// `POST /sdcpp/v1/img_gen`: the id of the queued job.
    pub async fn submit(&self, request: &SdImageRequest) -> Result<String> {
        let path = "/sdcpp/v1/img_gen";
        let body = serde_json::to_vec(request).unwrap_or_default();
        let (status, answer) = self.send(Method::POST, path, Some(body)).await?;
        let http = status.as_u16();
        match status {
            StatusCode::TOO_MANY_REQUESTS => {
                return Err(coded(
                    "BACKEND_QUEUE_FULL",
                    "sd-server rejected the job: the backend queue is full",
                    json!({ "path": path, "status": http }),
                ))
            }
            StatusCode::BAD_REQUEST => {
                let message = error_message(&answer, http);
                return Err(coded(
                    "BACKEND_BAD_REQUEST",
                    format!("sd-server rejected the job request: {message}"),
                    json!({ "path": path, "status": http, "backendMessage": message }),
                ));
            }
            s if !s.is_success() => return Err(status_error(path, s)),
            _ => {}
        }
        let payload = read_json(path, status, &answer)?;
        match payload.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => Ok(id.to_string()),
            _ => Err(coded(
                "BACKEND_INVALID_RESPONSE",
                "sd-server accepted the job without returning a job id",
                json!({ "path": path, "status": http }),
            )),
        }
    }

    /// `GET /sdcpp/v1/jobs/{id}`.
    pub async fn job(&self, id: &str) -> Result<SdJob> {
        let path = format!("/sdcpp/v1/jobs/{}", encode_segment(id));
        let (status, body) = self.send(Method::GET, &path, None).await?;
        let http = status.as_u16();
        let gone = |code, message: String| {
            coded(
                code,
                message,
                json!({ "path": path, "status": http, "jobId": id }),
            )
        };
        match status {
            StatusCode::NOT_FOUND => {
                return Err(gone(
                    "BACKEND_JOB_NOT_FOUND",
                    format!("sd-server does not know job {id}"),
                ))
            }
            StatusCode::GONE => {
                return Err(gone(
                    "BACKEND_JOB_EXPIRED",
                    format!("sd-server job {id} expired before it was read"),
                ))
            }
            s if !s.is_success() => return Err(status_error(&path, s)),
            _ => {}
        }
        let payload = read_json(&path, status, &body)?;
        SdJob::parse(&payload, id).ok_or_else(|| {
            coded(
                "BACKEND_INVALID_RESPONSE",
                format!("sd-server returned an invalid job record for {id}"),
                json!({ "path": path, "jobId": id }),
            )
        })
    }

    /// `POST /sdcpp/v1/jobs/{id}/cancel`. sd-server cancels a queued job; a generating one
    /// answers 409 (it cannot be interrupted), an unknown or expired one 404/410: all
    /// `cancelled: false`.
    pub async fn cancel(&self, id: &str) -> Result<CancelResult> {
        let path = format!("/sdcpp/v1/jobs/{}/cancel", encode_segment(id));
        let (status, _) = self.send(Method::POST, &path, None).await?;
        let http_status = status.as_u16();
        if status.is_success() {
            return Ok(CancelResult {
                cancelled: true,
                http_status,
            });
        }
        if matches!(http_status, 404 | 409 | 410) {
            return Ok(CancelResult {
                cancelled: false,
                http_status,
            });
        }
        Err(status_error(&path, status))
    }

    /// One request: the status and the whole body, within `timeout`.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Vec<u8>)> {
        let failed = |cause: String| {
            coded(
                "BACKEND_REQUEST_FAILED",
                format!("sd-server {path} request failed: {cause}"),
                json!({ "path": path, "cause": cause }),
            )
        };
        let client = http::client().map_err(&failed)?;
        let mut req = client
            .request(method, format!("{}{path}", self.base))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let exchange = async {
            let limits = http::Limits {
                response: self.timeout,
                ..http::DEFAULT_LIMITS
            };
            let resp = http::send(req, &limits, &self.cancel).await?;
            let status = resp.status();
            let mut reader = http::Body::new(resp, &limits, &self.cancel);
            let mut bytes = Vec::new();
            while let Some(chunk) = reader.chunk().await? {
                if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(NetError::Failed(format!(
                        "answer larger than {MAX_RESPONSE_BYTES} bytes"
                    )));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok((status, bytes))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(NetError::Failed(cause))) => Err(failed(cause)),
            Ok(Err(NetError::Cancelled)) => Err(failed("cancelled: the backend is gone".into())),
            Ok(Err(NetError::TimedOut(_))) | Err(_) => Err(coded(
                "BACKEND_REQUEST_TIMEOUT",
                format!("sd-server {path} timed out"),
                json!({ "path": path, "timeoutMs": self.timeout.as_millis() as u64 }),
            )),
        }
    }
}

fn status_error(path: &str, status: StatusCode) -> Error {
    let http = status.as_u16();
    coded(
        "BACKEND_HTTP_ERROR",
        format!("sd-server {path} returned HTTP {http}"),
        json!({ "path": path, "status": http }),
    )
}

fn read_json(path: &str, status: StatusCode, body: &[u8]) -> Result<Value> {
    serde_json::from_slice(body).map_err(|_| {
        coded(
            "BACKEND_INVALID_RESPONSE",
            format!("sd-server {path} did not return valid JSON"),
            json!({ "path": path, "status": status.as_u16() }),
        )
    })
}

/// sd-server's reason in an error answer: `message`, `error.message` or `error`.
fn error_message(body: &[u8], status: u16) -> String {
    let payload: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let found = [
        payload.get("message"),
        payload.get("error").and_then(|e| e.get("message")),
        payload.get("error"),
    ]
    .into_iter()
    .flatten()
    .find_map(Value::as_str)
    .map(String::from);
    found.unwrap_or_else(|| format!("HTTP {status}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_and_encoding() {
        assert_eq!(
            error_message(br#"{"error":"invalid generation parameters"}"#, 400),
            "invalid generation parameters"
        );
        assert_eq!(
            error_message(br#"{"error":"invalid json","message":"parse error"}"#, 400),
            "parse error"
        );
        assert_eq!(error_message(br#"{"error":{"message":"m"}}"#, 400), "m");
        assert_eq!(error_message(b"nope", 400), "HTTP 400");
        assert_eq!(encode_segment("job_1-a.b"), "job_1-a.b");
        assert_eq!(encode_segment("a/b c?"), "a%2Fb%20c%3F");
    }

    #[test]
    fn images_decode_or_fail_with_image_decode_failed() {
        assert_eq!(decode_image("iVBORw==").unwrap(), [0x89, b'P', b'N', b'G']);
        for bad in ["", "***", "=="] {
            let e = decode_image(bad).unwrap_err();
            assert_eq!(e.details.unwrap()["code"], "IMAGE_DECODE_FAILED", "{bad:?}");
        }
    }

    #[tokio::test]
    async fn transport_failures_are_backend_codes() {
        // Nothing listens on a port we just released.
        let port = crate::health::find_free_port("127.0.0.1").unwrap();
        let token = CancellationToken::new();
        let c = Client::new("127.0.0.1", port, Duration::from_secs(2), token.clone());
        let e = c.job("j").await.unwrap_err();
        assert_eq!(
            e.details.as_ref().unwrap()["code"],
            "BACKEND_REQUEST_FAILED"
        );
        assert_eq!(e.details.unwrap()["path"], "/sdcpp/v1/jobs/j");
        token.cancel();
        let e = c.capabilities().await.unwrap_err();
        assert!(e.message.contains("cancelled"), "{}", e.message);
        // A listener that never answers: the request timeout.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let c = Client::new(
            "127.0.0.1",
            port,
            Duration::from_millis(300),
            CancellationToken::new(),
        );
        let e = c.cancel("j").await.unwrap_err();
        assert_eq!(
            e.details.as_ref().unwrap()["code"],
            "BACKEND_REQUEST_TIMEOUT"
        );
        assert_eq!(e.details.unwrap()["timeoutMs"], 300);
    }
}
