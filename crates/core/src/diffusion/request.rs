//! Strict validation of an `ImageGenerationConfig` (without `onProgress`) into an `ImageRequest`:
//! the front's POST body and `generateImage()`'s argument go through the same rules.
//!
//! genai-electron's own front checks run first, with its messages: malformed JSON, a falsy
//! `prompt` (`Missing required field: prompt`), `count` below 1 or above 5, a `usageMode` other
//! than `burst`/`single`. Then ours (upstream passes these to sd-server unchecked), each message
//! naming the field: unknown fields, wrong types, whole numbers and ranges.
//!
//! `null`: upstream's JavaScript reads a `null` prompt as missing (`!prompt`), a `null` count as
//! out of range (`null < 1`) and a `null` usageMode as invalid; every other `null` it forwards to
//! sd-server as a value (`"width": null`), so here `null` is never "absent": it is rejected, with
//! upstream's message for those three. Absent means the key is not there (the binding drops keys
//! whose value is `undefined`, as JavaScript's `JSON.stringify` does).

use super::{ImageRequest, ImageSampler, UsageMode};
use crate::llama::NonJson;
use serde_json::{json, Map, Value};
use std::fmt;

/// The fields of `ImageGenerationConfig` a request may carry (`onProgress` is a callback).
pub const REQUEST_FIELDS: [&str; 10] = [
    "prompt",
    "negativePrompt",
    "width",
    "height",
    "steps",
    "cfgScale",
    "seed",
    "sampler",
    "count",
    "usageMode",
];
/// Longest `prompt` / `negativePrompt`, in characters (Unicode scalar values).
pub const MAX_PROMPT_CHARS: usize = 10_000;
/// `width`/`height` bounds (sd.cpp rounds a size up to a multiple of 64).
pub const SIZE_RANGE: (u32, u32) = (64, 2048);
pub const STEPS_RANGE: (u32, u32) = (1, 150);
pub const CFG_SCALE_RANGE: (f64, f64) = (0.0, 30.0);
/// `Number.MAX_SAFE_INTEGER`: the largest |seed| a JavaScript number holds exactly.
pub const MAX_SAFE_SEED: i64 = 9_007_199_254_740_991;
const COUNT_RANGE: (u32, u32) = (1, super::constants::MAX_IMAGES_PER_REQUEST);
/// Longest piece of a caller's value (a key, a sampler name) repeated in a message.
const SHOWN_CHARS: usize = 100;

/// Why a request was refused: the message, and the field it is about (none for a body that is
/// not JSON, or not an object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub message: String,
    pub field: Option<String>,
}

impl RequestError {
    fn new(field: Option<&str>, message: impl Into<String>) -> Self {
        RequestError {
            message: message.into(),
            field: field.map(str::to_string),
        }
    }

    /// `details` of the `crate::Error` and the front's 400 answer: `{ code, field? }`.
    pub fn details(&self) -> Value {
        let mut details = json!({ "code": "INVALID_REQUEST" });
        if let Some(field) = &self.field {
            details["field"] = Value::String(field.clone());
        }
        details
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RequestError {}

impl From<RequestError> for crate::Error {
    fn from(e: RequestError) -> Self {
        let details = e.details();
        crate::Error::server(e.message, Some(details))
    }
}

/// A POST body: JSON text holding an object.
pub fn parse_body(body: &[u8]) -> Result<ImageRequest, RequestError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => from_object(map),
        // Upstream: `!imageConfig || typeof imageConfig !== 'object' || !imageConfig.prompt`.
        Ok(_) => Err(missing_prompt(None)),
        Err(_) => Err(RequestError::new(None, "Malformed JSON request body")),
    }
}

/// An object whose values are all JSON (a parsed body, or a JavaScript object the binding read).
pub fn from_object(map: Map<String, Value>) -> Result<ImageRequest, RequestError> {
    from_js(map, &[])
}

/// `from_object` for a JavaScript object some of whose values JSON cannot hold (`NaN`,
/// `Infinity`, a function): each is `null` in `map` and named in `non_json` with how JavaScript
/// prints it, so that a message can show it.
pub fn from_js(
    map: Map<String, Value>,
    non_json: &[NonJson],
) -> Result<ImageRequest, RequestError> {
    upstream_checks(&map)?;
    if map.contains_key("onProgress") {
        return Err(RequestError::new(
            Some("onProgress"),
            "onProgress is a callback and cannot be sent as JSON",
        ));
    }
    if let Some(key) = map.keys().find(|k| !REQUEST_FIELDS.contains(&k.as_str())) {
        let key = clip(key);
        return Err(RequestError::new(
            Some(&key),
            format!("Unknown field: {key}"),
        ));
    }
    let fields = Fields {
        map: &map,
        non_json,
    };
    Ok(ImageRequest {
        prompt: fields.text("prompt")?.unwrap_or_default(),
        negative_prompt: fields.text("negativePrompt")?,
        width: fields.whole("width", SIZE_RANGE)?,
        height: fields.whole("height", SIZE_RANGE)?,
        steps: fields.whole("steps", STEPS_RANGE)?,
        cfg_scale: fields.cfg_scale()?,
        seed: fields.seed()?,
        sampler: fields.sampler()?,
        count: fields.whole("count", COUNT_RANGE)?,
        usage_mode: map
            .get("usageMode")
            .and_then(Value::as_str)
            .and_then(UsageMode::parse),
    })
}

