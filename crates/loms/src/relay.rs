//! The outbox relay: a background task of every loms replica that publishes the events the status
//! changes wrote into the [`Outbox`].
//!
//! - **Never lost.** An event leaves the outbox only after the brokers acknowledged it. A crash, a stop
//!   or a lost connection between the two leaves it there, and it is published again: consumers
//!   de-duplicate by its `event-id`.
//! - **Pipelined.** The relay hands batch after batch to the publisher without waiting for the
//!   brokers to acknowledge the earlier ones (up to [`MAX_BATCHES_IN_FLIGHT`] batches' worth of
//!   events); behind a full batch, the next read runs while the batch is handed over. Answers are
//!   taken oldest batch first, and the acknowledged events leave the outbox in the background. A read
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
//!   `/metrics`, and a warning in the log while the oldest event waits longer than [`LAG_WARNING`].
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::domain::{OrderEvent, OrderId};
use crate::ports::{Acks, Backlog, EventPublisher, Outbox, PublishError, RepoError};

/// An event older than this makes the relay warn.
pub const LAG_WARNING: Duration = Duration::from_secs(5);
/// How often the relay reads the backlog for its gauges.
const LAG_REPORT: Duration = Duration::from_secs(1);
const LAG_WARNING_REPEAT: Duration = Duration::from_secs(10);
/// The longest pause between attempts after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Events handed over whose acknowledgements are outstanding, at most, in full batches: enough to keep
/// the brokers busy during a batch's `acks=all` round trip; few enough that the positions a read
/// leaves out stay cheap. (Counted in events, not batches: at a low rate every change makes a batch.)
pub const MAX_BATCHES_IN_FLIGHT: usize = 4;

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
pub enum Step {
    /// Another replica holds the lease.
    Standby,
    /// Nothing was waiting.
    Idle,
    /// A batch of `count` events was handed over; `more` when events wait behind it (read meanwhile).
    HandedOver { count: usize, more: bool },
}

/// A batch handed over, its acknowledgements outstanding.
struct InFlight {
    events: Vec<OrderEvent>,
    acks: Acks,
}

/// The events between the outbox and the brokers, and what a failure among them holds back.
#[derive(Default)]
pub struct Pipeline {
    /// Batches handed over, oldest first.
    in_flight: VecDeque<InFlight>,
    /// The next batch, read while the previous one was handed over.
    ahead: Vec<OrderEvent>,
    /// Acknowledged events on their way out of the outbox.
    leaving: HashSet<i64>,
    /// Orders with an event that failed since the pipeline last ran empty: their later events, even
    /// acknowledged, stay in the outbox to go out again after it. While any is blocked, nothing more
    /// is handed over.
    blocked: HashSet<OrderId>,
}

impl Pipeline {
    /// Whether another batch of up to `batch` events may be handed over.
    fn accepts(&self, batch: usize) -> bool {
        let in_flight: usize = self.in_flight.iter().map(|b| b.events.len()).sum();
        self.blocked.is_empty() && in_flight < MAX_BATCHES_IN_FLIGHT * batch
    }

    fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// The positions a read leaves out: every event the pipeline holds, and `also`.
    fn held(&self, also: &[OrderEvent]) -> Vec<i64> {
        let batches = self.in_flight.iter().map(|batch| batch.events.as_slice());
        let events = batches.chain([self.ahead.as_slice(), also]).flatten();
        let positions = events.map(|event| event.position);
        positions.chain(self.leaving.iter().copied()).collect()
    }

    /// The oldest batch and its answer, once in. Cancel-safe: until the answer is in, the batch stays.
    async fn next_answer(&mut self) -> (Vec<OrderEvent>, Vec<Result<(), PublishError>>) {
        let results = match self.in_flight.front_mut() {
            Some(oldest) => (&mut oldest.acks).await,
            None => std::future::pending().await,
        };
        let events = self.in_flight.pop_front().map(|oldest| oldest.events);
        (events.unwrap_or_default(), results)
    }
}

