use super::super::fixtures::llama;
use super::*;

const MIB: u64 = 1024 * 1024;

fn plan(context: u32, gpu_layers: u32) -> LlmPlan {
    LlmPlan {
        context,
        gpu_layers,
        ..LlmPlan::default()
    }
}

#[test]
fn layer_placement_as_llama_cpp() {
    // -ngl 0: nothing; -ngl 1: only the output layer; -ngl 3 of 4: layers 2, 3 and output.
    assert!(!layer_on_gpu(4, 4, 0));
    assert!(layer_on_gpu(4, 4, 1) && !layer_on_gpu(3, 4, 1));
    assert!(layer_on_gpu(2, 4, 3) && !layer_on_gpu(1, 4, 3));
    assert!((0..=4).all(|il| layer_on_gpu(il, 4, 5)));
    assert!((0..=4).all(|il| layer_on_gpu(il, 4, 999)));
    assert_eq!(tensor_layer("blk.12.attn_q.weight", 30), Some(12));
    assert_eq!(tensor_layer("token_embd.weight", 30), None);
    assert_eq!(tensor_layer("output.weight", 30), Some(30));
    assert_eq!(tensor_layer("output_norm.weight", 30), Some(30));
}

#[test]
fn weights_split_by_offloaded_layers() {
    let h = llama("llama", 4, false, &[]);
    let cpu = estimate_llm(Some(&h), 1, &plan(2048, 0));
    assert_eq!(cpu.basis, Basis::Tensors);
    assert_eq!(
        cpu.weights,
        Usage {
            ram: 4 * MIB + 2 * MIB + 1024 + 4 * MIB,
            vram: 0
        }
    );
    // -ngl 1: output and output_norm on the GPU, every block on the CPU.
    let one = estimate_llm(Some(&h), 1, &plan(2048, 1));
    assert_eq!(
        one.weights,
        Usage {
            ram: 6 * MIB,
            vram: 4 * MIB + 1024
        }
    );
    // All offloaded: token_embd alone stays on the CPU.
    let all = estimate_llm(Some(&h), 1, &plan(2048, 5));
    assert_eq!(
        all.weights,
        Usage {
            ram: 2 * MIB,
            vram: 8 * MIB + 1024
        }
    );
    assert_eq!(all.kv.ram, 0);
    assert_eq!(all.compute.ram, 0);
    assert_eq!(all.output.vram, 0, "logits live in host memory");
}

#[test]
fn tied_embeddings_are_copied_to_the_gpu_with_the_output_layer() {
    let h = llama("llama", 4, true, &[]);
    let cpu = estimate_llm(Some(&h), 1, &plan(2048, 0));
    assert_eq!(
        cpu.weights,
        Usage {
            ram: 6 * MIB + 1024,
            vram: 0
        }
    );
    let all = estimate_llm(Some(&h), 1, &plan(2048, 5));
    assert_eq!(
        all.weights,
        Usage {
            ram: 2 * MIB,
            vram: 4 * MIB + 1024 + 2 * MIB
        }
    );
}

#[test]
fn kv_from_heads_cache_types_and_slots() {
    let h = llama("llama", 4, false, &[]);
    // 4 layers × 4 heads × 64 × (2 + 2) bytes × 2048 cells.
    let e = estimate_llm(Some(&h), 1, &plan(2048, 0));
    assert_eq!(e.kv.ram, 4 * 4 * 64 * 4 * 2048);
    let q8 = LlmPlan {
        cache_type_k: "q8_0".into(),
        cache_type_v: "q8_0".into(),
        ..plan(2048, 0)
    };
    assert_eq!(
        estimate_llm(Some(&h), 1, &q8).kv.ram,
        4 * 4 * 64 * 2048 * 34 / 16
    );
    // -np 4 splits the same cells between the slots.
    let np = LlmPlan {
        parallel: 4,
        ..plan(2048, 0)
    };
    let e4 = estimate_llm(Some(&h), 1, &np);
    assert_eq!(e4.kv.ram, e.kv.ram);
    assert_eq!(e4.output.ram, 4 * e.output.ram);
    assert!(
        e4.compute.ram < e.compute.ram,
        "the mask covers one slot's cells"
    );
    // -ngl 3 of 4: layers 2 and 3 keep their cache on the GPU.
    let part = estimate_llm(Some(&h), 1, &plan(2048, 3));
    assert_eq!(
        part.kv,
        Usage {
            ram: e.kv.ram / 2,
            vram: e.kv.ram / 2
        }
    );
    assert_eq!(part.compute.ram, part.compute.vram);
}

