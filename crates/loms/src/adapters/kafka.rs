//! The relay's brokers: Apache Kafka through librdkafka, with one transactional producer per lease.
//!
//! What each setting is for:
//! - `transactional.id` = `loms-relay-<lease>-0` and `-1`: every replica relaying one outbox to one
//!   topic uses the same two ids, so the producers a new holder starts (`init_transactions`) fence the
//!   ones before — the coordinator aborts their open transactions and the partitions refuse their
//!   epoch — however long they were paused. Transactions imply `enable.idempotence`: a retried request
//!   is neither written twice nor out of order.
//! - Two producers, taking turns: a transaction begins only once the one before committed, but the
//!   coordinator completes a commit (its markers) after answering it, and a producer's next
//!   transaction is refused until then (`CONCURRENT_TRANSACTIONS`, retried after a backoff: 20 ms a
//!   transaction, measured). The other producer's last transaction has mostly completed by then. Four
//!   took the wait away entirely (commit → notification p99 79 against 107 ms at 40 orders/s) but cost
//!   2.5 MB of resident memory and seven threads each: idle loms went to 27.4 MB, past the 25 MB it
//!   must stay under (two: 24.9 MB; BENCHMARKS.md). Order is kept: each transaction's records are
//!   appended after the last one's, and become visible after it.
//! - `transaction.timeout.ms` = the lease's TTL (at least 1 s, librdkafka's floor): a step never outlives
//!   its lease, so a transaction open longer belongs to a holder that stalled; the coordinator aborts
//!   it rather than let it hold back every `read_committed` reader of its partitions (their last stable
//!   offset) until a successor fences it. librdkafka caps each record's delivery time by it too.
//! - `acks=all`: a write counts once every in-sync replica has it; the topic's `min.insync.replicas=2`
//!   makes the brokers refuse (and librdkafka retry) a write that fewer than two replicas would hold.
//! - `queue.buffering.max.messages` = 10,000, a default batch: what librdkafka may hold unsent, about
//!   5 MB of records; a larger transaction waits for room (within its deadline), it is not refused.
//! - `partitioner=murmur2_random`: the Java client's partitioner, so every producer puts one order's
//!   events on one partition.
//! - `linger.ms=5`: a transaction's records are all handed over at once, so they batch without waiting;
//!   the linger only lets the first ones wait for the rest.
//! - `retry.backoff.ms=10`: librdkafka waits this long before asking again, among others when the
//!   coordinator answers that the last transaction is still being completed.
//!
//! Reading back ([`EventPublisher::take_over`]): a `read_committed` consumer, assigned (no group), reads
//! each partition from the lease's offset to its end and collects the `event-id` headers. A partition
//! without an offset is read from its start when the lease has offsets for others (it was added since),
//! and not at all before the lease's first tenure (nothing of the lease's can be there). It trusts that
//! only the relay writes the topic transactionally: another writer's open transaction would end the
//! read early (the last stable offset), and what the relay committed past it would be sent again.
//!
//! librdkafka's transactional calls block: each runs on a blocking thread with the lease's time left,
//! at most a second. Only `init_transactions` is called again after a local timeout; a commit or an
//! abort cut short ends the producers, and the next take-over settles its transaction (see `publish`).
//!
//! Each event is one record as the contract frames it (`OrderStatusChanged` in `proto/`,
//! [`route256_proto::events`]): key = the order id in decimal, value = the message in binary protobuf,
//! headers `content-type`, `event-id`, `x-request-id` and `relay-term` (the lease's term that
//! published it).
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use telemetry::semconv;
use telemetry::trace_context::{self, TraceContext};

use async_trait::async_trait;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::time::Instant;

use route256_proto::events::{
    CONTENT_TYPE, CONTENT_TYPE_HEADER, EVENT_ID_HEADER, RELAY_TERM_HEADER, REQUEST_ID_HEADER,
};
use route256_proto::loms as pb;

use crate::domain::OrderEvent;
use crate::ports::{EventPublisher, LeaseWatch, Offsets, PublishError, Published, Term};

/// Producers taking turns (see the module doc).
const PRODUCERS: usize = 2;

/// What librdkafka may hold unsent (see the module doc).
const QUEUE_LIMIT: usize = 10_000;

/// The longest a blocking librdkafka call is given at a time; one that times out is called again while
/// the lease lasts. A stop retires the producers, which waits for the call in flight: at most this long.
const CALL_SLICE: Duration = Duration::from_secs(1);

/// Threads a batch is framed on at once.
const ENCODERS: usize = 2;

