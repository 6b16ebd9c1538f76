//! The outbox relay: a background task of every loms replica that publishes the events the status
//! changes wrote into the [`Outbox`], exactly once, in Kafka transactions.
//!
//! **What is guaranteed.** Read with `read_committed`, the topic holds every event of the outbox once,
//! and each order's events in the order of its changes:
//! - **Never lost.** An event leaves the outbox only after the transaction that carried it committed
//!   (or once it was found committed in the topic, below). A crash, a stop or a lost connection in
//!   between leaves it there.
//! - **One holder publishes, and its predecessors are fenced.** The lease (a row in the store, taken and
//!   renewed on the store's clock, expiring `lease_ttl` after its last renewal, counted in terms) picks
//!   the replica that publishes. Its producers' `transactional.id`s are derived from the lease's name
//!   ([`crate::adapters::kafka`]), so each tenure starts with `init_transactions`, which fences the
//!   producers of every earlier one — their open transaction aborted, their later writes refused —
//!   however long they were paused (GC, SIGSTOP, a stalled database). Nothing a predecessor had not
//!   committed by then becomes visible.
//! - **What went out is known without sending it again.** A transaction's records carry their events'
//!   ids; the store keeps, per partition, where the records begin whose events may still be in the
//!   outbox (the offsets move with each taking out). A new tenure, once it has fenced the last one,
//!   reads the topic from there to its end and takes out of the outbox every event it finds, before
//!   it reads the outbox: a kill -9 between a commit and the taking out sends nothing twice.
//! - **In order per order.** One transaction at a time, each begun once the one before committed; each
//!   read starts at the head of the outbox and leaves out only what this relay committed and is taking
//!   out — positions follow the order in which
//!   changes took them, not the order of their commits, so a cursor would skip an event that committed
//!   late. An order's later events commit after its earlier ones (the order's row lock), so each is
//!   published after them or in the same transaction. An aborted transaction is read again from the
//!   head, the batch read meanwhile dropped.
//! - **A step never outlives its lease.** Every wait of a step — reading the outbox, room in the
//!   producer's queue, the acknowledgements, a commit, taking over — ends when the lease runs out: at
//!   the deadline of its last renewal, which moves with each one ([`LeaseWatch`]). The renewal runs in
//!   a task of its own ([`keep_lease`]); a stop or a lost lease drops the step at once. The producers
//!   are dropped when the lease is lost, and on a stop the lease is given up only after they are gone
//!   (a blocking librdkafka call in flight ends within a second).
//! - **The window left.** Kafka's transactions are the guarantee's only ground: the brokers keep each
//!   producer's fencing epoch and a transaction's outcome. Another writer of the topic with a
//!   transaction open would end a new tenure's read early (see [`crate::adapters::kafka`]); nothing of
//!   ours does that.
//!
//! **Woken by commits.** The store signals each commit that wrote events in this process
//! ([`Outbox::written`]): the relay reads at once rather than at its next poll. The poll finds the
//! changes other replicas commit.
//!
//! **Overlapped.** While a transaction is committing, the next batch is read (behind a full one) and
//! the last one's events are taken out of the outbox, in the background, one taking out at a time so
//! that the offsets stored never pass an event that is still in the outbox.
//!
//! **Through outages.** While the cluster is unreachable a transaction's records time out (with the
//! transaction, after the lease's TTL) and it fails; the next step takes over again, fencing while
//! the lease lasts, and failed steps back off (up to [`MAX_BACKOFF`]). The lease is still renewed, and
//! a stop ends the relay at once, the unsent events staying in the outbox, which meanwhile grows and
//! drains when the cluster is back. **Lag in sight**: `loms_outbox_pending_events` and `loms_outbox_oldest_event_age_seconds` on
//! `/metrics`, and a warning in the log while the oldest event waits longer than
//! [`LAG_WARNING`](lag::LAG_WARNING); `loms_relay_transactions_total{outcome}` and
//! `loms_relay_fenced_total` count the transactions.
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::ports::{EventPublisher, LeaseWatch, Outbox, PublishError, RepoError, Tenure};

mod lag;
mod pace;
mod pipeline;
#[cfg(test)]
mod tests;

