//! `DiffusionServerConfig` as a type: `diffusionServer.start(config)`'s argument, checked with
//! genai-electron's rules and messages (unknown fields, `modelId`, port, positive whole numbers).

use super::UsageMode;
use crate::llama::checks::{self, NonJson};
use crate::llama::PortSetting;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// `DiffusionServerManager.VALID_CONFIG_FIELDS`.
pub const VALID_CONFIG_FIELDS: [&str; 16] = [
    "modelId",
    "port",
    "host",
    "allowedOrigins",
    "startupTimeout",
    "usageMode",
    "idleTimeoutMs",
    "jobActivityTimeoutMs",
    "threads",
    "gpuLayers",
    "forceValidation",
    "clipOnCpu",
    "vaeOnCpu",
    "batchSize",
    "offloadToCpu",
    "diffusionFlashAttention",
];

/// `usageMode?: DiffusionUsageMode | 'auto'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UsageSetting {
    Mode(UsageMode),
    Auto(crate::llama::config::AutoPort),
}

/// genai-electron's `DiffusionServerConfig`, plus the addition `binaryPath`. Field order is
/// upstream's declaration order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiffusionServerConfig {
    pub model_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSetting>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_timeout: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_mode: Option<UsageSetting>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_activity_timeout_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_layers: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_validation: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_on_cpu: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vae_on_cpu: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offload_to_cpu: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diffusion_flash_attention: Option<bool>,
    /// Addition: an sd-server outside userData (else `$GENAI_SD_SERVER_PATH`, else
    /// `binaries/diffusion/`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_path: Option<String>,
    /// Additions (issue 12): where binaries are provisioned from, see `binaries::source::Settings`
    /// (`$GENAI_BINARY_MIRROR`, `$GENAI_BINARY_CATALOG`, `$GENAI_BINARIES_DIR` when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_mirror: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_catalog: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binaries_dir: Option<String>,
}

impl DiffusionServerConfig {
    /// `start(config)`'s argument as JavaScript gave it (`non_json`: fields whose values JSON
    /// cannot hold, such as NaN, as JavaScript prints them).
    pub fn from_js(config: Map<String, Value>, non_json: &[NonJson]) -> Result<Self> {
        let mut fields: Vec<&str> = VALID_CONFIG_FIELDS.to_vec();
        fields.extend(crate::binaries::source::CONFIG_FIELDS);
        crate::llama::validate_fields(&config, &fields, "DiffusionServerManager")?;
        checks::require_model_id(config.get("modelId").and_then(Value::as_str))?;
        if let Some(bad) = non_json.first() {
            return Err(checks::non_json(bad));
        }
        for key in ["startupTimeout", "batchSize"] {
            checks::positive_int(&config, key, false)?;
        }
        // 0 threads: sd.cpp's own default (physical cores), as upstream passes no `-t` then.
        whole_non_negative(&config, "threads")?;
        checks::positive_int(&config, "gpuLayers", true)?;
        // 0 turns the idle release and the stuck-job watchdog off, as upstream.
        for key in ["idleTimeoutMs", "jobActivityTimeoutMs"] {
            non_negative(&config, key)?;
        }
        checks::check_port(&config)?;
        serde_json::from_value(Value::Object(config.clone())).map_err(|e| wrong_type(&config, e))
    }

    /// `binaryPath`, else the fallback the caller read from `$GENAI_SD_SERVER_PATH`.
    pub fn with_binary_fallback(mut self, fallback: Option<String>) -> Self {
        if self.binary_path.is_none() {
            self.binary_path = fallback.filter(|p| !p.is_empty());
        }
        self
    }

    /// The configured usage mode, when it is not `'auto'`.
    pub fn fixed_usage_mode(&self) -> Option<UsageMode> {
        match self.usage_mode {
            Some(UsageSetting::Mode(m)) => Some(m),
            _ => None,
        }
    }
}

fn non_negative(config: &Map<String, Value>, key: &str) -> Result<()> {
    match config.get(key).filter(|v| !v.is_null()) {
        Some(v) if !v.as_f64().is_some_and(|n| n >= 0.0) => Err(Error::server(
            format!("Invalid {key}: {v}"),
            Some(
                json!({ "field": key, "value": v, "suggestion": format!("Use a number of milliseconds (0 turns it off) for {key}") }),
            ),
        )),
        _ => Ok(()),
    }
}

fn whole_non_negative(config: &Map<String, Value>, key: &str) -> Result<()> {
    match config.get(key).filter(|v| !v.is_null()) {
        Some(v) if !v.as_f64().is_some_and(|n| n >= 0.0 && n.fract() == 0.0) => Err(Error::server(
            format!("Invalid {key}: {v}"),
            Some(
                json!({ "field": key, "value": v, "suggestion": format!("Use a whole number (0: sd.cpp's default) for {key}") }),
            ),
        )),
        _ => Ok(()),
    }
}

fn wrong_type(config: &Map<String, Value>, e: serde_json::Error) -> Error {
    let required = [("modelId", json!("m"))];
    checks::wrong_type_of::<DiffusionServerConfig>(
        config,
        &e.to_string(),
        "diffusion server",
        "DiffusionServerConfig",
        &required,
    )
}

impl crate::binaries::source::BinaryFields for DiffusionServerConfig {
    fn binary_fields(&mut self) -> [&mut Option<String>; 4] {
        [
            &mut self.binary_path,
            &mut self.binary_mirror,
            &mut self.binary_catalog,
            &mut self.binaries_dir,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<DiffusionServerConfig> {
        DiffusionServerConfig::from_js(v.as_object().cloned().unwrap_or_default(), &[])
    }

    #[test]
    fn accepts_upstream_shapes() {
        let c = parse(json!({ "modelId": "sd", "port": "auto", "usageMode": "burst", "allowedOrigins": ["*"], "idleTimeoutMs": 0 })).unwrap();
        assert_eq!(c.fixed_usage_mode(), Some(UsageMode::Burst));
        assert_eq!(c.idle_timeout_ms, Some(0.0));
        let a = parse(json!({ "modelId": "sd", "usageMode": "auto" })).unwrap();
        assert_eq!(a.fixed_usage_mode(), None);
        assert!(a.usage_mode.is_some());
    }

    #[test]
    fn rejects_with_upstreams_messages() {
        let msg = |v| parse(v).unwrap_err().to_string();
        assert!(msg(json!({ "modelId": "sd", "steps": 3 })).starts_with(
            "Server error: Unknown configuration field: steps. Valid fields for DiffusionServerManager are: allowedOrigins, batchSize, binariesDir, binaryCatalog, binaryMirror, binaryPath, "
        ));
        assert_eq!(
            msg(json!({ "port": 1 })),
            "Server error: modelId is required"
        );
        assert_eq!(
            msg(json!({ "modelId": "sd", "port": 0 })),
            "Server error: Invalid port: 0"
        );
        assert_eq!(
            msg(json!({ "modelId": "sd", "threads": 1.5 })),
            "Server error: Invalid threads: 1.5"
        );
        assert_eq!(
            msg(json!({ "modelId": "sd", "idleTimeoutMs": -1 })),
            "Server error: Invalid idleTimeoutMs: -1"
        );
        let e = parse(json!({ "modelId": "sd", "usageMode": "often" })).unwrap_err();
        assert_eq!(e.details.unwrap()["field"], "usageMode");
        let e = parse(json!({ "modelId": "sd", "clipOnCpu": "yes" })).unwrap_err();
        assert_eq!(e.details.unwrap()["field"], "clipOnCpu");
    }
}
