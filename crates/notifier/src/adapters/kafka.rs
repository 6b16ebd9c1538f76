//! The consumer: loms's order events from Kafka, as a member of the consumer group, into
//! [`Notifier::handle`] a poll's worth of records (up to [`BATCH`]) at a time.
//!
//! - **Offsets live in our store, not in Kafka.** Auto-commit and the offset store are off; when the
//!   group assigns a partition, the rebalance callback seeks it to the offset the store holds (the one
//!   written with the partition's last notification), so a record is resumed from exactly where the
//!   last committed transaction left it. A partition the store has no offset of starts at `start` (see
//!   [`ConsumerSettings::start`]), whatever offset the group may have committed in Kafka (a tool, or an
//!   older consumer of the same group): Kafka's committed offsets are never read.
//! - **`isolation.level=read_committed`**: records of aborted producer transactions are never seen.
//! - **A poll's worth at a time, in partition order**: the records already fetched (up to [`BATCH`])
//!   are stored in one transaction — one WAL flush for all, each record still with its offset — and
//!   the next poll waits until they are; a store failure retries the same records (with backoff) and
//!   never skips one.
//! - **A blocking thread.** librdkafka runs the rebalance callback inside `poll`, which must read the
//!   store before it returns; so the loop runs on a blocking thread (`spawn_blocking`) and reaches the
//!   async store through the runtime's handle.
//! - **Shutdown** finishes storing the records of the poll in hand (unless the store is failing: then
//!   they are given up and read again after a restart), then leaves the group (its partitions go to
//!   the other replicas at once).
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::ClientContext;
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::domain::{Position, Record};
use crate::ports::NotificationStore;
use crate::service::Notifier;

/// The header that carries an event's unique id.
pub(crate) const EVENT_ID_HEADER: &str = "event-id";
/// The header that carries the id of the request that caused the change.
pub(crate) const REQUEST_ID_HEADER: &str = "x-request-id";

/// How long one poll waits for a record before looking at the stop signal again.
const POLL: Duration = Duration::from_millis(100);
/// The most records stored in one transaction: what a poll finds already fetched, up to this.
const BATCH: usize = 500;
/// The longest pause between retries of a record the store would not take.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Where a partition without a stored offset starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// At its first record: nothing published before the notifier's first start is missed.
    Earliest,
    /// At its end: for a store that forgets its offsets (memory), so a restart does not notify the
    /// whole topic again.
    Latest,
}

/// What the consumer connects to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerSettings {
    /// Bootstrap brokers, `host:port,…`.
    pub brokers: String,
    pub topic: String,
    /// The consumer group: replicas of one group share the partitions.
    pub group: String,
    pub start: Start,
}

/// Seeks newly assigned partitions to the stored offsets, or to `start`.
struct SeekToStored {
    store: Arc<dyn NotificationStore>,
    topic: String,
    start: Start,
    runtime: Handle,
    /// Set once the notifier stops.
    stopping: Arc<AtomicBool>,
}

impl ClientContext for SeekToStored {}

impl ConsumerContext for SeekToStored {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        partitions: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.seek_to_stored(partitions);
                if cooperative {
                    consumer.incremental_assign(partitions)
                } else {
                    consumer.assign(partitions)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                tracing::info!(partitions = ?numbers(partitions), "partitions revoked");
                if cooperative {
                    consumer.incremental_unassign(partitions)
                } else {
                    consumer.unassign()
                }
            }
            other => {
                tracing::error!(error = ?other, "rebalance failed; dropping the assignment");
                consumer.unassign()
            }
        };
        if let Err(error) = result {
            tracing::error!(%error, "cannot apply the rebalance");
        }
    }
}

