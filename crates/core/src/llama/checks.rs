//! `start(config)`'s checks on the raw values, with genai-electron's messages: a `modelId`,
//! positive whole numbers, a possible port, values JSON cannot hold, and the field of a wrong type.

use super::LlamaServerConfig;
use crate::{Error, Result};
use serde_json::{json, Map, Value};

/// A field whose value JSON cannot hold (NaN, ±Infinity, a function, …): its key and how
/// JavaScript prints the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonJson {
    pub key: String,
    pub shown: String,
}

/// `modelId`: a non-empty string.
pub fn require_model_id(model_id: Option<&str>) -> Result<&str> {
    model_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Error::server("modelId is required", Some(json!({ "field": "modelId" }))))
}

fn present<'a>(config: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    config.get(key).filter(|v| !v.is_null())
}

/// The numbers: whole numbers above 0 (`gpuLayers` also 0 and -1; `startupTimeout` in ms, so that
/// a negative one cannot time out at once), and the port.
pub(super) fn numbers(config: &Map<String, Value>) -> Result<()> {
    for (key, allow_zero_or_minus_one) in [
        ("threads", false),
        ("contextSize", false),
        ("parallelRequests", false),
        ("gpuLayers", true),
        ("startupTimeout", false),
    ] {
        positive_int(config, key, allow_zero_or_minus_one)?;
    }
    check_port(config)
}

fn invalid_number(key: &str, shown: &str, value: Value) -> Error {
    Error::server(
        format!("Invalid {key}: {shown}"),
        Some(
            json!({ "field": key, "value": value, "suggestion": format!("Use a positive whole number for {key}") }),
        ),
    )
}

fn invalid_port(shown: &str, value: Value) -> Error {
    Error::server(
        format!("Invalid port: {shown}"),
        Some(json!({ "port": value, "suggestion": "Use a port between 1 and 65535, or 'auto'" })),
    )
}

/// A whole number above 0 (or, for `gpuLayers`, also 0 and -1).
pub(crate) fn positive_int(
    config: &Map<String, Value>,
    key: &str,
    allow_zero_or_minus_one: bool,
) -> Result<()> {
    let Some(v) = present(config, key) else {
        return Ok(());
    };
    let ok = v.as_f64().is_some_and(|n| {
        n.fract() == 0.0 && (n > 0.0 || (allow_zero_or_minus_one && (n == -1.0 || n == 0.0)))
    });
    if ok {
        return Ok(());
    }
    Err(invalid_number(key, &v.to_string(), v.clone()))
}

/// `port`: a whole number 1..65535 or `'auto'`.
pub(crate) fn check_port(config: &Map<String, Value>) -> Result<()> {
    let Some(v) = present(config, "port") else {
        return Ok(());
    };
    let ok = match v {
        Value::String(s) => s == "auto",
        _ => v
            .as_f64()
            .is_some_and(|p| p.fract() == 0.0 && (1.0..=65535.0).contains(&p)),
    };
    if ok {
        return Ok(());
    }
    Err(invalid_port(&v.to_string(), v.clone()))
}

/// A value JSON cannot hold is never a valid field (every field is a string, number or boolean):
/// reported as the field's own check reports a bad value.
pub(crate) fn non_json(bad: &NonJson) -> Error {
    let shown = Value::String(bad.shown.clone());
    match bad.key.as_str() {
        "port" => invalid_port(&bad.shown, shown),
        key => invalid_number(key, &bad.shown, shown),
    }
}

/// serde's complaint about a field of the wrong type, with the field named in the details.
pub(super) fn wrong_type(config: &Map<String, Value>, complaint: &str) -> Error {
    wrong_type_of::<LlamaServerConfig>(config, complaint, "llama-server", "LlamaServerConfig", &[])
}

/// serde's complaint about a field of `T` of the wrong type: the field is the one that alone
/// (with `required`'s placeholder values beside it) does not deserialise. `server` names the
/// server in the message, `type_name` the configuration type in the suggestion.
pub(crate) fn wrong_type_of<T: serde::de::DeserializeOwned>(
    config: &Map<String, Value>,
    complaint: &str,
    server: &str,
    type_name: &str,
    required: &[(&str, Value)],
) -> Error {
    let field = config.iter().find(|(k, v)| {
        let mut one = Map::from_iter([((*k).clone(), (*v).clone())]);
        for (key, placeholder) in required {
            one.entry(key.to_string())
                .or_insert_with(|| placeholder.clone());
        }
        serde_json::from_value::<T>(Value::Object(one)).is_err()
    });
    let mut details = json!({
        "suggestion": format!("Check the types of the configuration fields against {type_name}")
    });
    if let Some((key, value)) = field {
        details["field"] = Value::String(key.clone());
        details["value"] = value.clone();
    }
    Error::server(
        format!("Invalid {server} configuration: {complaint}"),
        Some(details),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value, non_json: &[NonJson]) -> Result<LlamaServerConfig> {
        LlamaServerConfig::from_js(v.as_object().cloned().unwrap_or_default(), non_json)
    }

    #[test]
    fn values_json_cannot_hold_are_invalid_fields() {
        let nan = |key: &str| NonJson {
            key: key.into(),
            shown: "NaN".into(),
        };
        let e = parse(json!({ "modelId": "m", "port": null }), &[nan("port")]).unwrap_err();
        assert_eq!(e.to_string(), "Server error: Invalid port: NaN");
        assert_eq!(e.details.unwrap()["port"], "NaN");
        let e = parse(
            json!({ "modelId": "m", "gpuLayers": null }),
            &[nan("gpuLayers")],
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "Server error: Invalid gpuLayers: NaN");
        assert_eq!(e.details.unwrap()["field"], "gpuLayers");
        // Unknown fields and modelId come first, as for any other value.
        let e = parse(json!({ "modelId": "m", "ctx": null }), &[nan("ctx")]).unwrap_err();
        assert!(e.to_string().contains("Unknown configuration field: ctx"));
        let e = parse(json!({ "port": null }), &[nan("port")]).unwrap_err();
        assert_eq!(e.to_string(), "Server error: modelId is required");
    }

    #[test]
    fn startup_timeout_is_a_positive_whole_number() {
        for bad in [json!(-1), json!(0), json!(1.5), json!("5")] {
            let e = parse(
                json!({ "modelId": "m", "startupTimeout": bad.clone() }),
                &[],
            )
            .unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("Server error: Invalid startupTimeout: {bad}")
            );
        }
        let ok = parse(json!({ "modelId": "m", "startupTimeout": 60000 }), &[]).unwrap();
        assert_eq!(ok.startup_timeout, Some(60000.0));
    }

    #[test]
    fn a_wrong_type_names_its_field() {
        let e = parse(
            json!({ "modelId": "m", "threads": 2, "binaryPath": 42 }),
            &[],
        )
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("Server error: Invalid llama-server configuration: invalid type: integer `42`, expected a string"));
        let d = e.details.unwrap();
        assert_eq!(
            (d["field"].as_str(), d["value"].as_i64()),
            (Some("binaryPath"), Some(42))
        );
    }
}
