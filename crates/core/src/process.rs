//! Child processes that cannot outlive us. Every child is spawned from one long-lived spawner
//! thread (Linux's `PR_SET_PDEATHSIG` fires when the *thread* that forked exits), into its own
//! process group, with `PR_SET_PDEATHSIG(SIGKILL)` and a parent-pid re-check that closes the
//! fork race. Output is read line by line (`\n`, `\r`, partial last line, invalid UTF-8), the exit
//! is watched, and a stop is SIGTERM to the group, then SIGKILL after a grace period.
//! `kill_all()` is for a synchronous exit hook: `process.exit()` skips every Rust destructor.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, LazyLock, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default)]
pub struct Spec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
}

/// How a child ended: its exit code, or the signal that killed it (Unix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl Exit {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The signal as Node names it (`'SIGKILL'`), as in a ChildProcess `exit` event.
    pub fn signal_name(&self) -> Option<String> {
        let sig = self.signal?;
        let name = match sig {
            1 => "SIGHUP",
            2 => "SIGINT",
            3 => "SIGQUIT",
            4 => "SIGILL",
            6 => "SIGABRT",
            7 => "SIGBUS",
            8 => "SIGFPE",
            9 => "SIGKILL",
            11 => "SIGSEGV",
            13 => "SIGPIPE",
            14 => "SIGALRM",
            15 => "SIGTERM",
            _ => return Some(format!("SIG{sig}")),
        };
        Some(name.to_string())
    }
}

impl std::fmt::Display for Exit {
    /// `exit code 1`, `signal SIGKILL`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal_name()) {
            (Some(code), _) => write!(f, "exit code {code}"),
            (None, Some(signal)) => write!(f, "signal {signal}"),
            (None, None) => f.write_str("unknown exit status"),
        }
    }
}

/// What a child sends back: output lines and, last, its exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Stdout(String),
    Stderr(String),
    Exited(Exit),
}

pub type EventFn = Arc<dyn Fn(Event) + Send + Sync>;

/// A running (or finished) child.
pub struct Child {
    pub pid: u32,
    exit: Arc<(Mutex<Option<Exit>>, Condvar)>,
}

/// Live children by pid (their process-group ids), for `kill_all`.
static LIVE: LazyLock<Mutex<HashMap<u32, ()>>> = LazyLock::new(Mutex::default);

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
        #[cfg(target_os = "linux")]
        {
            let parent = std::process::id() as libc::pid_t;
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::prctl(
                        libc::PR_SET_PDEATHSIG,
                        libc::SIGKILL as libc::c_ulong,
                        0,
                        0,
                        0,
                    ) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    // The parent may have died before prctl took effect.
                    if libc::getppid() != parent {
                        libc::_exit(1);
                    }
                    Ok(())
                });
            }
        }
    }
    let child = cmd.spawn()?;
    #[cfg(windows)]
    if let Err(e) = job::assign(&child) {
        // Still supervised (stop, exit hook); only the die-with-us guarantee is lost.
        eprintln!(
            "genai-electron: could not put pid {} in the kill-on-close job: {e}",
            child.id()
        );
    }
    Ok(child)
}

/// Reads a stream as lines, splitting on `\n` and `\r`, lossily decoding invalid UTF-8.
fn pump(stream: impl Read, send: impl Fn(String)) {
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                for part in buf.split(|&b| b == b'\n' || b == b'\r') {
                    if !part.is_empty() {
                        send(String::from_utf8_lossy(part).into_owned());
                    }
                }
            }
        }
    }
}

/// Spawns `spec` and reports its output lines and its exit through `events`.
pub fn spawn(spec: &Spec, events: EventFn) -> std::io::Result<Child> {
    let (reply_tx, reply_rx) = mpsc::channel();
    SPAWNER
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((spec.clone(), reply_tx))
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?;
    let mut child = reply_rx
        .recv()
        .map_err(|_| std::io::Error::other("spawner thread is gone"))??;
    let pid = child.id();
    LIVE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(pid, ());
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
            let result = match status {
                Ok(s) => exit_of(s),
                Err(_) => Exit {
                    code: None,
                    signal: None,
                },
            };
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
    {
        use std::os::unix::process::ExitStatusExt;
        Exit {
            code: status.code(),
            signal: status.signal(),
        }
    }
    #[cfg(not(unix))]
    {
        Exit {
            code: status.code(),
            signal: None,
        }
    }
}

