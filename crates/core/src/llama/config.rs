//! `LlamaServerConfig` as a type: what `llamaServer.start(config)` accepts, what
//! `getOptimalConfig` takes as hints and returns (`Partial<LlamaServerConfig>`), and what
//! `getConfig()` gives back. Numbers are JS numbers (`f64`): the checks that give genai-electron's
//! messages (positive whole numbers, context bounds) run on them in core, not in serde.

use super::checks::{self, NonJson};
use crate::Result;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
    /// Additions (issue 12): where binaries are provisioned from, see `binaries::source::Settings`
    /// (`$GENAI_BINARY_MIRROR`, `$GENAI_BINARY_CATALOG`, `$GENAI_BINARIES_DIR` when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_mirror: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_catalog: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binaries_dir: Option<String>,
}

impl LlamaServerConfig {
    /// `llamaServer.start(config)`'s argument as JavaScript gave it. genai-electron's checks run
    /// first, on the raw values, so that their messages stay upstream's (unknown fields, a missing
    /// `modelId`, numbers that are not positive whole numbers, an impossible port); what is left
    /// (a field of the wrong type) is a ServerError naming serde's complaint and the field.
    pub fn from_json(config: Map<String, Value>) -> Result<Self> {
        Self::from_js(config, &[])
    }

    /// `from_json` for an object whose fields JSON cannot all hold: `non_json` names each such
    /// field (its key is in `config` too, in the object's order) and how JavaScript prints its
    /// value (`NaN`, `Infinity`, `function`); any of them is an invalid field.
    pub fn from_js(config: Map<String, Value>, non_json: &[NonJson]) -> Result<Self> {
        let mut fields: Vec<&str> = super::VALID_CONFIG_FIELDS.to_vec();
        fields.extend(crate::binaries::source::CONFIG_FIELDS); // additions: where the binary comes from
        super::validate_fields(&config, &fields, "LlamaServerManager")?;
        require_model_id(config.get("modelId").and_then(Value::as_str))?;
        if let Some(bad) = non_json.first() {
            return Err(checks::non_json(bad));
        }
        checks::numbers(&config)?;
        serde_json::from_value(Value::Object(config.clone()))
            .map_err(|e| checks::wrong_type(&config, &e.to_string()))
    }

    /// `binaryPath`, else the fallback the caller read from `$GENAI_LLAMA_SERVER_PATH` (an empty
    /// value is none). Kept in the config, so that `getConfig()` and automatic restarts see it.
    pub fn with_binary_fallback(mut self, fallback: Option<String>) -> Self {
        if self.binary_path.is_none() {
            self.binary_path = fallback.filter(|p| !p.is_empty());
        }
        self
    }

    /// Caller values win; the fields `getOptimalConfig` decides are filled from `auto` where the
    /// caller left them unset (the context bounds are hints, never filled).
    pub fn fill_from(&mut self, auto: LlamaServerConfig) {
        let s = self;
        s.threads = s.threads.or(auto.threads);
        s.context_size = s.context_size.or(auto.context_size);
        s.gpu_layers = s.gpu_layers.or(auto.gpu_layers);
        s.parallel_requests = s.parallel_requests.or(auto.parallel_requests);
        s.flash_attention = s.flash_attention.or(auto.flash_attention);
        s.cache_type_k = s.cache_type_k.take().or(auto.cache_type_k);
        s.cache_type_v = s.cache_type_v.take().or(auto.cache_type_v);
        s.cpu_moe = s.cpu_moe.or(auto.cpu_moe);
        s.n_cpu_moe = s.n_cpu_moe.or(auto.n_cpu_moe);
        s.override_tensors = s.override_tensors.take().or(auto.override_tensors);
    }

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

pub use super::checks::require_model_id;

impl crate::binaries::source::BinaryFields for LlamaServerConfig {
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
    use serde_json::json;

    #[test]
    fn round_trips_upstream_shapes() {
        let v = json!({
            "modelId": "m", "port": "auto", "flashAttention": true, "contextSize": 4096.0,
            "cacheTypeV": "q8_0", "fit": "off", "binaryPath": "/x/llama-server"
        });
        let c: LlamaServerConfig = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(c.port, Some(PortSetting::Auto(AutoPort::Auto)));
        assert_eq!(c.flash_attention, Some(FlashAttention::Bool(true)));
        // Numbers come back as f64 (JS numbers): equal values, so the same object in JS.
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["contextSize"].as_f64(), Some(4096.0));
        assert_eq!(
            serde_json::from_value::<LlamaServerConfig>(back).unwrap(),
            c
        );
        let n: LlamaServerConfig =
            serde_json::from_value(json!({ "port": 8080, "flashAttention": "auto" })).unwrap();
        assert_eq!(n.port, Some(PortSetting::Number(8080.0)));
        assert_eq!(
            n.flash_attention.map(FlashAttention::flag_value),
            Some("auto")
        );
        assert!(serde_json::from_value::<LlamaServerConfig>(json!({ "port": "x" })).is_err());
        assert!(serde_json::from_value::<LlamaServerConfig>(json!({ "bogus": 1 })).is_err());
        let hints = LlamaServerConfig {
            threads: Some(4.0),
            gpu_layers: Some(3.0),
            ..c
        }
        .hints();
        assert_eq!(hints.threads, None);
        assert_eq!(hints.gpu_layers, Some(3.0));
    }

    fn parse(v: Value) -> Result<LlamaServerConfig> {
        LlamaServerConfig::from_json(v.as_object().cloned().unwrap_or_default())
    }

