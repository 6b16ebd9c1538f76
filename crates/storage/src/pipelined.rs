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
//! **Dropped open** (an error, a key race, a cancelled call): the connection goes back to the pool only
//! after a `ROLLBACK` that a task of its own sends; if that fails, or no runtime is left to send it, the
//! connection is closed instead (the server rolls back), so no pooled connection is ever left inside a
//! transaction.
use deadpool_postgres::Object;

use crate::{Context, RepoError};

/// An open transaction on one pooled connection (see the module doc).
pub struct Pipelined {
    /// `None` once committed or handed to the rollback.
    client: Option<Object>,
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
    /// rolls the transaction back and `last`'s error is returned.
    pub async fn commit_with<T>(
        mut self,
        last: impl AsyncFnOnce(&Object) -> Result<T, RepoError>,
    ) -> Result<T, RepoError> {
        let client = self.client.take().expect("open until it ends");
        let (answer, committed) = tokio::join!(last(&client), client.batch_execute("COMMIT"));
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
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if client.batch_execute("ROLLBACK").await.is_err() {
                        // Out of the pool: dropped, the connection closes.
                        drop(Object::take(client));
                    }
                });
            }
            Err(_) => drop(Object::take(client)),
        }
    }
}