/// Batches up to this size are framed in the relay's task (well under a millisecond).
const FRAMED_HERE: usize = 32;

/// Records handed over between two yields to the runtime (a microsecond or two each): a batch takes
/// milliseconds, and a stop or a renewal's news is seen meanwhile.
const YIELD_EVERY: usize = 256;

/// Publishes order events to one topic, in transactions.
pub struct KafkaEventPublisher {
    /// One per producer: they differ in their `transactional.id`.
    producer_configs: Vec<ClientConfig>,
    reader_config: ClientConfig,
    topic: String,
    /// The producers of the current tenure, once it took over (none before, or once retired).
    producers: Vec<Arc<FutureProducer>>,
    /// Whose turn the next transaction is.
    turn: usize,
    /// Set when the producers are retired: a reading back in flight gives up.
    retired: Arc<AtomicBool>,
    /// What a commit is given, at most (the lease's time left caps it): [`CALL_SLICE`].
    commit_timeout: Duration,
}

impl KafkaEventPublisher {
    /// A publisher to `topic` on the cluster of `brokers` (`host:port,…`) for the lease `lease`, whose
    /// holder has `lease_ttl` to act. Nothing connects before [`EventPublisher::take_over`].
    pub fn new(
        brokers: &str,
        topic: &str,
        lease: &str,
        lease_ttl: Duration,
    ) -> Result<Self, KafkaError> {
        let transaction_timeout = lease_ttl.max(Duration::from_secs(1)).as_millis();
        let producer_config = |n: usize| {
            let mut config = ClientConfig::new();
            config
                .set("bootstrap.servers", brokers)
                .set("client.id", "loms-relay")
                .set("transactional.id", format!("loms-relay-{lease}-{n}"))
                .set("transaction.timeout.ms", transaction_timeout.to_string())
                .set("enable.idempotence", "true")
                .set("acks", "all")
                .set("queue.buffering.max.messages", QUEUE_LIMIT.to_string())
                .set("partitioner", "murmur2_random")
                .set("linger.ms", "5")
                .set("retry.backoff.ms", "10")
                .set("retry.backoff.max.ms", "50");
            config
        };
        let producer_configs: Vec<ClientConfig> = (0..PRODUCERS).map(producer_config).collect();
        let mut reader_config = ClientConfig::new();
        reader_config
            .set("bootstrap.servers", brokers)
            .set("client.id", "loms-relay-reader")
            .set("group.id", format!("loms-relay-{lease}"))
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "true")
            // at the end of a partition, the brokers answer at once rather than wait for records
            .set("fetch.wait.max.ms", "10")
            .set("auto.offset.reset", "earliest");
        // Both are checked here, so that a bad setting fails at start rather than at the first tenure.
        drop(producer_configs[0].create::<FutureProducer>()?);
        drop(reader_config.create::<BaseConsumer>()?);
        Ok(Self {
            producer_configs,
            reader_config,
            topic: topic.to_owned(),
            producers: Vec::new(),
            turn: 0,
            retired: Arc::default(),
            commit_timeout: CALL_SLICE,
        })
    }

    /// The same publisher with commits given `timeout` at most: short ones time out on purpose.
    #[cfg(any(test, feature = "testsuite"))]
    pub fn with_commit_timeout(self, timeout: Duration) -> Self {
        Self {
            commit_timeout: timeout,
            ..self
        }
    }

    /// Hands `records` to librdkafka in order, waiting while its queue is full, until the lease's
    /// deadline; lets the relay's other work (a stop) in every [`YIELD_EVERY`] records.
    async fn enqueue(
        &self,
        producer: &FutureProducer,
        records: Vec<Record>,
        lease: &LeaseWatch,
    ) -> Result<Vec<DeliveryFuture>, String> {
        let mut deliveries = Vec::with_capacity(records.len());
        let mut waited = false;
        for (
            n,
            Record {
                key,
                value,
                headers,
            },
        ) in records.into_iter().enumerate()
        {
            if n % YIELD_EVERY == YIELD_EVERY - 1 {
                tokio::task::yield_now().await;
            }
            let mut record = FutureRecord::to(&self.topic)
                .key(&key)
                .payload(&value)
                .headers(headers);
            let delivery = loop {
                match producer.send_result(record) {
                    Ok(delivery) => break delivery,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                        if Instant::now() >= lease.deadline() {
                            return Err("the producer's queue stayed full".into());
                        }
                        if !waited {
                            waited = true;
                            let handed = deliveries.len();
                            tracing::info!(
                                handed,
                                "the producer's queue is full; waiting for room"
                            );
                        }
                        record = returned;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((error, _)) => return Err(format!("cannot enqueue: {error}")),
                }
            };
            deliveries.push(delivery);
        }
        Ok(deliveries)
    }

    /// One transaction of `records`: begun, handed over, acknowledged, committed.
    async fn transact(
        &mut self,
        producer: Arc<FutureProducer>,
        records: Vec<Record>,
        lease: &LeaseWatch,
        framing: Duration,
    ) -> Result<Offsets, PublishError> {
        let began = Instant::now();
        let count = records.len();
        if let Err(error) = producer.begin_transaction() {
            return Err(self.fail(producer, error, lease).await);
        }
        let deliveries = match self.enqueue(&producer, records, lease).await {
            Ok(deliveries) => deliveries,
            Err(reason) => {
                let error = KafkaError::MessageProduction(RDKafkaErrorCode::Fail);
                tracing::warn!(%reason, "a transaction's records could not all be handed over");
                return Err(self.fail(producer, error, lease).await);
            }
        };
        let handed_over = Instant::now();
        let ends = match acknowledged(deliveries, lease).await {
            Ok(ends) => ends,
            Err(error) => return Err(self.fail(producer, error, lease).await),
        };
        let acknowledged = Instant::now();
        self.commit(producer, lease).await?;
        tracing::debug!(
            events = count,
            ?framing,
            handing_over = ?(handed_over - began),
            acknowledged = ?(acknowledged - handed_over),
            committing = ?acknowledged.elapsed(),
            "transaction committed"
        );
        Ok(ends)
    }

    /// After a transaction failed before or at its commit: aborts it when librdkafka says it can be;
    /// otherwise, or when the abort fails, the producers are dropped.
    async fn fail(
        &mut self,
        producer: Arc<FutureProducer>,
        error: KafkaError,
        lease: &LeaseWatch,
    ) -> PublishError {
        let abortable = match &error {
            KafkaError::Transaction(error) => error.txn_requires_abort(),
            // enqueueing failed, or the queue stayed full: the transaction is open with what went in
            other => matches!(other, KafkaError::MessageProduction(_)),
        };
        let outcome = if fenced(&error) {
            drop(producer);
            PublishError::Fenced
        } else if abortable {
            // Called once, like a commit (see `publish`): its first phase is not resumable either.
            let aborted = blocking(lease, CALL_SLICE, move |timeout| {
                producer.abort_transaction(timeout)
            });
            match aborted.await {
                Ok(Ok(())) => return PublishError::Aborted(error.to_string()),
                Ok(Err(abort)) if fenced(&abort) => PublishError::Fenced,
                Ok(Err(abort)) => PublishError::Failed(format!("{error}; then the abort: {abort}")),
                Err(abort) => PublishError::Failed(format!("{error}; then the abort: {abort}")),
            }
        } else {
            drop(producer);
            PublishError::Failed(error.to_string())
        };
        self.retire().await;
        outcome
    }

    /// Commits `producer`'s transaction, its records acknowledged.
    ///
    /// Called once, never again after a timeout. A commit's first phase is not resumable: a call timed
    /// out there leaves its request queued, and the next call takes that request's answer for its own.
    /// A commit was then reported done before it was (the next transaction refused in state
    /// CommitNotAcked), or librdkafka took the commit's end for an abort's and failed an assertion,
    /// ending the process (both seen in CI with 5 ms calls). A commit cut short leaves the outcome to the
    /// next take-over instead: its fencing completes or aborts the transaction, and it reads the topic
    /// back.
    async fn commit(
        &mut self,
        producer: Arc<FutureProducer>,
        lease: &LeaseWatch,
    ) -> Result<(), PublishError> {
        if let Err(error) = let_go(&producer, lease).await {
            return Err(self.fail(producer, error, lease).await);
        }
        let committing = producer.clone();
        let committed = blocking(lease, self.commit_timeout, move |timeout| {
            committing.commit_transaction(timeout)
        });
        match committed.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(self.fail(producer, error, lease).await),
            Err(error) => {
                drop(producer);
                self.retire().await;
                Err(error)
            }
        }
    }
}

