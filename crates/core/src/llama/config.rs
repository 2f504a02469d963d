//! `LlamaServerConfig` as a type: what `llamaServer.start(config)` accepts, what
//! `getOptimalConfig` takes as hints and returns (`Partial<LlamaServerConfig>`), and what
//! `getConfig()` gives back. Numbers are JS numbers (`f64`): the checks that give genai-electron's
//! messages (positive whole numbers, context bounds) run on them in core, not in serde.

use serde::{Deserialize, Serialize};

/// `port?: number | 'auto'`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PortSetting {
    Number(f64),
    Auto(AutoPort),
}

/// The string `'auto'` (any other string is not a port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AutoPort {
    #[serde(rename = "auto")]
    Auto,
}

/// `FlashAttentionSetting = boolean | 'on' | 'off' | 'auto'`, kept as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FlashAttention {
    Bool(bool),
    Mode(FlashAttentionMode),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlashAttentionMode {
    On,
    Off,
    Auto,
}

impl FlashAttention {
    /// The value of llama-server's `-fa`.
    pub fn flag_value(self) -> &'static str {
        match self {
            FlashAttention::Bool(true) | FlashAttention::Mode(FlashAttentionMode::On) => "on",
            FlashAttention::Bool(false) | FlashAttention::Mode(FlashAttentionMode::Off) => "off",
            FlashAttention::Mode(FlashAttentionMode::Auto) => "auto",
        }
    }

    pub fn is_off(self) -> bool {
        self.flag_value() == "off"
    }
}

/// genai-electron's `LlamaServerConfig` (every field optional, so that it also serves as
/// `Partial<LlamaServerConfig>` and `OptimalConfigHints`), plus the addition `binaryPath`.
/// Field order is upstream's declaration order (it is the key order of `getConfig()`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LlamaServerConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSetting>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_size: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_context_size: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_context_size: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_context_size: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_layers: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_requests: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flash_attention: Option<FlashAttention>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_validation: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_timeout: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuous_batching: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_mmap: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_mlock: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jinja: Option<bool>,
    /// `KVCacheType`; passed to llama-server as given (it names the valid ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_type_k: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_type_v: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swa_full: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_tensors: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_ram: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_moe: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_cpu_moe: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occupancy_check: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_restart: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_restarts: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_interval: Option<f64>,
    /// Addition: a llama-server outside userData (else `$GENAI_LLAMA_SERVER_PATH`, else
    /// `binaries/llama/`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_path: Option<String>,
}

impl LlamaServerConfig {
    /// The fields `getOptimalConfig` reads (`OptimalConfigHints`); the rest are dropped.
    pub fn hints(&self) -> LlamaServerConfig {
        LlamaServerConfig {
            context_size: self.context_size,
            minimum_context_size: self.minimum_context_size,
            preferred_context_size: self.preferred_context_size,
            maximum_context_size: self.maximum_context_size,
            gpu_layers: self.gpu_layers,
            parallel_requests: self.parallel_requests,
            flash_attention: self.flash_attention,
            cache_type_k: self.cache_type_k.clone(),
            cache_type_v: self.cache_type_v.clone(),
            cpu_moe: self.cpu_moe,
            n_cpu_moe: self.n_cpu_moe,
            override_tensors: self.override_tensors.clone(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_upstream_shapes() {
        let v = json!({
            "modelId": "m", "port": "auto", "flashAttention": true, "contextSize": 4096,
            "cacheTypeV": "q8_0", "fit": "off", "binaryPath": "/x/llama-server"
        });
        let c: LlamaServerConfig = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(c.port, Some(PortSetting::Auto(AutoPort::Auto)));
        assert_eq!(c.flash_attention, Some(FlashAttention::Bool(true)));
        assert_eq!(serde_json::to_value(&c).unwrap(), v);
        let n: LlamaServerConfig = serde_json::from_value(json!({ "port": 8080, "flashAttention": "auto" })).unwrap();
        assert_eq!(n.port, Some(PortSetting::Number(8080.0)));
        assert_eq!(n.flash_attention.map(FlashAttention::flag_value), Some("auto"));
        assert!(serde_json::from_value::<LlamaServerConfig>(json!({ "port": "x" })).is_err());
        assert!(serde_json::from_value::<LlamaServerConfig>(json!({ "bogus": 1 })).is_err());
        let hints = LlamaServerConfig { threads: Some(4.0), gpu_layers: Some(3.0), ..c }.hints();
        assert_eq!(hints.threads, None);
        assert_eq!(hints.gpu_layers, Some(3.0));
    }
}
