//! Model ids, file names and shard names, exactly as genai-electron derives them.

use crate::files::sanitize_filename;

/// `generateModelId(name)`: lowercase, whitespace runs → `-`, drop `[^a-z0-9-]`, collapse `-`,
/// trim one leading and one trailing `-`.
pub fn model_id(name: &str) -> String {
    let dashed = crate::files::collapse_js_space(&name.to_lowercase(), "-");
    let mut id = String::with_capacity(dashed.len());
    for c in dashed
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
    {
        if !(c == '-' && id.ends_with('-')) {
            id.push(c);
        }
    }
    let id = id.strip_prefix('-').unwrap_or(&id);
    id.strip_suffix('-').unwrap_or(id).to_string()
}

/// `extractFilename(url, fallback)`: the sanitized fallback, else the sanitized last path
/// segment of the URL (still percent-encoded), else `model.gguf` for an unparsable URL.
pub fn extract_filename(url: &str, fallback: Option<&str>) -> String {
    if let Some(f) = fallback.filter(|f| !f.is_empty()) {
        return sanitize_filename(f);
    }
    match url::Url::parse(url) {
        Ok(u) => {
            let path = u.path().trim_end_matches('/');
            sanitize_filename(path.rsplit('/').next().unwrap_or(""))
        }
        Err(_) => "model.gguf".into(),
    }
}

pub fn is_gguf(file: &str) -> bool {
    file.to_lowercase().ends_with(".gguf")
}

/// The extra shard names for a `-00001-of-0000N.gguf` primary (`resolveShardFilenames`), or the
/// explicit `shardFiles`. Errors carry genai-electron's messages and suggestions.
pub fn extra_shards(
    primary: &str,
    explicit: Option<&[String]>,
) -> Result<Vec<String>, (String, String)> {
    if let Some(list) = explicit.filter(|l| !l.is_empty()) {
        return Ok(list.to_vec());
    }
    let lower = primary.to_ascii_lowercase();
    let Some(stem_len) = lower.strip_suffix(".gguf").map(str::len) else {
        return Ok(Vec::new());
    };
    // `<prefix>-NNNNN-of-NNNNN.gguf`: the last 15 characters before `.gguf`.
    let stem = &primary[..stem_len];
    let b = stem.as_bytes();
    let shaped = b.len() >= 16
        && b[b.len() - 15] == b'-'
        && b[b.len() - 9..b.len() - 5].eq_ignore_ascii_case(b"-of-")
        && b[b.len() - 14..b.len() - 9].iter().all(u8::is_ascii_digit)
        && b[b.len() - 5..].iter().all(u8::is_ascii_digit);
    if !shaped {
        return Ok(Vec::new());
    }
    let prefix = &stem[..stem.len() - 15];
    let index: u32 = stem[stem.len() - 14..stem.len() - 9].parse().unwrap_or(0);
    let total_text = &stem[stem.len() - 5..];
    let total: u32 = total_text.parse().unwrap_or(0);
    if total <= 1 {
        return Ok(Vec::new());
    }
    if index != 1 {
        return Err((
            format!("Multi-shard model download must point at the FIRST shard (got shard {index} of {total}): {primary}"),
            format!("Use the -00001-of-{total_text} file; the remaining shards are downloaded automatically"),
        ));
    }
    if total > 500 {
        return Err((
            format!("Implausible shard count {total} in filename: {primary} (max supported: 500)"),
            "Check the filename, or list the shards explicitly via shardFiles".into(),
        ));
    }
    let suffix = &primary[prefix.len() + 6..];
    Ok((2..=total)
        .map(|i| format!("{prefix}-{i:05}{suffix}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(model_id("My Model (Q4_K_M) v2"), "my-model-q4km-v2");
        assert_eq!(model_id("  --Llama 3.2  3B--  "), "llama-32-3b");
        assert_eq!(model_id("SmolLM2 135M"), "smollm2-135m");
        assert_eq!(model_id("日本語"), "");
    }

    #[test]
    fn filenames() {
        assert_eq!(
            extract_filename("https://x.test/a/b/My%20Model.gguf?x=1", None),
            "My%20Model.gguf"
        );
        assert_eq!(extract_filename("https://x.test/a/", None), "a");
        assert_eq!(extract_filename("::bad", None), "model.gguf");
        assert_eq!(
            extract_filename("https://x", Some("sub/dir/x.gguf")),
            "subdirx.gguf"
        );
    }

    #[test]
    fn shards() {
        assert_eq!(
            extra_shards("Big-Q4-00001-of-00003.gguf", None).unwrap(),
            vec!["Big-Q4-00002-of-00003.gguf", "Big-Q4-00003-of-00003.gguf"]
        );
        assert_eq!(
            extra_shards("x-00001-OF-00002.GGUF", None).unwrap(),
            vec!["x-00002-OF-00002.GGUF"]
        );
        assert!(extra_shards("x.gguf", None).unwrap().is_empty());
        assert!(extra_shards("x-00001-of-00001.gguf", None)
            .unwrap()
            .is_empty());
        let (msg, hint) = extra_shards("x-00002-of-00003.gguf", None).unwrap_err();
        assert_eq!(msg, "Multi-shard model download must point at the FIRST shard (got shard 2 of 3): x-00002-of-00003.gguf");
        assert_eq!(
            hint,
            "Use the -00001-of-00003 file; the remaining shards are downloaded automatically"
        );
        assert!(extra_shards("x-00001-of-00501.gguf", None)
            .unwrap_err()
            .0
            .starts_with("Implausible shard count 501"));
        let explicit = vec!["b.gguf".to_string()];
        assert_eq!(extra_shards("a.gguf", Some(&explicit)).unwrap(), explicit);
    }
}
