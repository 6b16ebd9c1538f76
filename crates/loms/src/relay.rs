//! The outbox relay: a background task of every loms replica that publishes the events the status
//! changes wrote into the [`Outbox`].
//!
//! - **Never lost.** An event leaves the outbox only after the brokers acknowledged it. A crash, a stop
//!   or a lost connection between the two leaves it there, and it is published again: consumers
//!   de-duplicate by its `event-id`.
//! - **Pipelined.** The relay hands batch after batch to the publisher without waiting for the
//!   brokers to acknowledge the earlier ones (another batch while fewer than
//!   [`MAX_BATCHES_IN_FLIGHT`](pipeline::MAX_BATCHES_IN_FLIGHT) batches' worth are in flight); behind a
//!   full batch, the next read runs while the batch is handed over. Answers are taken oldest batch
//!   first, and the acknowledged events leave the outbox in the background. A read
//!   leaves out every event the relay holds (in flight, read ahead, on its way out) and starts at the
//!   head of the outbox: positions follow the order in which changes took them, not the order of their
//!   commits, so a cursor ("after the last position read") would skip an event that committed late —
//!   and let its order's next event, committed in the same transaction, overtake it.
//! - **Woken by commits.** The store signals each commit that wrote events in this process
//!   ([`Outbox::written`]): the relay reads at once rather than at its next poll. The poll finds the
//!   changes other replicas commit.
//! - **In order per order.** One replica publishes at a time: the one holding the lease (a row in the
//!   store, taken and renewed on the store's clock, expiring `lease_ttl` after its last renewal — no
//!   session lock, so it works through pgbouncer); it hands over only while its last renewal is
//!   younger than a third of that. An order's events are read in order, and its later events commit
//!   after its earlier ones (the order's row lock), so each is handed over after the earlier ones or
//!   in the same batch; the publisher keeps that order. After a failed event nothing more is handed
//!   over until every batch in flight has answered; the failed order's later events stay in the
//!   outbox even when acknowledged, and the next read, from the head again, sends all of them once
//!   more, in order. After a handover, the old holder's late deliveries can only repeat events the new
//!   holder sends again in the same order, so the first copy of every event still arrives in order.
//! - **Through outages.** While the cluster is unreachable the publisher keeps retrying the batches in
//!   flight (librdkafka backs off) and the relay keeps renewing its lease; store errors are retried
//!   with exponential backoff. The outbox meanwhile grows, and drains when the cluster is back.
//! - **Lag in sight.** `loms_outbox_pending_events` and `loms_outbox_oldest_event_age_seconds` on
//!   `/metrics`, and a warning in the log while the oldest event waits longer than
//!   [`LAG_WARNING`](lag::LAG_WARNING).
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::domain::OrderEvent;
use crate::ports::{EventPublisher, Outbox, PublishError, RepoError};

mod lag;
mod pace;
mod pipeline;
#[cfg(test)]
mod tests;

pub(crate) use lag::describe_metrics;
use lag::report_lag;
use pace::Pace;
pub(crate) use pipeline::Pipeline;
use pipeline::{acknowledged, take_out, InFlight};

/// The longest pause between attempts after failures, unless a third of the lease is shorter (the
/// lease must be renewed within it).
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How the relay paces itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelaySettings {
    /// The pause after a read that did not fill a batch.
    pub poll: Duration,
    /// Events read and handed over at a time.
    pub batch: usize,
    /// How long a lease lasts after its last renewal: a crashed holder's successor waits this long.
    pub lease_ttl: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(100),
            // Large batches amortise each read and each deletion (BENCHMARKS.md).
            batch: 10_000,
            lease_ttl: Duration::from_secs(5),
        }
    }
}

/// What a step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Another replica holds the lease.
    Standby,
    /// Nothing was waiting.
    Idle,
    /// A batch of `count` events was handed over; `more` when events wait behind it (read meanwhile).
    HandedOver { count: usize, more: bool },
}

/// Publishes the outbox.
pub(crate) struct Relay {
    outbox: Arc<dyn Outbox>,
    publisher: Arc<dyn EventPublisher>,
    /// This replica's name on the lease: unique per process, so a restarted replica does not take over
    /// a lease its previous life may still be acting on.
    holder: String,
    settings: RelaySettings,
    /// When the lease was last renewed (taken before the request went out); `None` while not held.
    renewed: Option<Instant>,
}

impl Relay {
    pub(crate) fn new(
        outbox: Arc<dyn Outbox>,
        publisher: Arc<dyn EventPublisher>,
        settings: RelaySettings,
    ) -> Self {
        Self {
            outbox,
            publisher,
            holder: format!("loms-{}", uuid::Uuid::new_v4().simple()),
            settings,
            renewed: None,
        }
    }

    /// The lease is renewed this often while held, and handing over waits for a renewal this recent.
    fn renewal_period(&self) -> Duration {
        self.settings.lease_ttl / 3
    }

    /// Takes or renews the lease; `Ok(false)` while another replica holds it.
    async fn renew_lease(&mut self) -> Result<bool, RepoError> {
        let asked = Instant::now();
        let held = self
            .outbox
            .lease(&self.holder, self.settings.lease_ttl)
            .await;
        self.renewed = held.as_ref().is_ok_and(|held| *held).then_some(asked);
        metrics::gauge!("loms_relay_lease_held").set(if self.renewed.is_some() {
            1.0
        } else {
            0.0
        });
        held
    }

