//! The consumer: loms's order events from Kafka, as a member of the consumer group, into
//! [`Notifier::handle`] a poll's worth of records (up to [`BATCH`]) at a time.
//!
//! - **Offsets live in our store, not in Kafka.** Auto-commit and the offset store are off; when the
//!   group assigns a partition, the rebalance callback seeks it to the offset the store holds (the one
//!   written with the partition's last records), so a record is resumed from exactly where the last
//!   committed transaction left it. A partition the store has no offset of starts at `start` (see
//!   [`ConsumerSettings::start`]), whatever offset the group may have committed in Kafka: Kafka's
//!   committed offsets are never read.
//! - **A partition's records are stored only by the member that owns its position.** Each partition
//!   keeps the stored offset this member last saw (`expected`); the store applies a run of records
//!   only where the partition still stands there, so a member that lost the partition in a rebalance,
//!   or was paused past its session, finds it moved: it drops its records, logs nothing, and seeks to
//!   where the partition stands.
//! - **`isolation.level=read_committed`**: records of aborted producer transactions are never seen.
//! - **A poll's worth at a time**: the records already fetched (up to [`BATCH`]) are stored in one
//!   transaction — one WAL flush for all, each record still with its offset.
//! - **One partition's trouble stays its own.** A record that can never be stored goes to the dead
//!   letters (the store's doing) and never blocks. A failure that may pass is retried with backoff, for
//!   the partitions that fail only: when a poll's transaction fails, each partition is tried alone,
//!   and one still failing is paused (no more fetching) with its records kept, and tried again after
//!   its backoff, then sought past them and resumed — only once the seek succeeded, so that no record
//!   fetched meanwhile and dropped is skipped. A partition with records waiting and no progress
//!   for `stall_after` makes `/readyz` answer 503, naming it ([`Stalls`]).
//! - **A blocking thread.** librdkafka runs the rebalance callback inside `poll`, which must read the
//!   store before it returns; so the loop runs on a blocking thread (`spawn_blocking`) and reaches the
//!   async store through the runtime's handle.
//! - **Shutdown** makes one more attempt at the records in hand (unless their partition is failing:
//!   then they are read again after a restart), then leaves the group (its partitions go to the other
//!   replicas at once).
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::ClientContext;
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::domain::{Header, Position, Record};
use crate::ports::NotificationStore;
use crate::service::{Lane, Notifier, Outcome};

/// How long one poll waits for a record before looking at the stop signal again.
const POLL: Duration = Duration::from_millis(100);
/// The most records stored in one transaction: what a poll finds already fetched, up to this.
const BATCH: usize = 500;
/// The first pause before a partition's records are tried again, and the longest.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
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
    /// How long a partition may have records waiting without progress before `/readyz` says so.
    pub stall_after: Duration,
}

/// One assigned partition, as this member handles it.
#[derive(Debug, Default)]
struct Partition {
    /// The stored next offset as this member last saw it (none: the store had none).
    expected: Option<i64>,
    /// Records waiting to be stored, offsets rising, none below `expected`.
    records: Vec<Record>,
    /// Since when records have waited without progress.
    waiting_since: Option<Instant>,
    /// After a failure: its records kept, tried again at this instant.
    retry_at: Option<Instant>,
    backoff: Duration,
    /// Not fetched (after a failure): whatever still arrives of it is dropped, and fetched again from
    /// `seek_to`.
    paused: bool,
    /// Where fetching must go on from, once a seek there has succeeded: after a pause (whose later
    /// records were dropped), or after another member moved the partition. Until then the partition
    /// stays paused, so that no record is skipped.
    seek_to: Option<i64>,
}

impl Partition {
    fn assigned(expected: Option<i64>) -> Self {
        Self {
            expected,
            backoff: FIRST_BACKOFF,
            ..Self::default()
        }
    }

    /// Takes `record` unless it is one already handled or held (a fetch from before a seek).
    fn take(&mut self, record: Record, now: Instant) {
        let handled = self.expected.is_some_and(|next| record.at.offset < next);
        let held = self
            .records
            .last()
            .is_some_and(|last| record.at.offset <= last.at.offset);
        if handled || held || self.paused {
            return;
        }
        self.waiting_since.get_or_insert(now);
        self.records.push(record);
    }

