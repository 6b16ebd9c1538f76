//! The notifier's use case: one record in, at most one notification out.
use std::sync::Arc;

use tracing::Instrument;

use crate::domain::{Event, Position, Record};
use crate::ports::{NotificationStore, Recorded, RepoError};

/// What handling a record came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    /// A new event: notified.
    Notified,
    /// An event notified before, delivered again: counted, not notified.
    Duplicate,
    /// Not an order event: logged, counted and passed over, so it cannot block its partition.
    Malformed,
}

/// Notifies order-status changes.
#[derive(Clone)]
pub struct Notifier {
    store: Arc<dyn NotificationStore>,
}

impl Notifier {
    pub fn new(store: Arc<dyn NotificationStore>) -> Self {
        Self { store }
    }

    /// Handles the record at `at`: records its notification together with the partition's new offset,
    /// then — once that is stored, and only if the event was new — notifies (the log line `order <id>
    /// status <status>`, in a span naming the request id). On `Err` nothing is stored and the record
    /// must be handled again.
    pub async fn handle(&self, record: Record<'_>, at: &Position) -> Result<Handled, RepoError> {
        let event = match Event::parse(record) {
            Ok(event) => event,
            Err(why) => {
                self.store.skip(at).await?;
                metrics::counter!("notifier_malformed_events_total").increment(1);
                tracing::error!(topic = %at.topic, partition = at.partition, offset = at.offset, %why, "record skipped: not an order event");
                return Ok(Handled::Malformed);
            }
        };
        let span = tracing::info_span!(
            "event",
            request_id = %event.request_id.as_deref().unwrap_or_default(),
            event_id = %event.event_id,
        );
        let recorded = self
            .store
            .record(&event, at)
            .instrument(span.clone())
            .await?;
        let _entered = span.enter();
        match recorded {
            Recorded::Notified => {
                metrics::counter!("notifier_notifications_total").increment(1);
                tracing::info!("order {} status {}", event.order_id, event.status);
                Ok(Handled::Notified)
            }
            Recorded::Duplicate => {
                metrics::counter!("notifier_duplicate_events_total").increment(1);
                tracing::debug!(order_id = event.order_id, status = %event.status, "event delivered again: not notified");
                Ok(Handled::Duplicate)
            }
        }
    }
}

/// Describes the notifier's metrics for `/metrics`.
pub fn describe_metrics() {
    metrics::describe_counter!(
        "notifier_notifications_total",
        "Order-status changes notified (each exactly once)"
    );
    metrics::describe_counter!(
        "notifier_duplicate_events_total",
        "Events delivered again after they were notified, recognised by their event id"
    );
    metrics::describe_counter!(
        "notifier_malformed_events_total",
        "Records that were no order event, passed over"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;
    use crate::ports::MockNotificationStore;
    use mockall::predicate::eq;

    const VALUE: &[u8] =
        br#"{"order_id": 7, "status": "payed", "moment": "2026-11-30T10:00:00.000001Z"}"#;

    fn at() -> Position {
        Position {
            topic: "t".into(),
            partition: 2,
            offset: 10,
        }
    }

    fn record(value: &[u8]) -> Record<'_> {
        Record {
            key: Some(b"7"),
            value: Some(value),
            event_id: Some(b"e-7"),
            request_id: Some(b"r-7"),
        }
    }

    fn event() -> Event {
        Event {
            event_id: "e-7".into(),
            order_id: 7,
            status: Status::Payed,
            moment: "2026-11-30T10:00:00.000001Z".into(),
            request_id: Some("r-7".into()),
        }
    }

    #[tokio::test]
    async fn a_new_event_is_recorded_with_its_position_and_notified() {
        let mut store = MockNotificationStore::new();
        store
            .expect_record()
            .with(eq(event()), eq(at()))
            .times(1)
            .returning(|_, _| Ok(Recorded::Notified));
        let handled = Notifier::new(Arc::new(store))
            .handle(record(VALUE), &at())
            .await;
        assert_eq!(handled.ok(), Some(Handled::Notified));
    }

    #[tokio::test]
    async fn an_event_seen_before_is_a_duplicate() {
        let mut store = MockNotificationStore::new();
        store
            .expect_record()
            .returning(|_, _| Ok(Recorded::Duplicate));
        let handled = Notifier::new(Arc::new(store))
            .handle(record(VALUE), &at())
            .await;
        assert_eq!(handled.ok(), Some(Handled::Duplicate));
    }

    #[tokio::test]
    async fn a_malformed_record_only_moves_the_offset() {
        let mut store = MockNotificationStore::new();
        store.expect_record().never();
        store
            .expect_skip()
            .with(eq(at()))
            .times(1)
            .returning(|_| Ok(()));
        let handled = Notifier::new(Arc::new(store))
            .handle(record(b"{}"), &at())
            .await;
        assert_eq!(handled.ok(), Some(Handled::Malformed));
    }

    #[tokio::test]
    async fn a_store_failure_is_passed_on_for_a_retry() {
        let mut store = MockNotificationStore::new();
        store
            .expect_record()
            .returning(|_, _| Err(RepoError::msg("down")));
        let handled = Notifier::new(Arc::new(store))
            .handle(record(VALUE), &at())
            .await;
        assert!(handled.is_err());
    }
}
