//! The parser on single lines, then on real sd-server/sd-cli captures (`tests/data/sd/`) fed
//! through the real line splitter (`process::pump`) whole, cut at every byte, cut at random,
//! and written by a real child in pieces.

use super::*;
use crate::process::{self, pump, Event, EventFn, Spec};
use std::cell::RefCell;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use Marker::*;
use StdoutEvent::{Bytes, Marker as M, Step};

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/sd/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A reader that hands out the given chunks, one per `read` (so BufReader sees each boundary).
struct Chunks<'a> {
    chunks: Vec<&'a [u8]>,
    at: usize,
}

impl Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(chunk) = self.chunks.get_mut(self.at) {
            if chunk.is_empty() {
                self.at += 1;
                continue;
            }
            let n = buf.len().min(chunk.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            *chunk = &chunk[n..];
            return Ok(n);
        }
        Ok(0)
    }
}

/// The lines the real splitter makes of these chunks.
pub(crate) fn split(chunks: &[&[u8]]) -> Vec<String> {
    let lines = RefCell::new(Vec::new());
    pump(
        Chunks {
            chunks: chunks.to_vec(),
            at: 0,
        },
        |l| lines.borrow_mut().push(l),
    );
    lines.into_inner()
}

pub(crate) fn events(lines: &[String]) -> Vec<StdoutEvent> {
    lines.iter().flat_map(|l| parse_line(l)).collect()
}

/// `data` cut at the given (sorted) offsets.
fn cut<'a>(data: &'a [u8], at: &[usize]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    let mut from = 0;
    for &to in at {
        chunks.push(&data[from..to]);
        from = to;
    }
    chunks.push(&data[from..]);
    chunks
}

/// A small fixed-seed generator (xorshift64), so random cuts are the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn cuts(&mut self, len: usize, max: usize) -> Vec<usize> {
        let mut at: Vec<usize> = (0..1 + self.below(max))
            .map(|_| self.below(len + 1))
            .collect();
        at.sort_unstable();
        at
    }
}

/// One job as sd.cpp logs it: sampler, `generating image`, steps 1..=n, decode, done.
fn job(steps: u32) -> Vec<StdoutEvent> {
    let mut e = vec![M(Sampling), M(Generating)];
    e.extend((1..=steps).map(|step| Step { step, steps }));
    e.extend([M(Decoding), M(Decoded), M(Completed)]);
    e
}

fn server_start() -> Vec<StdoutEvent> {
    vec![
        Bytes {
            done: 610,
            total: 610,
        },
        M(Listening),
    ]
}

/// Each capture and the events it must give.
pub(crate) fn captures() -> Vec<(&'static str, Vec<StdoutEvent>)> {
    let concat = |parts: &[Vec<StdoutEvent>]| parts.concat();
    let mut batch2 = server_start();
    batch2.extend([M(Sampling), M(Generating), Step { step: 1, steps: 2 }]);
    batch2.extend([Step { step: 2, steps: 2 }, M(Generating)]);
    batch2.extend([Step { step: 1, steps: 2 }, Step { step: 2, steps: 2 }]);
    batch2.extend([M(Decoding), M(Decoded), M(Completed)]);
    let cli_load = vec![
        Bytes {
            done: 359,
            total: 610,
        },
        Bytes {
            done: 610,
            total: 610,
        },
    ];
    vec![
        (
            "sd-server-start-and-2-jobs.stdout",
            concat(&[server_start(), job(2), job(3)]),
        ),
        ("sd-server-batch2.stdout", batch2),
        ("sd-cli-64x64-2steps.stdout", concat(&[cli_load, job(2)])),
        (
            "sd-server-cancel.stdout",
            concat(&[server_start(), job(20), job(2)]),
        ),
    ]
}

#[test]
fn splitter_lines_across_chunk_boundaries() {
    // `\r\n` cut in two, a UTF-8 character cut in two, invalid UTF-8, a partial last line.
    let chunks: [&[u8]; 5] = [
        b"a\r",
        b"\nb\xe2\x82",
        b"\xac\r\n\r\n",
        b"\xffx\rc",
        b"partial",
    ];
    assert_eq!(split(&chunks), ["a", "b\u{20ac}", "\u{FFFD}x", "cpartial"]);
}

#[test]
fn step_bars_in_both_units() {
    let bar = "  |=====>                                            | 3/20 - 1.23s/it\x1b[K";
    assert_eq!(parse_line(bar), [Step { step: 3, steps: 20 }]);
    assert!(is_progress_bar(bar));
    let fast = "  |==================================================| 2/2 - 2.97it/s";
    assert_eq!(parse_line(fast), [Step { step: 2, steps: 2 }]);
    assert_eq!(
        parse_line("|1/4-0.5it/s"),
        [Step { step: 1, steps: 4 }],
        "no spaces"
    );
    assert_eq!(
        parse_line("  |==| 9/4 - 1.00s/it"),
        [Step { step: 4, steps: 4 }],
        "step clamped to steps"
    );
    assert_eq!(
        parse_line("  |==| 99999999999/4 - 1.00s/it"),
        [Step { step: 4, steps: 4 }]
    );
    assert_eq!(parse_line("  |  | 0/0 - 0.00s/it"), [], "steps must be > 0");
    assert!(is_progress_bar("  |  | 0/0 - 0.00s/it"), "still a bar line");
}

