//! JavaScript values as JavaScript reads them, where napi-rs's own conversions would fail with a
//! plain Error that names a Rust type ("Failed to convert js number to serde_json::Number"): an
//! id is `String(id)`; an object upstream treats as JSON is what `JSON.stringify` makes of it; a
//! configuration's fields that JSON cannot hold (NaN, ±Infinity, a function, …) are named apart
//! for core to report.

use genai_core::llama::NonJson;
use napi::bindgen_prelude::*;
use serde_json::{Map, Value};

/// An argument read as `String(value)` (upstream builds paths and messages from ids that way:
/// `getModelInfo(42)` is "Model not found: 42"). A Symbol throws, as `String(symbol)` would not
/// but a template literal does.
pub struct JsText(pub String);

impl TypeName for JsText {
    fn type_name() -> &'static str {
        "string"
    }

    fn value_type() -> ValueType {
        ValueType::String
    }
}

impl ValidateNapiValue for JsText {}

impl FromNapiValue for JsText {
    unsafe fn from_napi_value(env: sys::napi_env, napi_val: sys::napi_value) -> Result<Self> {
        let mut text = std::ptr::null_mut();
        check_status!(
            unsafe { sys::napi_coerce_to_string(env, napi_val, &mut text) },
            "Failed to convert to a string"
        )?;
        Ok(JsText(unsafe { String::from_napi_value(env, text) }?))
    }
}

/// `typeof`, for a value that has no JSON form.
fn type_of(ty: ValueType) -> &'static str {
    match ty {
        ValueType::Function => "function",
        ValueType::Symbol => "symbol",
        ValueType::Object => "object",
        ValueType::External => "external",
        _ => "bigint", // the one type napi4 does not name
    }
}

/// An object's enumerable fields in key order (`undefined` is "not given", as before); a field
/// JSON cannot hold is kept as `null` in the map, so its key still counts, and named in the list.
pub fn js_fields(env: &Env, obj: &Object) -> Result<(Map<String, Value>, Vec<NonJson>)> {
    let (mut fields, mut non_json) = (Map::new(), Vec::new());
    for key in Object::keys(obj)? {
        let value: Unknown = obj.get_named_property_unchecked(&key)?;
        let ty = value.get_type()?;
        if ty == ValueType::Undefined {
            continue;
        }
        let shown = if ty == ValueType::Number {
            let n = unsafe { f64::from_napi_value(env.raw(), value.raw()) }?;
            (!n.is_finite()).then(|| genai_core::jsnum::to_string(n))
        } else {
            None
        };
        let json = match shown {
            Some(shown) => Err(shown),
            None => unsafe { Value::from_napi_value(env.raw(), value.raw()) }
                .map_err(|_| type_of(ty).to_string()),
        };
        match json {
            Ok(v) => fields.insert(key, v),
            Err(shown) => {
                non_json.push(NonJson {
                    key: key.clone(),
                    shown,
                });
                fields.insert(key, Value::Null)
            }
        };
    }
    Ok((fields, non_json))
}

/// A value upstream reads as JSON (a `ModelInfo`, a `GPUInfo`): napi-rs's conversion, or where
/// that fails (NaN, ±Infinity, a function in an array, a `toJSON`), `JSON.stringify`'s reading of
/// it (NaN is `null` there). `undefined` is `None`. A value `JSON.stringify` throws on (a cycle,
/// a BigInt) throws that TypeError.
pub fn js_json(env: &Env, value: Unknown) -> Result<Option<Value>> {
    if value.get_type()? == ValueType::Undefined {
        return Ok(None);
    }
    if let Ok(v) = unsafe { Value::from_napi_value(env.raw(), value.raw()) } {
        return Ok(Some(v));
    }
    let json: Object = env.get_global()?.get_named_property_unchecked("JSON")?;
    let stringify: Function<Unknown, Option<String>> =
        json.get_named_property_unchecked("stringify")?;
    let Some(text) = stringify.call(value)? else {
        return Ok(None); // a function or a symbol
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::from_reason(e.to_string()))
}
