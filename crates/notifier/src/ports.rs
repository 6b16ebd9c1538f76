//! The boundary of the notifier's use case: where notifications and consumed offsets are kept.
use std::collections::HashMap;

use async_trait::async_trait;

use crate::domain::{Event, Position};

/// The store failed: the shape every store of every service shares.
pub use storage::RepoError;

/// A record as the store takes it: where it sits, and the order event it carried — none when it
/// carried no order event (it only moves its partition on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub(crate) event: Option<Event>,
    pub(crate) at: Position,
}

/// What recording an entry came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The event was new: its notification is recorded.
    Notified,
    /// The event id was recorded before: nothing but the offset changed.
    Duplicate,
    /// No event: only the offset changed.
    Skipped,
}

/// Notifications, and how far each partition is consumed.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// In one step — one transaction — for each entry, in order: moves its partition past the record
    /// (never back) and records the notification of its event unless the event id was recorded before
    /// from another record. When the recorded notification came from this very record (a retry after
    /// an attempt whose outcome was lost) it is [`Recorded::Notified`] again, so that no notification
    /// is left unannounced. One answer per entry; on `Err` nothing is stored.
    async fn record(&self, entries: &[Entry]) -> Result<Vec<Recorded>, RepoError>;

    /// The offset each partition of `topic` resumes from, for the partitions consumed so far.
    async fn offsets(&self, topic: &str) -> Result<HashMap<i32, i64>, RepoError>;
}
