//! Regression corpus of hostile GGUF headers (tests/fixtures/gguf-corpus, plus anything the
//! fuzzer found): each parses to a clear result without a panic, a hang or a huge allocation.
//! The out-of-memory reproducers of issue 9 are here cut to their first 4 KiB (a limit must
//! refuse them from their counts alone); tests/gguf_limits.rs reads the full-size ones.

use genai_core::gguf::{metadata::gguf_metadata, parse_header, ParseError};
use std::path::Path;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf-corpus");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("corpus folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "gguf"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_nasty_file_gets_a_clear_answer() {
    let files = corpus();
    assert!(files.len() >= 28);
    for (name, data) in &files {
        let started = std::time::Instant::now();
        let result = parse_header(data);
        assert!(started.elapsed().as_secs() < 2, "{name} took too long");
        match (&result, name.as_str()) {
            (
                Ok(h),
                "v1-lengths.gguf"
                | "invalid-utf8-key.gguf"
                | "arch-not-string.gguf"
                | "nan-and-inf.gguf",
            ) => {
                // Well-formed but odd: the metadata builder must cope too.
                let meta = gguf_metadata(h, true);
                let text = genai_core::jsjson::stringify_pretty(&serde_json::Value::Object(meta));
                assert!(
                    !text.contains("NaN") && !text.contains("inf"),
                    "{name}: {text}"
                );
            }
            (Ok(_), _) => panic!("{name} should not parse"),
            (Err(ParseError::Truncated { need }), _) => {
                assert!(*need > data.len() as u64, "{name}")
            }
            (Err(ParseError::Invalid(msg)), _) => assert!(!msg.is_empty(), "{name}"),
        }
    }
}

#[test]
fn specific_answers() {
    let get = |n: &str| {
        corpus()
            .into_iter()
            .find(|(name, _)| name == n)
            .map(|(_, d)| d)
            .unwrap()
    };
    assert_eq!(
        parse_header(&get("bad-magic.gguf")),
        Err(ParseError::Invalid("not a GGUF file (bad magic)".into()))
    );
    assert_eq!(
        parse_header(&get("version-99.gguf")),
        Err(ParseError::Invalid("unsupported GGUF version 99".into()))
    );
    assert!(matches!(
        parse_header(&get("array-count-1e6-no-data.gguf")),
        Err(ParseError::Truncated { .. })
    ));
    // @huggingface/gguf's limits, with its messages: refused before any value is built.
    for (file, message) in [
        (
            "array-u8-16mib.gguf",
            "Metadata array length 16777216 exceeds maximum allowed (1000000)",
        ),
        (
            "array-u8-64mib.gguf",
            "Metadata array length 67108864 exceeds maximum allowed (1000000)",
        ),
        (
            "array-1e6-plus-1.gguf",
            "Metadata array length 1000001 exceeds maximum allowed (1000000)",
        ),
        (
            "array-unknown-element-empty.gguf",
            "Unsupported array element type: 99",
        ),
        (
            "kv-count-100001.gguf",
            "KV metadata count 100001 exceeds maximum allowed (100000)",
        ),
        (
            "tensor-count-131073.gguf",
            "Tensor count 131073 exceeds maximum allowed (131072)",
        ),
        (
            "string-len-1e7-plus-1.gguf",
            "String length 10000001 exceeds maximum allowed (10000000)",
        ),
        (
            "nested-arrays-depth-4.gguf",
            "Nested ARRAY depth 4 exceeds maximum allowed (4)",
        ),
    ] {
        assert_eq!(
            parse_header(&get(file)),
            Err(ParseError::Invalid(message.into())),
            "{file}"
        );
    }
    let h = parse_header(&get("arch-not-string.gguf")).unwrap();
    assert!(
        !gguf_metadata(&h, true).contains_key("block_count"),
        "no arch string, no arch fields"
    );
}
