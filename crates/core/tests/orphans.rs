#![cfg(target_os = "linux")] // reads /proc to tell a live process from a zombie
//! Children die with us: a process that spawned a child through `genai_core::process` is killed
//! with SIGKILL (no destructor, no exit hook runs), and the child is gone within a second.
//! The helper is this test binary itself, re-run with GENAI_ORPHAN_HELPER set.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next())
                != Some("Z")
        })
        .unwrap_or(false)
}

/// In the helper process: spawn `sleep`, print its pid, then wait to be killed.
#[test]
fn orphan_helper() {
    if std::env::var_os("GENAI_ORPHAN_HELPER").is_none() {
        return; // only meaningful as the helper
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

#[test]
fn child_dies_when_parent_is_sigkilled() {
    for round in 0..5 {
        let mut helper = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "orphan_helper",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("GENAI_ORPHAN_HELPER", "1")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(helper.stdout.take().unwrap()).lines();
        let pid: u32 = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| l.split("CHILD ").nth(1).and_then(|p| p.trim().parse().ok()))
            .expect("helper printed its child");
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
