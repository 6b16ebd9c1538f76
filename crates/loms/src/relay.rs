//! The outbox relay: a background task of every loms replica that publishes the events the status
//! changes wrote into the [`Outbox`].
//!
//! - **Never lost.** An event is marked sent only after the brokers acknowledged it. A crash, a stop or
//!   a lost connection between the two leaves it unsent, and it is published again: consumers
//!   de-duplicate by its `event-id`.
//! - **In order per order.** One replica publishes at a time: the one holding the lease (a row in the
//!   store, taken and renewed on the store's clock, expiring `lease_ttl` after its last renewal — no
//!   session lock, so it works through pgbouncer). The holder publishes an order's event only when the
//!   order's earlier events were acknowledged, or precede it in the same batch, which the publisher
//!   keeps in order. When a failed event's order has later events in the batch, those stay unmarked
//!   too, and all of them go out again, in order. After a handover, the old holder's late deliveries
//!   can only repeat events the new holder sends again in the same order, so the first copy of every
//!   event still arrives in order.
//! - **Through outages.** While the cluster is unreachable the publisher keeps retrying the batch in
//!   hand (librdkafka backs off) and the relay keeps renewing its lease; store errors are retried with
//!   exponential backoff. The outbox meanwhile grows, and drains when the cluster is back.
//! - **Lag in sight.** `loms_outbox_pending_events` and `loms_outbox_oldest_event_age_seconds` on
//!   `/metrics`, and a warning in the log while the oldest event waits longer than [`LAG_WARNING`].
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::domain::OrderEvent;
use crate::ports::{Backlog, EventPublisher, Outbox, PublishError, RepoError};

/// An event older than this makes the relay warn.
pub const LAG_WARNING: Duration = Duration::from_secs(5);
/// How often the relay reads the backlog for its gauges.
const LAG_REPORT: Duration = Duration::from_secs(1);
const LAG_WARNING_REPEAT: Duration = Duration::from_secs(10);
/// The longest pause between attempts after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How the relay paces itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelaySettings {
    /// The pause after a pass that found nothing to send.
    pub poll: Duration,
    /// Events read and published per pass.
    pub batch: usize,
    /// How long a lease lasts after its last renewal: a crashed holder's successor waits this long.
    pub lease_ttl: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(100),
            // Each pass waits for its batch's acknowledgements: large batches amortise that wait
            // (BENCHMARKS.md: 14k events/s at 500, 25k at 5000).
            batch: 5000,
            lease_ttl: Duration::from_secs(5),
        }
    }
}

/// What one pass did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Another replica holds the lease.
    Standby,
    /// Nothing was waiting.
    Idle,
    /// A batch went out: `sent` events are marked sent, `failed` stay for the next pass.
    Published { sent: usize, failed: usize },
}

/// Publishes the outbox.
pub struct Relay {
    outbox: Arc<dyn Outbox>,
    publisher: Arc<dyn EventPublisher>,
    /// This replica's name on the lease: unique per process, so a restarted replica does not take over
    /// a lease its previous life may still be acting on.
    holder: String,
    settings: RelaySettings,
}

impl Relay {
    pub fn new(
        outbox: Arc<dyn Outbox>,
        publisher: Arc<dyn EventPublisher>,
        settings: RelaySettings,
    ) -> Self {
        Self {
            outbox,
            publisher,
            holder: format!("loms-{}", uuid::Uuid::new_v4().simple()),
            settings,
        }
    }

    /// One pass: with the lease, publishes one batch of pending events and marks the acknowledged ones.
    pub async fn pass(&self) -> Result<Pass, RepoError> {
        if !self.renew_lease().await? {
            return Ok(Pass::Standby);
        }
        let events = self.outbox.pending(self.settings.batch).await?;
        if events.is_empty() {
            return Ok(Pass::Idle);
        }
        let results = self.publish_holding_lease(&events).await;
        let sent = acknowledged(&events, &results);
        self.outbox.mark_sent(&sent).await?;
        metrics::counter!("loms_relay_published_events_total").increment(sent.len() as u64);
        let failed = events.len() - sent.len();
        if let Some(error) = results.into_iter().find_map(Result::err) {
            metrics::counter!("loms_relay_failed_events_total").increment(failed as u64);
            tracing::warn!(failed, %error, "events not published; sending them again");
        }
        Ok(Pass::Published {
            sent: sent.len(),
            failed,
        })
    }

