//! LLM memory as llama-server allocates it: weights per device from the tensor table, the KV
//! cache from the hyper-parameters and cache types, and compute/output buffers from a fit.

use super::{arch_num, file_size_usage, ggml, tensor_sizes, Basis, Usage};
use crate::gguf::{Header, Value};

/// The llama-server settings an estimate depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmPlan {
    pub context: u32,
    /// `-ngl`: 0 = CPU only; `n_layer + 1` or more = everything offloaded.
    pub gpu_layers: u32,
    /// `-np`: the context is split between this many slots.
    pub parallel: u32,
    pub cache_type_k: String,
    pub cache_type_v: String,
    pub flash_attention: bool,
    pub batch: u32,
    pub ubatch: u32,
}

impl Default for LlmPlan {
    /// llama-server's defaults (`-c 4096`, `-np 1`, f16 cache, flash attention auto = on,
    /// `-b 2048`, `-ub 512`), on the CPU.
    fn default() -> Self {
        LlmPlan {
            context: 4096,
            gpu_layers: 0,
            parallel: 1,
            cache_type_k: "f16".into(),
            cache_type_v: "f16".into(),
            flash_attention: true,
            batch: 2048,
            ubatch: 512,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlmEstimate {
    pub weights: Usage,
    pub kv: Usage,
    pub compute: Usage,
    pub output: Usage,
    pub total: Usage,
    pub basis: Basis,
}

/// llama.cpp pads the context (and the SWA cache) to this many cells.
const KV_PAD: u64 = 256;

/// The hyper-parameters the estimate reads.
#[derive(Debug, Clone)]
struct Hparams {
    n_layer: u32,
    n_embd: f64,
    n_ff: f64,
    n_vocab: f64,
    n_head: f64,
    /// KV heads of each layer (an array in the metadata for some models).
    n_head_kv: Vec<f64>,
    head_k: f64,
    head_v: f64,
    /// Sliding-window size, and which layers use it.
    n_swa: u64,
    swa_layers: Vec<bool>,
}

/// A number or a per-layer array, as llama.cpp's `get_key_or_arr` reads it.
fn per_layer(h: &Header, path: &str, n_layer: u32) -> Option<Vec<f64>> {
    let arch = h.get("general.architecture")?.as_str()?;
    match h.get(&format!("{arch}.{path}"))? {
        Value::Array(a) => {
            let v: Vec<f64> = a.numbers()?.collect();
            (v.len() == n_layer as usize).then_some(v)
        }
        v => v.as_f64().map(|x| vec![x; n_layer as usize]),
    }
}

/// The dense-attention period of the architectures llama.cpp gives a sliding window (one
/// full-attention layer every `period`); others ignore `sliding_window` (llama.cpp's n_swa = 0).
fn swa_period(arch: &str) -> Option<u32> {
    Some(match arch {
        "gemma2" | "gpt-oss" => 2,
        "gemma3" | "gemma3n" => 6,
        "cohere2" | "llama4" => 4,
        _ => return None,
    })
}

fn swa(h: &Header, n_layer: u32) -> (u64, Vec<bool>) {
    let none = (0, vec![false; n_layer as usize]);
    let arch = h
        .get("general.architecture")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(window) = arch_num(h, "attention.sliding_window").filter(|w| *w >= 1.0 && *w < 4e9)
    else {
        return none;
    };
    let key = format!("{arch}.attention.sliding_window_pattern");
    let layers = match h.get(&key) {
        Some(Value::Array(crate::gguf::Array::Bool(b))) if b.len() == n_layer as usize => b.clone(),
        _ => match arch_num(h, "attention.sliding_window_pattern")
            .map(|p| p as u32)
            .or_else(|| swa_period(arch))
        {
            Some(p) if p > 1 => (0..n_layer).map(|il| il % p < p - 1).collect(),
            _ => return none,
        },
    };
    (window as u64, layers)
}

impl Hparams {
    fn read(h: &Header) -> Option<Self> {
        let n_layer = arch_num(h, "block_count").filter(|n| *n >= 1.0 && *n <= 4096.0)? as u32;
        let n_embd = arch_num(h, "embedding_length").filter(|n| *n > 0.0)?;
        let n_heads = per_layer(h, "attention.head_count", n_layer)?;
        let n_head = n_heads.iter().cloned().fold(0.0, f64::max);
        let n_head_kv = per_layer(h, "attention.head_count_kv", n_layer).unwrap_or(n_heads);
        let head_k = arch_num(h, "attention.key_length").unwrap_or(n_embd / n_head.max(1.0));
        let head_v = arch_num(h, "attention.value_length").unwrap_or(head_k);
        let n_ff = per_layer(h, "feed_forward_length", n_layer)
            .map(|v| v.into_iter().fold(0.0, f64::max))
            .filter(|f| *f > 0.0)
            .or_else(|| {
                let e = arch_num(h, "expert_feed_forward_length")?;
                Some(e * arch_num(h, "expert_used_count").unwrap_or(1.0))
            })
            .unwrap_or(4.0 * n_embd);
        let n_vocab = arch_num(h, "vocab_size")
            .or_else(|| match h.get("tokenizer.ggml.tokens") {
                Some(Value::Array(a)) => Some(a.len() as f64),
                _ => None,
            })
            .unwrap_or(0.0);
        let (n_swa, swa_layers) = swa(h, n_layer);
        Some(Hparams {
            n_layer,
            n_embd,
            n_ff,
            n_vocab,
            n_head,
            n_head_kv,
            head_k,
            head_v,
            n_swa,
            swa_layers,
        })
    }
}

/// Where llama.cpp puts a layer (`llama_model::load_tensors`): with `-ngl N`, layers
/// `il >= n_layer + 1 - N` go to the GPU; the output layer counts as layer `n_layer` (so it is
/// on the GPU as soon as N ≥ 1); the input layer (`token_embd`) always stays on the CPU.
pub fn layer_on_gpu(il: u32, n_layer: u32, gpu_layers: u32) -> bool {
    gpu_layers > 0 && u64::from(il) + u64::from(gpu_layers) > u64::from(n_layer)
}

/// The layer a tensor belongs to: `Some(N)` for `blk.N.*`, `None` for the input layer, and
/// `Some(n_layer)` (the output layer) for the rest (`output`, `output_norm`, …).
fn tensor_layer(name: &str, n_layer: u32) -> Option<u32> {
    if let Some(rest) = name.strip_prefix("blk.") {
        return rest.split('.').next()?.parse().ok();
    }
    let input = [
        "token_embd.",
        "token_embd_norm.",
        "token_types.",
        "position_embd.",
    ];
    if input.iter().any(|p| name.starts_with(p)) {
        None
    } else {
        Some(n_layer)
    }
}

fn weights(sizes: &[(&str, u64)], hp: &Hparams, gpu_layers: u32) -> Usage {
    let mut u = Usage::default();
    for (name, bytes) in sizes {
        let gpu = tensor_layer(name, hp.n_layer)
            .is_some_and(|il| layer_on_gpu(il, hp.n_layer, gpu_layers));
        u += Usage::on(gpu, *bytes);
    }
    // Tied embeddings: without `output.weight` llama.cpp loads token_embd a second time, on the
    // output layer's device (on the CPU that is the same mapped file: no second copy).
    let tied = !sizes.iter().any(|(n, _)| *n == "output.weight");
    if tied && layer_on_gpu(hp.n_layer, hp.n_layer, gpu_layers) {
        let embd = sizes
            .iter()
            .find(|(n, _)| *n == "token_embd.weight")
            .map_or(0, |s| s.1);
        u.vram = u.vram.saturating_add(embd);
    }
    u
}

fn pad(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

/// Cells of one slot's cache: the context split between `-np` slots (llama-server's
/// non-unified cache), padded as llama.cpp pads it.
fn cells_per_seq(plan: &LlmPlan) -> u64 {
    let ctx = pad(u64::from(plan.context.max(1)), KV_PAD);
    (ctx / u64::from(plan.parallel.max(1))).max(1)
}

fn kv(hp: &Hparams, plan: &LlmPlan) -> Usage {
    let bk = ggml::bytes_per_element(&plan.cache_type_k).unwrap_or(2.0);
    let bv = ggml::bytes_per_element(&plan.cache_type_v).unwrap_or(2.0);
    let full = cells_per_seq(plan);
    // llama-kv-cache-iswa: a sliding-window layer keeps min(context, window + ubatch) cells.
    let swa_cells = full.min(pad(hp.n_swa + u64::from(plan.ubatch), KV_PAD));
    let seqs = u64::from(plan.parallel.max(1));
    let mut u = Usage::default();
    for il in 0..hp.n_layer {
        let cells = if hp.swa_layers[il as usize] {
            swa_cells
        } else {
            full
        };
        let heads = hp.n_head_kv[il as usize];
        let per_cell = heads * (hp.head_k * bk + hp.head_v * bv);
        let bytes = (per_cell * (cells * seqs) as f64).round() as u64;
        u += Usage::on(layer_on_gpu(il, hp.n_layer, plan.gpu_layers), bytes);
    }
    u
}

/// The compute buffer (`sched_reserve: … compute buffer size`), fitted to llama-server
/// (CPU build, SmolLM2-135M: n_embd 576, n_ff 1536, n_head 9, n_vocab 49152) at `-np 1`:
///
/// | FA  | ctx   | ubatch | MiB    |
/// |-----|-------|--------|--------|
/// | on  | 2048  | 512    | 16.64  |
/// | on  | 4096  | 512    | 18.64  |
/// | on  | 8192  | 512    | 22.64  |
/// | on  | 32768 | 512    | 46.64  |
/// | on  | 4096  | 256    | 9.32   |
/// | on  | 4096  | 1024   | 37.29  |
/// | on  | 4096  | 512 (`-b 512`) | 18.64 |
/// | off | 4096  | 512    | 87.51  |
/// | off | 16384 | 512    | 327.51 |
/// | on, -np 2 / -np 4, ctx 8192 | | 512 | 18.64 / 16.64 (per-slot cells 4096 / 2048) |
///
/// So the buffer is proportional to the ubatch, not the batch, and grows with one slot's cells:
/// - flash attention on: `ubatch × (4·(3·n_ff + 5·n_embd) + 2·cells)` (the f16 KQ mask);
/// - off: `ubatch × (10·n_ff + 4·(n_head + 1)·cells)` (the f32 KQ scores and mask).
///
/// Both hit every point above within 0.1 MiB. The activation term is split between n_ff and
/// n_embd by the shape of a llama block (gate, up and their product; residual, norm, attention
/// in/out); one model cannot tell the split apart, so it is the least certain part.
pub fn compute_bytes(n_embd: f64, n_ff: f64, n_head: f64, cells: u64, plan: &LlmPlan) -> u64 {
    let ub = f64::from(plan.ubatch.clamp(1, plan.batch.max(1)));
    let cells = cells as f64;
    let per_token = if plan.flash_attention {
        4.0 * (3.0 * n_ff + 5.0 * n_embd) + 2.0 * cells
    } else {
        10.0 * n_ff + 4.0 * (n_head + 1.0) * cells
    };
    (ub * per_token).round() as u64
}

fn compute(hp: &Hparams, plan: &LlmPlan) -> Usage {
    let bytes = compute_bytes(hp.n_embd, hp.n_ff, hp.n_head, cells_per_seq(plan), plan);
    let on_gpu = (0..hp.n_layer)
        .filter(|il| layer_on_gpu(*il, hp.n_layer, plan.gpu_layers))
        .count();
    match on_gpu as u32 {
        0 => Usage::on(false, bytes),
        n if n == hp.n_layer => Usage::on(true, bytes),
        // Split between CPU and GPU layers: each backend reserves its graph part; count both.
        _ => Usage {
            ram: bytes,
            vram: bytes,
        },
    }
}

/// The output buffer: one row of f32 logits per slot (`n_outputs_max = n_seq_max`), in host
/// memory (0.19 MiB per slot for SmolLM2's 49152-token vocabulary).
fn output(hp: &Hparams, plan: &LlmPlan) -> Usage {
    Usage::on(
        false,
        (hp.n_vocab * 4.0) as u64 * u64::from(plan.parallel.max(1)),
    )
}

/// The estimate of what llama-server allocates for this model and plan. Without a usable
/// tensor table: upstream's formula ([`estimate_llm_upstream`]).
pub fn estimate_llm(header: Option<&Header>, file_size: u64, plan: &LlmPlan) -> LlmEstimate {
    let hp = header.and_then(Hparams::read);
    let sizes = header.and_then(tensor_sizes);
    let (Some(hp), Some(sizes)) = (hp.as_ref(), sizes) else {
        return estimate_llm_upstream(header, file_size, plan);
    };
    let weights = weights(&sizes, hp, plan.gpu_layers);
    let kv = kv(hp, plan);
    let compute = compute(hp, plan);
    let output = output(hp, plan);
    LlmEstimate {
        weights,
        kv,
        compute,
        output,
        total: weights + kv + compute + output,
        basis: Basis::Tensors,
    }
}

/// Upstream's `estimateLLMUsage`: `size × 1.2` plus, when the metadata has the layer count,
/// `context × layers × kv_heads × head_dim × (k + v bytes)` (no sliding window, no padding),
/// split by the share of offloaded layers (`getLayerCountWithFallback` without metadata).
pub fn estimate_llm_upstream(
    header: Option<&Header>,
    file_size: u64,
    plan: &LlmPlan,
) -> LlmEstimate {
    let hp = header.and_then(Hparams::read);
    let layers = hp
        .as_ref()
        .map(|hp| f64::from(hp.n_layer))
        .unwrap_or_else(|| {
            (file_size as f64 / (150.0 * 1024.0 * 1024.0))
                .round()
                .clamp(24.0, 120.0)
        });
    let ratio = (f64::from(plan.gpu_layers) / layers).min(1.0);
    let split = |bytes: f64| Usage {
        ram: (bytes * (1.0 - ratio)).round() as u64,
        vram: (bytes * ratio).round() as u64,
    };
    let weights = split(file_size_usage(file_size) as f64);
    let kv = split(hp.as_ref().map_or(0.0, |hp| upstream_kv(hp, plan)));
    LlmEstimate {
        weights,
        kv,
        compute: Usage::default(),
        output: Usage::default(),
        total: weights + kv,
        basis: Basis::FileSize,
    }
}

fn upstream_kv(hp: &Hparams, plan: &LlmPlan) -> f64 {
    let bk = ggml::bytes_per_element(&plan.cache_type_k).unwrap_or(2.0);
    let bv = ggml::bytes_per_element(&plan.cache_type_v).unwrap_or(2.0);
    let heads: f64 = hp.n_head_kv.iter().sum();
    f64::from(plan.context) * heads * hp.head_k * (bk + bv)
}

#[cfg(test)]
#[path = "llm_tests.rs"]
mod tests;
