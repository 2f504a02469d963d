//! Real child processes (`/bin/sh`): on Windows these are skipped by name (`ignored, …`).

use super::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// The one `alive(pid)` of the integration tests, shared with these unit tests.
#[path = "../../tests/common/alive.rs"]
mod alive;
use alive::alive;

fn collect() -> (EventFn, Arc<Mutex<Vec<Event>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    (Arc::new(move |e| s.lock().unwrap().push(e)), seen)
}

fn sh(script: &str) -> Spec {
    Spec {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        ..Default::default()
    }
}

fn stdout_lines(seen: &[Event]) -> Vec<&str> {
    seen.iter()
        .filter_map(|e| match e {
            Event::Stdout(l) => Some(l.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
#[cfg_attr(windows, ignore = "needs /bin/sh")]
fn lines_then_exit_code() {
    let (events, seen) = collect();
    let script = "printf 'a\\nb\\rc\\n\\377x\\npartial'; echo err >&2; exit 3";
    let child = spawn(&sh(script), events).unwrap();
    let exit = child.wait_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(
        exit,
        Exit {
            code: Some(3),
            signal: None
        }
    );
    std::thread::sleep(Duration::from_millis(50));
    let seen = seen.lock().unwrap();
    assert_eq!(stdout_lines(&seen), ["a", "b", "c", "\u{FFFD}x", "partial"]);
    assert!(seen.contains(&Event::Stderr("err".into())));
    assert_eq!(
        seen.last(),
        Some(&Event::Exited(exit)),
        "the exit comes last"
    );
}

#[test]
#[cfg_attr(windows, ignore = "needs /bin/sh and process groups")]
fn stop_takes_the_whole_group() {
    let (events, seen) = collect();
    // A shell whose own child would survive a plain kill of the shell.
    let child = spawn(&sh("sleep 300 & echo $!; wait"), events).unwrap();
    let t = Instant::now();
    let grandchild: u32 = loop {
        if let Some(pid) = stdout_lines(&seen.lock().unwrap()).first() {
            break pid.parse().unwrap();
        }
        assert!(t.elapsed() < Duration::from_secs(5), "no pid printed");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(alive(child.pid) && alive(grandchild));
    let exit = child.stop(Duration::from_secs(5)).unwrap();
    assert_eq!(exit.signal_name().as_deref(), Some("SIGTERM"));
    let t = Instant::now();
    while alive(grandchild) && t.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!alive(grandchild), "the grandchild went with its group");
}

#[test]
#[cfg_attr(windows, ignore = "needs /bin/sh and SIGTERM")]
fn sigkill_after_grace_when_term_is_ignored() {
    let (events, _) = collect();
    let child = spawn(&sh("trap '' TERM; sleep 300"), events).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let exit = child.stop(Duration::from_millis(300)).unwrap();
    assert_eq!(exit.signal_name().as_deref(), Some("SIGKILL"));
}

#[test]
#[cfg_attr(windows, ignore = "needs /bin/sh")]
fn kill_all_and_missing_programs() {
    let (events, _) = collect();
    let a = spawn(&sh("sleep 300"), events.clone()).unwrap();
    let b = spawn(&sh("sleep 300"), events.clone()).unwrap();
    assert!(kill_all() >= 2);
    let exit = a.wait_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(exit.signal_name().as_deref(), Some("SIGKILL"));
    assert!(b.wait_timeout(Duration::from_secs(5)).is_some());
    let missing = Spec {
        program: "/nonexistent/llama-server".into(),
        ..Default::default()
    };
    let err = spawn(&missing, events).err().unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[test]
#[cfg_attr(windows, ignore = "Windows has no signal numbers")]
fn signal_names_round_trip_through_this_os_numbers() {
    // The signals we send, and those a server can die of (SIGBUS: 7 on Linux, 10 on macOS).
    let names = [
        "SIGTERM", "SIGKILL", "SIGCONT", "SIGHUP", "SIGINT", "SIGABRT", "SIGBUS",
    ];
    for name in names.into_iter().chain(["SIGSEGV", "SIGPIPE", "SIGUSR1"]) {
        let number = signal_number(name).expect(name);
        assert_eq!(signal_name(number), name);
    }
    #[cfg(unix)]
    {
        assert_eq!(signal_number("SIGTERM"), Some(Signal::Term.number()));
        assert_eq!(signal_number("SIGKILL"), Some(Signal::Kill.number()));
        assert_eq!(signal_number("SIGCONT"), Some(Signal::Cont.number()));
        assert_eq!(signal_number("SIGBUS"), Some(libc::SIGBUS));
    }
    assert_eq!(signal_name(1000), "SIG1000");
    assert_eq!(signal_number("SIGNOPE"), None);
}

#[test]
fn kill_refuses_pids_that_cannot_be_a_child() {
    let own = std::process::id();
    for pid in [0, own, i32::MAX as u32 + 1, u32::MAX] {
        let err = terminate(pid, Duration::from_millis(1)).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::ServerError, "{pid}");
        assert_eq!(err.message, format!("Failed to kill process {pid}"));
        let details = err.details.unwrap();
        assert_eq!(details["pid"], pid);
        assert_eq!(details["error"], "not the id of a child process");
    }
    assert!(alive(own), "still here");
}

#[test]
fn is_running_takes_only_pids() {
    assert!(is_running(std::process::id()), "our own process runs");
    assert!(!is_running(0), "0 is no process (kill(0) is our group)");
    assert!(
        !is_running(u32::MAX),
        "not a pid_t: must not become kill(-1)"
    );
}

#[test]
#[cfg_attr(windows, ignore = "needs /bin/sh and SIGTERM")]
fn terminate_ends_a_process_and_leaves_a_gone_one_alone() {
    let (events, _) = collect();
    let child = spawn(&sh("trap '' TERM; sleep 300"), events).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(is_running(child.pid));
    terminate(child.pid, Duration::from_millis(100)).unwrap();
    let exit = child.wait_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(exit.signal_name().as_deref(), Some("SIGKILL"));
    assert!(!alive(child.pid) && !is_running(child.pid));
    terminate(child.pid, Duration::from_millis(1)).unwrap();
    child.kill(); // the shell's `sleep`, if it did not exec it
}
