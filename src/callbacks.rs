//! Every user callback the binding calls (download progress, `onComponentStart`, the llama-server
//! listeners through the facade) is called here, and only here. A JavaScript exception is caught
//! by napi-rs and becomes the call's answer; it never reaches Node's fatal-exception path from
//! native code unless nobody waits for that answer (see `genai_core::callback`).

use genai_core::callback::{self, Answer, Thrown};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode, UnknownReturnValue};

/// A JS function called with `args` from any thread; it never keeps Node alive, and what it
/// returns is ignored.
pub type Callback<Args> =
    ThreadsafeFunction<FnArgs<Args>, UnknownReturnValue, FnArgs<Args>, Status, false, true>;

/// Calls `f` without waiting; a throw is ignored (progress callbacks: upstream swallows them).
pub fn notify<Args: 'static>(f: &Callback<Args>, args: Args)
where
    FnArgs<Args>: JsValuesTupleIntoVec,
{
    f.call_with_return_value(
        args.into(),
        ThreadsafeFunctionCallMode::NonBlocking,
        |_, _| Ok(()),
    );
}

/// Calls `f`; the answer says whether it threw (with its message). If the answer is dropped
/// before the call ran, the throw is raised as Node's uncaught exception (the thrown value
/// itself), as a throwing listener of an event emitted from I/O is.
pub fn ask<Args: 'static>(f: &Callback<Args>, args: Args) -> Answer
where
    FnArgs<Args>: JsValuesTupleIntoVec,
{
    let (responder, answer) = callback::channel();
    // If the call cannot be queued (Node is shutting down), the responder is dropped with it and
    // the answer is "returned".
    f.call_with_return_value(
        args.into(),
        ThreadsafeFunctionCallMode::NonBlocking,
        move |result, _| {
            let outcome = match &result {
                Err(e) if e.status == Status::PendingException => Err(Thrown {
                    message: e.reason.clone(),
                }),
                _ => Ok(()),
            };
            match responder.send(outcome) {
                Err(Err(_)) => result.map(|_| ()), // nobody listens: napi-rs raises the original
                _ => Ok(()),
            }
        },
    );
    answer
}
