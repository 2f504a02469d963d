//! One image: resolve the flags, make sure the backend runs, submit the job, poll it (the
//! backend's exit, a cancel and the stuck-job watchdog end the wait), decode the PNG; progress
//! comes from the backend's output. Batches run their images in turn.

use super::state::{lock, Claim};
use super::{now_ms, DiffusionServer};
use crate::diffusion::backend::{Backend, Stream};
use crate::diffusion::client::SdImageRequest;
use crate::diffusion::progress::{self, StdoutEvent};
use crate::diffusion::tracker::{BatchProgress, ProgressTracker, Report};
use crate::diffusion::{
    optimizations, BackendFlags, BackendState, ImageProgress, ImageRequest, ImageResult,
};
use crate::llama_server::ServerStatus;
use crate::logs::Level;
use crate::orchestrator::Orchestrator;
use crate::{Error, Result};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// `onProgress(currentStep, totalSteps, stage, percentage)`.
pub type ProgressFn = Arc<dyn Fn(ImageProgress) + Send + Sync>;

/// The generation under way: its tracker, its place in a batch, where its reports go.
pub(super) struct ProgressSink {
    pub(super) tracker: ProgressTracker,
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
    /// The backend's output: every line to the log (bars excepted, sd.cpp's own level kept);
    /// for the current backend (`epoch`), progress events to the generation under way, and
    /// each line counts as activity for the stuck-job watchdog.
    pub(super) fn line_sink(&self, epoch: u64) -> crate::diffusion::backend::LineFn {
        let me = self.me.clone();
        Arc::new(move |line: &str, stream: Stream| {
            let Some(server) = me.upgrade() else { return };
            if !progress::is_progress_bar(line) {
                let (level, text) = progress::log_line(line, stream == Stream::Stderr);
                let _ = server.log.write(text, level);
            }
            if server.backend_epoch.load(Ordering::SeqCst) != epoch {
                return;
            }
            server.last_activity.store(now_ms(), Ordering::Relaxed);
            for event in progress::parse_line(line) {
                if event == StdoutEvent::Marker(progress::Marker::Completed) {
                    server.job_event.notify_one();
                }
                server.track(|t, now| t.on_event(event, now));
            }
        })
    }

    /// `generateImage(config)` in a taken slot: one image (`count` is for the HTTP API and
    /// batches) through the orchestrator (the built-in one unless `orchestrator` is given),
    /// which offloads the LLM when needed and settles the residency (`single` releases the
    /// backend, `burst` arms the idle timer); without one, the residency settles here.
    pub async fn generate_image(
        &self,
        slot: Slot,
        request: ImageRequest,
        on_progress: Option<ProgressFn>,
    ) -> Result<ImageResult> {
        self.generate_with(self.orchestrator(), slot, request, on_progress)
            .await
    }

    /// `orchestrateImageGeneration(config)` of `orchestrator`.
    pub async fn generate_with(
        &self,
        orchestrator: Option<Arc<Orchestrator>>,
        slot: Slot,
        request: ImageRequest,
        on_progress: Option<ProgressFn>,
    ) -> Result<ImageResult> {
        let run = self.execute_image(&request, on_progress, None, &slot.claim, SINGLE);
        let result = self.orchestrated(orchestrator, &request, run).await;
        drop(slot);
        result
    }

    /// `orchestrateBatchGeneration(config)` of `orchestrator` (the built-in one when `None`).
    pub async fn generate_batch_with(
        &self,
        orchestrator: Option<Arc<Orchestrator>>,
        slot: Slot,
        request: ImageRequest,
        on_progress: Option<ProgressFn>,
    ) -> Result<Vec<ImageResult>> {
        let orchestrator = orchestrator.or_else(|| self.orchestrator());
        let run = self.execute_batch(&request, on_progress, &slot.claim);
        let result = self.orchestrated(orchestrator, &request, run).await;
        drop(slot);
        result
    }