/// Whether `error` says a newer producer of the lease took over.
fn fenced(error: &KafkaError) -> bool {
    let code = match error {
        KafkaError::Transaction(error) => error.code(),
        other => match other.rdkafka_error_code() {
            Some(code) => code,
            None => return false,
        },
    };
    matches!(
        code,
        RDKafkaErrorCode::Fenced
            | RDKafkaErrorCode::ProducerFenced
            | RDKafkaErrorCode::InvalidProducerEpoch
    )
}

/// Runs `call` on a blocking thread (librdkafka's transactional calls block) with the time left on the
/// lease, at most `slice`; fails at once when none is left.
async fn blocking<T: Send + 'static>(
    lease: &LeaseWatch,
    slice: Duration,
    call: impl FnOnce(Duration) -> T + Send + 'static,
) -> Result<T, PublishError> {
    let left = lease.deadline().saturating_duration_since(Instant::now());
    let left = left.min(slice);
    if left.is_zero() {
        return Err(PublishError::Failed("the lease ran out".into()));
    }
    tokio::task::spawn_blocking(move || call(left))
        .await
        .map_err(|error| PublishError::Failed(format!("a blocking call failed: {error}")))
}

/// Calls `init_transactions` with the time left on the lease, at most [`CALL_SLICE`], and again while
/// it times out (librdkafka then goes on with what it was doing) and the lease's renewals leave time.
/// Only `init_transactions` is called again so: it resumes from its first phase, which a commit and an
/// abort do not (see `publish`).
async fn until_lease_ends(
    lease: &LeaseWatch,
    call: impl Fn(Duration) -> KafkaResult<()> + Send + Sync + 'static,
) -> Result<KafkaResult<()>, PublishError> {
    let call = Arc::new(call);
    loop {
        let attempt = call.clone();
        let result = blocking(lease, CALL_SLICE, move |timeout| attempt(timeout)).await?;
        match result {
            Err(error) if timed_out(&error) && lease.deadline() > Instant::now() => continue,
            other => return Ok(other),
        }
    }
}

