//! Reasoning-model detection by file name (genai-electron's `REASONING_MODEL_PATTERNS`).

pub const REASONING_MODEL_PATTERNS: [&str; 3] = ["qwen3", "deepseek-r1", "gpt-oss"];

/// Case-insensitive substring test against [`REASONING_MODEL_PATTERNS`].
pub fn detect_reasoning_support(filename: &str) -> bool {
    let lower = filename.to_lowercase();
    REASONING_MODEL_PATTERNS.iter().any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(detect_reasoning_support("Qwen3.5-7B-Q4_K_M.gguf"));
        assert!(detect_reasoning_support(
            "x-DeepSeek-R1-Distill-Llama-8B.gguf"
        ));
        assert!(detect_reasoning_support("gpt-oss-20b.gguf"));
        assert!(!detect_reasoning_support("Llama-3.2-3B.gguf"));
    }
}
