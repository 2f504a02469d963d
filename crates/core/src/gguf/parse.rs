//! The GGUF header parser: magic, version, key/value metadata and tensor infos, from a byte
//! prefix of the file. Input is untrusted: every length is checked against the bytes at hand
//! before anything is allocated, counts and nesting are bounded, and a short prefix is reported
//! as [`ParseError::Truncated`] with the size needed so the caller can fetch more.

use super::value::{Array, Value};
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<u64>,
    /// ggml type id (`GGMLQuantizationType`).
    pub dtype: u32,
    /// Offset of the tensor's data, relative to the start of the data section.
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub version: u32,
    pub tensor_count: u64,
    pub kv_count: u64,
    /// Key/value pairs in file order.
    pub metadata: Vec<(String, Value)>,
    pub tensors: Vec<TensorInfo>,
    /// Bytes of header (magic through tensor infos), i.e. what had to be read.
    pub header_len: u64,
}

impl Header {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The prefix ends inside the header; at least `need` bytes are required.
    Truncated { need: u64 },
    /// Not a GGUF file, or a malformed/hostile one.
    Invalid(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Truncated { need } => {
                write!(f, "GGUF header truncated (needs at least {need} bytes)")
            }
            ParseError::Invalid(msg) => f.write_str(msg),
        }
    }
}

/// Bounds for untrusted input. Where @huggingface/gguf (genai-electron's parser) has a limit, ours
/// is the same number and the same message, so nothing upstream reads is refused here; the others
/// bound what a small hostile header can make us build (real models: Llama-3 ~300 keys and
/// ~540k values, Gemma-3 ~790k values, at most ~15k tensors).
pub const MAX_KV_COUNT: u64 = 100_000;
/// Tensor infos kept (upstream: 10^7, which no real file comes near; each costs ~0.5 KB as JS).
pub const MAX_TENSOR_COUNT: u64 = 1 << 17;
pub const MAX_STRING_LEN: u64 = 10_000_000;
/// Elements in one metadata array (upstream's `MAX_METADATA_ARRAY_LENGTH`).
pub const MAX_ARRAY_LEN: u64 = 1_000_000;
/// Metadata values kept in all (scalars, arrays and array elements at any depth): three
/// vocabulary-sized arrays at the per-array maximum. A 1-byte element costs ~64 bytes in memory
/// (parsed value + JSON value), so this bounds a header's metadata to ~200 MB however it is built.
pub const MAX_METADATA_VALUES: u64 = 3_000_000;
pub const MAX_DIMS: u32 = 8;
pub const MAX_ARRAY_DEPTH: u32 = 4;

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    /// GGUF v1 used 32-bit lengths and counts.
    v1: bool,
    /// Metadata values built so far (bounded by [`MAX_METADATA_VALUES`]).
    values: u64,
}

type R<T> = Result<T, ParseError>;

