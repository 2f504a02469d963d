//! `buildLlamaServerArgs` of the Electron-free entry (`genai-electron/llama-server-launch`): the
//! manager's argv (`build_args`) plus the `/slots` options, for a config as the caller gives it.

use super::{build_args, LlamaServerConfig, ResolvedConfig};
use crate::{health, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// `LlamaSlotsEndpointMode`: llama-server's default, `--slots` or `--no-slots`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotsEndpoint {
    #[default]
    Default,
    Enabled,
    Disabled,
}

/// `LlamaServerArgsOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArgsOptions {
    pub slots_endpoint: SlotsEndpoint,
    pub slot_save_path: Option<String>,
}

/// `buildLlamaServerArgs(config, { path }, options)`: `config` as given (the V-cache rule is
/// `normalizeLlamaVCacheConfig`'s), on `port`, in upstream's order, the slot flags last.
pub fn build_launch_args(
    config: LlamaServerConfig,
    port: f64,
    model_path: &str,
    options: &ArgsOptions,
) -> Result<Vec<String>> {
    if options.slots_endpoint == SlotsEndpoint::Disabled && options.slot_save_path.is_some() {
        return Err(Error::server(
            "slotSavePath cannot be used when the /slots endpoint is disabled",
            Some(json!({
                "slotsEndpoint": options.slots_endpoint, "slotSavePath": options.slot_save_path,
                "suggestion": "Use slotsEndpoint: 'enabled' or omit slotSavePath",
            })),
        ));
    }
    let port = health::port_number(port)?;
    let mut argv = build_args(&ResolvedConfig::as_given(config, port), model_path);
    match options.slots_endpoint {
        SlotsEndpoint::Enabled => argv.push("--slots".into()),
        SlotsEndpoint::Disabled => argv.push("--no-slots".into()),
        SlotsEndpoint::Default => {}
    }
    if let Some(path) = options.slot_save_path.as_deref().filter(|p| !p.is_empty()) {
        argv.extend(["--slot-save-path".to_string(), path.to_string()]);
    }
    Ok(argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(slots: SlotsEndpoint, path: Option<&str>) -> ArgsOptions {
        ArgsOptions {
            slots_endpoint: slots,
            slot_save_path: path.map(str::to_string),
        }
    }

    #[test]
    fn slot_flags_come_last_and_the_v_cache_is_left_as_given() {
        let config: LlamaServerConfig =
            serde_json::from_value(json!({ "cacheTypeV": "q8_0" })).unwrap();
        let a = build_launch_args(
            config.clone(),
            8080.0,
            "/m.gguf",
            &opts(SlotsEndpoint::Enabled, Some("/s")),
        )
        .unwrap();
        assert_eq!(a.join(" "), "-m /m.gguf --jinja --port 8080 -n -1 -fit off --cache-type-v q8_0 --slots --slot-save-path /s");
        let a = build_launch_args(
            config.clone(),
            1.0,
            "/m",
            &opts(SlotsEndpoint::Disabled, None),
        )
        .unwrap();
        assert_eq!(a.last().map(String::as_str), Some("--no-slots"));
        let a = build_launch_args(
            config.clone(),
            1.0,
            "/m",
            &opts(SlotsEndpoint::Default, Some("")),
        )
        .unwrap();
        assert!(!a.iter().any(|f| f.starts_with("--slot")), "{a:?}");
        let e = build_launch_args(config, 1.0, "/m", &opts(SlotsEndpoint::Disabled, Some("")))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Server error: slotSavePath cannot be used when the /slots endpoint is disabled"
        );
    }
}
