//! In-memory storage: the zero-dependency default. Nothing survives a restart.
//!
//! Orders and stock live behind one mutex, so every port method is atomic the way a database transaction
//! would be: a reservation checks and reserves every item under the same lock, and no reader sees half
//! of it. The lock is a std mutex held only for map operations, never across an `.await`. The outbox
//! lives under the same lock, so a change and its event appear together; sent events are dropped.
//!
//! One process owns the memory, so the relay's lease is always granted, and named for this store alone:
//! two processes in memory relaying to one topic publish independently, neither fencing the other.
//!
//! Bounded: the outbox holds at most its limit of events (`LOMS_OUTBOX_MAX_PENDING`, default
//! [`DEFAULT_OUTBOX_LIMIT`]); a status change that would exceed it is refused ([`BacklogFull`],
//! `UNAVAILABLE` to the caller) before anything changes, so nothing accepted is ever dropped. Without a
//! relay (`LOMS_KAFKA_BROKERS=off`) no event could ever leave, and none is kept.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::sync::Notify;

use crate::domain::{
    reserve_items, settle_items, IdempotencyKey, Order, OrderEvent, OrderId, OrderStatus,
    RequestId, Sku, Stock, StockEffect, Transition, UserId,
};
use crate::ports::{
    advance, Backlog, BacklogFull, NewOrder, Offsets, OrderRepo, Outbox, Placement, RepoError,
    Reservation, StaleBatch, StockRepo, Term, TransitionOutcome,
};

#[derive(Debug, Default)]
struct State {
    last_order_id: i64,
    orders: HashMap<OrderId, Order>,
    /// The order each (user, idempotency key) names: the latest one placed with it.
    keys: HashMap<(UserId, IdempotencyKey), OrderId>,
    /// When each order was placed (tokio's clock, so that tests can move it).
    placed_at: HashMap<OrderId, tokio::time::Instant>,
    stocks: HashMap<Sku, Stock>,
    last_event: i64,
    /// Unsent events by position, with when each was written (tokio's clock): positions rise with
    /// time, so the first is the oldest.
    outbox: BTreeMap<i64, (OrderEvent, tokio::time::Instant)>,
    /// How many events the outbox may hold; `None`: no relay runs, and no event is kept.
    outbox_limit: OutboxLimit,
    /// Told of every event written ([`Outbox::written`]).
    written: Arc<Notify>,
    /// The relay's offsets, by lease ([`Outbox::published_offsets`]).
    offsets: HashMap<String, Offsets>,
}

/// How many events the outbox may hold; `None`: no relay runs, and no event is kept.
#[derive(Clone, Copy, Debug)]
struct OutboxLimit(Option<usize>);

impl Default for OutboxLimit {
    fn default() -> Self {
        Self(Some(DEFAULT_OUTBOX_LIMIT))
    }
}

/// The outbox's limit unless `LOMS_OUTBOX_MAX_PENDING` says otherwise.
pub const DEFAULT_OUTBOX_LIMIT: usize = 100_000;

impl State {
    /// Fails, before anything changes, when `events` more would not fit in the outbox.
    fn room_for(&self, events: usize) -> Result<(), RepoError> {
        match self.outbox_limit.0 {
            Some(limit) if self.outbox.len() + events > limit => Err(RepoError::unavailable(
                "write order events",
                BacklogFull {
                    pending: self.outbox.len(),
                    limit,
                },
            )),
            _ => Ok(()),
        }
    }

    /// Writes the event of `order_id` entering `status`.
    fn record(&mut self, order_id: OrderId, status: OrderStatus, request_id: &RequestId) {
        if self.outbox_limit.0.is_none() {
            return;
        }
        self.last_event += 1;
        let event = OrderEvent {
            position: self.last_event,
            event_id: uuid::Uuid::new_v4().to_string(),
            order_id,
            status,
            moment: SystemTime::now(),
            request_id: request_id.clone(),
            trace: OrderEvent::trace_now(),
        };
        self.outbox
            .insert(event.position, (event, tokio::time::Instant::now()));
        self.written.notify_one();
    }
}

/// Orders and stock in process memory.
#[derive(Debug)]
pub struct MemoryStore {
    state: Mutex<State>,
    /// Names this store's relay lease: unique per store.
    id: uuid::Uuid,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            id: uuid::Uuid::new_v4(),
        }
    }
}

impl MemoryStore {
    /// A store with the given stock and no orders.
    pub fn with_stock(stock: impl IntoIterator<Item = (Sku, Stock)>) -> Self {
        Self {
            state: Mutex::new(State {
                stocks: stock.into_iter().collect(),
                ..State::default()
            }),
            ..Self::default()
        }
    }

