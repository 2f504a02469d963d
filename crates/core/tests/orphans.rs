//! Children die with us: a process that spawned a child through `genai_core::process` is killed
//! with SIGKILL (no destructor, no exit hook runs), and the child is gone within a second.
//! The helper is this test binary itself, re-run with `--ignored --exact orphan_helper` and
//! GENAI_ORPHAN_HELPER set. Linux only (PR_SET_PDEATHSIG); elsewhere skipped by name.

mod common;

use common::alive::alive;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HELPER_ENV: &str = "GENAI_ORPHAN_HELPER";

/// In the helper process: spawn `sleep`, print its pid, then wait to be killed.
#[test]
#[ignore = "the helper of child_dies_when_parent_is_sigkilled, which runs it"]
fn orphan_helper() {
    if std::env::var_os(HELPER_ENV).is_none() {
        println!(
            "orphan_helper: skipped, it only runs as child_dies_when_parent_is_sigkilled's helper"
        );
        return;
    }
    let spec = genai_core::process::Spec {
        program: "sleep".into(),
        args: vec!["300".into()],
        ..Default::default()
    };
    // Spawned from a short-lived thread on purpose: the spawner thread keeps PDEATHSIG tied to
    // the process, not to this thread.
    let child =
        std::thread::spawn(move || genai_core::process::spawn(&spec, Arc::new(|_| {})).unwrap())
            .join()
            .unwrap();
    println!("CHILD {}", child.pid);
    std::thread::sleep(Duration::from_secs(300));
}

/// Starts the helper and reads the pid of the child it spawned.
fn start_helper() -> (std::process::Child, u32) {
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "orphan_helper", "--nocapture"])
        .args(["--test-threads=1"])
        .env(HELPER_ENV, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(helper.stdout.take().unwrap()).lines();
    let pid = lines
        .map_while(Result::ok)
        .find_map(|l| l.split("CHILD ").nth(1).and_then(|p| p.trim().parse().ok()))
        .expect("helper printed its child");
    (helper, pid)
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "Linux only: macOS has no parent-death signal (an orphan is reaped at the next start), and Windows has no `sleep`"
)]
fn child_dies_when_parent_is_sigkilled() {
    for round in 0..5 {
        let (mut helper, pid) = start_helper();
        std::thread::sleep(Duration::from_millis(300)); // well after the spawning thread ended
        assert!(
            alive(pid),
            "round {round}: child alive while the parent lives"
        );
        helper.kill().unwrap(); // SIGKILL
        helper.wait().unwrap();
        let t = Instant::now();
        while alive(pid) && t.elapsed() < Duration::from_secs(1) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            !alive(pid),
            "round {round}: child outlived its SIGKILLed parent"
        );
    }
}
