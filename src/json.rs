//! Open JSON (ModelInfo, GGUF metadata) crosses as text: serialized in Rust (off the JS thread),
//! then made a JS value by the engine's own `JSON.parse` on the JS thread. napi's per-value
//! conversion of `serde_json::Value` stops at 1,000,000 values ("Exceeded maximum JSON value
//! count": seven SmolLM2 models in `listModels()`) and costs N-API calls per value; `JSON.parse`
//! has no such limit, is faster, and reads a model's JSON exactly as genai-electron does (it
//! `JSON.parse`s the file). JS code never sees the text: the binding still converts.

use napi::bindgen_prelude::*;
use napi::{JsString, JSON};
use serde::Serialize;

/// A value serialized to JSON text, becoming a JS value when it crosses to JS.
pub struct Json(std::result::Result<String, String>);

impl Json {
    /// Serializes `value` (call off the JS thread: this is the expensive half).
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Json {
        Json(serde_json::to_string(value).map_err(|e| format!("JSON serialization failed: {e}")))
    }
}

fn json_global(env: &Env) -> Result<JSON<'static>> {
    env.get_global()?.get_named_property_unchecked("JSON")
}

impl ToNapiValue for Json {
    unsafe fn to_napi_value(raw_env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let env = Env::from_raw(raw_env);
        let text = env.create_string(val.0.map_err(Error::from_reason)?)?;
        let parse: Function<JsString, Unknown> =
            json_global(&env)?.get_named_property_unchecked("parse")?;
        Ok(parse.call(text)?.raw())
    }
}

impl TypeName for Json {
    fn type_name() -> &'static str {
        "unknown"
    }

    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

/// A JS value as JSON text, by `JSON.stringify` (as genai-electron writes a model's JSON);
/// `undefined` (and functions, symbols) as `null`. Call on the JS thread.
pub fn stringify(env: &Env, value: Unknown) -> Result<String> {
    let stringify: Function<Unknown, Unknown> =
        json_global(env)?.get_named_property_unchecked("stringify")?;
    let text = stringify.call(value)?;
    match text.get_type()? {
        ValueType::String => text.coerce_to_string()?.into_utf8()?.into_owned(),
        _ => Ok("null".to_string()),
    }
}

/// Lines of text (a log's `getRecent`) crossing as one string split by the engine: one string
/// and one `split` instead of one N-API call per line (a whole 240 MiB log is 2.3M lines).
/// Joined off the JS thread; the lines hold no `\n` (they were split on it).
pub struct Lines(Option<String>);

impl Lines {
    pub fn new(lines: Vec<String>) -> Lines {
        Lines((!lines.is_empty()).then(|| lines.join("\n")))
    }
}

impl ToNapiValue for Lines {
    unsafe fn to_napi_value(raw_env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let Some(joined) = val.0 else {
            return Vec::<String>::to_napi_value(raw_env, Vec::new());
        };
        let env = Env::from_raw(raw_env);
        let text = env.create_string(joined)?;
        let split: Function<&str, Unknown> = env
            .get_global()?
            .get_named_property_unchecked::<Object>("String")?
            .get_named_property_unchecked::<Object>("prototype")?
            .get_named_property_unchecked("split")?;
        Ok(split.apply(text, "\n")?.raw())
    }
}

impl TypeName for Lines {
    fn type_name() -> &'static str {
        "string[]"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}
