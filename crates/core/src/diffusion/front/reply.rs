//! The front's answers: JSON bodies written as `JSON.stringify` writes them (compact, numbers as
//! JavaScript prints them: a percentage of 50 is `50`, not `50.0`), with upstream's headers.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

pub type Reply = Response<Full<Bytes>>;

/// `res.writeHead(status, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(body))`.
pub fn json_reply(status: StatusCode, body: &Value) -> Reply {
    let mut res = Response::new(Full::new(Bytes::from(stringify(body))));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// `{ error: { message, code } }`.
pub fn error_reply(status: StatusCode, code: &str, message: &str) -> Reply {
    json_reply(
        status,
        &json!({ "error": { "message": message, "code": code } }),
    )
}

/// An answer without a body (OPTIONS).
pub fn empty_reply(status: StatusCode) -> Reply {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = status;
    res
}

/// `JSON.stringify(value)`.
pub fn stringify(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value);
    out
}

fn write(out: &mut String, value: &Value) {
    match value {
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => out.push_str(&u.to_string()),
            (_, Some(i)) => out.push_str(&i.to_string()),
            _ => out.push_str(&crate::jsjson::number_to_string(
                n.as_f64().unwrap_or(f64::NAN),
            )),
        },
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write(out, item);
            }
            out.push('}');
        }
        // null, booleans and strings: serde_json escapes strings as JSON.stringify does.
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stringify_as_javascript() {
        let v = json!({ "a": 50.0, "b": 12.5, "c": [1, -2, null, true], "d": "é\"\n", "e": {} });
        assert_eq!(
            stringify(&v),
            r#"{"a":50,"b":12.5,"c":[1,-2,null,true],"d":"é\"\n","e":{}}"#
        );
        assert_eq!(stringify(&json!(1e21)), "1e+21");
        assert_eq!(stringify(&json!(0.1)), "0.1");
    }

    #[test]
    fn replies_carry_json() {
        let r = error_reply(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found");
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
    }
}
