//! Provisioning end to end on real parts: archives built here from the real llama-server (laid
//! out as llama.cpp's release `.tar.gz`, top folder `llama-<tag>/`), served by a real HTTP
//! server on 127.0.0.1 standing in for github.com through the mirror, installed into a real
//! folder and run: first install, reuse, upstream's files, dependencies, another platform.
#![cfg(unix)]

mod common;

use common::archives::E;
use common::provision::*;
use genai_core::binaries::catalog::{Dependency, VariantType};
use genai_core::binaries::manifest;
use genai_core::binaries::Phase;
use genai_core::ErrorCode;
use indexmap::IndexMap;

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
async fn a_binary_whose_checksum_changed_is_tested_again_and_its_new_checksum_recorded() {
    let case = Case::new("retest").await;
    std::fs::create_dir_all(case.dir()).unwrap();
    let exe = case.dir().join("llama-server");
    std::fs::copy(common::llama_server_path(), &exe).unwrap();
    let stale = serde_json::json!({
        "variant": "cpu", "checksum": "0".repeat(64), "validatedAt": "2026-10-01T10:00:00.000Z",
        "phase1Passed": true, "version": TAG,
    });
    std::fs::write(case.dir().join(".validation.json"), stale.to_string()).unwrap();
    let p = case.provisioner(
        TAG,
        vec![case.serve(VariantType::Cpu, "cpu.tar.gz", real_archive(), None)],
    );
    assert!(!p.ensure(false).await.unwrap().installed);
    assert!(
        case.server.requests().is_empty(),
        "kept after passing its test, not downloaded"
    );
    assert!(case
        .logs()
        .iter()
        .any(|l| l == "Binary checksum mismatch, re-validating..."));
    assert!(case.phases().is_empty());
    let v = manifest::read_validation(&case.dir()).unwrap();
    assert_eq!(v.checksum, genai_core::files::sha256_file(&exe).unwrap());
    assert_eq!(
        (v.variant.as_str(), v.version.as_deref()),
        ("cpu", Some(TAG))
    );
}
