//! A process beyond its (reusable) pid, as the OS reports it through sysinfo (any OS): liveness,
//! identity (start time, executable) and the reaping of a child an earlier run of ours left.

use super::{signal_group, signal_pid, Signal};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What identifies a process beyond its (reusable) pid: start time and executable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub pid: u32,
    /// Seconds since the Unix epoch.
    pub start_time: u64,
    pub exe: PathBuf,
}

/// One live process as the OS reports it; a zombie counts as gone.
fn live_process<T>(
    pid: u32,
    with_exe: bool,
    read: impl FnOnce(&sysinfo::Process) -> T,
) -> Option<T> {
    use sysinfo::{Pid, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, UpdateKind};
    if pid == 0 {
        return None;
    }
    let mut sys = sysinfo::System::new().ok()?;
    let pid = Pid::from_u32(pid);
    let exe = if with_exe {
        UpdateKind::Always
    } else {
        UpdateKind::Never
    };
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        true,
        ProcessRefreshKind::nothing().with_exe(exe),
    );
    let process = sys
        .process(pid)
        .filter(|p| !matches!(p.status(), ProcessStatus::Zombie | ProcessStatus::Dead))?;
    Some(read(process))
}

/// The identity of a live process.
pub fn identity(pid: u32) -> Option<Identity> {
    live_process(pid, true, |p| {
        p.exe().map(|exe| Identity {
            pid,
            start_time: p.start_time(),
            exe: exe.to_path_buf(),
        })
    })
    .flatten()
}

/// Whether `pid` is a live process (a zombie is not).
pub fn is_alive(pid: u32) -> bool {
    live_process(pid, false, |_| ()).is_some()
}

/// Kills a child left by an earlier run of ours if `record` still describes a live process (same
/// pid, start time and executable). Returns whether one was reaped.
pub fn reap_orphan(record: &Identity) -> bool {
    // Start times are seconds derived from the boot time, which the OS recomputes (±1 s).
    let same = identity(record.pid).is_some_and(|now| {
        now.exe == record.exe && now.start_time.abs_diff(record.start_time) <= 2
    });
    if !same {
        return false;
    }
    signal_group(record.pid, Signal::Kill);
    let _ = signal_pid(record.pid, Signal::Kill); // in case it is not a group leader any more
    let deadline = Instant::now() + Duration::from_secs(2);
    while identity(record.pid).is_some() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}
