//! One sd-server job: submit, poll until it ends (the backend's exit, a cancel and the stuck-job
//! watchdog end the wait early), decode the PNG; a job that did not end normally is stopped.

use super::state::{lock, Claim};
use super::{generate::cancelled, now_ms, DiffusionServer};
use crate::diffusion::backend::Backend;
use crate::diffusion::client::{JobStatus, SdImageRequest, SdJob};
use crate::diffusion::constants::DIFFUSION_BACKEND_DEFAULTS as D;
use crate::diffusion::{png, ImageStage, ReleaseReason};
use crate::logs::Level;
use crate::{Error, Result};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FAST_POLL: Duration = Duration::from_millis(10);
const FAST_POLL_WINDOW: Duration = Duration::from_secs(2);

impl DiffusionServer {
    pub(super) async fn job_to_png(
        &self,
        backend: &Arc<Backend>,
        body: &SdImageRequest,
        claim: &Arc<Claim>,
    ) -> Result<(Vec<u8>, u32, u32)> {
        let client = backend.client();
        // A permit left by an earlier image's "done" line must not speed up this one's polling.
        let _ = futures_util::FutureExt::now_or_never(self.job_event.notified());
        let id = tokio::select! {
            r = client.submit(body) => r?,
            e = backend.wait_exit() => return Err(backend.exit_error(e)),
        };
        self.last_activity.store(now_ms(), Ordering::Relaxed);
        self.track(|t, now| {
            t.backend_ready(now);
            None
        });
        let job = match self.poll(backend, &id, claim).await {
            Ok(job) => job,
            Err(e) => {
                let stuck = e.detail_code() == Some("BACKEND_JOB_STUCK");
                let reason = if stuck {
                    ReleaseReason::Stuck
                } else {
                    ReleaseReason::Cancel
                };
                self.stop_job(backend, &id, reason).await;
                return Err(e);
            }
        };
        match job.status {
            JobStatus::Completed => {}
            JobStatus::Cancelled => return Err(cancelled()),
            _ => return Err(job_failed(backend, &job)),
        }
        let image = first_image(&job)?;
        // The size is the PNG's; upstream falls back to the one asked for.
        let asked = (body.width.unwrap_or(512), body.height.unwrap_or(512));
        let (width, height) = png::dimensions(&image).unwrap_or(asked);
        Ok((image, width, height))
    }

