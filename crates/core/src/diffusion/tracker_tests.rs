//! The tracker with injected times: upstream's numbers on a hand-made run, then real captures'
//! event sequences with synthetic times.

use super::*;
use crate::diffusion::progress::tests::{events, fixture, split};
use ImageStage::{Diffusion, Loading};
use Marker::*;

const DECODING: ImageStage = ImageStage::Decoding;
use StdoutEvent::{Bytes, Marker as M, Step};

fn request(width: u32, height: u32, steps: u32) -> ImageRequest {
    ImageRequest {
        prompt: "a cat".into(),
        width: Some(width),
        height: Some(height),
        steps: Some(steps),
        ..Default::default()
    }
}

fn at(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

fn r(current_step: u32, total_steps: u32, stage: ImageStage, percentage: f64) -> Option<Report> {
    Some(Report {
        current_step,
        total_steps,
        stage,
        percentage,
    })
}

#[test]
fn percentages_follow_upstreams_model() {
    // 512×512 (0.262144 MP), 20 steps, warm: 300 + 20·0.262144·1000 + 0.262144·8000 = 7640.032 ms.
    let t0 = Instant::now();
    let mut est = Estimates::default();
    let mut t = ProgressTracker::new(&request(512, 512, 20), &est, true, t0);
    assert_eq!(t.report(t0), r(0, 0, Loading, 0.0));
    t.backend_ready(t0);
    let bytes = Bytes { done: 1, total: 2 };
    assert_eq!(t.on_event(bytes, at(t0, 764)), r(1, 2, Loading, 10.0));
    // Load took 1000 ms: total 1000 + 5242.88 + 2097.152.
    let gen = M(Generating);
    assert_eq!(t.on_event(gen, at(t0, 1000)), r(0, 0, Diffusion, 12.0));
    assert_eq!(t.on_event(gen, at(t0, 1001)), None, "once");
    let step = Step {
        step: 10,
        steps: 20,
    };
    assert_eq!(t.on_event(step, at(t0, 3000)), r(10, 20, Diffusion, 36.0));
    assert!(!t.ticking());
    assert_eq!(
        t.tick(at(t0, 3100)),
        None,
        "no synthetic progress before decoding"
    );
    // Diffusion took 5000 ms: total 1000 + 5000 + 2097.152.
    assert_eq!(
        t.on_event(M(Decoding), at(t0, 6000)),
        r(0, 0, DECODING, 74.0)
    );
    assert!(t.ticking());
    assert_eq!(t.tick(at(t0, 7000)), r(0, 0, DECODING, 86.0));
    assert_eq!(t.tick(at(t0, 9000)), r(0, 0, DECODING, 99.0), "≤ 99");
    assert_eq!(t.tick(at(t0, 9500)), r(0, 0, DECODING, 99.0));
    assert_eq!(
        t.on_event(M(Decoded), at(t0, 9600)),
        None,
        "100 waits for finish"
    );
    assert!(!t.ticking());
    assert_eq!(t.tick(at(t0, 9700)), None);
    assert_eq!(t.finish(at(t0, 9800), &mut est), r(0, 0, DECODING, 100.0));
    assert_eq!(t.finish(at(t0, 9900), &mut est), None, "100 exactly once");
    assert_eq!(t.report(at(t0, 9900)), None);
    assert_eq!(t.on_event(step, at(t0, 9900)), None);
    // Learned: the warm load, diffusion per step per MP, VAE per MP.
    assert_eq!(est.warm_load_ms, 1000.0);
    assert_eq!(est.cold_load_ms, 2000.0, "not spawned: the cold load stays");
    assert!((est.diffusion_ms_per_step_per_mp - 5000.0 / (20.0 * 0.262144)).abs() < 1e-6);
    assert!((est.vae_ms_per_mp - 3600.0 / 0.262144).abs() < 1e-6);
}

#[test]
fn never_goes_down_when_the_estimate_grows() {
    // Cold: 2000 + 5242.88 + 2097.152 = 9340.032 ms; the load takes 8000.
    let t0 = Instant::now();
    let mut t = ProgressTracker::new(&request(512, 512, 20), &Estimates::default(), false, t0);
    t.spawning(t0);
    let p = |x: Option<Report>| x.unwrap().percentage;
    assert_eq!(
        p(t.on_event(Bytes { done: 9, total: 10 }, at(t0, 8000))),
        86.0
    );
    // Now the total is 8000 + 7340.032 and elapsed 8000 (52 %): the report stays at 86.
    assert_eq!(
        t.on_event(M(Generating), at(t0, 8000)),
        r(0, 0, Diffusion, 86.0)
    );
    assert_eq!(
        p(t.on_event(Step { step: 1, steps: 20 }, at(t0, 8100))),
        86.0
    );
}

#[test]
fn stages_only_move_forward() {
    let t0 = Instant::now();
    let mut t = ProgressTracker::new(&request(64, 64, 2), &Estimates::default(), true, t0);
    // A step with no `generating image` before it starts diffusion.
    let s1 = Step { step: 1, steps: 2 };
    assert_eq!(t.on_event(s1, at(t0, 10)).unwrap().stage, Diffusion);
    assert_eq!(
        t.on_event(Bytes { done: 1, total: 1 }, at(t0, 20)),
        None,
        "loading is over"
    );
    assert_eq!(t.job_generating(at(t0, 30)), None, "steps not all drawn");
    assert_eq!(
        t.on_event(Step { step: 2, steps: 2 }, at(t0, 40))
            .unwrap()
            .current_step,
        2
    );
    // The job is still `generating` with every step drawn: the VAE has begun.
    assert_eq!(t.job_generating(at(t0, 50)).unwrap().stage, DECODING);
    assert_eq!(t.job_generating(at(t0, 60)), None);
    assert_eq!(
        t.on_event(M(Decoding), at(t0, 70)),
        None,
        "already decoding"
    );
    // A VAE tiling bar is in the step format: it does not move diffusion.
    assert_eq!(t.on_event(s1, at(t0, 80)), None);
    assert_eq!(t.on_event(M(Generating), at(t0, 90)), None);
    for m in [Sampling, Completed, Listening] {
        assert_eq!(t.on_event(M(m), at(t0, 95)), None);
    }
    let now = t.report(at(t0, 100)).unwrap();
    assert_eq!(
        (now.current_step, now.total_steps, now.stage),
        (0, 0, DECODING)
    );
}

#[test]
fn a_spawn_learns_the_cold_load() {
    let t0 = Instant::now();
    let mut est = Estimates::default();
    let mut t = ProgressTracker::new(&request(64, 64, 2), &est, true, t0);
    t.spawning(at(t0, 100));
    t.backend_ready(at(t0, 2000));
    t.on_event(M(Generating), at(t0, 3100));
    t.on_event(M(Decoding), at(t0, 3500));
    t.finish(at(t0, 3600), &mut est);
    assert_eq!(est.cold_load_ms, 3000.0, "from the spawn, not from ready");
    assert_eq!(est.warm_load_ms, 300.0);
}

#[test]
fn the_one_unseen_stage_is_inferred() {
    // No load seen (warm, no bytes, no ready): load = wall time − diffusion − VAE − gaps.
    let t0 = Instant::now();
    let mut est = Estimates::default();
    let mut t = ProgressTracker::new(&request(1000, 1000, 10), &est, true, t0);
    t.on_event(M(Generating), at(t0, 500));
    t.on_event(M(Decoding), at(t0, 2500));
    t.on_event(M(Decoded), at(t0, 3000));
    t.finish(at(t0, 3200), &mut est);
    assert_eq!(est.warm_load_ms, 700.0);
    assert_eq!(est.diffusion_ms_per_step_per_mp, 200.0);
    assert_eq!(est.vae_ms_per_mp, 500.0);
}

#[test]
fn absent_sizes_are_upstreams_defaults() {
    let t0 = Instant::now();
    let req = ImageRequest {
        prompt: "x".into(),
        ..Default::default()
    };
    let mut t = ProgressTracker::new(&req, &Estimates::default(), true, t0);
    let mut same = ProgressTracker::new(&request(512, 512, 20), &Estimates::default(), true, t0);
    assert_eq!(t.report(at(t0, 764)), same.report(at(t0, 764)));
    assert_eq!(t.report(at(t0, 764)).unwrap().percentage, 10.0);
}

#[test]
fn batch_percentage_and_image_numbers_as_upstream() {
    let report = |percentage| Report {
        current_step: 3,
        total_steps: 20,
        stage: Diffusion,
        percentage,
    };
    let single = BatchProgress::new(0, 1);
    assert_eq!(single.overall(29.0), 29.0, "one image passes through");
    let one = single.progress(report(29.0));
    assert_eq!(
        (one.percentage, one.current_image, one.total_images),
        (Some(29.0), None, None)
    );
    // Values from genai-electron's own formulas in Node.
    for (index, count, p, overall, image) in [
        (0, 3, 100.0, 33.33333333333333, 1),
        (1, 3, 0.0, 33.33333333333333, 1),
        (1, 3, 50.0, 50.0, 2),
        (2, 3, 100.0, 100.0, 3),
        (0, 2, 100.0, 50.0, 2),
        (0, 5, 100.0, 20.0, 2),
        (3, 5, 100.0, 80.0, 5),
        (4, 5, 99.0, 99.8, 5),
    ] {
        let b = BatchProgress::new(index, count).progress(report(p));
        assert_eq!(b.percentage, Some(overall), "{index}/{count} at {p}");
        assert_eq!(
            (b.current_image, b.total_images),
            (Some(image), Some(count))
        );
        assert_eq!((b.current_step, b.total_steps, b.stage), (3, 20, Diffusion));
    }
    assert_eq!(image_fields(1, 50.0), (None, None));
}

/// Feeds one job's events (up to `Completed`) with synthetic times: 40 ms apart, and ticks every
/// 100 ms for 300 ms while decoding. Returns the reports, the 100 last.
fn run_job(
    t: &mut ProgressTracker,
    events: &mut impl Iterator<Item = StdoutEvent>,
    clock: &mut Instant,
    est: &mut Estimates,
) -> Vec<Report> {
    let mut reports: Vec<Report> = t.report(*clock).into_iter().collect();
    for event in events.by_ref() {
        *clock += Duration::from_millis(40);
        if event == M(Listening) {
            t.backend_ready(*clock);
        }
        reports.extend(t.on_event(event, *clock));
        if event == M(Decoding) {
            for _ in 0..3 {
                *clock += TICK_INTERVAL;
                reports.extend(t.tick(*clock));
            }
        }
        if event == M(Completed) {
            break;
        }
    }
    *clock += Duration::from_millis(40);
    reports.extend(t.finish(*clock, est));
    reports
}

fn check(reports: &[Report], what: &str) {
    let mut stages: Vec<ImageStage> = reports.iter().map(|r| r.stage).collect();
    stages.dedup();
    assert_eq!(
        stages,
        [Loading, Diffusion, DECODING],
        "{what}: stages in order"
    );
    assert!(
        reports
            .windows(2)
            .all(|w| w[0].percentage <= w[1].percentage),
        "{what}: monotonic {reports:?}"
    );
    let (last, running) = reports.split_last().unwrap();
    assert_eq!(last.percentage, 100.0, "{what}");
    assert!(
        running.iter().all(|r| r.percentage <= 99.0),
        "{what}: ≤ 99 while running"
    );
    let steps: Vec<u32> = running
        .iter()
        .filter(|r| r.stage == Diffusion && r.total_steps > 0)
        .map(|r| r.current_step)
        .collect();
    assert!(
        steps.windows(2).all(|w| w[0] < w[1]),
        "{what}: steps in order {steps:?}"
    );
}

#[test]
fn real_capture_cold_then_warm() {
    let lines = split(&[&fixture("sd-server-start-and-2-jobs.stdout")]);
    let mut events = events(&lines).into_iter();
    let mut est = Estimates::default();
    let mut clock = Instant::now();
    let mut cold = ProgressTracker::new(&request(64, 64, 2), &est, false, clock);
    cold.spawning(clock);
    let reports = run_job(&mut cold, &mut events, &mut clock, &mut est);
    check(&reports, "cold");
    assert_eq!(reports[1].stage, Loading, "the loading bar is reported");
    assert_eq!(
        (reports[1].current_step, reports[1].total_steps),
        (610, 610)
    );
    assert_eq!(
        est.cold_load_ms, 160.0,
        "spawn, bytes, listening, sampling, generating"
    );
    let mut warm = ProgressTracker::new(&request(128, 128, 3), &est, true, clock);
    warm.backend_ready(clock);
    let reports = run_job(&mut warm, &mut events, &mut clock, &mut est);
    check(&reports, "warm");
    assert_eq!(est.warm_load_ms, 80.0, "ready, sampling, generating");
    assert_eq!(events.next(), None, "both jobs consumed");
}