    /// `run` through `orchestrator`, or alone with the residency settled after it.
    pub(super) async fn orchestrated<T>(
        &self,
        orchestrator: Option<Arc<Orchestrator>>,
        request: &ImageRequest,
        run: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        if let Some(o) = orchestrator {
            return o.orchestrate(self, request, run).await;
        }
        let result = run.await;
        let mode = self.resolve_usage_mode(request.usage_mode, false);
        if let Err(e) = self.settle_residency(mode).await {
            let _ = self
                .log
                .write(&format!("Residency settle failed: {e}"), Level::Warn);
        }
        result
    }

    /// `executeImageGeneration(config, flagOverrides)` in a taken slot: one image, without the
    /// residency settling `generateImage` adds.
    pub async fn execute_image_generation(
        &self,
        slot: Slot,
        request: ImageRequest,
        on_progress: Option<ProgressFn>,
        overrides: Option<optimizations::FlagOverrides>,
    ) -> Result<ImageResult> {
        self.execute_image(
            &request,
            on_progress,
            overrides.as_ref(),
            &slot.claim,
            SINGLE,
        )
        .await
    }

    /// `executeBatchGeneration(config)` in a taken slot: `count` images in turn.
    pub async fn execute_batch_generation(
        &self,
        slot: Slot,
        request: ImageRequest,
        on_progress: Option<ProgressFn>,
    ) -> Result<Vec<ImageResult>> {
        self.execute_batch(&request, on_progress, &slot.claim).await
    }

    /// Takes the one generation slot, at once (the caller's thread: of two calls made one
    /// after the other, the first wins, as upstream's synchronous claim), with upstream's
    /// errors. The idle timer is disarmed: a warm backend stays for this generation.
    pub fn claim_slot(&self) -> Result<Slot> {
        let mut s = lock(&self.state);
        if s.status != ServerStatus::Running {
            return Err(super::not_running(s.status));
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
        drop(s);
        lock(&self.backend).disarm_idle();
        Ok(Slot {
            server: self.me.clone(),
            claim,
        })
    }

    fn release_claim(&self, claim: &Arc<Claim>) {
        let mut s = lock(&self.state);
        if s.claim.as_ref().is_some_and(|c| Arc::ptr_eq(c, claim)) {
            s.claim = None;
        }
        drop(s);
        claim.done.send_replace(true);
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
        let prepared = lock(&self.state)
            .prepared
            .clone()
            .ok_or_else(|| super::not_running(self.status()))?;
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
    pub(super) fn track(&self, f: impl FnOnce(&mut ProgressTracker, Instant) -> Option<Report>) {
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
        let auto = optimizations::auto_flags(&prepared.model, gpu.as_ref());
        let line = optimizations::describe(&flags, &auto, prepared.config.batch_size);
        let _ = self.log.write(&line, Level::Info);
        let backend = self.busy_backend(flags, claim).await?;
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
        let result = self.job_to_png(&backend, &body, claim).await;
        self.move_backend(&backend, BackendState::Busy, BackendState::Ready);
        result
    }

    /// A backend with `flags`, moved to `busy` for this job. One that is released between
    /// `ensure_backend` and the move (idle timer, a release) is not used: another is started.
    async fn busy_backend(&self, flags: BackendFlags, claim: &Arc<Claim>) -> Result<Arc<Backend>> {
        for _ in 0..3 {
            let backend = self
                .ensure_backend(flags, &claim.cancel)
                .await
                .map_err(|e| if claim.cancelled() { cancelled() } else { e })?;
            if claim.cancelled() {
                return Err(cancelled());
            }
            if self.move_backend(&backend, BackendState::Ready, BackendState::Busy) {
                return Ok(backend);
            }
        }
        Err(Error::server(
            "Could not settle the stable-diffusion.cpp backend state",
            Some(
                json!({ "code": "BACKEND_STATE_UNSETTLED", "state": self.backend_info().state,
                "suggestion": "Stop and restart the diffusion server" }),
            ),
        ))
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

/// The one generation slot, taken by `claim_slot()`; given back when dropped (also when the
/// generation's task panics or its future is dropped).
pub struct Slot {
    server: std::sync::Weak<DiffusionServer>,
    pub(super) claim: Arc<Claim>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        match self.server.upgrade() {
            Some(server) => server.release_claim(&self.claim),
            None => {
                self.claim.done.send_replace(true);
            }
        }
    }
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
