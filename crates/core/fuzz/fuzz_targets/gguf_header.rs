//! Any bytes into the GGUF header parser, the metadata builder and the JSON text that crosses to
//! JS: never a panic, a hang or a huge allocation. Run (seeded with the hostile corpus, under a
//! memory limit): `RUSTC_BOOTSTRAP=1 cargo fuzz run gguf_header -s none
//! ../tests/fixtures/gguf-corpus -- -rss_limit_mb=512`
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
