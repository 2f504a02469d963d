//! A typed client of sd-server's native async API (`/sdcpp/v1`), over `crate::http`: the
//! capabilities, submitting an image job (202), reading a job, cancelling one. Every failure is
//! a ServerError with upstream's `BACKEND_*` code in `details.code`.

use super::{ImageRequest, ImageSampler};
use crate::http::{self, NetError};
use crate::{Error, Result};
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A job answer holds every image as base64; more than this is not an answer from sd-server.
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// `sample_params.guidance`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SdGuidance {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txt_cfg: Option<f64>,
}

/// `sample_params`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SdSampleParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_steps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_method: Option<ImageSampler>,
    pub guidance: SdGuidance,
}

/// `POST /sdcpp/v1/img_gen`'s body (`SdServerImageRequest`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SdImageRequest {
    pub prompt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    pub seed: i64,
    pub batch_count: u32,
    pub sample_params: SdSampleParams,
}

impl SdImageRequest {
    /// `buildSdServerImageRequest`: the request's fields under sd-server's names, this image's
    /// seed, and `batch_count` = the configured batch size (at least 1).
    pub fn from_request(req: &ImageRequest, seed: i64, batch_size: Option<u32>) -> Self {
        SdImageRequest {
            prompt: req.prompt.clone(),
            negative_prompt: req.negative_prompt.clone(),
            width: req.width,
            height: req.height,
            seed,
            batch_count: batch_size.unwrap_or(1).max(1),
            sample_params: SdSampleParams {
                sample_steps: req.steps,
                sample_method: req.sampler,
                guidance: SdGuidance {
                    txt_cfg: req.cfg_scale,
                },
            },
        }
    }
}

/// `SdServerJobStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Generating,
    Completed,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// `SdServerJobImage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobImage {
    pub index: u32,
    pub b64_json: String,
}

/// `SdServerJobResult`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    pub output_format: Option<String>,
    pub images: Vec<JobImage>,
}

/// `SdServerJobError`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobError {
    pub code: Option<String>,
    pub message: String,
}

/// `SdServerJob` (times are Unix seconds, as sd-server sends them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SdJob {
    pub id: String,
    pub kind: Option<String>,
    pub status: JobStatus,
    pub created: Option<f64>,
    pub started: Option<f64>,
    pub completed: Option<f64>,
    pub queue_position: Option<u32>,
    pub result: Option<JobResult>,
    pub error: Option<JobError>,
}

impl SdJob {
    /// Read as upstream reads it: a known status is required, everything else is taken when it
    /// has the right type.
    fn parse(payload: &Value, id: &str) -> Option<SdJob> {
        let obj = payload.as_object()?;
        let status = serde_json::from_value(obj.get("status")?.clone()).ok()?;
        let text =
            |o: &Map<String, Value>, k: &str| o.get(k).and_then(Value::as_str).map(String::from);
        let num = |k: &str| obj.get(k).and_then(Value::as_f64);
        let result = obj
            .get("result")
            .and_then(Value::as_object)
            .map(|r| JobResult {
                output_format: text(r, "output_format"),
                images: r
                    .get("images")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                    .enumerate()
                    .map(|(i, image)| JobImage {
                        index: image
                            .get("index")
                            .and_then(Value::as_u64)
                            .map_or(i as u32, |n| n as u32),
                        b64_json: text(image, "b64_json").unwrap_or_default(),
                    })
                    .collect(),
            });
        let error = obj
            .get("error")
            .and_then(Value::as_object)
            .map(|e| JobError {
                code: text(e, "code"),
                message: text(e, "message").unwrap_or_else(|| "unknown error".into()),
            });
        Some(SdJob {
            id: text(obj, "id").unwrap_or_else(|| id.to_string()),
            kind: text(obj, "kind"),
            status,
            created: num("created"),
            started: num("started"),
            completed: num("completed"),
            queue_position: num("queue_position").map(|n| n as u32),
            result,
            error,
        })
    }
}

/// `SdServerCancelResult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelResult {
    pub cancelled: bool,
    pub http_status: u16,
}

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
    fn request_as_upstreams_build() {
        let req = ImageRequest {
            prompt: "a cat".into(),
            negative_prompt: Some("dog".into()),
            width: Some(64),
            steps: Some(2),
            cfg_scale: Some(7.5),
            sampler: Some(ImageSampler::EulerA),
            ..Default::default()
        };
        let body = SdImageRequest::from_request(&req, 42, None);
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({
                "prompt": "a cat", "negative_prompt": "dog", "width": 64, "seed": 42, "batch_count": 1,
                "sample_params": { "sample_steps": 2, "sample_method": "euler_a", "guidance": { "txt_cfg": 7.5 } },
            })
        );
        let bare = SdImageRequest::from_request(&ImageRequest::default(), -1, Some(0));
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            json!({ "prompt": "", "seed": -1, "batch_count": 1, "sample_params": { "guidance": {} } })
        );
        assert_eq!(
            SdImageRequest::from_request(&req, 1, Some(3)).batch_count,
            3
        );
    }

    #[test]
    fn job_records_read_as_upstream() {
        // sd-server's own answer for a finished job.
        let done = json!({
            "completed": 1795659626, "created": 1795659623, "error": null, "id": "job_1", "kind": "img_gen",
            "queue_position": 0, "started": 1795659623, "status": "completed",
            "result": { "images": [{ "b64_json": "iVBO", "index": 0 }, { "b64_json": 5 }], "output_format": "png" },
        });
        let job = SdJob::parse(&done, "job_1").unwrap();
        assert_eq!(job.status, JobStatus::Completed);
        let result = job.result.unwrap();
        assert_eq!(result.output_format.as_deref(), Some("png"));
        assert_eq!(
            result.images[1],
            JobImage {
                index: 1,
                b64_json: String::new()
            }
        );
        assert_eq!(job.error, None);
        let failed = json!({ "status": "cancelled", "error": { "code": "cancelled", "message": "job cancelled by client" } });
        let job = SdJob::parse(&failed, "x").unwrap();
        assert_eq!(job.id, "x");
        assert_eq!(job.error.unwrap().code.as_deref(), Some("cancelled"));
        assert!(SdJob::parse(&json!({ "status": "paused" }), "x").is_none());
        assert!(SdJob::parse(&json!([1]), "x").is_none());
        let odd = json!({ "status": "failed", "error": { "code": 3 } });
        let e = SdJob::parse(&odd, "x").unwrap().error.unwrap();
        assert_eq!((e.code, e.message.as_str()), (None, "unknown error"));
    }

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
