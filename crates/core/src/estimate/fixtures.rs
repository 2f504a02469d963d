//! Synthetic GGUF headers for the unit tests.

use crate::gguf::{Header, TensorInfo, Value};

pub fn header(meta: &[(&str, Value)], tensors: &[(&str, u32, &[u64])]) -> Header {
    Header {
        version: 3,
        tensor_count: tensors.len() as u64,
        kv_count: meta.len() as u64,
        metadata: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        tensors: tensors
            .iter()
            .map(|(name, dtype, shape)| TensorInfo {
                name: name.to_string(),
                shape: shape.to_vec(),
                dtype: *dtype,
                offset: 0,
            })
            .collect(),
        header_len: 0,
    }
}

/// A llama-shaped model: `layers` blocks of one f32 tensor of 1 MiB each, a 2 MiB f32
/// token_embd, `output.weight` (4 MiB) unless tied; 4 KV heads of 64, n_embd 256, n_ff 512,
/// vocab 1000.
pub fn llama(arch: &str, layers: u32, tied: bool, extra: &[(&str, Value)]) -> Header {
    let k = |s: &str| format!("{arch}.{s}");
    let mut meta: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        (k("block_count"), Value::U32(layers)),
        (k("embedding_length"), Value::U32(256)),
        (k("feed_forward_length"), Value::U32(512)),
        (k("attention.head_count"), Value::U32(4)),
        (k("attention.head_count_kv"), Value::U32(4)),
        (k("vocab_size"), Value::U32(1000)),
    ];
    meta.extend(extra.iter().map(|(s, v)| (k(s), v.clone())));
    let names: Vec<String> = (0..layers).map(|i| format!("blk.{i}.w")).collect();
    let mut tensors: Vec<(&str, u32, &[u64])> = names
        .iter()
        .map(|n| (n.as_str(), 0u32, &[262_144u64][..]))
        .collect();
    tensors.push(("token_embd.weight", 0, &[524_288]));
    tensors.push(("output_norm.weight", 0, &[256]));
    if !tied {
        tensors.push(("output.weight", 0, &[1_048_576]));
    }
    let meta: Vec<(&str, Value)> = meta.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    header(&meta, &tensors)
}
