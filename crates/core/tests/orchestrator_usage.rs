//! The orchestrator decides from the models' tensors (`estimate`), not from their file sizes:
//! on the real test models the usages are the estimator's, and where upstream's `size × 1.2`
//! misjudges (sd.cpp's compute buffers grow with the image) the decision differs.

mod common;

use genai_core::llama::LlamaServerConfig;
use genai_core::models::ModelInfo;
use genai_core::orchestrator::usage::{
    needs_offload, usage_diffusion, usage_diffusion_upstream, usage_llm, usage_llm_upstream,
    Resources,
};
use std::path::Path;

fn model(kind: &str, path: &Path) -> ModelInfo {
    let size = std::fs::metadata(path).unwrap().len();
    ModelInfo::from_value(serde_json::json!({
        "id": "m", "name": "m", "type": kind, "size": size, "path": path,
        "downloadedAt": "2026-01-01T00:00:00.000Z", "source": { "type": "url", "url": "http://x/m.gguf" },
        "ggufMetadata": { "architecture": "llama", "block_count": 30, "attention_head_count": 9,
            "attention_head_count_kv": 3, "embedding_length": 576, "context_length": 8192 },
    }))
    .unwrap()
}

#[test]
fn usages_come_from_the_tensors_and_change_the_decision() {
    let Some((_, sd_path)) = common::sd_assets("usages_come_from_the_tensors") else {
        return;
    };
    let llm = model("llm", &common::smollm_path());
    let config = LlamaServerConfig {
        context_size: Some(2048.0),
        ..Default::default()
    };
    let ours = usage_llm(&llm, &config, 0.0);
    // llama-server reports 153.93 MiB for this run (bench/RESULTS.md): the estimator's figure.
    let mib = |b: f64| b / 1024.0 / 1024.0;
    assert!((mib(ours.ram) - 153.9).abs() < 1.0, "{}", mib(ours.ram));
    assert_ne!(ours, usage_llm_upstream(&llm, &config, 0.0));

    let sd = model("diffusion", &sd_path);
    let small = usage_diffusion(Some(&sd), None, 64, 64);
    let large = usage_diffusion(Some(&sd), None, 512, 512);
    let upstream = usage_diffusion_upstream(Some(&sd));
    assert!(
        large.ram > small.ram,
        "the compute buffers grow with the image"
    );
    assert!(
        large.ram > upstream.ram,
        "size × 1.2 misses sd.cpp's 512×512 buffers"
    );

    // Components: the diffusion_model's estimate plus the other files' tensors (here a second
    // copy of the same file stands for a separate VAE).
    let mut parts = sd.clone();
    let p = sd_path.to_string_lossy();
    let size = sd.size;
    parts.components = serde_json::from_value(serde_json::json!({
        "diffusion_model": { "path": p, "size": size }, "vae": { "path": p, "size": size },
    }))
    .unwrap();
    let with_vae = usage_diffusion(Some(&parts), None, 512, 512);
    assert!(
        with_vae.ram > large.ram + 0.9 * size as f64
            && with_vae.ram < large.ram + 1.1 * size as f64
    );

    // A budget between the two judgements: upstream's figures fit, ours do not.
    let res = Resources {
        gpu_vram: None,
        available_ram: 64e9,
    };
    let budget = (usage_llm_upstream(&llm, &config, 0.0).ram + upstream.ram) / 0.75 * 1.05;
    let upstream_says = needs_offload(
        res,
        usage_llm_upstream(&llm, &config, 0.0),
        upstream,
        Some(budget),
    );
    let ours_says = needs_offload(res, ours, large, Some(budget));
    assert!(!upstream_says && ours_says);
}
