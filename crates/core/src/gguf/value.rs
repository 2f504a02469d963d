//! GGUF metadata values. Arrays are typed vectors (a `u8` array costs a byte per element, not a
//! value enum each), and both become JSON the way genai-electron sees them: as a JSON value
//! ([`to_json`], for ModelInfo) or written straight as JSON text (`Serialize`, for JS).

use serde::ser::{Serialize, SerializeSeq, Serializer};
use serde_json::Value as Json;

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(Array),
    U64(u64),
    I64(i64),
    F64(f64),
}

/// A metadata array: its elements, typed. Arrays of arrays hold their inner arrays.
#[derive(Debug, Clone, PartialEq)]
pub enum Array {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    Bool(Vec<bool>),
    String(Vec<String>),
    Array(Vec<Array>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F64(Vec<f64>),
}

impl Value {
    /// The value as a JS number would hold it (64-bit integers may lose precision past 2^53).
    pub fn as_f64(&self) -> Option<f64> {
        Some(match *self {
            Value::U8(v) => v as f64,
            Value::I8(v) => v as f64,
            Value::U16(v) => v as f64,
            Value::I16(v) => v as f64,
            Value::U32(v) => v as f64,
            Value::I32(v) => v as f64,
            Value::F32(v) => v as f64,
            Value::U64(v) => v as f64,
            Value::I64(v) => v as f64,
            Value::F64(v) => v,
            Value::Bool(_) | Value::String(_) | Value::Array(_) => return None,
        })
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

type Numbers<'a> = Box<dyn ExactSizeIterator<Item = f64> + 'a>;

impl Array {
    pub fn len(&self) -> usize {
        match self {
            Array::Bool(v) => v.len(),
            Array::String(v) => v.len(),
            Array::Array(v) => v.len(),
            numeric => numeric.numbers().map_or(0, |n| n.len()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements of a numeric array as JS numbers; `None` for bools, strings and arrays.
    pub fn numbers(&self) -> Option<Numbers<'_>> {
        fn of<T: Copy + Into<f64>>(v: &[T]) -> Numbers<'_> {
            Box::new(v.iter().map(|x| (*x).into()))
        }
        Some(match self {
            Array::U8(v) => of(v),
            Array::I8(v) => of(v),
            Array::U16(v) => of(v),
            Array::I16(v) => of(v),
            Array::U32(v) => of(v),
            Array::I32(v) => of(v),
            Array::F32(v) => of(v),
            Array::F64(v) => of(v),
            Array::U64(v) => Box::new(v.iter().map(|x| *x as f64)),
            Array::I64(v) => Box::new(v.iter().map(|x| *x as f64)),
            Array::Bool(_) | Array::String(_) | Array::Array(_) => return None,
        })
    }
}

/// Integers below 2^53 as integers, other finite numbers as floats, NaN and ±Infinity as null
/// (what `JSON.stringify` writes for them).
fn is_int(x: f64) -> bool {
    x.fract() == 0.0 && x.abs() < 9.007_199_254_740_992e15
}

pub(crate) fn number(x: f64) -> Json {
    if is_int(x) {
        Json::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map_or(Json::Null, Json::Number)
    }
}

fn serialize_number<S: Serializer>(x: f64, s: S) -> Result<S::Ok, S::Error> {
    if is_int(x) {
        s.serialize_i64(x as i64)
    } else if x.is_finite() {
        s.serialize_f64(x)
    } else {
        s.serialize_unit()
    }
}

/// A metadata value as a JSON value (arrays recursively, strings as strings).
pub fn to_json(v: &Value) -> Json {
    match v {
        Value::Bool(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Array(a) => array_json(a),
        other => number(other.as_f64().unwrap_or(f64::NAN)),
    }
}

fn array_json(a: &Array) -> Json {
    Json::Array(match a {
        Array::Bool(v) => v.iter().map(|b| Json::Bool(*b)).collect(),
        Array::String(v) => v.iter().map(|s| Json::String(s.clone())).collect(),
        Array::Array(v) => v.iter().map(array_json).collect(),
        numeric => numeric
            .numbers()
            .into_iter()
            .flatten()
            .map(number)
            .collect(),
    })
}

/// Written straight as JSON text, exactly as [`to_json`] would build it.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Bool(b) => s.serialize_bool(*b),
            Value::String(v) => s.serialize_str(v),
            Value::Array(a) => a.serialize(s),
            other => serialize_number(other.as_f64().unwrap_or(f64::NAN), s),
        }
    }
}

struct Num(f64);

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_number(self.0, s)
    }
}

impl Serialize for Array {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        fn all<S: Serializer, T: Serialize>(
            s: S,
            items: impl Iterator<Item = T>,
        ) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(None)?;
            for item in items {
                seq.serialize_element(&item)?;
            }
            seq.end()
        }
        match self {
            Array::Bool(v) => all(s, v.iter()),
            Array::String(v) => all(s, v.iter()),
            Array::Array(v) => all(s, v.iter()),
            numeric => all(s, numeric.numbers().into_iter().flatten().map(Num)),
        }
    }
}
