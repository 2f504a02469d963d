//! One image: resolve the flags, make sure the backend runs, submit the job, poll it (the
//! backend's exit, a cancel and the stuck-job watchdog end the wait), decode the PNG; progress
//! comes from the backend's output. Batches run their images in turn.

use super::state::{lock, Claim};
use super::{now_ms, DiffusionServer};
use crate::diffusion::backend::{Backend, Stream};
use crate::diffusion::client::{JobStatus, SdImageRequest, SdJob};
use crate::diffusion::constants::DIFFUSION_BACKEND_DEFAULTS as D;
use crate::diffusion::progress::{self, StdoutEvent};
use crate::diffusion::tracker::{BatchProgress, ProgressTracker, Report};
use crate::diffusion::{
    optimizations, png, BackendState, ImageProgress, ImageRequest, ImageResult, ReleaseReason,
    StatusReason,
};
use crate::llama_server::ServerStatus;
use crate::logs::Level;
use crate::{Error, Result};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FAST_POLL: Duration = Duration::from_millis(10);
const FAST_POLL_WINDOW: Duration = Duration::from_secs(2);

/// `onProgress(currentStep, totalSteps, stage, percentage)`.
pub type ProgressFn = Arc<dyn Fn(ImageProgress) + Send + Sync>;

/// The generation under way: its tracker, its place in a batch, where its reports go.
pub(super) struct ProgressSink {
    tracker: ProgressTracker,
    batch: BatchProgress,
    report: Option<ProgressFn>,
}

impl ProgressSink {
    fn send(&self, r: Option<Report>) {
        if let (Some(r), Some(report)) = (r, &self.report) {
            report(self.batch.progress(r));
        }
    }
}

impl DiffusionServer {
    /// The backend's output: every line to the log (bars excepted), progress events to the
    /// generation under way, and each line counts as activity for the stuck-job watchdog.
    pub(super) fn line_sink(&self) -> crate::diffusion::backend::LineFn {
        let me = self.me.clone();
        Arc::new(move |line: &str, stream: Stream| {
            let Some(server) = me.upgrade() else { return };
            server.last_activity.store(now_ms(), Ordering::Relaxed);
            if !progress::is_progress_bar(line) {
                let level = if stream == Stream::Stderr {
                    Level::Warn
                } else {
                    Level::Info
                };
                let _ = server.log.write(line, level);
            }
            let events = progress::parse_line(line);
            if events
                .iter()
                .any(|e| matches!(e, StdoutEvent::Marker(progress::Marker::Completed)))
            {
                server.job_event.notify_one();
            }
            if events.is_empty() {
                return;
            }
            for event in events {
                server.track(|t, now| t.on_event(event, now));
            }
        })
    }

    /// `generateImage(config)`: one image (`count` is for the HTTP API and batches), then the
    /// residency settles (`single` releases the backend, `burst` arms the idle timer).
    pub async fn generate_image(
        &self,
        request: ImageRequest,
        on_progress: Option<ProgressFn>,
    ) -> Result<ImageResult> {
        let claim = self.claim()?;
        let result = self
            .execute_image(&request, on_progress, None, &claim, SINGLE)
            .await;
        let mode = self.resolve_usage_mode(request.usage_mode, false);
        if let Err(e) = self.settle_residency(mode).await {
            let _ = self
                .log
                .write(&format!("Residency settle failed: {e}"), Level::Warn);
        }
        self.release_claim(&claim);
        result
    }

    /// `executeImageGeneration(config, flagOverrides)`: one image, without the residency
    /// settling `generateImage` adds (the slot is still taken: one generation at a time).
    pub async fn execute_image_generation(
        &self,
        request: ImageRequest,
        on_progress: Option<ProgressFn>,
        overrides: Option<optimizations::FlagOverrides>,
    ) -> Result<ImageResult> {
        let claim = self.claim()?;
        let result = self
            .execute_image(&request, on_progress, overrides.as_ref(), &claim, SINGLE)
            .await;
        self.release_claim(&claim);
        result
    }

    /// `executeBatchGeneration(config)`: `count` images in turn, in one slot.
    pub async fn execute_batch_generation(
        &self,
        request: ImageRequest,
        on_progress: Option<ProgressFn>,
    ) -> Result<Vec<ImageResult>> {
        let claim = self.claim()?;
        let result = self.execute_batch(&request, on_progress, &claim).await;
        self.release_claim(&claim);
        result
    }

