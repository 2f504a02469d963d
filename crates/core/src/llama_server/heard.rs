//! What listeners answered. Upstream emits its lifecycle events inside `start()`'s and `stop()`'s
//! `try`: a listener that throws fails that call. Here each call runs as an `operation`: the
//! answers of the events it emits are kept (task-local, so events of other tasks are not mixed
//! in), checked where upstream's throw would have stopped it, and all heard before it returns.
//! An event emitted outside an operation (an exit, the watchdog, an automatic restart) is sent
//! with `Reply::Nobody`: a throw is the host's, as Node leaves a listener's throw on an event
//! emitted from I/O.

use super::types::ServerEvent;
use super::LlamaServer;
use crate::callback::{channel, first_thrown, Answer, Outcome, Reply};
use crate::{Error, Result};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::future::Future;

tokio::task_local! {
    static HEARD: RefCell<Vec<Answer>>;
}

/// Runs `f` as an operation: its events' answers are kept for `listeners()`; those not checked
/// by then are heard (and their throws ignored: the outcome was decided) before it returns.
pub(super) async fn operation<T>(f: impl Future<Output = T>) -> T {
    HEARD
        .scope(RefCell::new(Vec::new()), async move {
            let out = f.await;
            let _ = listeners().await;
            out
        })
        .await
}

/// Waits for the listeners of the events this operation emitted so far: the first that threw.
pub(super) async fn listeners() -> Outcome {
    let answers = HEARD
        .try_with(|h| std::mem::take(&mut *h.borrow_mut()))
        .unwrap_or_default();
    first_thrown(answers).await
}

/// `listeners()` as upstream's `catch` reports a throw: `Failed to <what>: <message>`, details
/// `{ error, ...extra }`.
pub(super) async fn check(what: &str, extra: Map<String, Value>) -> Result<()> {
    listeners().await.map_err(|t| {
        let mut details = Map::new();
        details.insert("error".into(), Value::String(t.message.clone()));
        details.extend(extra);
        Error::server(
            format!("Failed to {what}: {}", t.message),
            Some(Value::Object(details)),
        )
    })
}

/// `check` for `start()`.
pub(super) async fn check_start() -> Result<()> {
    check("start llama-server", Map::new()).await
}

impl LlamaServer {
    /// Tells the listeners; within an operation the answer is kept for it, else nobody waits for
    /// it (see the module).
    pub(super) fn emit(&self, event: ServerEvent) {
        if HEARD.try_with(|_| ()).is_err() {
            return (self.events)(event, Reply::Nobody);
        }
        let (reply, answer) = channel();
        (self.events)(event, reply);
        let _ = HEARD.try_with(move |h| h.borrow_mut().push(answer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callback::{answered, Thrown};
    use serde_json::json;

    fn thrown(m: &str) -> Answer {
        let m = m.to_string();
        Box::pin(async move { Err(Thrown { message: m }) })
    }

    fn keep(a: Answer) {
        let _ = HEARD.try_with(move |h| h.borrow_mut().push(a));
    }

    #[tokio::test]
    async fn an_operation_hears_its_own_events() {
        let out = operation(async {
            keep(answered());
            assert_eq!(listeners().await, Ok(()));
            keep(thrown("boom"));
            keep(thrown("later"));
            check_start().await
        })
        .await;
        let e = out.unwrap_err();
        assert_eq!(e.message, "Failed to start llama-server: boom");
        assert_eq!(e.details, Some(json!({ "error": "boom" })));
        // Outside an operation nothing is kept.
        keep(thrown("x"));
        assert_eq!(listeners().await, Ok(()));
    }
}