    fn ready(&self, now: Instant) -> bool {
        !self.records.is_empty() && self.retry_at.is_none_or(|at| at <= now)
    }
}

/// The partitions waiting without progress, and since when: what `/readyz` reads.
#[derive(Clone, Debug, Default)]
pub struct Stalls {
    waiting_since: Arc<Mutex<BTreeMap<i32, Instant>>>,
}

impl Stalls {
    /// Fails, naming them, when partitions have waited longer than `limit`.
    pub fn check(&self, topic: &str, limit: Duration) -> Result<(), String> {
        let waiting = self.waiting_since.lock().unwrap_or_else(|p| p.into_inner());
        let stalled: Vec<String> = waiting
            .iter()
            .filter(|(_, since)| since.elapsed() > limit)
            .map(|(partition, since)| {
                format!("{topic}/{partition} for {} s", since.elapsed().as_secs())
            })
            .collect();
        if stalled.is_empty() {
            return Ok(());
        }
        Err(format!(
            "no progress with records waiting: {}",
            stalled.join(", ")
        ))
    }

    fn publish(&self, partitions: &HashMap<i32, Partition>) {
        let now: BTreeMap<i32, Instant> = partitions
            .iter()
            .filter_map(|(p, state)| Some((*p, state.waiting_since?)))
            .collect();
        *self.waiting_since.lock().unwrap_or_else(|p| p.into_inner()) = now;
    }
}

/// The records of the assigned partitions past the last one handed over, up to the last stable
/// offset, from librdkafka's statistics. Partition -1 is librdkafka's own (unassigned records); an
/// offset below 0 is none yet.
fn lag_of<'a>(partitions: impl IntoIterator<Item = &'a rdkafka::statistics::Partition>) -> i64 {
    partitions
        .into_iter()
        .filter(|p| p.partition >= 0 && p.desired && p.app_offset >= 0 && p.ls_offset >= 0)
        .map(|p| (p.ls_offset - p.app_offset).max(0))
        .sum()
}

/// Seeks newly assigned partitions to the stored offsets, or to `start`, and keeps this member's
/// state of each partition it owns.
struct SeekToStored {
    store: Arc<dyn NotificationStore>,
    topic: String,
    start: Start,
    runtime: Handle,
    /// Set once the notifier stops.
    stopping: Arc<AtomicBool>,
    /// The partitions this member owns. Locked by the polling thread only, outside `poll` or inside
    /// it (the callback): never both at once.
    partitions: Mutex<HashMap<i32, Partition>>,
    /// Where each partition without a stored offset started at its end ([`Start::Latest`]), kept for
    /// the process's life: assigned again after a rebalance (an outage, a member leaving) before it
    /// stored anything, it resumes there, not at its end again — which would skip what came between.
    /// The end is the last stable offset: librdkafka asks the brokers for it with the consumer's
    /// `read_committed`, so the records of a transaction of loms's relay still open there are read
    /// once it commits, not passed over.
    latest_starts: Mutex<HashMap<i32, i64>>,
}

impl ClientContext for SeekToStored {
    /// The member's lag: the records of its partitions past the last one handed to it, up to the last
    /// stable offset (`read_committed` reads no further). A partition not yet fetched from counts
    /// nothing. librdkafka's own `consumer_lag` counts from the offsets committed to Kafka, which the
    /// notifier keeps in its database instead.
    fn stats(&self, statistics: Statistics) {
        let lag = statistics
            .topics
            .get(&self.topic)
            .map_or(0, |topic| lag_of(topic.partitions.values()));
        metrics::gauge!("notifier_consumer_lag_records").set(lag as f64);
    }
}

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
                self.seek_to_stored(consumer, partitions);
                let assigned = if cooperative {
                    consumer.incremental_assign(partitions)
                } else {
                    consumer.assign(partitions)
                };
                // a partition paused by an earlier owner-ship of this member starts fetching again
                assigned.and_then(|()| consumer.resume(partitions))
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                tracing::info!(partitions = ?numbers(partitions), "partitions revoked");
                let mut owned = self.partitions();
                if cooperative {
                    for partition in numbers(partitions) {
                        owned.remove(&partition);
                    }
                    consumer.incremental_unassign(partitions)
                } else {
                    owned.clear();
                    consumer.unassign()
                }
            }
            other => {
                tracing::error!(error = ?other, "rebalance failed; dropping the assignment");
                self.partitions().clear();
                consumer.unassign()
            }
        };
        if let Err(error) = result {
            tracing::error!(%error, "cannot apply the rebalance");
        }
    }
}

