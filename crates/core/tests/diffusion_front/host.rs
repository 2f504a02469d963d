//! A `FrontHost` standing in for the manager (it runs "generations" that complete when the test
//! says so, through the real `Registry`), and a front on 127.0.0.1 for it.

use base64::Engine;
use genai_core::diffusion::front::{ApiRefusal, Front, FrontConfig, FrontHost};
use genai_core::diffusion::registry::Registry;
use genai_core::diffusion::{
    ApiError, BackendState, EncodedImage, GenerationResult, GenerationStatus, ImageProgress,
    ImageRequest, ImageStage,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// The 8-byte PNG signature and an IHDR: what the "generations" return as their image.
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x40\0\0\0\x40";

/// A host whose generations wait for `finish()` and report progress meanwhile.
pub struct TestHost {
    pub running: AtomicBool,
    /// `backend_state` panics (a bug in the manager, as the front sees it).
    pub panics: AtomicBool,
    slot: Mutex<Option<String>>,
    registry: Arc<Registry>,
    /// What the front asked: `submit <prompt>` and `cancel <id>`.
    pub calls: Mutex<Vec<String>>,
    pub submitted: Mutex<Vec<ImageRequest>>,
    finish: tokio::sync::Semaphore,
    /// The registry's clock (ms), moved by the tests.
    pub now: Arc<AtomicU64>,
    /// Itself, for the background jobs it spawns.
    me: Weak<TestHost>,
}

impl TestHost {
    pub fn new(max_age: Duration) -> Arc<Self> {
        let now = Arc::new(AtomicU64::new(1_700_000_000_000));
        let clock = now.clone();
        let registry =
            Registry::with_clock(max_age, Arc::new(move || clock.load(Ordering::SeqCst)));
        Arc::new_cyclic(|me| TestHost {
            running: AtomicBool::new(true),
            panics: AtomicBool::new(false),
            slot: Mutex::new(None),
            registry: Arc::new(registry),
            calls: Mutex::new(Vec::new()),
            submitted: Mutex::new(Vec::new()),
            finish: tokio::sync::Semaphore::new(0),
            now,
            me: me.clone(),
        })
    }

    /// Lets the running generation complete.
    pub fn finish(&self) {
        self.finish.add_permits(1);
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    pub fn advance(&self, ms: u64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }

    /// The job: in progress at 50 %, then complete with `count` images (or gone when cancelled).
    async fn run(self: Arc<Self>, id: String, request: ImageRequest) {
        self.registry.update(&id, |s| {
            if s.status != GenerationStatus::Pending {
                return; // cancelled before it started
            }
            s.status = GenerationStatus::InProgress;
            s.progress = Some(ImageProgress {
                current_step: 1,
                total_steps: 2,
                stage: ImageStage::Diffusion,
                percentage: Some(50.0),
                current_image: None,
                total_images: None,
            });
        });
        loop {
            if self
                .registry
                .get(&id)
                .is_none_or(|s| s.status == GenerationStatus::Cancelled)
            {
                return;
            }
            if let Ok(permit) = self.finish.try_acquire() {
                permit.forget();
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let seed = request.seed.unwrap_or(42);
        let images = (0..request.count.unwrap_or(1))
            .map(|i| EncodedImage {
                image: base64::engine::general_purpose::STANDARD.encode(PNG),
                seed: seed + i64::from(i),
                width: 64,
                height: 64,
            })
            .collect();
        self.registry.update(&id, |s| {
            s.status = GenerationStatus::Complete;
            s.result = Some(GenerationResult {
                images,
                format: "png".into(),
                time_taken: 12,
            });
        });
        self.slot.lock().unwrap().take();
    }

    /// Marks a generation failed, as the manager does when the backend dies.
    pub fn fail(&self, id: &str) {
        self.registry.update(id, |s| {
            s.status = GenerationStatus::Error;
            s.error = Some(ApiError {
                message: "sd-server exited".into(),
                code: "BACKEND_ERROR".into(),
            });
        });
        self.slot.lock().unwrap().take();
    }
}

impl FrontHost for TestHost {
    fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }
    fn is_busy(&self) -> bool {
        self.slot.lock().unwrap().is_some()
    }
    fn backend_state(&self) -> BackendState {
        assert!(
            !self.panics.load(Ordering::SeqCst),
            "backend_state panicked"
        );
        if self.is_busy() {
            BackendState::Busy
        } else {
            BackendState::Absent
        }
    }
    fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }
    fn submit(&self, request: ImageRequest) -> Result<String, ApiRefusal> {
        if !self.is_running() {
            return Err(ApiRefusal::NotRunning);
        }
        let mut slot = self.slot.lock().unwrap();
        if slot.is_some() {
            return Err(ApiRefusal::Busy);
        }
        let id = self.registry.create(request.clone());
        *slot = Some(id.clone());
        self.calls
            .lock()
            .unwrap()
            .push(format!("submit {}", request.prompt));
        self.submitted.lock().unwrap().push(request.clone());
        if let Some(me) = self.me.upgrade() {
            tokio::spawn(me.run(id.clone(), request));
        }
        Ok(id)
    }
    fn cancel(&self, id: &str) -> Option<GenerationStatus> {
        self.calls.lock().unwrap().push(format!("cancel {id}"));
        self.registry
            .update(id, |s| s.status = GenerationStatus::Cancelled);
        self.slot.lock().unwrap().take();
        Some(GenerationStatus::Cancelled)
    }
}

/// A front on 127.0.0.1 (a free port) for a new host.
pub fn front_with(config: FrontConfig, max_age: Duration) -> (Front, Arc<TestHost>, String) {
    let host = TestHost::new(max_age);
    let front = Front::bind(config, host.clone()).expect("the front binds");
    let base = format!("http://{}", front.local_addr());
    (front, host, base)
}

pub fn front() -> (Front, Arc<TestHost>, String) {
    front_with(FrontConfig::default(), Duration::from_secs(300))
}
