//! Notifications and offsets in process memory: nothing survives a restart — the offsets neither, so a
//! restarted notifier resumes at the end of each partition (see `config`). One replica only.
//!
//! Bounded: it keeps each partition's offset, and the ids of the last [`WINDOW`] events notified (with
//! as many recent notifications and dead letters, for tests and diagnostics) — what de-duplication
//! needs, since the relay re-sends only what it had in flight; an event re-sent after more than
//! [`WINDOW`] others would be notified again.
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::domain::{Event, Position, Status};
use crate::ports::{Applied, Entry, NotificationStore, Recorded, RepoError, Run};

/// How many recent event ids (and notifications, and dead letters) are kept.
pub const WINDOW: usize = 100_000;

#[derive(Debug, Default)]
struct State {
    /// Each recent event id, with the record it was notified from.
    event_ids: HashMap<String, Position>,
    /// The same ids, oldest first, to forget them in order.
    oldest: VecDeque<String>,
    /// Recent notifications, oldest first: (order id, status).
    notified: VecDeque<(i64, Status)>,
    /// Recent dead letters by position — (topic, partition, offset) — with their reasons.
    dead_letters: BTreeMap<(String, i32, i64), String>,
    /// Each partition's next offset, and the store that moved it last.
    offsets: HashMap<(String, i32), (i64, u64)>,
}

impl State {
    /// Applies one run: see [`NotificationStore::apply`].
    fn apply(&mut self, run: &Run, holder: u64) -> Applied {
        let slot = (run.topic.clone(), run.partition);
        let stored = self.offsets.get(&slot).copied();
        let ours = stored.is_some_and(|(next, by)| by == holder && next == run.next());
        if stored.map(|(next, _)| next) != run.expected && !ours {
            return Applied::Taken {
                stored: stored.map(|(next, _)| next),
            };
        }
        self.offsets.insert(slot, (run.next(), holder));
        Applied::Stored(run.entries.iter().map(|entry| self.record(entry)).collect())
    }

    fn record(&mut self, entry: &Entry) -> Recorded {
        let at = &entry.record.at;
        let event = match &entry.event {
            Ok(event) => event,
            Err(poison) => {
                let position = (at.topic.clone(), at.partition, at.offset);
                self.dead_letters
                    .insert(position, poison.label().to_owned());
                if self.dead_letters.len() > WINDOW {
                    self.dead_letters.pop_first();
                }
                return Recorded::DeadLettered(poison.clone());
            }
        };
        if let Some(recorded) = self.event_ids.get(&event.event_id) {
            return if recorded == at {
                Recorded::Notified
            } else {
                Recorded::Duplicate
            };
        }
        self.remember(event, at);
        Recorded::Notified
    }

    fn remember(&mut self, event: &Event, at: &Position) {
        self.event_ids.insert(event.event_id.clone(), at.clone());
        self.oldest.push_back(event.event_id.clone());
        if self.oldest.len() > WINDOW {
            if let Some(forgotten) = self.oldest.pop_front() {
                self.event_ids.remove(&forgotten);
            }
        }
        push_bounded(&mut self.notified, (event.order_id, event.status));
    }
}

/// Appends `item`, forgetting the oldest past [`WINDOW`].
fn push_bounded<T>(queue: &mut VecDeque<T>, item: T) {
    queue.push_back(item);
    if queue.len() > WINDOW {
        queue.pop_front();
    }
}

/// The store in memory; every method holds one lock, so each is atomic.
#[derive(Debug, Default)]
pub struct MemoryNotificationStore {
    state: Arc<Mutex<State>>,
    /// Which store moved a partition last (see `claim_run`); only the suite's twins differ.
    holder: u64,
}

impl MemoryNotificationStore {
    /// The recent statuses notified for `order_id`, in order.
    pub fn notified(&self, order_id: i64) -> Vec<Status> {
        let state = self.lock();
        let of_order = state
            .notified
            .iter()
            .filter(|(order, _)| *order == order_id);
        of_order.map(|(_, status)| *status).collect()
    }

    /// How many event ids the store remembers: never more than [`WINDOW`].
    pub fn remembered(&self) -> usize {
        self.lock().event_ids.len()
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
    async fn apply(&self, runs: &[Run]) -> Result<Vec<Applied>, RepoError> {
        let mut state = self.lock();
        Ok(runs
            .iter()
            .map(|run| state.apply(run, self.holder))
            .collect())
    }

    async fn offsets(&self, topic: &str) -> Result<HashMap<i32, i64>, RepoError> {
        let state = self.lock();
        let of_topic = state.offsets.iter().filter(|((t, _), _)| t == topic);
        Ok(of_topic.map(|((_, p), (next, _))| (*p, *next)).collect())
    }
}

#[cfg(any(test, feature = "testsuite"))]
#[async_trait]
impl crate::adapters::suite::TestStore for MemoryNotificationStore {
    async fn notified_statuses(&self, order_id: i64) -> Vec<Status> {
        self.notified(order_id)
    }

    async fn dead_letters(&self, topic: &str) -> Vec<(i32, i64, String)> {
        let state = self.lock();
        let of_topic = state.dead_letters.iter().filter(|((t, ..), _)| t == topic);
        of_topic
            .map(|((_, partition, offset), reason)| (*partition, *offset, reason.clone()))
            .collect()
    }

    fn twin(&self) -> Option<Self> {
        Some(Self {
            state: self.state.clone(),
            holder: self.holder + 1,
        })
    }

    async fn refuse_order(&self, _: i64) -> bool {
        false
    }
}

/// The shared storage suite on a fresh in-memory store per case.
#[cfg(test)]
mod suite {
    use super::MemoryNotificationStore;

    crate::storage_suite!(async { (MemoryNotificationStore::default(), ()) }, |()| ());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::{message, record};
    use crate::domain::Event;

    #[tokio::test]
    async fn it_remembers_a_bounded_window_of_event_ids() {
        let store = MemoryNotificationStore::default();
        let total = WINDOW + 10;
        let entries: Vec<Entry> = (0..total)
            .map(|n| {
                let record = record(n as i64, &message(n as i64 + 1, Status::New));
                let event = Event::parse(&record);
                Entry { record, event }
            })
            .collect();
        let run = Run {
            topic: "t".into(),
            partition: 2,
            expected: None,
            entries,
        };
        store.apply(&[run]).await.expect("stored");
        assert_eq!(store.remembered(), WINDOW);
        assert_eq!(store.lock().notified.len(), WINDOW);
    }
}
