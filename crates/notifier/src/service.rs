//! The notifier's use case: a poll's worth of records in, at most one notification per event out.
use std::sync::Arc;

use crate::domain::{Event, Poison, Position, Record};
use crate::ports::{Applied, Entry, NotificationStore, Recorded, RepoError, Run};

/// The records of one partition waiting to be stored (offsets rising), and where this member last saw
/// the partition's stored offset.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lane<'a> {
    pub(crate) expected: Option<i64>,
    pub(crate) records: &'a [Record],
}

/// What became of a lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Stored, and notified; the partition resumes from `next`.
    Stored { next: i64 },
    /// Another member moved the partition: nothing was stored or logged; it stands at `stored`.
    Taken { stored: Option<i64> },
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

    /// Handles `lanes` (none empty): reads each record (an event, or a poison record for the dead
    /// letters), stores them all in one step, then — once that is stored, and only for the lanes this
    /// member still owned and the events that were new — notifies: one log line
    /// `order <id> status <status>` each, in a span naming the request id. On `Err` nothing is stored
    /// and the lanes must be handled again.
    pub(crate) async fn handle(&self, lanes: &[Lane<'_>]) -> Result<Vec<Outcome>, RepoError> {
        let runs: Vec<Run> = lanes.iter().filter_map(run_of).collect();
        // each record's handling, from here to its notification, in the trace it carries
        let spans: Vec<Vec<tracing::Span>> = runs
            .iter()
            .map(|run| run.entries.iter().map(handling).collect())
            .collect();
        let applied = self.store.apply(&runs).await?;
        Ok(runs
            .iter()
            .zip(applied)
            .zip(spans)
            .map(|((run, applied), spans)| match applied {
                Applied::Stored(recorded) => {
                    for ((entry, recorded), span) in run.entries.iter().zip(recorded).zip(spans) {
                        span.in_scope(|| announce(entry, &recorded));
                    }
                    Outcome::Stored { next: run.next() }
                }
                Applied::Taken { stored } => {
                    metrics::counter!("notifier_runs_taken_total").increment(1);
                    tracing::debug!(
                        partition = run.partition,
                        ?stored,
                        records = run.entries.len(),
                        "partition moved by another member: records dropped"
                    );
                    Outcome::Taken { stored }
                }
            })
            .collect())
    }
}

/// A lane as the store takes it; none for an empty lane.
fn run_of(lane: &Lane<'_>) -> Option<Run> {
    let first: &Position = &lane.records.first()?.at;
    Some(Run {
        topic: first.topic.clone(),
        partition: first.partition,
        expected: lane.expected,
        entries: lane
            .records
            .iter()
            .map(|record| Entry {
                event: Event::parse(record),
                record: record.clone(),
            })
            .collect(),
    })
}

/// The span of one record's handling: a consumer span, the child of the publish span whose context the
/// record carries (`traceparent`), so that a change's trace ends with its notification; a trace of its
/// own without one. Its `trace_id` is on the notification's log line. A record kept as a dead letter
/// marks it failed (the ERROR line logged within it).
fn handling(entry: &Entry) -> tracing::Span {
    use telemetry::semconv;
    use telemetry::trace_context::{self, TRACEPARENT, TRACESTATE};
    let header = |name| {
        let value = entry.record.header(name)?;
        std::str::from_utf8(value).ok()
    };
    let at = &entry.record.at;
    let span = tracing::info_span!(
        "handling",
        trace_id = tracing::field::Empty,
        otel.name = format!("{} process", at.topic),
        otel.kind = "consumer",
        partition = at.partition,
        offset = at.offset,
    );
    trace_context::continue_trace(&span, header(TRACEPARENT), header(TRACESTATE));
    semconv::kafka(&span, &at.topic, "process");
    semconv::set(
        &span,
        "messaging.destination.partition.id",
        at.partition.to_string(),
    );
    semconv::set(&span, "messaging.kafka.offset", at.offset);
    if let Some(trace_id) = trace_context::trace_id(&span) {
        span.record("trace_id", tracing::field::display(trace_id));
    }
    span
}

/// Logs and counts what storing one entry came to.
fn announce(entry: &Entry, recorded: &Recorded) {
    let event = match (&entry.event, recorded) {
        (_, Recorded::DeadLettered(why)) => return dead_lettered(&entry.record.at, why),
        (Ok(event), _) => event,
        (Err(why), _) => return dead_lettered(&entry.record.at, why),
    };
    let span = tracing::info_span!(
        "event",
        request_id = %event.request_id,
        event_id = %event.event_id,
    );
    let _entered = span.enter();
    if *recorded == Recorded::Notified {
        metrics::counter!("notifier_notifications_total").increment(1);
        tracing::info!(
            "order {} status {}",
            event.order_id,
            event.status.course_name()
        );
    } else {
        metrics::counter!("notifier_duplicate_events_total").increment(1);
        tracing::debug!(
            order_id = event.order_id,
            status = event.status.course_name(),
            "event delivered again: not notified"
        );
    }
}

