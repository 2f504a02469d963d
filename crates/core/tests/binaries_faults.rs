//! Provisioning when things go wrong, on real parts (see binaries_provision.rs): a bad checksum
//! or a binary that does not run falls back, a cut download resumes, a cancel keeps the partial,
//! hostile archives are refused with the previous binary still working.
#![cfg(unix)]

mod common;

use common::archives::{EntryType, E};
use common::provision::*;
use common::server::Faults;
use genai_core::archive::Limits;
use genai_core::binaries::catalog::VariantType;
use genai_core::binaries::manifest;
use genai_core::binaries::BinaryEvent;
use genai_core::ErrorCode;

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