impl SeekToStored {
    fn partitions(&self) -> MutexGuard<'_, HashMap<i32, Partition>> {
        self.partitions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets each partition's start to its stored offset, or to `start` when it has none. The store is
    /// asked until it answers (or the notifier stops): assigning without it would re-read the partition
    /// from `start`.
    fn seek_to_stored(&self, consumer: &BaseConsumer<Self>, partitions: &mut TopicPartitionList) {
        let mut backoff = FIRST_BACKOFF;
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
        let mut owned = self.partitions();
        for (topic, partition) in &assigned {
            let next = stored
                .get(partition)
                .copied()
                .filter(|_| *topic == self.topic);
            let offset = match next {
                Some(next) => Offset::Offset(next),
                None if self.start == Start::Earliest => Offset::Beginning,
                None => self.latest_start(consumer, topic, *partition),
            };
            if let Err(error) = partitions.set_partition_offset(topic, *partition, offset) {
                tracing::error!(%error, partition, "cannot set where the partition starts");
            }
            owned.insert(*partition, Partition::assigned(next));
        }
        let starts: Vec<_> = assigned
            .iter()
            .map(|(_, p)| (*p, stored.get(p).copied()))
            .collect();
        tracing::info!(partitions = ?starts, "partitions assigned (partition, stored offset)");
    }
}

impl SeekToStored {
    /// Where a partition without a stored offset starts under [`Start::Latest`]: where it started the
    /// first time it was assigned to this process, else its end now (asked of the brokers, and
    /// remembered); `End` when the brokers do not say.
    fn latest_start(&self, consumer: &BaseConsumer<Self>, topic: &str, partition: i32) -> Offset {
        let mut starts = self.latest_starts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&start) = starts.get(&partition) {
            return Offset::Offset(start);
        }
        match consumer.fetch_watermarks(topic, partition, Duration::from_secs(5)) {
            Ok((_, end)) => {
                starts.insert(partition, end);
                Offset::Offset(end)
            }
            Err(error) => {
                tracing::warn!(%error, partition, "cannot read where the partition ends; starting at its end");
                Offset::End
            }
        }
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
        // the lag on /metrics (`ClientContext::stats`): a JSON document parsed every 5 s
        .set("statistics.interval.ms", "5000")
        .create_with_context(context)?;
    consumer.subscribe(&[&settings.topic])?;
    Ok(consumer)
}

/// A member of the consumer group, subscribed; it joins the group at its first poll.
pub struct EventConsumer {
    consumer: BaseConsumer<SeekToStored>,
    notifier: Notifier,
    stopping: Arc<AtomicBool>,
    stalls: Stalls,
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
            partitions: Mutex::default(),
            latest_starts: Mutex::default(),
        };
        let consumer = subscribe(settings, context)?;
        tracing::info!(brokers = %settings.brokers, topic = %settings.topic, group = %settings.group, "consuming order events");
        Ok(Self {
            consumer,
            notifier: Notifier::new(store),
            stopping,
            stalls: Stalls::default(),
        })
    }

    /// The partitions waiting without progress, for `/readyz`.
    pub fn stalls(&self) -> Stalls {
        self.stalls.clone()
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
            let member = Member {
                consumer: &self.consumer,
                notifier: &self.notifier,
                runtime: &runtime,
                stalls: &self.stalls,
            };
            member.poll_until_stopped(&self.stopping);
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

/// What the polling thread works with.
struct Member<'a> {
    consumer: &'a BaseConsumer<SeekToStored>,
    notifier: &'a Notifier,
    runtime: &'a Handle,
    stalls: &'a Stalls,
}

