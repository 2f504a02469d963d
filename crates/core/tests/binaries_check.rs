#![cfg(target_os = "linux")] // /proc is read to prove that no child is left
//! `binaries::check::test_binary` on real processes: the real llama-server (phase 1 alone, and
//! phase 2 with SmolLM2) and the real sd-server with the random SDXS model (skipped, with the
//! reason printed, when their asset variables are unset), and shell scripts that fail each
//! way: exit 1, a 5 s overrun, not executable, not a program, an impostor server, a GPU error
//! line, a cancel. After each, no child (nor anything of its process group) is left.

mod common;
#[path = "binaries_check/procs.rs"]
mod procs;

use common::alive::alive;
use genai_core::binaries::check::{test_binary, Tested, TEST_OUTPUT};
use genai_core::binaries::{BinaryKind, TestModel};
use genai_core::logs::Level;
use procs::{assert_group_gone, children_named};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One test at a time: the servers are heavy, and a script written while another test forks
/// could not be executed (ETXTBSY).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

type Lines = Arc<Mutex<Vec<(String, Level)>>>;

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("genai-bincheck-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_exe(path: &Path, content: &[u8], mode: u32) -> PathBuf {
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.to_path_buf()
}

/// A `/bin/sh` script that records its pid in `<dir>/pid` first.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let pid = dir.join("pid");
    let text = format!("#!/bin/sh\necho $$ > '{}'\n{body}\n", pid.display());
    write_exe(&dir.join(name), text.as_bytes(), 0o755)
}

