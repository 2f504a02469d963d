//! sd-server's command line, as genai-electron builds it: the model flags (`-m`, or each
//! component's flag in `DIFFUSION_COMPONENTS` order), the optimisation flags, `-t`,
//! `--listen-ip`, `--listen-port`, `--lora-model-dir`.
//!
//! Putting the text encoder or the VAE on the CPU has two spellings: `--clip-on-cpu` /
//! `--vae-on-cpu` (the pinned stable-diffusion-cpp-python 0.4.7 sd.cpp, and upstream's), and
//! `--backend te=cpu,vae=cpu` in newer sd.cpp, whose `--help` marks the old flags deprecated.
//! Which one a binary takes is read from its `--help` (cached per binary file).

use super::constants::DIFFUSION_COMPONENTS;
use super::BackendFlags;
use crate::models::ModelInfo;
use crate::process;
use crate::{Error, Result};
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime};

/// How a binary spells "this part on the CPU".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlagDialect {
    /// `--clip-on-cpu`, `--vae-on-cpu`.
    #[default]
    Legacy,
    /// `--backend te=cpu,vae=cpu` (one flag: newer sd.cpp joins repeated `--backend`s, older
    /// builds with `--backend` keep only the last one).
    BackendAssignment,
}

/// `buildBackendModelArgs`: `-m <path>` for a single-file model, else each component's flag and
/// path in `DIFFUSION_COMPONENTS` order. A component set without `diffusion_model` is
/// upstream's ServerError.
pub fn model_args(model: &ModelInfo) -> Result<Vec<String>> {
    let Some(components) = &model.components else {
        return Ok(vec!["-m".into(), model.path.clone()]);
    };
    if !components.contains_key("diffusion_model") {
        return Err(Error::server(
            "Multi-component model is missing required diffusion_model component",
            Some(json!({
                "modelId": model.id,
                "components": components.keys().collect::<Vec<_>>(),
                "suggestion": "The model metadata appears corrupted. Try re-downloading the model.",
            })),
        ));
    }
    Ok(DIFFUSION_COMPONENTS
        .iter()
        .filter_map(|(role, flag)| {
            components
                .get(*role)
                .map(|c| [flag.to_string(), c.path.clone()])
        })
        .flatten()
        .collect())
}

/// `buildDiffusionOptimizationArgs` in the binary's dialect, in upstream's order (text encoder,
/// VAE, offload, flash attention).
pub fn optimization_args(flags: &BackendFlags, dialect: FlagDialect) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    match dialect {
        FlagDialect::Legacy => {
            if flags.clip_on_cpu {
                args.push("--clip-on-cpu".into());
            }
            if flags.vae_on_cpu {
                args.push("--vae-on-cpu".into());
            }
        }
        FlagDialect::BackendAssignment => {
            let parts: Vec<&str> = [(flags.clip_on_cpu, "te=cpu"), (flags.vae_on_cpu, "vae=cpu")]
                .into_iter()
                .filter_map(|(on, part)| on.then_some(part))
                .collect();
            if !parts.is_empty() {
                args.extend(["--backend".into(), parts.join(",")]);
            }
        }
    }
    if flags.offload_to_cpu {
        args.push("--offload-to-cpu".into());
    }
    if flags.diffusion_flash_attention {
        args.push("--diffusion-fa".into());
    }
    args
}

/// The whole argv after the binary, in upstream's order (`buildSdServerArgs`); `threads` of 0
/// leaves the choice to sd.cpp.
pub fn server_args(
    model_args: &[String],
    context_args: &[String],
    threads: Option<u32>,
    host: &str,
    port: u16,
    lora_dir: &Path,
) -> Vec<String> {
    let mut args: Vec<String> = model_args.iter().chain(context_args).cloned().collect();
    if let Some(t) = threads.filter(|t| *t > 0) {
        args.extend(["-t".into(), t.to_string()]);
    }
    args.extend([
        "--listen-ip".into(),
        host.to_string(),
        "--listen-port".into(),
        port.to_string(),
        "--lora-model-dir".into(),
        lora_dir.to_string_lossy().into_owned(),
    ]);
    args
}

