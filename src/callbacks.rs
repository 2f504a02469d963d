//! Every user callback the binding calls (download progress, `onComponentStart`, the llama-server
//! listeners through the facade) is called here, and only here. A JavaScript exception is caught
//! by napi-rs and becomes the call's answer; it reaches Node's uncaught-exception path only for a
//! call whose caller said it would not wait (`Reply::Nobody`, see `genai_core::callback`).

use genai_core::callback::{self, Answer, Reply, Thrown};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{
    ThreadsafeFunction, ThreadsafeFunctionCallMode, UnknownReturnValue,
};

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

/// Calls `f`; the answer, which the caller awaits, says whether it threw (with its message).
pub fn ask<Args: 'static>(f: &Callback<Args>, args: Args) -> Answer
where
    FnArgs<Args>: JsValuesTupleIntoVec,
{
    let (reply, answer) = callback::channel();
    call(f, args, reply);
    answer
}

/// Calls `f`; how it ended goes to `reply`. With `Reply::Nobody`, a throw is raised as Node's
/// uncaught exception (the thrown value itself), as a throwing listener of an event emitted from
/// I/O is. If the call cannot be queued (Node is shutting down), the reply is dropped with it and
/// the call counts as returned.
pub fn call<Args: 'static>(f: &Callback<Args>, args: Args, reply: Reply)
where
    FnArgs<Args>: JsValuesTupleIntoVec,
{
    f.call_with_return_value(
        args.into(),
        ThreadsafeFunctionCallMode::NonBlocking,
        move |result, _| match (result, reply) {
            (Err(e), Reply::Nobody) if e.status == Status::PendingException => Err(e),
            (Err(e), reply) if e.status == Status::PendingException => {
                reply.send(Err(Thrown { message: e.reason }));
                Ok(())
            }
            (_, reply) => {
                reply.send(Ok(()));
                Ok(())
            }
        },
    );
}

/// A server's event sink for core: each event becomes `(name, payload)` for the facade's
/// listener, called as `call` does (`reply` says who hears a throw).
pub fn event_sink<E: 'static, P: 'static>(
    on_event: Callback<(String, P)>,
    to_js: fn(E) -> (&'static str, P),
) -> std::sync::Arc<dyn Fn(E, Reply) + Send + Sync>
where
    FnArgs<(String, P)>: JsValuesTupleIntoVec,
{
    std::sync::Arc::new(move |e, reply| {
        let (name, payload) = to_js(e);
        call(&on_event, (name.to_string(), payload), reply);
    })
}