    /// The outbox holds at most `limit` events; `None`: no relay runs, and no event is kept.
    pub fn with_outbox_limit(self, limit: Option<usize>) -> Self {
        self.lock().outbox_limit = OutboxLimit(limit);
        self
    }

    /// A store with the stock of the whole built-in catalogue (the `catalogue` crate).
    pub(crate) fn seeded() -> Self {
        Self::with_stock(catalogue::stock().into_iter().filter_map(|level| {
            Some((
                Sku::try_from(level.sku).ok()?,
                Stock::new(level.total, level.reserved).ok()?,
            ))
        }))
    }

    /// The full stock record of `sku`, for tests and diagnostics.
    pub fn stock(&self, sku: Sku) -> Option<Stock> {
        self.lock().stocks.get(&sku).copied()
    }

    /// Sets the stock of `sku`, for tests (the storage suite's `TestStore`).
    #[cfg(any(test, feature = "testsuite"))]
    pub(crate) fn put_stock(&self, sku: Sku, stock: Stock) {
        self.lock().stocks.insert(sku, stock);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every mutation below validates before it writes, so a panic elsewhere cannot leave the state
        // half-changed: a poisoned lock still guards consistent data.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl OrderRepo for MemoryStore {
    async fn place(&self, new: NewOrder) -> Result<Placement, RepoError> {
        let mut state = self.lock();
        if let Some(key) = &new.idempotency_key {
            let existing = state
                .keys
                .get(&(new.user, key.clone()))
                .and_then(|id| state.orders.get(id));
            if let Some(order) = existing.filter(|o| o.status != OrderStatus::Failed) {
                return Ok(Placement::Existing(order.clone()));
            }
        }
        state.room_for(2)?;
        let id = OrderId::try_from(state.last_order_id + 1)
            .map_err(|e| RepoError::failed("order id sequence", e))?;
        let (status, reservation) =
            match reserve_items(&new.items, |sku| state.stocks.get(&sku).copied()) {
                Ok(changed) => {
                    state.stocks.extend(changed);
                    (OrderStatus::AwaitingPayment, Reservation::Reserved)
                }
                Err(sku) => (OrderStatus::Failed, Reservation::Failed { sku }),
            };
        state.last_order_id = id.get();
        if let Some(key) = &new.idempotency_key {
            state.keys.insert((new.user, key.clone()), id);
        }
        state.placed_at.insert(id, tokio::time::Instant::now());
        state.record(id, OrderStatus::New, &new.request_id);
        state.record(id, status, &new.request_id);
        state.orders.insert(
            id,
            Order {
                id,
                user: new.user,
                status,
                items: new.items,
                idempotency_key: new.idempotency_key,
            },
        );
        Ok(Placement::Created {
            order_id: id,
            reservation,
        })
    }

    async fn get(&self, id: OrderId) -> Result<Option<Order>, RepoError> {
        Ok(self.lock().orders.get(&id).cloned())
    }

    async fn cancel_stale<'a>(
        &self,
        age: Duration,
        batch: usize,
        skip: &'a [OrderId],
        request_id: RequestId,
    ) -> Result<StaleBatch, RepoError> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(cutoff) = tokio::time::Instant::now().checked_sub(age) else {
            return Ok(StaleBatch::default());
        };
        let mut stale: Vec<(tokio::time::Instant, OrderId)> = state
            .orders
            .values()
            .filter(|order| order.status == OrderStatus::AwaitingPayment)
            .filter(|order| !skip.contains(&order.id))
            .filter_map(|order| {
                let at = *state.placed_at.get(&order.id)?;
                (at <= cutoff).then_some((at, order.id))
            })
            .collect();
        stale.sort();
        stale.truncate(batch);
        let mut step = StaleBatch::default();
        for (_, id) in stale {
            // A full outbox ends the step: the rest is claimed again once the relay caught up.
            if let Err(full) = state.room_for(1) {
                if step.claimed() == 0 {
                    return Err(full);
                }
                break;
            }
            let order = state
                .orders
                .get_mut(&id)
                .ok_or_else(|| RepoError::msg(format!("order {id} vanished")))?;
            let changed = match settle_items(&order.items, StockEffect::Release, |sku| {
                state.stocks.get(&sku).copied()
            }) {
                Ok(changed) => changed,
                Err(why) => {
                    step.unsettled.push((id, why.to_string()));
                    continue;
                }
            };
            state.stocks.extend(changed);
            order.status = OrderStatus::Cancelled;
            state.record(id, OrderStatus::Cancelled, &request_id);
            step.cancelled.push(id);
        }
        Ok(step)
    }

    async fn transition(
        &self,
        id: OrderId,
        transition: Transition,
        request_id: RequestId,
    ) -> Result<TransitionOutcome, RepoError> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(order) = state.orders.get_mut(&id) else {
            return Ok(TransitionOutcome::NotFound);
        };
        if order.status != transition.start_status() {
            return Ok(TransitionOutcome::Refused {
                current: order.status,
            });
        }
        state.room_for(1)?;
        let Some(order) = state.orders.get_mut(&id) else {
            return Ok(TransitionOutcome::NotFound);
        };
        let changed = settle_items(&order.items, transition.stock_effect(), |sku| {
            state.stocks.get(&sku).copied()
        })
        .map_err(|e| RepoError::failed(format!("order {id}: {}", transition.verb()), e))?;
        state.stocks.extend(changed);
        order.status = transition.end_status();
        state.record(id, transition.end_status(), &request_id);
        Ok(TransitionOutcome::Applied)
    }
}