    /// Takes the one generation slot (upstream's busy error when it is taken).
    pub(super) fn claim(&self) -> Result<Arc<Claim>> {
        let mut s = lock(&self.state);
        if s.status != ServerStatus::Running {
            return Err(Error::server(
                "Server is not running",
                Some(
                    json!({ "code": "SERVER_NOT_RUNNING", "suggestion": "Start the server first with start()" }),
                ),
            ));
        }
        if s.claim.is_some() {
            return Err(Error::server(
                "Server is busy generating another image",
                Some(
                    json!({ "code": "SERVER_BUSY", "suggestion": "Wait for current generation to complete" }),
                ),
            ));
        }
        let claim = Claim::new();
        s.claim = Some(claim.clone());
        Ok(claim)
    }

    pub(super) fn release_claim(&self, claim: &Arc<Claim>) {
        let mut s = lock(&self.state);
        if s.claim.as_ref().is_some_and(|c| Arc::ptr_eq(c, claim)) {
            s.claim = None;
        }
        drop(s);
        let _ = claim.done.send(true);
    }

    /// `executeImageGeneration(config, flagOverrides)` within a claim.
    pub(super) async fn execute_image(
        &self,
        request: &ImageRequest,
        on_progress: Option<ProgressFn>,
        overrides: Option<&optimizations::FlagOverrides>,
        claim: &Arc<Claim>,
        batch: BatchProgress,
    ) -> Result<ImageResult> {
        let begun = Instant::now();
        let prepared = lock(&self.state).prepared.clone().ok_or_else(|| {
            Error::server(
                "Server is not running",
                Some(json!({ "code": "SERVER_NOT_RUNNING" })),
            )
        })?;
        let seed = match request.seed {
            Some(s) if s >= 0 => s,
            _ => random_seed(),
        };
        let warm = matches!(
            self.backend_info().state,
            BackendState::Ready | BackendState::Busy
        );
        let mut tracker =
            ProgressTracker::new(request, &lock(&self.estimates), warm, Instant::now());
        let first = tracker.report(Instant::now());
        let sink = ProgressSink {
            tracker,
            batch,
            report: on_progress,
        };
        sink.send(first);
        *lock(&self.progress) = Some(sink);
        let result = self
            .run_job(request, seed, &prepared, overrides, claim)
            .await;
        self.finish_progress(result.is_ok());
        result.map(|(image, width, height)| ImageResult {
            image,
            time_taken: begun.elapsed().as_millis() as u64,
            seed,
            width,
            height,
        })
    }

    /// Tells the tracker of the generation under way; what it reports goes out.
    fn track(&self, f: impl FnOnce(&mut ProgressTracker, Instant) -> Option<Report>) {
        let mut sink = lock(&self.progress);
        if let Some(sink) = sink.as_mut() {
            let report = f(&mut sink.tracker, Instant::now());
            sink.send(report);
        }
    }

    /// Ends the progress of this image: 100 once on success, and the stage times are learned.
    fn finish_progress(&self, ok: bool) {
        let Some(mut sink) = lock(&self.progress).take() else {
            return;
        };
        if ok {
            let last = sink
                .tracker
                .finish(Instant::now(), &mut lock(&self.estimates));
            sink.send(last);
        }
    }

    async fn run_job(
        &self,
        request: &ImageRequest,
        seed: i64,
        prepared: &super::state::Prepared,
        overrides: Option<&optimizations::FlagOverrides>,
        claim: &Arc<Claim>,
    ) -> Result<(Vec<u8>, u32, u32)> {
        let gpu = tokio::task::spawn_blocking(crate::system::gpu_info)
            .await
            .ok();
        let flags =
            optimizations::resolve(&prepared.config, overrides, &prepared.model, gpu.as_ref());
        let _ = self
            .log
            .write(&format!("VRAM optimizations: {flags:?}"), Level::Info);
        if !matches!(
            self.backend_info().state,
            BackendState::Ready | BackendState::Busy
        ) {
            self.track(|t, now| {
                t.spawning(now);
                None
            });
        }
        let (backend, _spawned) = tokio::select! {
            r = self.ensure_backend(flags, &claim.cancel) => r?,
            _ = claim.cancel.cancelled() => return Err(cancelled()),
        };
        let batch = prepared.config.batch_size.map(|b| b as u32);
        let body = SdImageRequest::from_request(request, seed, batch);
        let _ = self.log.write(
            &format!(
                "Generating image on backend port {}: {}x{}, seed={seed}, steps={}",
                backend.port,
                request.width.unwrap_or(512),
                request.height.unwrap_or(512),
                request
                    .steps
                    .map_or("default".to_string(), |s| s.to_string())
            ),
            Level::Info,
        );
        self.set_backend_state(BackendState::Busy, Some(StatusReason::Job), None);
        lock(&self.backend).disarm_idle();
        let result = self.job_to_png(&backend, &body, claim).await;
        {
            let mut b = lock(&self.backend);
            if b.state == BackendState::Busy {
                b.last_used_at = Some(crate::clock::iso_now());
                drop(b);
                self.set_backend_state(BackendState::Ready, Some(StatusReason::Job), None);
            }
        }
        result
    }