fn invalid<T>(msg: impl Into<String>) -> R<T> {
    Err(ParseError::Invalid(msg.into()))
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64) -> R<&'a [u8]> {
        let end = (self.pos as u64)
            .checked_add(n)
            .ok_or_else(|| ParseError::Invalid("length overflow".into()))?;
        if end > self.buf.len() as u64 {
            return Err(ParseError::Truncated { need: end });
        }
        let s = &self.buf[self.pos..end as usize];
        self.pos = end as usize;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> R<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64)?);
        Ok(out)
    }

    fn u32(&mut self) -> R<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> R<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A length or count: u64 in v2+, u32 in v1.
    fn len(&mut self) -> R<u64> {
        if self.v1 {
            self.u32().map(u64::from)
        } else {
            self.u64()
        }
    }

    fn string(&mut self) -> R<String> {
        let n = self.len()?;
        if n > MAX_STRING_LEN {
            return invalid(format!(
                "String length {n} exceeds maximum allowed ({MAX_STRING_LEN})"
            ));
        }
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }

    /// Fails if `n` more values would pass [`MAX_METADATA_VALUES`] (before any of them is built).
    fn room(&self, n: u64) -> R<()> {
        if self.values.saturating_add(n) > MAX_METADATA_VALUES {
            return invalid(format!(
                "GGUF metadata holds more than {MAX_METADATA_VALUES} values"
            ));
        }
        Ok(())
    }

    fn value(&mut self, ty: u32, depth: u32) -> R<Value> {
        self.room(1)?;
        self.values += 1;
        Ok(match ty {
            0 => Value::U8(self.array::<1>()?[0]),
            1 => Value::I8(i8::from_le_bytes(self.array()?)),
            2 => Value::U16(u16::from_le_bytes(self.array()?)),
            3 => Value::I16(i16::from_le_bytes(self.array()?)),
            4 => Value::U32(self.u32()?),
            5 => Value::I32(i32::from_le_bytes(self.array()?)),
            6 => Value::F32(f32::from_le_bytes(self.array()?)),
            7 => Value::Bool(bool_byte(self.array::<1>()?[0])?),
            8 => Value::String(self.string()?),
            9 => Value::Array(self.array_value(depth)?),
            10 => Value::U64(self.u64()?),
            11 => Value::I64(i64::from_le_bytes(self.array()?)),
            12 => Value::F64(f64::from_le_bytes(self.array()?)),
            other => return invalid(format!("Unsupported metadata type: {other}")),
        })
    }

    /// An array (element type, count, elements) at nesting `depth`. It is counted whole before
    /// anything is built, and fixed-size elements are read only once all their bytes are here.
    fn array_value(&mut self, depth: u32) -> R<Array> {
        if depth >= MAX_ARRAY_DEPTH {
            return invalid(format!(
                "Nested ARRAY depth {depth} exceeds maximum allowed ({MAX_ARRAY_DEPTH})"
            ));
        }
        let elem = self.u32()?;
        if !(0..=12).contains(&elem) {
            return invalid(format!("Unsupported array element type: {elem}"));
        }
        let n = self.len()?;
        if n > MAX_ARRAY_LEN {
            return invalid(format!(
                "Metadata array length {n} exceeds maximum allowed ({MAX_ARRAY_LEN})"
            ));
        }
        self.room(n)?;
        self.values += n;
        macro_rules! fixed {
            ($variant:ident, $t:ty) => {{
                const SIZE: usize = std::mem::size_of::<$t>();
                let bytes = self.take(n * SIZE as u64)?;
                let items = bytes.chunks_exact(SIZE).map(|c| {
                    let mut le = [0u8; SIZE];
                    le.copy_from_slice(c);
                    <$t>::from_le_bytes(le)
                });
                Array::$variant(items.collect())
            }};
        }
        Ok(match elem {
            0 => fixed!(U8, u8),
            1 => fixed!(I8, i8),
            2 => fixed!(U16, u16),
            3 => fixed!(I16, i16),
            4 => fixed!(U32, u32),
            5 => fixed!(I32, i32),
            6 => fixed!(F32, f32),
            7 => Array::Bool(
                self.take(n)?
                    .iter()
                    .map(|b| bool_byte(*b))
                    .collect::<R<_>>()?,
            ),
            8 => Array::String(self.many(n, Self::string)?),
            9 => Array::Array(self.many(n, |c| c.array_value(depth + 1))?),
            10 => fixed!(U64, u64),
            11 => fixed!(I64, i64),
            _ => fixed!(F64, f64),
        })
    }

    /// `n` variable-size elements. Never trusts `n` for the allocation: grows as they parse.
    fn many<T>(&mut self, n: u64, mut item: impl FnMut(&mut Self) -> R<T>) -> R<Vec<T>> {
        let mut items = Vec::with_capacity((n as usize).min(4096));
        for _ in 0..n {
            items.push(item(self)?);
        }
        Ok(items)
    }
}

fn bool_byte(b: u8) -> R<bool> {
    match b {
        0 => Ok(false),
        1 => Ok(true),
        b => invalid(format!("invalid GGUF bool byte {b}")),
    }
}

/// Parses the header from a prefix of a GGUF file.
pub fn parse_header(buf: &[u8]) -> Result<Header, ParseError> {
    let mut c = Cursor {
        buf,
        pos: 0,
        v1: false,
        values: 0,
    };
    if c.array::<4>()? != *b"GGUF" {
        return invalid("not a GGUF file (bad magic)");
    }
    let version = c.u32()?;
    if !(1..=3).contains(&version) {
        return invalid(format!("unsupported GGUF version {version}"));
    }
    c.v1 = version == 1;
    let tensor_count = c.len()?;
    let kv_count = c.len()?;
    if tensor_count > MAX_TENSOR_COUNT {
        return invalid(format!(
            "Tensor count {tensor_count} exceeds maximum allowed ({MAX_TENSOR_COUNT})"
        ));
    }
    if kv_count > MAX_KV_COUNT {
        return invalid(format!(
            "KV metadata count {kv_count} exceeds maximum allowed ({MAX_KV_COUNT})"
        ));
    }
    let mut metadata = Vec::with_capacity((kv_count as usize).min(1024));
    for _ in 0..kv_count {
        let key = c.string()?;
        let ty = c.u32()?;
        let value = c.value(ty, 0)?;
        metadata.push((key, value));
    }
    let mut tensors = Vec::with_capacity((tensor_count as usize).min(4096));
    for _ in 0..tensor_count {
        let name = c.string()?;
        let n_dims = c.u32()?;
        if n_dims > MAX_DIMS {
            return invalid(format!(
                "Tensor n_dims {n_dims} exceeds maximum allowed ({MAX_DIMS})"
            ));
        }
        let shape = (0..n_dims).map(|_| c.u64()).collect::<R<Vec<u64>>>()?;
        let dtype = c.u32()?;
        let offset = c.u64()?;
        tensors.push(TensorInfo {
            name,
            shape,
            dtype,
            offset,
        });
    }
    Ok(Header {
        version,
        tensor_count,
        kv_count,
        metadata,
        tensors,
        header_len: c.pos as u64,
    })
}

#[cfg(test)]
pub(crate) mod tests {
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
}
