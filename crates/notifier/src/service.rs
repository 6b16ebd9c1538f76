//! The notifier's use case: a poll's worth of records in, at most one notification per record out.
use std::sync::Arc;

use crate::domain::{Event, Position, Record};
use crate::ports::{Entry, NotificationStore, Recorded, RepoError};

/// What handling a record came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Handled {
    /// A new event: notified.
    Notified,
    /// An event notified before, delivered again: counted, not notified.
    Duplicate,
    /// Not an order event: logged, counted and passed over, so it cannot block its partition.
    Malformed,
}

/// Notifies order-status changes.
#[derive(Clone)]
pub(crate) struct Notifier {
    store: Arc<dyn NotificationStore>,
}

impl Notifier {
    pub(crate) fn new(store: Arc<dyn NotificationStore>) -> Self {
        Self { store }
    }

    /// Handles `records` (each with where it sits), in order: records their notifications together
    /// with their partitions' new offsets in one step, then — once that is stored, and only for the
    /// events that were new — notifies: one log line `order <id> status <status>` each, in a span
    /// naming the request id. On `Err` nothing is stored and the records must be handled again.
    pub(crate) async fn handle(
        &self,
        records: &[(Record<'_>, Position)],
    ) -> Result<Vec<Handled>, RepoError> {
        let parsed: Vec<_> = records
            .iter()
            .map(|(record, at)| (Event::parse(*record), at))
            .collect();
        let entries: Vec<Entry> = parsed
            .iter()
            .map(|(event, at)| Entry {
                event: event.as_ref().ok().cloned(),
                at: (*at).clone(),
            })
            .collect();
        let recorded = self.store.record(&entries).await?;
        Ok(parsed
            .iter()
            .zip(recorded)
            .map(|((event, at), recorded)| announce(event, at, recorded))
            .collect())
    }
}

/// Logs and counts what recording one record came to.
fn announce(
    event: &Result<Event, crate::domain::Malformed>,
    at: &Position,
    recorded: Recorded,
) -> Handled {
    let event = match (event, recorded) {
        (Ok(event), Recorded::Notified | Recorded::Duplicate) => event,
        (Err(why), _) => {
            metrics::counter!("notifier_malformed_events_total").increment(1);
            tracing::error!(topic = %at.topic, partition = at.partition, offset = at.offset, %why, "record skipped: not an order event");
            return Handled::Malformed;
        }
        (Ok(_), Recorded::Skipped) => return Handled::Malformed,
    };
    let span = tracing::info_span!(
        "event",
        request_id = %event.request_id.as_deref().unwrap_or_default(),
        event_id = %event.event_id,
    );
    let _entered = span.enter();
    if recorded == Recorded::Notified {
        metrics::counter!("notifier_notifications_total").increment(1);
        tracing::info!(
            "order {} status {}",
            event.order_id,
            event.status.course_name()
        );
        Handled::Notified
    } else {
        metrics::counter!("notifier_duplicate_events_total").increment(1);
        tracing::debug!(
            order_id = event.order_id,
            status = event.status.course_name(),
            "event delivered again: not notified"
        );
        Handled::Duplicate
    }
}

/// Describes the notifier's metrics for `/metrics`.
pub(crate) fn describe_metrics() {
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

    fn at(offset: i64) -> Position {
        Position {
            topic: "t".into(),
            partition: 2,
            offset,
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
    async fn a_poll_is_recorded_in_one_step_with_each_records_position() {
        let mut store = MockNotificationStore::new();
        let entries = vec![
            Entry {
                event: Some(event()),
                at: at(10),
            },
            Entry {
                event: None,
                at: at(11),
            },
            Entry {
                event: Some(event()),
                at: at(12),
            },
        ];
        store
            .expect_record()
            .with(eq(entries))
            .times(1)
            .returning(|_| {
                Ok(vec![
                    Recorded::Notified,
                    Recorded::Skipped,
                    Recorded::Duplicate,
                ])
            });
        let records = [
            (record(VALUE), at(10)),
            (record(b"{}"), at(11)),
            (record(VALUE), at(12)),
        ];
        let handled = Notifier::new(Arc::new(store)).handle(&records).await;
        assert_eq!(
            handled.ok(),
            Some(vec![
                Handled::Notified,
                Handled::Malformed,
                Handled::Duplicate
            ])
        );
    }

    #[test]
    fn an_event_the_store_did_not_record_is_not_notified() {
        let handled = announce(&Ok(event()), &at(1), Recorded::Skipped);
        assert_eq!(handled, Handled::Malformed);
    }

    /// The names of the counters described, and of those incremented.
    #[derive(Default)]
    struct CounterNames {
        described: std::sync::Mutex<Vec<String>>,
        incremented: std::sync::Mutex<Vec<String>>,
    }

    impl metrics::Recorder for CounterNames {
        fn describe_counter(
            &self,
            key: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
            self.described
                .lock()
                .expect("unpoisoned")
                .push(key.as_str().to_owned());
        }
        fn describe_gauge(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_histogram(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn register_counter(
            &self,
            key: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Counter {
            self.incremented
                .lock()
                .expect("unpoisoned")
                .push(key.name().to_owned());
            metrics::Counter::noop()
        }
        fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
            metrics::Gauge::noop()
        }
        fn register_histogram(
            &self,
            _: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Histogram {
            metrics::Histogram::noop()
        }
    }

    #[test]
    fn every_counter_it_increments_is_described() {
        let names = CounterNames::default();
        let malformed = Event::parse(record(b"{}"));
        metrics::with_local_recorder(&names, || {
            describe_metrics();
            announce(&Ok(event()), &at(1), Recorded::Notified);
            announce(&Ok(event()), &at(2), Recorded::Duplicate);
            announce(&malformed, &at(3), Recorded::Skipped);
        });
        let described = names.described.lock().expect("unpoisoned").clone();
        let incremented = names.incremented.lock().expect("unpoisoned").clone();
        assert_eq!(incremented.len(), 3, "{incremented:?}");
        for name in &incremented {
            assert!(
                described.contains(name),
                "{name} is not described: {described:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_store_failure_is_passed_on_for_a_retry() {
        let mut store = MockNotificationStore::new();
        store
            .expect_record()
            .returning(|_| Err(RepoError::msg("down")));
        let handled = Notifier::new(Arc::new(store))
            .handle(&[(record(VALUE), at(1))])
            .await;
        assert!(handled.is_err());
    }
}