pub(crate) use lag::describe_metrics;
use lag::report_lag;
use pace::Pace;
pub use pipeline::Pipeline;
use pipeline::{take_out, Taken};

/// The longest pause between attempts after failures, unless a third of the lease is shorter (the
/// lease must be renewed within it).
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How the relay paces itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelaySettings {
    /// The pause after a read that did not fill a batch; on standby, how often the lease is asked for.
    pub poll: Duration,
    /// After a transaction, the next begins no sooner than this, however soon a commit here wakes the
    /// relay, and later the more events the last one carried, up to `max_linger` ([`pace`]).
    pub linger: Duration,
    pub max_linger: Duration,
    /// Events read and published at a time, in one transaction.
    pub batch: usize,
    /// How long a lease lasts after its last renewal: a stalled holder's successor waits this long, and
    /// no step of a holder lasts longer.
    pub lease_ttl: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(100),
            linger: pace::LINGER,
            max_linger: pace::MAX_LINGER,
            // Large batches amortise each read, each deletion and each commit (BENCHMARKS.md).
            batch: 10_000,
            lease_ttl: Duration::from_secs(5),
        }
    }
}

/// What a step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The producer took the tenure over: `forgotten` events were found published and taken out.
    TookOver { forgotten: u64 },
    /// Nothing was waiting.
    Idle,
    /// A transaction of `count` events committed; `more` when events wait behind it (read meanwhile).
    Committed { count: usize, more: bool },
}

/// Why a step did not do its work.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Store(#[from] RepoError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("the lease ran out before the step ended")]
    LeaseRanOut,
}

/// Publishes the outbox.
pub struct Relay {
    outbox: Arc<dyn Outbox>,
    publisher: Box<dyn EventPublisher>,
    /// The lease's name ([`Outbox::lease_of`] the topic).
    lease: String,
    /// This replica's name on the lease: unique per process, so a restarted replica does not take over
    /// a lease its previous life may still be acting on.
    holder: String,
    settings: RelaySettings,
}

impl Relay {
    pub fn new(
        outbox: Arc<dyn Outbox>,
        publisher: Box<dyn EventPublisher>,
        lease: String,
        settings: RelaySettings,
    ) -> Self {
        Self {
            outbox,
            publisher,
            lease,
            holder: format!("loms-{}", uuid::Uuid::new_v4().simple()),
            settings,
        }
    }

    /// One step of a tenure: takes it over if the producer has not yet, else publishes the next batch —
    /// the one read ahead, or a fresh read — in one transaction, while reading the batch after it.
    pub async fn step(
        &mut self,
        pipeline: &mut Pipeline,
        lease: &LeaseWatch,
    ) -> Result<Step, StepError> {
        if pipeline.ready != Some(lease.term()) {
            return self.take_over(pipeline, lease).await;
        }
        let batch = match std::mem::take(&mut pipeline.ahead) {
            ahead if !ahead.is_empty() => ahead,
            _ => {
                let skip = pipeline.held(&[]);
                self.outbox.pending(self.settings.batch, &skip).await?
            }
        };
        if batch.is_empty() {
            return Ok(Step::Idle);
        }
        let count = batch.len();
        let held = pipeline.held(&batch);
        // Only behind a full batch can more be waiting: then the next read overlaps the commit.
        let read_ahead = async {
            if count < self.settings.batch {
                return Ok(Vec::new());
            }
            self.outbox.pending(self.settings.batch, &held).await
        };
        // Until the transaction ends cleanly, the producer is in doubt: dropped with this step, it must
        // take over again.
        pipeline.ready = None;
        let published = self.publisher.publish(&batch, lease);
        let (published, ahead) = tokio::join!(published, read_ahead);
        let outcome = match &published {
            Ok(_) => "committed",
            Err(PublishError::Aborted(_)) => "aborted",
            Err(PublishError::Fenced | PublishError::Failed(_)) => "failed",
        };
        metrics::counter!("loms_relay_transactions_total", "outcome" => outcome).increment(1);
        match published {
            Ok(ends) => {
                pipeline.ready = Some(lease.term());
                pipeline.committed(&batch, &ends);
                pipeline.ahead = ahead?;
                let more = !pipeline.ahead.is_empty();
                Ok(Step::Committed { count, more })
            }
            Err(error) => {
                if let PublishError::Aborted(_) = error {
                    pipeline.ready = Some(lease.term());
                }
                if let PublishError::Fenced = error {
                    metrics::counter!("loms_relay_fenced_total").increment(1);
                }
                Err(error.into())
            }
        }
    }