#[test]
fn loading_bars_in_every_unit() {
    for unit in ["B/s", "KB/s", "MB/s", "GB/s"] {
        let line = format!("  |##########          | 271/543 - 812.50{unit}\x1b[K");
        assert_eq!(
            parse_line(&line),
            [Bytes {
                done: 271,
                total: 543
            }],
            "{unit}"
        );
        assert!(is_progress_bar(&line));
    }
    let eq = "  |==================================================| 543/543 - 2.32GB/s";
    assert_eq!(
        parse_line(eq),
        [Bytes {
            done: 543,
            total: 543
        }]
    );
}

#[test]
fn lines_that_are_not_bars() {
    for line in [
        "[INFO ] stable-diffusion.cpp:333  - Weight type stat:  f32: 352  |     f16: 114  |",
        "  |=====| 3/20",
        "  |=====| 3/20 - s/it",
        "  |=====| 3/20 - 1.2 s",
        "  |=====| 3/20 - 1.2TB/s",
        "  |=====| a/20 - 1.2s/it",
        "  3/20 - 1.2s/it",
        "",
    ] {
        assert_eq!(parse_line(line), [], "{line:?}");
        assert!(!is_progress_bar(line), "{line:?}");
    }
}

#[test]
fn two_bars_in_one_line_in_order() {
    // What a splitter that does not cut at `\r` would hand over.
    let line = "\r  |=>  | 1/2 - 4.08it/s\x1b[K\r  |====| 2/2 - 4.00it/s\x1b[K";
    assert_eq!(
        parse_line(line),
        [Step { step: 1, steps: 2 }, Step { step: 2, steps: 2 }]
    );
}

#[test]
fn markers_as_sd_cpp_logs_them() {
    let cases = [
        ("generating image: 1/1 - seed 42", Generating),
        ("sampling using Euler A method", Sampling),
        ("decoding 1 latents", Decoding),
        ("decoding 2 latents", Decoding),
        ("decoding 16 latents", Decoding),
        ("decode_first_stage completed, taking 0.13s", Decoded),
        ("generate_image completed in 1.47s", Completed),
        ("listening on: 127.0.0.1:18931", Listening),
    ];
    for (message, marker) in cases {
        let plain = format!("[INFO ] stable-diffusion.cpp:3401 - {message}");
        assert_eq!(parse_line(&plain), [M(marker)], "{plain:?}");
        // `--color`: the level in ANSI codes.
        let color = format!("\x1b[34;1m[INFO ]\x1b[0m main.cpp:148  - {message}\x1b[K");
        assert_eq!(parse_line(&color), [M(marker)], "{color:?}");
        assert_eq!(parse_line(message), [M(marker)], "bare message");
        assert!(!is_progress_bar(&plain));
    }
}

#[test]
fn lines_that_are_not_markers() {
    for message in [
        "generate_image 64x64",
        "generating 1 latent images completed, taking 0.50s",
        "sampling completed, taking 0.65s",
        "latent 1 decoded, taking 0.10s",
        "decoding latents",
        "decoding x latents",
        "sampling using",
        "prompt: a cat generating image: 1/1 - seed 1",
        "loading model from 'decoding 1 latents.gguf'",
    ] {
        let line = format!("[INFO ] stable-diffusion.cpp:1 - {message}");
        assert_eq!(parse_line(&line), [], "{line:?}");
    }
    for name in [
        "sd-server-missing-model.stdout",
        "sd-server-missing-model.stderr",
    ] {
        let lines = split(&[&fixture(name)]);
        assert!(!lines.is_empty());
        assert_eq!(events(&lines), [], "{name}");
    }
}

#[test]
fn ansi_codes_do_not_break_matching() {
    let line = "\x1b[K\x1b[1m  |==>  | 1/20 - 2.73s/it\x1b[0m\x1b[K\x1b";
    assert_eq!(parse_line(line), [Step { step: 1, steps: 20 }]);
    assert_eq!(parse_line("\x1b[35;1m[WARN ]\x1b[0m x.cpp:1 - hi"), []);
}

