//! Processes read from /proc (not through the code under test): our children by name, and
//! what is left of a process group.

use std::time::Duration;

/// `/proc/<pid>/stat` after the command name: state, ppid, pgrp, ...
fn stat_fields(pid: u32) -> Option<(String, Vec<String>)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let (name, rest) = stat[open + 1..].rsplit_once(')')?;
    Some((
        name.to_string(),
        rest.split_whitespace().map(String::from).collect(),
    ))
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Our children (zombies included) whose command name is `name`.
pub fn children_named(name: &str) -> Vec<u32> {
    let me = std::process::id().to_string();
    all_pids()
        .into_iter()
        .filter(|&p| stat_fields(p).is_some_and(|(n, f)| n == name && f.get(1) == Some(&me)))
        .collect()
}

/// Processes in process group `pgid`: running ones, and zombies that are ours to reap (a
/// grandchild's zombie belongs to PID 1).
fn group_members(pgid: u32) -> Vec<u32> {
    let (pgid, me) = (pgid.to_string(), std::process::id().to_string());
    all_pids()
        .into_iter()
        .filter(|&p| {
            stat_fields(p).is_some_and(|(_, f)| {
                f.get(2) == Some(&pgid) && (f[0] != "Z" || f.get(1) == Some(&me))
            })
        })
        .collect()
}

/// The group `pgid` is empty. Its members were SIGKILLed together; the kernel tears a killed
/// grandchild down on its own time, so give it a few seconds.
pub fn assert_group_gone(pgid: u32) {
    for _ in 0..100 {
        if group_members(pgid).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("group of {pgid} left: {:?}", group_members(pgid));
}
