//! Spawning: one long-lived spawner thread, a child per process group that dies with us, its
//! output read as lines and its exit watched.

use super::{signal_group, Child, Event, EventFn, Exit, Signal, Spec};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// Live children by pid (their process-group ids), for `kill_all`.
static LIVE: LazyLock<Mutex<HashSet<u32>>> = LazyLock::new(Mutex::default);

type SpawnJob = (Spec, mpsc::Sender<std::io::Result<std::process::Child>>);

/// The spawner thread: lives as long as the process, so PDEATHSIG means "our process died".
static SPAWNER: LazyLock<Mutex<mpsc::Sender<SpawnJob>>> = LazyLock::new(|| {
    let (tx, rx) = mpsc::channel::<SpawnJob>();
    let _ = std::thread::Builder::new()
        .name("genai-spawner".into())
        .spawn(move || {
            for (spec, reply) in rx {
                let _ = reply.send(spawn_here(&spec));
            }
        });
    Mutex::new(tx)
});

fn spawn_here(spec: &Spec) -> std::io::Result<std::process::Child> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    #[cfg(target_os = "linux")]
    die_with_parent(&mut cmd);
    let child = cmd.spawn()?;
    #[cfg(windows)]
    if let Err(e) = super::windows_job::assign(&child) {
        // Still supervised (stop, exit hook); only the die-with-us guarantee is lost.
        eprintln!(
            "genai-electron: could not put pid {} in the kill-on-close job: {e}",
            child.id()
        );
    }
    Ok(child)
}

/// `PR_SET_PDEATHSIG(SIGKILL)` in the child, then a parent-pid re-check: the parent may have
/// died before prctl took effect.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let kill = libc::SIGKILL as libc::c_ulong;
            if libc::prctl(libc::PR_SET_PDEATHSIG, kill, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Reads a stream as lines, splitting on `\n` and `\r` as soon as either arrives (a progress bar
/// redrawn after `\r` is a line when the next `\r` comes, not when a `\n` ends the whole bar),
/// lossily decoding invalid UTF-8; the partial last line is sent at the end.
pub(crate) fn pump(stream: impl Read, send: impl Fn(String)) {
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut line = Vec::new();
    let flush = |line: &mut Vec<u8>| {
        if !line.is_empty() {
            send(String::from_utf8_lossy(line).into_owned());
            line.clear();
        }
    };
    loop {
        let chunk = match reader.fill_buf() {
            Ok([]) => break,
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let n = chunk.len();
        match chunk.iter().rposition(|&b| b == b'\n' || b == b'\r') {
            None => line.extend_from_slice(chunk),
            Some(end) => {
                for part in chunk[..end].split(|&b| b == b'\n' || b == b'\r') {
                    line.extend_from_slice(part);
                    flush(&mut line);
                }
                line.extend_from_slice(&chunk[end + 1..]);
            }
        }
        reader.consume(n);
    }
    flush(&mut line);
}

/// Spawns `spec` and reports its output lines and its exit through `events`.
pub fn spawn(spec: &Spec, events: EventFn) -> std::io::Result<Child> {
    let (reply_tx, reply_rx) = mpsc::channel();
    let gone = || std::io::Error::other("spawner thread is gone");
    SPAWNER
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((spec.clone(), reply_tx))
        .map_err(|_| gone())?;
    let mut child = reply_rx.recv().map_err(|_| gone())??;
    let pid = child.id();
    LIVE.lock().unwrap_or_else(|p| p.into_inner()).insert(pid);
    let readers: Vec<std::thread::JoinHandle<()>> = [
        child.stdout.take().map(|s| {
            let ev = events.clone();
            std::thread::spawn(move || pump(s, |l| ev(Event::Stdout(l))))
        }),
        child.stderr.take().map(|s| {
            let ev = events.clone();
            std::thread::spawn(move || pump(s, |l| ev(Event::Stderr(l))))
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    let exit = Arc::new((Mutex::new(None), Condvar::new()));
    let watch = exit.clone();
    std::thread::Builder::new()
        .name(format!("genai-wait-{pid}"))
        .spawn(move || {
            let status = child.wait();
            LIVE.lock().unwrap_or_else(|p| p.into_inner()).remove(&pid);
            let result = status.map_or(
                Exit {
                    code: None,
                    signal: None,
                },
                exit_of,
            );
            // Output first, then the exit (the pipes close when the group is gone; a grandchild that
            // keeps them open must not hold up the exit event).
            let deadline = Instant::now() + Duration::from_millis(500);
            for r in readers {
                while !r.is_finished() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            // The exit event is handled before waiters wake, so that whoever waited for the
            // exit (stop()) sees what the handler recorded.
            events(Event::Exited(result));
            *watch.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
            watch.1.notify_all();
        })?;
    Ok(Child { pid, exit })
}

fn exit_of(status: std::process::ExitStatus) -> Exit {
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal = None;
    Exit {
        code: status.code(),
        signal,
    }
}

/// Whether `pid` is a child this process spawned and has not seen exit.
pub(super) fn is_live_child(pid: u32) -> bool {
    LIVE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(&pid)
}

/// Kills every live child group at once (for a synchronous exit hook). Returns how many.
pub fn kill_all() -> usize {
    let pids: Vec<u32> = LIVE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .copied()
        .collect();
    for pid in &pids {
        signal_group(*pid, Signal::Kill);
    }
    pids.len()
}
