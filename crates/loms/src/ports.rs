//! The boundaries of loms's use cases: where orders and stock are kept.
//!
//! Each method is one atomic step — one transaction in a database — so that no reader ever sees half of
//! it and concurrent steps never oversell: the stock invariant `0 ≤ reserved ≤ total` holds throughout.
//! The use cases decide what to ask for; the store guarantees it happens whole or not at all.
//!
//! Every status change an [`OrderRepo`] step makes — `new`, `awaiting payment`, `failed`, `payed`,
//! `cancelled` — writes its [`OrderEvent`] into the [`Outbox`] in that same step, stamped with the
//! [`RequestId`] of the call that caused it: a change is never stored without its event, nor an event
//! without its change. The relay reads the outbox and hands the events to an [`EventPublisher`].
use async_trait::async_trait;
use tokio::sync::{watch, Notify};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::domain::{
    IdempotencyKey, Order, OrderEvent, OrderId, OrderItems, OrderStatus, RequestId, Sku,
    Transition, UserId,
};

/// The store failed: the shape every store of every service shares.
pub(crate) use storage::RepoError;

/// An order to place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrder {
    pub user: UserId,
    pub items: OrderItems,
    pub idempotency_key: Option<IdempotencyKey>,
    /// The call placing it: its status events carry this id.
    pub request_id: RequestId,
}

/// How a reservation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// Every item is reserved; the order is AWAITING_PAYMENT.
    Reserved,
    /// `sku` was unknown or short; nothing is reserved and the order is FAILED.
    Failed { sku: Sku },
}

/// How placing an order ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// A new order was stored and its reservation attempted.
    Created {
        order_id: OrderId,
        reservation: Reservation,
    },
    /// The user's idempotency key already names this order, which did not fail; nothing was written.
    /// Its items may differ from the ones asked for: deciding what that means is the caller's.
    Existing(Order),
}

/// How a requested transition ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransitionOutcome {
    /// The order was in the transition's start status and is now in its end status.
    Applied,
    /// The order was in `current` status and is unchanged.
    Refused { current: OrderStatus },
    /// There is no such order.
    NotFound,
}

/// Orders, and the stock their reservations move.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait OrderRepo: Send + Sync {
    /// Places an order, in one step: unless the user's idempotency key already names an order that did
    /// not fail (then that order is returned and nothing changes), stores the order and reserves every
    /// item — AWAITING_PAYMENT — or, if any SKU is unknown or short, reserves nothing — FAILED. The key
    /// is stored with the new order; after a FAILED one it names the new attempt.
    ///
    /// Concurrent calls with one key place one order: the others get [`Placement::Existing`]. No order
    /// is ever seen, nor left by a crash, in NEW.
    async fn place(&self, order: NewOrder) -> Result<Placement, RepoError>;

    /// Reads an order.
    async fn get(&self, id: OrderId) -> Result<Option<Order>, RepoError>;

    /// Cancels, in one step, up to `batch` orders that have awaited payment for `age` or longer — the
    /// oldest first, none of `skip` — releasing their reservations. An order that a concurrent step
    /// holds (a pay, a cancel, another replica's canceller) is skipped, never waited for and never
    /// cancelled twice. An order that cannot be settled (its stock refuses the release) is left as it
    /// is and reported, and the others are cancelled all the same; the caller calls again for the next
    /// batch, skipping those.
    async fn cancel_stale<'a>(
        &self,
        age: Duration,
        batch: usize,
        skip: &'a [OrderId],
        request_id: RequestId,
    ) -> Result<StaleBatch, RepoError>;

    /// If the order is in `transition.start_status()`, applies the transition's stock effect to its items and
    /// moves it to `transition.end_status()`, in one step; otherwise changes nothing.
    async fn transition(
        &self,
        id: OrderId,
        transition: Transition,
        request_id: RequestId,
    ) -> Result<TransitionOutcome, RepoError>;
}

/// What one step of the auto-cancel came to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaleBatch {
    /// The orders cancelled.
    pub(crate) cancelled: Vec<OrderId>,
    /// The orders claimed that could not be settled, each with why: left awaiting payment.
    pub(crate) unsettled: Vec<(OrderId, String)>,
}

impl StaleBatch {
    /// How many orders the step claimed.
    pub(crate) fn claimed(&self) -> usize {
        self.cancelled.len() + self.unsettled.len()
    }
}

/// The memory store's outbox holds as many events as it may (`LOMS_OUTBOX_MAX_PENDING`): a status
/// change is refused until the relay catches up, rather than an event dropped or memory exhausted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("order events backlog full: {pending} events wait to be published (at most {limit})")]
pub struct BacklogFull {
    pub(crate) pending: usize,
    pub(crate) limit: usize,
}

/// Stock levels.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait StockRepo: Send + Sync {
    /// Units of `sku` free to reserve, or `None` when the warehouse does not stock it.
    async fn available(&self, sku: Sku) -> Result<Option<u64>, RepoError>;
}

/// How far the relay is behind.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Backlog {
    /// Events not yet acknowledged by the brokers.
    pub(crate) pending: u64,
    /// How long the oldest of them has waited.
    pub(crate) oldest: Duration,
}