impl Child {
    /// The exit, once it happened.
    pub fn exit(&self) -> Option<Exit> {
        *self.exit.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits up to `timeout` for the exit.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Exit> {
        let (lock, cv) = &*self.exit;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = cv
            .wait_timeout_while(guard, timeout, |e| e.is_none())
            .unwrap_or_else(|p| p.into_inner());
        *guard
    }

    /// SIGTERM to the whole group, SIGKILL after `grace`. Blocking; returns the exit.
    pub fn stop(&self, grace: Duration) -> Option<Exit> {
        if let Some(e) = self.exit() {
            return Some(e);
        }
        signal_group(self.pid, Signal::Term);
        if let Some(e) = self.wait_timeout(grace) {
            return Some(e);
        }
        signal_group(self.pid, Signal::Kill);
        self.wait_timeout(Duration::from_secs(5))
    }

    /// SIGKILL to the whole group now.
    pub fn kill(&self) {
        signal_group(self.pid, Signal::Kill);
    }
}

#[derive(Clone, Copy)]
pub enum Signal {
    Term,
    Kill,
    /// Resume a stopped process (so that it can act on SIGTERM).
    Cont,
}

/// Signals a child's process group (its pid is the group id).
pub fn signal_group(pid: u32, signal: Signal) {
    #[cfg(unix)]
    {
        let sig = match signal {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
            Signal::Cont => libc::SIGCONT,
        };
        // SAFETY: kill(2) with a negative pid signals that process group; errors are ignored
        // (the group may already be gone).
        unsafe {
            libc::kill(-(pid as libc::pid_t), sig);
        }
    }
    #[cfg(not(unix))]
    {
        if !matches!(signal, Signal::Cont) {
            let _ = Command::new("taskkill")
                .args(["/T", "/F", "/PID", &pid.to_string()])
                .output();
        }
    }
}

/// Kills every live child group at once (for a synchronous exit hook). Returns how many.
pub fn kill_all() -> usize {
    let pids: Vec<u32> = LIVE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .keys()
        .copied()
        .collect();
    for pid in &pids {
        signal_group(*pid, Signal::Kill);
    }
    pids.len()
}

/// Sends `signal` to one process (not its group). `Ok(false)`: there is no such process.
/// Windows has no SIGTERM: both end the process (TerminateProcess); `Cont` does nothing there.
pub fn signal_pid(pid: u32, signal: Signal) -> std::io::Result<bool> {
    #[cfg(unix)]
    {
        let sig = match signal {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
            Signal::Cont => libc::SIGCONT,
        };
        // SAFETY: kill(2) on a positive pid signals that one process.
        if unsafe { libc::kill(pid as libc::pid_t, sig) } == 0 {
            return Ok(true);
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ESRCH) {
            Ok(false)
        } else {
            Err(err)
        }
    }
    #[cfg(windows)]
    {
        if matches!(signal, Signal::Cont) {
            return Ok(is_alive(pid));
        }
        job::terminate(pid)
    }
}

/// A JS number that is a pid: a positive whole number that fits a `pid_t` (a larger one would
/// wrap to a negative, i.e. a process group or every process).
fn as_pid(pid: f64) -> Option<u32> {
    (pid.fract() == 0.0 && pid >= 1.0 && pid <= i32::MAX as f64).then_some(pid as u32)
}

/// `ProcessManager.isRunning(pid)`: a live process we may signal (as `process.kill(pid, 0)`
/// succeeding), not a zombie.
pub fn is_running(pid: f64) -> bool {
    let Some(pid) = as_pid(pid) else {
        return false;
    };
    #[cfg(unix)]
    // SAFETY: signal 0 only checks that the process exists and that we may signal it.
    if unsafe { libc::kill(pid as libc::pid_t, 0) } != 0 {
        return false;
    }
    is_alive(pid)
}

/// `ProcessManager.kill(pid, timeout)`: SIGTERM, then SIGKILL once `timeout_ms` has passed, and
/// back once the process is gone (2 s at most after SIGKILL). Not running: nothing to do.
/// A pid that cannot be a child (≤ 0, this process) is refused: `kill(0)` would hit our own group.
/// `pid` and `timeout_ms` are the caller's JS numbers: the pid is named as given in errors, and
/// the timeout is read as `setTimeout` reads a delay (not 1 ms to 2^31−1 ms: 1 ms).
pub fn terminate(pid: f64, timeout_ms: f64) -> crate::Result<()> {
    let timeout = Duration::from_millis(if (1.0..=2_147_483_647.0).contains(&timeout_ms) {
        timeout_ms as u64
    } else {
        1
    });
    let shown = crate::jsnum::to_string(pid);
    let fail = |what: &str, error: String| {
        crate::Error::server(
            format!("{what} {shown}"),
            Some(serde_json::json!({ "pid": pid, "error": error })),
        )
    };
    let Some(pid) = as_pid(pid).filter(|p| *p != std::process::id()) else {
        return Err(fail(
            "Failed to kill process",
            "not the id of a child process".into(),
        ));
    };
    if !is_running(pid as f64) {
        return Ok(());
    }
    match signal_pid(pid, Signal::Term) {
        Ok(false) => return Ok(()),
        Err(e) => return Err(fail("Failed to kill process", e.to_string())),
        Ok(true) => {}
    }
    if wait_gone(pid, timeout) {
        return Ok(());
    }
    match signal_pid(pid, Signal::Kill) {
        Ok(_) => {
            wait_gone(pid, Duration::from_secs(2));
            Ok(())
        }
        Err(e) => Err(fail("Failed to force kill process", e.to_string())),
    }
}

/// Polls until `pid` is gone or `timeout` passed; whether it is gone.
fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !is_alive(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Windows: every child goes into one job object created with KILL_ON_JOB_CLOSE. We never close
/// its handle; the OS does when this process ends, however it ends, and that kills every process
/// in the job (the Windows counterpart of PDEATHSIG). process-wrap's std `JobObject` does not set
/// KILL_ON_JOB_CLOSE (only its tokio flavour with `KillOnDrop` does), hence these few calls.
/// (Node's own children are already in libuv's kill-on-close job.)
#[cfg(windows)]
mod job {
    use std::sync::LazyLock;
    use windows::Win32::Foundation::{CloseHandle, HANDLE};
    use windows::Win32::System::JobObjects::{
        AssignProcessToJobObject, CreateJobObjectW, JobObjectExtendedLimitInformation,
        SetInformationJobObject, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
        JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    };
    use windows::Win32::System::Threading::{OpenProcess, TerminateProcess, PROCESS_TERMINATE};

    struct Job(HANDLE);
    // SAFETY: a job handle may be used from any thread.
    unsafe impl Send for Job {}
    unsafe impl Sync for Job {}

    static JOB: LazyLock<Option<Job>> = LazyLock::new(|| {
        // SAFETY: plain Win32 calls on a handle we own; the info struct outlives the call.
        unsafe {
            let job = CreateJobObjectW(None, windows::core::PCWSTR::null()).ok()?;
            let mut info = JOBOBJECT_EXTENDED_LIMIT_INFORMATION::default();
            info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
            let size = std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32;
            SetInformationJobObject(
                job,
                JobObjectExtendedLimitInformation,
                &info as *const _ as *const core::ffi::c_void,
                size,
            )
            .ok()?;
            Some(Job(job))
        }
    });

    /// Puts a child we just spawned into the job.
    pub fn assign(child: &std::process::Child) -> std::io::Result<()> {
        use std::os::windows::io::AsRawHandle;
        let job = JOB
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no job object"))?;
        // SAFETY: both handles are valid for the duration of the call.
        unsafe { AssignProcessToJobObject(job.0, HANDLE(child.as_raw_handle())) }
            .map_err(|e| std::io::Error::other(e.to_string()))
    }

    /// TerminateProcess by pid. `Ok(false)`: no such process (any more).
    pub fn terminate(pid: u32) -> std::io::Result<bool> {
        // SAFETY: OpenProcess returns an owned handle, closed below.
        unsafe {
            let Ok(process) = OpenProcess(PROCESS_TERMINATE, false, pid) else {
                return if super::is_alive(pid) {
                    Err(std::io::Error::other(format!("cannot open process {pid}")))
                } else {
                    Ok(false)
                };
            };
            let result = TerminateProcess(process, 1);
            let _ = CloseHandle(process);
            match result {
                Ok(()) => Ok(true),
                Err(_) if !super::is_alive(pid) => Ok(false), // it ended meanwhile
                Err(e) => Err(std::io::Error::other(e.to_string())),
            }
        }
    }
}

/// What identifies a process beyond its (reusable) pid: start time and executable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub pid: u32,
    /// Seconds since the Unix epoch.
    pub start_time: u64,
    pub exe: PathBuf,
}

/// One live process as the OS reports it (any OS sysinfo knows); a zombie counts as gone.
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
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        true,
        ProcessRefreshKind::nothing().with_exe(if with_exe {
            UpdateKind::Always
        } else {
            UpdateKind::Never
        }),
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

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

