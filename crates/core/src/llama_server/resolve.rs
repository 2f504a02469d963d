//! From the caller's configuration to what is started: the port (`auto` → a free one), the
//! model, and the fields left unset filled by `getOptimalConfig` (then the V-cache rule).

use super::{LlamaServer, DEFAULT_PORT};
use crate::defaults;
use crate::llama::{config, LlamaServerConfig, PortSetting, ResolvedConfig};
use crate::models::ModelInfo;
use crate::system::SystemInfo;
use crate::{health, Error, Result};
use serde_json::{Map, Value};

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
        let view = model.to_value();
        let auto = optimal_config(&self.system, &view, &config.hints())?;
        config.fill_from(auto);
        ResolvedConfig::new(config, port)
    }
}

// ADAPTER: replace at merge with system.optimal_config(&view, &hints)
fn optimal_config(
    system: &SystemInfo,
    view: &Value,
    hints: &LlamaServerConfig,
) -> Result<LlamaServerConfig> {
    let hints = match serde_json::to_value(hints) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let auto = system.optimal_config(view, Some(&hints))?;
    serde_json::from_value(Value::Object(auto))
        .map_err(|e| Error::server(format!("Unexpected optimal configuration: {e}"), None))
}
