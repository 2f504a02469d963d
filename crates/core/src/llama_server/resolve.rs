//! From the caller's configuration to what is started: the port (`auto` → a free one), the
//! model, and the fields left unset filled by `getOptimalConfig` (then the V-cache rule).

use super::{LlamaServer, DEFAULT_PORT};
use crate::defaults;
use crate::llama::{config, LlamaServerConfig, PortSetting, ResolvedConfig};
use crate::models::ModelInfo;
use crate::{health, Result};

/// The port asked for: a number as given, `'auto'` → one the OS hands out, unset → 8080.
pub(super) fn port(config: &LlamaServerConfig) -> Result<u16> {
    match config.port {
        None => Ok(DEFAULT_PORT),
        Some(PortSetting::Auto(_)) => health::find_free_port(defaults::LOOPBACK_HOST),
        Some(PortSetting::Number(p)) => health::port_number(p),
    }
}

/// The model to start: `modelId` is required.
pub(super) fn model_id(config: &LlamaServerConfig) -> Result<&str> {
    config::require_model_id(config.model_id.as_deref())
}

impl LlamaServer {
    /// Caller values win; what is missing comes from `getOptimalConfig`.
    pub(super) fn resolve(
        &self,
        mut config: LlamaServerConfig,
        port: u16,
        model: &ModelInfo,
    ) -> Result<ResolvedConfig> {
        let auto = self
            .system
            .optimal_config(&model.sizing_view(), &config.hints())?;
        config.fill_from(auto);
        ResolvedConfig::new(config, port)
    }
}
