//! Calls into the host's callbacks (JavaScript functions and listeners) whose outcome matters.
//! The host runs the callback on its own thread and answers whether it returned or threw; the
//! caller awaits the answer where upstream calls the callback inside its `try` (then a throw fails
//! the operation with upstream's error), or drops it (then the host treats a throw as it treats an
//! exception no one can catch, as Node does for a listener of an event emitted from I/O).

use std::future::Future;
use std::pin::Pin;
use tokio::sync::oneshot;

/// A callback threw: what it threw, as upstream reads it (`error.message`, or the thrown string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thrown {
    pub message: String,
}

pub type Outcome = std::result::Result<(), Thrown>;

/// The answer to one call. Resolves once the callback ran; `Ok` also when it never will (the
/// host is shutting down).
pub type Answer = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// The host's side of one call.
pub struct Responder(oneshot::Sender<Outcome>);

impl Responder {
    /// Reports how the callback ended. `Err` gives the outcome back when nobody waits for it any
    /// more (the answer was dropped).
    pub fn send(self, outcome: Outcome) -> std::result::Result<(), Outcome> {
        self.0.send(outcome)
    }
}

/// A call's two ends: the host keeps the responder, the caller gets the answer.
pub fn channel() -> (Responder, Answer) {
    let (tx, rx) = oneshot::channel();
    (
        Responder(tx),
        Box::pin(async move { rx.await.unwrap_or(Ok(())) }),
    )
}

/// The answer of a call that was not made (no callback, or the host refused the call).
pub fn answered() -> Answer {
    Box::pin(std::future::ready(Ok(())))
}

/// Waits for every answer and gives the first throw, in call order. Every answer is awaited, so a
/// later throw is heard (and ignored) rather than left to the host.
pub async fn first_thrown(answers: Vec<Answer>) -> Outcome {
    let mut first = Ok(());
    for answer in answers {
        if let (Err(t), true) = (answer.await, first.is_ok()) {
            first = Err(t);
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers() {
        let (r, a) = channel();
        assert!(r
            .send(Err(Thrown {
                message: "boom".into()
            }))
            .is_ok());
        assert_eq!(a.await.unwrap_err().message, "boom");
        // The host never answers (shutting down): the call counts as returned.
        let (r, a) = channel();
        drop(r);
        assert_eq!(a.await, Ok(()));
        // Nobody waits: the host gets the throw back.
        let (r, a) = channel();
        drop(a);
        assert!(r.send(Err(Thrown { message: "x".into() })).is_err());
        let thrown = |m: &str| -> Answer {
            let m = m.to_string();
            Box::pin(async move { Err(Thrown { message: m }) })
        };
        assert_eq!(
            first_thrown(vec![answered(), thrown("a"), thrown("b")])
                .await
                .unwrap_err()
                .message,
            "a"
        );
        assert_eq!(first_thrown(vec![]).await, Ok(()));
    }
}
