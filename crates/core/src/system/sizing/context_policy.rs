//! The per-slot context policy: `normalizeContextConstraints(hints)` (validation of
//! minimum/preferred/maximum context sizes) and `validateModelContextRange` (against the model's
//! native context).

use super::kv_sizing::FLOOR_CONTEXT_TOKENS;
use super::{details, num, ModelView};
use crate::llama::LlamaServerConfig;
use crate::{jsnum, Error, Result};
use serde_json::{json, Value};

/// A validated per-slot context policy (`normalizeContextConstraints`).
#[derive(Debug, Clone, PartialEq)]
pub struct ContextPolicy {
    pub minimum: Option<f64>,
    pub preferred: Option<f64>,
    pub maximum: Option<f64>,
    pub parallel: f64,
    pub total_minimum: Option<f64>,
    pub total_preferred: Option<f64>,
    pub total_maximum: Option<f64>,
}

type Pairs<'a> = Vec<(&'a str, Option<Value>)>;

/// A `validation`-stage ContextConstraintError.
fn invalid(msg: &str, reason: &str, extra: &[(&str, Option<Value>)], suggestion: &str) -> Error {
    let mut pairs: Pairs = vec![
        ("reason", Some(json!(reason))),
        ("stage", Some(json!("validation"))),
    ];
    pairs.extend_from_slice(extra);
    pairs.push(("suggestion", Some(json!(suggestion))));
    Error::context_constraint(msg, details(&pairs))
}

/// `normalizeContextConstraints(hints)`: `None` when no min/preferred/max is set.
pub fn normalize_context_constraints(hints: &LlamaServerConfig) -> Result<Option<ContextPolicy>> {
    let (min, pref, max) = (
        hints.minimum_context_size,
        hints.preferred_context_size,
        hints.maximum_context_size,
    );
    if min.is_none() && pref.is_none() && max.is_none() {
        return Ok(None);
    }
    let all = [
        ("minimumContextSize", min.map(num)),
        ("preferredContextSize", pref.map(num)),
        ("maximumContextSize", max.map(num)),
    ];
    check_each(&all, [min, pref, max])?;
    check_order(&all, min, pref, max)?;
    if let Some(ctx) = hints.context_size {
        let mut extra = vec![("contextSize", Some(num(ctx)))];
        extra.extend_from_slice(&all);
        return Err(invalid(
            "contextSize is mutually exclusive with minimumContextSize/preferredContextSize/maximumContextSize",
            "exact-range-conflict",
            &extra,
            "Use either an exact contextSize or minimum/preferred/maximum context policy",
        ));
    }
    let requested = hints.parallel_requests.unwrap_or(1.0);
    if !jsnum::is_positive_safe_integer(requested) {
        let mut extra = all.to_vec();
        extra.push(("parallelRequests", Some(num(requested))));
        return Err(invalid(
            "parallelRequests must be a positive safe integer when context policy is used",
            "unsafe-total-capacity",
            &extra,
            "Use a positive integer number of parallel request slots",
        ));
    }
    let parallel = requested;
    let total = |v: Option<f64>, key: &str| -> Result<Option<f64>> {
        let Some(v) = v else { return Ok(None) };
        let t = v * parallel;
        if jsnum::is_positive_safe_integer(t) {
            return Ok(Some(t));
        }
        Err(invalid(
            "Context capacity exceeds the safe numeric range",
            "unsafe-total-capacity",
            &[
                (key, Some(num(v))),
                ("parallelRequests", Some(num(parallel))),
            ],
            "Use smaller context values or fewer parallel request slots",
        ))
    };
    Ok(Some(ContextPolicy {
        minimum: min,
        preferred: pref,
        maximum: max,
        parallel,
        total_minimum: total(min, "minimumContextSize")?,
        total_preferred: total(pref, "preferredContextSize")?,
        total_maximum: total(max, "maximumContextSize")?,
    }))
}

/// Each given size must be a positive safe integer.
fn check_each(all: &[(&str, Option<Value>); 3], values: [Option<f64>; 3]) -> Result<()> {
    for (i, word) in ["minimum", "preferred", "maximum"].iter().enumerate() {
        if values[i].is_some_and(|v| !jsnum::is_positive_safe_integer(v)) {
            let key = all[i].0;
            return Err(invalid(
                &format!("{key} must be a positive safe integer"),
                &format!("invalid-{word}"),
                &all[i..=i],
                &format!("Set {key} to a positive integer no larger than Number.MAX_SAFE_INTEGER"),
            ));
        }
    }
    Ok(())
}

/// minimum ≤ preferred ≤ maximum, for those given.
fn check_order(
    all: &[(&str, Option<Value>); 3],
    min: Option<f64>,
    pref: Option<f64>,
    max: Option<f64>,
) -> Result<()> {
    let exceeds = |a: Option<f64>, b: Option<f64>| matches!((a, b), (Some(a), Some(b)) if a > b);
    if exceeds(min, pref) {
        return Err(invalid(
            "minimumContextSize cannot be greater than preferredContextSize",
            "minimum-exceeds-preferred",
            all,
            "Choose context values where minimumContextSize <= preferredContextSize",
        ));
    }
    if exceeds(pref, max) {
        return Err(invalid(
            "preferredContextSize cannot be greater than maximumContextSize",
            "preferred-exceeds-maximum",
            all,
            "Choose context values where preferredContextSize <= maximumContextSize",
        ));
    }
    if exceeds(min, max) {
        return Err(invalid(
            "minimumContextSize cannot be greater than maximumContextSize",
            "minimum-exceeds-maximum",
            &[all[0].clone(), all[2].clone()],
            "Choose an inclusive range where minimumContextSize <= maximumContextSize",
        ));
    }
    Ok(())
}