    #[test]
    fn lines_then_exit_code() {
        let (events, seen) = collect();
        let child = spawn(
            &sh("printf 'a\\nb\\rc\\n\\377x\\npartial'; echo err >&2; exit 3"),
            events,
        )
        .unwrap();
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
        let out: Vec<&str> = seen
            .iter()
            .filter_map(|e| {
                if let Event::Stdout(l) = e {
                    Some(l.as_str())
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(out, ["a", "b", "c", "\u{FFFD}x", "partial"]);
        assert!(seen.contains(&Event::Stderr("err".into())));
        assert_eq!(
            seen.last(),
            Some(&Event::Exited(exit)),
            "the exit comes last"
        );
    }

    /// Alive = exists and is not a zombie (a container's init may never reap orphans).
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

    #[test]
    fn stop_takes_the_whole_group() {
        let (events, seen) = collect();
        // A shell whose own child would survive a plain kill of the shell.
        let child = spawn(&sh("sleep 300 & echo $!; wait"), events).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let grandchild: u32 = seen
            .lock()
            .unwrap()
            .iter()
            .find_map(|e| {
                if let Event::Stdout(l) = e {
                    l.parse().ok()
                } else {
                    None
                }
            })
            .unwrap();
        assert!(alive(child.pid) && alive(grandchild));
        let exit = child.stop(Duration::from_secs(5)).unwrap();
        assert_eq!(exit.signal, Some(libc::SIGTERM));
        std::thread::sleep(Duration::from_millis(100));
        assert!(!alive(grandchild), "the grandchild went with its group");
    }

    #[test]
    fn sigkill_after_grace_when_term_is_ignored() {
        let (events, _) = collect();
        let child = spawn(&sh("trap '' TERM; sleep 300"), events).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        let exit = child.stop(Duration::from_millis(300)).unwrap();
        assert_eq!(exit.signal, Some(libc::SIGKILL));
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn kill_all_and_missing_programs() {
        let (events, _) = collect();
        let a = spawn(&sh("sleep 300"), events.clone()).unwrap();
        let b = spawn(&sh("sleep 300"), events.clone()).unwrap();
        assert!(kill_all() >= 2);
        assert_eq!(
            a.wait_timeout(Duration::from_secs(5)).unwrap().signal,
            Some(libc::SIGKILL)
        );
        assert!(b.wait_timeout(Duration::from_secs(5)).is_some());
        let err = spawn(
            &Spec {
                program: "/nonexistent/llama-server".into(),
                ..Default::default()
            },
            events,
        )
        .err()
        .unwrap();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