/// [`until_lease_ends`] for `init_transactions`, which may be called again after a retriable error, or
/// a coordinator still loading its log or moving after the cluster started
/// (`COORDINATOR_LOAD_IN_PROGRESS`, seen in CI): after a short pause, while the lease lasts. A fatal
/// error ends it.
async fn init_until_lease_ends(
    lease: &LeaseWatch,
    call: impl Fn(Duration) -> KafkaResult<()> + Send + Sync + 'static,
) -> Result<KafkaResult<()>, PublishError> {
    let call = Arc::new(call);
    loop {
        let attempt = call.clone();
        match until_lease_ends(lease, move |timeout| attempt(timeout)).await? {
            Err(KafkaError::Transaction(error))
                if !error.is_fatal()
                    && (error.is_retriable() || coordinator_moving(error.code()))
                    && Instant::now() + INIT_RETRY_PAUSE < lease.deadline() =>
            {
                tracing::info!(%error, "fencing: retrying init_transactions");
                tokio::time::sleep(INIT_RETRY_PAUSE).await;
            }
            other => return Ok(other),
        }
    }
}

/// The transaction coordinator is loading or moving: asking again shortly finds it.
fn coordinator_moving(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::CoordinatorLoadInProgress
            | RDKafkaErrorCode::CoordinatorNotAvailable
            | RDKafkaErrorCode::NotCoordinator
    )
}

/// The pause before `init_transactions` is called again after a retriable error.
const INIT_RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Where each partition's records end, once every delivery is acknowledged; the first failure else.
/// Awaited here rather than by the commit: rust-rdkafka's commit flushes first, polling for 100 ms at a
/// time a queue its producer's own thread serves, so every commit took 100 ms more (measured).
async fn acknowledged(
    deliveries: Vec<DeliveryFuture>,
    lease: &LeaseWatch,
) -> Result<Offsets, KafkaError> {
    let mut ends = Offsets::new();
    for delivery in deliveries {
        match by_deadline(lease, delivery).await {
            Some(Ok(Ok(delivery))) => {
                let end = ends.entry(delivery.partition).or_default();
                *end = (*end).max(delivery.offset + 1);
            }
            Some(Ok(Err((error, _)))) => return Err(error),
            Some(Err(_)) => return Err(KafkaError::Canceled),
            None => {
                return Err(KafkaError::MessageProduction(
                    RDKafkaErrorCode::MessageTimedOut,
                ))
            }
        }
    }
    Ok(ends)
}

