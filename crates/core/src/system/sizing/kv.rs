//! KV-cache math: bytes per element of each cache type, bytes per context token, the context
//! granularity ladder, and the one KV plan (which cache types a placement uses, and when sizing
//! switches to a quantised cache by itself).

use super::ModelView;
use crate::llama::config::{FlashAttention, FlashAttentionMode, LlamaServerConfig};

/// `KV_CACHE_BYTES_PER_ELEMENT`.
pub const KV_CACHE_BYTES_PER_ELEMENT: [(&str, f64); 8] = [
    ("f16", 2.0),
    ("bf16", 2.0),
    ("q8_0", 34.0 / 32.0),
    ("q5_0", 22.0 / 32.0),
    ("q5_1", 24.0 / 32.0),
    ("q4_0", 18.0 / 32.0),
    ("q4_1", 20.0 / 32.0),
    ("iq4_nl", 18.0 / 32.0),
];

/// `CONTEXT_GRANULARITY_LADDER`: (upper bound, step).
pub const CONTEXT_GRANULARITY_LADDER: [(f64, f64); 6] = [
    (2048.0, 128.0),
    (4096.0, 256.0),
    (8192.0, 512.0),
    (16384.0, 1024.0),
    (32768.0, 2048.0),
    (f64::INFINITY, 4096.0),
];

/// The cache type sizing switches to when an f16 cache would not fit.
const AUTO_CACHE_TYPE: &str = "q8_0";

fn bytes_per_element(cache_type: &str) -> f64 {
    KV_CACHE_BYTES_PER_ELEMENT
        .iter()
        .find(|(k, _)| *k == cache_type)
        .map_or(f64::NAN, |(_, v)| *v)
}

/// `floorContextToGranularity(tokens)`.
pub fn floor_context_to_granularity(tokens: f64) -> f64 {
    CONTEXT_GRANULARITY_LADDER
        .iter()
        .find(|(upper, _)| tokens <= *upper)
        .map_or(tokens.floor(), |(_, step)| (tokens / step).floor() * step)
}

/// `estimateKVBytesPerToken(model, k = 'f16', v = 'f16')` (NaN for an unknown cache type).
pub fn estimate_kv_bytes_per_token(model: &ModelView, cache_k: &str, cache_v: &str) -> f64 {
    model.layer_count()
        * model.kv_head_count()
        * model.head_dimension()
        * (bytes_per_element(cache_k) + bytes_per_element(cache_v))
}

/// The question the auto-quantisation asks: does an f16 cache of `tokens` overflow `budget` bytes
/// of VRAM next to `weights` bytes of GPU-resident weights? Upstream asks it two ways that differ
/// only when the need is NaN (a model without a size): `getOptimalConfig` keeps f16 only when it
/// surely fits (`nan_overflows`), the context policy quantises only when it surely overflows.
#[derive(Debug, Clone, Copy)]
pub(super) struct F16Room {
    pub weights: f64,
    pub tokens: f64,
    pub budget: f64,
    pub nan_overflows: bool,
}

impl F16Room {
    fn overflows(self, bytes_per_token: f64) -> bool {
        let needed = self.weights + self.tokens * bytes_per_token;
        if needed.is_nan() {
            self.nan_overflows
        } else {
            needed > self.budget
        }
    }
}

/// The KV cache of a placement: the caller's cache types, else f16; or q8_0 (with flash attention
/// on) when sizing quantised it by itself.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct KvPlan {
    pub cache_k: String,
    pub cache_v: String,
    pub auto_quantized: bool,
}

impl KvPlan {
    /// The caller's types; auto-quantised to q8_0 when none is pinned, flash attention is not
    /// off, and `room` (`None`: no usable VRAM) says an f16 cache would overflow.
    pub fn new(model: &ModelView, hints: &LlamaServerConfig, room: Option<F16Room>) -> Self {
        let pinned = hints.cache_type_k.is_some() || hints.cache_type_v.is_some();
        let fa_off = hints.flash_attention.is_some_and(FlashAttention::is_off);
        let too_big = |r: F16Room| r.overflows(estimate_kv_bytes_per_token(model, "f16", "f16"));
        if !pinned && !fa_off && room.is_some_and(too_big) {
            return Self::auto(None, None);
        }
        KvPlan {
            cache_k: hints.cache_type_k.clone().unwrap_or_else(|| "f16".into()),
            cache_v: hints.cache_type_v.clone().unwrap_or_else(|| "f16".into()),
            auto_quantized: false,
        }
    }