/// `validateModelContextRange` → total native context across slots.
pub(super) fn total_native_context(model: &ModelView, p: &ContextPolicy) -> Result<f64> {
    let legacy = model.context_length().min(FLOOR_CONTEXT_TOKENS);
    let native = model
        .field("context_length")
        .and_then(Value::as_f64)
        .filter(|c| jsnum::is_positive_safe_integer(*c));
    let sizing_error = |msg: String, reason: &str, extra: Pairs, suggestion: Value| {
        let mut d: Pairs = vec![
            ("reason", Some(json!(reason))),
            ("stage", Some(json!("sizing"))),
            ("minimumContextSize", p.minimum.map(num)),
            ("preferredContextSize", p.preferred.map(num)),
            ("maximumContextSize", p.maximum.map(num)),
        ];
        d.extend(extra);
        d.push(("parallelRequests", Some(num(p.parallel))));
        d.push(("suggestion", Some(suggestion)));
        Error::context_constraint(msg, details(&d))
    };
    if let (Some(min), Some(native)) = (p.minimum, native) {
        if min > native {
            return Err(sizing_error(
                format!(
                    "Minimum context {} exceeds the model's native context {}",
                    jsnum::to_string(min),
                    jsnum::to_string(native)
                ),
                "minimum-exceeds-native",
                vec![("nativeContextSize", Some(num(native)))],
                json!(format!(
                    "Choose minimumContextSize <= {}",
                    jsnum::to_string(native)
                )),
            ));
        }
    }
    if let (Some(min), None) = (p.minimum, native) {
        if min > legacy {
            return Err(sizing_error(
                format!("Cannot verify minimum context {} because native context metadata is unavailable", jsnum::to_string(min)),
                "model-context-unknown",
                vec![],
                json!("Refresh the model GGUF metadata, or choose a minimum no larger than the conservative legacy recommendation"),
            ));
        }
    }
    let per_slot = native.unwrap_or(legacy);
    let total = per_slot * p.parallel;
    if !jsnum::is_positive_safe_integer(total) {
        return Err(sizing_error(
            "Native multi-slot context exceeds the safe numeric range".into(),
            "unsafe-total-capacity",
            vec![("nativeContextSize", Some(num(per_slot)))],
            json!("Use fewer parallel request slots"),
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::{optimal_config, Machine};
    use super::*;
    use crate::system::GpuInfo;

    #[test]
    fn context_policy_errors() {
        let none = GpuInfo::unavailable();
        let m = Machine {
            cores: 2,
            gpu: &none,
            mem: &mem(gib(24.0), gib(16.0)),
        };
        let check = |hints: Value, reason: &str| {
            let err = optimal_config(&smollm(), &config(hints), &m).unwrap_err();
            assert_eq!(err.code, crate::ErrorCode::ContextConstraint);
            assert_eq!(err.details.as_ref().unwrap()["reason"], reason, "{err}");
            err
        };
        let e = check(json!({ "minimumContextSize": -1 }), "invalid-minimum");
        assert_eq!(
            e.to_string(),
            "Context constraint error: minimumContextSize must be a positive safe integer"
        );
        assert_eq!(e.details.unwrap()["minimumContextSize"], -1);
        check(json!({ "preferredContextSize": 1.5 }), "invalid-preferred");
        check(
            json!({ "minimumContextSize": 4096, "preferredContextSize": 2048 }),
            "minimum-exceeds-preferred",
        );
        check(
            json!({ "preferredContextSize": 4096, "maximumContextSize": 2048 }),
            "preferred-exceeds-maximum",
        );
        check(
            json!({ "minimumContextSize": 4096, "maximumContextSize": 2048 }),
            "minimum-exceeds-maximum",
        );
        check(
            json!({ "minimumContextSize": 1024, "contextSize": 2048 }),
            "exact-range-conflict",
        );
        check(
            json!({ "minimumContextSize": 1024, "parallelRequests": 0 }),
            "unsafe-total-capacity",
        );
        let e = check(
            json!({ "minimumContextSize": 16384 }),
            "minimum-exceeds-native",
        );
        assert_eq!(e.to_string(), "Context constraint error: Minimum context 16384 exceeds the model's native context 8192");
        let bare = ModelView::from_json(&json!({ "size": gib(1.0) }));
        let e =
            optimal_config(&bare, &config(json!({ "minimumContextSize": 8192 })), &m).unwrap_err();
        assert_eq!(e.details.unwrap()["reason"], "model-context-unknown");
    }

    #[test]
    fn policy_totals_and_details() {
        assert_eq!(
            normalize_context_constraints(&LlamaServerConfig::default()).unwrap(),
            None
        );
        let p = normalize_context_constraints(&config(
            json!({ "minimumContextSize": 2048, "maximumContextSize": 3000, "parallelRequests": 2 }),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            (p.total_minimum, p.total_preferred, p.total_maximum),
            (Some(4096.0), None, Some(6000.0))
        );
        let e = normalize_context_constraints(&config(
            json!({ "minimumContextSize": 4096, "maximumContextSize": 2048 }),
        ))
        .unwrap_err();
        assert_eq!(
            e.details.unwrap(),
            json!({ "reason": "minimum-exceeds-maximum", "stage": "validation", "minimumContextSize": 4096,
                    "maximumContextSize": 2048,
                    "suggestion": "Choose an inclusive range where minimumContextSize <= maximumContextSize" })
        );
        let huge =
            config(json!({ "minimumContextSize": 9007199254740991_u64, "parallelRequests": 2 }));
        let e = normalize_context_constraints(&huge).unwrap_err();
        assert_eq!(e.message, "Context capacity exceeds the safe numeric range");
    }
}
