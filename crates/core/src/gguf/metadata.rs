//! GGUF header → genai-electron's JSON shapes: the `metadata` object of `fetchGGUFMetadata`
//! and the `GGUFMetadata` stored in a model's JSON (same keys, same order). 64-bit integers
//! become numbers everywhere (upstream keeps them as BigInt in typed fields, which then makes
//! saving the model's metadata fail).

use super::value::number;
pub use super::value::to_json;
use super::{Header, TensorInfo, Value};
use indexmap::IndexMap;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{json, Map, Value as Json};

/// `metadata` as `@huggingface/gguf` returns it: `version`, `tensor_count`, `kv_count`, then
/// every key in file order (a repeated key keeps its first position, last value).
pub fn metadata_object(h: &Header) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("version".into(), json!(h.version));
    m.insert("tensor_count".into(), number(h.tensor_count as f64));
    m.insert("kv_count".into(), number(h.kv_count as f64));
    for (k, v) in &h.metadata {
        m.insert(k.clone(), to_json(v));
    }
    m
}

/// `fetchGGUFMetadata`'s `metadata`, to serialize as JSON text (no JSON value per array
/// element): the same object as [`metadata_object`].
pub struct MetadataJson<'a>(pub &'a Header);

impl Serialize for MetadataJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = self.0;
        let counts = [
            ("version", Value::U32(h.version)),
            ("tensor_count", Value::U64(h.tensor_count)),
            ("kv_count", Value::U64(h.kv_count)),
        ];
        // A repeated key keeps its first position and its last value, as in `metadata_object`.
        let mut keys: IndexMap<&str, &Value> = counts.iter().map(|(k, v)| (*k, v)).collect();
        for (k, v) in &h.metadata {
            keys.insert(k, v);
        }
        let mut m = s.serialize_map(Some(keys.len()))?;
        for (k, v) in keys {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// `fetchGGUFMetadata`'s `tensorInfos`, to serialize as JSON text: `{ name, n_dims, shape, dtype,
/// offset }` in file order, `shape` and `offset` as decimal strings, exact past 2^53 (the facade
/// makes them BigInts, as @huggingface/gguf gives them).
pub struct TensorsJson<'a>(pub &'a [TensorInfo]);

impl Serialize for TensorsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for t in self.0 {
            let shape: Vec<String> = t.shape.iter().map(u64::to_string).collect();
            seq.serialize_element(&json!({
                "name": t.name, "n_dims": t.shape.len(), "shape": shape, "dtype": t.dtype,
                "offset": t.offset.to_string(),
            }))?;
        }
        seq.end()
    }
}

/// `getArchField(metadata, path)`: `metadata["<general.architecture>.<path>"]`.
pub fn arch_field<'a>(metadata: &'a Map<String, Json>, path: &str) -> Option<&'a Json> {
    let arch = metadata
        .get("general.architecture")?
        .as_str()
        .filter(|a| !a.is_empty())?;
    metadata.get(&format!("{arch}.{path}"))
}

/// Bytes of MoE expert tensors (`*_exps.*`), measured from the gaps between tensor offsets.
pub fn expert_weights_bytes(tensors: &[TensorInfo]) -> Option<f64> {
    if tensors.len() < 2 {
        return None;
    }
    let mut sorted: Vec<&TensorInfo> = tensors.iter().collect();
    sorted.sort_by_key(|t| t.offset); // stable: ties keep file order
    let sum: f64 = sorted
        .windows(2)
        .filter(|w| w[0].name.contains("_exps."))
        .map(|w| w[1].offset as f64 - w[0].offset as f64)
        .sum();
    (sum > 0.0).then_some(sum)
}

