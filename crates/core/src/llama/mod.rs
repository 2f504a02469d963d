//! llama-server launch contract (genai-electron 0.6.0+): the accepted configuration fields and
//! the argv, flag for flag (`--jinja`, explicit `-ngl`, tri-state `-fa`, `-fit off`, KV cache
//! types, MoE flags …), except where current llama-server changed a flag (`--load-mode`). Every
//! flag emitted here is checked against the real binary's `--help` by a contract test.

pub mod config;

pub use config::LlamaServerConfig;

use crate::{Error, Result};
use serde_json::{json, Map, Value};

/// `LlamaServerManager.VALID_CONFIG_FIELDS`.
pub const VALID_CONFIG_FIELDS: [&str; 32] = [
    "modelId",
    "port",
    "threads",
    "contextSize",
    "minimumContextSize",
    "preferredContextSize",
    "maximumContextSize",
    "gpuLayers",
    "parallelRequests",
    "flashAttention",
    "forceValidation",
    "modelAlias",
    "continuousBatching",
    "batchSize",
    "useMmap",
    "useMlock",
    "startupTimeout",
    "jinja",
    "host",
    "cacheTypeK",
    "cacheTypeV",
    "swaFull",
    "overrideTensors",
    "cacheRam",
    "cpuMoe",
    "nCpuMoe",
    "reasoningFormat",
    "fit",
    "occupancyCheck",
    "autoRestart",
    "maxRestarts",
    "healthCheckInterval",
];

/// Unknown keys → ServerError with genai-electron's message and details.
pub fn validate_fields(
    config: &Map<String, Value>,
    valid: &[&str],
    server_name: &str,
) -> Result<()> {
    let unknown: Vec<&String> = config
        .keys()
        .filter(|k| !valid.contains(&k.as_str()))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let mut sorted: Vec<&str> = valid.to_vec();
    sorted.sort_unstable();
    let plural = if unknown.len() > 1 { "s" } else { "" };
    let names: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
    Err(Error::server(
        format!(
            "Unknown configuration field{plural}: {}. Valid fields for {server_name} are: {}",
            names.join(", "),
            sorted.join(", ")
        ),
        Some(json!({
            "unknownFields": names,
            "validFields": sorted,
            "suggestion": "Remove unrecognized fields from the configuration object. If using getOptimalConfig(), pick only the fields needed for this server type.",
        })),
    ))
}

fn get<'a>(c: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    c.get(key).filter(|v| !v.is_null())
}

/// A quantized V cache needs flash attention: `auto`/unset becomes `on`, `off` is an error.
pub fn normalize_v_cache(config: &mut Map<String, Value>) -> Result<()> {
    let quantized = get(config, "cacheTypeV")
        .and_then(Value::as_str)
        .is_some_and(|t| t != "f16" && t != "bf16");
    if !quantized {
        return Ok(());
    }
    match get(config, "flashAttention") {
        Some(Value::Bool(false)) => {}
        Some(Value::String(s)) if s == "off" => {}
        None => {
            config.insert("flashAttention".into(), json!("on"));
            return Ok(());
        }
        Some(Value::String(s)) if s == "auto" => {
            config.insert("flashAttention".into(), json!("on"));
            return Ok(());
        }
        Some(_) => return Ok(()),
    }
    let v = get(config, "cacheTypeV")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Err(Error::server(
        format!("Quantized V-cache (cacheTypeV: '{v}') requires flash attention"),
        Some(
            json!({ "suggestion": "Set flashAttention to 'on' (or leave it unset) when using a quantized cacheTypeV, or use cacheTypeV: 'f16'" }),
        ),
    ))
}

fn num(v: &Value) -> String {
    v.as_f64().map_or_else(
        || v.as_str().unwrap_or_default().to_string(),
        crate::jsjson::number_to_string,
    )
}

/// `buildLlamaServerArgs(config, model)`: the resolved config (with a numeric `port`) → argv.
pub fn build_args(config: &Map<String, Value>, model_path: &str) -> Vec<String> {
    let mut a: Vec<String> = vec!["-m".into(), model_path.into()];
    let mut push = |flag: &str, value: Option<String>| {
        a.push(flag.into());
        a.extend(value);
    };
    let text = |key: &str| get(config, key).map(num);
    push(
        if get(config, "jinja") == Some(&Value::Bool(false)) {
            "--no-jinja"
        } else {
            "--jinja"
        },
        None,
    );
    if let Some(h) = text("host") {
        push("--host", Some(h));
    }
    push("--port", text("port"));
    for (key, flag) in [("threads", "--threads"), ("contextSize", "-c")] {
        if let Some(v) = text(key) {
            push(flag, Some(v));
        }
    }
    push("-n", Some("-1".into()));
    for (key, flag) in [("gpuLayers", "-ngl"), ("parallelRequests", "-np")] {
        if let Some(v) = text(key) {
            push(flag, Some(v));
        }
    }
    if let Some(fa) = get(config, "flashAttention") {
        let v = match fa {
            Value::Bool(true) => "on".to_string(),
            Value::Bool(false) => "off".to_string(),
            other => num(other),
        };
        push("-fa", Some(v));
    }
    push("-fit", Some(text("fit").unwrap_or_else(|| "off".into())));
    for (key, flag) in [
        ("cacheTypeK", "--cache-type-k"),
        ("cacheTypeV", "--cache-type-v"),
    ] {
        if let Some(v) = text(key) {
            push(flag, Some(v));
        }
    }
    if get(config, "swaFull") == Some(&Value::Bool(true)) {
        push("--swa-full", None);
    }
    for (key, flag) in [("overrideTensors", "-ot"), ("cacheRam", "--cache-ram")] {
        if let Some(v) = text(key) {
            push(flag, Some(v));
        }
    }
    if get(config, "cpuMoe") == Some(&Value::Bool(true)) {
        push("--cpu-moe", None);
    }
    for (key, flag) in [
        ("nCpuMoe", "--n-cpu-moe"),
        ("reasoningFormat", "--reasoning-format"),
        ("modelAlias", "--alias"),
        ("batchSize", "-b"),
    ] {
        if let Some(v) = text(key) {
            push(flag, Some(v));
        }
    }
    if get(config, "continuousBatching") == Some(&Value::Bool(false)) {
        push("--no-cont-batching", None);
    }
    // Current llama-server has `--load-mode` instead of `--no-mmap` / `--mlock` (which it now
    // rejects; genai-electron still passes them).
    let no_mmap = get(config, "useMmap") == Some(&Value::Bool(false));
    let mlock = get(config, "useMlock") == Some(&Value::Bool(true));
    let mode = match (no_mmap, mlock) {
        (true, true) => Some("mlock"),
        (true, false) => Some("none"),
        (false, true) => Some("mmap+mlock"),
        (false, false) => None,
    };
    if let Some(mode) = mode {
        push("--load-mode", Some(mode.into()));
    }
    a
}

