//! Provisioning end to end on real parts: archives built here from the real llama-server (laid
//! out as llama.cpp's release `.tar.gz`, top folder `llama-<tag>/`), served by a real HTTP
//! server on 127.0.0.1 standing in for github.com through the mirror, installed into a real
//! folder and run. Hostile archives must leave the previous binary working.
#![cfg(unix)]

mod common;

use common::archives::{write_tgz, write_zip, EntryType, E};
use common::server::{Faults, TestServer};
use genai_core::archive::Limits;
use genai_core::binaries::catalog::{Dependency, Release, Variant, VariantType};
use genai_core::binaries::manifest;
use genai_core::binaries::provision::Provisioner;
use genai_core::binaries::{BinaryEvent, BinaryKind, Phase};
use genai_core::ErrorCode;
use indexmap::IndexMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const TAG: &str = "b9860";
const PREFIX: &str = "/ggml-org/llama.cpp/releases/download/b9860/";

struct Case {
    root: PathBuf,
    server: TestServer,
    events: Arc<Mutex<Vec<BinaryEvent>>>,
}

impl Case {
    async fn new(tag: &str) -> Case {
        let root = std::env::temp_dir().join(format!("genai-prov-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("data/binaries")).unwrap();
        std::fs::write(root.join("data/keep.txt"), "bait").unwrap();
        Case {
            root,
            server: TestServer::start().await,
            events: Arc::default(),
        }
    }

    fn dir(&self) -> PathBuf {
        self.root.join("data/binaries/llama")
    }

    /// Serves `bytes` as `asset` and returns the variant describing it (with `checksum`, or the
    /// real one).
    fn serve(
        &self,
        kind: VariantType,
        asset: &str,
        bytes: Vec<u8>,
        checksum: Option<&str>,
    ) -> Variant {
        let sum = checksum.map_or_else(|| sha256(&bytes), str::to_string);
        self.server.put(&format!("{PREFIX}{asset}"), bytes);
        Variant {
            variant: kind,
            url: format!("https://github.com{PREFIX}{asset}"),
            checksum: sum,
            dependencies: Vec::new(),
        }
    }

    fn provisioner(&self, version: &str, variants: Vec<Variant>) -> Provisioner {
        let events = self.events.clone();
        Provisioner {
            kind: BinaryKind::Llama,
            platform_key: "linux-x64".into(),
            release: Release {
                version: version.into(),
                variants: IndexMap::from([("linux-x64".to_string(), variants)]),
            },
            dir: self.dir(),
            mirror: Some(format!("http://{}/", self.server.addr)),
            cuda: false,
            run_tests: true,
            test_model: None,
            events: Arc::new(move |e| events.lock().unwrap().push(e)),
            cancel: Default::default(),
            limits: Limits::default(),
        }
    }

    fn logs(&self) -> Vec<String> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter_map(|e| match e {
                BinaryEvent::Log { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    fn phases(&self) -> Vec<Phase> {
        let mut phases: Vec<Phase> = Vec::new();
        for e in self.events.lock().unwrap().iter() {
            if let BinaryEvent::Progress(p) = e {
                if phases.last() != Some(&p.phase) {
                    phases.push(p.phase);
                }
            }
        }
        phases
    }

    /// Only `binaries/llama` (and `keep.txt`) in the data folder, no leftovers beside it.
    fn nothing_else(&self) {
        let mut names: Vec<String> = std::fs::read_dir(self.root.join("data/binaries"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["llama"], "beside the installed folder");
        assert_eq!(
            std::fs::read_to_string(self.root.join("data/keep.txt")).unwrap(),
            "bait"
        );
        let top: Vec<_> = std::fs::read_dir(&self.root).unwrap().collect();
        assert_eq!(top.len(), 1, "nothing written outside the data folder");
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn build(entries: &[E], zip: bool) -> Vec<u8> {
    let file = std::env::temp_dir().join(format!(
        "genai-prov-archive-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    if zip {
        write_zip(&file, entries);
    } else {
        write_tgz(&file, entries);
    }
    let bytes = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    bytes
}

/// llama.cpp's layout with the real llama-server.
fn real_archive() -> Vec<u8> {
    let exe = std::fs::read(common::llama_server_path()).unwrap();
    let top = format!("llama-{TAG}/");
    let bin = format!("llama-{TAG}/llama-server");
    let license = format!("llama-{TAG}/LICENSE");
    build(
        &[
            E::Dir(&top),
            E::File(&bin, 0o755, &exe),
            E::File(&license, 0o644, b"MIT"),
        ],
        false,
    )
}

/// Same layout, but the executable cannot run.
fn broken_archive() -> Vec<u8> {
    build(
        &[E::File(
            "llama-b9860/llama-server",
            0o755,
            b"\x7fELF not really",
        )],
        false,
    )
}

fn runs(exe: &Path) -> bool {
    std::process::Command::new(exe)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn installs_the_real_binary_with_upstreams_files_then_reuses_it_without_a_request() {
    let case = Case::new("fresh").await;
    let cpu = case.serve(
        VariantType::Cpu,
        "llama-b9860-bin-ubuntu-x64.tar.gz",
        real_archive(),
        None,
    );
    let p = case.provisioner(TAG, vec![cpu]);
    let done = p.ensure(false).await.unwrap();
    assert!(done.installed);
    assert_eq!(done.path, case.dir().join("llama-server"));
    assert!(runs(&done.path), "the installed llama-server runs");
    assert!(
        case.dir().join("LICENSE").is_file(),
        "the release folder is flattened"
    );
    assert_eq!(
        case.phases(),
        [
            Phase::Downloading,
            Phase::Verifying,
            Phase::Extracting,
            Phase::Finalizing,
            Phase::Testing,
            Phase::Installing
        ]
    );
    let v = manifest::read_validation(&case.dir()).unwrap();
    assert_eq!(
        (v.variant.as_str(), v.phase1_passed, v.phase2_passed),
        ("cpu", true, None)
    );
    assert_eq!(v.version.as_deref(), Some(TAG));
    assert_eq!(
        v.checksum,
        genai_core::files::sha256_file(&done.path).unwrap()
    );
    let variant = manifest::read_variant(&case.dir()).unwrap();
    assert_eq!(
        (variant.variant.as_str(), variant.platform.as_str()),
        ("cpu", "linux-x64")
    );
    assert_eq!(
        manifest::read_deps(&case.dir()),
        manifest::DepsManifest::default()
    );
    case.nothing_else();

    let before = case.server.requests().len();
    case.events.lock().unwrap().clear();
    let again = p.ensure(false).await.unwrap();
    assert!(!again.installed);
    assert_eq!(
        case.server.requests().len(),
        before,
        "no request for an installed binary"
    );
    assert!(case
        .logs()
        .iter()
        .any(|l| l == "Using cached validation result (binary verified)"));
    assert!(case.phases().is_empty(), "no download, no test");

    // A new pin reinstalls.
    let again = case.provisioner("b9999", p.release.variants["linux-x64"].clone());
    assert!(again.ensure(false).await.unwrap().installed);
    assert_eq!(
        manifest::read_validation(&case.dir())
            .unwrap()
            .version
            .as_deref(),
        Some("b9999")
    );
    case.nothing_else();
}

#[tokio::test]
async fn a_checksum_mismatch_and_a_binary_that_does_not_run_fall_back_then_all_failing_says_why() {
    let case = Case::new("fallback").await;
    let bad_sum = case.serve(
        VariantType::Vulkan,
        "vulkan.tar.gz",
        real_archive(),
        Some(&"0".repeat(64)),
    );
    let broken = case.serve(VariantType::Metal, "broken.tar.gz", broken_archive(), None);
    let cpu = case.serve(VariantType::Cpu, "cpu.tar.gz", real_archive(), None);
    let p = case.provisioner(TAG, vec![bad_sum.clone(), broken.clone(), cpu]);
    let done = p.ensure(false).await.unwrap();
    assert!(runs(&done.path));
    assert_eq!(manifest::read_variant(&case.dir()).unwrap().variant, "cpu");
    let logs = case.logs();
    assert!(
        logs.iter()
            .any(|l| l.starts_with("Failed to use vulkan variant: checksum mismatch")),
        "{logs:#?}"
    );
    assert!(
        logs.iter()
            .any(|l| l.starts_with("Failed to use metal variant: the binary failed its test")),
        "{logs:#?}"
    );
    case.nothing_else();

    let none = Case::new("allfail").await;
    let a = none.serve(
        VariantType::Vulkan,
        "vulkan.tar.gz",
        real_archive(),
        Some(&"0".repeat(64)),
    );
    let b = none.serve(VariantType::Cpu, "cpu.tar.gz", broken_archive(), None);
    let err = none
        .provisioner(TAG, vec![a, b])
        .ensure(false)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Binary);
    assert_eq!(
        err.message,
        "Failed to download binary. Tried all variants for linux-x64."
    );
    let details = err.details.unwrap();
    let variants = details["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    assert_eq!(variants[0]["variant"], "vulkan");
    assert!(variants[0]["reason"]
        .as_str()
        .unwrap()
        .contains("checksum mismatch"));
    assert!(variants[1]["reason"]
        .as_str()
        .unwrap()
        .contains("failed its test"));
    assert!(details["errors"]
        .as_str()
        .unwrap()
        .starts_with("vulkan: checksum mismatch"));
    assert!(
        !none.dir().join("llama-server").exists(),
        "nothing installed"
    );
}

#[tokio::test]
async fn a_download_cut_midway_resumes_with_a_range_request() {
    let case = Case::new("resume").await;
    let cpu = case.serve(VariantType::Cpu, "cpu.tar.gz", real_archive(), None);
    case.server.set_faults(Faults {
        cut_after: Some(1 << 20),
        times: Some(1),
        ..Default::default()
    });
    let done = case
        .provisioner(TAG, vec![cpu])
        .ensure(false)
        .await
        .unwrap();
    assert!(runs(&done.path));
    let ranges: Vec<_> = case
        .server
        .requests()
        .into_iter()
        .filter_map(|(_, range, _)| range)
        .collect();
    assert!(
        ranges
            .iter()
            .any(|r| r.starts_with("bytes=") && r != "bytes=0-"),
        "{ranges:?}"
    );
}

#[tokio::test]
async fn dependencies_are_installed_listed_in_deps_json_and_reused_by_checksum() {
    let case = Case::new("deps").await;
    let runtime = build(
        &[
            E::File("cudart64_12.dll", 0o644, b"runtime"),
            E::File("sub/cublas.dll", 0o644, b"blas"),
        ],
        true,
    );
    let dep_sum = sha256(&runtime);
    case.server.put(&format!("{PREFIX}cudart.zip"), runtime);
    let mut cpu = case.serve(VariantType::Cpu, "cpu.tar.gz", real_archive(), None);
    cpu.dependencies = vec![Dependency {
        url: format!("https://github.com{PREFIX}cudart.zip"),
        checksum: dep_sum.clone(),
        description: Some("CUDA runtime".into()),
    }];
    case.provisioner(TAG, vec![cpu.clone()])
        .ensure(false)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(case.dir().join("sub/cublas.dll")).unwrap(),
        "blas"
    );
    let deps = manifest::read_deps(&case.dir());
    assert_eq!(deps.dependencies.len(), 1);
    assert_eq!(deps.dependencies[0].checksum, dep_sum);
    assert_eq!(
        deps.dependencies[0].files,
        ["cudart64_12.dll", "sub/cublas.dll"]
    );
    let dep_requests = |c: &Case| {
        c.server
            .requests()
            .iter()
            .filter(|(p, _, _)| p.ends_with("cudart.zip"))
            .count()
    };
    assert_eq!(dep_requests(&case), 1);
    // A new pin of the binary with the same runtime: the runtime is not downloaded again.
    case.provisioner("b9999", vec![cpu])
        .ensure(false)
        .await
        .unwrap();
    assert_eq!(dep_requests(&case), 1);
    assert!(case
        .logs()
        .iter()
        .any(|l| l == "Using installed CUDA runtime (checksum match)"));
    assert_eq!(
        std::fs::read_to_string(case.dir().join("cudart64_12.dll")).unwrap(),
        "runtime"
    );
    case.nothing_else();
}

#[tokio::test]
async fn an_upstream_folder_is_reused_as_is_and_an_interrupted_install_is_repaired() {
    let case = Case::new("upstream").await;
    std::fs::create_dir_all(case.dir()).unwrap();
    let exe = case.dir().join("llama-server");
    std::fs::copy(common::llama_server_path(), &exe).unwrap();
    let upstream = serde_json::json!({
        "variant": "vulkan",
        "checksum": genai_core::files::sha256_file(&exe).unwrap(),
        "validatedAt": "2026-10-01T10:00:00.000Z",
        "phase1Passed": true,
        "phase2Passed": true,
        "version": TAG,
    });
    std::fs::write(case.dir().join(".validation.json"), upstream.to_string()).unwrap();
    std::fs::write(
        case.dir().join(".variant.json"),
        r#"{"variant":"vulkan","platform":"linux-x64"}"#,
    )
    .unwrap();
    let p = case.provisioner(
        TAG,
        vec![case.serve(VariantType::Cpu, "cpu.tar.gz", real_archive(), None)],
    );
    assert!(!p.ensure(false).await.unwrap().installed);
    assert!(case.server.requests().is_empty());
    let kept: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case.dir().join(".validation.json")).unwrap())
            .unwrap();
    assert_eq!(kept, upstream, "upstream's file untouched");

    // A crash between the two renames of an install: no folder, only the backup.
    let backup = case.root.join(format!(
        "data/binaries/llama.backup-{}-1-cpu",
        0x7fff_fff0u32
    ));
    std::fs::rename(case.dir(), &backup).unwrap();
    assert!(!p.ensure(false).await.unwrap().installed);
    assert!(
        case.server.requests().is_empty(),
        "repaired from the backup, not downloaded"
    );
    assert!(case
        .logs()
        .iter()
        .any(|l| l.starts_with("Restored the previous binaries")));
    case.nothing_else();
}

#[tokio::test]
async fn another_platform_is_installed_untested_without_validation() {
    let case = Case::new("foreign").await;
    let win = build(
        &[
            E::File("llama-server.exe", 0o644, b"MZ windows"),
            E::File("ggml.dll", 0o644, b"dll"),
        ],
        true,
    );
    let variant = case.serve(VariantType::Cpu, "win.zip", win, None);
    let mut p = case.provisioner(TAG, vec![]);
    p.platform_key = "win32-x64".into();
    p.release.variants = IndexMap::from([("win32-x64".to_string(), vec![variant])]);
    p.run_tests = false;
    let done = p.ensure(false).await.unwrap();
    assert_eq!(done.path, case.dir().join("llama-server.exe"));
    assert!(case.dir().join("ggml.dll").is_file());
    assert!(!case.phases().contains(&Phase::Testing));
    assert_eq!(
        manifest::read_validation(&case.dir()),
        None,
        "nothing vouches for an untested binary"
    );
    assert_eq!(
        manifest::read_variant(&case.dir()).unwrap().platform,
        "win32-x64"
    );
    let listed = genai_core::binaries::source::list(&case.root.join("data/binaries"));
    assert_eq!(listed.len(), 1);
    assert!(listed[0].path.ends_with("llama-server.exe") && !listed[0].verified);
    case.nothing_else();
}

/// Each hostile archive is refused, nothing lands outside, and the installed binary still runs.
#[tokio::test]
async fn hostile_archives_are_refused_and_the_previous_binary_keeps_working() {
    let case = Case::new("hostile").await;
    let good = case.serve(VariantType::Cpu, "good.tar.gz", real_archive(), None);
    case.provisioner("old", vec![good])
        .ensure(false)
        .await
        .unwrap();
    let exe = case.dir().join("llama-server");
    let before = genai_core::files::sha256_file(&exe).unwrap();
    let outside = case.root.join("escaped");
    let out = outside.to_string_lossy().into_owned();
    let big = vec![0u8; 4 << 20];
    let many: Vec<String> = (0..50).map(|i| format!("llama-b9860/f{i}")).collect();
    let truncated = {
        let mut b = real_archive();
        b.truncate(b.len() / 2);
        b
    };
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        (
            "zip-slip",
            build(
                &[E::File("llama-b9860/../../../escaped", 0o644, b"x")],
                false,
            ),
            false,
        ),
        (
            "zip-slip zip",
            build(&[E::File("../../escaped", 0o644, b"x")], true),
            true,
        ),
        (
            "absolute",
            build(&[E::File(&out, 0o644, b"x")], false),
            false,
        ),
        (
            "symlink out, then a file through it",
            build(
                &[
                    E::Sym("llama-b9860", &case.root.to_string_lossy()),
                    E::File("llama-b9860/escaped", 0o644, b"x"),
                ],
                false,
            ),
            false,
        ),
        (
            "hardlink out",
            build(&[E::Hard("llama-b9860/passwd", "/etc/passwd")], false),
            false,
        ),
        (
            "fifo",
            build(&[E::Special("llama-b9860/fifo", EntryType::Fifo)], false),
            false,
        ),
        (
            "tar bomb (bytes)",
            build(&[E::File("llama-b9860/zeros", 0o644, &big)], false),
            false,
        ),
        (
            "zip bomb (bytes)",
            build(&[E::File("zeros", 0o644, &big)], true),
            true,
        ),
        (
            "tar bomb (entries)",
            build(
                &many
                    .iter()
                    .map(|n| E::File(n, 0o644, b""))
                    .collect::<Vec<_>>(),
                false,
            ),
            false,
        ),
        ("truncated", truncated, false),
    ];
    for (name, bytes, zip) in cases {
        let asset = if zip { "hostile.zip" } else { "hostile.tar.gz" };
        let variant = case.serve(VariantType::Cpu, asset, bytes, None);
        let mut p = case.provisioner(TAG, vec![variant]);
        p.limits = Limits {
            max_entries: 20,
            max_bytes: 1 << 20,
        };
        let err = p.ensure(false).await.unwrap_err();
        let reason = err.details.unwrap()["errors"].as_str().unwrap().to_string();
        assert!(reason.contains("extraction refused"), "{name}: {reason}");
        assert!(!outside.exists(), "{name}: nothing escaped");
        assert!(
            std::fs::symlink_metadata(case.root.join("data/binaries/llama-b9860")).is_err(),
            "{name}"
        );
        assert_eq!(
            genai_core::files::sha256_file(&exe).unwrap(),
            before,
            "{name}: binary intact"
        );
        assert!(runs(&exe), "{name}: the previous binary still runs");
        case.nothing_else();
    }
}

#[tokio::test]
async fn cuda_variants_only_with_cuda_and_a_platform_without_variants_is_a_binary_error() {
    let case = Case::new("cuda").await;
    let cuda = case.serve(VariantType::Cuda, "cuda.tar.gz", real_archive(), None);
    let cpu = case.serve(VariantType::Cpu, "cpu.tar.gz", real_archive(), None);
    case.provisioner(TAG, vec![cuda, cpu])
        .ensure(false)
        .await
        .unwrap();
    let asked: Vec<String> = case
        .server
        .requests()
        .into_iter()
        .map(|(p, _, _)| p)
        .collect();
    assert!(
        asked.iter().all(|p| !p.ends_with("cuda.tar.gz")),
        "{asked:?}"
    );
    assert!(case
        .logs()
        .iter()
        .any(|l| l.starts_with("Skipping CUDA variants")));
    assert_eq!(manifest::read_variant(&case.dir()).unwrap().variant, "cpu");

    let mut none = case.provisioner(TAG, vec![]);
    none.platform_key = "darwin-x64".into();
    let err = none.ensure(true).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Binary);
    assert_eq!(
        err.message,
        "No binary variants available for platform: darwin-x64"
    );
    let only_cuda = case.serve(VariantType::Cuda, "cuda.tar.gz", real_archive(), None);
    let err = case
        .provisioner("b2", vec![only_cuda])
        .ensure(false)
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "No compatible binary variants available for platform: linux-x64"
    );
}

#[tokio::test]
async fn cancel_mid_download_ends_promptly_and_keeps_the_partial_for_the_next_call() {
    let case = Case::new("cancel").await;
    let cpu = case.serve(VariantType::Cpu, "cpu.tar.gz", real_archive(), None);
    case.server.set_faults(Faults {
        stall_after: Some(1 << 20),
        times: Some(1),
        ..Default::default()
    });
    let p = case.provisioner(TAG, vec![cpu]);
    let cancel = p.cancel.clone();
    let events = case.events.clone();
    tokio::spawn(async move {
        // Cancel once the first MiB has arrived (the server then stalls).
        loop {
            let got = events.lock().unwrap().iter().any(
                |e| matches!(e, BinaryEvent::Progress(p) if p.downloaded.unwrap_or(0) >= 1 << 20),
            );
            if got {
                cancel.cancel();
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    let err = p.ensure(false).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Binary);
    assert_eq!(err.message, "Binary download cancelled");
    let partial = case.dir().join("llama-server.cpu.tar.gz.partial");
    assert!(
        std::fs::metadata(&partial).unwrap().len() >= 1 << 20,
        "partial kept"
    );
    assert!(!case.dir().join("llama-server").exists());
    // The next call resumes from it.
    let again = case.provisioner(TAG, p.release.variants["linux-x64"].clone());
    again.ensure(false).await.unwrap();
    let ranges: Vec<_> = case
        .server
        .requests()
        .into_iter()
        .filter_map(|(_, r, _)| r)
        .collect();
    assert!(ranges.iter().any(|r| r != "bytes=0-"), "{ranges:?}");
    assert!(case
        .logs()
        .iter()
        .any(|l| l.starts_with("Resumed cpu binary from byte")));
}
