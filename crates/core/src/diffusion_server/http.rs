//! The front's host: HTTP generations run in the background under a registry entry, with the
//! same slot, cancel and residency rules as `generateImage`.

use super::generate::{ProgressFn, Slot, SINGLE};
use super::state::lock;
use super::DiffusionServer;
use crate::diffusion::front::{ApiRefusal, FrontHost};
use crate::diffusion::registry::Registry;
use crate::diffusion::{
    ApiError, BackendState, EncodedImage, GenerationResult, GenerationStatus, ImageProgress,
    ImageRequest, ImageResult,
};
use crate::llama_server::ServerStatus;
use crate::{Error, Result};
use base64::Engine;
use serde_json::json;
use std::sync::{Arc, Weak};
use std::time::Instant;

pub(super) struct Host(pub Weak<DiffusionServer>);

impl FrontHost for Host {
    fn is_running(&self) -> bool {
        self.0
            .upgrade()
            .is_some_and(|s| s.status() == ServerStatus::Running)
    }

    fn is_busy(&self) -> bool {
        self.0.upgrade().is_some_and(|s| s.is_busy())
    }

    fn backend_state(&self) -> BackendState {
        self.0
            .upgrade()
            .map_or(BackendState::Absent, |s| s.backend_info().state)
    }

    fn registry(&self) -> Arc<Registry> {
        match self.0.upgrade() {
            Some(s) => s.registry(),
            None => Arc::new(Registry::new(crate::diffusion::constants::IMAGE_RESULT_TTL)),
        }
    }

    fn submit(&self, request: ImageRequest) -> std::result::Result<String, ApiRefusal> {
        let server = self.0.upgrade().ok_or(ApiRefusal::NotRunning)?;
        server.submit(request)
    }

    fn cancel(&self, id: &str) -> Option<GenerationStatus> {
        let server = self.0.upgrade()?;
        server.cancel_image_generation(id).ok()?;
        server.registry().get(id).map(|g| g.status)
    }
}

impl DiffusionServer {
    /// POST /v1/images/generations: the slot, a registry entry, the work in the background.
    fn submit(&self, request: ImageRequest) -> std::result::Result<String, ApiRefusal> {
        if self.status() != ServerStatus::Running {
            return Err(ApiRefusal::NotRunning);
        }
        let registry = self.registry();
        let slot = self.claim_slot().map_err(|_| ApiRefusal::Busy)?;
        let id = registry.create(request.clone());
        *lock(&slot.claim.id) = Some(id.clone());
        let me = self.me.clone();
        let generation = id.clone();
        tokio::spawn(async move {
            if let Some(server) = me.upgrade() {
                server
                    .run_http_generation(&generation, request, &slot, &registry)
                    .await;
            }
            drop(slot); // given back (also if this task panics: the slot is dropped then too)
        });
        Ok(id)
    }

    async fn run_http_generation(
        &self,
        id: &str,
        request: ImageRequest,
        slot: &Slot,
        registry: &Arc<Registry>,
    ) {
        let mut started = false;
        registry.update(id, |g| {
            if g.status == GenerationStatus::Pending {
                g.status = GenerationStatus::InProgress;
                started = true;
            }
        });
        if !started {
            return; // cancelled before it began
        }
        let begun = Instant::now();
        let progress: ProgressFn = {
            let (registry, id) = (registry.clone(), id.to_string());
            Arc::new(move |p: ImageProgress| registry.update(&id, |g| g.progress = Some(p)))
        };
        let claim = &slot.claim;
        let run = async {
            if request.count.unwrap_or(1) > 1 {
                self.execute_batch(&request, Some(progress), claim).await
            } else {
                let one = self
                    .execute_image(&request, Some(progress), None, claim, SINGLE)
                    .await;
                one.map(|r| vec![r])
            }
        };
        let result = self.orchestrated(self.orchestrator(), &request, run).await;
        let cancelled = claim.cancelled();
        registry.update(id, |g| record_outcome(g, result, begun, cancelled));
    }

    /// `cancelImageGeneration(id)`: a finished one is left as it is; an unknown id is an error.
    /// The check and the change are one step, so a generation that ends meanwhile keeps its
    /// result (and the HTTP API says 409).
    pub fn cancel_image_generation(&self, id: &str) -> Result<()> {
        let registry = self.registry();
        let mut found = false;
        let mut won = false;
        registry.update(id, |g| {
            found = true;
            if !g.status.is_terminal() {
                g.status = GenerationStatus::Cancelled;
                won = true;
            }
        });
        if !found {
            return Err(Error::server(
                format!("Generation not found: {id}"),
                Some(json!({ "code": "GENERATION_NOT_FOUND",
                    "suggestion": "The generation may have expired from the registry or the ID is wrong" })),
            ));
        }
        let claim = lock(&self.state).claim.clone();
        if let Some(claim) = claim.filter(|c| won && c.id().as_deref() == Some(id)) {
            claim.request_cancel();
        }
        Ok(())
    }
}

/// The entry's end: `complete` with the images, `error` with upstream's code, or `cancelled`;
/// an entry already cancelled (by a DELETE) stays so.
fn record_outcome(
    g: &mut crate::diffusion::GenerationState,
    result: Result<Vec<ImageResult>>,
    begun: Instant,
    cancelled: bool,
) {
    if g.status == GenerationStatus::Cancelled {
        return;
    }
    match result {
        Ok(images) => {
            let images = images
                .into_iter()
                .map(|r| EncodedImage {
                    image: base64::engine::general_purpose::STANDARD.encode(&r.image),
                    seed: r.seed,
                    width: r.width,
                    height: r.height,
                })
                .collect();
            g.status = GenerationStatus::Complete;
            g.result = Some(GenerationResult {
                images,
                format: "png".into(),
                time_taken: begun.elapsed().as_millis() as u64,
            });
        }
        Err(e) => {
            let code = map_error_code(&e);
            if cancelled || code == "GENERATION_CANCELLED" {
                g.status = GenerationStatus::Cancelled;
            } else {
                g.status = GenerationStatus::Error;
                g.error = Some(ApiError {
                    message: e.message.clone(),
                    code: code.to_string(),
                });
            }
        }
    }
}

/// The `code` of a failed HTTP generation (upstream's `mapErrorCode`).
pub fn map_error_code(e: &Error) -> &'static str {
    if let Some(code) = e.detail_code() {
        match code {
            "GENERATION_NOT_FOUND" => return "NOT_FOUND",
            "SERVER_NOT_RUNNING" => return "SERVER_NOT_RUNNING",
            "IMAGE_DECODE_FAILED" => return "IO_ERROR",
            "BACKEND_QUEUE_FULL" | "SERVER_BUSY" => return "SERVER_BUSY",
            "SD_SERVER_START_ABORTED" | "GENERATION_CANCELLED" => return "GENERATION_CANCELLED",
            c if c.starts_with("BACKEND_") || c.starts_with("SD_SERVER_") => {
                return "BACKEND_ERROR"
            }
            _ => {}
        }
    }
    let m = e.message.to_lowercase();
    match () {
        _ if m.contains("cancelled") => "GENERATION_CANCELLED",
        _ if m.contains("server is busy") => "SERVER_BUSY",
        _ if m.contains("not running") => "SERVER_NOT_RUNNING",
        _ if m.contains("failed to spawn")
            || m.contains("exited with code")
            || m.contains("job failed") =>
        {
            "BACKEND_ERROR"
        }
        _ if m.contains("failed to read") || m.contains("failed to decode") => "IO_ERROR",
        _ => "UNKNOWN_ERROR",
    }
}
