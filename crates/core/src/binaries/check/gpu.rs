//! Upstream's GPU-error patterns (`BinaryManager.GPU_ERROR_PATTERNS`, 0.26.0), matched by hand:
//! each is anchored at the start of the line (after upstream's trim and its `[...]` tags), case
//! insensitive, with an optional `<ggml|llama|...>[\w.-]*:` source prefix, and ends at a word
//! boundary.

/// One piece of a pattern's body.
#[derive(Clone, Copy)]
enum Tok {
    Lit(&'static str),
    /// `\s*`
    Spaces,
    /// `(?:\s+|_)`
    SpacesOrUnderscore,
}

struct Pattern {
    label: &'static str,
    /// The optional source prefix's first word (`ggml`, `llama`, ...); empty: no prefix.
    prefixes: &'static [&'static str],
    /// The prefix may end in `\s+failed` before its `:` (`out of memory`).
    prefix_failed: bool,
    body: &'static [Tok],
}

const ALL: &[&str] = &["ggml", "llama", "cuda", "vulkan", "gpu"];

const PATTERNS: &[Pattern] = &[
    Pattern {
        label: "cuda error",
        prefixes: &["ggml", "llama", "cuda", "gpu"],
        prefix_failed: false,
        body: &[Tok::Lit("cuda"), Tok::SpacesOrUnderscore, Tok::Lit("error")],
    },
    Pattern {
        label: "failed to allocate",
        prefixes: ALL,
        prefix_failed: false,
        body: &[Tok::Lit("failed to allocate")],
    },
    Pattern {
        label: "vkcreatedevice failed",
        prefixes: &[],
        prefix_failed: false,
        body: &[Tok::Lit("vkcreatedevice failed")],
    },
    Pattern {
        label: "vulkan error",
        prefixes: &["ggml", "vulkan", "gpu"],
        prefix_failed: false,
        body: &[Tok::Lit("vulkan error")],
    },
    Pattern {
        label: "gpu error",
        prefixes: ALL,
        prefix_failed: false,
        body: &[Tok::Lit("gpu error")],
    },
    Pattern {
        label: "out of memory",
        prefixes: ALL,
        prefix_failed: true,
        body: &[Tok::Lit("out of memory")],
    },
    Pattern {
        label: "llama_model_load: error",
        prefixes: &[],
        prefix_failed: false,
        body: &[
            Tok::Lit("llama_model_load:"),
            Tok::Spaces,
            Tok::Lit("error"),
        ],
    },
    Pattern {
        label: "failed to load model",
        prefixes: &[],
        prefix_failed: false,
        body: &[Tok::Lit("failed to load model")],
    },
    Pattern {
        label: "error: invalid argument",
        prefixes: &[],
        prefix_failed: false,
        body: &[
            Tok::Lit("error:"),
            Tok::Spaces,
            Tok::Lit("invalid argument"),
        ],
    },
];

/// JavaScript's `\w`.
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn skip_spaces(s: &str) -> &str {
    s.trim_start_matches(char::is_whitespace)
}

/// `s` after the body, if it starts with it.
fn body<'a>(mut s: &'a str, toks: &[Tok]) -> Option<&'a str> {
    for tok in toks {
        s = match *tok {
            Tok::Lit(lit) => s.strip_prefix(lit)?,
            Tok::Spaces => skip_spaces(s),
            Tok::SpacesOrUnderscore => match s.strip_prefix('_') {
                Some(rest) => rest,
                None if s.starts_with(char::is_whitespace) => skip_spaces(s),
                None => return None,
            },
        };
    }
    Some(s)
}

/// `s` after the source prefix `<word>[\w.-]*(?:\s+failed)?:\s*`, if it has one.
fn after_prefix<'a>(s: &'a str, p: &Pattern) -> Option<&'a str> {
    if !p.prefixes.iter().any(|w| s.starts_with(w)) {
        return None;
    }
    let rest = s.trim_start_matches(|c: char| is_word(c) || c == '.' || c == '-');
    let rest = match rest.strip_prefix(':') {
        Some(r) => r,
        None if p.prefix_failed && rest.starts_with(char::is_whitespace) => skip_spaces(rest)
            .strip_prefix("failed")?
            .strip_prefix(':')?,
        None => return None,
    };
    Some(skip_spaces(rest))
}

