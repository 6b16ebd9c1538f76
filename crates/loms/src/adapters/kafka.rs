//! The relay's brokers: Apache Kafka through librdkafka, with an idempotent producer.
//!
//! What each setting is for:
//! - `enable.idempotence`: the brokers drop a retried batch they already wrote and refuse one that
//!   arrives out of sequence, so librdkafka's retries neither duplicate nor reorder a partition. It
//!   implies at most 5 requests in flight per broker.
//! - `acks=all`: a write counts once every in-sync replica has it; the topic's `min.insync.replicas=2`
//!   makes the brokers refuse (and librdkafka retry) a write that fewer than two replicas would hold.
//! - `message.timeout.ms=0` (no limit): while the cluster is unreachable librdkafka keeps retrying,
//!   backing off, rather than failing an event — a timed-out event could leave a gap that a later
//!   event of its order jumps over.
//! - `enable.gapless.guarantee`: any other error that could leave such a gap stops the producer instead
//!   (a fatal error); the next [`EventPublisher::send`] after the failure was reported builds a new one.
//! - An event librdkafka refuses as it is enqueued (too large, say) holds every later send back —
//!   they fail at once — until its batch's acknowledgements are read: batches go out before earlier
//!   ones are answered, and a later event of its order must not be written first.
//! - `partitioner=murmur2_random`: the Java client's partitioner, so every producer puts one order's
//!   events on one partition.
//! - `linger.ms=25`: a batch waits up to 25 ms for company. Fewer, larger requests cost the brokers
//!   less: at 250 events/s on two cores, the `acks=all` wait had a p99 of 136 ms with 2 ms of linger
//!   and 58 ms with 25 (`events-load paced`, BENCHMARKS.md).
//!
//! Dropping the publisher drops what is in flight (rdkafka purges it): those events are unmarked and the
//! next relay sends them again.
//!
//! Each event is one record as the contract frames it (`OrderStatusChanged` in `proto/`,
//! [`route256_proto::events`]): key = the order id in decimal, value = the message in binary protobuf,
//! headers `content-type`, `event-id` and `x-request-id`.
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};

use route256_proto::events::{
    CONTENT_TYPE, CONTENT_TYPE_HEADER, EVENT_ID_HEADER, REQUEST_ID_HEADER,
};
use route256_proto::loms as pb;

use crate::domain::{OrderEvent, OrderId};
use crate::ports::{Acks, EventPublisher, PublishError};

/// Publishes order events to one topic.
pub(crate) struct KafkaEventPublisher {
    config: ClientConfig,
    topic: String,
    /// The producer in use; `None` after a fatal error, until the next send builds another. Shared with
    /// the acknowledgements in flight, which find out about fatal errors.
    producer: Arc<Mutex<Option<FutureProducer>>>,
    /// Set from an event's failure to enqueue until the acknowledgements of its batch, which report
    /// it, are read: meanwhile every send fails at once, so no later event of its order — in a later
    /// batch — is written before the relay knows. (A relay that drops those acknowledgements unread
    /// is stopping, with this publisher.)
    unreported_failure: Arc<AtomicBool>,
}

impl KafkaEventPublisher {
    /// A publisher to `topic` on the cluster of `brokers` (`host:port,…`). Connecting happens in the
    /// background: an unreachable cluster delays deliveries, it does not fail this.
    pub(crate) fn new(brokers: &str, topic: &str) -> Result<Self, KafkaError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", brokers)
            .set("client.id", "loms-relay")
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "0")
            .set("enable.gapless.guarantee", "true")
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "25")
            .set("retry.backoff.ms", "100")
            .set("retry.backoff.max.ms", "1000");
        let producer = config.create()?;
        Ok(Self {
            config,
            topic: topic.to_owned(),
            producer: Arc::new(Mutex::new(Some(producer))),
            unreported_failure: Arc::default(),
        })
    }

    /// The producer in use, or a new one after a fatal error.
    fn producer(&self) -> Result<FutureProducer, PublishError> {
        let mut slot = self
            .producer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(producer) = slot.as_ref() {
            return Ok(producer.clone());
        }
        let producer: FutureProducer = self
            .config
            .create()
            .map_err(|e| PublishError(format!("cannot create a producer: {e}")))?;
        *slot = Some(producer.clone());
        Ok(producer)
    }

    /// Hands `events` to librdkafka in order, all before any delivery is awaited, so that it can batch
    /// them; after an order's event failed to enqueue, its later events are not enqueued at all.
    async fn hand_over(
        &self,
        producer: &FutureProducer,
        events: &[OrderEvent],
    ) -> Vec<Result<DeliveryFuture, PublishError>> {
        let mut failed_orders: HashSet<OrderId> = HashSet::new();
        let mut deliveries = Vec::with_capacity(events.len());
        for event in events {
            let delivery = if failed_orders.contains(&event.order_id) {
                Err(PublishError("an earlier event of the order failed".into()))
            } else {
                self.enqueue(producer, event).await
            };
            if delivery.is_err() {
                failed_orders.insert(event.order_id);
            }
            deliveries.push(delivery);
        }
        deliveries
    }

    /// Hands one event to librdkafka, waiting while its queue is full.
    async fn enqueue(
        &self,
        producer: &FutureProducer,
        event: &OrderEvent,
    ) -> Result<DeliveryFuture, PublishError> {
        let message = message_of(event);
        let key = message.key();
        let value = message
            .to_value()
            .map_err(|error| PublishError(format!("not an event of the contract: {error}")))?;
        let headers = OwnedHeaders::new()
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
            });
        let mut record = FutureRecord::to(&self.topic)
            .key(&key)
            .payload(&value)
            .headers(headers);
        loop {
            match producer.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    record = returned;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err((error, _)) => return Err(PublishError(format!("cannot enqueue: {error}"))),
            }
        }
    }
}

