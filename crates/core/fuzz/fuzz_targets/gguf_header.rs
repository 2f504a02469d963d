//! Any bytes into the GGUF header parser and the metadata builder: never a panic, a hang or a
//! huge allocation. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run gguf_header -s none`
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = genai_core::gguf::parse_header(data) {
        let meta = genai_core::gguf::metadata::gguf_metadata(&header, true);
        let _ = genai_core::jsjson::stringify_pretty(&serde_json::Value::Object(meta));
    }
});
