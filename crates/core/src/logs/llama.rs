//! llama.cpp's output mapped to log levels, for both its old and its modern line formats.

use super::Level;

/// Modern llama.cpp prefix `0.00.344.987 I ` → (level letter, rest).
fn modern_prefix(line: &str) -> Option<(char, &str)> {
    let (stamp, rest) = line.split_once(' ')?;
    if stamp.is_empty()
        || !stamp.chars().all(|c| c.is_ascii_digit() || c == '.')
        || stamp.matches('.').count() < 2
    {
        return None;
    }
    let mut chars = rest.chars();
    let letter = chars.next()?;
    let rest = chars.as_str();
    (matches!(letter, 'I' | 'W' | 'E' | 'D') && rest.starts_with(' '))
        .then(|| (letter, rest.trim_start()))
}

/// A llama.cpp output line → (level, message to log). Modern lines keep their own level (an
/// `I` line still gets genai-electron's heuristics, which demote template dumps and slot noise);
/// old lines get the heuristics and lose an existing `[..] [..]` prefix.
pub fn classify_llama_line(line: &str) -> (Level, String) {
    if let Some((letter, rest)) = modern_prefix(line) {
        let level = match letter {
            'E' => Level::Error,
            'W' => Level::Warn,
            'D' => Level::Debug,
            _ => llama_level(rest),
        };
        return (level, rest.to_string());
    }
    (llama_level(line), strip_llama_formatting(line).to_string())
}

/// genai-electron's `parseLlamaCppLogLevel` heuristics.
pub fn llama_level(line: &str) -> Level {
    let l = line.to_lowercase();
    let has = |s: &str| l.contains(s);
    let status = |first: &[u8]| {
        let b = l.as_bytes();
        (0..b.len().saturating_sub(3)).any(|i| {
            b[i].is_ascii_whitespace()
                && first.contains(&b[i + 1])
                && b[i + 2].is_ascii_digit()
                && b[i + 3].is_ascii_digit()
                && b.get(i + 4).is_none_or(|c| c.is_ascii_whitespace())
        })
    };
    if has("{%") || has("{{") || has("example_format:") {
        Level::Debug
    } else if has("request:") && status(b"2") {
        Level::Info
    } else if has("request:") && status(b"45") {
        Level::Error
    } else if has("slot")
        && [
            "update_slots",
            "launch_slot",
            "release",
            "get_availabl",
            "print_timing",
        ]
        .iter()
        .any(|s| has(s))
    {
        Level::Debug
    } else if [
        "server is listening",
        "all slots are idle",
        "main:",
        "params_from_",
    ]
    .iter()
    .any(|s| has(s))
    {
        Level::Info
    } else if ["failed", "error:", "exception", "fatal"]
        .iter()
        .any(|s| has(s))
    {
        Level::Error
    } else if has("warn") {
        Level::Warn
    } else {
        Level::Info
    }
}

/// genai-electron's `stripLlamaCppFormatting`: drops a `[a] [b] ` (or `[a] `) prefix.
pub fn strip_llama_formatting(line: &str) -> &str {
    fn bracket(s: &str) -> Option<&str> {
        let rest = s.strip_prefix('[')?;
        let end = rest.find(']')?;
        (end > 0).then(|| rest[end + 1..].trim_start())
    }
    // `[a] [b] msg`, possibly after other text
    fn two(s: &str) -> Option<&str> {
        bracket(s)
            .and_then(bracket)
            .filter(|m| !m.trim().is_empty())
    }
    if let Some(m) = two(line) {
        return m.trim();
    }
    if let Some(m) = line
        .char_indices()
        .filter(|(_, c)| *c == '[')
        .find_map(|(i, _)| two(&line[i..]))
    {
        return m.trim();
    }
    match bracket(line).filter(|m| !m.trim().is_empty()) {
        Some(m) => m.trim(),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama_lines() {
        assert_eq!(
            classify_llama_line(
                "0.00.344.987 I srv  llama_server: listening on http://127.0.0.1:18080"
            ),
            (
                Level::Info,
                "srv  llama_server: listening on http://127.0.0.1:18080".into()
            )
        );
        assert_eq!(
            classify_llama_line("0.01.000.001 W load: special tokens cache size = 17").0,
            Level::Warn
        );
        assert_eq!(
            classify_llama_line("0.01.000.001 E main: failed to load model").0,
            Level::Error
        );
        assert_eq!(
            classify_llama_line(
                "0.01.000.001 I slot launch_slot_: id  0 | task 0 | processing task"
            )
            .0,
            Level::Debug
        );
        assert_eq!(
            llama_level("srv  log_server_r: request: POST /v1/chat/completions 127.0.0.1 200"),
            Level::Info
        );
        assert_eq!(
            llama_level("srv  log_server_r: request: GET /health 127.0.0.1 503"),
            Level::Error
        );
        assert_eq!(llama_level("{{- bos_token }}"), Level::Debug);
        assert_eq!(
            llama_level("llama_model_load: error: failed to open"),
            Level::Error
        );
        assert_eq!(llama_level("warning: no usable GPU found"), Level::Warn);
        assert_eq!(
            llama_level("load_tensors: CPU model buffer size = 69.58 MiB"),
            Level::Info
        );
        assert_eq!(
            strip_llama_formatting("[1700000000] [INFO] model loaded"),
            "model loaded"
        );
        assert_eq!(strip_llama_formatting("prefix [a] [b] msg"), "msg");
        assert_eq!(strip_llama_formatting("[ts] msg"), "msg");
        assert_eq!(strip_llama_formatting("plain line"), "plain line");
    }
}