/// Waits until librdkafka counts none of the producer's records as its own. A delivery's future
/// resolves inside librdkafka's callback, a moment before the record is let go, and rust-rdkafka's
/// commit flushes first: finding a record still counted, its flush waits on the event queue, which the
/// producer's own thread serves, for up to 100 ms (seen in one commit in ten). Gives up after
/// [`CALL_SLICE`], or when the lease ends: the commit then fails, and the producers with it.
async fn let_go(producer: &FutureProducer, lease: &LeaseWatch) -> Result<(), KafkaError> {
    let (mut asked, given_up) = (0_u32, Instant::now() + CALL_SLICE);
    while producer.in_flight_count() > 0 {
        if lease.deadline().min(given_up) <= Instant::now() {
            return Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut));
        }
        // microseconds, as a rule; a millisecond at a time if not
        asked += 1;
        if asked < 64 {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    Ok(())
}

/// `future`'s output, unless the lease runs out first (`None`).
async fn by_deadline<F: std::future::Future>(lease: &LeaseWatch, future: F) -> Option<F::Output> {
    tokio::pin!(future);
    loop {
        tokio::select! {
            output = &mut future => return Some(output),
            () = tokio::time::sleep_until(lease.deadline()) => {
                if lease.deadline() <= Instant::now() {
                    return None;
                }
            }
        }
    }
}

/// Whether `error` is a transactional call's timeout, which may be called again to go on.
fn timed_out(error: &KafkaError) -> bool {
    match error {
        KafkaError::Transaction(error) => {
            error.is_retriable() && error.code() == RDKafkaErrorCode::OperationTimedOut
        }
        KafkaError::Flush(code) => *code == RDKafkaErrorCode::OperationTimedOut,
        _ => false,
    }
}

/// An event framed as the contract's record, ready to be handed over.
struct Record {
    key: String,
    value: Vec<u8>,
    headers: OwnedHeaders,
}

/// `events` as records stamped with `term`, in order. Checking each against the contract is most of
/// the relay's work (prost-validate compiles a `pattern` rule's regex on every call: ~10 µs an event),
/// so batches are framed in [`ENCODERS`] slices at once, on blocking threads.
async fn frame(events: &[OrderEvent], term: Term, topic: &str) -> Result<Framed, String> {
    // A few are framed at once, here: a thread's hand-off would cost more.
    if events.len() <= FRAMED_HERE {
        return events
            .iter()
            .map(|event| frame_one(event, term, topic))
            .collect();
    }
    let slice = events.len().div_ceil(ENCODERS).max(1);
    let framing: Vec<_> = events
        .chunks(slice)
        .map(|chunk| {
            let (chunk, topic) = (chunk.to_vec(), topic.to_owned());
            tokio::task::spawn_blocking(move || {
                chunk
                    .iter()
                    .map(|event| frame_one(event, term, &topic))
                    .collect::<Result<Framed, String>>()
            })
        })
        .collect();
    let mut all = Framed::default();
    for framed in framing {
        let framed = framed
            .await
            .map_err(|error| format!("framing failed: {error}"))?;
        let framed = framed?;
        all.records.extend(framed.records);
        all.spans.extend(framed.spans);
    }
    Ok(all)
}

/// A transaction's records, and the publish spans of those whose change was traced: they end when the
/// transaction does.
#[derive(Default)]
struct Framed {
    records: Vec<Record>,
    spans: Vec<tracing::Span>,
}

impl FromIterator<(Record, Option<tracing::Span>)> for Framed {
    fn from_iter<I: IntoIterator<Item = (Record, Option<tracing::Span>)>>(framed: I) -> Self {
        let mut all = Self::default();
        for (record, span) in framed {
            all.records.push(record);
            all.spans.extend(span);
        }
        all
    }
}

/// One event as its record; with the change's trace context, also its publish span (a producer span,
/// the change's child), whose context the record carries on to the notifier.
fn frame_one(
    event: &OrderEvent,
    term: Term,
    topic: &str,
) -> Result<(Record, Option<tracing::Span>), String> {
    let message = message_of(event);
    let value = message
        .to_value()
        .map_err(|error| format!("not an event of the contract: {error}"))?;
    let term = term.to_string();
    let mut headers = OwnedHeaders::new_with_capacity(6)
        .insert(Header {
            key: CONTENT_TYPE_HEADER,
            value: Some(CONTENT_TYPE),
        })
        .insert(Header {
            key: EVENT_ID_HEADER,
            value: Some(event.event_id.as_str()),
        })
        .insert(Header {
            key: REQUEST_ID_HEADER,
            value: Some(event.request_id.as_str()),
        })
        .insert(Header {
            key: RELAY_TERM_HEADER,
            value: Some(term.as_str()),
        });
    let span = event
        .trace
        .as_ref()
        .map(|change| publish_span(event, change, topic));
    // the span's context; the change's own when the span is not traced (its level filtered out)
    let sent = span.as_ref().and_then(trace_context::of);
    if let Some(sent) = sent.or_else(|| event.trace.clone()) {
        headers = headers.insert(Header {
            key: trace_context::TRACEPARENT,
            value: Some(sent.traceparent.as_str()),
        });
        if !sent.tracestate.is_empty() {
            headers = headers.insert(Header {
                key: trace_context::TRACESTATE,
                value: Some(sent.tracestate.as_str()),
            });
        }
    }
    let record = Record {
        key: message.key(),
        value,
        headers,
    };
    Ok((record, span))
}

