//! Calls into the host's callbacks (JavaScript functions and listeners) whose outcome matters.
//! The host runs the callback on its own thread and tells the caller whether it returned or threw,
//! when the caller waits for that (upstream calls it inside its `try`: a throw fails the
//! operation with upstream's error). When nobody waits, a throw is the host's, as Node treats a
//! throwing listener of an event emitted from I/O: an uncaught exception. Which of the two is
//! said when the call is made (`Reply`), never guessed later.

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

/// Where the outcome of one call goes.
pub enum Reply {
    /// To the caller, who awaits the `Answer`.
    To(oneshot::Sender<Outcome>),
    /// Nobody waits: a throw is the host's uncaught exception.
    Nobody,
}

impl Reply {
    /// Reports how the callback ended (to nobody, for `Nobody`).
    pub fn send(self, outcome: Outcome) {
        if let Reply::To(tx) = self {
            let _ = tx.send(outcome);
        }
    }
}

/// A call whose caller waits: the reply goes with the call, the answer stays with the caller.
pub fn channel() -> (Reply, Answer) {
    let (tx, rx) = oneshot::channel();
    (
        Reply::To(tx),
        Box::pin(async move { rx.await.unwrap_or(Ok(())) }),
    )
}

/// The answer of a call that was not made (no callback, or the host refused the call).
pub fn answered() -> Answer {
    Box::pin(std::future::ready(Ok(())))
}

/// Waits for every answer and gives the first throw, in call order.
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
        r.send(Err(Thrown {
            message: "boom".into(),
        }));
        assert_eq!(a.await.unwrap_err().message, "boom");
        // The host never answers (shutting down): the call counts as returned.
        let (r, a) = channel();
        drop(r);
        assert_eq!(a.await, Ok(()));
        Reply::Nobody.send(Ok(())); // goes nowhere
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