fn matches(line: &str, p: &Pattern) -> bool {
    let ends_word = |rest: &str| !rest.starts_with(is_word);
    let prefixed = after_prefix(line, p).and_then(|s| body(s, p.body));
    prefixed.is_some_and(ends_word) || body(line, p.body).is_some_and(ends_word)
}

/// Upstream's trim, then its leading `[tag]` groups (`[INFO] [ggml] ...`) removed.
fn strip_tags(line: &str) -> &str {
    let mut s = line.trim();
    while let Some(rest) = s.strip_prefix('[') {
        match rest.find(']') {
            Some(end) if end > 0 => s = skip_spaces(&rest[end + 1..]),
            _ => break,
        }
    }
    s
}

/// Upstream's GPU-error patterns (line-anchored, case-insensitive): the label of the first one
/// that `line` matches.
pub fn gpu_error(line: &str) -> Option<&'static str> {
    let line = strip_tags(line).to_ascii_lowercase();
    PATTERNS.iter().find(|p| matches(&line, p)).map(|p| p.label)
}

#[cfg(test)]
mod tests {
    use super::gpu_error;

    #[test]
    fn every_pattern_matches_its_examples() {
        let cases = [
            ("CUDA error: out of memory", "cuda error"),
            ("ggml_cuda: CUDA error: out of memory", "cuda error"),
            ("ggml-cuda.cu: cuda_error 2", "cuda error"),
            (
                "  [INFO] [ggml] cuda   error at ggml-cuda.cu:123",
                "cuda error",
            ),
            ("failed to allocate buffer", "failed to allocate"),
            (
                "ggml_backend_cuda_buffer_type_alloc_buffer: failed to allocate CUDA0 buffer",
                "failed to allocate",
            ),
            ("vulkan: Failed to allocate memory", "failed to allocate"),
            ("vkCreateDevice failed", "vkcreatedevice failed"),
            ("ggml_vulkan: Vulkan error", "vulkan error"),
            ("Vulkan error: device lost", "vulkan error"),
            ("GPU error detected", "gpu error"),
            ("llama.cpp: gpu error", "gpu error"),
            ("out of memory", "out of memory"),
            ("cuda failed: out of memory", "out of memory"),
            ("ggml failed: out of memory", "out of memory"),
            (
                "ggml_cuda_host_malloc failed: out of memory",
                "out of memory",
            ),
            (
                "llama_model_load: error loading model: bad magic",
                "llama_model_load: error",
            ),
            ("llama_model_load:error", "llama_model_load: error"),
            ("failed to load model 'x.gguf'", "failed to load model"),
            ("[ERROR] failed to load model", "failed to load model"),
            ("error: invalid argument: --foo", "error: invalid argument"),
            ("ERROR:   Invalid Argument", "error: invalid argument"),
        ];
        for (line, label) in cases {
            assert_eq!(gpu_error(line), Some(label), "{line:?}");
        }
    }

    #[test]
    fn near_misses_do_not_match() {
        for line in [
            "there was no cuda error",
            "main: no CUDA error here",
            "model: failed to allocate",
            "llama_init: tried, failed to allocate",
            "some_tool: out of memory",
            "vulkan: cuda error",
            "ggml: vulkan errors",
            "cuda errors were reported",
            "cudaerror",
            "cuda-error",
            "out of memoryless",
            "failed to load models",
            "error: invalid arguments",
            "[] cuda error",
            "[unterminated cuda error",
            "vkcreatedevice failedx",
            "llama_model_load: errors",
            "",
            "[INFO]",
        ] {
            assert_eq!(gpu_error(line), None, "{line:?}");
        }
    }
}