    /// With a recent lease (renewing it first if need be), hands the next batch over — the one read
    /// ahead, or a fresh read — while reading the batch after it.
    pub(crate) async fn step(&mut self, pipeline: &mut Pipeline) -> Result<Step, RepoError> {
        let recent = self
            .renewed
            .is_some_and(|at| at.elapsed() < self.renewal_period());
        if !recent && !self.renew_lease().await? {
            pipeline.ahead.clear();
            return Ok(Step::Standby);
        }
        let batch = match std::mem::take(&mut pipeline.ahead) {
            ahead if !ahead.is_empty() => ahead,
            _ => {
                self.outbox
                    .pending(self.settings.batch, &pipeline.held(&[]))
                    .await?
            }
        };
        if batch.is_empty() {
            return Ok(Step::Idle);
        }
        let count = batch.len();
        let held = pipeline.held(&batch);
        // Only behind a full batch can more be waiting: then the next read overlaps the hand-over.
        let read_ahead = async {
            if count < self.settings.batch {
                return Ok(Vec::new());
            }
            self.outbox.pending(self.settings.batch, &held).await
        };
        let (acks, ahead) = tokio::join!(self.publisher.send(&batch), read_ahead);
        pipeline.in_flight.push_back(InFlight {
            events: batch,
            acks,
        });
        pipeline.ahead = ahead?;
        let more = !pipeline.ahead.is_empty();
        Ok(Step::HandedOver { count, more })
    }

    /// Takes in an answered batch: returns the positions to take out of the outbox — the acknowledged
    /// events, except those of an order with a failed event in this batch or an earlier one still
    /// blocking — and how many events failed. After a failure, the batch read ahead is dropped.
    pub(crate) fn settle(
        &self,
        pipeline: &mut Pipeline,
        events: &[OrderEvent],
        results: Vec<Result<(), PublishError>>,
    ) -> (Vec<i64>, usize) {
        let sent = acknowledged(events, &results, &mut pipeline.blocked);
        let failed = events.len() - sent.len();
        if let Some(error) = results.into_iter().find_map(Result::err) {
            metrics::counter!("loms_relay_failed_events_total").increment(failed as u64);
            tracing::warn!(failed, %error, "events not published; sending them again");
            pipeline.ahead.clear();
        }
        if pipeline.is_empty() {
            pipeline.blocked.clear();
        }
        pipeline.leaving.extend(&sent);
        (sent, failed)
    }

    /// Runs until `stop` turns true: hands batches over — at once while events wait, every `poll`
    /// otherwise, backing off after failures up to [`MAX_BACKOFF`] or a third of the lease, whichever is
    /// shorter — takes the acknowledged ones out of
    /// the outbox, renews the lease, and, beside all that, reports the lag, which goes on while
    /// batches wait out an outage. Stopping drops the batches in flight — the next holder sends their
    /// events again — and gives the lease up.
    pub(crate) async fn run(self, stop: watch::Receiver<bool>) {
        tracing::info!(holder = %self.holder, settings = ?self.settings, "outbox relay running");
        let outbox = self.outbox.clone();
        tokio::join!(self.publish(stop.clone()), report_lag(outbox, stop));
        tracing::info!("outbox relay stopped");
    }

    async fn publish(mut self, mut stop: watch::Receiver<bool>) {
        let mut pipeline = Pipeline::default();
        let mut deletions = JoinSet::new();
        let written = self.outbox.written();
        let mut pace = Pace::new(self.settings.poll, MAX_BACKOFF.min(self.renewal_period()));
        loop {
            let renew_at = self.renewed.map(|at| at + self.renewal_period());
            tokio::select! {
                biased;
                () = stopped(&mut stop) => break,
                (events, results) = pipeline.next_answer(), if !pipeline.is_empty() => {
                    let (sent, failed) = self.settle(&mut pipeline, &events, results);
                    pace.settled(failed, pipeline.is_empty());
                    if !sent.is_empty() {
                        deletions.spawn(take_out(self.outbox.clone(), sent));
                    }
                }
                Some(deleted) = deletions.join_next(), if !deletions.is_empty() => match deleted {
                    Ok(positions) => positions.iter().for_each(|p| { pipeline.leaving.remove(p); }),
                    // Not knowing which events it took out, read them all again: at worst some go
                    // out twice.
                    Err(_) => pipeline.leaving.clear(),
                },
                _ = sleep_until(renew_at), if renew_at.is_some() => {
                    if let Err(error) = self.renew_lease().await {
                        tracing::warn!(error = %telemetry::error_chain(&error), "cannot renew the relay lease");
                    }
                }
                // On standby a wake-up would only ask for the lease again: the poll does that.
                () = written.notified(), if self.renewed.is_some() => pace.woken(),
                _ = tokio::time::sleep_until(pace.next_read), if pipeline.accepts(self.settings.batch) => {
                    let step = self.step(&mut pipeline).await;
                    pace.stepped(&step, self.settings.batch);
                }
            }
        }
        self.release_lease().await;
    }

    /// Gives the lease up, if held, so that another replica takes over at once rather than after it
    /// expires (a rolling restart). The batches dropped in flight may still land afterwards: they only
    /// repeat events the next holder sends again, in the same order (see the module doc).
    async fn release_lease(&mut self) {
        if self.renewed.take().is_none() {
            return;
        }
        metrics::gauge!("loms_relay_lease_held").set(0.0);
        if let Err(error) = self.outbox.release(&self.holder).await {
            tracing::warn!(error = %telemetry::error_chain(&error), "cannot give up the relay lease; it expires on its own");
        }
    }
}

/// Returns once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Sleeps until `at`, or for ever.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