impl SeekToStored {
    /// Sets each partition's start to its stored offset, or to `start` when it has none. The store is
    /// asked until it answers (or the notifier stops): assigning without it would re-read the partition
    /// from `start`.
    fn seek_to_stored(&self, partitions: &mut TopicPartitionList) {
        let mut backoff = Duration::from_millis(100);
        let stored = loop {
            match self.runtime.block_on(self.store.offsets(&self.topic)) {
                Ok(stored) => break stored,
                Err(error) if !self.stopping.load(Ordering::Relaxed) => {
                    tracing::warn!(error = %telemetry::error_chain(&error), "cannot read stored offsets; retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(_) => break HashMap::new(),
            }
        };
        let assigned: Vec<(String, i32)> = partitions
            .elements()
            .iter()
            .map(|p| (p.topic().to_owned(), p.partition()))
            .collect();
        for (topic, partition) in &assigned {
            let offset = match stored.get(partition).filter(|_| *topic == self.topic) {
                Some(&next) => Offset::Offset(next),
                None if self.start == Start::Earliest => Offset::Beginning,
                None => Offset::End,
            };
            if let Err(error) = partitions.set_partition_offset(topic, *partition, offset) {
                tracing::error!(%error, partition, "cannot set where the partition starts");
            }
        }
        let starts: Vec<_> = assigned
            .iter()
            .map(|(_, p)| (*p, stored.get(p).copied()))
            .collect();
        tracing::info!(partitions = ?starts, "partitions assigned (partition, stored offset)");
    }
}

fn numbers(partitions: &TopicPartitionList) -> Vec<i32> {
    partitions
        .elements()
        .iter()
        .map(|p| p.partition())
        .collect()
}

/// A consumer of `settings.topic` in `settings.group`, subscribed; it joins the group at its first
/// poll.
fn subscribe(
    settings: &ConsumerSettings,
    context: SeekToStored,
) -> Result<BaseConsumer<SeekToStored>, KafkaError> {
    let start = match settings.start {
        Start::Earliest => "earliest",
        Start::Latest => "latest",
    };
    let consumer: BaseConsumer<SeekToStored> = ClientConfig::new()
        .set("bootstrap.servers", &settings.brokers)
        .set("group.id", &settings.group)
        .set("client.id", "notifier")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", start)
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "1000")
        .create_with_context(context)?;
    consumer.subscribe(&[&settings.topic])?;
    Ok(consumer)
}

/// A member of the consumer group, subscribed; it joins the group at its first poll.
pub struct EventConsumer {
    consumer: BaseConsumer<SeekToStored>,
    notifier: Notifier,
    stopping: Arc<AtomicBool>,
}

impl EventConsumer {
    /// A consumer of `settings` handing records to a [`Notifier`] over `store`. Fails only on settings
    /// librdkafka refuses; an unreachable cluster is waited for.
    pub fn new(
        settings: &ConsumerSettings,
        store: Arc<dyn NotificationStore>,
    ) -> Result<Self, KafkaError> {
        let stopping = Arc::new(AtomicBool::new(false));
        let context = SeekToStored {
            store: store.clone(),
            topic: settings.topic.clone(),
            start: settings.start,
            runtime: Handle::current(),
            stopping: stopping.clone(),
        };
        let consumer = subscribe(settings, context)?;
        tracing::info!(brokers = %settings.brokers, topic = %settings.topic, group = %settings.group, "consuming order events");
        Ok(Self {
            consumer,
            notifier: Notifier::new(store),
            stopping,
        })
    }

    /// Consumes until `stop` turns true (see the module doc), or until this future is dropped (its
    /// runtime shutting down), which would otherwise wait for the polling thread forever.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let _stop_when_dropped = StopOnDrop(self.stopping.clone());
        let stopping = self.stopping.clone();
        let signal = tokio::spawn(async move {
            let _ = stop.wait_for(|stop| *stop).await;
            stopping.store(true, Ordering::Relaxed);
        });
        let runtime = Handle::current();
        let looping = tokio::task::spawn_blocking(move || {
            poll_until_stopped(&self.consumer, &self.notifier, &runtime, &self.stopping);
            // Leaves the group now, rather than after the session times out.
            self.consumer.unsubscribe();
        });
        if let Err(error) = looping.await {
            tracing::error!(%error, "the consumer thread failed");
        }
        signal.abort();
        tracing::info!("consumer stopped");
    }
}

