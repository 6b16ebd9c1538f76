//! What lies between the outbox and the brokers: whether the producer took the tenure over, the batch
//! read ahead, and the committed events on their way out of the outbox (see the module doc of
//! [`super`] for why each exists).
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinError;

use crate::domain::OrderEvent;
use crate::ports::{advance, Offsets, Outbox, Term};

/// After a failed taking out, the pause before the next try.
const TAKE_OUT_RETRY: Duration = Duration::from_millis(500);

/// The relay's state between steps.
#[derive(Default)]
pub struct Pipeline {
    /// The term the producer took over for and is ready to publish in; `None` while it has not, or
    /// after a transaction whose outcome is in doubt.
    pub(super) ready: Option<Term>,
    /// Whether the publisher may hold a producer (to be retired when the lease is lost).
    pub(super) may_produce: bool,
    /// The next batch, read while the previous one was committing.
    pub(super) ahead: Vec<OrderEvent>,
    /// Committed events not yet known to be out of the outbox: reads leave them out.
    leaving: HashSet<i64>,
    /// Committed events to take out next, and the offsets to store with them.
    unmarked: Vec<i64>,
    unmarked_offsets: Offsets,
    /// What the taking out in progress carries, to try again if it failed.
    taking: Option<(Vec<i64>, Offsets)>,
}

/// How a taking out ended: its positions, gone from the outbox or (`Err`) still there.
pub(super) type Taken = Result<Vec<i64>, Vec<i64>>;

impl Pipeline {
    /// The positions a read leaves out: the batch read ahead, the committed events on their way out,
    /// and `also`.
    pub(super) fn held(&self, also: &[OrderEvent]) -> Vec<i64> {
        let events = self.ahead.iter().chain(also);
        let positions = events.map(|event| event.position);
        positions.chain(self.leaving.iter().copied()).collect()
    }

    /// `batch` committed, its records ending at `ends`: its events are to be taken out.
    pub(super) fn committed(&mut self, batch: &[OrderEvent], ends: &Offsets) {
        let positions = batch.iter().map(|event| event.position);
        self.leaving.extend(positions.clone());
        self.unmarked.extend(positions);
        advance(&mut self.unmarked_offsets, ends);
    }

    /// What to take out of the outbox next, if anything: every committed event not taken out yet, and
    /// the offsets past them.
    pub(super) fn next_taking_out(&mut self) -> Option<(Vec<i64>, Offsets)> {
        if self.unmarked.is_empty() {
            return None;
        }
        let next = (
            std::mem::take(&mut self.unmarked),
            std::mem::take(&mut self.unmarked_offsets),
        );
        self.taking = Some(next.clone());
        Some(next)
    }

    /// A taking out ended: what it took leaves the pipeline; what failed is taken out with the next.
    pub(super) fn taken(&mut self, taken: Result<Taken, JoinError>) {
        let (positions, offsets) = self.taking.take().unwrap_or_default();
        match taken {
            Ok(Ok(gone)) => gone.iter().for_each(|p| {
                self.leaving.remove(p);
            }),
            Ok(Err(_)) | Err(_) => {
                self.unmarked.extend(positions);
                advance(&mut self.unmarked_offsets, &offsets);
            }
        }
    }

    /// The producer is gone.
    pub(super) fn retired(&mut self) {
        self.ready = None;
        self.may_produce = false;
        self.ahead.clear();
    }
}

/// Takes the committed events at `positions` out of the outbox and moves the lease's offsets to
/// `offsets`, in one step. When that fails they stay (pausing a little before saying so): the next
/// taking out carries them again, and a relay taking over finds them in the topic.
pub(super) async fn take_out(
    outbox: Arc<dyn Outbox>,
    lease: String,
    positions: Vec<i64>,
    offsets: Offsets,
) -> Taken {
    match outbox.mark_sent(&positions, &lease, &offsets).await {
        Ok(()) => {
            metrics::counter!("loms_relay_published_events_total")
                .increment(positions.len() as u64);
            Ok(positions)
        }
        Err(error) => {
            tracing::warn!(error = %telemetry::error_chain(&error), "cannot take published events out of the outbox; trying again");
            tokio::time::sleep(TAKE_OUT_RETRY).await;
            Err(positions)
        }
    }
}
