//! The estimates against the real programs: llama-server with SmolLM2 at three contexts and
//! sd-server with the SDXS test model at two image sizes. Each run's buffers (what the program
//! logs it allocated) must be within 15 % of the estimate; a table (estimate, program, RSS,
//! upstream's `size × 1.2`) goes to stdout for the bench. Run one at a time:
//! `cargo test -p genai-core --test estimate_real -- --test-threads=1 --nocapture`.

mod common;
#[path = "estimate_real/proc.rs"]
mod proc;

use genai_core::diffusion::BackendFlags;
use genai_core::estimate::{self, Basis, LlmPlan};
use genai_core::gguf;
use proc::{free_port, mib, sizes_after, Server};
use std::time::Duration;

const TOLERANCE: f64 = 0.15;

fn row(what: &str, estimate: u64, program: u64, rss: u64, upstream: u64) {
    println!(
        "| {what:<28} | {:>9.2} | {:>9.2} | {:>+6.1} % | {:>9.2} | {:>9.2} |",
        mib(estimate),
        mib(program),
        (estimate as f64 / program as f64 - 1.0) * 100.0,
        mib(rss),
        mib(upstream)
    );
}

fn header_line() {
    println!("| run                          | estimate MiB | program MiB | diff | RSS MiB | size×1.2 MiB |");
    println!("|---|---|---|---|---|---|");
}

fn within(what: &str, estimate: u64, program: u64) {
    let off = (estimate as f64 - program as f64).abs() / program as f64;
    assert!(
        off <= TOLERANCE,
        "{what}: estimate {:.2} MiB vs program {:.2} MiB ({:.1} % off)",
        mib(estimate),
        mib(program),
        off * 100.0
    );
}

/// The sum of the sizes in llama-server's `marker` lines (`-lv 4` prints them).
fn buffer(log: &str, marker: &str) -> u64 {
    let v = sizes_after(log, marker);
    assert!(!v.is_empty(), "no `{marker}` line in the log:\n{log}");
    v.iter().sum()
}

/// One llama-server run: `-c context` plus `extra` arguments, against `plan`.
fn llama_run(label: &str, context: u32, extra: &[&str], plan: &LlmPlan) {
    let model = common::smollm_path();
    let server = common::llama_server_path();
    let header = gguf::read_metadata(&model).unwrap();
    let size = std::fs::metadata(&model).unwrap().len();
    let port = free_port();
    let (model_arg, port_arg, ctx_arg) = (
        model.to_string_lossy(),
        port.to_string(),
        context.to_string(),
    );
    let mut args = vec![
        "-m",
        &model_arg,
        "--host",
        "127.0.0.1",
        "--port",
        &port_arg,
        "-c",
        &ctx_arg,
        "-ngl",
        "0",
        "--threads",
        "2",
        "--fit",
        "off",
        "-lv",
        "4",
    ];
    args.extend_from_slice(extra);
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut srv = Server::spawn(&server, &args, port);
    srv.wait_ok("/health", Duration::from_secs(120));
    let (rss, _) = srv.memory();
    let log = srv.log_text();
    drop(srv);
    let e = estimate::estimate_llm(Some(&header), size, plan);
    assert_eq!(e.basis, Basis::Tensors);
    assert_eq!(e.total.vram, 0);
    let parts = [
        ("weights", e.weights.ram, buffer(&log, "model buffer size")),
        ("KV", e.kv.ram, buffer(&log, "KV buffer size")),
        (
            "compute",
            e.compute.ram,
            buffer(&log, "compute buffer size"),
        ),
        ("output", e.output.ram, buffer(&log, "output buffer size")),
    ];
    let program: u64 = parts.iter().map(|p| p.2).sum();
    let upstream = estimate::estimate_llm_upstream(Some(&header), size, plan)
        .total
        .sum();
    row(label, e.total.sum(), program, rss, upstream);
    for (what, est, got) in parts {
        within(&format!("{label} {what}"), est, got);
    }
    within(label, e.total.sum(), program);
}

