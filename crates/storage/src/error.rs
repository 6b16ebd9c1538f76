//! The one shape of a storage failure, and the rule that sorts database errors into its two kinds.
//!
//! Every adapter of every service returns [`RepoError`]; the in-memory stores too. The rule lives
//! here once: [`Classify`] says which database errors mean "unreachable", [`Context::context`] turns
//! any of them into a `RepoError` of the right kind with what was being done, and [`Stored::stored`]
//! marks a stored value that does not fit its domain type (corrupt data, a failure).
use std::borrow::Cow;
use std::time::Duration;

use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

/// A boxed cause, kept for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// A storage operation failed; the cause is kept for the log and never shown to a caller.
#[derive(Debug, thiserror::Error)]
#[error("storage {}: {context}", if *.unavailable { "unavailable" } else { "failed" })]
pub struct RepoError {
    context: Cow<'static, str>,
    /// The store could not be reached or used at all (a retry later may succeed), as opposed to a
    /// request it refused or a bug.
    unavailable: bool,
    #[source]
    source: Option<Cause>,
}

impl RepoError {
    /// The store answered, and the operation failed (a refused statement, corrupt data, a bug).
    pub fn failed(context: impl Into<Cow<'static, str>>, source: impl Into<Cause>) -> Self {
        Self {
            context: context.into(),
            unavailable: false,
            source: Some(source.into()),
        }
    }

    /// A failure with no underlying error: an invariant the store found broken.
    pub fn msg(context: impl Into<Cow<'static, str>>) -> Self {
        Self {
            context: context.into(),
            unavailable: false,
            source: None,
        }
    }

    /// The store is unreachable (down, restarting, out of connections, stalled).
    pub fn unavailable(context: impl Into<Cow<'static, str>>, source: impl Into<Cause>) -> Self {
        Self {
            unavailable: true,
            ..Self::failed(context, source)
        }
    }

    /// Whether a retry later may succeed: the store could not be reached or used at all.
    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }
}

/// A storage operation that got no answer in time: the database, or pgbouncer, stalls.
#[derive(Debug, thiserror::Error)]
#[error("no answer from the database within {0:?}")]
pub struct NoAnswer(pub Duration);

impl From<NoAnswer> for RepoError {
    fn from(stalled: NoAnswer) -> Self {
        Self::unavailable("no answer", stalled)
    }
}

/// An error of the database or of the pool in front of it, which can tell whether the database could
/// not be reached or used at all.
pub trait Classify: std::error::Error + Send + Sync + 'static {
    /// Down, restarting, out of connections — a retry later may succeed — rather than a statement
    /// that failed.
    fn is_unavailable(&self) -> bool;
}

impl Classify for tokio_postgres::Error {
    fn is_unavailable(&self) -> bool {
        if self.is_closed() {
            return true;
        }
        match self.code() {
            Some(code) => {
                code.code().starts_with("08") // connection exception
                    || *code == SqlState::ADMIN_SHUTDOWN
                    || *code == SqlState::CRASH_SHUTDOWN
                    || *code == SqlState::CANNOT_CONNECT_NOW
                    || *code == SqlState::TOO_MANY_CONNECTIONS
            }
            // No SQLSTATE: the connection itself failed (refused, reset, timed out).
            None => true,
        }
    }
}

impl Classify for PoolError {
    fn is_unavailable(&self) -> bool {
        match self {
            PoolError::Timeout(_) | PoolError::Closed => true,
            PoolError::Backend(error) => error.is_unavailable(),
            PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_) => false,
        }
    }
}

/// `.context("what was being done")` on a database result: a [`RepoError`] of the right kind.
pub trait Context<T> {
    fn context(self, what: &'static str) -> Result<T, RepoError>;
}

impl<T, E: Classify> Context<T> for Result<T, E> {
    fn context(self, what: &'static str) -> Result<T, RepoError> {
        self.map_err(|error| {
            if error.is_unavailable() {
                RepoError::unavailable(what, error)
            } else {
                RepoError::failed(what, error)
            }
        })
    }
}

/// `.stored("order id")` on the conversion of a stored value into its domain type: when it fails, the
/// data is corrupt.
pub trait Stored<T> {
    fn stored(self, what: &'static str) -> Result<T, RepoError>;
}

impl<T, E: Into<Cause>> Stored<T> for Result<T, E> {
    fn stored(self, what: &'static str) -> Result<T, RepoError> {
        self.map_err(|error| RepoError::failed(format!("stored {what} out of range"), error))
    }
}

/// The database refused a statement for the data it carried — SQLSTATE class 22 (data exception) or
/// 23 (integrity constraint violation) — so the same data will be refused whenever it is tried again,
/// unlike a failure that may pass (a lost connection, a timeout, 40001, 40P01).
pub fn refuses_the_data(error: &tokio_postgres::Error) -> bool {
    error
        .code()
        .is_some_and(|code| code.code().starts_with("22") || code.code().starts_with("23"))
}

/// The SQLSTATE and constraint of a statement the database refused, when it was that.
pub fn violated(error: &tokio_postgres::Error, code: &SqlState, constraint: &str) -> bool {
    error
        .as_db_error()
        .is_some_and(|e| e.code() == code && e.constraint() == Some(constraint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_that_cannot_lend_a_connection_is_unavailable() {
        let timed_out: Result<(), PoolError> =
            Err(PoolError::Timeout(deadpool_postgres::TimeoutType::Wait));
        let error = timed_out.context("get a connection").expect_err("failed");
        assert!(error.is_unavailable());
        assert_eq!(error.to_string(), "storage unavailable: get a connection");
        let closed: Result<(), PoolError> = Err(PoolError::Closed);
        assert!(closed.context("x").expect_err("failed").is_unavailable());
    }

    #[test]
    fn a_stall_is_unavailable_and_corrupt_data_a_failure() {
        let stalled = RepoError::from(NoAnswer(Duration::from_secs(5)));
        assert!(stalled.is_unavailable());
        let corrupt = u32::try_from(-1_i64)
            .stored("sku")
            .expect_err("out of range");
        assert!(!corrupt.is_unavailable());
        assert_eq!(
            corrupt.to_string(),
            "storage failed: stored sku out of range"
        );
        assert!(
            std::error::Error::source(&corrupt).is_some(),
            "the cause is kept"
        );
    }
}
