//! The boundary of the notifier's use case: where notifications, dead letters and consumed offsets
//! are kept.
use std::collections::HashMap;

use async_trait::async_trait;

use crate::domain::{Event, Poison, Record};

/// The store failed: the shape every store of every service shares.
pub use storage::RepoError;

/// A record as the store takes it: the event it carries, or why it carries none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub(crate) record: Record,
    pub(crate) event: Result<Event, Poison>,
}

/// A run of records of one partition, in offset order, to store past `expected`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    /// The partition's stored next offset as this member last saw it: none when it had none. The run
    /// is applied only where it still is (or where this store's own earlier attempt at this very run
    /// left it).
    pub(crate) expected: Option<i64>,
    /// Not empty; every record of `topic`/`partition`, offsets rising, none below `expected`.
    pub(crate) entries: Vec<Entry>,
}

impl Run {
    /// The partition of the run's records.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// How many records it has.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has none (a run handed to a store never is).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The offset the partition resumes from once the run is stored.
    pub(crate) fn next(&self) -> i64 {
        self.entries
            .last()
            .map_or(self.expected.unwrap_or(0), |entry| entry.record.at.next())
    }
}

/// What storing one entry came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The event was new: its notification is recorded.
    Notified,
    /// The event id was recorded before, from another record (a re-send): nothing is notified.
    Duplicate,
    /// The record is a dead letter now, for the reason given (the entry's own, or the store's).
    DeadLettered(Poison),
}

/// What storing a run came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Stored, the partition moved to the run's next offset: one answer per entry.
    Stored(Vec<Recorded>),
    /// Nothing stored: the partition's offset is not where the run expected it — another member
    /// moved it. It stands at `stored`.
    Taken { stored: Option<i64> },
}

/// Notifications, dead letters, and how far each partition is consumed.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// In one transaction, for each run: if the partition's stored next offset is the run's
    /// `expected` (or this store's own earlier attempt at this run already moved it to the run's
    /// next offset: an attempt whose answer was lost), moves it there and stores each entry — the
    /// notification of its event unless the event id was recorded from another record, or the entry
    /// as a dead letter; an event whose data the store refuses (SQLSTATE class 22 or 23) becomes a
    /// dead letter too. Otherwise the run is [`Applied::Taken`] and nothing of it is stored. One
    /// answer per run; on `Err` nothing is stored.
    async fn apply(&self, runs: &[Run]) -> Result<Vec<Applied>, RepoError>;

    /// The offset each partition of `topic` resumes from, for the partitions consumed so far.
    async fn offsets(&self, topic: &str) -> Result<HashMap<i32, i64>, RepoError>;
}
