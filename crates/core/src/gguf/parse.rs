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
#[path = "parse_tests.rs"]
pub(crate) mod tests;
