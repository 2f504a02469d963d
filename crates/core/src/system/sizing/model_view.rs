//! `ModelView`: the parts of a `ModelInfo` that sizing reads, with genai-electron's fallbacks
//! for missing metadata (`getLayerCountWithFallback`, `getContextLengthWithFallback`, …).

use super::{GIB, MIB};
use crate::jsnum;
use serde_json::{Map, Value};

/// The parts of a `ModelInfo` that sizing reads. Built leniently from JSON: missing or
/// mistyped fields fall back exactly as upstream's helpers do.
#[derive(Debug, Clone, Default)]
pub struct ModelView {
    pub size: f64,
    pub kind: String,
    pub meta: Option<Map<String, Value>>,
}

/// A JS-truthy number (non-zero, not NaN).
fn truthy_num(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
        .filter(|n| *n != 0.0 && !n.is_nan())
}

/// upstream `toScalarMean`: a positive number, or the positive mean of an all-number array.
fn scalar_mean(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64().filter(|n| *n > 0.0),
        Value::Array(items) if !items.is_empty() => {
            let nums: Option<Vec<f64>> = items.iter().map(Value::as_f64).collect();
            let nums = nums?;
            let mean = nums.iter().sum::<f64>() / nums.len() as f64;
            (mean > 0.0).then_some(mean)
        }
        _ => None,
    }
}

impl ModelView {
    /// A `ModelInfo` argument from JavaScript. `undefined` and `null` fail as upstream's first
    /// read of them throws (a TypeError); any other value is read as upstream reads it (a missing
    /// size is NaN, as there).
    pub fn from_js(model: Option<&Value>) -> std::result::Result<Self, String> {
        let absent = match model {
            None => "undefined",
            Some(Value::Null) => "null",
            Some(model) => return Ok(Self::from_json(model)),
        };
        Err(format!(
            "Cannot read properties of {absent} (reading 'ggufMetadata')"
        ))
    }

    pub fn from_json(model: &Value) -> Self {
        ModelView {
            size: model
                .get("size")
                .and_then(Value::as_f64)
                .unwrap_or(f64::NAN),
            kind: model
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            meta: model
                .get("ggufMetadata")
                .and_then(Value::as_object)
                .cloned(),
        }
    }

    pub(super) fn field(&self, key: &str) -> Option<&Value> {
        self.meta.as_ref()?.get(key)
    }

    fn architecture(&self) -> Option<&str> {
        self.field("architecture")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
    }

    /// `raw["<arch>.<suffix>"]`
    fn raw_arch(&self, suffix: &str) -> Option<&Value> {
        let arch = self.architecture()?;
        self.field("raw")?
            .as_object()?
            .get(&format!("{arch}.{suffix}"))
    }

    /// `hasGGUFMetadata`
    pub fn has_gguf_metadata(&self) -> bool {
        self.architecture().is_some()
    }

    pub(super) fn has_block_count(&self) -> bool {
        self.has_gguf_metadata() && truthy_num(self.field("block_count")).is_some()
    }

    pub fn layer_count(&self) -> f64 {
        truthy_num(self.field("block_count"))
            .unwrap_or_else(|| jsnum::round(self.size / (150.0 * MIB)).clamp(24.0, 120.0))
    }

    pub fn context_length(&self) -> f64 {
        truthy_num(self.field("context_length")).unwrap_or(if self.size / GIB >= 30.0 {
            8192.0
        } else {
            4096.0
        })
    }

    fn by_size(&self, bands: [f64; 4]) -> f64 {
        let gb = self.size / GIB;
        if gb >= 60.0 {
            bands[0]
        } else if gb >= 25.0 {
            bands[1]
        } else if gb >= 10.0 {
            bands[2]
        } else {
            bands[3]
        }
    }

    pub fn attention_head_count(&self) -> f64 {
        scalar_mean(self.field("attention_head_count"))
            .unwrap_or_else(|| self.by_size([64.0, 52.0, 40.0, 32.0]))
    }

    pub fn embedding_length(&self) -> f64 {
        truthy_num(self.field("embedding_length"))
            .unwrap_or_else(|| self.by_size([8192.0, 6656.0, 5120.0, 4096.0]))
    }

    pub fn kv_head_count(&self) -> f64 {
        scalar_mean(self.field("attention_head_count_kv"))
            .or_else(|| scalar_mean(self.raw_arch("attention.head_count_kv")))
            .unwrap_or_else(|| self.attention_head_count())
    }

    pub fn head_dimension(&self) -> f64 {
        scalar_mean(self.field("attention_key_length"))
            .or_else(|| scalar_mean(self.raw_arch("attention.key_length")))
            .unwrap_or_else(|| jsnum::round(self.embedding_length() / self.attention_head_count()))
    }

    fn expert_count(&self) -> f64 {
        truthy_num(self.field("expert_count"))
            .or_else(|| {
                self.raw_arch("expert_count")
                    .and_then(Value::as_f64)
                    .filter(|v| *v > 0.0)
            })
            .unwrap_or(0.0)
    }

    /// Bytes of MoE expert weights: measured, else estimated from the parameter count.
    pub fn expert_weights_bytes(&self) -> Option<f64> {
        if let Some(measured) = self
            .field("expert_weights_bytes")
            .and_then(Value::as_f64)
            .filter(|v| *v > 0.0)
        {
            return Some(measured);
        }
        let experts = self.expert_count();
        if experts <= 0.0 {
            return None;
        }
        let expert_ff = truthy_num(self.field("expert_feed_forward_length"))
            .or_else(|| truthy_num(self.raw_arch("expert_feed_forward_length")))?;
        let total_params = self
            .field("raw")?
            .get("general.parameter_count")?
            .as_f64()
            .filter(|p| *p > 0.0)?;
        let expert_params =
            3.0 * self.embedding_length() * expert_ff * experts * self.layer_count();
        let fraction = (expert_params / total_params).min(0.95);
        (fraction > 0.0).then(|| jsnum::round(self.size * fraction))
    }

    /// Measured expert bytes only (`ggufMetadata.expert_weights_bytes`).
    pub(super) fn measured_expert_bytes(&self) -> Option<f64> {
        self.field("expert_weights_bytes").and_then(Value::as_f64)
    }
}
