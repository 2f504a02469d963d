//! `alive(pid)` for tests on every OS, read from the OS itself (not through the code under test).
//! Used by the integration tests (`common::alive`) and by the core's own unit tests (through
//! `#[path]`), so that it is written once.

/// A process is alive when we may signal it (`kill(pid, 0)`, as Node's `process.kill(pid, 0)`)
/// and it is not a zombie: where PID 1 does not reap (a container), a killed orphan stays a
/// zombie that `kill(pid, 0)` still reaches.
#[cfg(unix)]
pub fn alive(pid: u32) -> bool {
    let Some(p) = libc::pid_t::try_from(pid).ok().filter(|p| *p > 0) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists and that we may signal it.
    let signalable = unsafe { libc::kill(p, 0) } == 0;
    signalable && state(pid).is_some_and(|s| !s.starts_with('Z'))
}

/// The process state letter(s) from `/proc/<pid>/stat` (after the command name, which may itself
/// hold spaces and parentheses).
#[cfg(target_os = "linux")]
fn state(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().next().map(str::to_string)
}

/// The process state as `ps -o stat=` prints it (`S+`, `Z`); none once it is gone.
#[cfg(all(unix, not(target_os = "linux")))]
fn state(pid: u32) -> Option<String> {
    let out = std::process::Command::new("ps")
        .args(["-o", "stat=", "-p", &pid.to_string()])
        .output()
        .ok()?;
    let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !state.is_empty()).then_some(state)
}

/// Windows has no zombies: a process is alive while `tasklist` lists it.
#[cfg(windows)]
pub fn alive(pid: u32) -> bool {
    let filter = format!("PID eq {pid}");
    std::process::Command::new("tasklist")
        .args(["/FI", &filter, "/NH", "/FO", "CSV"])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(&format!("\"{pid}\"")))
}