    async fn job_to_png(
        &self,
        backend: &Arc<Backend>,
        body: &SdImageRequest,
        claim: &Arc<Claim>,
    ) -> Result<(Vec<u8>, u32, u32)> {
        let client = backend.client();
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
                self.stop_job(backend, &id).await;
                return Err(e);
            }
        };
        match job.status {
            JobStatus::Completed => {}
            JobStatus::Cancelled => return Err(cancelled()),
            _ => return Err(job_failed(backend, &job)),
        }
        let image = first_image(&job)?;
        let (width, height) = png::dimensions(&image).ok_or_else(|| {
            Error::server(
                "Failed to decode generated image: not a PNG",
                Some(json!({ "code": "IMAGE_DECODE_FAILED", "jobId": id })),
            )
        })?;
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
        lock(&self.backend).stop_reason = Some(ReleaseReason::Stuck);
        Error::server(
            format!("stable-diffusion.cpp backend job {id} showed no activity for {idle_ms} ms; the backend was released"),
            Some(json!({
                "code": "BACKEND_JOB_STUCK", "jobId": id, "idleMs": idle_ms, "timeoutMs": limit.as_millis() as u64,
                "args": backend.args.join(" "), "backendStderrTail": backend.stderr_tail(),
                "suggestion": "The backend stopped reporting progress and was killed. Retry the image; raise DiffusionServerConfig.jobActivityTimeoutMs (or set it to 0 to disable the watchdog) if this hardware legitimately goes that long without output.",
            })),
        )
    }

    /// A job that did not finish normally: a queued one is cancelled in sd-server; one that
    /// is generating cannot be (sd.cpp has no mid-image cancel), so the backend is released.
    async fn stop_job(&self, backend: &Arc<Backend>, id: &str) {
        if backend.exit().is_some() {
            return;
        }
        let queued =
            matches!(backend.client().job(id).await, Ok(j) if j.status == JobStatus::Queued);
        if queued && backend.client().cancel(id).await.is_ok_and(|c| c.cancelled) {
            return;
        }
        let reason = lock(&self.backend)
            .stop_reason
            .unwrap_or(ReleaseReason::Cancel);
        let _ = self.release_backend(reason, false).await;
    }

    /// `executeBatchGeneration(config)`: `count` images in turn; seeds `seed + i` (random ones
    /// when no seed is given); the percentage spans the whole batch.
    pub(super) async fn execute_batch(
        &self,
        request: &ImageRequest,
        on_progress: Option<ProgressFn>,
        claim: &Arc<Claim>,
    ) -> Result<Vec<ImageResult>> {
        let count = request.count.unwrap_or(1).max(1);
        let mut images = Vec::with_capacity(count as usize);
        for i in 0..count {
            if claim.cancelled() {
                return Err(cancelled());
            }
            let mut one = request.clone();
            one.seed = Some(match request.seed {
                Some(s) if s >= 0 => s + i as i64,
                _ => random_seed(),
            });
            let batch = BatchProgress::new(i, count);
            images.push(
                self.execute_image(&one, on_progress.clone(), None, claim, batch)
                    .await?,
            );
        }
        Ok(images)
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

/// A generation of one image (not part of a batch).
pub(super) const SINGLE: BatchProgress = BatchProgress { index: 0, count: 1 };

pub(super) fn cancelled() -> Error {
    Error::server(
        "Image generation cancelled",
        Some(json!({ "code": "GENERATION_CANCELLED" })),
    )
}

/// A seed below 2^31 - 1, as upstream draws them.
fn random_seed() -> i64 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    (u32::from_le_bytes(b) % 2_147_483_647) as i64
}