/// Sets the stop flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn poll_until_stopped(
    consumer: &BaseConsumer<SeekToStored>,
    notifier: &Notifier,
    runtime: &Handle,
    stopping: &AtomicBool,
) {
    while !stopping.load(Ordering::Relaxed) {
        let messages = poll_batch(consumer);
        if messages.is_empty() {
            continue;
        }
        let records: Vec<(Record<'_>, Position)> = messages.iter().map(record_of).collect();
        if !handle_until_stored(notifier, &records, runtime, stopping) {
            // Stopped before the records were stored: they are consumed again after a restart.
            return;
        }
    }
}

/// The records a poll brings: the first within [`POLL`], then those already fetched, up to [`BATCH`].
fn poll_batch(consumer: &BaseConsumer<SeekToStored>) -> Vec<BorrowedMessage<'_>> {
    let mut messages = Vec::new();
    let mut wait = POLL;
    while messages.len() < BATCH {
        match consumer.poll(wait) {
            None => break,
            Some(Err(error)) => {
                tracing::warn!(%error, "kafka consumer error");
                break;
            }
            Some(Ok(message)) => messages.push(message),
        }
        wait = Duration::ZERO;
    }
    messages
}

/// A message as the use case reads it, and where it sits.
fn record_of<'a>(message: &'a BorrowedMessage<'_>) -> (Record<'a>, Position) {
    let header = |name: &str| {
        let headers = message.headers()?;
        headers
            .iter()
            .find(|header| header.key == name)
            .and_then(|header| header.value)
    };
    let record = Record {
        key: message.key(),
        value: message.payload(),
        event_id: header(EVENT_ID_HEADER),
        request_id: header(REQUEST_ID_HEADER),
    };
    let position = Position {
        topic: message.topic().to_owned(),
        partition: message.partition(),
        offset: message.offset(),
    };
    (record, position)
}

/// Handles a poll's records, retrying while the store fails; `false` if the notifier stopped first.
fn handle_until_stored(
    notifier: &Notifier,
    records: &[(Record<'_>, Position)],
    runtime: &Handle,
    stopping: &AtomicBool,
) -> bool {
    let mut backoff = Duration::from_millis(100);
    loop {
        match runtime.block_on(notifier.handle(records)) {
            Ok(_) => return true,
            Err(error) => {
                tracing::warn!(error = %telemetry::error_chain(&error), records = records.len(), ?backoff, "cannot store the events; retrying them");
                if stopping.load(Ordering::Relaxed) {
                    return false;
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{MockNotificationStore, Recorded, RepoError};

    fn records() -> Vec<(Record<'static>, Position)> {
        let record = Record {
            key: Some(b"7"),
            value: Some(br#"{"order_id": 7, "status": "payed", "moment": "2026-11-30T10:00:00Z"}"#),
            event_id: Some(b"e-7"),
            request_id: None,
        };
        let at = Position {
            topic: "t".into(),
            partition: 0,
            offset: 3,
        };
        vec![(record, at)]
    }

    /// `handle_until_stored` over `store`, on a blocking thread as the consumer runs it.
    async fn handle(store: MockNotificationStore, stopping: bool) -> bool {
        let notifier = Notifier::new(Arc::new(store));
        let runtime = Handle::current();
        tokio::task::spawn_blocking(move || {
            handle_until_stored(&notifier, &records(), &runtime, &AtomicBool::new(stopping))
        })
        .await
        .expect("no panic")
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_failing_store_is_asked_again_until_the_records_are_stored() {
        let mut store = MockNotificationStore::new();
        let mut order = mockall::Sequence::new();
        store
            .expect_record()
            .times(2)
            .in_sequence(&mut order)
            .returning(|_| Err(RepoError::msg("down")));
        store
            .expect_record()
            .times(1)
            .in_sequence(&mut order)
            .returning(|entries| Ok(vec![Recorded::Notified; entries.len()]));
        assert!(handle(store, false).await, "stored on the third attempt");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_stopping_notifier_leaves_records_it_could_not_store_for_the_next_run() {
        let mut store = MockNotificationStore::new();
        store
            .expect_record()
            .times(1)
            .returning(|_| Err(RepoError::msg("down")));
        assert!(
            !handle(store, true).await,
            "given up: consumed again after a restart"
        );
    }
}