#[async_trait]
impl Outbox for MemoryStore {
    fn lease_of(&self, topic: &str) -> String {
        format!("{topic}@memory-{}", self.id.simple())
    }

    async fn lease(
        &self,
        _name: &str,
        _holder: &str,
        _ttl: Duration,
    ) -> Result<Option<Term>, RepoError> {
        Ok(Some(1))
    }

    async fn release(&self, _name: &str, _holder: &str) -> Result<(), RepoError> {
        Ok(())
    }

    async fn pending(&self, limit: usize, skip: &[i64]) -> Result<Vec<OrderEvent>, RepoError> {
        let skip: HashSet<i64> = skip.iter().copied().collect();
        let state = self.lock();
        let events = state.outbox.values().map(|(event, _)| event);
        let unsent = events.filter(|event| !skip.contains(&event.position));
        Ok(unsent.take(limit).cloned().collect())
    }

    async fn published_offsets(&self, lease: &str) -> Result<Offsets, RepoError> {
        Ok(self.lock().offsets.get(lease).cloned().unwrap_or_default())
    }

    async fn mark_sent(
        &self,
        positions: &[i64],
        lease: &str,
        offsets: &Offsets,
    ) -> Result<(), RepoError> {
        let mut state = self.lock();
        for position in positions {
            state.outbox.remove(position);
        }
        advance(state.offsets.entry(lease.to_owned()).or_default(), offsets);
        Ok(())
    }

    async fn forget(
        &self,
        event_ids: &[String],
        lease: &str,
        offsets: &Offsets,
    ) -> Result<u64, RepoError> {
        let ids: HashSet<&str> = event_ids.iter().map(String::as_str).collect();
        let mut state = self.lock();
        let before = state.outbox.len();
        state
            .outbox
            .retain(|_, (event, _)| !ids.contains(event.event_id.as_str()));
        let taken = before - state.outbox.len();
        advance(state.offsets.entry(lease.to_owned()).or_default(), offsets);
        Ok(taken as u64)
    }

    fn written(&self) -> Arc<Notify> {
        self.lock().written.clone()
    }

    async fn backlog(&self) -> Result<Backlog, RepoError> {
        let state = self.lock();
        let oldest = state
            .outbox
            .first_key_value()
            .map(|(_, (_, at))| at.elapsed());
        Ok(Backlog {
            pending: state.outbox.len() as u64,
            oldest: oldest.unwrap_or_default(),
        })
    }
}

#[cfg(any(test, feature = "testsuite"))]
#[async_trait]
impl crate::adapters::suite::TestStore for MemoryStore {
    async fn put_stock(&self, sku: Sku, stock: Stock) {
        MemoryStore::put_stock(self, sku, stock);
    }
    async fn stock_of(&self, sku: Sku) -> Option<Stock> {
        self.stock(sku)
    }
}

#[async_trait]
impl StockRepo for MemoryStore {
    async fn available(&self, sku: Sku) -> Result<Option<u64>, RepoError> {
        Ok(self.lock().stocks.get(&sku).map(Stock::available))
    }
}

/// The shared storage suite on a fresh in-memory store per case.
#[cfg(test)]
mod suite {
    use super::MemoryStore;

