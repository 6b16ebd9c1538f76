//! What lies between the outbox and the brokers: the batches handed over and awaiting their
//! acknowledgements, the batch read ahead, the events on their way out of the outbox, and the orders a
//! failed event holds back (see the module doc of [`super`] for why each exists).
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use crate::domain::{OrderEvent, OrderId};
use crate::ports::{Acks, Outbox, PublishError};

/// Events handed over whose acknowledgements are outstanding, at most, in full batches: enough to keep
/// the brokers busy during a batch's `acks=all` round trip; few enough that the positions a read
/// leaves out stay cheap. (Counted in events, not batches: at a low rate every change makes a batch.)
pub(crate) const MAX_BATCHES_IN_FLIGHT: usize = 4;

/// A batch handed over, its acknowledgements outstanding.
pub(super) struct InFlight {
    pub(super) events: Vec<OrderEvent>,
    pub(super) acks: Acks,
}

/// The events between the outbox and the brokers, and what a failure among them holds back.
#[derive(Default)]
pub(crate) struct Pipeline {
    /// Batches handed over, oldest first.
    pub(super) in_flight: VecDeque<InFlight>,
    /// The next batch, read while the previous one was handed over.
    pub(super) ahead: Vec<OrderEvent>,
    /// Acknowledged events on their way out of the outbox.
    pub(super) leaving: HashSet<i64>,
    /// Orders with an event that failed since the pipeline last ran empty: their later events, even
    /// acknowledged, stay in the outbox to go out again after it. While any is blocked, nothing more
    /// is handed over.
    pub(super) blocked: HashSet<OrderId>,
}

impl Pipeline {
    /// Whether another batch of up to `batch` events may be handed over.
    pub(super) fn accepts(&self, batch: usize) -> bool {
        let in_flight: usize = self.in_flight.iter().map(|b| b.events.len()).sum();
        self.blocked.is_empty() && in_flight < MAX_BATCHES_IN_FLIGHT * batch
    }

    pub(super) fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// The positions a read leaves out: every event the pipeline holds, and `also`.
    pub(super) fn held(&self, also: &[OrderEvent]) -> Vec<i64> {
        let batches = self.in_flight.iter().map(|batch| batch.events.as_slice());
        let events = batches.chain([self.ahead.as_slice(), also]).flatten();
        let positions = events.map(|event| event.position);
        positions.chain(self.leaving.iter().copied()).collect()
    }

    /// The oldest batch and its answer, once in. Cancel-safe: until the answer is in, the batch stays.
    pub(super) async fn next_answer(&mut self) -> (Vec<OrderEvent>, Vec<Result<(), PublishError>>) {
        let results = match self.in_flight.front_mut() {
            Some(oldest) => (&mut oldest.acks).await,
            None => std::future::pending().await,
        };
        let events = self.in_flight.pop_front().map(|oldest| oldest.events);
        (events.unwrap_or_default(), results)
    }
}

/// Takes the acknowledged events at `positions` out of the outbox, and returns the positions. When that
/// fails they stay, and go out again: consumers recognise the copies.
pub(super) async fn take_out(outbox: Arc<dyn Outbox>, positions: Vec<i64>) -> Vec<i64> {
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

/// The positions to take out of the outbox: the acknowledged events, except those of an order with a
/// failed event in this batch or in an earlier one (`blocked`, which gains this batch's failed orders)
/// — they would otherwise precede that event's next copy.
pub(super) fn acknowledged(
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