/// The publish span of an event whose change was traced: a producer span, the change's child.
fn publish_span(event: &OrderEvent, change: &TraceContext, topic: &str) -> tracing::Span {
    let span = tracing::info_span!(
        "publish",
        otel.name = format!("{topic} publish"),
        otel.kind = "producer",
        order_id = %event.order_id,
    );
    let state = Some(change.tracestate.as_str()).filter(|s| !s.is_empty());
    trace_context::continue_trace(&span, Some(&change.traceparent), state);
    semconv::kafka(&span, topic, "send");
    semconv::set(&span, "messaging.message.id", event.event_id.clone());
    span
}

/// An event as the contract's message.
pub(crate) fn message_of(event: &OrderEvent) -> pb::OrderStatusChanged {
    pb::OrderStatusChanged {
        event_id: event.event_id.clone(),
        order_id: event.order_id.get(),
        status: pb::OrderStatus::from(event.status).into(),
        moment: Some(event.moment.into()),
        request_id: event.request_id.as_str().to_owned(),
    }
}

/// The time a reading back has: until its deadline, unless its producers are retired first; each
/// request is given at most [`CALL_SLICE`] of it.
struct Budget<'a> {
    deadline: std::time::Instant,
    retired: &'a AtomicBool,
}

impl Budget<'_> {
    /// The time the next request may take, or a timeout when none is left.
    fn left(&self) -> Result<Duration, KafkaError> {
        let left = self
            .deadline
            .saturating_duration_since(std::time::Instant::now());
        match self.retired.load(Ordering::Acquire) || left.is_zero() {
            true => Err(KafkaError::MessageConsumption(
                RDKafkaErrorCode::OperationTimedOut,
            )),
            false => Ok(left.min(CALL_SLICE)),
        }
    }

    /// `request`'s answer, asked again while it times out and time is left.
    fn ask<T>(
        &self,
        mut request: impl FnMut(Duration) -> Result<T, KafkaError>,
    ) -> Result<T, KafkaError> {
        loop {
            match request(self.left()?) {
                Err(error)
                    if error.rdkafka_error_code() == Some(RDKafkaErrorCode::OperationTimedOut)
                        && self.left().is_ok() => {}
                other => return other,
            }
        }
    }
}

/// The committed records of `topic` from `from` to its end (see the module doc), by `deadline` unless
/// `retired` turns true first.
fn read_back(
    config: &ClientConfig,
    topic: &str,
    from: &Offsets,
    deadline: std::time::Instant,
    retired: &AtomicBool,
) -> Result<Published, KafkaError> {
    let budget = Budget { deadline, retired };
    let reader: BaseConsumer = config.create()?;
    let (mut ends, assignment) = starts(&reader, topic, from, &budget)?;
    let event_ids = read_to_end(&reader, topic, &assignment, &mut ends, &budget)?;
    Ok(Published { event_ids, ends })
}

/// Where the reading starts in each partition of `topic` (in `ends`, which the reading moves
/// forward), and the partitions with records past it to assign.
fn starts(
    reader: &BaseConsumer,
    topic: &str,
    from: &Offsets,
    budget: &Budget<'_>,
) -> Result<(Offsets, TopicPartitionList), KafkaError> {
    let metadata = budget.ask(|timeout| reader.fetch_metadata(Some(topic), timeout))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(KafkaError::MetadataFetch(
            RDKafkaErrorCode::UnknownTopicOrPartition,
        ));
    }
    let mut ends = Offsets::new();
    let mut assignment = TopicPartitionList::new();
    for partition in partitions {
        let (low, high) =
            budget.ask(|timeout| reader.fetch_watermarks(topic, partition, timeout))?;
        let start = match from.get(&partition) {
            Some(&offset) => offset.clamp(low, high),
            None if from.is_empty() => high,
            None => low,
        };
        ends.insert(partition, start);
        if start < high {
            assignment.add_partition_offset(topic, partition, Offset::Offset(start))?;
        }
    }
    Ok((ends, assignment))
}