/// Publishes the outbox.
pub struct Relay {
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
    pub async fn step(&mut self, pipeline: &mut Pipeline) -> Result<Step, RepoError> {
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
    pub fn settle(
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
    /// otherwise, backing off up to [`MAX_BACKOFF`] after failures — takes the acknowledged ones out of
    /// the outbox, renews the lease, and, beside all that, reports the lag, which goes on while
    /// batches wait out an outage. Stopping drops the batches in flight — the next holder sends their
    /// events again — and gives the lease up.
    pub async fn run(self, stop: watch::Receiver<bool>) {
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

/// Takes the acknowledged events at `positions` out of the outbox, and returns the positions. When that
/// fails they stay, and go out again: consumers recognise the copies.
async fn take_out(outbox: Arc<dyn Outbox>, positions: Vec<i64>) -> Vec<i64> {
    match outbox.mark_sent(&positions).await {
        Ok(()) => {
            metrics::counter!("loms_relay_published_events_total")
                .increment(positions.len() as u64);
        }
        Err(error) => {
            tracing::warn!(error = %telemetry::error_chain(&error), "cannot take sent events out of the outbox; they go out again");
        }
    }
    positions
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

/// When the relay reads next.
struct Pace {
    next_read: Instant,
    poll: Duration,
    backoff: Duration,
    max_backoff: Duration,
    /// A failure is waiting for the pipeline to run empty: the read after it backs off.
    failed: bool,
}

impl Pace {
    fn new(poll: Duration, max_backoff: Duration) -> Self {
        Self {
            next_read: Instant::now(),
            poll,
            backoff: poll,
            max_backoff,
            failed: false,
        }
    }

    /// At once after a full batch, after `poll` otherwise, backing off after an error.
    fn stepped(&mut self, step: &Result<Step, RepoError>, batch: usize) {
        let pause = match step {
            Ok(Step::HandedOver { count, more }) if *more || *count == batch => Duration::ZERO,
            Ok(Step::HandedOver { .. }) => self.poll,
            Ok(Step::Idle | Step::Standby) => {
                self.backoff = self.poll;
                self.poll
            }
            Err(error) => {
                tracing::warn!(error = %telemetry::error_chain(error), backoff = ?self.backoff, "relay read failed; retrying");
                self.back_off()
            }
        };
        self.next_read = Instant::now() + pause;
    }

    /// After a batch's answer: a batch all acknowledged ends the backoff; after failed events, the
    /// first read once the pipeline ran empty backs off.
    fn settled(&mut self, failed: usize, empty: bool) {
        if failed > 0 {
            self.failed = true;
        } else if !self.failed {
            self.backoff = self.poll;
        }
        if empty && self.failed {
            self.failed = false;
            self.next_read = Instant::now() + self.back_off();
        }
    }

    /// Events were written here: read at once, unless backing off.
    fn woken(&mut self) {
        if self.backoff == self.poll && !self.failed {
            self.next_read = self.next_read.min(Instant::now());
        }
    }

    fn back_off(&mut self) -> Duration {
        let pause = self.backoff;
        self.backoff = (self.backoff * 2).min(self.max_backoff);
        pause
    }
}

/// The positions to take out of the outbox: the acknowledged events, except those of an order with a
/// failed event in this batch or in an earlier one (`blocked`, which gains this batch's failed orders)
/// — they would otherwise precede that event's next copy.
fn acknowledged(
    events: &[OrderEvent],
    results: &[Result<(), PublishError>],
    blocked: &mut HashSet<OrderId>,
) -> Vec<i64> {
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
        "Order events acknowledged by the brokers and taken out of the outbox"
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
    use tokio::sync::{mpsc, Notify};

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

    fn positions(events: &[OrderEvent]) -> Vec<i64> {
        events.iter().map(|event| event.position).collect()
    }

    /// Batches of 2 (so that a test fills one easily), a lease of 3 s.
    fn settings() -> RelaySettings {
        RelaySettings {
            poll: Duration::from_millis(10),
            batch: 2,
            lease_ttl: Duration::from_secs(3),
        }
    }

    fn relay(outbox: MockOutbox, publisher: MockEventPublisher) -> Relay {
        Relay::new(Arc::new(outbox), Arc::new(publisher), settings())
    }

    fn leased(outbox: &mut MockOutbox) {
        outbox.expect_lease().returning(|_, _| Ok(true));
    }

    /// The outbox answers its reads with `batches`, one by one, then with nothing.
    fn reading(outbox: &mut MockOutbox, batches: Vec<Vec<OrderEvent>>) {
        let mut batches = batches.into_iter();
        outbox
            .expect_pending()
            .returning(move |_, _| Ok(batches.next().unwrap_or_default()));
    }

    /// Answers that come at once: every event acknowledged but those at `failing`.
    fn answering(failing: &'static [i64]) -> MockEventPublisher {
        let mut publisher = MockEventPublisher::new();
        publisher.expect_send().returning(move |events| {
            let result = |event: &OrderEvent| match failing.contains(&event.position) {
                true => Err(PublishError("refused".into())),
                false => Ok(()),
            };
            let results: Vec<_> = events.iter().map(result).collect();
            Box::pin(std::future::ready(results))
        });
        publisher
    }

    /// The outbox of a relay that runs: `written` for its wake-ups, no backlog, every position taken
    /// out reported on the returned channel.
    fn running_outbox(
        outbox: &mut MockOutbox,
        written: Arc<Notify>,
    ) -> mpsc::UnboundedReceiver<Vec<i64>> {
        outbox.expect_written().returning(move || written.clone());
        outbox.expect_backlog().returning(|| Ok(Backlog::default()));
        let (taken, taken_out) = mpsc::unbounded_channel();
        outbox.expect_mark_sent().returning(move |positions| {
            let _ = taken.send(positions.to_vec());
            Ok(())
        });
        taken_out
    }

    /// A running relay, and its stop.
    struct Running {
        stop: watch::Sender<bool>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Running {
        fn start(relay: Relay) -> Self {
            let (stop, stopped) = watch::channel(false);
            let task = tokio::spawn(relay.run(stopped));
            Self { stop, task }
        }

        async fn stop(self) {
            self.stop.send(true).expect("relay listening");
            self.task.await.expect("stops without panic");
        }
    }

    /// A relay that polls once a minute, so that whatever else makes it read shows.
    fn polling_every_minute(outbox: MockOutbox) -> Relay {
        let settings = RelaySettings {
            poll: Duration::from_secs(60),
            ..settings()
        };
        Relay::new(Arc::new(outbox), Arc::new(answering(&[])), settings)
    }

    /// A pace polling every 100 ms, backing off up to 800 ms.
    fn pace() -> Pace {
        Pace::new(Duration::from_millis(100), Duration::from_millis(800))
    }

    /// How long until the pace reads next (the clock is paused: it does not move by itself).
    fn wait(pace: &Pace) -> u128 {
        pace.next_read.duration_since(Instant::now()).as_millis()
    }

    fn handed_over(count: usize, more: bool) -> Result<Step, RepoError> {
        Ok(Step::HandedOver { count, more })
    }

    #[tokio::test(start_paused = true)]
    async fn the_pace_reads_at_once_behind_a_full_batch_and_after_the_poll_otherwise() {
        let mut pace = pace();
        assert_eq!(wait(&pace), 0, "the first read is at once");
        for (step, expected) in [
            (handed_over(2, false), 0),
            (handed_over(1, true), 0),
            (handed_over(1, false), 100),
            (Ok(Step::Idle), 100),
            (Ok(Step::Standby), 100),
        ] {
            pace.stepped(&step, 2);
            assert_eq!(wait(&pace), expected, "{step:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failed_reads_back_off_doubling_to_the_limit_until_a_read_succeeds() {
        let mut pace = pace();
        let failed = || Err(RepoError::msg("down"));
        for expected in [100, 200, 400, 800, 800] {
            pace.stepped(&failed(), 2);
            assert_eq!(wait(&pace), expected);
        }
        pace.stepped(&Ok(Step::Idle), 2);
        pace.stepped(&failed(), 2);
        assert_eq!(wait(&pace), 100, "the backoff starts again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_here_brings_the_read_forward_unless_the_relay_backs_off() {
        let mut pace = pace();
        pace.stepped(&Ok(Step::Idle), 2);
        pace.woken();
        assert_eq!(wait(&pace), 0, "woken while idle");

        pace.stepped(&Err(RepoError::msg("down")), 2);
        pace.stepped(&Err(RepoError::msg("down")), 2);
        pace.woken();
        assert_eq!(wait(&pace), 200, "woken while backing off");

        let mut pace = self::pace();
        pace.stepped(&Ok(Step::Idle), 2);
        pace.settled(1, false);
        pace.woken();
        assert_eq!(wait(&pace), 100, "woken while a failed event waits");
    }

    #[tokio::test(start_paused = true)]
    async fn after_failed_events_the_first_read_once_the_pipeline_ran_empty_backs_off() {
        let mut pace = pace();
        pace.stepped(&Ok(Step::Idle), 2);
        pace.settled(1, false);
        assert_eq!(wait(&pace), 100, "not before the pipeline runs empty");
        pace.settled(0, true);
        assert_eq!(wait(&pace), 100, "the first backoff: one poll");
        pace.settled(2, true);
        assert_eq!(wait(&pace), 200, "failing again: twice as long");
        pace.settled(1, false);
        pace.settled(0, false);
        pace.settled(0, true);
        assert_eq!(
            wait(&pace),
            400,
            "a batch acknowledged while a failure waits ends nothing"
        );
        // all acknowledged, with no failure waiting: the backoff starts again
        pace.settled(0, true);
        pace.stepped(&Err(RepoError::msg("down")), 2);
        assert_eq!(wait(&pace), 100);
    }

    #[tokio::test]
    async fn a_handed_over_batch_leaves_the_outbox_once_acknowledged() {
        let mut outbox = MockOutbox::new();
        leased(&mut outbox);
        outbox
            .expect_pending()
            .with(eq(2), eq(Vec::<i64>::new()))
            .times(1)
            .returning(|_, _| Ok(vec![event(1, 7)]));
        let mut relay = relay(outbox, answering(&[]));
        let mut pipeline = Pipeline::default();
        let step = relay.step(&mut pipeline).await;
        assert_eq!(
            step.ok(),
            Some(Step::HandedOver {
                count: 1,
                more: false
            })
        );
        let (events, results) = pipeline.next_answer().await;
        let (sent, failed) = relay.settle(&mut pipeline, &events, results);
        assert_eq!((sent, failed), (vec![1], 0));
        assert!(
            pipeline.leaving.contains(&1),
            "a read leaves it out until it is gone"
        );
    }

    #[tokio::test]
    async fn a_read_leaves_out_what_is_in_flight_and_overlaps_the_hand_over() {
        let mut outbox = MockOutbox::new();
        leased(&mut outbox);
        let mut reads = vec![
            vec![event(1, 7), event(2, 8)],
            vec![event(3, 7), event(4, 9)],
            vec![],
        ]
        .into_iter();
        let (asked, mut skipped) = mpsc::unbounded_channel();
        outbox.expect_pending().returning(move |_, skip| {
            asked.send(skip.to_vec()).expect("test listening");
            Ok(reads.next().unwrap_or_default())
        });
        let mut publisher = MockEventPublisher::new();
        let (sent, mut handed) = mpsc::unbounded_channel();
        publisher.expect_send().returning(move |events| {
            sent.send(positions(events)).expect("test listening");
            Box::pin(std::future::pending())
        });
        let mut relay = relay(outbox, publisher);
        let mut pipeline = Pipeline::default();
        let first = relay.step(&mut pipeline).await;
        assert_eq!(
            first.ok(),
            Some(Step::HandedOver {
                count: 2,
                more: true
            })
        );
        let second = relay.step(&mut pipeline).await;
        assert_eq!(
            second.ok(),
            Some(Step::HandedOver {
                count: 2,
                more: false
            })
        );
        // the first read, then one beside each full batch's hand-over, leaving out what is in flight
        for expected in [vec![], vec![1, 2], vec![1, 2, 3, 4]] {
            assert_eq!(skipped.recv().await, Some(expected));
        }
        // the second batch went out although the first was not acknowledged
        assert_eq!(handed.recv().await, Some(vec![1, 2]));
        assert_eq!(handed.recv().await, Some(vec![3, 4]));
    }

    #[tokio::test]
    async fn after_a_failed_event_its_orders_later_events_stay_even_from_later_batches() {
        let mut outbox = MockOutbox::new();
        leased(&mut outbox);
        reading(
            &mut outbox,
            vec![
                vec![event(1, 7), event(2, 8)],
                vec![event(3, 7), event(4, 8)],
            ],
        );
        let mut relay = relay(outbox, answering(&[1]));
        let mut pipeline = Pipeline::default();
        for _ in 0..2 {
            relay.step(&mut pipeline).await.expect("handed over");
        }
        let (events, results) = pipeline.next_answer().await;
        assert_eq!(relay.settle(&mut pipeline, &events, results), (vec![2], 1));
        assert!(
            !pipeline.accepts(2),
            "nothing more goes out until every answer is in"
        );
        // order 7's second event was acknowledged, but must go out again after its first
        let (events, results) = pipeline.next_answer().await;
        assert_eq!(relay.settle(&mut pipeline, &events, results), (vec![4], 1));
        assert!(
            pipeline.accepts(2),
            "the pipeline ran empty: reading starts again"
        );
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
        publisher.expect_send().never();
        let step = relay(outbox, publisher)
            .step(&mut Pipeline::default())
            .await;
        assert_eq!(step.ok(), Some(Step::Standby));
    }

    #[tokio::test]
    async fn an_empty_outbox_hands_nothing_over() {
        let mut outbox = MockOutbox::new();
        leased(&mut outbox);
        outbox.expect_pending().returning(|_, _| Ok(Vec::new()));
        let mut publisher = MockEventPublisher::new();
        publisher.expect_send().never();
        let step = relay(outbox, publisher)
            .step(&mut Pipeline::default())
            .await;
        assert_eq!(step.ok(), Some(Step::Idle));
    }

    #[tokio::test]
    async fn a_store_failure_hands_nothing_over() {
        let mut outbox = MockOutbox::new();
        leased(&mut outbox);
        outbox
            .expect_pending()
            .returning(|_, _| Err(RepoError::msg("down")));
        let mut publisher = MockEventPublisher::new();
        publisher.expect_send().never();
        let mut pipeline = Pipeline::default();
        assert!(relay(outbox, publisher).step(&mut pipeline).await.is_err());
        assert!(pipeline.is_empty());
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
        outbox.expect_release().times(1).returning(|_| Ok(()));
        reading(&mut outbox, vec![vec![event(1, 7)]]);
        let mut taken_out = running_outbox(&mut outbox, Arc::default());
        let mut publisher = MockEventPublisher::new();
        publisher.expect_send().returning(|_| {
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(10_500)).await;
                vec![Ok(())]
            })
        });
        let running = Running::start(relay(outbox, publisher));
        assert_eq!(taken_out.recv().await, Some(vec![1]));
        running.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_here_wakes_the_relay_before_its_poll() {
        let mut outbox = MockOutbox::new();
        leased(&mut outbox);
        outbox.expect_release().times(1).returning(|_| Ok(()));
        reading(&mut outbox, vec![vec![], vec![event(1, 7)]]);
        let written = Arc::new(Notify::new());
        let mut taken_out = running_outbox(&mut outbox, written.clone());
        let running = Running::start(polling_every_minute(outbox));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let woken = Instant::now();
        written.notify_one();
        assert_eq!(taken_out.recv().await, Some(vec![1]));
        assert!(
            woken.elapsed() < Duration::from_secs(1),
            "read at once, not after the poll"
        );
        running.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn on_standby_writes_here_do_not_ask_for_the_lease_again() {
        let mut outbox = MockOutbox::new();
        // the first attempt only: the next is the poll's, a minute away
        outbox.expect_lease().times(1).returning(|_, _| Ok(false));
        outbox.expect_pending().never();
        outbox.expect_release().never();
        let written = Arc::new(Notify::new());
        running_outbox(&mut outbox, written.clone());
        let running = Running::start(polling_every_minute(outbox));
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            written.notify_one();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        running.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn run_publishes_until_stopped_and_gives_the_lease_up() {
        let mut outbox = MockOutbox::new();
        let holders = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (taking, giving) = (holders.clone(), holders.clone());
        outbox.expect_lease().returning(move |holder, _| {
            taking.lock().expect("not poisoned").push(holder.to_owned());
            Ok(true)
        });
        outbox.expect_release().times(1).returning(move |holder| {
            let holders = giving.lock().expect("not poisoned");
            assert_eq!(
                holders.first().map(String::as_str),
                Some(holder),
                "its own lease"
            );
            Ok(())
        });
        reading(&mut outbox, vec![vec![event(1, 7)], vec![event(2, 7)]]);
        let mut taken_out = running_outbox(&mut outbox, Arc::default());
        let running = Running::start(relay(outbox, answering(&[])));
        assert_eq!(taken_out.recv().await, Some(vec![1]));
        assert_eq!(taken_out.recv().await, Some(vec![2]));
        running.stop().await;
    }

    /// While the brokers answer nothing, the relay hands over at most MAX_BATCHES_IN_FLIGHT full
    /// batches, then waits.
    #[tokio::test(start_paused = true)]
    async fn at_most_four_batches_wait_for_their_answers() {
        let mut outbox = MockOutbox::new();
        leased(&mut outbox);
        let next = std::sync::atomic::AtomicI64::new(1);
        outbox.expect_pending().returning(move |limit, _| {
            let first = next.fetch_add(limit as i64, std::sync::atomic::Ordering::SeqCst);
            Ok((first..first + limit as i64).map(|p| event(p, p)).collect())
        });
        outbox.expect_release().returning(|_| Ok(()));
        let _taken_out = running_outbox(&mut outbox, Arc::default());
        let (sent, handed_over) = mpsc::unbounded_channel();
        let mut publisher = MockEventPublisher::new();
        publisher.expect_send().returning(move |events| {
            let _ = sent.send(positions(events));
            Box::pin(std::future::pending())
        });
        let relay = Relay::new(Arc::new(outbox), Arc::new(publisher), settings());
        let running = Running::start(relay);
        tokio::time::sleep(Duration::from_secs(60)).await;
        running.stop().await;
        let mut batches = Vec::new();
        let mut handed_over = handed_over;
        while let Ok(batch) = handed_over.try_recv() {
            batches.push(batch);
        }
        let expected: Vec<Vec<i64>> = (0..MAX_BATCHES_IN_FLIGHT as i64)
            .map(|b| vec![2 * b + 1, 2 * b + 2])
            .collect();
        assert_eq!(batches, expected);
    }

    /// Everything logged while the guard lives, on this thread.
    fn captured_log() -> (
        Arc<std::sync::Mutex<Vec<u8>>>,
        tracing::subscriber::DefaultGuard,
    ) {
        #[derive(Clone)]
        struct Buffer(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .expect("not poisoned")
                    .extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer(Arc::default());
        let log = buffer.0.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || buffer.clone())
            .finish();
        (log, tracing::subscriber::set_default(subscriber))
    }

    /// The backlog on /metrics every second, and in the log: a warning once the oldest event waited
    /// longer than LAG_WARNING, again every LAG_WARNING_REPEAT while that lasts, a line when it is over.
    #[tokio::test(start_paused = true)]
    async fn the_lag_is_on_metrics_and_a_long_one_in_the_log() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let metrics = recorder.handle();
        let _recording = metrics::set_default_local_recorder(&recorder);
        let (log, _logging) = captured_log();
        let mut outbox = MockOutbox::new();
        let reads = std::sync::atomic::AtomicU32::new(0);
        // one read a second: at LAG_WARNING (not late yet), then late until the 13th, a failed read
        // in between, then caught up
        outbox.expect_backlog().returning(move || {
            let second = reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (pending, oldest) = match second {
                0 | 1 => (3, LAG_WARNING),
                4 => return Err(RepoError::msg("down")),
                2..=12 => (5, LAG_WARNING + Duration::from_secs(1)),
                _ => (0, Duration::ZERO),
            };
            Ok(Backlog { pending, oldest })
        });
        let (stop, stopped) = watch::channel(false);
        let reporting = tokio::spawn(report_lag(Arc::new(outbox), stopped));

        tokio::time::sleep(Duration::from_millis(6_500)).await;
        let rendered = metrics.render();
        assert!(
            rendered.contains("loms_outbox_pending_events 5"),
            "{rendered}"
        );
        assert!(
            rendered.contains("loms_outbox_oldest_event_age_seconds 6"),
            "{rendered}"
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        stop.send(true).expect("listening");
        reporting.await.expect("stops");
        assert!(metrics.render().contains("loms_outbox_pending_events 0"));

        let log = String::from_utf8(log.lock().expect("not poisoned").clone()).expect("utf-8");
        assert_eq!(log.matches("outbox lagging").count(), 2, "{log}");
        assert_eq!(log.matches("outbox caught up").count(), 1, "{log}");
        let first = log.lines().find(|line| line.contains("outbox lagging"));
        let first = first.expect("warned");
        assert!(first.contains("pending=5 oldest_ms=6000"), "{log}");
    }

    /// A lease renewed a third of its time ago is renewed before the next hand-over; a younger one is
    /// not asked for again.
    #[tokio::test(start_paused = true)]
    async fn a_step_renews_a_lease_a_third_of_its_time_old() {
        let mut outbox = MockOutbox::new();
        let asked = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counting = asked.clone();
        outbox.expect_lease().returning(move |_, _| {
            counting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(true)
        });
        reading(&mut outbox, Vec::new());
        let mut relay = relay(outbox, MockEventPublisher::new());
        let mut pipeline = Pipeline::default();
        let leases = || asked.load(std::sync::atomic::Ordering::SeqCst);
        relay.step(&mut pipeline).await.expect("idle");
        assert_eq!(leases(), 1);
        // the lease of the settings lasts 3 s
        tokio::time::advance(Duration::from_millis(999)).await;
        relay.step(&mut pipeline).await.expect("idle");
        assert_eq!(leases(), 1, "renewed too early");
        tokio::time::advance(Duration::from_millis(1)).await;
        relay.step(&mut pipeline).await.expect("idle");
        assert_eq!(leases(), 2, "not renewed after a third of its time");
    }
}
