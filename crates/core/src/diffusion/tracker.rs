//! One image's progress from sd.cpp's stdout events, as genai-electron 0.26 reports it: stages
//! `loading` → `diffusion` → `decoding`; the percentage is the elapsed time against an estimated
//! total made of learned per-stage times (model load cold or warm, diffusion per step per
//! megapixel, VAE per megapixel), re-estimated as each stage ends. It never goes down, stays ≤ 99
//! while running, and `finish` reports 100 exactly once. Time is passed in (`Instant`), and the
//! synthetic decoding progress (sd.cpp draws no bar for the VAE) is a `tick` the caller drives
//! every [`TICK_INTERVAL`] while [`ProgressTracker::ticking`].

use super::progress::{Marker, StdoutEvent};
use super::types::{ImageProgress, ImageRequest, ImageStage};
use std::time::{Duration, Instant};

/// How often upstream reports synthetic progress while the VAE decodes.
pub const TICK_INTERVAL: Duration = Duration::from_millis(100);

/// Upstream's defaults when `width`/`height`/`steps` are absent.
const DEFAULT_SIZE: u32 = 512;
const DEFAULT_STEPS: u32 = 20;

/// What the progress callback receives: `onProgress(currentStep, totalSteps, stage, percentage)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Report {
    pub current_step: u32,
    pub total_steps: u32,
    pub stage: ImageStage,
    pub percentage: f64,
}

impl From<Report> for ImageProgress {
    fn from(r: Report) -> Self {
        ImageProgress {
            current_step: r.current_step,
            total_steps: r.total_steps,
            stage: r.stage,
            percentage: Some(r.percentage),
            current_image: None,
            total_images: None,
        }
    }
}

/// Learned stage times in milliseconds; they survive across images (the manager keeps one and
/// every successful image updates it). Defaults are upstream's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimates {
    /// Loading when the backend has to be spawned.
    pub cold_load_ms: f64,
    /// Loading when the backend is resident (the job's own start-up).
    pub warm_load_ms: f64,
    pub diffusion_ms_per_step_per_mp: f64,
    pub vae_ms_per_mp: f64,
}

