//! Hugging Face URLs (`getHuggingFaceURL`, `parseHuggingFaceURL`, `isHuggingFaceURL`) and the
//! optional `HF_TOKEN` bearer token for gated repositories.

/// JavaScript's `encodeURIComponent`.
pub fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// JavaScript's `decodeURIComponent`; `None` where JS throws (malformed `%` or UTF-8).
pub fn decode_uri_component(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `getHuggingFaceURL(repo, file, revision = 'main')`: each path segment of `file` encoded,
/// the revision encoded whole (`refs/pr/1` → `refs%2Fpr%2F1`), `repo` as given.
/// The revision a Hugging Face source uses when none is given.
pub const DEFAULT_REVISION: &str = "main";

pub fn hf_url(repo: &str, file: &str, revision: &str) -> Result<String, String> {
    if revision.trim().is_empty() {
        return Err("Hugging Face revision must be a non-empty string".into());
    }
    let file: Vec<String> = file.split('/').map(encode_uri_component).collect();
    Ok(format!(
        "https://huggingface.co/{repo}/resolve/{}/{}",
        encode_uri_component(revision),
        file.join("/")
    ))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfRef {
    pub repo: String,
    pub revision: String,
    pub file: String,
}

/// `parseHuggingFaceURL(url)`: `https://huggingface.co/<owner>/<repo>/resolve/<rev>/<path…>`
/// (or a single-segment repo); `None` for anything else.
pub fn parse_hf_url(url: &str) -> Option<HfRef> {
    let parsed = url::Url::parse(url).ok()?;
    if parsed.host_str()? != "huggingface.co" {
        return None;
    }
    let parts: Vec<&str> = parsed.path().split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() < 4 {
        return None;
    }
    let at = if parts[2] == "resolve" && parts.len() >= 5 {
        2
    } else if parts[1] == "resolve" {
        1
    } else {
        return None;
    };
    let (revision, file) = (parts.get(at + 1)?, &parts[at + 2..]);
    if file.is_empty() {
        return None;
    }
    Some(HfRef {
        repo: parts[..at].join("/"),
        revision: decode_uri_component(revision)?,
        file: decode_uri_component(&file.join("/"))?,
    })
}

/// `isHuggingFaceURL(url)`.
pub fn is_hf_url(url: &str) -> bool {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(|h| h == "huggingface.co"))
        .unwrap_or(false)
}

/// The `Authorization` header for a Hugging Face URL when `HF_TOKEN` is set (never sent to other
/// hosts; reqwest drops it on a redirect to another host such as the CDN).
pub fn auth_header(url: &str) -> Option<String> {
    let host = url::Url::parse(url).ok()?.host_str()?.to_string();
    if host != "huggingface.co" && host != "hf.co" {
        return None;
    }
    let token = std::env::var("HF_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())?;
    Some(format!("Bearer {}", token.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_urls_like_upstream() {
        assert_eq!(
            hf_url("TheBloke/Llama-2-7B-GGUF", "llama-2-7b.Q4_K_M.gguf", "main").unwrap(),
            "https://huggingface.co/TheBloke/Llama-2-7B-GGUF/resolve/main/llama-2-7b.Q4_K_M.gguf"
        );
        assert_eq!(
            hf_url("o/r", "sub dir/a+b.gguf", "refs/pr/1").unwrap(),
            "https://huggingface.co/o/r/resolve/refs%2Fpr%2F1/sub%20dir/a%2Bb.gguf"
        );
        assert_eq!(
            hf_url("o/r", "x", "  ").unwrap_err(),
            "Hugging Face revision must be a non-empty string"
        );
    }

    #[test]
    fn parses_urls_like_upstream() {
        let r = parse_hf_url(
            "https://huggingface.co/o/r/resolve/refs%2Fpr%2F1/sub%20dir/x.gguf?download=true",
        )
        .unwrap();
        assert_eq!(
            r,
            HfRef {
                repo: "o/r".into(),
                revision: "refs/pr/1".into(),
                file: "sub dir/x.gguf".into()
            }
        );
        let single = parse_hf_url("https://huggingface.co/gpt2/resolve/main/model.gguf").unwrap();
        assert_eq!(
            (single.repo.as_str(), single.file.as_str()),
            ("gpt2", "model.gguf")
        );
        assert_eq!(
            parse_hf_url("https://huggingface.co/o/r/blob/main/x.gguf"),
            None
        );
        assert_eq!(
            parse_hf_url("https://example.com/o/r/resolve/main/x.gguf"),
            None
        );
        assert_eq!(
            parse_hf_url("https://huggingface.co/o/r/resolve/main/%E0%A4%A"),
            None
        );
        assert_eq!(parse_hf_url("not a url"), None);
        assert!(is_hf_url("https://huggingface.co/x"));
        assert!(!is_hf_url("https://hf.example/x"));
    }

    #[test]
    fn token_only_for_hugging_face() {
        // The only test that touches HF_TOKEN.
        std::env::set_var("HF_TOKEN", " hf_abc ");
        assert_eq!(
            auth_header("https://huggingface.co/o/r/resolve/main/x.gguf").as_deref(),
            Some("Bearer hf_abc")
        );
        assert_eq!(
            auth_header("https://hf.co/o/r/resolve/main/x.gguf").as_deref(),
            Some("Bearer hf_abc")
        );
        assert_eq!(auth_header("https://cdn-lfs.hf.co/x"), None);
        assert_eq!(auth_header("http://127.0.0.1:8080/x"), None);
        std::env::remove_var("HF_TOKEN");
        assert_eq!(auth_header("https://huggingface.co/x"), None);
    }

    #[test]
    fn encoding_round_trips() {
        let s = "ünï code/ +&?#";
        assert_eq!(
            decode_uri_component(&encode_uri_component(s)).as_deref(),
            Some(s)
        );
        assert_eq!(
            encode_uri_component("a-b_c.d!e~f*g'h(i)j"),
            "a-b_c.d!e~f*g'h(i)j"
        );
    }
}