/// Every flag `model_args`, `optimization_args` and `server_args` can emit in `dialect`.
pub fn emitted_flags(dialect: FlagDialect) -> Vec<&'static str> {
    let mut flags = vec!["-m"];
    flags.extend(DIFFUSION_COMPONENTS.iter().map(|(_, flag)| *flag));
    match dialect {
        FlagDialect::Legacy => flags.extend(["--clip-on-cpu", "--vae-on-cpu"]),
        FlagDialect::BackendAssignment => flags.push("--backend"),
    }
    flags.extend([
        "--offload-to-cpu",
        "--diffusion-fa",
        "-t",
        "--listen-ip",
        "--listen-port",
        "--lora-model-dir",
    ]);
    flags
}

/// One option of a `--help` listing: its names and its description.
struct HelpEntry<'a> {
    names: Vec<&'a str>,
    description: &'a str,
}

/// The options a `--help` text lists (`  -m, --model <string>   path to full model`).
fn help_entries(help: &str) -> impl Iterator<Item = HelpEntry<'_>> {
    help.lines().filter_map(|line| {
        let line = line.trim_start();
        if !line.starts_with('-') {
            return None;
        }
        let (head, description) = line.split_once("  ").unwrap_or((line, ""));
        let names = head
            .split([',', ' '])
            .filter(|t| t.starts_with('-'))
            .collect();
        Some(HelpEntry {
            names,
            description: description.trim(),
        })
    })
}

/// Whether `help` lists `flag` as an option.
pub fn help_lists(help: &str, flag: &str) -> bool {
    help_entries(help).any(|e| e.names.contains(&flag))
}

/// The dialect a `--help` text shows: `--backend` once `--clip-on-cpu` is gone or deprecated,
/// else the flags upstream passes.
pub fn dialect_from_help(help: &str) -> FlagDialect {
    let entry = |flag: &str| help_entries(help).find(|e| e.names.contains(&flag));
    let clip_current = entry("--clip-on-cpu")
        .is_some_and(|e| !e.description.to_ascii_lowercase().contains("deprecated"));
    if !clip_current && entry("--backend").is_some() {
        FlagDialect::BackendAssignment
    } else {
        FlagDialect::Legacy
    }
}

/// How long `--help` may take.
const HELP_TIMEOUT: Duration = Duration::from_secs(10);

/// `binary --help`'s output (stdout and stderr lines; sd.cpp prints an error line first and
/// exits 0). Blocking.
pub fn help_text(binary: &Path) -> Result<String> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    let spec = process::Spec {
        program: binary.to_path_buf(),
        args: vec!["--help".into()],
        ..Default::default()
    };
    let child = process::spawn(
        &spec,
        Arc::new(move |event| {
            if let process::Event::Stdout(line) | process::Event::Stderr(line) = event {
                let mut t = sink.lock().unwrap_or_else(|p| p.into_inner());
                t.push_str(&line);
                t.push('\n');
            }
        }),
    )
    .map_err(|e| {
        Error::server(
            format!("Failed to run {} --help: {e}", binary.display()),
            Some(json!({ "path": binary.to_string_lossy() })),
        )
    })?;
    if child.wait_timeout(HELP_TIMEOUT).is_none() {
        child.kill();
        child.wait_timeout(Duration::from_secs(2));
    }
    let text = text.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(text)
}

type DialectKey = (PathBuf, u64, Option<SystemTime>);
static DIALECTS: LazyLock<Mutex<HashMap<DialectKey, FlagDialect>>> = LazyLock::new(Mutex::default);