    /// Starts the tenure's producer, fencing the one before, and takes out of the outbox what the
    /// topic shows was published since the lease's offsets.
    async fn take_over(
        &mut self,
        pipeline: &mut Pipeline,
        lease: &LeaseWatch,
    ) -> Result<Step, StepError> {
        pipeline.ready = None;
        pipeline.ahead.clear();
        let from = self.outbox.published_offsets(&self.lease).await?;
        let published = self.publisher.take_over(&from, lease).await;
        let published = match published {
            Err(PublishError::Fenced) => {
                metrics::counter!("loms_relay_fenced_total").increment(1);
                return Err(PublishError::Fenced.into());
            }
            other => other?,
        };
        let forgotten = self
            .outbox
            .forget(&published.event_ids, &self.lease, &published.ends)
            .await?;
        tracing::info!(
            term = lease.term(),
            found = published.event_ids.len(),
            forgotten,
            "relay took over: the events a predecessor published are out of the outbox"
        );
        pipeline.ready = Some(lease.term());
        Ok(Step::TookOver { forgotten })
    }

    /// Runs until `stop` turns true: renews the lease beside the publishing ([`keep_lease`]), reports
    /// the lag, and while the lease is held, steps — at once while events wait, every `poll` otherwise,
    /// backing off after failures up to [`MAX_BACKOFF`] or a third of the lease, whichever is shorter.
    /// Stopping drops the step in flight, then the producer, and only then gives the lease up.
    pub(crate) async fn run(self, stop: watch::Receiver<bool>) {
        tracing::info!(holder = %self.holder, lease = %self.lease, settings = ?self.settings, "outbox relay running");
        let (tenure, tenures) = watch::channel(None);
        let keeper = Arc::new(Keeper {
            outbox: self.outbox.clone(),
            lease: self.lease.clone(),
            holder: self.holder.clone(),
            settings: self.settings,
        });
        // A task of its own, on whichever thread is free: a step's work (encoding a large batch) never
        // holds a renewal back.
        let keeping = tokio::spawn({
            let (keeper, mut stop) = (keeper.clone(), stop.clone());
            async move {
                keep_lease(&keeper, &tenure, &mut stop).await;
                tenure.borrow().is_some()
            }
        });
        let outbox = self.outbox.clone();
        tokio::join!(
            self.publish(tenures, stop.clone()),
            report_lag(outbox, stop)
        );
        if keeping.await.unwrap_or(true) {
            keeper.release().await;
        }
        tracing::info!("outbox relay stopped");
    }

    /// The publishing side of [`Relay::run`].
    async fn publish(
        mut self,
        mut tenures: watch::Receiver<Option<Tenure>>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut pipeline = Pipeline::default();
        let mut deletions: JoinSet<Taken> = JoinSet::new();
        let written = self.outbox.written();
        let renewal = self.settings.lease_ttl / 3;
        let mut pace = Pace::new(
            self.settings.poll,
            (self.settings.linger, self.settings.max_linger),
            MAX_BACKOFF.min(renewal),
        );
        loop {
            if deletions.is_empty() {
                if let Some((positions, offsets)) = pipeline.next_taking_out() {
                    let (outbox, lease) = (self.outbox.clone(), self.lease.clone());
                    deletions.spawn(take_out(outbox, lease, positions, offsets));
                }
            }
            let held = (*tenures.borrow_and_update()).filter(|t| t.until > Instant::now());
            let Some(tenure) = held else {
                // Not (or no longer) the holder: the producer goes, so it cannot publish late.
                if pipeline.may_produce {
                    self.publisher.retire().await;
                    pipeline.retired();
                }
                tokio::select! {
                    biased;
                    () = stopped(&mut stop) => break,
                    _ = tenures.changed() => {}
                    Some(taken) = deletions.join_next(), if !deletions.is_empty() => pipeline.taken(taken),
                }
                continue;
            };
            tokio::select! {
                biased;
                () = stopped(&mut stop) => break,
                _ = tenures.changed() => {}
                Some(taken) = deletions.join_next(), if !deletions.is_empty() => pipeline.taken(taken),
                () = written.notified() => pace.woken(),
                () = tokio::time::sleep_until(tenure.until) => {}
                () = tokio::time::sleep_until(pace.next_read) => {
                    pipeline.may_produce = true;
                    let lease = LeaseWatch::new(tenures.clone(), tenure.term);
                    let step = self.step(&mut pipeline, &lease);
                    let Some(step) = until_lost(step, &lease, &mut tenures, &mut stop).await else {
                        // dropped mid-step: whatever it was doing, the producer is in doubt
                        pipeline.ready = None;
                        continue;
                    };
                    pace.stepped(&step, self.settings.batch);
                }
            }
        }
        // The step in flight is dropped; the producer goes before the lease is given up.
        if pipeline.may_produce {
            self.publisher.retire().await;
        }
    }
}