/// The transactional outbox: the events [`OrderRepo`] wrote with their changes, until they are sent.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait Outbox: Send + Sync {
    /// The name of the lease that picks the one relay publishing this outbox to `topic`: the same for
    /// every replica sharing the store, and no other store's.
    fn lease_of(&self, topic: &str) -> String;

    /// Takes the lease `name` for `holder` until `ttl` from now, or renews it, on the store's one clock
    /// (so replicas' clocks do not matter); returns its [`Term`] while `holder` holds it, `None` while
    /// another holder's lease runs. One holder at a time publishes, which keeps each order's events in
    /// order across replicas.
    async fn lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Term>, RepoError>;

    /// Gives the lease `name` up if `holder` holds it: the next replica to ask takes it at once.
    async fn release(&self, name: &str, holder: &str) -> Result<(), RepoError>;

    /// Up to `limit` unsent events, in outbox order, other than those at the positions in `skip`: for
    /// each order, the unsent events it has, oldest first, possibly cut short at the end. Positions
    /// follow the order in which changes took their events, not the order of their commits, so an
    /// event may appear before others read earlier: only the whole outbox, read in one go, is in
    /// order per order — which is why there is no "after position" to read from.
    async fn pending(&self, limit: usize, skip: &[i64]) -> Result<Vec<OrderEvent>, RepoError>;

    /// Where, per partition of the lease's topic, the records begin whose events may still be in the
    /// outbox (empty before the lease's first tenure).
    async fn published_offsets(&self, lease: &str) -> Result<Offsets, RepoError>;

    /// Takes sent events (by position) out of the outbox — [`Outbox::pending`] never returns them
    /// again — and moves the lease's offsets forward to `offsets` (never back), in one step.
    async fn mark_sent(
        &self,
        positions: &[i64],
        lease: &str,
        offsets: &Offsets,
    ) -> Result<(), RepoError>;

    /// Takes the events `event_ids` out of the outbox — found in the topic, they were published — and
    /// moves the lease's offsets forward to `offsets`, in one step; returns how many it took out.
    async fn forget(
        &self,
        event_ids: &[String],
        lease: &str,
        offsets: &Offsets,
    ) -> Result<u64, RepoError>;

    /// Notified (one stored permit) after this process committed events into the outbox, so that the
    /// relay reads at once instead of at its next poll. Other replicas' commits are not signalled:
    /// the poll finds those.
    fn written(&self) -> Arc<Notify>;

    /// How many events wait, and for how long the oldest has.
    async fn backlog(&self) -> Result<Backlog, RepoError>;
}

/// The number of a tenure of the relay's lease: it grows each time the lease is taken over, never
/// goes back.
pub type Term = i64;

/// A tenure of the lease, as the replica holding it last renewed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tenure {
    pub term: Term,
    /// The lease runs at least until then: its last renewal was asked for a TTL before.
    pub until: Instant,
}

/// One tenure of the lease as its renewals move its end: the publisher's waits end by
/// [`LeaseWatch::deadline`], read afresh at each wait.
#[derive(Clone, Debug)]
pub struct LeaseWatch {
    tenures: watch::Receiver<Option<Tenure>>,
    term: Term,
}

impl LeaseWatch {
    /// Tenure `term` of what `tenures` says is held.
    pub fn new(tenures: watch::Receiver<Option<Tenure>>, term: Term) -> Self {
        Self { tenures, term }
    }

    /// A tenure that ends at `until` whatever happens (for tests).
    #[cfg(any(test, feature = "testsuite"))]
    pub fn fixed(term: Term, until: Instant) -> Self {
        let (_, tenures) = watch::channel(Some(Tenure { term, until }));
        Self { tenures, term }
    }

    pub fn term(&self) -> Term {
        self.term
    }

    /// When the tenure ends, as last renewed; now, once another term holds the lease or none.
    pub fn deadline(&self) -> Instant {
        match *self.tenures.borrow() {
            Some(tenure) if tenure.term == self.term => tenure.until,
            _ => Instant::now(),
        }
    }
}

/// Per partition of a topic, an offset in it.
pub type Offsets = BTreeMap<i32, i64>;

/// Moves each partition of `to` forward to `from`'s offset where that is further.
pub(crate) fn advance(to: &mut Offsets, from: &Offsets) {
    for (&partition, &offset) in from {
        let at = to.entry(partition).or_insert(offset);
        *at = (*at).max(offset);
    }
}

/// Why a transaction did not commit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// It was aborted: none of its records is visible to a `read_committed` reader. The producer goes
    /// on with the next transaction.
    #[error("transaction aborted: {0}")]
    Aborted(String),
    /// Another producer of the lease took over (a successor's `init_transactions`): this one is gone.
    #[error("fenced by a newer holder of the lease")]
    Fenced,
    /// The producer is gone, and whether its last transaction committed is not known: the next
    /// [`EventPublisher::take_over`] finds out.
    #[error("{0}")]
    Failed(String),
}

/// What the topic holds that a predecessor committed: the event ids of the records found past the
/// lease's offsets, and where each partition's committed records end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Published {
    pub event_ids: Vec<String>,
    pub ends: Offsets,
}

/// The brokers the relay publishes to, in transactions of one producer per lease.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait EventPublisher: Send {
    /// Starts a producer for a tenure of the lease: fences every earlier producer of the lease —
    /// aborting its open transaction — then reads the topic's committed records from `from` (the
    /// lease's offsets) to its end. Waits no later than the lease's deadline.
    async fn take_over(
        &mut self,
        from: &Offsets,
        lease: &LeaseWatch,
    ) -> Result<Published, PublishError>;

    /// Publishes `events`, in the order given, in one transaction, each record stamped with the
    /// lease's term; returns, once committed, the offset after its last record in each partition it
    /// wrote. Waits no later than the lease's deadline. Events of one order land in one partition.
    async fn publish(
        &mut self,
        events: &[OrderEvent],
        lease: &LeaseWatch,
    ) -> Result<Offsets, PublishError>;

    /// Drops the producer, and returns once it is gone (a call in flight on another thread ends by its
    /// own deadline).
    async fn retire(&mut self);
}