    /// An auto-quantised cache (the given types, else q8_0).
    pub fn auto(cache_k: Option<&str>, cache_v: Option<&str>) -> Self {
        KvPlan {
            cache_k: cache_k.unwrap_or(AUTO_CACHE_TYPE).into(),
            cache_v: cache_v.unwrap_or(AUTO_CACHE_TYPE).into(),
            auto_quantized: true,
        }
    }

    pub fn bytes_per_token(&self, model: &ModelView) -> f64 {
        estimate_kv_bytes_per_token(model, &self.cache_k, &self.cache_v)
    }

    /// Puts an auto-quantised cache into a result (cache types and `flashAttention: 'on'`).
    /// Returns whether it did.
    pub fn report(&self, config: &mut LlamaServerConfig) -> bool {
        if self.auto_quantized {
            config.cache_type_k = Some(self.cache_k.clone());
            config.cache_type_v = Some(self.cache_v.clone());
            config.flash_attention = Some(FlashAttention::Mode(FlashAttentionMode::On));
        }
        self.auto_quantized
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn granularity_ladder() {
        assert_eq!(floor_context_to_granularity(2000.0), 1920.0);
        assert_eq!(floor_context_to_granularity(5000.0), 4608.0);
        assert_eq!(floor_context_to_granularity(100_000.0), 98_304.0);
        assert_eq!(floor_context_to_granularity(f64::INFINITY), f64::INFINITY);
    }

    #[test]
    fn kv_bytes_and_fallbacks() {
        let m = smollm();
        assert_eq!(m.head_dimension(), 64.0);
        assert_eq!(estimate_kv_bytes_per_token(&m, "f16", "f16"), 23_040.0);
        assert_eq!(estimate_kv_bytes_per_token(&m, "q8_0", "q8_0"), 12_240.0);
        assert!(estimate_kv_bytes_per_token(&m, "nope", "f16").is_nan());
        // No metadata: layers from size (150 MiB each, clamped 24..120), heads/embedding by size band.
        let bare = ModelView::from_json(&json!({ "size": gib(4.0) }));
        assert_eq!(bare.layer_count(), 27.0);
        assert_eq!(bare.context_length(), 4096.0);
        assert_eq!(bare.head_dimension(), 128.0);
        assert!(!bare.has_gguf_metadata());
        // Per-layer arrays are averaged; raw `<arch>.` keys are a fallback.
        let arr = model(
            gib(1.0),
            json!({ "architecture": "gemma3", "attention_head_count_kv": [4, 8], "raw": { "gemma3.attention.key_length": 256 } }),
        );
        assert_eq!(arr.kv_head_count(), 6.0);
        assert_eq!(arr.head_dimension(), 256.0);
    }

    #[test]
    fn kv_plan_quantises_only_when_f16_does_not_fit() {
        let m = smollm(); // 23 040 B per token in f16
        let room = |budget| {
            Some(F16Room {
                weights: 1000.0,
                tokens: 1000.0,
                budget,
                nan_overflows: false,
            })
        };
        let none = LlamaServerConfig::default();
        assert!(!KvPlan::new(&m, &none, room(23_041_000.0)).auto_quantized);
        let q = KvPlan::new(&m, &none, room(23_040_999.0));
        assert_eq!(q, KvPlan::auto(None, None));
        assert_eq!(q.bytes_per_token(&m), 12_240.0);
        assert!(!KvPlan::new(&m, &none, None).auto_quantized);
        // A NaN need (a model without a size) overflows only where upstream says so.
        let nan = F16Room {
            weights: f64::NAN,
            tokens: 1000.0,
            budget: 1e12,
            nan_overflows: true,
        };
        assert!(KvPlan::new(&m, &none, Some(nan)).auto_quantized);
        let nan = F16Room {
            nan_overflows: false,
            ..nan
        };
        assert!(!KvPlan::new(&m, &none, Some(nan)).auto_quantized);
        // Pinned types and flash attention off are never overridden.
        let pinned = config(json!({ "cacheTypeV": "q4_0" }));
        let p = KvPlan::new(&m, &pinned, room(0.0));
        assert_eq!(
            (p.cache_k.as_str(), p.cache_v.as_str(), p.auto_quantized),
            ("f16", "q4_0", false)
        );
        let fa_off = config(json!({ "flashAttention": false }));
        assert!(!KvPlan::new(&m, &fa_off, room(0.0)).auto_quantized);
        let mut out = LlamaServerConfig::default();
        assert!(q.report(&mut out));
        assert_eq!(
            out,
            config(json!({ "cacheTypeK": "q8_0", "cacheTypeV": "q8_0", "flashAttention": "on" }))
        );
    }
}
