//! Any bytes into the GGUF header parser, the metadata builder and the JSON text that crosses to
//! JS: never a panic, a hang or a huge allocation. Run from crates/core, seeded with the hostile
//! corpus (new inputs go to the first folder) and under a memory limit:
//! `mkdir -p fuzz/corpus/gguf_header && RUSTC_BOOTSTRAP=1 cargo fuzz run gguf_header -s none
//! fuzz/corpus/gguf_header tests/fixtures/gguf-corpus -- -rss_limit_mb=512 -max_total_time=300`
//! (add `-max_len=1048576` for headers up to 1 MiB; far larger inputs make libFuzzer's in-memory
//! corpus, not the target, pass the limit).
#![no_main]

use genai_core::gguf::metadata::{gguf_metadata, MetadataJson, TensorsJson};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = genai_core::gguf::parse_header(data) {
        let meta = gguf_metadata(&header, true);
        let _ = genai_core::jsjson::stringify_pretty(&serde_json::Value::Object(meta));
        let _ = serde_json::to_string(&MetadataJson(&header));
        let _ = serde_json::to_string(&TensorsJson(&header.tensors));
    }
});
