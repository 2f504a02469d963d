//! The GGUF reader's limits against hostile headers too big to keep in the corpus (made here, in
//! a temp folder): each ends in genai-electron's DownloadError for a bad header, in bounded memory,
//! measured as the peak RSS (VmHWM) of a child process that reads only that file. Before the
//! limits, the 16 MiB array alone peaked at ~2.9 GB through the binding.

use genai_core::gguf::{metadata::gguf_metadata, read_metadata, MAX_ARRAY_LEN};
use genai_core::ErrorCode;
use std::path::{Path, PathBuf};
use std::process::Command;

const CASE: &str = "GENAI_GGUF_LIMITS_CASE";
const FILE: &str = "GENAI_GGUF_LIMITS_FILE";
/// What a child may use at most (address space), so that a regression fails instead of
/// eating the machine's memory.
const CHILD_ADDRESS_SPACE: u64 = 4 << 30;

/// A v3 header with one key per array: `(element type, element count, element bytes)`.
fn arrays(specs: &[(u32, u64, usize)]) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&(specs.len() as u64).to_le_bytes());
    for (i, &(ty, n, bytes)) in specs.iter().enumerate() {
        let key = format!("tokenizer.ggml.k{i}");
        b.extend_from_slice(&(key.len() as u64).to_le_bytes());
        b.extend_from_slice(key.as_bytes());
        b.extend_from_slice(&9u32.to_le_bytes());
        b.extend_from_slice(&ty.to_le_bytes());
        b.extend_from_slice(&n.to_le_bytes());
        b.resize(b.len() + n as usize * bytes, 1);
    }
    b
}

/// Peak resident memory of this process in KiB (0 where /proc is not there).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The child: reads one file as `fetchLocalGGUFMetadata` and `updateModelMetadata` do (header,
/// then the ModelInfo metadata and its JSON text), prints the outcome and its peak RSS.
#[test]
fn child() {
    let (Ok(_), Ok(file)) = (std::env::var(CASE), std::env::var(FILE)) else {
        return; // run by the tests below only
    };
    #[cfg(unix)]
    unsafe {
        let limit = libc::rlimit {
            rlim_cur: CHILD_ADDRESS_SPACE as libc::rlim_t,
            rlim_max: CHILD_ADDRESS_SPACE as libc::rlim_t,
        };
        libc::setrlimit(libc::RLIMIT_AS, &limit);
    }
    let outcome = match read_metadata(Path::new(&file)) {
        Ok(h) => {
            let meta = serde_json::Value::Object(gguf_metadata(&h, true));
            let text = genai_core::jsjson::stringify_pretty(&meta);
            format!("ok {} bytes of JSON", text.len())
        }
        Err(e) => {
            assert_eq!(e.code, ErrorCode::DownloadFailed);
            format!("error {}", e.message)
        }
    };
    println!("OUTCOME: {outcome}");
    println!("PEAK_KIB: {}", peak_rss_kib());
}

/// Writes `bytes` to a temp file, reads it in a child; returns (outcome line, peak RSS in MiB).
fn read_in_child(name: &str, bytes: &[u8]) -> (String, u64) {
    let dir = std::env::temp_dir().join(format!("genai-gguf-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CASE, name)
        .env(FILE, &path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    let _ = std::fs::remove_dir(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name}: child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.split_once(key).map(|(_, v)| v))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{name}: no {key} in {stdout}"))
    };
    let peak_mib = field("PEAK_KIB: ").parse::<u64>().unwrap() / 1024;
    eprintln!("{name}: peak RSS {peak_mib} MiB");
    (field("OUTCOME: "), peak_mib)
}

#[test]
fn huge_arrays_are_refused_from_their_count_in_bounded_memory() {
    for mib in [16u64, 64] {
        let n = mib << 20;
        let (outcome, peak) = read_in_child(&format!("u8-{mib}mib.gguf"), &arrays(&[(0, n, 1)]));
        assert_eq!(
            outcome,
            format!("error Failed to read GGUF metadata from local file: Metadata array length {n} exceeds maximum allowed (1000000)")
        );
        // Only the first 256 KiB prefix is read: nothing near the array's size is allocated.
        assert!(peak < 48, "{mib} MiB array: peak RSS {peak} MiB");
    }
}

#[test]
fn the_value_budget_bounds_what_a_small_file_can_build() {
    // Three arrays of 999,999 one-byte values (3 MB of file) fill the budget exactly: they are
    // kept, in bounded memory, and a fourth array is refused.
    let n = MAX_ARRAY_LEN - 1;
    let full = arrays(&[(0, n, 1), (0, n, 1), (0, n, 1)]);
    let (outcome, peak) = read_in_child("values-at-limit.gguf", &full);
    eprintln!(
        "at limit: {peak} MiB; Json {} B, Value {} B",
        std::mem::size_of::<serde_json::Value>(),
        std::mem::size_of::<genai_core::gguf::Value>()
    );
    assert!(outcome.starts_with("ok "), "{outcome}");
    assert!(peak < 300, "values at the limit: peak RSS {peak} MiB");
    let over = arrays(&[(0, n, 1), (0, n, 1), (0, n, 1), (1, 1, 1)]);
    let (outcome, peak) = read_in_child("values-over-limit.gguf", &over);
    assert_eq!(
        outcome,
        "error Failed to read GGUF metadata from local file: GGUF metadata holds more than 3000000 values"
    );
    assert!(peak < 64, "values over the limit: peak RSS {peak} MiB");
}