    /// Polls the job every 200 ms until it ends; the backend's exit, a cancel and the watchdog
    /// end it early. Up to 3 transient poll failures in a row are tolerated, as upstream.
    async fn poll(&self, backend: &Arc<Backend>, id: &str, claim: &Arc<Claim>) -> Result<SdJob> {
        let limit = self.job_activity_limit();
        let mut transient = 0;
        let mut last = None;
        let mut fast_until: Option<Instant> = None;
        loop {
            if claim.cancelled() {
                return Err(cancelled());
            }
            if let Some(limit) = limit {
                let idle = now_ms().saturating_sub(self.last_activity.load(Ordering::Relaxed));
                if idle >= limit.as_millis() as u64 {
                    return Err(self.stuck(backend, id, idle, limit));
                }
            }
            let job = tokio::select! {
                r = backend.client().job(id) => r,
                e = backend.wait_exit() => return Err(backend.exit_error(e)),
                _ = claim.cancel.cancelled() => return Err(cancelled()),
            };
            match job {
                Ok(job) if job.status.is_terminal() => return Ok(job),
                Ok(job) => {
                    transient = 0;
                    if job.status == JobStatus::Generating {
                        self.track(|t, now| t.job_generating(now));
                    }
                    let seen = (job.status, job.queue_position);
                    if last != Some(seen) {
                        last = Some(seen);
                        self.last_activity.store(now_ms(), Ordering::Relaxed);
                    }
                }
                Err(e)
                    if e.detail_code().is_some_and(|c| {
                        c == "BACKEND_REQUEST_TIMEOUT" || c == "BACKEND_REQUEST_FAILED"
                    }) =>
                {
                    transient += 1;
                    if transient >= D.max_transient_poll_failures {
                        return Err(e);
                    }
                    let _ = self.log.write(
                        &format!(
                            "Transient backend poll failure {transient}/{} for job {id}: {e}",
                            D.max_transient_poll_failures
                        ),
                        Level::Warn,
                    );
                }
                Err(e) => return Err(e),
            }
            self.tick_progress();
            // Once the output says the image is done, the job is read every 10 ms for a while
            // (sd-server still encodes the PNG); else every 200 ms, as upstream.
            let fast = fast_until.is_some_and(|t| Instant::now() < t);
            let ticking = lock(&self.progress)
                .as_ref()
                .is_some_and(|p| p.tracker.ticking());
            let interval = match (fast, ticking) {
                (true, _) => FAST_POLL,
                (false, true) => crate::diffusion::tracker::TICK_INTERVAL,
                (false, false) => Duration::from_millis(D.job_poll_interval_ms),
            };
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = self.job_event.notified() => fast_until = Some(Instant::now() + FAST_POLL_WINDOW),
            }
        }
    }

    fn tick_progress(&self) {
        self.track(|t, now| if t.ticking() { t.tick(now) } else { None });
    }

    fn job_activity_limit(&self) -> Option<Duration> {
        let ms = lock(&self.state)
            .config
            .as_ref()
            .and_then(|c| c.job_activity_timeout_ms)
            .unwrap_or(D.job_activity_timeout_ms as f64);
        (ms.is_finite() && ms > 0.0).then(|| Duration::from_millis(ms as u64))
    }

    fn stuck(&self, backend: &Backend, id: &str, idle_ms: u64, limit: Duration) -> Error {
        let _ = self.log.write(
            &format!("sd-server backend job {id} showed no activity for {idle_ms} ms (limit {} ms) - releasing the backend", limit.as_millis()),
            Level::Error,
        );
        let stage = lock(&self.progress)
            .as_ref()
            .map_or(ImageStage::Loading, |p| p.tracker.stage());
        Error::server(
            format!("stable-diffusion.cpp backend job {id} showed no activity for {idle_ms} ms; the backend was released"),
            Some(json!({
                "code": "BACKEND_JOB_STUCK", "jobId": id, "idleMs": idle_ms, "timeoutMs": limit.as_millis() as u64, "stage": stage,
                "args": backend.args.join(" "), "backendStderrTail": backend.stderr_tail(),
                "suggestion": "The backend stopped reporting progress and was killed. Retry the image; raise DiffusionServerConfig.jobActivityTimeoutMs (or set it to 0 to disable the watchdog) if this hardware legitimately goes that long without output.",
            })),
        )
    }

    /// A job that did not finish normally: a queued one is cancelled in sd-server; one that
    /// is generating cannot be (sd.cpp has no mid-image cancel), so the backend is released.
    /// `reason`: `stuck` releases at once; `cancel` tries sd-server's cancel first.
    async fn stop_job(&self, backend: &Arc<Backend>, id: &str, reason: ReleaseReason) {
        if backend.exit().is_some() {
            return;
        }
        if reason == ReleaseReason::Cancel {
            let queued =
                matches!(backend.client().job(id).await, Ok(j) if j.status == JobStatus::Queued);
            if queued && backend.client().cancel(id).await.is_ok_and(|c| c.cancelled) {
                return;
            }
        }
        let _ = self.release_backend(reason, false).await;
    }
}

/// upstream's `jobFailureError`: the job ended `failed`.
fn job_failed(backend: &Backend, job: &SdJob) -> Error {
    let backend_error = job
        .error
        .as_ref()
        .map_or("unknown backend error", |e| e.message.as_str());
    Error::server(
        format!("stable-diffusion.cpp job failed: {backend_error}"),
        Some(json!({
            "code": "BACKEND_JOB_FAILED", "jobId": job.id, "backendError": backend_error,
            "args": backend.args.join(" "), "stderr": backend.stderr_tail(), "stdout": backend.stdout_tail(),
        })),
    )
}

/// The job's first image, decoded.
fn first_image(job: &SdJob) -> Result<Vec<u8>> {
    let b64 = job
        .result
        .as_ref()
        .and_then(|r| r.images.first())
        .map(|i| i.b64_json.as_str())
        .filter(|b| !b.is_empty())
        .ok_or_else(|| {
            Error::server(
                "Failed to decode generated image: no image data in job result",
                Some(json!({ "code": "IMAGE_DECODE_FAILED", "jobId": job.id })),
            )
        })?;
    crate::diffusion::client::decode_image(b64)
}
