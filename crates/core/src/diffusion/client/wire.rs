//! The wire types of sd-server's `/sdcpp/v1` API (genai-electron's `SdServer*` types): the
//! image request built from an `ImageRequest`, the job record read leniently, as upstream reads
//! it.

use crate::diffusion::{ImageRequest, ImageSampler};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
    pub(super) fn parse(payload: &Value, id: &str) -> Option<SdJob> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