fn script_pid(dir: &Path) -> Option<u32> {
    std::fs::read_to_string(dir.join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Runs `test_binary`, recording its log.
async fn check(
    kind: BinaryKind,
    exe: &Path,
    model: Option<&TestModel>,
    dir: &Path,
    cancel: &CancellationToken,
) -> (Result<Tested, String>, Lines) {
    let lines: Lines = Arc::default();
    let sink = lines.clone();
    let log = move |m: &str, l: Level| sink.lock().unwrap().push((m.to_string(), l));
    (
        test_binary(kind, exe, model, dir, &log, cancel).await,
        lines,
    )
}

fn logged(lines: &Lines, needle: &str) -> bool {
    lines
        .lock()
        .unwrap()
        .iter()
        .any(|(l, _)| l.contains(needle))
}

/// The script's process and everything of its group are gone.
fn assert_script_gone(dir: &Path) {
    let pid = script_pid(dir).expect("the script ran and recorded its pid");
    assert!(!alive(pid), "script {pid} still alive");
    assert_group_gone(pid);
}

fn env_path(var: &str, test: &str) -> Option<PathBuf> {
    let p = std::env::var_os(var).map(PathBuf::from);
    if p.is_none() {
        println!("{test}: skipped, {var} is unset (bash scripts/assets.sh path ...)");
    }
    p
}

const NO_PHASE2: Tested = Tested {
    phase1_passed: true,
    phase2_passed: None,
};
const BOTH: Tested = Tested {
    phase1_passed: true,
    phase2_passed: Some(true),
};

/// Records the pids of our children named `name` while `fut` runs.
async fn watching<T>(
    name: &'static str,
    fut: impl std::future::Future<Output = T>,
) -> (T, Vec<u32>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stop = CancellationToken::new();
    let (s, st) = (seen.clone(), stop.clone());
    let watcher = tokio::spawn(async move {
        while !st.is_cancelled() {
            for p in children_named(name) {
                let mut s = s.lock().unwrap();
                if !s.contains(&p) {
                    s.push(p);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let out = fut.await;
    stop.cancel();
    watcher.await.unwrap();
    let seen = seen.lock().unwrap().clone();
    (out, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_llama_server_phase1_only() {
    let Some(exe) = env_path("GENAI_TEST_LLAMA_SERVER", "real_llama_server_phase1_only") else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = scratch("llama-p1");
    let (r, lines) = check(
        BinaryKind::Llama,
        &exe,
        None,
        &dir,
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(r, Ok(NO_PHASE2));
    assert!(logged(
        &lines,
        "Phase 1: Testing binary basic validation..."
    ));
    assert!(logged(
        &lines,
        "Phase 1: ✓ Binary validation passed (--version)"
    ));
    assert!(logged(&lines, "No test model provided, skipping Phase 2"));
    // A model whose file is not there: phase 2 is skipped too.
    let missing = TestModel {
        path: dir.join("missing.gguf"),
        model_args: vec![],
    };
    let (r, _) = check(
        BinaryKind::Llama,
        &exe,
        Some(&missing),
        &dir,
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(r, Ok(NO_PHASE2));
    assert_eq!(children_named("llama-server"), Vec::<u32>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_llama_server_phase2_with_smollm2() {
    let test = "real_llama_server_phase2_with_smollm2";
    let (Some(exe), Some(model)) = (
        env_path("GENAI_TEST_LLAMA_SERVER", test),
        env_path("GENAI_TEST_MODEL", test),
    ) else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = scratch("llama-p2");
    let model = TestModel {
        path: model,
        model_args: vec![],
    };
    let cancel = CancellationToken::new();
    let ((r, lines), seen) = watching(
        "llama-server",
        check(BinaryKind::Llama, &exe, Some(&model), &dir, &cancel),
    )
    .await;
    assert_eq!(r, Ok(BOTH), "log: {:?}", lines.lock().unwrap());
    assert!(logged(
        &lines,
        "Phase 2: Testing GPU functionality with llama-server..."
    ));
    assert!(logged(
        &lines,
        "Phase 2: ✓ GPU functionality test passed (llama-server)"
    ));
    assert!(!seen.is_empty(), "the real server ran as our child");
    for pid in seen {
        assert!(!alive(pid), "llama-server {pid} left running");
        assert_group_gone(pid);
    }
    assert_eq!(
        children_named("llama-server"),
        Vec::<u32>::new(),
        "no zombie"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_sd_server_phase2_writes_a_png() {
    let Some((exe, model)) = common::sd_assets("real_sd_server_phase2_writes_a_png") else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = scratch("sd-p2");
    let model = TestModel {
        model_args: vec!["-m".into(), model.to_string_lossy().into_owned()],
        path: model,
    };
    let cancel = CancellationToken::new();
    let ((r, lines), seen) = watching(
        "sd-server",
        check(BinaryKind::Diffusion, &exe, Some(&model), &dir, &cancel),
    )
    .await;
    assert_eq!(r, Ok(BOTH), "log: {:?}", lines.lock().unwrap());
    assert!(logged(
        &lines,
        "Phase 1: ✓ Binary validation passed (--help)"
    ));
    assert!(logged(
        &lines,
        "Phase 2: ✓ GPU functionality test passed (sd-server)"
    ));
    let png = std::fs::read(dir.join(TEST_OUTPUT)).expect("the test image was written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(dir.join("loras").is_dir());
    assert!(!seen.is_empty(), "the real sd-server ran as our child");
    for pid in seen {
        assert!(!alive(pid), "sd-server {pid} left running");
    }
    assert_eq!(children_named("sd-server"), Vec::<u32>::new(), "no zombie");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_that_exits_1_fails_phase1() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = scratch("exit1");
    let exe = script(&dir, "exit1", "echo broken >&2\nexit 1");
    let (r, lines) = check(
        BinaryKind::Llama,
        &exe,
        None,
        &dir,
        &CancellationToken::new(),
    )
    .await;
    let why = r.unwrap_err();
    assert!(
        why.starts_with("Phase 1 failed: --version ended with exit code 1"),
        "{why}"
    );
    assert!(why.contains("broken"), "{why}");
    assert!(logged(
        &lines,
        "Phase 1: ✗ Basic validation failed: --version ended with exit code 1"
    ));
    assert!(logged(
        &lines,
        "Binary validation failed, variant will be skipped"
    ));
    assert_script_gone(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_that_hangs_is_killed_after_5_s() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = scratch("hang");
    let exe = script(&dir, "hang", "sleep 30");
    let (r, _) = check(
        BinaryKind::Diffusion,
        &exe,
        None,
        &dir,
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(
        r,
        Err("Phase 1 failed: --help did not finish within 5 s".into())
    );
    assert_script_gone(&dir); // the script and its `sleep`
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_that_cannot_run_fail_phase1() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = scratch("cannot-run");
    let not_exec = write_exe(&dir.join("not-exec"), b"#!/bin/sh\nexit 0\n", 0o644);
    let garbage = write_exe(
        &dir.join("garbage"),
        &[0x7f, b'E', b'L', b'F', 0, 1, 2, 3, 0xff, 0xfe],
        0o755,
    );
    let cancel = CancellationToken::new();
    let (r, _) = check(BinaryKind::Llama, &not_exec, None, &dir, &cancel).await;
    let why = r.unwrap_err();
    assert!(why.starts_with("Phase 1 failed: cannot run"), "{why}");
    assert!(why.contains("Permission denied"), "{why}");
    // execvp would hand a file the kernel refuses (ENOEXEC) to /bin/sh: it is refused before.
    let (r, _) = check(BinaryKind::Llama, &garbage, None, &dir, &cancel).await;
    let why = r.unwrap_err();
    assert!(why.starts_with("Phase 1 failed: "), "{why}");
    assert!(
        why.contains("is not a program for this system: a truncated ELF header"),
        "{why}"
    );
    // A downloaded text file is never run as shell commands.
    let text = write_exe(&dir.join("text"), b"touch pwned\n", 0o755);
    let (r, _) = check(BinaryKind::Llama, &text, None, &dir, &cancel).await;
    assert!(r.unwrap_err().contains("not a program (no ELF"));
    assert!(!dir.join("pwned").exists() && !std::path::Path::new("pwned").exists());
    let (r, _) = check(BinaryKind::Llama, &dir.join("absent"), None, &dir, &cancel).await;
    assert!(r.unwrap_err().contains("No such file"));
}

/// A stand-in model file for scripts (phase 2 only needs it to exist).
fn dummy_model(dir: &Path) -> TestModel {
    let path = dir.join("model.gguf");
    std::fs::write(&path, b"GGUF").unwrap();
    TestModel {
        path,
        model_args: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impostor_passes_phase1_and_fails_phase2() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = scratch("impostor");
    let model = dummy_model(&dir);
    let body = "case \"$1\" in --version|--help) echo 'version: 1'; exit 0;; esac\necho 'unknown argument' >&2\nexit 1";
    let exe = script(&dir, "impostor", body);
    let cancel = CancellationToken::new();
    let (r, lines) = check(BinaryKind::Llama, &exe, Some(&model), &dir, &cancel).await;
    let why = r.unwrap_err();
    assert_eq!(
        why,
        "Phase 2 failed: llama-server ended (exit code 1) before becoming healthy"
    );
    assert!(logged(
        &lines,
        "Phase 1: ✓ Binary validation passed (--version)"
    ));
    assert!(logged(
        &lines,
        "GPU functionality test failed, variant will be skipped"
    ));
    assert_script_gone(&dir);
    // The same impostor as sd-server.
    let (r, lines) = check(BinaryKind::Diffusion, &exe, Some(&model), &dir, &cancel).await;
    let why = r.unwrap_err();
    assert!(why.starts_with("Phase 2 failed: "), "{why}");
    assert!(why.contains("exit"), "{why}");
    assert!(logged(
        &lines,
        "Phase 2: Testing GPU functionality with real inference..."
    ));
    assert_script_gone(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gpu_error_line_fails_phase2() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = scratch("gpu-error");
    let model = dummy_model(&dir);
    let body = "[ \"$1\" = --version ] && { echo 'version: 1'; exit 0; }\necho 'load_backend: loaded CUDA backend' >&2\necho 'ggml_cuda: CUDA error: out of memory' >&2\nsleep 30";
    let exe = script(&dir, "gpu-error", body);
    let (r, lines) = check(
        BinaryKind::Llama,
        &exe,
        Some(&model),
        &dir,
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(
        r,
        Err("Phase 2 failed: GPU error detected during startup: cuda error (ggml_cuda: CUDA error: out of memory)".into())
    );
    assert!(logged(
        &lines,
        "Phase 2: ✗ GPU error detected during startup: cuda error"
    ));
    assert_script_gone(&dir); // and its `sleep`
}

/// Waits until the script recorded its pid (it was spawned for phase 2).
async fn spawned(dir: &Path) -> u32 {
    loop {
        if let Some(pid) = script_pid(dir) {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_phase2_stops_the_child() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = scratch("cancel");
    let model = dummy_model(&dir);
    // Passes --version without recording a pid; the server run records it and serves nothing.
    let pid = dir.join("pid");
    let text = format!(
        "#!/bin/sh\n[ \"$1\" = --version ] && exit 0\necho $$ > '{}'\nsleep 30\n",
        pid.display()
    );
    let exe = write_exe(&dir.join("silent"), text.as_bytes(), 0o755);
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    let d = dir.clone();
    let canceller = tokio::spawn(async move {
        let pid = spawned(&d).await;
        c.cancel();
        pid
    });
    let (r, _) = check(BinaryKind::Llama, &exe, Some(&model), &dir, &cancel).await;
    let pid = canceller.await.unwrap();
    assert_eq!(r, Err("cancelled".into()));
    assert!(!alive(pid));
    assert_group_gone(pid);
    assert_eq!(children_named("silent"), Vec::<u32>::new(), "no zombie");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_phase1_stops_the_child() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = scratch("cancel1");
    let exe = script(&dir, "slow", "sleep 30");
    let cancel = CancellationToken::new();
    let (c, d) = (cancel.clone(), dir.clone());
    tokio::spawn(async move {
        spawned(&d).await;
        c.cancel();
    });
    let (r, _) = check(BinaryKind::Llama, &exe, None, &dir, &cancel).await;
    assert_eq!(r, Err("cancelled".into()));
    assert_script_gone(&dir);
}

/// Cancels `cancel` once a child named `name` runs as a server (`--port` / `--listen-port` in its
/// argv: phase 2, not phase 1's `--version`/`--help`); its pid.
fn cancel_when_serving(
    name: &'static str,
    cancel: &CancellationToken,
) -> tokio::task::JoinHandle<u32> {
    let serving = |pid: &u32| {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
            c.split(|b| *b == 0)
                .any(|a| a == b"--port" || a == b"--listen-port")
        })
    };
    let c = cancel.clone();
    tokio::spawn(async move {
        loop {
            if let Some(pid) = children_named(name).into_iter().find(serving) {
                c.cancel();
                return pid;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_real_phase2_stops_the_servers() {
    let test = "cancel_during_real_phase2_stops_the_servers";
    let (Some(llama), Some(llm)) = (
        env_path("GENAI_TEST_LLAMA_SERVER", test),
        env_path("GENAI_TEST_MODEL", test),
    ) else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = scratch("cancel-real");
    let model = TestModel {
        path: llm,
        model_args: vec![],
    };
    let cancel = CancellationToken::new();
    let watcher = cancel_when_serving("llama-server", &cancel);
    let (r, _) = check(BinaryKind::Llama, &llama, Some(&model), &dir, &cancel).await;
    assert!(
        cancel.is_cancelled(),
        "phase 2 ended before its server was seen: {r:?}"
    );
    let pid = watcher.await.unwrap();
    assert_eq!(r, Err("cancelled".into()));
    assert!(!alive(pid), "llama-server {pid} left running");
    assert_eq!(
        children_named("llama-server"),
        Vec::<u32>::new(),
        "no zombie"
    );

    let Some((sd, sd_model)) = common::sd_assets(test) else {
        return;
    };
    let model = TestModel {
        model_args: vec!["-m".into(), sd_model.to_string_lossy().into_owned()],
        path: sd_model,
    };
    let cancel = CancellationToken::new();
    let watcher = cancel_when_serving("sd-server", &cancel);
    let (r, _) = check(BinaryKind::Diffusion, &sd, Some(&model), &dir, &cancel).await;
    assert!(
        cancel.is_cancelled(),
        "phase 2 ended before its server was seen: {r:?}"
    );
    let pid = watcher.await.unwrap();
    assert_eq!(r, Err("cancelled".into()));
    assert!(!alive(pid), "sd-server {pid} left running");
    assert_eq!(children_named("sd-server"), Vec::<u32>::new(), "no zombie");
}