#[test]
fn captures_whole_and_merged() {
    for (name, expected) in captures() {
        let data = fixture(name);
        let lines = split(&[&data]);
        assert_eq!(events(&lines), expected, "{name}");
        let bars = lines.iter().filter(|l| is_progress_bar(l)).count();
        let bar_events = expected
            .iter()
            .filter(|e| !matches!(e, StdoutEvent::Marker(_)))
            .count();
        assert_eq!(bars, bar_events, "{name}: one bar per line");
        // All at once in one merged line (what an un-split stream would be): same bars.
        let merged = String::from_utf8_lossy(&data).into_owned();
        let bar_only = |e: &Vec<StdoutEvent>| -> Vec<StdoutEvent> {
            e.iter()
                .copied()
                .filter(|e| !matches!(e, StdoutEvent::Marker(_)))
                .collect()
        };
        assert_eq!(
            bar_only(&parse_line(&merged)),
            bar_only(&expected),
            "{name}"
        );
    }
}

#[test]
fn captures_cut_at_every_byte() {
    for (name, expected) in captures() {
        let data = fixture(name);
        let whole = split(&[&data]);
        assert_eq!(events(&whole), expected);
        for at in 0..=data.len() {
            assert_eq!(split(&cut(&data, &[at])), whole, "{name} cut at {at}");
        }
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(split(&bytes), whole, "{name} one byte at a time");
    }
}

#[test]
fn captures_cut_at_random() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for (name, expected) in captures() {
        let data = fixture(name);
        for _ in 0..300 {
            let at = rng.cuts(data.len(), 40);
            let lines = split(&cut(&data, &at));
            assert_eq!(events(&lines), expected, "{name} cut at {at:?}");
        }
    }
}

fn collect() -> (EventFn, Arc<Mutex<Vec<Event>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    (Arc::new(move |e| s.lock().unwrap().push(e)), seen)
}

fn stdout_events(seen: &Mutex<Vec<Event>>) -> Vec<StdoutEvent> {
    let lines: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Stdout(l) => Some(l.clone()),
            _ => None,
        })
        .collect();
    events(&lines)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < Duration::from_secs(10), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn exited(seen: &Mutex<Vec<Event>>) -> bool {
    matches!(seen.lock().unwrap().last(), Some(Event::Exited(_)))
}

/// A scratch folder of this test's own (removed at the end).
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("genai-progress-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sh(script: String) -> Spec {
    Spec {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script],
        ..Default::default()
    }
}

#[test]
#[cfg_attr(windows, ignore = "needs /bin/sh")]
fn capture_written_in_pieces_by_a_real_child() {
    let name = "sd-server-start-and-2-jobs.stdout";
    let expected = &captures()[0].1;
    let data = fixture(name);
    // Random cuts, plus cuts inside an ANSI `\x1b[K` and right after a `\r`.
    let mut at = Rng(42).cuts(data.len(), 12);
    let find = |needle: &[u8]| {
        data.windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    };
    at.extend([find(b"\x1b[K") + 1, find(b"\r  |=") + 1]);
    at.sort_unstable();
    let dir = scratch("pieces");
    let mut script = String::new();
    for (i, piece) in cut(&data, &at).iter().enumerate() {
        let path = dir.join(format!("p{i}"));
        std::fs::write(&path, piece).unwrap();
        script += &format!("cat '{}'; sleep 0.02; ", path.display());
    }
    let (events_fn, seen) = collect();
    let _child = process::spawn(&sh(script), events_fn).unwrap();
    wait_for("the child's exit", || exited(&seen));
    assert_eq!(&stdout_events(&seen), expected);
    let _ = std::fs::remove_dir_all(&dir);
}

/// sd.cpp ends a step bar with `\r` and writes `\n` only after the last step: each bar must
/// arrive when the next `\r` does, not when sampling is over (this failed when the splitter read
/// up to `\n` before splitting).
#[test]
#[cfg_attr(windows, ignore = "needs /bin/sh")]
fn a_step_arrives_while_sampling_goes_on() {
    let data = fixture("sd-server-start-and-2-jobs.stdout");
    let last_bar = data.windows(7).position(|w| w == b"| 2/2 -").unwrap();
    let r = data[..last_bar].iter().rposition(|&b| b == b'\r').unwrap();
    let dir = scratch("live");
    let (head, tail, flag) = (dir.join("head"), dir.join("tail"), dir.join("go"));
    std::fs::write(&head, &data[..=r]).unwrap();
    std::fs::write(&tail, &data[r + 1..]).unwrap();
    let script = format!(
        "cat '{}'; while [ ! -e '{}' ]; do sleep 0.01; done; cat '{}'",
        head.display(),
        flag.display(),
        tail.display()
    );
    let (events_fn, seen) = collect();
    let child = process::spawn(&sh(script), events_fn).unwrap();
    let step1 = Step { step: 1, steps: 2 };
    let live = Instant::now();
    while !stdout_events(&seen).contains(&step1) && live.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let seen_live = stdout_events(&seen);
    std::fs::write(&flag, b"").unwrap();
    wait_for("the child's exit", || exited(&seen));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        seen_live.contains(&step1),
        "step 1/2 must arrive before the last step is written; got {seen_live:?}"
    );
    assert!(!seen_live.contains(&Step { step: 2, steps: 2 }));
    assert_eq!(stdout_events(&seen), captures()[0].1);
    drop(child);
}