/// Counts a dead letter, and says where it sits.
fn dead_lettered(at: &Position, why: &Poison) {
    metrics::counter!("notifier_dead_letters_total", "reason" => why.label()).increment(1);
    tracing::error!(topic = %at.topic, partition = at.partition, offset = at.offset, reason = why.label(), %why, "record kept in dead_letters, never notified");
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
        "notifier_dead_letters_total",
        "Records that can never be notified, kept in dead_letters, by reason"
    );
    // Each reason shown from the start at 0: a rate or an increase sees a series' first dead letter
    // only when the series was there before it (deploy/prometheus/alerts.yml).
    for reason in Poison::LABELS {
        metrics::counter!("notifier_dead_letters_total", "reason" => reason).absolute(0);
    }
    metrics::describe_gauge!(
        "notifier_consumer_lag_records",
        "Records of this member's partitions not yet handed to it, up to the last stable offset"
    );
    metrics::describe_counter!(
        "notifier_runs_taken_total",
        "Runs of records dropped because another member had moved their partition"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::{message, record};
    use crate::domain::Status;
    use crate::ports::MockNotificationStore;

    fn records() -> Vec<Record> {
        let mut garbage = record(11, &message(7, Status::New));
        garbage.value = Some(b"\xff garbage".to_vec());
        vec![
            record(10, &message(7, Status::New)),
            garbage,
            record(12, &message(8, Status::Payed)),
        ]
    }

    #[tokio::test]
    async fn a_lane_is_stored_in_one_step_with_each_records_event_or_poison() {
        let mut store = MockNotificationStore::new();
        store
            .expect_apply()
            .withf(|runs| {
                let run = &runs[0];
                let poisons: Vec<_> = run.entries.iter().map(|e| e.event.is_err()).collect();
                runs.len() == 1
                    && run.partition == 2
                    && run.expected == Some(10)
                    && run.next() == 13
                    && poisons == [false, true, false]
            })
            .times(1)
            .returning(|runs| {
                let recorded = runs[0].entries.iter().map(|_| Recorded::Notified).collect();
                Ok(vec![Applied::Stored(recorded)])
            });
        let records = records();
        let lanes = [Lane {
            expected: Some(10),
            records: &records,
        }];
        let handled = Notifier::new(Arc::new(store)).handle(&lanes).await;
        assert_eq!(handled.ok(), Some(vec![Outcome::Stored { next: 13 }]));
    }

    #[tokio::test]
    async fn a_lane_another_member_moved_is_dropped() {
        let mut store = MockNotificationStore::new();
        store
            .expect_apply()
            .returning(|_| Ok(vec![Applied::Taken { stored: Some(20) }]));
        let records = records();
        let lanes = [Lane {
            expected: Some(10),
            records: &records,
        }];
        let handled = Notifier::new(Arc::new(store)).handle(&lanes).await;
        assert_eq!(
            handled.ok(),
            Some(vec![Outcome::Taken { stored: Some(20) }])
        );
    }

    /// The names of the counters described, and of those incremented.
    #[derive(Default)]
    struct CounterNames {
        described: std::sync::Mutex<Vec<String>>,
        incremented: std::sync::Mutex<Vec<String>>,
        /// The `reason` label of each `notifier_dead_letters_total` registered.
        reasons: std::sync::Mutex<Vec<String>>,
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
            if key.name() == "notifier_dead_letters_total" {
                let reasons = key.labels().filter(|label| label.key() == "reason");
                let mut seen = self.reasons.lock().expect("unpoisoned");
                seen.extend(reasons.map(|label| label.value().to_owned()));
            }
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

    #[tokio::test(flavor = "multi_thread")]
    async fn every_counter_it_increments_is_described() {
        let names = CounterNames::default();
        let records = records();
        let entries: Vec<Entry> = records
            .iter()
            .map(|record| Entry {
                event: Event::parse(record),
                record: record.clone(),
            })
            .collect();
        metrics::with_local_recorder(&names, || {
            describe_metrics();
            announce(&entries[0], &Recorded::Notified);
            announce(&entries[0], &Recorded::Duplicate);
            announce(&entries[1], &Recorded::DeadLettered(Poison::Key(7)));
        });
        let mut store = MockNotificationStore::new();
        store
            .expect_apply()
            .returning(|_| Ok(vec![Applied::Taken { stored: None }]));
        let lanes = [Lane {
            expected: None,
            records: &records,
        }];
        let notifier = Notifier::new(Arc::new(store));
        let handled = metrics::with_local_recorder(&names, || {
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(notifier.handle(&lanes))
            })
        });
        assert!(handled.is_ok());
        let described = names.described.lock().expect("unpoisoned").clone();
        let incremented = names.incremented.lock().expect("unpoisoned").clone();
        // the five dead-letter reasons at 0, then the four counted here
        assert_eq!(incremented.len(), 5 + 4, "{incremented:?}");
        for name in &incremented {
            assert!(
                described.contains(name),
                "{name} is not described: {described:?}"
            );
        }
    }

    /// Caught with its mechanism removed: without the counters at 0 no reason is there before its
    /// first dead letter; a reason missing from `Poison::LABELS` is missing here.
    #[test]
    fn every_reason_of_a_dead_letter_is_counted_from_zero_at_the_start() {
        let names = CounterNames::default();
        metrics::with_local_recorder(&names, describe_metrics);
        let reasons = names.reasons.lock().expect("unpoisoned").clone();
        let every = [
            Poison::ContentType,
            Poison::Undecodable(String::new()),
            Poison::Invalid(String::new()),
            Poison::Key(1),
            Poison::Refused(String::new()),
        ];
        for poison in every {
            assert!(
                reasons.iter().any(|r| r == poison.label()),
                "{poison:?}: {reasons:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_store_failure_is_passed_on_for_a_retry() {
        let mut store = MockNotificationStore::new();
        store
            .expect_apply()
            .returning(|_| Err(RepoError::msg("down")));
        let records = records();
        let lanes = [Lane {
            expected: None,
            records: &records,
        }];
        assert!(Notifier::new(Arc::new(store)).handle(&lanes).await.is_err());
    }
}