#[test]
fn llama_server_smollm_within_15_percent() {
    header_line();
    for context in [2048u32, 8192, 32768] {
        let plan = LlmPlan {
            context,
            ..LlmPlan::default()
        };
        llama_run(
            &format!("llama-server SmolLM2 c{context}"),
            context,
            &["-np", "1"],
            &plan,
        );
    }
    // The other paths of the formulas: 4 slots, a q8_0 K cache (a quantised V cache needs flash
    // attention), flash attention off.
    let plan = LlmPlan {
        context: 8192,
        parallel: 4,
        cache_type_k: "q8_0".into(),
        flash_attention: false,
        ..LlmPlan::default()
    };
    let extra = ["-np", "4", "-ctk", "q8_0", "-fa", "off"];
    llama_run("SmolLM2 c8192 np4 K q8_0 fa off", 8192, &extra, &plan);
}

fn job_body(side: u32) -> String {
    format!(
        r#"{{"prompt":"a cat","width":{side},"height":{side},"seed":42,"batch_count":1,"sample_params":{{"sample_steps":1,"guidance":{{}}}}}}"#
    )
}

/// Runs one job to completion; panics on failure.
fn run_job(srv: &Server, side: u32) {
    let (status, accepted) = srv
        .request("POST", "/sdcpp/v1/img_gen", Some(&job_body(side)))
        .expect("POST img_gen answers");
    assert_eq!(status, 202, "{accepted}");
    let id = serde_json::from_str::<serde_json::Value>(&accepted).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let start = std::time::Instant::now();
    loop {
        let (_, job) = srv
            .request("GET", &format!("/sdcpp/v1/jobs/{id}"), None)
            .expect("job");
        let job: serde_json::Value = serde_json::from_str(&job).unwrap();
        match job["status"].as_str() {
            Some("completed") => return,
            Some("failed") | Some("cancelled") => panic!("job {side}: {job}\n{}", srv.log_text()),
            _ => {}
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "job {side} did not end"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sd_server_within_15_percent() {
    let Some((server, model)) = common::sd_assets("sd_server_within_15_percent") else {
        return;
    };
    let header = gguf::read_metadata(&model).unwrap();
    let size = std::fs::metadata(&model).unwrap().len();
    let port = free_port();
    let args: Vec<String> = [
        "-m",
        &model.to_string_lossy(),
        "--listen-ip",
        "127.0.0.1",
        "--listen-port",
        &port.to_string(),
        "-t",
        "2",
        "-v",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut srv = Server::spawn(&server, &args, port);
    srv.wait_ok("/sdcpp/v1/capabilities", Duration::from_secs(120));
    let params = sizes_after(&srv.log_text(), "total params memory size");
    assert_eq!(params.len(), 1, "one `total params memory size` line");
    header_line();
    for side in [64u32, 256] {
        let before = srv.log_text().len();
        run_job(&srv, side);
        let log = srv.log_text();
        let computes = sizes_after(&log[before..], "compute buffer size");
        assert!(
            !computes.is_empty(),
            "no compute buffer lines for {side}x{side}:\n{log}"
        );
        let program = params[0] + computes.iter().max().copied().unwrap_or(0);
        let (_, peak) = srv.memory();
        let flags = BackendFlags::default();
        let e = estimate::estimate_diffusion(Some(&header), size, side, side, &flags, false);
        assert_eq!(e.basis, Basis::Tensors);
        within(&format!("{side}x{side} params"), e.params.sum(), params[0]);
        let upstream = estimate::estimate_diffusion(None, size, side, side, &flags, false);
        row(
            &format!("sd-server SDXS {side}x{side}"),
            e.total.sum(),
            program,
            peak,
            upstream.total.ram,
        );
        within(&format!("{side}x{side}"), e.total.sum(), program);
    }
}
