//! `JSON.stringify(value, null, 2)` byte for byte: genai-electron writes model metadata this way,
//! and files written by either library must be identical. Differences from serde_json's pretty
//! printer: numbers print as JavaScript prints them (`0.000009999999747378752`, `1e+21`,
//! integers without `.0`), and empty arrays/objects print as `[]` / `{}`.

use serde_json::Value;
use std::fmt::Write;

pub fn stringify_pretty(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

fn write_value(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(
            &n.as_f64()
                .map_or_else(|| "null".to_string(), number_to_string),
        ),
        Value::String(s) => write_string(out, s),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                indent(out, depth + 1);
                write_value(out, item, depth + 1);
            }
            out.push('\n');
            indent(out, depth);
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                indent(out, depth + 1);
                write_string(out, key);
                out.push_str(": ");
                write_value(out, item, depth + 1);
            }
            out.push('\n');
            indent(out, depth);
            out.push('}');
        }
    }
}

fn indent(out: &mut String, depth: usize) {
    out.extend(std::iter::repeat_n("  ", depth));
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `Number.prototype.toString()` for finite numbers (`null` for NaN/±Infinity, as JSON does).
pub fn number_to_string(x: f64) -> String {
    if !x.is_finite() {
        return "null".into();
    }
    if x == 0.0 {
        return "0".into(); // also -0
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "d.ddddde-7".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp.parse::<i32>().unwrap_or(0) + 1; // position of the decimal point
    let sign = if x < 0.0 { "-" } else { "" };
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let esign = if e >= 0 { "+" } else { "-" };
        if k == 1 {
            format!("{digits}e{esign}{}", e.abs())
        } else {
            format!("{}.{}e{esign}{}", &digits[..1], &digits[1..], e.abs())
        }
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_as_javascript_prints_them() {
        let cases: [(f64, &str); 14] = [
            (1.0, "1"),
            (-2.5, "-2.5"),
            (100000.0, "100000"),
            (f32::from_bits(0x3727c5ac) as f64, "0.000009999999747378752"), // f32 1e-5 widened
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (123456789012345680000.0, "123456789012345680000"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (1.25e-7, "1.25e-7"),
            (18446744073709551615.0, "18446744073709552000"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::NAN, "null"),
            (-0.0, "0"),
        ];
        for (x, want) in cases {
            assert_eq!(number_to_string(x), want, "{x:e}");
        }
    }

    #[test]
    fn pretty_layout_matches_json_stringify() {
        let v = json!({ "id": "a", "n": 1, "e": [], "o": {}, "list": [1, "x\n\u{1}"], "nested": { "k": true } });
        let want = "{\n  \"id\": \"a\",\n  \"n\": 1,\n  \"e\": [],\n  \"o\": {},\n  \"list\": [\n    1,\n    \"x\\n\\u0001\"\n  ],\n  \"nested\": {\n    \"k\": true\n  }\n}";
        assert_eq!(stringify_pretty(&v), want);
    }
}