impl Member<'_> {
    fn poll_until_stopped(&self, stopping: &AtomicBool) {
        while !stopping.load(Ordering::Relaxed) {
            let messages = poll_batch(self.consumer);
            let now = Instant::now();
            let context = self.consumer.context();
            let mut partitions = context.partitions();
            for message in &messages {
                if let Some(partition) = partitions.get_mut(&message.partition()) {
                    partition.take(record_of(message), now);
                }
            }
            drop(messages);
            self.reposition(&mut partitions);
            self.store_ready(&mut partitions, now);
            self.stalls.publish(&partitions);
        }
        // One more attempt at what is in hand, unless its partition is failing.
        let context = self.consumer.context();
        let mut partitions = context.partitions();
        let in_hand: Vec<i32> = partitions
            .iter()
            .filter(|(_, p)| p.retry_at.is_none() && !p.records.is_empty())
            .map(|(n, _)| *n)
            .collect();
        if !in_hand.is_empty() {
            self.store(&mut partitions, &in_hand, Instant::now());
        }
    }

    /// Stores the records of every partition ready for it: all in one step, or — when that fails —
    /// each partition on its own, so that one failing partition holds back only itself.
    fn store_ready(&self, partitions: &mut HashMap<i32, Partition>, now: Instant) {
        let mut ready: Vec<i32> = partitions
            .iter()
            .filter(|(_, p)| p.ready(now))
            .map(|(n, _)| *n)
            .collect();
        ready.sort_unstable();
        if ready.is_empty() || self.store(partitions, &ready, now) {
            return;
        }
        if ready.len() > 1 {
            for partition in ready {
                self.store(partitions, &[partition], now);
            }
        }
    }

    /// Stores the records of `which` in one step; on failure, pauses each of them until its backoff
    /// passes. Whether it was stored.
    fn store(&self, partitions: &mut HashMap<i32, Partition>, which: &[i32], now: Instant) -> bool {
        let lanes: Vec<Lane<'_>> = which
            .iter()
            .filter_map(|n| partitions.get(n))
            .map(|p| Lane {
                expected: p.expected,
                records: &p.records,
            })
            .collect();
        let handled = self.runtime.block_on(self.notifier.handle(&lanes));
        drop(lanes);
        match handled {
            Ok(outcomes) => {
                for (n, outcome) in which.iter().zip(outcomes) {
                    if let Some(partition) = partitions.get_mut(n) {
                        self.settle(*n, partition, outcome);
                    }
                }
                true
            }
            Err(error) if which.len() > 1 => {
                tracing::warn!(error = %telemetry::error_chain(&error), partitions = ?which, "cannot store the records; trying each partition alone");
                false
            }
            Err(error) => {
                for n in which {
                    if let Some(partition) = partitions.get_mut(n) {
                        self.pause(*n, partition, now);
                        tracing::warn!(error = %telemetry::error_chain(&error), partition = n, records = partition.records.len(), backoff = ?partition.backoff, "cannot store the partition's records; retrying them");
                    }
                }
                false
            }
        }
    }

    /// After a store's answer: the partition moves on to where it now stands, and fetching goes on
    /// from there after a pause or after another member moved it ([`Member::reposition`]).
    fn settle(&self, n: i32, partition: &mut Partition, outcome: Outcome) {
        let (resume_at, moved) = match outcome {
            Outcome::Stored { next } => (Some(next), false),
            Outcome::Taken { stored } => (stored, true),
        };
        partition.expected = resume_at.or(partition.expected);
        partition.records.clear();
        partition.waiting_since = None;
        partition.retry_at = None;
        partition.backoff = FIRST_BACKOFF;
        if partition.paused || moved {
            partition.seek_to = partition.expected;
            self.reposition_one(n, partition);
        }
    }

    /// Seeks every partition that must go on from elsewhere, resuming it once that succeeded; one whose
    /// seek fails stays paused (or is paused) and is tried again at the next poll.
    fn reposition(&self, partitions: &mut HashMap<i32, Partition>) {
        for (n, partition) in partitions.iter_mut() {
            if partition.seek_to.is_some() {
                self.reposition_one(*n, partition);
            }
        }
    }

    fn reposition_one(&self, n: i32, partition: &mut Partition) {
        let Some(offset) = partition.seek_to else {
            return;
        };
        let topic = &self.consumer.context().topic;
        match self.consumer.seek(topic, n, Offset::Offset(offset), POLL) {
            Ok(()) => {
                partition.seek_to = None;
                if partition.paused && partition.records.is_empty() {
                    self.set_paused(n, false);
                    partition.paused = false;
                }
            }
            Err(error) => {
                tracing::warn!(%error, partition = n, offset, "cannot seek the partition; holding it paused and trying again");
                if !partition.paused {
                    self.set_paused(n, true);
                    partition.paused = true;
                }
            }
        }
    }

    /// Holds the partition's records back for its backoff, fetching nothing of it meanwhile.
    fn pause(&self, n: i32, partition: &mut Partition, now: Instant) {
        if partition.retry_at.is_none() {
            if !partition.paused {
                self.set_paused(n, true);
                partition.paused = true;
            }
        } else {
            partition.backoff = (partition.backoff * 2).min(MAX_BACKOFF);
        }
        partition.retry_at = Some(now + partition.backoff);
    }

    fn set_paused(&self, n: i32, paused: bool) {
        let mut list = TopicPartitionList::new();
        list.add_partition(&self.consumer.context().topic, n);
        let done = if paused {
            self.consumer.pause(&list)
        } else {
            self.consumer.resume(&list)
        };
        if let Err(error) = done {
            tracing::error!(%error, partition = n, paused, "cannot pause or resume the partition");
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

/// A message as the use case reads it, with where it sits.
fn record_of(message: &BorrowedMessage<'_>) -> Record {
    let headers = message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|header| Header {
                    name: header.key.to_owned(),
                    value: header.value.map(<[u8]>::to_vec),
                })
                .collect()
        })
        .unwrap_or_default();
    Record {
        at: Position {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
        },
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::{message, record};
    use crate::domain::Status;

    /// Caught with its mechanism removed: counting from the committed offset (librdkafka's
    /// `consumer_lag`, -1 here: the notifier commits to its database) or counting every partition.
    #[test]
    fn the_lag_counts_the_assigned_partitions_records_not_yet_handed_over() {
        let partition =
            |partition, desired, app_offset, ls_offset| rdkafka::statistics::Partition {
                partition,
                desired,
                app_offset,
                ls_offset,
                consumer_lag: -1,
                committed_offset: -1001,
                ..Default::default()
            };
        let partitions = [
            partition(0, true, 10, 25),    // 15 behind
            partition(1, true, 40, 40),    // caught up
            partition(2, true, -1001, 90), // assigned, nothing fetched yet
            partition(3, false, 5, 50),    // another member's
            partition(-1, true, 0, 100),   // librdkafka's own
        ];
        assert_eq!(lag_of(&partitions), 15);
    }

    #[test]
    fn a_partition_takes_each_record_once_and_none_it_handled_or_while_paused() {
        let now = Instant::now();
        let mut partition = Partition::assigned(Some(5));
        for offset in [3, 5, 5, 4, 7, 6] {
            partition.take(record(offset, &message(1, Status::New)), now);
        }
        let offsets: Vec<i64> = partition.records.iter().map(|r| r.at.offset).collect();
        assert_eq!(offsets, vec![5, 7]);
        assert_eq!(partition.waiting_since, Some(now));
        partition.retry_at = Some(now + Duration::from_secs(1));
        partition.paused = true;
        partition.take(record(8, &message(1, Status::New)), now);
        assert_eq!(partition.records.len(), 2, "fetched again after the seek");
        assert!(!partition.ready(now));
        assert!(partition.ready(now + Duration::from_secs(1)));
    }

    /// `store_ready` over partitions 0 and 1, both with records, against a store that fails every
    /// step holding partition 1: what becomes of each.
    async fn store_ready_with_partition_1_failing() -> HashMap<i32, Partition> {
        let mut store = crate::ports::MockNotificationStore::new();
        store.expect_apply().returning(|runs| {
            if runs.iter().any(|run| run.partition() == 1) {
                return Err(crate::ports::RepoError::msg(
                    "partition 1's rows are locked",
                ));
            }
            let stored = runs.iter().map(|run| {
                crate::ports::Applied::Stored(vec![crate::ports::Recorded::Notified; run.len()])
            });
            Ok(stored.collect())
        });
        let store: Arc<dyn NotificationStore> = Arc::new(store);
        let settings = ConsumerSettings {
            brokers: "127.0.0.1:1".into(), // nobody: pause and seek only log their failure
            topic: "t".into(),
            group: "g".into(),
            start: Start::Earliest,
            stall_after: Duration::from_secs(60),
        };
        let consumer = EventConsumer::new(&settings, store).expect("a consumer");
        let runtime = Handle::current();
        tokio::task::spawn_blocking(move || {
            let now = Instant::now();
            let mut partitions = HashMap::new();
            for n in [0, 1] {
                let mut partition = Partition::assigned(Some(5));
                let mut first = record(5, &message(1, Status::New));
                first.at.partition = n;
                partition.take(first, now);
                partitions.insert(n, partition);
            }
            let member = Member {
                consumer: &consumer.consumer,
                notifier: &consumer.notifier,
                runtime: &runtime,
                stalls: &consumer.stalls,
            };
            member.store_ready(&mut partitions, now);
            partitions
        })
        .await
        .expect("no panic")
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn one_failing_partition_holds_back_only_itself() {
        let partitions = store_ready_with_partition_1_failing().await;
        let (healthy, failing) = (&partitions[&0], &partitions[&1]);
        assert!(
            healthy.records.is_empty(),
            "stored though partition 1 failed"
        );
        assert_eq!(healthy.expected, Some(6));
        assert_eq!(healthy.retry_at, None);
        assert_eq!(failing.records.len(), 1, "kept for the retry");
        assert_eq!(failing.expected, Some(5));
        assert!(
            failing.retry_at.is_some(),
            "paused until its backoff passes"
        );
        assert!(failing.paused);
    }

    /// A partition whose seek fails (here: a consumer that owns nothing) stays paused, dropping what
    /// arrives of it, and keeps where it must go on from: no record is skipped.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_partition_whose_seek_fails_stays_paused_until_one_succeeds() {
        let store = crate::ports::MockNotificationStore::new();
        let settings = ConsumerSettings {
            brokers: "127.0.0.1:1".into(),
            topic: "t".into(),
            group: "g".into(),
            start: Start::Earliest,
            stall_after: Duration::from_secs(60),
        };
        let consumer = EventConsumer::new(&settings, Arc::new(store)).expect("a consumer");
        let runtime = Handle::current();
        let partition = tokio::task::spawn_blocking(move || {
            let member = Member {
                consumer: &consumer.consumer,
                notifier: &consumer.notifier,
                runtime: &runtime,
                stalls: &consumer.stalls,
            };
            let mut partition = Partition::assigned(Some(5));
            partition.paused = true;
            member.settle(2, &mut partition, Outcome::Stored { next: 9 });
            partition.take(record(9, &message(1, Status::New)), Instant::now());
            partition
        })
        .await
        .expect("no panic");
        assert_eq!(partition.seek_to, Some(9), "tried again at the next poll");
        assert!(partition.paused, "not resumed without the seek");
        assert!(partition.records.is_empty(), "dropped until fetched from 9");
    }

    #[test]
    fn stalls_name_the_partitions_waiting_too_long() {
        let stalls = Stalls::default();
        let mut partitions = HashMap::new();
        let mut waiting = Partition::assigned(None);
        waiting.waiting_since = Instant::now().checked_sub(Duration::from_secs(90));
        partitions.insert(2, waiting);
        partitions.insert(0, Partition::assigned(None));
        stalls.publish(&partitions);
        let why = stalls
            .check("t", Duration::from_secs(60))
            .expect_err("stalled");
        assert!(why.contains("t/2 for 90 s"), "{why}");
        assert!(!why.contains("t/0"), "{why}");
        assert_eq!(stalls.check("t", Duration::from_secs(120)), Ok(()));
    }
}
