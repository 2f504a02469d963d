//! llama-server launch contract (genai-electron 0.6.0+): the accepted configuration fields and
//! the argv, flag for flag (`--jinja`, explicit `-ngl`, tri-state `-fa`, `-fit off`, KV cache
//! types, MoE flags …), except where current llama-server changed a flag (`--load-mode`). Every
//! flag emitted here is checked against the real binary's `--help` by a contract test.

pub mod checks;
pub mod config;
pub mod launch;
pub mod resolved;

pub use checks::NonJson;
pub use config::{FlashAttention, LlamaServerConfig, PortSetting};
pub use resolved::ResolvedConfig;

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

/// One flag of the argv: left out, bare, or with its value.
enum Arg {
    Skip,
    Bare,
    With(String),
}

fn text(v: Option<impl ToString>) -> Arg {
    v.map_or(Arg::Skip, |v| Arg::With(v.to_string()))
}

/// A JS number as JavaScript prints it (`4`, not `4.0`).
fn number(v: Option<f64>) -> Arg {
    text(v.map(crate::jsjson::number_to_string))
}

fn bare(on: bool) -> Arg {
    if on {
        Arg::Bare
    } else {
        Arg::Skip
    }
}

/// `buildLlamaServerArgs(config, model)`: the resolved config → argv, in upstream's order.
pub fn build_args(r: &ResolvedConfig, model_path: &str) -> Vec<String> {
    let c = &r.config;
    let jinja = if c.jinja == Some(false) {
        "--no-jinja"
    } else {
        "--jinja"
    };
    // Current llama-server has `--load-mode` instead of `--no-mmap` / `--mlock` (which it now
    // rejects; genai-electron still passes them).
    let load_mode = match (c.use_mmap == Some(false), c.use_mlock == Some(true)) {
        (true, true) => Some("mlock"),
        (true, false) => Some("none"),
        (false, true) => Some("mmap+mlock"),
        (false, false) => None,
    };
    let plan = [
        ("-m", text(Some(model_path))),
        (jinja, Arg::Bare),
        ("--host", text(c.host.as_deref())),
        ("--port", text(Some(r.port))),
        ("--threads", number(c.threads)),
        ("-c", number(c.context_size)),
        ("-n", text(Some("-1"))),
        ("-ngl", number(c.gpu_layers)),
        ("-np", number(c.parallel_requests)),
        (
            "-fa",
            text(c.flash_attention.map(FlashAttention::flag_value)),
        ),
        ("-fit", text(Some(c.fit.as_deref().unwrap_or("off")))),
        ("--cache-type-k", text(c.cache_type_k.as_deref())),
        ("--cache-type-v", text(c.cache_type_v.as_deref())),
        ("--swa-full", bare(c.swa_full == Some(true))),
        ("-ot", text(c.override_tensors.as_deref())),
        ("--cache-ram", number(c.cache_ram)),
        ("--cpu-moe", bare(c.cpu_moe == Some(true))),
        ("--n-cpu-moe", number(c.n_cpu_moe)),
        ("--reasoning-format", text(c.reasoning_format.as_deref())),
        ("--alias", text(c.model_alias.as_deref())),
        ("-b", number(c.batch_size)),
        (
            "--no-cont-batching",
            bare(c.continuous_batching == Some(false)),
        ),
        ("--load-mode", text(load_mode)),
    ];
    let mut argv = Vec::new();
    for (flag, arg) in plan {
        match arg {
            Arg::Skip => {}
            Arg::Bare => argv.push(flag.to_string()),
            Arg::With(value) => argv.extend([flag.to_string(), value]),
        }
    }
    argv
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

    /// `config` as given (nothing auto-configured) on its numeric port.
    fn args(v: Value) -> Vec<String> {
        let port = v["port"].as_u64().unwrap() as u16;
        let config: LlamaServerConfig = serde_json::from_value(v).unwrap();
        build_args(&ResolvedConfig::new(config, port).unwrap(), "/m.gguf")
    }

    #[test]
    fn minimal_and_full_argv() {
        let a = args(json!({ "modelId": "m", "port": 8080 }));
        assert_eq!(
            a,
            ["-m", "/m.gguf", "--jinja", "--port", "8080", "-n", "-1", "-fit", "off"]
        );
        let full = json!({
            "port": 9000, "host": "127.0.0.1", "threads": 4, "contextSize": 8192, "gpuLayers": 0, "parallelRequests": 2,
            "flashAttention": true, "fit": "on", "cacheTypeK": "q8_0", "cacheTypeV": "q8_0", "swaFull": true,
            "overrideTensors": "exps=CPU", "cacheRam": 0, "cpuMoe": true, "nCpuMoe": 3, "reasoningFormat": "deepseek",
            "modelAlias": "smol", "batchSize": 512, "continuousBatching": false, "useMmap": false, "useMlock": true, "jinja": false,
        });
        let a = args(full).join(" ");
        assert_eq!(a, "-m /m.gguf --no-jinja --host 127.0.0.1 --port 9000 --threads 4 -c 8192 -n -1 -ngl 0 -np 2 -fa on -fit on --cache-type-k q8_0 --cache-type-v q8_0 --swa-full -ot exps=CPU --cache-ram 0 --cpu-moe --n-cpu-moe 3 --reasoning-format deepseek --alias smol -b 512 --no-cont-batching --load-mode mlock");
        for flag in a.split(' ').filter(|t| t.starts_with('-') && *t != "-1") {
            assert!(ALL_FLAGS.contains(&flag), "{flag} missing from ALL_FLAGS");
        }
        let mode = |m: Value| {
            args(m)
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
        // -fa keeps the caller's tri-state; fractional numbers print as JavaScript prints them.
        let fa = args(json!({ "port": 1, "flashAttention": "auto", "cacheRam": 0.5 })).join(" ");
        assert!(
            fa.contains("-fa auto") && fa.contains("--cache-ram 0.5"),
            "{fa}"
        );
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