    fn message(v: Value) -> String {
        parse(v).unwrap_err().to_string()
    }

    #[test]
    fn from_json_gives_upstreams_messages_first() {
        assert!(message(json!({ "modelId": "m", "ctx": 1 })).starts_with(
            "Server error: Unknown configuration field: ctx. Valid fields for LlamaServerManager are: autoRestart, batchSize, binariesDir, binaryCatalog, binaryMirror, binaryPath, "
        ));
        // Unknown fields come first, even when other checks would fail too.
        assert!(message(json!({ "ctx": 1, "threads": -1 })).contains("Unknown configuration field"));
        assert_eq!(message(json!({})), "Server error: modelId is required");
        assert_eq!(
            message(json!({ "modelId": "" })),
            "Server error: modelId is required"
        );
        assert_eq!(
            message(json!({ "modelId": 5 })),
            "Server error: modelId is required"
        );
        for (field, bad) in [
            ("threads", json!(0)),
            ("threads", json!(-2)),
            ("contextSize", json!(1.5)),
            ("parallelRequests", json!("2")),
            ("gpuLayers", json!(-2)),
        ] {
            let e = parse(json!({ "modelId": "m", field: bad.clone() })).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("Server error: Invalid {field}: {bad}")
            );
            let suggestion = format!("Use a positive whole number for {field}");
            assert_eq!(
                e.details,
                Some(json!({ "field": field, "value": bad, "suggestion": suggestion }))
            );
        }
        for ok in [json!(-1), json!(0), json!(33)] {
            assert!(parse(json!({ "modelId": "m", "gpuLayers": ok })).is_ok());
        }
        for bad in [json!(0), json!(70000), json!(80.5), json!("x"), json!(true)] {
            let e = parse(json!({ "modelId": "m", "port": bad.clone() })).unwrap_err();
            assert_eq!(e.to_string(), format!("Server error: Invalid port: {bad}"));
            assert_eq!(e.details.unwrap()["port"], bad);
        }
        // null is "not given", as undefined is in JavaScript.
        let c = parse(json!({ "modelId": "m", "port": null, "threads": null })).unwrap();
        assert_eq!((c.port, c.threads), (None, None));
    }

    #[test]
    fn from_json_reports_a_wrong_type_as_a_server_error() {
        // (startupTimeout is a checked number now: another f64 field shows serde's complaint)
        let e = parse(json!({ "modelId": "m", "cacheRam": "soon" })).unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::ServerError);
        assert!(
            e.to_string()
                .starts_with("Server error: Invalid llama-server configuration: invalid type: string \"soon\", expected f64"),
            "{e}"
        );
        assert!(
            message(json!({ "modelId": "m", "flashAttention": "sometimes" }))
                .starts_with("Server error: Invalid llama-server configuration: ")
        );
    }

    #[test]
    fn get_config_round_trips() {
        let given = json!({
            "modelId": "m", "port": 8080, "threads": 4, "contextSize": 8192, "gpuLayers": -1,
            "parallelRequests": 2, "flashAttention": "on", "host": "::", "modelAlias": "a",
            "cacheTypeK": "q8_0", "cacheTypeV": "q8_0", "swaFull": false, "autoRestart": true,
            "maxRestarts": 2, "healthCheckInterval": 500, "binaryPath": "/bin/llama-server",
        });
        let c = parse(given.clone()).unwrap();
        let back = serde_json::to_value(&c).unwrap();
        // Every field comes back; numbers as JS numbers (f64).
        let (given, back_map) = (given.as_object().unwrap(), back.as_object().unwrap());
        assert_eq!(given.len(), back_map.len());
        for (k, v) in given {
            match v.as_f64() {
                Some(n) => assert_eq!(back_map[k].as_f64(), Some(n), "{k}"),
                None => assert_eq!(&back_map[k], v, "{k}"),
            }
        }
        assert_eq!(
            parse(back).unwrap(),
            c,
            "getConfig() is a valid start() argument"
        );
    }

    #[test]
    fn the_binary_fallback_and_auto_fields() {
        let c = parse(json!({ "modelId": "m" })).unwrap();
        let env = Some("/env/llama-server".to_string());
        assert_eq!(c.clone().with_binary_fallback(env.clone()).binary_path, env);
        assert_eq!(
            c.clone()
                .with_binary_fallback(Some(String::new()))
                .binary_path,
            None
        );
        let own = parse(json!({ "modelId": "m", "binaryPath": "/own" })).unwrap();
        assert_eq!(
            own.with_binary_fallback(env).binary_path.as_deref(),
            Some("/own")
        );
        let mut mine =
            parse(json!({ "modelId": "m", "contextSize": 1024, "minimumContextSize": 512 }))
                .unwrap();
        let auto: LlamaServerConfig = serde_json::from_value(json!({
            "threads": 4, "contextSize": 8192, "gpuLayers": 0, "parallelRequests": 1, "cacheTypeV": "q8_0",
            "maximumContextSize": 9000,
        }))
        .unwrap();
        mine.fill_from(auto);
        assert_eq!(
            (
                mine.context_size,
                mine.threads,
                mine.gpu_layers,
                mine.cache_type_v.as_deref()
            ),
            (Some(1024.0), Some(4.0), Some(0.0), Some("q8_0"))
        );
        assert_eq!(
            (mine.minimum_context_size, mine.maximum_context_size),
            (Some(512.0), None)
        );
    }
}