/// Runs `step` until it ends, the lease's deadline passes unrenewed (an error), the tenure is lost, or
/// `stop` turns true (`None` for the last two).
async fn until_lost<T>(
    step: impl std::future::Future<Output = Result<T, StepError>>,
    lease: &LeaseWatch,
    tenures: &mut watch::Receiver<Option<Tenure>>,
    stop: &mut watch::Receiver<bool>,
) -> Option<Result<T, StepError>> {
    tokio::pin!(step);
    loop {
        tokio::select! {
            biased;
            () = stopped(stop) => return None,
            changed = tenures.changed() => {
                let lost = changed.is_err()
                    || tenures.borrow_and_update().is_none_or(|t| t.term != lease.term());
                if lost {
                    return None;
                }
            }
            done = &mut step => return Some(done),
            () = tokio::time::sleep_until(lease.deadline()) => {
                if lease.deadline() <= Instant::now() {
                    return Some(Err(StepError::LeaseRanOut));
                }
            }
        }
    }
}

/// Takes and renews the relay's lease.
struct Keeper {
    outbox: Arc<dyn Outbox>,
    lease: String,
    holder: String,
    settings: RelaySettings,
}

impl Keeper {
    /// Gives the lease up, so that another replica takes over at once rather than after it expires (a
    /// rolling restart).
    async fn release(&self) {
        metrics::gauge!("loms_relay_lease_held").set(0.0);
        if let Err(error) = self.outbox.release(&self.lease, &self.holder).await {
            tracing::warn!(error = %telemetry::error_chain(&error), "cannot give up the relay lease; it expires on its own");
        }
    }
}

/// Until `stop`: renews the lease every third of its TTL while held, asks for it every `poll` while
/// another replica holds it, and publishes on `tenure` what is held. A failed renewal keeps the tenure,
/// which lapses at its deadline unless a later renewal succeeds.
async fn keep_lease(
    keeper: &Keeper,
    tenure: &watch::Sender<Option<Tenure>>,
    stop: &mut watch::Receiver<bool>,
) {
    let RelaySettings {
        poll, lease_ttl, ..
    } = keeper.settings;
    let renewal = lease_ttl / 3;
    let mut backoff = poll;
    loop {
        let asked = Instant::now();
        let answer = tokio::select! {
            biased;
            () = stopped(stop) => return,
            answer = keeper.outbox.lease(&keeper.lease, &keeper.holder, lease_ttl) => answer,
        };
        let next = match answer {
            Ok(Some(term)) => {
                backoff = poll;
                tenure.send_replace(Some(Tenure {
                    term,
                    until: asked + lease_ttl,
                }));
                asked + renewal
            }
            Ok(None) => {
                backoff = poll;
                tenure.send_if_modified(|held| held.take().is_some());
                Instant::now() + poll
            }
            Err(error) => {
                tracing::warn!(error = %telemetry::error_chain(&error), "cannot renew the relay lease");
                let pause = backoff.min(renewal);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                Instant::now() + pause
            }
        };
        let held = tenure.borrow().is_some_and(|t| t.until > Instant::now());
        metrics::gauge!("loms_relay_lease_held").set(if held { 1.0 } else { 0.0 });
        tokio::select! {
            biased;
            () = stopped(stop) => return,
            () = tokio::time::sleep_until(next) => {}
        }
    }
}

/// Returns once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}
