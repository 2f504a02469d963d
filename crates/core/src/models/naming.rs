//! Model ids, file names and shard names, as genai-electron derives them, and the rules a
//! name must meet before it becomes a path under `models/<type>/`.

use super::source::download_error;
use crate::files::sanitize_filename;
use crate::{Error, ErrorCode};
use serde_json::json;

/// The longest model id (its metadata file, `<id>.json` plus a temporary suffix, stays well
/// under the 255 bytes a file name may have).
pub const MAX_ID_LEN: usize = 200;

/// Names Windows keeps for devices (`nul.json` is no file there), refused on every OS so that a
/// data folder means the same everywhere.
const DEVICE_NAMES: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

fn is_device_name(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    DEVICE_NAMES.iter().any(|d| stem.eq_ignore_ascii_case(d))
}

/// Why `id` cannot be a model id, or `None` when it can: 1 to 200 ASCII letters, digits, `.`,
/// `_` or `-`, not starting with `.`, not a device name. Every id `generateModelId` makes from a
/// name with an ASCII letter or digit passes; `..`, `a/b` and `` do not.
pub fn id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        Some("the id is empty")
    } else if id.len() > MAX_ID_LEN {
        Some("the id is longer than 200 characters")
    } else if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Some("an id may hold only ASCII letters, digits, '.', '_' and '-'")
    } else if id.starts_with('.') {
        Some("an id may not start with '.'")
    } else if is_device_name(id) {
        Some("the id is a device name on Windows")
    } else {
        None
    }
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A model id given to storage (load, save, delete, verify, the metadata path): a
/// FileSystemError when it breaks the rules of [`id_problem`].
pub fn check_model_id(id: &str) -> crate::Result<()> {
    match id_problem(id) {
        None => Ok(()),
        Some(why) => Err(Error::new(
            ErrorCode::FileSystem,
            format!("Invalid model id {}: {why}", quoted(id)),
            Some(json!({ "modelId": id })),
        )),
    }
}

/// The id `downloadModel` gives the model named `name` (`generateModelId`), or a DownloadError
/// when that id breaks the rules (upstream saves a name without ASCII letters or digits as
/// `.json`).
pub fn download_model_id(name: &str) -> crate::Result<String> {
    let id = model_id(name);
    match id_problem(&id) {
        None => Ok(id),
        Some(why) => Err(download_error(
            format!("Invalid model name {}: {why}", quoted(name)),
            Some(json!({
                "name": name,
                "modelId": id,
                "suggestion": "Use a name with at least one ASCII letter or digit (the id keeps a-z, 0-9 and '-')",
            })),
        )),
    }
}

/// The folder of a multi-component model: `generateModelId(modelDirectory)`, or the model id
/// when none is given. A directory that slugs to nothing would be `models/<type>/` itself
/// (where other models' files live): a DownloadError.
pub fn model_directory(model_directory: Option<&str>, id: &str) -> crate::Result<String> {
    let Some(dir) = model_directory.filter(|d| !d.is_empty()) else {
        return Ok(id.to_string());
    };
    let slug = model_id(dir);
    match id_problem(&slug) {
        None => Ok(slug),
        Some(why) => Err(download_error(
            format!("Invalid modelDirectory {}: {why}", quoted(dir)),
            Some(json!({
                "modelDirectory": dir,
                "suggestion": "Use a modelDirectory with at least one ASCII letter or digit",
            })),
        )),
    }
}

/// The sanitized file name a download writes (`extractFilename`), refused when it names no
/// file of its own: empty (`http://host/`), `.`, `..` or a device name.
pub fn download_file_name(url: &str, fallback: Option<&str>) -> crate::Result<String> {
    let name = extract_filename(url, fallback);
    if name.is_empty() {
        return Err(download_error(
            format!("No file name in the URL: {url}"),
            Some(json!({
                "url": url,
                "suggestion": "Use a URL whose path ends in the file name (https://host/path/model.gguf)",
            })),
        ));
    }
    check_file_name(&name)?;
    Ok(name)
}

/// A sanitized file name that is empty, `.`, `..` or a device name: a DownloadError.
pub fn check_file_name(name: &str) -> crate::Result<()> {
    if name.is_empty() || name == "." || name == ".." || is_device_name(name) {
        return Err(download_error(
            format!("Invalid file name: {}", quoted(name)),
            Some(json!({ "filename": name })),
        ));
    }
    Ok(())
}

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
    fn id_rules() {
        for ok in ["smollm2-135m", "a", "Qwen3_4B.v2", &"x".repeat(200)] {
            assert_eq!(id_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "..",
            ".",
            ".hidden",
            "a/b",
            "..\\x",
            "a b",
            "日本",
            "nul",
            "COM1.x",
            &"x".repeat(201),
        ] {
            assert!(id_problem(bad).is_some(), "{bad}");
        }
        let e = check_model_id("../x").unwrap_err();
        assert_eq!(e.code, ErrorCode::FileSystem);
        assert_eq!(
            e.to_string(),
            "File system error: Invalid model id \"../x\": an id may hold only ASCII letters, digits, '.', '_' and '-'"
        );
        let e = download_model_id("日本語").unwrap_err();
        assert_eq!(e.code, ErrorCode::DownloadFailed);
        assert_eq!(e.message, "Invalid model name \"日本語\": the id is empty");
        assert_eq!(download_model_id("My Model").unwrap(), "my-model");
    }

    #[test]
    fn model_directories() {
        assert_eq!(model_directory(None, "m").unwrap(), "m");
        assert_eq!(model_directory(Some(""), "m").unwrap(), "m");
        assert_eq!(
            model_directory(Some("Flux Shared"), "m").unwrap(),
            "flux-shared"
        );
        for bad in ["..", "!!!", "模型", "-", "Nul"] {
            let e = model_directory(Some(bad), "m").unwrap_err();
            assert!(e.message.starts_with("Invalid modelDirectory"), "{bad}");
        }
    }

    #[test]
    fn download_file_names() {
        assert_eq!(
            download_file_name("http://h/a/m.gguf", None).unwrap(),
            "m.gguf"
        );
        let e = download_file_name("http://h/", None).unwrap_err();
        assert_eq!(e.message, "No file name in the URL: http://h/");
        assert!(download_file_name("http://h/x", Some("..")).is_err());
        assert!(download_file_name("http://h/x", Some("nul.gguf")).is_err());
        assert_eq!(
            download_file_name("http://h/x", Some("a/..")).unwrap(),
            "a.."
        );
        assert!(check_file_name("").is_err() && check_file_name("m.gguf").is_ok());
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