/// genai-electron's front checks, in its order and with its messages.
fn upstream_checks(map: &Map<String, Value>) -> Result<(), RequestError> {
    if map.get("prompt").is_none_or(is_falsy) {
        return Err(missing_prompt(Some("prompt")));
    }
    // `count < 1 || count > 5`: a number out of range, or null (which JavaScript compares as 0).
    let count_out_of_range = match map.get("count") {
        Some(Value::Null) => true,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|c| !(1.0..=5.0).contains(&c)),
        _ => false,
    };
    if count_out_of_range {
        return Err(RequestError::new(
            Some("count"),
            "count must be between 1 and 5",
        ));
    }
    if map
        .get("usageMode")
        .is_some_and(|m| m.as_str().and_then(UsageMode::parse).is_none())
    {
        return Err(RequestError::new(
            Some("usageMode"),
            "usageMode must be 'burst' or 'single'",
        ));
    }
    Ok(())
}

fn missing_prompt(field: Option<&str>) -> RequestError {
    RequestError::new(field, "Missing required field: prompt")
}

/// JavaScript's falsy JSON values (NaN arrives as `null`).
fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(_) | Value::Object(_) => false,
    }
}

fn clip(s: &str) -> String {
    match s.char_indices().nth(SHOWN_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// The request's fields, read one by one; every error names the field and shows what came.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    non_json: &'a [NonJson],
}

impl Fields<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// What the caller sent, for a message: numbers as JavaScript prints them, other values by
    /// their kind.
    fn shown(&self, key: &str, v: &Value) -> String {
        if let Some(bad) = self.non_json.iter().find(|n| n.key == key) {
            return bad.shown.clone();
        }
        match v {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n
                .as_i64()
                .map(|i| i.to_string())
                .unwrap_or_else(|| crate::jsjson::number_to_string(n.as_f64().unwrap_or(f64::NAN))),
            Value::String(s) => format!("a string, {:?}", clip(s)),
            Value::Array(_) => "an array".into(),
            Value::Object(_) => "an object".into(),
        }
    }

    fn refuse(&self, key: &str, v: &Value, rule: &str) -> RequestError {
        RequestError::new(
            Some(key),
            format!("{key} {rule} (got {})", self.shown(key, v)),
        )
    }

    /// A string of at most `MAX_PROMPT_CHARS` characters.
    fn text(&self, key: &str) -> Result<Option<String>, RequestError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let Value::String(s) = v else {
            return Err(self.refuse(key, v, "must be a string"));
        };
        let chars = s.chars().count();
        if chars > MAX_PROMPT_CHARS {
            return Err(RequestError::new(
                Some(key),
                format!("{key} must be at most {MAX_PROMPT_CHARS} characters (got {chars})"),
            ));
        }
        Ok(Some(s.clone()))
    }

    /// A finite JSON number that `ok` accepts (`1e3` and `64.0` are numbers, as in JavaScript);
    /// else the field "must be" `rule`.
    fn number(
        &self,
        key: &str,
        ok: impl Fn(f64) -> bool,
        rule: &str,
    ) -> Result<Option<f64>, RequestError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match v.as_f64().filter(|n| n.is_finite() && ok(*n)) {
            Some(n) => Ok(Some(n)),
            None => Err(self.refuse(key, v, &format!("must be {rule}"))),
        }
    }

    /// A whole number within `range` (both ends included).
    fn whole(&self, key: &str, (lo, hi): (u32, u32)) -> Result<Option<u32>, RequestError> {
        let ok = |n: f64| n.fract() == 0.0 && n >= f64::from(lo) && n <= f64::from(hi);
        let rule = format!("a whole number from {lo} to {hi}");
        Ok(self.number(key, ok, &rule)?.map(|n| n as u32))
    }

    fn cfg_scale(&self) -> Result<Option<f64>, RequestError> {
        let (lo, hi) = CFG_SCALE_RANGE;
        let rule = format!("a number from {lo} to {hi}");
        self.number("cfgScale", |n| (lo..=hi).contains(&n), &rule)
    }

    /// A whole number with |seed| ≤ 2^53-1; negative asks for a random seed (as upstream).
    fn seed(&self) -> Result<Option<i64>, RequestError> {
        let ok = |n: f64| n.fract() == 0.0 && n.abs() <= MAX_SAFE_SEED as f64;
        let rule = format!(
            "a whole number from -{MAX_SAFE_SEED} to {MAX_SAFE_SEED} (negative: a random seed)"
        );
        Ok(self.number("seed", ok, &rule)?.map(|n| n as i64))
    }

    fn sampler(&self) -> Result<Option<ImageSampler>, RequestError> {
        let key = "sampler";
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match v.as_str().and_then(ImageSampler::parse) {
            Some(s) => Ok(Some(s)),
            None => {
                let names: Vec<&str> = ImageSampler::ALL.iter().map(|s| s.as_str()).collect();
                Err(self.refuse(key, v, &format!("must be one of {}", names.join(", "))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Result<ImageRequest, RequestError> {
        parse_body(v.to_string().as_bytes())
    }

    /// `<field>: <message>` of a refused body (`-` for no field).
    fn refused(v: Value) -> String {
        let e = body(v).unwrap_err();
        format!("{}: {}", e.field.as_deref().unwrap_or("-"), e.message)
    }

    #[test]
    fn accepts_every_field() {
        let r = body(json!({
            "prompt": "a cat", "negativePrompt": "blur", "width": 64, "height": 2048.0,
            "steps": 150, "cfgScale": 7.5, "seed": -1, "sampler": "dpm++2m", "count": 5,
            "usageMode": "single",
        }));
        let expected = ImageRequest {
            prompt: "a cat".into(),
            negative_prompt: Some("blur".into()),
            width: Some(64),
            height: Some(2048),
            steps: Some(150),
            cfg_scale: Some(7.5),
            seed: Some(-1),
            sampler: Some(ImageSampler::Dpmpp2m),
            count: Some(5),
            usage_mode: Some(UsageMode::Single),
        };
        assert_eq!(r, Ok(expected));
        let min = body(json!({ "prompt": "x" })).unwrap();
        assert_eq!(
            min,
            ImageRequest {
                prompt: "x".into(),
                ..Default::default()
            }
        );
        // Exponent notation is a number, as in JavaScript; cfgScale 0 and the seed bounds pass.
        let steps = parse_body(br#"{"prompt":"x","steps":1e1,"cfgScale":0}"#).unwrap();
        assert_eq!((steps.steps, steps.cfg_scale), (Some(10), Some(0.0)));
        for seed in [MAX_SAFE_SEED, -MAX_SAFE_SEED] {
            assert_eq!(
                body(json!({ "prompt": "x", "seed": seed })).unwrap().seed,
                Some(seed)
            );
        }
    }

    #[test]
    fn upstreams_messages_come_first() {
        let malformed = "-: Malformed JSON request body";
        for raw in [&b"{not json"[..], b"", b"\xff\xfe"] {
            let e = parse_body(raw).unwrap_err();
            assert_eq!(format!("-: {}", e.message), malformed);
        }
        for v in [json!(null), json!([1]), json!("a"), json!(3)] {
            assert_eq!(refused(v), "-: Missing required field: prompt");
        }
        // Falsy prompts are missing; a missing prompt wins over an unknown field (upstream's order).
        for p in [json!(null), json!(""), json!(0), json!(false)] {
            let v = json!({ "prompt": p, "foo": 1 });
            assert_eq!(refused(v), "prompt: Missing required field: prompt");
        }
        for c in [json!(0), json!(6), json!(-1), json!(null), json!(5.5)] {
            let v = json!({ "prompt": "x", "count": c, "foo": 1 });
            assert_eq!(refused(v), "count: count must be between 1 and 5");
        }
        for u in [json!("auto"), json!(null), json!(1)] {
            let v = json!({ "prompt": "x", "usageMode": u });
            assert_eq!(
                refused(v),
                "usageMode: usageMode must be 'burst' or 'single'"
            );
        }
    }

    #[test]
    fn unknown_fields_and_on_progress() {
        assert_eq!(
            refused(json!({ "prompt": "x", "foo": 1 })),
            "foo: Unknown field: foo"
        );
        // camelCase only: sd.cpp's own spelling is unknown here.
        let v = json!({ "prompt": "x", "cfg_scale": 1 });
        assert_eq!(refused(v), "cfg_scale: Unknown field: cfg_scale");
        let v = json!({ "prompt": "x", "onProgress": null });
        assert!(refused(v).starts_with("onProgress: onProgress is a callback"));
        let long = "k".repeat(5000);
        let e = body(json!({ "prompt": "x", long: 1 })).unwrap_err();
        assert!(e.message.len() < 200, "{}", e.message);
        assert_eq!(e.field.unwrap().chars().count(), SHOWN_CHARS + 1);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let cases = [
            (json!({ "prompt": 5 }), "prompt: prompt must be a string (got 5)"),
            (json!({ "prompt": ["a"] }), "prompt: prompt must be a string (got an array)"),
            (json!({ "prompt": "x", "negativePrompt": null }), "negativePrompt: negativePrompt must be a string (got null)"),
            (json!({ "prompt": "x", "width": "512" }), "width: width must be a whole number from 64 to 2048 (got a string, \"512\")"),
            (json!({ "prompt": "x", "height": true }), "height: height must be a whole number from 64 to 2048 (got true)"),
            (json!({ "prompt": "x", "steps": {} }), "steps: steps must be a whole number from 1 to 150 (got an object)"),
            (json!({ "prompt": "x", "cfgScale": "7" }), "cfgScale: cfgScale must be a number from 0 to 30 (got a string, \"7\")"),
            (json!({ "prompt": "x", "seed": null }), "seed: seed must be a whole number from -9007199254740991 to 9007199254740991 (negative: a random seed) (got null)"),
            (json!({ "prompt": "x", "sampler": "ddim" }), "sampler: sampler must be one of euler_a, euler, heun, dpm2, dpm++2s_a, dpm++2m, dpm++2mv2, lcm, er_sde, euler_cfg_pp, euler_a_cfg_pp (got a string, \"ddim\")"),
            (json!({ "prompt": "x", "count": "2" }), "count: count must be a whole number from 1 to 5 (got a string, \"2\")"),
        ];
        for (v, expected) in cases {
            assert_eq!(refused(v), expected);
        }
    }

    #[test]
    fn out_of_range_numbers_name_the_field() {
        let cases = [
            ("width", json!([63, 2049, 64.5, u64::MAX])),
            ("height", json!([0, -64])),
            ("steps", json!([0, 151, 2.5])),
            ("cfgScale", json!([-0.1, 30.01])),
            (
                "seed",
                json!([1.5, 1e300, MAX_SAFE_SEED + 1, -MAX_SAFE_SEED - 1]),
            ),
            ("count", json!([2.5])),
        ];
        for (field, values) in cases {
            for value in values.as_array().unwrap() {
                let mut v = json!({ "prompt": "x" });
                v[field] = value.clone();
                let msg = refused(v);
                assert!(
                    msg.starts_with(&format!("{field}: {field} must be ")),
                    "{msg}"
                );
            }
        }
        let msg = refused(json!({ "prompt": "x", "seed": 1e300 }));
        assert!(msg.ends_with("(got 1e+300)"), "{msg}");
    }

    #[test]
    fn prompt_length() {
        let ok = "é".repeat(MAX_PROMPT_CHARS);
        assert!(body(json!({ "prompt": ok, "negativePrompt": ok })).is_ok());
        let long = "a".repeat(MAX_PROMPT_CHARS + 1);
        let expected = "prompt: prompt must be at most 10000 characters (got 10001)";
        assert_eq!(refused(json!({ "prompt": long })), expected);
        let v = json!({ "prompt": "x", "negativePrompt": long });
        assert!(refused(v).starts_with("negativePrompt: negativePrompt must be at most"));
    }

    #[test]
    fn values_json_cannot_hold_are_shown_as_javascript_prints_them() {
        let map = json!({ "prompt": "x", "cfgScale": null })
            .as_object()
            .cloned()
            .unwrap();
        let bad = [NonJson {
            key: "cfgScale".into(),
            shown: "NaN".into(),
        }];
        let e = from_js(map, &bad).unwrap_err();
        assert_eq!(
            e.message,
            "cfgScale must be a number from 0 to 30 (got NaN)"
        );
    }

    #[test]
    fn converts_to_a_server_error_with_the_field() {
        let e: crate::Error = body(json!({ "prompt": "x", "steps": 0 }))
            .unwrap_err()
            .into();
        assert_eq!(e.code, crate::ErrorCode::ServerError);
        assert_eq!(
            e.details,
            Some(json!({ "code": "INVALID_REQUEST", "field": "steps" }))
        );
        let e: crate::Error = parse_body(b"{").unwrap_err().into();
        assert_eq!(e.details, Some(json!({ "code": "INVALID_REQUEST" })));
        assert_eq!(
            e.full_message(),
            "Server error: Malformed JSON request body"
        );
    }
}