    async fn renew_lease(&self) -> Result<bool, RepoError> {
        let held = self
            .outbox
            .lease(&self.holder, self.settings.lease_ttl)
            .await?;
        metrics::gauge!("loms_relay_lease_held").set(if held { 1.0 } else { 0.0 });
        Ok(held)
    }

    /// Publishes `events`, renewing the lease while the brokers take their time (an outage can hold a
    /// batch for long). Losing the lease meanwhile cannot reorder anything (see the module doc), so the
    /// batch is finished either way.
    async fn publish_holding_lease(&self, events: &[OrderEvent]) -> Vec<Result<(), PublishError>> {
        let publish = self.publisher.publish(events);
        tokio::pin!(publish);
        let period = self.settings.lease_ttl / 3;
        let mut renewals = tokio::time::interval_at(Instant::now() + period, period);
        loop {
            tokio::select! {
                results = &mut publish => return results,
                _ = renewals.tick() => match self.renew_lease().await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!("relay lease taken over while a batch is in flight"),
                    Err(error) => tracing::warn!(error = %telemetry::error_chain(&error), "cannot renew the relay lease"),
                },
            }
        }
    }

    /// Runs until `stop` turns true: passes — at once while batches come full, every `poll` when idle
    /// or on standby, backing off up to [`MAX_BACKOFF`] after failures — and, beside them, the lag
    /// report, which goes on while a pass waits out an outage. Stopping drops a pass in flight: what it
    /// had not marked is sent again by the next holder.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        tracing::info!(holder = %self.holder, settings = ?self.settings, "outbox relay running");
        tokio::join!(
            self.passes(stop.clone()),
            report_lag(self.outbox.clone(), stop)
        );
        tracing::info!("outbox relay stopped");
    }

    async fn passes(&self, mut stop: watch::Receiver<bool>) {
        // Never so long that the lease runs out between passes.
        let max_backoff = MAX_BACKOFF.min(self.settings.lease_ttl / 3);
        let mut backoff = self.settings.poll;
        loop {
            let stopped = stop.wait_for(|stop| *stop);
            let result = tokio::select! {
                _ = stopped => break,
                result = self.pass() => result,
            };
            let pause = match result {
                Ok(Pass::Published { sent, failed: 0 }) if sent == self.settings.batch => {
                    Duration::ZERO
                }
                Ok(Pass::Published { failed: 0, .. } | Pass::Idle | Pass::Standby) => {
                    backoff = self.settings.poll;
                    self.settings.poll
                }
                Ok(Pass::Published { .. }) => {
                    backoff = (backoff * 2).min(max_backoff);
                    backoff
                }
                Err(error) => {
                    tracing::warn!(error = %telemetry::error_chain(&error), ?backoff, "relay pass failed; retrying");
                    backoff = (backoff * 2).min(max_backoff);
                    backoff
                }
            };
            let stopped = stop.wait_for(|stop| *stop);
            tokio::select! {
                _ = stopped => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// The positions to mark sent: the acknowledged events, except those of an order whose earlier event
/// in the batch failed — they would otherwise precede that event's next copy.
fn acknowledged(events: &[OrderEvent], results: &[Result<(), PublishError>]) -> Vec<i64> {
    let mut blocked = HashSet::new();
    events
        .iter()
        .zip(results)
        .filter_map(|(event, result)| {
            if result.is_err() {
                blocked.insert(event.order_id);
            }
            (result.is_ok() && !blocked.contains(&event.order_id)).then_some(event.position)
        })
        .collect()
}

/// Every [`LAG_REPORT`] until `stop`: the backlog gauges, and a warning while the oldest event has
/// waited longer than [`LAG_WARNING`] (repeated every [`LAG_WARNING_REPEAT`]).
async fn report_lag(outbox: Arc<dyn Outbox>, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(LAG_REPORT);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_warning: Option<Instant> = None;
    loop {
        let stopped = stop.wait_for(|stop| *stop);
        tokio::select! {
            _ = stopped => break,
            _ = ticks.tick() => {}
        }
        let Backlog { pending, oldest } = match outbox.backlog().await {
            Ok(backlog) => backlog,
            Err(error) => {
                tracing::debug!(error = %telemetry::error_chain(&error), "cannot read the outbox backlog");
                continue;
            }
        };
        metrics::gauge!("loms_outbox_pending_events").set(pending as f64);
        metrics::gauge!("loms_outbox_oldest_event_age_seconds").set(oldest.as_secs_f64());
        let lagging = oldest > LAG_WARNING;
        if lagging && last_warning.is_none_or(|at| at.elapsed() >= LAG_WARNING_REPEAT) {
            last_warning = Some(Instant::now());
            tracing::warn!(
                pending,
                oldest_ms = oldest.as_millis() as u64,
                "outbox lagging: events wait to be published"
            );
        } else if !lagging && last_warning.take().is_some() {
            tracing::info!(pending, "outbox caught up");
        }
    }
}

/// Describes the relay's metrics for `/metrics`.
pub fn describe_metrics() {
    metrics::describe_gauge!(
        "loms_outbox_pending_events",
        "Order events written but not yet acknowledged by the brokers"
    );
    metrics::describe_gauge!(
        "loms_outbox_oldest_event_age_seconds",
        metrics::Unit::Seconds,
        "How long the oldest unsent order event has waited"
    );
    metrics::describe_gauge!(
        "loms_relay_lease_held",
        "1 while this replica holds the relay lease and publishes"
    );
    metrics::describe_counter!(
        "loms_relay_published_events_total",
        "Order events acknowledged by the brokers and marked sent"
    );
    metrics::describe_counter!(
        "loms_relay_failed_events_total",
        "Order events whose publication failed and will be sent again"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OrderId, OrderStatus, RequestId};
    use crate::ports::{MockEventPublisher, MockOutbox};
    use mockall::predicate::eq;

    /// Event `position` of order `order`.
    fn event(position: i64, order: i64) -> OrderEvent {
        OrderEvent {
            position,
            event_id: format!("e{position}"),
            order_id: OrderId::try_from(order).expect("positive"),
            status: OrderStatus::New,
            moment: "2026-11-30T10:00:00.000000Z".into(),
            request_id: RequestId::parse("r").expect("valid"),
        }
    }

    fn settings() -> RelaySettings {
        RelaySettings {
            poll: Duration::from_millis(10),
            batch: 10,
            lease_ttl: Duration::from_secs(3),
        }
    }

    fn relay(outbox: MockOutbox, publisher: MockEventPublisher) -> Relay {
        Relay::new(Arc::new(outbox), Arc::new(publisher), settings())
    }

    fn leased(outbox: &mut MockOutbox) {
        outbox.expect_lease().returning(|_, _| Ok(true));
    }

    #[tokio::test]
    async fn acknowledged_events_are_marked_sent() {
        let mut outbox = MockOutbox::new();
        leased(&mut outbox);
        let batch = vec![event(1, 7), event(2, 8), event(3, 7)];
        outbox
            .expect_pending()
            .with(eq(10))
            .returning(move |_| Ok(batch.clone()));
        outbox
            .expect_mark_sent()
            .withf(|positions| positions == [1, 2, 3])
            .times(1)
            .returning(|_| Ok(()));
        let mut publisher = MockEventPublisher::new();
        publisher
            .expect_publish()
            .withf(|events| events.iter().map(|e| e.position).eq([1, 2, 3]))
            .times(1)
            .returning(|events| events.iter().map(|_| Ok(())).collect());
        let pass = relay(outbox, publisher).pass().await;
        assert_eq!(pass.ok(), Some(Pass::Published { sent: 3, failed: 0 }));
    }

    #[tokio::test]
    async fn after_a_failed_event_its_orders_later_events_stay_unsent() {
        let mut outbox = MockOutbox::new();
        leased(&mut outbox);
        let batch = vec![event(1, 7), event(2, 8), event(3, 7), event(4, 8)];
        outbox
            .expect_pending()
            .returning(move |_| Ok(batch.clone()));
        // order 7's first event failed: its second, although acknowledged, must go out again after it
        outbox
            .expect_mark_sent()
            .withf(|positions| positions == [2, 4])
            .times(1)
            .returning(|_| Ok(()));
        let mut publisher = MockEventPublisher::new();
        publisher.expect_publish().returning(|events| {
            let failed = |e: &OrderEvent| e.position == 1;
            let result = |e| {
                if failed(e) {
                    Err(PublishError("x".into()))
                } else {
                    Ok(())
                }
            };
            events.iter().map(result).collect()
        });
        let pass = relay(outbox, publisher).pass().await;
        assert_eq!(pass.ok(), Some(Pass::Published { sent: 2, failed: 2 }));
    }

    #[tokio::test]
    async fn without_the_lease_nothing_is_read_or_sent() {
        let mut outbox = MockOutbox::new();
        outbox
            .expect_lease()
            .with(mockall::predicate::always(), eq(Duration::from_secs(3)))
            .returning(|_, _| Ok(false));
        outbox.expect_pending().never();
        let mut publisher = MockEventPublisher::new();
        publisher.expect_publish().never();
        let pass = relay(outbox, publisher).pass().await;
        assert_eq!(pass.ok(), Some(Pass::Standby));
    }

    #[tokio::test]
    async fn an_empty_outbox_publishes_nothing() {
        let mut outbox = MockOutbox::new();
        leased(&mut outbox);
        outbox.expect_pending().returning(|_| Ok(Vec::new()));
        outbox.expect_mark_sent().never();
        let mut publisher = MockEventPublisher::new();
        publisher.expect_publish().never();
        let pass = relay(outbox, publisher).pass().await;
        assert_eq!(pass.ok(), Some(Pass::Idle));
    }

    #[tokio::test]
    async fn a_store_failure_marks_nothing() {
        let mut outbox = MockOutbox::new();
        leased(&mut outbox);
        outbox
            .expect_pending()
            .returning(|_| Err(RepoError::msg("down")));
        outbox.expect_mark_sent().never();
        let pass = relay(outbox, MockEventPublisher::new()).pass().await;
        assert!(pass.is_err());
    }

    /// A publisher that takes its time, as during an outage.
    struct Slow(Duration);

    #[async_trait::async_trait]
    impl EventPublisher for Slow {
        async fn publish(&self, events: &[OrderEvent]) -> Vec<Result<(), PublishError>> {
            tokio::time::sleep(self.0).await;
            events.iter().map(|_| Ok(())).collect()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_lease_is_renewed_while_a_batch_waits_for_the_brokers() {
        let mut outbox = MockOutbox::new();
        // one take before the batch, then one renewal per third of the lease's life (1 s) while the
        // brokers take 10.5 s
        outbox
            .expect_lease()
            .times(1 + 10)
            .returning(|_, _| Ok(true));
        outbox.expect_pending().returning(|_| Ok(vec![event(1, 7)]));
        outbox.expect_mark_sent().times(1).returning(|_| Ok(()));
        let relay = Relay::new(
            Arc::new(outbox),
            Arc::new(Slow(Duration::from_millis(10_500))),
            settings(),
        );
        let pass = relay.pass().await;
        assert_eq!(pass.ok(), Some(Pass::Published { sent: 1, failed: 0 }));
    }

    #[tokio::test(start_paused = true)]
    async fn run_publishes_until_stopped() {
        let mut outbox = MockOutbox::new();
        leased(&mut outbox);
        let mut batches = vec![vec![event(1, 7)], vec![event(2, 7)]].into_iter();
        outbox
            .expect_pending()
            .returning(move |_| Ok(batches.next().unwrap_or_default()));
        let (marked, mut seen) = tokio::sync::mpsc::unbounded_channel();
        outbox.expect_mark_sent().returning(move |positions| {
            marked.send(positions.to_vec()).expect("test listening");
            Ok(())
        });
        outbox.expect_backlog().returning(|| Ok(Backlog::default()));
        let mut publisher = MockEventPublisher::new();
        publisher
            .expect_publish()
            .returning(|events| events.iter().map(|_| Ok(())).collect());
        let (stop, stopped) = watch::channel(false);
        let running = tokio::spawn(relay(outbox, publisher).run(stopped));
        assert_eq!(seen.recv().await, Some(vec![1]));
        assert_eq!(seen.recv().await, Some(vec![2]));
        stop.send(true).expect("relay listening");
        running.await.expect("stops without panic");
    }
}