    crate::storage_suite!(async { (MemoryStore::default(), ()) }, |()| ());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Item, OrderItems};

    fn sku(n: u32) -> Sku {
        Sku::try_from(n).expect("positive")
    }
    fn user(n: i64) -> UserId {
        UserId::try_from(n).expect("positive")
    }
    fn items(list: &[(u32, u32)]) -> OrderItems {
        OrderItems::new(list.iter().map(|&(s, c)| Item::new(s, c).expect("valid"))).expect("valid")
    }
    fn key(k: &str) -> Option<IdempotencyKey> {
        IdempotencyKey::parse(k).expect("valid")
    }
    fn order(list: &[(u32, u32)], k: &str) -> NewOrder {
        NewOrder {
            user: user(1),
            items: items(list),
            idempotency_key: key(k),
            request_id: RequestId::parse("r").expect("valid"),
        }
    }
    fn store() -> MemoryStore {
        MemoryStore::with_stock([
            (sku(1), Stock::new(10, 2).expect("valid")),
            (sku(2), Stock::new(5, 0).expect("valid")),
        ])
    }
    async fn place(store: &MemoryStore, new: NewOrder) -> Placement {
        store.place(new).await.expect("placed")
    }
    async fn created(store: &MemoryStore, new: NewOrder) -> (OrderId, Reservation) {
        match place(store, new).await {
            Placement::Created {
                order_id,
                reservation,
            } => (order_id, reservation),
            other => panic!("expected a new order, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn order_ids_are_sequential_from_one() {
        let store = store();
        let (a, _) = created(&store, order(&[(1, 1)], "")).await;
        let (b, _) = created(&store, order(&[(1, 1)], "")).await;
        assert_eq!((a.get(), b.get()), (1, 2));
    }

    #[test]
    fn seed_has_the_course_stock() {
        let store = MemoryStore::seeded();
        assert_eq!(store.stock(sku(1076963)), Stock::new(300, 35).ok());
        assert_eq!(store.stock(sku(139819069)).map(|s| s.available()), Some(0));
        assert!(catalogue::stock()
            .iter()
            .all(|level| store.stock(sku(level.sku)).is_some()));
    }

    /// One process holds the only memory outbox: its relay always has the lease.
    #[tokio::test]
    async fn the_relay_of_the_one_process_always_has_the_lease() {
        let store = store();
        let ttl = std::time::Duration::from_secs(3);
        assert_eq!(store.lease("t", "a", ttl).await.expect("answered"), Some(1));
        assert_eq!(store.lease("t", "b", ttl).await.expect("answered"), Some(1));
        let other = MemoryStore::default();
        assert_ne!(
            store.lease_of("t"),
            other.lease_of("t"),
            "two stores in memory never fence each other"
        );
    }

    /// Past its limit the outbox refuses a change before anything changes, and takes changes again
    /// once the relay has taken events out; the backlog's gauges read the oldest without a scan.
    #[tokio::test]
    async fn a_full_outbox_refuses_changes_until_the_relay_catches_up() {
        let store = store().with_outbox_limit(Some(3));
        let (first, _) = created(&store, order(&[(1, 1)], "")).await;
        let before = store.stock(sku(1));
        let refused = store.place(order(&[(1, 1)], "")).await;
        let error = refused.expect_err("two more events do not fit");
        assert!(error.is_unavailable());
        let full = std::error::Error::source(&error).and_then(|e| e.downcast_ref::<BacklogFull>());
        assert_eq!(
            full,
            Some(&BacklogFull {
                pending: 2,
                limit: 3
            })
        );
        assert_eq!(store.stock(sku(1)), before, "nothing changed");
        let paid = store
            .transition(
                first,
                Transition::Pay,
                RequestId::parse("r").expect("valid"),
            )
            .await;
        assert_eq!(paid.ok(), Some(TransitionOutcome::Applied), "one more fits");
        assert_eq!(store.backlog().await.expect("read").pending, 3);
        let sent: Vec<i64> = store
            .pending(10, &[])
            .await
            .expect("read")
            .iter()
            .map(|e| e.position)
            .collect();
        let none = Offsets::new();
        store.mark_sent(&sent, "t", &none).await.expect("taken out");
        created(&store, order(&[(1, 1)], "")).await;
    }

    /// Without a relay no event could ever leave: none is kept, and nothing is refused.
    #[tokio::test]
    async fn without_a_relay_no_event_is_kept() {
        let store = store().with_outbox_limit(None);
        for _ in 0..5 {
            created(&store, order(&[(1, 1)], "")).await;
        }
        assert_eq!(store.backlog().await.expect("read").pending, 0);
    }
}