/// The dialect of `binary`, from its `--help`, cached per file (path, size and modification
/// time: a replaced binary is asked again). A binary that cannot be asked gets upstream's
/// flags. Blocking the first time.
pub fn detect_dialect(binary: &Path) -> FlagDialect {
    let meta = std::fs::metadata(binary).ok();
    let key = (
        binary.to_path_buf(),
        meta.as_ref().map_or(0, |m| m.len()),
        meta.and_then(|m| m.modified().ok()),
    );
    let cached = DIALECTS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .copied();
    if let Some(d) = cached {
        return d;
    }
    let Ok(help) = help_text(binary) else {
        return FlagDialect::Legacy;
    };
    let dialect = dialect_from_help(&help);
    DIALECTS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, dialect);
    dialect
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::info::ComponentInfo;

    fn model(components: Option<&[(&str, &str)]>) -> ModelInfo {
        ModelInfo {
            id: "sd".into(),
            path: "/m/sd.gguf".into(),
            components: components.map(|c| {
                c.iter()
                    .map(|(role, path)| {
                        (
                            role.to_string(),
                            ComponentInfo {
                                path: path.to_string(),
                                ..Default::default()
                            },
                        )
                    })
                    .collect()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn model_args_as_upstream() {
        assert_eq!(model_args(&model(None)).unwrap(), ["-m", "/m/sd.gguf"]);
        // Declared out of order: emitted in DIFFUSION_COMPONENT_ORDER.
        let m = model(Some(&[
            ("vae", "/v"),
            ("llm", "/l"),
            ("diffusion_model", "/d"),
        ]));
        assert_eq!(
            model_args(&m).unwrap(),
            ["--diffusion-model", "/d", "--llm", "/l", "--vae", "/v"]
        );
        let e = model_args(&model(Some(&[("vae", "/v")]))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Server error: Multi-component model is missing required diffusion_model component"
        );
        assert_eq!(e.details.unwrap()["components"], json!(["vae"]));
    }

    #[test]
    fn optimisation_args_in_both_dialects() {
        let all = BackendFlags {
            clip_on_cpu: true,
            vae_on_cpu: true,
            offload_to_cpu: true,
            diffusion_flash_attention: true,
        };
        assert_eq!(
            optimization_args(&all, FlagDialect::Legacy),
            [
                "--clip-on-cpu",
                "--vae-on-cpu",
                "--offload-to-cpu",
                "--diffusion-fa"
            ]
        );
        assert_eq!(
            optimization_args(&all, FlagDialect::BackendAssignment),
            [
                "--backend",
                "te=cpu,vae=cpu",
                "--offload-to-cpu",
                "--diffusion-fa"
            ]
        );
        let vae = BackendFlags {
            vae_on_cpu: true,
            ..Default::default()
        };
        assert_eq!(
            optimization_args(&vae, FlagDialect::BackendAssignment),
            ["--backend", "vae=cpu"]
        );
        assert!(optimization_args(&BackendFlags::default(), FlagDialect::Legacy).is_empty());
    }

    #[test]
    fn server_args_in_upstreams_order() {
        let args = server_args(
            &["-m".into(), "/m".into()],
            &["--diffusion-fa".into()],
            Some(4),
            "127.0.0.1",
            4321,
            Path::new("/loras"),
        );
        assert_eq!(
            args,
            [
                "-m",
                "/m",
                "--diffusion-fa",
                "-t",
                "4",
                "--listen-ip",
                "127.0.0.1",
                "--listen-port",
                "4321",
                "--lora-model-dir",
                "/loras"
            ]
        );
        let no_threads = server_args(&[], &[], Some(0), "::1", 1, Path::new("/l"));
        assert_eq!(no_threads[0], "--listen-ip");
    }

    #[test]
    fn dialect_from_help_texts() {
        // The pinned 0.4.7 build.
        let old = "Context Options:\n  -m, --model <string>    path to full model\n  --clip-on-cpu     keep clip in cpu (for low vram)\n  --vae-on-cpu      keep vae in cpu (for low vram)\n";
        assert_eq!(dialect_from_help(old), FlagDialect::Legacy);
        assert!(help_lists(old, "-m") && help_lists(old, "--model"));
        assert!(!help_lists(old, "--backend"));
        // A build with --backend and the old flags still current.
        let both = format!(
            "{old}  --backend <string>   runtime backend assignment, e.g. cpu or clip=cpu\n"
        );
        assert_eq!(dialect_from_help(&both), FlagDialect::Legacy);
        // sd.cpp 2026: the old flags deprecated.
        let new = "  --backend <string>   runtime backend assignment\n  --clip-on-cpu        deprecated; use --backend te=cpu\n";
        assert_eq!(dialect_from_help(new), FlagDialect::BackendAssignment);
        let gone = "  --backend <string>   runtime backend assignment\n";
        assert_eq!(dialect_from_help(gone), FlagDialect::BackendAssignment);
        // A description mentioning a flag does not list it.
        assert!(!help_lists("  --x    alias of --llm\n", "--llm"));
        assert_eq!(dialect_from_help(""), FlagDialect::Legacy);
    }
}
