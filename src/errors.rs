//! Core errors cross as real JS errors, built here on the JS thread (the lightningcss pattern):
//! `message` is the unprefixed message, `code` genai-electron's code (`MODEL_NOT_FOUND`, …) and
//! `details` the structured details. The facade (lib/errors.cjs) maps `code` to its error class
//! through one table. Async entry points go through `promise`/`blocking`, because a napi async
//! fn can only reject with a napi status.

use genai_core::Error as CoreError;
use napi::bindgen_prelude::*;
use std::future::Future;

/// The JS error for a core error. Call on the JS thread.
pub(crate) fn js_error(env: &Env, e: &CoreError) -> napi::Error {
    build(env, e).unwrap_or_else(|fallback| fallback)
}

fn build(env: &Env, e: &CoreError) -> Result<napi::Error> {
    let mut obj = env.create_error(napi::Error::from_reason(e.message.clone()))?;
    obj.set_named_property("code", e.code.as_str())?;
    if let Some(details) = &e.details {
        obj.set_named_property("details", env.to_js_value(details)?)?;
    }
    Ok(napi::Error::from(obj.to_unknown()))
}

/// A promise of core work (async): resolves with its value, rejects with `js_error`.
pub(crate) fn promise<'env, T, F>(env: &'env Env, fut: F) -> Result<PromiseRaw<'env, T>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = genai_core::Result<T>> + Send + 'static,
{
    settle(env, async move { Ok(fut.await) })
}

/// A promise of blocking core work, run on tokio's blocking pool (never on the JS thread).
pub(crate) fn blocking<'env, T, F>(env: &'env Env, f: F) -> Result<PromiseRaw<'env, T>>
where
    T: ToNapiValue + Send + 'static,
    F: FnOnce() -> genai_core::Result<T> + Send + 'static,
{
    settle(env, async move {
        napi::tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| napi::Error::from_reason(format!("internal task failed: {e}")))
    })
}

/// Outer error: a plain JS Error (the binding itself failed); inner: a core error.
fn settle<'env, T, F>(env: &'env Env, fut: F) -> Result<PromiseRaw<'env, T>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = Result<genai_core::Result<T>>> + Send + 'static,
{
    env.spawn_future_with_callback(fut, |env, outcome| {
        outcome.map_err(|e| js_error(env, &e))
    })
}