#[test]
fn sliding_window_layers_keep_window_plus_ubatch() {
    let h = llama(
        "gemma3",
        6,
        false,
        &[("attention.sliding_window", Value::U32(1024))],
    );
    let e = estimate_llm(Some(&h), 1, &plan(32768, 0));
    let per_cell = 4 * 64 * 4;
    // gemma3: 5 of every 6 layers slide (1024 + 512 cells, padded to 1536), 1 is full.
    assert_eq!(e.kv.ram, per_cell * (5 * 1536 + 32768));
    // An architecture llama.cpp gives no window ignores the key.
    let l = llama(
        "llama",
        6,
        false,
        &[("attention.sliding_window", Value::U32(1024))],
    );
    assert_eq!(
        estimate_llm(Some(&l), 1, &plan(32768, 0)).kv.ram,
        per_cell * 6 * 32768
    );
}

#[test]
fn compute_fit_hits_the_measurements() {
    let mib = |b: u64| b as f64 / MIB as f64;
    let at = |ctx: u64, ub: u32, fa: bool| {
        let p = LlmPlan {
            ubatch: ub,
            flash_attention: fa,
            ..LlmPlan::default()
        };
        mib(compute_bytes(576.0, 1536.0, 9.0, ctx, &p))
    };
    for (ctx, ub, fa, measured) in [
        (2048, 512, true, 16.64),
        (8192, 512, true, 22.64),
        (32768, 512, true, 46.64),
        (4096, 256, true, 9.32),
        (4096, 1024, true, 37.29),
        (4096, 512, false, 87.51),
        (16384, 512, false, 327.51),
    ] {
        let got = at(ctx, ub, fa);
        assert!(
            (got - measured).abs() < 0.1,
            "{ctx} {ub} {fa}: {got} vs {measured}"
        );
    }
}

#[test]
fn without_metadata_it_is_upstreams_formula() {
    let size = 3000 * MIB;
    let e = estimate_llm(None, size, &plan(4096, 0));
    assert_eq!(e.basis, Basis::FileSize);
    assert_eq!(
        e.total,
        Usage {
            ram: 3600 * MIB,
            vram: 0
        }
    );
    // 20 layers by the size fallback (3000 / 150), clamped to at least 24: 12 of 24 offloaded.
    let half = estimate_llm(None, size, &plan(4096, 12));
    assert_eq!(
        half.total,
        Usage {
            ram: 1800 * MIB,
            vram: 1800 * MIB
        }
    );
    // A header without tensors keeps upstream's KV term.
    let mut h = llama("llama", 4, false, &[]);
    h.tensors.clear();
    let k = estimate_llm(Some(&h), size, &plan(2048, 0));
    assert_eq!(k.basis, Basis::FileSize);
    assert_eq!(k.kv.ram, 4 * 4 * 64 * 4 * 2048);
}

fn set(h: &mut crate::gguf::Header, key: &str, v: Value) {
    h.metadata.retain(|(k, _)| k != key);
    h.metadata.push((key.into(), v));
}

#[test]
fn hostile_metadata_neither_panics_nor_overflows() {
    for v in [
        Value::F64(f64::NAN),
        Value::F64(-5.0),
        Value::F64(1e300),
        Value::U64(u64::MAX),
    ] {
        let mut h = llama("gemma3", 6, false, &[]);
        for key in [
            "sliding_window",
            "head_count_kv",
            "key_length",
            "value_length",
        ] {
            set(&mut h, &format!("gemma3.attention.{key}"), v.clone());
        }
        set(&mut h, "gemma3.vocab_size", v.clone());
        let p = LlmPlan {
            context: u32::MAX,
            parallel: 0,
            ubatch: 0,
            batch: 0,
            ..plan(0, u32::MAX)
        };
        let e = estimate_llm(Some(&h), u64::MAX, &p);
        assert!(e.total.sum() >= e.weights.sum());
    }
    // A block count out of range is no tensor estimate.
    let mut h = llama("llama", 2, false, &[]);
    set(&mut h, "llama.block_count", Value::U64(u64::MAX));
    assert_eq!(
        estimate_llm(Some(&h), 10, &plan(2048, 0)).basis,
        Basis::FileSize
    );
}