/// Drops `producer` from `slot` if it stopped for good, so that the next send starts a new one.
fn discard_if_fatal(slot: &Mutex<Option<FutureProducer>>, producer: &FutureProducer) {
    if let Some((code, reason)) = producer.client().fatal_error() {
        tracing::error!(?code, %reason, "kafka producer stopped; starting a new one");
        *slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }
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

#[async_trait]
impl EventPublisher for KafkaEventPublisher {
    async fn send(&self, events: &[OrderEvent]) -> Acks {
        if self.unreported_failure.load(Ordering::Acquire) {
            let error =
                PublishError("an earlier event failed; the relay has not seen it yet".into());
            return failed_at_once(events, &error);
        }
        let producer = match self.producer() {
            Ok(producer) => producer,
            Err(error) => return failed_at_once(events, &error),
        };
        let deliveries = self.hand_over(&producer, events).await;
        let enqueue_failed = deliveries.iter().any(Result::is_err);
        if enqueue_failed {
            self.unreported_failure.store(true, Ordering::Release);
        }
        let (slot, unreported) = (self.producer.clone(), self.unreported_failure.clone());
        Box::pin(async move {
            let mut results = Vec::with_capacity(deliveries.len());
            for delivery in deliveries {
                results.push(match delivery {
                    Ok(delivery) => match delivery.await {
                        Ok(Ok(_)) => Ok(()),
                        Ok(Err((error, _))) => Err(PublishError(error.to_string())),
                        Err(_) => Err(PublishError("the producer went away".into())),
                    },
                    Err(error) => Err(error),
                });
            }
            // Replaced only here, where the failure is reported: the relay hands nothing more over
            // until it has seen this batch's failure, so no later event overtakes a failed one.
            if results.iter().any(Result::is_err) {
                discard_if_fatal(&slot, &producer);
            }
            if enqueue_failed {
                unreported.store(false, Ordering::Release);
            }
            results
        })
    }
}

/// Every event of `events` failed with `error`, answered at once.
fn failed_at_once(events: &[OrderEvent], error: &PublishError) -> Acks {
    let results = events.iter().map(|_| Err(error.clone())).collect();
    Box::pin(std::future::ready(results))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OrderStatus, RequestId};

    /// What keeps an acknowledged event on at least two replicas (with the topic's
    /// `min.insync.replicas=2`) and a retried one from being written twice or out of order.
    #[test]
    fn the_producer_is_idempotent_and_waits_for_every_in_sync_replica() {
        let publisher = KafkaEventPublisher::new("127.0.0.1:1", "t").expect("a producer");
        for (key, value) in [
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("message.timeout.ms", "0"),
            ("enable.gapless.guarantee", "true"),
            ("partitioner", "murmur2_random"),
        ] {
            assert_eq!(publisher.config.get(key), Some(value), "{key}");
        }
    }

    /// An event of `order`.
    fn event_of(order: i64) -> OrderEvent {
        OrderEvent {
            position: 1,
            event_id: "0b7c6f1e-8a52-4c4f-9d0e-2f3a4b5c6d7e".into(),
            order_id: OrderId::try_from(order).expect("positive"),
            status: OrderStatus::New,
            moment: std::time::UNIX_EPOCH,
            request_id: RequestId::parse("r").expect("valid"),
        }
    }

    #[tokio::test]
    async fn after_an_event_fails_to_enqueue_nothing_goes_out_until_that_is_reported() {
        // nobody listens there: whatever is enqueued waits for ever
        let publisher = KafkaEventPublisher::new("127.0.0.1:1", "t").expect("a producer");
        // no event of the contract: refused as it is enqueued
        let first = publisher
            .send(&[OrderEvent {
                event_id: "not a uuid".into(),
                ..event_of(7)
            }])
            .await;
        // the order's next event, in the next batch, before the failure was read
        let second = publisher.send(&[event_of(7)]).await;
        let second = tokio::time::timeout(Duration::from_secs(10), second).await;
        let second = second.expect("answered at once: not enqueued");
        assert!(second[0].is_err(), "{second:?}");
        assert!(first.await[0].is_err(), "the refusal, now reported");
        let third = publisher.send(&[event_of(7)]).await;
        let waiting = tokio::time::timeout(Duration::from_millis(300), third).await;
        assert!(waiting.is_err(), "reported: sends are enqueued again");
    }

    #[test]
    fn the_value_is_the_contracts_message() {
        let moment = std::time::UNIX_EPOCH + Duration::from_micros(1_796_000_000_123_456);
        let event = OrderEvent {
            status: OrderStatus::AwaitingPayment,
            moment,
            ..event_of(42)
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
