//! A transaction whose `BEGIN` travels with its first statements and whose `COMMIT` with its last.
//!
//! tokio-postgres sends a request when its future is first polled and answers them in order, so
//! requests polled together share one round trip: `BEGIN`, a statement and the next one leave at once,
//! and the server runs them in that order (pipelining). tokio-postgres's own `Transaction` awaits its
//! `BEGIN` first and its `COMMIT` after the last statement's answer: two round trips of their own, which
//! through pgbouncer on a busy machine are most of a short transaction's time.
//!
//! **What it keeps.** The statements and their order are the same; the server cannot tell. A statement
//! that fails aborts the transaction, so those pipelined after it fail too and a `COMMIT` behind it
//! rolls back (PostgreSQL answers `ROLLBACK` to it) — [`Pipelined::commit_with`] reports the statement's
//! error, nothing is half-written. **What it asks**: a statement sent beside `COMMIT` must be sent on
//! its future's first poll, so it must be prepared already (a cornucopia statement `.prepare()`d
//! before, a cache hit after the first time); a statement that is still being prepared when `COMMIT`
//! leaves would run after it, outside the transaction. Nothing the caller still has to check in Rust
//! may follow the last statement either: it is committed by then.
//!
//! **Dropped open** (an error, a key race, a cancelled call): `ROLLBACK` is queued on the connection
//! at once, as tokio-postgres's own `Transaction` does when dropped, so every later request on it comes
//! after the rollback and the connection goes straight back to the pool; a connection that cannot take
//! it (closed) is taken out of the pool instead. No pooled connection is ever left inside a transaction.
//!
//! **A last statement that never leaves** — one that fails in the client before it is sent (a
//! parameter of the wrong type, say) — must not let `COMMIT` go alone: [`Pipelined::commit_with`] polls
//! it once by itself first and, if it has already failed, rolls back instead of committing.
use std::future::Future;
use std::pin::pin;
use std::task::{Poll, Waker};

use deadpool_postgres::Object;

use crate::{Context, RepoError};

/// An open transaction on one pooled connection (see the module doc).
pub struct Pipelined {
    /// `None` once handed to the rollback.
    client: Option<Object>,
    /// `COMMIT` is on its way: dropped now, nothing is left to roll back.
    committing: bool,
}

impl Pipelined {
    /// Sends `BEGIN` with `first`, the transaction's first statements (polled after it, so sent after
    /// it in the same round trip), and returns `first`'s answer. A failed `BEGIN` fails `first` too,
    /// and is reported in its place.
    pub async fn begin_with<T>(
        client: Object,
        first: impl AsyncFnOnce(&Object) -> Result<T, RepoError>,
    ) -> Result<(Self, T), RepoError> {
        let transaction = Self {
            client: Some(client),
            committing: false,
        };
        let connection = transaction.client();
        let (begun, answer) = tokio::join!(connection.batch_execute("BEGIN"), first(connection));
        begun.context("begin")?;
        let answer = answer?;
        Ok((transaction, answer))
    }

    /// The connection, inside the transaction.
    pub fn client(&self) -> &Object {
        self.client
            .as_ref()
            .expect("a Pipelined transaction has its connection until it ends")
    }

    /// Sends `last` — a statement prepared beforehand, so that it leaves on its first poll — and
    /// `COMMIT` in one round trip; returns `last`'s answer once both are in. When `last` fails, `COMMIT`
    /// rolls the transaction back and `last`'s error is returned; when it fails before it leaves,
    /// `COMMIT` is not sent at all and the transaction is rolled back.
    pub async fn commit_with<T>(
        mut self,
        last: impl AsyncFnOnce(&Object) -> Result<T, RepoError>,
    ) -> Result<T, RepoError> {
        let client = self.client.as_ref().expect("open until it ends");
        let mut last = pin!(last(client));
        // Polled once alone: a statement that is already answered never reached the server (no answer
        // comes without a round trip), and COMMIT must not go without it.
        let early = std::future::poll_fn(|cx| Poll::Ready(last.as_mut().poll(cx))).await;
        if let Poll::Ready(Err(error)) = early {
            return Err(error); // dropped open: rolled back
        }
        self.committing = true;
        let committed = client.batch_execute("COMMIT");
        let (answer, committed) = match early {
            Poll::Ready(answer) => (answer, committed.await),
            Poll::Pending => tokio::join!(last, committed),
        };
        // Whatever the answers, the transaction has ended: `COMMIT` either committed it or, behind a
        // failed statement, rolled it back. If its own answer never came (a broken connection), the
        // connection is closed, and the server rolls back.
        let answer = answer?;
        committed.context("commit")?;
        Ok(answer)
    }
}

impl Drop for Pipelined {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        if self.committing {
            return; // COMMIT is queued: the connection goes back to the pool behind it
        }
        // Queued at once: the request leaves on its first poll, and its answer, never awaited, is
        // discarded by the connection. An error here means it could not be sent at all.
        let unsent = {
            let rollback = pin!(client.batch_execute("ROLLBACK"));
            let queued = rollback.poll(&mut std::task::Context::from_waker(Waker::noop()));
            matches!(queued, Poll::Ready(Err(_)))
        };
        if unsent {
            // Out of the pool: dropped, the connection closes and the server rolls back.
            drop(Object::take(client));
        }
    }
}
