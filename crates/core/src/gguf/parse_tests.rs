//! Tests of the GGUF header parser, and `Writer`, the small GGUF writer other tests use.

use super::*;

/// A small GGUF writer for tests.
#[derive(Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn header(version: u32, tensors: u64, kvs: u64) -> Self {
        let mut w = Writer(b"GGUF".to_vec());
        w.u32(version);
        w.u64(tensors);
        w.u64(kvs);
        w
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    pub fn kv_u32(&mut self, k: &str, v: u32) -> &mut Self {
        self.str(k).u32(4).u32(v)
    }
    pub fn kv_str(&mut self, k: &str, v: &str) -> &mut Self {
        self.str(k).u32(8).str(v)
    }
    pub fn tensor(&mut self, name: &str, shape: &[u64], dtype: u32, offset: u64) -> &mut Self {
        self.str(name).u32(shape.len() as u32);
        for d in shape {
            self.u64(*d);
        }
        self.u32(dtype).u64(offset)
    }
}

fn sample() -> Vec<u8> {
    let mut w = Writer::header(3, 1, 3);
    w.kv_str("general.architecture", "llama")
        .kv_u32("llama.block_count", 30);
    w.str("llama.attention.head_count_kv")
        .u32(9)
        .u32(4)
        .u64(2)
        .u32(3)
        .u32(5); // array of u32
    w.tensor("blk.0.attn_q.weight", &[576, 576], 3, 0);
    w.0
}

#[test]
fn parses_a_small_file() {
    let h = parse_header(&sample()).unwrap();
    assert_eq!((h.version, h.tensor_count, h.kv_count), (3, 1, 3));
    assert_eq!(
        h.get("general.architecture").and_then(Value::as_str),
        Some("llama")
    );
    assert_eq!(
        h.get("llama.block_count").and_then(Value::as_f64),
        Some(30.0)
    );
    assert_eq!(
        h.get("llama.attention.head_count_kv"),
        Some(&Value::Array(Array::U32(vec![3, 5])))
    );
    assert_eq!(h.tensors[0].shape, vec![576, 576]);
    assert_eq!(h.header_len, sample().len() as u64);
}

#[test]
fn every_prefix_is_truncated_not_garbage() {
    let full = sample();
    for cut in 0..full.len() {
        match parse_header(&full[..cut]) {
            Err(ParseError::Truncated { need }) => {
                assert!(need > cut as u64 && need <= full.len() as u64, "cut {cut}")
            }
            other => panic!("cut {cut}: {other:?}"),
        }
    }
}

#[test]
fn hostile_inputs_fail_cleanly() {
    assert!(matches!(
        parse_header(b"GGML\x03\0\0\0"),
        Err(ParseError::Invalid(_))
    ));
    assert!(matches!(
        parse_header(&Writer::header(9, 0, 0).0),
        Err(ParseError::Invalid(_))
    ));
    // absurd counts
    assert!(matches!(
        parse_header(&Writer::header(3, 0, u64::MAX).0),
        Err(ParseError::Invalid(_))
    ));
    assert!(matches!(
        parse_header(&Writer::header(3, u64::MAX, 0).0),
        Err(ParseError::Invalid(_))
    ));
    // a string length near u64::MAX: rejected, not allocated, no overflow
    let mut w = Writer::header(3, 0, 1);
    w.u64(u64::MAX - 3);
    assert!(matches!(parse_header(&w.0), Err(ParseError::Invalid(_))));
    // an array claiming 2^40 elements
    let mut w = Writer::header(3, 0, 1);
    w.str("k").u32(9).u32(0).u64(1 << 40);
    assert!(matches!(parse_header(&w.0), Err(ParseError::Invalid(_))));
    // a big-but-allowed array with no bytes behind it: truncated, and the need is exact
    let mut w = Writer::header(3, 0, 1);
    w.str("k").u32(9).u32(4).u64(1000);
    let len = w.0.len() as u64;
    assert_eq!(
        parse_header(&w.0),
        Err(ParseError::Truncated { need: len + 4000 })
    );
    // unknown value type, bad bool, too many dims, nesting
    let mut w = Writer::header(3, 0, 1);
    w.str("k").u32(77);
    assert!(matches!(parse_header(&w.0), Err(ParseError::Invalid(_))));
    let mut w = Writer::header(3, 0, 1);
    w.str("k").u32(7);
    w.0.push(2);
    assert!(matches!(parse_header(&w.0), Err(ParseError::Invalid(_))));
    let mut w = Writer::header(3, 1, 0);
    w.str("t").u32(1000);
    assert!(matches!(parse_header(&w.0), Err(ParseError::Invalid(_))));
    let mut w = Writer::header(3, 0, 1);
    w.str("k").u32(9); // an array of arrays of arrays … six deep
    for _ in 0..6 {
        w.u32(9).u64(1);
    }
    w.u32(4).u64(0);
    assert!(matches!(parse_header(&w.0), Err(ParseError::Invalid(_))));
}