/// The `GGUFMetadata` object genai-electron stores in `ModelInfo.ggufMetadata`. `with_tensors`
/// is false where upstream does not pass tensor infos (sharded downloads).
pub fn gguf_metadata(h: &Header, with_tensors: bool) -> Map<String, Json> {
    let raw = metadata_object(h);
    let mut m = Map::new();
    let mut put = |key: &str, v: Option<Json>| {
        if let Some(v) = v {
            m.insert(key.into(), v);
        }
    };
    put("version", raw.get("version").cloned());
    put("tensor_count", raw.get("tensor_count").cloned());
    put("kv_count", raw.get("kv_count").cloned());
    put("architecture", raw.get("general.architecture").cloned());
    put("general_name", raw.get("general.name").cloned());
    put("file_type", raw.get("general.file_type").cloned());
    for (key, path) in [
        ("block_count", "block_count"),
        ("context_length", "context_length"),
        ("attention_sliding_window", "attention.sliding_window"),
        ("attention_head_count", "attention.head_count"),
        ("attention_head_count_kv", "attention.head_count_kv"),
        ("attention_key_length", "attention.key_length"),
        ("embedding_length", "embedding_length"),
        ("feed_forward_length", "feed_forward_length"),
        (
            "attention_layer_norm_rms_epsilon",
            "attention.layer_norm_rms_epsilon",
        ),
        ("vocab_size", "vocab_size"),
        ("rope_dimension_count", "rope.dimension_count"),
        ("rope_freq_base", "rope.freq_base"),
        ("expert_count", "expert_count"),
        ("expert_used_count", "expert_used_count"),
        ("expert_feed_forward_length", "expert_feed_forward_length"),
    ] {
        put(key, arch_field(&raw, path).cloned());
    }
    put(
        "expert_weights_bytes",
        if with_tensors {
            expert_weights_bytes(&h.tensors).map(number)
        } else {
            None
        },
    );
    put("raw", Some(Json::Object(raw)));
    m
}

#[cfg(test)]
mod tests {
    use super::super::parse::{parse_header, tests::Writer};
    use super::*;

    #[test]
    fn builds_upstream_shape() {
        let mut w = Writer::header(3, 3, 3);
        w.kv_str("general.architecture", "qwen3moe")
            .kv_u32("qwen3moe.block_count", 2);
        w.str("qwen3moe.attention.head_count_kv")
            .u32(9)
            .u32(4)
            .u64(2)
            .u32(4)
            .u32(8);
        w.tensor("blk.0.ffn_up_exps.weight", &[8], 0, 0)
            .tensor("blk.0.attn_q.weight", &[8], 0, 1000)
            .tensor("blk.1.ffn_down_exps.weight", &[8], 0, 400);
        let h = parse_header(&w.0).unwrap();
        let m = gguf_metadata(&h, true);
        let keys: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "version",
                "tensor_count",
                "kv_count",
                "architecture",
                "block_count",
                "attention_head_count_kv",
                "expert_weights_bytes",
                "raw"
            ]
        );
        assert_eq!(m["attention_head_count_kv"], json!([4, 8]));
        // exps tensors at 0 (→400) and 400 (→1000): 400 + 600 bytes
        assert_eq!(m["expert_weights_bytes"], json!(1000));
        assert_eq!(m["raw"]["qwen3moe.block_count"], json!(2));
        assert!(!gguf_metadata(&h, false).contains_key("expert_weights_bytes"));
        let raw_keys: Vec<&String> = m["raw"].as_object().unwrap().keys().take(4).collect();
        assert_eq!(
            raw_keys,
            [
                "version",
                "tensor_count",
                "kv_count",
                "general.architecture"
            ]
        );
    }

    #[test]
    fn json_text_is_the_json_value() {
        let mut w = Writer::header(3, 1, 7);
        w.kv_str("general.architecture", "llama")
            .kv_u32("version", 9);
        w.str("f")
            .u32(6)
            .0
            .extend_from_slice(&f32::NAN.to_le_bytes());
        w.str("big").u32(10).u64(u64::MAX);
        w.str("nested").u32(9).u32(9).u64(2); // [[1.5], []]
        w.u32(12).u64(1).0.extend_from_slice(&1.5f64.to_le_bytes());
        w.u32(8).u64(0);
        w.kv_str("general.architecture", "qwen3").kv_u32("z", 1);
        w.tensor("t", &[u64::MAX, 3], 2, (1 << 60) + 1);
        let h = parse_header(&w.0).unwrap();
        let text = serde_json::to_string(&MetadataJson(&h)).unwrap();
        let parsed: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, Json::Object(metadata_object(&h)));
        let keys: Vec<&String> = parsed.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "version",
                "tensor_count",
                "kv_count",
                "general.architecture",
                "f",
                "big",
                "nested",
                "z"
            ]
        );
        assert_eq!(parsed["general.architecture"], "qwen3");
        assert_eq!(parsed["version"], 9);
        assert_eq!(parsed["f"], Json::Null);
        let tensors = serde_json::to_string(&TensorsJson(&h.tensors)).unwrap();
        assert_eq!(
            tensors,
            r#"[{"name":"t","n_dims":2,"shape":["18446744073709551615","3"],"dtype":2,"offset":"1152921504606846977"}]"#
        );
    }
}
