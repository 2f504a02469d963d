//! The configuration a llama-server is started with: the caller's `LlamaServerConfig`, the
//! auto-configured fields filled in, on a concrete port, with the V-cache rule applied. It is what
//! `build_args` reads and what `getConfig()` returns.

use super::config::{FlashAttention, FlashAttentionMode, LlamaServerConfig, PortSetting};
use crate::{health, Error, Result};
use serde_json::json;

#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedConfig {
    pub port: u16,
    /// The whole configuration, `port` as the number above (`getConfig()`).
    pub config: LlamaServerConfig,
}

impl ResolvedConfig {
    /// `config` on `port`. Fails when a quantized V cache meets flash attention `off`.
    pub fn new(mut config: LlamaServerConfig, port: u16) -> Result<Self> {
        config.port = Some(PortSetting::Number(f64::from(port)));
        apply_v_cache_rule(&mut config)?;
        Ok(ResolvedConfig { port, config })
    }

    /// `config` on `port` exactly as given (no V-cache rule): what upstream's
    /// `buildLlamaServerArgs` prints, which leaves the rule to `normalizeLlamaVCacheConfig`.
    pub fn as_given(mut config: LlamaServerConfig, port: u16) -> Self {
        config.port = Some(PortSetting::Number(f64::from(port)));
        ResolvedConfig { port, config }
    }

    pub fn model_id(&self) -> &str {
        self.config.model_id.as_deref().unwrap_or_default()
    }

    /// Where health probes go: the configured host, wildcards on loopback.
    pub fn probe_host(&self) -> String {
        health::normalize_health_host(self.config.host.as_deref())
    }
}

/// A quantized V cache needs flash attention: `auto`/unset becomes `on`, `off` is an error.
fn apply_v_cache_rule(config: &mut LlamaServerConfig) -> Result<()> {
    config.flash_attention =
        v_cache_flash_attention(config.cache_type_v.as_deref(), config.flash_attention)?;
    Ok(())
}

/// The flash-attention setting a V cache of type `cache_type_v` runs with
/// (`normalizeLlamaVCacheConfig`): a quantized one turns `auto`/unset into `on` and fails on `off`;
/// otherwise the setting is kept.
pub fn v_cache_flash_attention(
    cache_type_v: Option<&str>,
    flash_attention: Option<FlashAttention>,
) -> Result<Option<FlashAttention>> {
    let Some(v) = cache_type_v.filter(|t| *t != "f16" && *t != "bf16") else {
        return Ok(flash_attention);
    };
    match flash_attention {
        None | Some(FlashAttention::Mode(FlashAttentionMode::Auto)) => {
            Ok(Some(FlashAttention::Mode(FlashAttentionMode::On)))
        }
        Some(fa) if fa.is_off() => Err(Error::server(
            format!("Quantized V-cache (cacheTypeV: '{v}') requires flash attention"),
            Some(
                json!({ "suggestion": "Set flashAttention to 'on' (or leave it unset) when using a quantized cacheTypeV, or use cacheTypeV: 'f16'" }),
            ),
        )),
        kept => Ok(kept),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn resolve(v: Value) -> Result<LlamaServerConfig> {
        let config: LlamaServerConfig = serde_json::from_value(v).unwrap();
        ResolvedConfig::new(config, 8080).map(|r| r.config)
    }

    #[test]
    fn v_cache_needs_flash_attention() {
        let on = resolve(json!({ "cacheTypeV": "q8_0" })).unwrap();
        assert_eq!(serde_json::to_value(on.flash_attention).unwrap(), "on");
        let auto = resolve(json!({ "cacheTypeV": "q8_0", "flashAttention": "auto" })).unwrap();
        assert_eq!(serde_json::to_value(auto.flash_attention).unwrap(), "on");
        let e = resolve(json!({ "cacheTypeV": "q4_0", "flashAttention": false })).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Server error: Quantized V-cache (cacheTypeV: 'q4_0') requires flash attention"
        );
        let f16 = resolve(json!({ "cacheTypeV": "f16", "flashAttention": "off" })).unwrap();
        assert_eq!(serde_json::to_value(f16.flash_attention).unwrap(), "off");
        let kept = resolve(json!({ "cacheTypeV": "q8_0", "flashAttention": true })).unwrap();
        assert_eq!(kept.flash_attention, Some(FlashAttention::Bool(true)));
    }

    #[test]
    fn the_port_is_a_number_and_the_probe_host_loopback() {
        let r = ResolvedConfig::new(
            serde_json::from_value(json!({ "modelId": "m", "port": "auto", "host": "0.0.0.0" }))
                .unwrap(),
            9123,
        )
        .unwrap();
        assert_eq!(r.config.port, Some(PortSetting::Number(9123.0)));
        assert_eq!((r.model_id(), r.probe_host().as_str()), ("m", "127.0.0.1"));
    }
}