impl Default for Estimates {
    fn default() -> Self {
        Estimates {
            cold_load_ms: 2000.0,
            warm_load_ms: 300.0,
            diffusion_ms_per_step_per_mp: 1000.0,
            vae_ms_per_mp: 8000.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Loading,
    Diffusion,
    Vae,
}

/// A stage's start and end, once seen.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: Option<Instant>,
    end: Option<Instant>,
}

impl Span {
    fn taken_ms(&self) -> Option<f64> {
        Some(ms(self.end?.saturating_duration_since(self.start?)))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One image's progress (a new tracker per image; the [`Estimates`] carry over).
#[derive(Debug, Clone)]
pub struct ProgressTracker {
    megapixels: f64,
    steps: f64,
    estimates: Estimates,
    load_estimate_ms: f64,
    total_ms: f64,
    started: Instant,
    stage: Stage,
    load: Span,
    diffusion: Span,
    vae: Span,
    load_progress: (u64, u64),
    step_progress: (u32, u32),
    reported: f64,
    spawned: bool,
    finished: bool,
}

impl ProgressTracker {
    /// Starts tracking `request` (in the loading stage); `warm`: the backend is resident.
    pub fn new(request: &ImageRequest, estimates: &Estimates, warm: bool, now: Instant) -> Self {
        let size = |v: Option<u32>| f64::from(v.filter(|&v| v > 0).unwrap_or(DEFAULT_SIZE));
        let megapixels = size(request.width) * size(request.height) / 1_000_000.0;
        let steps = f64::from(request.steps.filter(|&s| s > 0).unwrap_or(DEFAULT_STEPS));
        let load_estimate_ms = if warm {
            estimates.warm_load_ms
        } else {
            estimates.cold_load_ms
        };
        let mut tracker = ProgressTracker {
            megapixels,
            steps,
            estimates: *estimates,
            load_estimate_ms,
            total_ms: 0.0,
            started: now,
            stage: Stage::Loading,
            load: Span::default(),
            diffusion: Span::default(),
            vae: Span::default(),
            load_progress: (0, 0),
            step_progress: (0, 0),
            reported: 0.0,
            spawned: false,
            finished: false,
        };
        tracker.recalculate();
        tracker
    }

    /// The current report (upstream reports one as the image starts); `None` once finished.
    pub fn report(&mut self, now: Instant) -> Option<Report> {
        if self.finished {
            return None;
        }
        let percentage = self.percentage(now);
        let (current_step, total_steps, stage) = match self.stage {
            Stage::Loading => {
                let (done, total) = self.load_progress;
                (saturate(done), saturate(total), ImageStage::Loading)
            }
            Stage::Diffusion => {
                let (step, steps) = self.step_progress;
                (step, steps, ImageStage::Diffusion)
            }
            Stage::Vae => (0, 0, ImageStage::Decoding),
        };
        Some(Report {
            current_step,
            total_steps,
            stage,
            percentage,
        })
    }

    /// The backend is being spawned for this image: loading starts now, at the cold estimate.
    pub fn spawning(&mut self, now: Instant) {
        self.spawned = true;
        self.load.start = Some(now);
        self.load_estimate_ms = self.estimates.cold_load_ms;
        self.recalculate();
    }

    /// The backend is ready and the job goes in: a warm load starts here if none started.
    pub fn backend_ready(&mut self, now: Instant) {
        self.load.start.get_or_insert(now);
    }

    /// One parsed stdout event; the report it causes, if any.
    pub fn on_event(&mut self, event: StdoutEvent, now: Instant) -> Option<Report> {
        if self.finished {
            return None;
        }
        match event {
            StdoutEvent::Marker(Marker::Generating) => self.begin_diffusion(now),
            StdoutEvent::Marker(Marker::Decoding) => self.begin_vae(now),
            StdoutEvent::Marker(Marker::Decoded) => {
                self.complete_vae(now);
                None
            }
            StdoutEvent::Marker(_) => None,
            StdoutEvent::Step { step, steps } => {
                if self.stage == Stage::Loading {
                    self.begin_diffusion(now);
                }
                // After `Decoding` a step bar is VAE tiling: it does not move diffusion.
                if self.stage != Stage::Diffusion {
                    return None;
                }
                self.step_progress = (step, steps);
                self.report(now)
            }
            StdoutEvent::Bytes { done, total } => {
                if self.stage != Stage::Loading {
                    return None;
                }
                self.load.start.get_or_insert(now);
                self.load_progress = (done, total);
                self.report(now)
            }
        }
    }

    /// The backend's job says `generating`: with every step drawn, the VAE has begun.
    pub fn job_generating(&mut self, now: Instant) -> Option<Report> {
        let (step, steps) = self.step_progress;
        if self.finished || self.stage != Stage::Diffusion || steps == 0 || step < steps {
            return None;
        }
        self.begin_vae(now)
    }

    /// Whether the caller should call [`tick`](Self::tick) every [`TICK_INTERVAL`].
    /// The stage as upstream names it (`loading`, `diffusion`, `decoding`).
    pub fn stage(&self) -> ImageStage {
        match self.stage {
            Stage::Loading => ImageStage::Loading,
            Stage::Diffusion => ImageStage::Diffusion,
            Stage::Vae => ImageStage::Decoding,
        }
    }

    pub fn ticking(&self) -> bool {
        !self.finished && self.stage == Stage::Vae && self.vae.end.is_none()
    }

    /// The synthetic decoding report, while [`ticking`](Self::ticking).
    pub fn tick(&mut self, now: Instant) -> Option<Report> {
        if !self.ticking() {
            return None;
        }
        self.report(now)
    }

    /// The image is done: the one report at 100 (`None` on a second call), and the stage times
    /// this image took are learned into `estimates`.
    pub fn finish(&mut self, now: Instant, estimates: &mut Estimates) -> Option<Report> {
        if self.finished {
            return None;
        }
        self.complete_vae(now);
        self.learn(now, estimates);
        self.finished = true;
        Some(Report {
            current_step: 0,
            total_steps: 0,
            stage: ImageStage::Decoding,
            percentage: 100.0,
        })
    }

    fn begin_diffusion(&mut self, now: Instant) -> Option<Report> {
        if self.stage != Stage::Loading {
            return None;
        }
        self.load.end = Some(now);
        self.stage = Stage::Diffusion;
        self.diffusion.start = Some(now);
        self.recalculate();
        self.report(now)
    }

    fn begin_vae(&mut self, now: Instant) -> Option<Report> {
        match self.stage {
            Stage::Vae => return None,
            Stage::Diffusion => self.diffusion.end = Some(now),
            Stage::Loading => {
                self.load.end.get_or_insert(now);
            }
        }
        self.stage = Stage::Vae;
        self.vae.start = Some(now);
        self.recalculate();
        self.report(now)
    }

    fn complete_vae(&mut self, now: Instant) {
        if self.vae.end.is_none() {
            self.vae.end = Some(now);
            self.recalculate();
        }
    }

    fn diffusion_estimate_ms(&self) -> f64 {
        self.steps * self.megapixels * self.estimates.diffusion_ms_per_step_per_mp
    }

    /// The estimated total: what each stage took where known, else its estimate.
    fn recalculate(&mut self) {
        self.total_ms = self.load.taken_ms().unwrap_or(self.load_estimate_ms)
            + self
                .diffusion
                .taken_ms()
                .unwrap_or_else(|| self.diffusion_estimate_ms())
            + self
                .vae
                .taken_ms()
                .unwrap_or(self.megapixels * self.estimates.vae_ms_per_mp);
    }

    /// Elapsed against the estimated total, rounded, ≤ 99 and never below what was reported.
    fn percentage(&mut self, now: Instant) -> f64 {
        if self.total_ms <= 0.0 {
            return self.reported;
        }
        let since = |t: Option<Instant>| ms(now.saturating_duration_since(t.unwrap_or(now)));
        let load_ms = match self.load.end {
            Some(end) => ms(end.saturating_duration_since(self.load.start.unwrap_or(self.started))),
            None => self.load_estimate_ms,
        };
        let elapsed = match self.stage {
            Stage::Loading => {
                ms(now.saturating_duration_since(self.load.start.unwrap_or(self.started)))
            }
            Stage::Diffusion => load_ms + since(self.diffusion.start),
            Stage::Vae => {
                let diffusion_ms = self.diffusion.end.map_or(0.0, |end| {
                    ms(end.saturating_duration_since(self.diffusion.start.unwrap_or(now)))
                });
                load_ms + diffusion_ms + since(self.vae.start)
            }
        };
        let raw = (elapsed / self.total_ms * 100.0).round().min(99.0);
        self.reported = self.reported.max(raw);
        self.reported
    }

    /// Upstream's `updateTimeEstimates`: each stage seen whole sets its rate; when exactly one
    /// is missing, it gets what is left of the wall time after the other two and the gaps.
    fn learn(&self, now: Instant, estimates: &mut Estimates) {
        let mp = self.megapixels;
        if mp == 0.0 || self.steps == 0.0 {
            return;
        }
        let (load, diffusion, vae) = (
            self.load.taken_ms(),
            self.diffusion.taken_ms(),
            self.vae.taken_ms(),
        );
        let set_load = |e: &mut Estimates, v: f64| {
            if self.spawned {
                e.cold_load_ms = v;
            } else {
                e.warm_load_ms = v;
            }
        };
        if let Some(v) = load {
            set_load(estimates, v);
        }
        if let Some(v) = diffusion {
            estimates.diffusion_ms_per_step_per_mp = v / (self.steps * mp);
        }
        if let Some(v) = vae {
            estimates.vae_ms_per_mp = v / mp;
        }
        let known = [load, diffusion, vae].iter().flatten().count();
        if known != 2 {
            return;
        }
        let total = ms(now.saturating_duration_since(self.started));
        let known_sum = load.unwrap_or(0.0) + diffusion.unwrap_or(0.0) + vae.unwrap_or(0.0);
        let gap = |from: Option<Instant>, to: Option<Instant>| match (from, to) {
            (Some(f), Some(t)) => ms(t.saturating_duration_since(f)),
            _ => 0.0,
        };
        let gaps = gap(Some(self.started), self.load.start)
            + gap(self.load.end, self.diffusion.start)
            + gap(self.diffusion.end, self.vae.start);
        let inferred = (total - known_sum - gaps).max(0.0);
        if load.is_none() {
            set_load(estimates, inferred);
        } else if diffusion.is_none() {
            estimates.diffusion_ms_per_step_per_mp = inferred / (self.steps * mp);
        } else {
            estimates.vae_ms_per_mp = inferred / mp;
        }
    }
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Image `index` (from 0) of `count` made one after the other: upstream's batch percentage
/// (`((index + p/100) / count) * 100`, so only the last image reaches 100) and, for `count > 1`,
/// `currentImage`/`totalImages` as its registry derives them from that percentage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchProgress {
    pub index: u32,
    pub count: u32,
}

impl BatchProgress {
    pub fn new(index: u32, count: u32) -> Self {
        BatchProgress { index, count }
    }

    /// The overall percentage; a single image's passes through unchanged.
    pub fn overall(&self, percentage: f64) -> f64 {
        if self.count <= 1 {
            return percentage;
        }
        (f64::from(self.index) + percentage / 100.0) / f64::from(self.count) * 100.0
    }

    /// The report as the registry and `onProgress` see it.
    pub fn progress(&self, report: Report) -> ImageProgress {
        let percentage = self.overall(report.percentage);
        let (current_image, total_images) = image_fields(self.count, percentage);
        ImageProgress {
            percentage: Some(percentage),
            current_image,
            total_images,
            ..report.into()
        }
    }
}

/// `currentImage`/`totalImages` from an overall percentage: `min(count, floor(p / (100 / count))
/// + 1)` and `count`, only when `count > 1`.
pub fn image_fields(count: u32, overall: f64) -> (Option<u32>, Option<u32>) {
    if count <= 1 {
        return (None, None);
    }
    let n = f64::from(count);
    // A float-to-int `as` saturates (NaN → 0); the value is ≥ 0 and ≤ count here.
    let current = ((overall / (100.0 / n)).floor() + 1.0).min(n).max(1.0) as u32;
    (Some(current), Some(count))
}

#[cfg(test)]
#[path = "tracker_tests.rs"]
mod tests;