/// Reads the partitions of `assignment` to their ends, moving `ends` past what it read; returns the
/// records' event ids.
fn read_to_end(
    reader: &BaseConsumer,
    topic: &str,
    assignment: &TopicPartitionList,
    ends: &mut Offsets,
    budget: &Budget<'_>,
) -> Result<Vec<String>, KafkaError> {
    let mut reading: BTreeSet<i32> = assignment
        .elements()
        .iter()
        .map(|e| e.partition())
        .collect();
    if !reading.is_empty() {
        reader.assign(assignment)?;
    }
    let mut event_ids = Vec::new();
    while !reading.is_empty() {
        match reader.poll(budget.left()?.min(Duration::from_millis(100))) {
            None => {}
            Some(Ok(record)) => {
                let ids = record.headers().into_iter().flat_map(|h| h.iter());
                let id = ids
                    .filter(|h| h.key == EVENT_ID_HEADER)
                    .find_map(|h| h.value.and_then(|v| std::str::from_utf8(v).ok()));
                event_ids.extend(id.map(str::to_owned));
                let end = ends.entry(record.partition()).or_default();
                *end = (*end).max(record.offset() + 1);
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                // the reader's position: past the markers and aborted records too
                let position = reader.position()?;
                let at = position
                    .find_partition(topic, partition)
                    .and_then(|e| e.offset().to_raw());
                if let (Some(at), Some(end)) = (at, ends.get_mut(&partition)) {
                    *end = (*end).max(at);
                }
                reading.remove(&partition);
            }
            Some(Err(error)) => return Err(error),
        }
    }
    Ok(event_ids)
}

#[async_trait]
impl EventPublisher for KafkaEventPublisher {
    async fn take_over(
        &mut self,
        from: &Offsets,
        lease: &LeaseWatch,
    ) -> Result<Published, PublishError> {
        self.retire().await;
        self.retired = Arc::default();
        let started = Instant::now();
        // Each producer fences its predecessor, all at once.
        let mut fencing = tokio::task::JoinSet::new();
        for config in &self.producer_configs {
            let producer: FutureProducer = config
                .create()
                .map_err(|e| PublishError::Failed(format!("cannot create a producer: {e}")))?;
            let producer = Arc::new(producer);
            self.producers.push(producer.clone());
            let lease = lease.clone();
            fencing.spawn(async move {
                init_until_lease_ends(&lease, move |timeout| producer.init_transactions(timeout))
                    .await
            });
        }
        while let Some(initialised) = fencing.join_next().await {
            let failure = match initialised {
                Ok(Ok(Ok(()))) => continue,
                Ok(Ok(Err(error))) => PublishError::Failed(format!("cannot take over: {error}")),
                Ok(Err(error)) => error,
                Err(error) => PublishError::Failed(format!("a fencing task failed: {error}")),
            };
            drop(fencing); // the calls in flight end by their slice; retire waits for them
            self.retire().await;
            return Err(failure);
        }
        let fenced_in = started.elapsed();
        let (config, topic, from) = (self.reader_config.clone(), self.topic.clone(), from.clone());
        let (deadline, retired) = (lease.deadline().into_std(), self.retired.clone());
        let read = tokio::task::spawn_blocking(move || {
            read_back(&config, &topic, &from, deadline, &retired)
        });
        let read = read
            .await
            .map_err(|error| PublishError::Failed(format!("a blocking call failed: {error}")));
        match read {
            Ok(Ok(published)) => {
                tracing::info!(?fenced_in, read_in = ?(started.elapsed() - fenced_in), records = published.event_ids.len(), "producer started; its predecessors fenced and the topic read back");
                Ok(published)
            }
            Ok(Err(error)) => Err(PublishError::Failed(format!(
                "cannot read the topic back: {error}"
            ))),
            Err(error) => Err(error),
        }
    }

    async fn publish(
        &mut self,
        events: &[OrderEvent],
        lease: &LeaseWatch,
    ) -> Result<Offsets, PublishError> {
        let Some(producer) = self.producers.get(self.turn).cloned() else {
            return Err(PublishError::Failed("no producer: not taken over".into()));
        };
        self.turn = (self.turn + 1) % PRODUCERS;
        let began = Instant::now();
        // Framed before the transaction begins: an event that breaks the contract opens none.
        let Framed { records, spans } = frame(events, lease.term(), &self.topic)
            .await
            .map_err(PublishError::Aborted)?;
        let framing = began.elapsed();
        let published = self.transact(producer, records, lease, framing).await;
        // the publish spans end with the transaction: failed unless it committed (a commit cut short
        // may have: the next take-over finds out, and publishes again what it did not)
        if let Err(error) = &published {
            for span in &spans {
                semconv::failed(span, format!("not committed here: {error}"));
            }
        }
        published
    }

