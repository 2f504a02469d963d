//! Signals: the three we send, the names Node gives signal numbers (from this OS's libc
//! constants: SIGBUS is 7 on Linux and 10 on macOS), and signalling a group or one pid. Windows
//! has no signal numbers: a child's exit there never carries one, and "signalling" ends it.

/// The signals we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Term,
    Kill,
    /// Resume a stopped process (so that it can act on SIGTERM).
    Cont,
}

impl Signal {
    /// This OS's number for the signal.
    #[cfg(unix)]
    pub fn number(self) -> libc::c_int {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
            Signal::Cont => libc::SIGCONT,
        }
    }
}

/// `(number, name)` pairs, each name written once, as the libc constant it comes from.
#[cfg(unix)]
macro_rules! signal_table {
    ($($name:ident),* $(,)?) => {
        &[$((libc::$name, stringify!($name))),*]
    };
}

#[cfg(unix)]
const NAMES: &[(i32, &str)] = signal_table![
    SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGKILL, SIGUSR1, SIGSEGV,
    SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU,
    SIGURG, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGWINCH, SIGIO, SIGSYS,
];
#[cfg(target_os = "linux")]
const OS_NAMES: &[(i32, &str)] = signal_table![SIGSTKFLT, SIGPWR];
#[cfg(target_os = "macos")]
const OS_NAMES: &[(i32, &str)] = signal_table![SIGEMT, SIGINFO];
#[cfg(all(unix, not(any(target_os = "linux", target_os = "macos"))))]
const OS_NAMES: &[(i32, &str)] = &[];
#[cfg(not(unix))]
const NAMES: &[(i32, &str)] = &[];
#[cfg(not(unix))]
const OS_NAMES: &[(i32, &str)] = &[];

fn table() -> impl Iterator<Item = &'static (i32, &'static str)> {
    NAMES.iter().chain(OS_NAMES)
}

/// A signal number as Node names it (`SIGKILL`); `SIG<n>` for one without a name.
pub fn signal_name(number: i32) -> String {
    table()
        .find(|(n, _)| *n == number)
        .map_or_else(|| format!("SIG{number}"), |(_, name)| (*name).to_string())
}

/// The number of a named signal on this OS (none on Windows).
pub fn signal_number(name: &str) -> Option<i32> {
    table().find(|(_, n)| *n == name).map(|(number, _)| *number)
}

/// A pid as `kill(2)` takes it. A larger u32 would wrap to a negative: a process group, or every
/// process (-1).
#[cfg(unix)]
pub(super) fn pid_t(pid: u32) -> Option<libc::pid_t> {
    libc::pid_t::try_from(pid).ok()
}

/// Signals a child's process group (its pid is the group id). Errors are ignored: the group may
/// already be gone.
pub fn signal_group(pid: u32, signal: Signal) {
    #[cfg(unix)]
    if let Some(pgid) = pid_t(pid).filter(|p| *p > 0) {
        // SAFETY: kill(2) with a negative pid signals that process group.
        unsafe {
            libc::kill(-pgid, signal.number());
        }
    }
    #[cfg(not(unix))]
    if !matches!(signal, Signal::Cont) {
        let _ = std::process::Command::new("taskkill")
            .args(["/T", "/F", "/PID", &pid.to_string()])
            .output();
    }
}

/// Sends `signal` to one process (not its group). `Ok(false)`: there is no such process.
/// Windows has no SIGTERM: both end the process (TerminateProcess); `Cont` does nothing there.
pub fn signal_pid(pid: u32, signal: Signal) -> std::io::Result<bool> {
    #[cfg(unix)]
    {
        let Some(pid) = pid_t(pid).filter(|p| *p > 0) else {
            return Ok(false);
        };
        // SAFETY: kill(2) on a positive pid signals that one process.
        if unsafe { libc::kill(pid, signal.number()) } == 0 {
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
            return Ok(super::is_alive(pid));
        }
        super::windows_job::terminate(pid)
    }
}