/// A header with one key per array: `(element type, element count, element bytes)`.
pub fn arrays(specs: &[(u32, u64, usize)]) -> Vec<u8> {
    let mut w = Writer::header(3, 0, specs.len() as u64);
    for (i, &(ty, n, bytes)) in specs.iter().enumerate() {
        w.str(&format!("k{i}")).u32(9).u32(ty).u64(n);
        w.0.resize(w.0.len() + n as usize * bytes, 1);
    }
    w.0
}

#[test]
fn limits_are_upstreams_and_hit_before_anything_is_built() {
    // One 16 MiB u8 array (the 2.9 GB case): refused from its count alone, with
    // @huggingface/gguf's message, whether or not its bytes are there.
    let mut w = Writer::header(3, 0, 1);
    w.str("k").u32(9).u32(0).u64(16 << 20);
    let msg = "Metadata array length 16777216 exceeds maximum allowed (1000000)";
    assert_eq!(parse_header(&w.0), Err(ParseError::Invalid(msg.into())));
    w.0.resize(w.0.len() + (16 << 20), 7);
    assert_eq!(parse_header(&w.0), Err(ParseError::Invalid(msg.into())));
    // The largest array allowed parses.
    let h = parse_header(&arrays(&[(0, MAX_ARRAY_LEN, 1)])).unwrap();
    assert!(matches!(&h.metadata[0].1, Value::Array(Array::U8(a)) if a.len() == 1_000_000));
    // Three arrays of 999,999 fill the value budget exactly (an array is a value too);
    // one more value is refused.
    let n = MAX_ARRAY_LEN - 1;
    assert!(parse_header(&arrays(&[(0, n, 1), (0, n, 1), (0, n, 1)])).is_ok());
    let over = arrays(&[(0, n, 1), (0, n, 1), (0, n, 1), (0, 0, 1)]);
    let too_many = "GGUF metadata holds more than 3000000 values";
    assert_eq!(
        parse_header(&over),
        Err(ParseError::Invalid(too_many.into()))
    );
    // Nested arrays count every level: 1000 arrays of 1000 arrays of 4 elements.
    let mut w = Writer::header(3, 0, 1);
    w.str("k").u32(9).u32(9).u64(1000);
    for _ in 0..1000 {
        w.u32(9).u64(1000);
        for _ in 0..1000 {
            w.u32(0).u64(4);
            w.0.extend_from_slice(&[1, 2, 3, 4]);
        }
    }
    assert_eq!(
        parse_header(&w.0),
        Err(ParseError::Invalid(too_many.into()))
    );
    // Upstream's other limits and messages.
    let cases: [(Vec<u8>, &str); 4] = [
        (
            Writer::header(3, 0, 100_001).0,
            "KV metadata count 100001 exceeds maximum allowed (100000)",
        ),
        (
            Writer::header(3, MAX_TENSOR_COUNT + 1, 0).0,
            "Tensor count 131073 exceeds maximum allowed (131072)",
        ),
        (
            {
                let mut w = Writer::header(3, 0, 1);
                w.u64(10_000_001);
                w.0
            },
            "String length 10000001 exceeds maximum allowed (10000000)",
        ),
        (
            {
                let mut w = Writer::header(3, 1, 0);
                w.str("t").u32(9);
                w.0
            },
            "Tensor n_dims 9 exceeds maximum allowed (8)",
        ),
    ];
    for (bytes, want) in cases {
        assert_eq!(parse_header(&bytes), Err(ParseError::Invalid(want.into())));
    }
}

#[test]
fn version_1_uses_32_bit_lengths() {
    let mut b = b"GGUF".to_vec();
    for v in [1u32, 0, 1] {
        b.extend_from_slice(&v.to_le_bytes()); // version 1, 0 tensors, 1 kv
    }
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(b"abc");
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&7u32.to_le_bytes());
    let h = parse_header(&b).unwrap();
    assert_eq!(h.metadata, vec![("abc".to_string(), Value::U32(7))]);
}