    async fn retire(&mut self) {
        self.retired.store(true, Ordering::Release);
        let producers = std::mem::take(&mut self.producers);
        if producers.is_empty() {
            return;
        }
        let gone: Vec<_> = producers.iter().map(Arc::downgrade).collect();
        // Destroying a producer can block (librdkafka's threads end).
        let _ = tokio::task::spawn_blocking(move || drop(producers)).await;
        // A transactional call in flight on another thread holds one until its own deadline.
        while gone.iter().any(|producer| producer.strong_count() > 0) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OrderId, OrderStatus, RequestId};

    /// What fences an earlier holder, keeps an acknowledged event on at least two replicas (with the
    /// topic's `min.insync.replicas=2`) and a retried one from being written twice or out of order.
    #[test]
    fn the_producer_is_transactional_per_lease_and_waits_for_every_in_sync_replica() {
        let ttl = Duration::from_millis(2500);
        let publisher =
            KafkaEventPublisher::new("127.0.0.1:1", "t", "lease", ttl).expect("a producer");
        let second = &publisher.producer_configs[1];
        assert_eq!(second.get("transactional.id"), Some("loms-relay-lease-1"));
        for (key, value) in [
            ("transactional.id", "loms-relay-lease-0"),
            ("transaction.timeout.ms", "2500"),
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("partitioner", "murmur2_random"),
        ] {
            assert_eq!(publisher.producer_configs[0].get(key), Some(value), "{key}");
        }
        assert_eq!(
            publisher.reader_config.get("isolation.level"),
            Some("read_committed")
        );
        let short = KafkaEventPublisher::new("127.0.0.1:1", "t", "l", Duration::from_millis(300));
        let short = short.expect("a producer");
        assert_eq!(
            short.producer_configs[0].get("transaction.timeout.ms"),
            Some("1000"),
            "librdkafka's floor"
        );
    }

    #[tokio::test]
    async fn publishing_before_taking_over_fails_and_an_unreachable_cluster_ends_at_the_deadline() {
        let mut publisher =
            KafkaEventPublisher::new("127.0.0.1:1", "t", "lease", Duration::from_secs(5))
                .expect("a producer");
        let event = OrderEvent {
            position: 1,
            event_id: "0b7c6f1e-8a52-4c4f-9d0e-2f3a4b5c6d7e".into(),
            order_id: OrderId::try_from(7).expect("positive"),
            status: OrderStatus::New,
            moment: std::time::UNIX_EPOCH,
            request_id: RequestId::parse("r").expect("valid"),
            trace: None,
        };
        let lease = LeaseWatch::fixed(1, Instant::now() + Duration::from_millis(500));
        let published = publisher.publish(&[event], &lease).await;
        assert!(
            matches!(published, Err(PublishError::Failed(_))),
            "{published:?}"
        );
        let started = Instant::now();
        let taken = publisher.take_over(&Offsets::new(), &lease).await;
        assert!(matches!(taken, Err(PublishError::Failed(_))), "{taken:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "bounded by the deadline"
        );
        assert!(publisher.producers.is_empty(), "the producers are gone");
    }

    #[test]
    fn the_value_is_the_contracts_message() {
        let moment = std::time::UNIX_EPOCH + Duration::from_micros(1_796_000_000_123_456);
        let event = OrderEvent {
            position: 1,
            event_id: "0b7c6f1e-8a52-4c4f-9d0e-2f3a4b5c6d7e".into(),
            order_id: OrderId::try_from(42).expect("positive"),
            status: OrderStatus::AwaitingPayment,
            moment,
            request_id: RequestId::parse("r").expect("valid"),
            trace: None,
        };
        let message = message_of(&event);
        let value = message.to_value().expect("valid");
        let read = pb::OrderStatusChanged::from_value(&value).expect("the contract's message");
        assert_eq!(message.key(), "42");
        assert_eq!(read.event_id, event.event_id);
        assert_eq!(read.order_id, 42);
        assert_eq!(read.status(), pb::OrderStatus::AwaitingPayment);
        let at = read.moment.expect("a moment");
        assert_eq!((at.seconds, at.nanos), (1_796_000_000, 123_456_000));
        assert_eq!(read.request_id, "r");
    }
}