/// Every flag `build_args` can emit (for the contract test against `llama-server --help`).
pub const ALL_FLAGS: [&str; 24] = [
    "-m",
    "--jinja",
    "--no-jinja",
    "--host",
    "--port",
    "--threads",
    "-c",
    "-n",
    "-ngl",
    "-np",
    "-fa",
    "-fit",
    "--cache-type-k",
    "--cache-type-v",
    "--swa-full",
    "-ot",
    "--cache-ram",
    "--cpu-moe",
    "--n-cpu-moe",
    "--reasoning-format",
    "--alias",
    "-b",
    "--no-cont-batching",
    "--load-mode",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn minimal_and_full_argv() {
        let a = build_args(&cfg(json!({ "modelId": "m", "port": 8080 })), "/m.gguf");
        assert_eq!(
            a,
            ["-m", "/m.gguf", "--jinja", "--port", "8080", "-n", "-1", "-fit", "off"]
        );
        let full = cfg(json!({
            "port": 9000, "host": "127.0.0.1", "threads": 4, "contextSize": 8192, "gpuLayers": 0, "parallelRequests": 2,
            "flashAttention": true, "fit": "on", "cacheTypeK": "q8_0", "cacheTypeV": "q8_0", "swaFull": true,
            "overrideTensors": "exps=CPU", "cacheRam": 0, "cpuMoe": true, "nCpuMoe": 3, "reasoningFormat": "deepseek",
            "modelAlias": "smol", "batchSize": 512, "continuousBatching": false, "useMmap": false, "useMlock": true, "jinja": false,
        }));
        let a = build_args(&full, "/m.gguf").join(" ");
        assert_eq!(a, "-m /m.gguf --no-jinja --host 127.0.0.1 --port 9000 --threads 4 -c 8192 -n -1 -ngl 0 -np 2 -fa on -fit on --cache-type-k q8_0 --cache-type-v q8_0 --swa-full -ot exps=CPU --cache-ram 0 --cpu-moe --n-cpu-moe 3 --reasoning-format deepseek --alias smol -b 512 --no-cont-batching --load-mode mlock");
        for flag in a.split(' ').filter(|t| t.starts_with('-') && *t != "-1") {
            assert!(ALL_FLAGS.contains(&flag), "{flag} missing from ALL_FLAGS");
        }
        let mode = |m: Value| {
            build_args(&cfg(m), "/m")
                .join(" ")
                .split("--load-mode ")
                .nth(1)
                .map(str::to_string)
        };
        assert_eq!(
            mode(json!({ "port": 1, "useMmap": false })).as_deref(),
            Some("none")
        );
        assert_eq!(
            mode(json!({ "port": 1, "useMlock": true })).as_deref(),
            Some("mmap+mlock")
        );
        assert_eq!(
            mode(json!({ "port": 1, "useMmap": true, "useMlock": false })),
            None
        );
    }

    #[test]
    fn v_cache_needs_flash_attention() {
        let mut c = cfg(json!({ "cacheTypeV": "q8_0" }));
        normalize_v_cache(&mut c).unwrap();
        assert_eq!(c["flashAttention"], "on");
        let mut off = cfg(json!({ "cacheTypeV": "q4_0", "flashAttention": false }));
        let e = normalize_v_cache(&mut off).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Server error: Quantized V-cache (cacheTypeV: 'q4_0') requires flash attention"
        );
        let mut f16 = cfg(json!({ "cacheTypeV": "f16", "flashAttention": "off" }));
        normalize_v_cache(&mut f16).unwrap();
        assert_eq!(f16["flashAttention"], "off");
    }

    #[test]
    fn unknown_fields() {
        assert!(validate_fields(
            &cfg(json!({ "modelId": "m", "port": "auto" })),
            &VALID_CONFIG_FIELDS,
            "LlamaServerManager"
        )
        .is_ok());
        let e = validate_fields(
            &cfg(json!({ "modelId": "m", "ctx": 1, "gpu": 2 })),
            &VALID_CONFIG_FIELDS,
            "LlamaServerManager",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("Server error: Unknown configuration fields: ctx, gpu. Valid fields for LlamaServerManager are: autoRestart, batchSize, "));
        assert_eq!(e.details.unwrap()["unknownFields"], json!(["ctx", "gpu"]));
    }
}
