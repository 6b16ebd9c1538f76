//! The boundary of the notifier's use case: where notifications and consumed offsets are kept.
use std::collections::HashMap;

use async_trait::async_trait;

use crate::domain::{Event, Position};

/// The store failed: the shape every store of every service shares.
pub use storage::RepoError;

/// What recording an event came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The event was new: its notification is recorded.
    Notified,
    /// The event id was recorded before: nothing but the offset changed.
    Duplicate,
}

/// Notifications, and how far each partition is consumed.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// In one step: moves `at`'s partition past the record (never back) and records the notification
    /// of `event` unless its event id was recorded before — from another record: when the recorded
    /// notification came from this very record (a retry after an attempt whose outcome was lost), it
    /// is [`Recorded::Notified`] again, so that the notification is not left unannounced.
    async fn record(&self, event: &Event, at: &Position) -> Result<Recorded, RepoError>;

    /// Moves `at`'s partition past a record that is no order event.
    async fn skip(&self, at: &Position) -> Result<(), RepoError>;

    /// The offset each partition of `topic` resumes from, for the partitions consumed so far.
    async fn offsets(&self, topic: &str) -> Result<HashMap<i32, i64>, RepoError>;
}
