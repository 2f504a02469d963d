//! Windows: every child goes into one job object created with KILL_ON_JOB_CLOSE. We never close
//! its handle; the OS does when this process ends, however it ends, and that kills every process
//! in the job (the Windows counterpart of PDEATHSIG). process-wrap's std `JobObject` does not set
//! KILL_ON_JOB_CLOSE (only its tokio flavour with `KillOnDrop` does), hence these few calls.
//! (Node's own children are already in libuv's kill-on-close job.)

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
