//! Our GGUF reader on the real SmolLM2 model, against llama.cpp's Python reader.

mod common;

use genai_core::gguf::{read_local, Value};
use serde_json::json;

fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::String(s) => json!(s),
        Value::Bool(b) => json!(b),
        Value::Array(items) if items.len() > 16 => json!({ "len": items.len() }),
        Value::Array(_) => genai_core::gguf::metadata::to_json(v),
        other => {
            let f = other.as_f64().unwrap();
            if f.fract() == 0.0 {
                json!(f as i64)
            } else {
                json!(f)
            }
        }
    }
}

#[test]
fn smollm_header_matches_llama_cpp_reader() {
    let path = common::smollm_path();
    let expected = common::oracle(&path);
    let h = read_local(&path).unwrap();
    assert_eq!(json!(h.version), expected["version"]);
    assert_eq!(json!(h.tensors.len()), expected["tensor_count"]);
    let kv: serde_json::Map<String, serde_json::Value> = h
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), to_json(v)))
        .collect();
    let want = expected["kv"].as_object().unwrap();
    assert_eq!(kv.len(), want.len());
    for (k, v) in want {
        let got = &kv[k];
        match (got.as_f64(), v.as_f64()) {
            (Some(a), Some(b)) => assert!((a - b).abs() <= b.abs() * 1e-6, "{k}: {a} vs {b}"),
            _ => assert_eq!(got, v, "{k}"),
        }
    }
    for (t, want) in h
        .tensors
        .iter()
        .zip(expected["tensors"].as_array().unwrap())
    {
        assert_eq!(json!(t.name), want["name"]);
        assert_eq!(json!(t.shape), want["shape"]);
        assert_eq!(json!(t.dtype), want["dtype"]);
    }
    // Only the header was needed: the data starts right after it (aligned to 32 bytes).
    let data_offset = expected["data_offset"].as_u64().unwrap();
    assert!(
        h.header_len <= data_offset && data_offset - h.header_len < 32,
        "{} vs {data_offset}",
        h.header_len
    );
}
