//! Notifications and offsets in process memory: nothing survives a restart — the offsets neither, so a
//! restarted notifier resumes at the end of each partition (see `config`). One replica only.
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::domain::{Position, Status};
use crate::ports::{Entry, NotificationStore, Recorded, RepoError};

#[derive(Debug, Default)]
struct State {
    /// Each recorded event id, with the record it came from.
    event_ids: HashMap<String, (String, i32, i64)>,
    /// Each order's notified statuses, in order.
    notified: HashMap<i64, Vec<Status>>,
    offsets: HashMap<(String, i32), i64>,
}

impl State {
    fn advance(&mut self, at: &Position) {
        let next = self
            .offsets
            .entry((at.topic.clone(), at.partition))
            .or_default();
        *next = (*next).max(at.next());
    }

    /// Records one entry: see [`NotificationStore::record`].
    fn record(&mut self, entry: &Entry) -> Recorded {
        self.advance(&entry.at);
        let Some(event) = &entry.event else {
            return Recorded::Skipped;
        };
        let here = (entry.at.topic.clone(), entry.at.partition, entry.at.offset);
        if let Some(recorded) = self.event_ids.get(&event.event_id) {
            return if *recorded == here {
                Recorded::Notified
            } else {
                Recorded::Duplicate
            };
        }
        self.event_ids.insert(event.event_id.clone(), here);
        self.notified
            .entry(event.order_id)
            .or_default()
            .push(event.status);
        Recorded::Notified
    }
}

/// The store in memory; every method holds one lock, so each is atomic.
#[derive(Debug, Default)]
pub struct MemoryNotificationStore {
    state: Mutex<State>,
}

impl MemoryNotificationStore {
    /// The statuses notified for `order_id`, in order.
    pub fn notified(&self, order_id: i64) -> Vec<Status> {
        self.lock()
            .notified
            .get(&order_id)
            .cloned()
            .unwrap_or_default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Each method writes only after everything that can fail: a poisoned lock guards whole data.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl NotificationStore for MemoryNotificationStore {
    async fn record(&self, entries: &[Entry]) -> Result<Vec<Recorded>, RepoError> {
        let mut state = self.lock();
        Ok(entries.iter().map(|entry| state.record(entry)).collect())
    }

    async fn offsets(&self, topic: &str) -> Result<HashMap<i32, i64>, RepoError> {
        let state = self.lock();
        let of_topic = state.offsets.iter().filter(|((t, _), _)| t == topic);
        Ok(of_topic.map(|((_, p), next)| (*p, *next)).collect())
    }
}

#[cfg(any(test, feature = "testsuite"))]
#[async_trait]
impl crate::adapters::suite::TestStore for MemoryNotificationStore {
    async fn notified_statuses(&self, order_id: i64) -> Vec<Status> {
        self.notified(order_id)
    }
}

/// The shared storage suite on a fresh in-memory store per case.
#[cfg(test)]
mod suite {
    use super::MemoryNotificationStore;

    crate::storage_suite!(async { (MemoryNotificationStore::default(), ()) }, |()| ());
}
