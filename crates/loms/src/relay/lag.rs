//! The outbox's lag in sight: gauges on `/metrics` and a warning in the log while the oldest event
//! waits too long.
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::ports::{Backlog, Outbox};

/// An event older than this makes the relay warn.
pub(crate) const LAG_WARNING: Duration = Duration::from_secs(5);
/// How often the relay reads the backlog for its gauges.
pub(super) const LAG_REPORT: Duration = Duration::from_secs(1);
pub(super) const LAG_WARNING_REPEAT: Duration = Duration::from_secs(10);

/// Every [`LAG_REPORT`] until `stop`: the backlog gauges, and a warning while the oldest event has
/// waited longer than [`LAG_WARNING`] (repeated every [`LAG_WARNING_REPEAT`]).
pub(super) async fn report_lag(outbox: Arc<dyn Outbox>, mut stop: watch::Receiver<bool>) {
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
pub(crate) fn describe_metrics() {
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
        "Order events committed to the topic and taken out of the outbox"
    );
    metrics::describe_counter!(
        "loms_relay_transactions_total",
        "The relay's Kafka transactions, by outcome: committed, aborted (nothing of it visible; sent again), failed (the producer dropped; a takeover finds out what committed)"
    );
    metrics::describe_counter!(
        "loms_relay_fenced_total",
        "Times the relay's producer found itself fenced by a newer holder of the lease"
    );
}
