//! In-memory storage: the zero-dependency default. Nothing survives a restart.
//!
//! Orders and stock live behind one mutex, so every port method is atomic the way a database transaction
//! would be: a reservation checks and reserves every item under the same lock, and no reader sees half
//! of it. The lock is a std mutex held only for map operations, never across an `.await`.
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::domain::{Order, OrderId, OrderItems, OrderStatus, Sku, Stock, Transition, UserId};
use crate::ports::{OrderRepo, RepoError, Reservation, StockRepo, TransitionOutcome};
use crate::seed::SEED_STOCK;

#[derive(Debug, Default)]
struct State {
    last_order_id: i64,
    orders: HashMap<OrderId, Order>,
    stocks: HashMap<Sku, Stock>,
}

/// Orders and stock in process memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// A store with the given stock and no orders.
    pub fn with_stock(stock: impl IntoIterator<Item = (Sku, Stock)>) -> Self {
        Self {
            state: Mutex::new(State {
                stocks: stock.into_iter().collect(),
                ..State::default()
            }),
        }
    }

    /// A store with the course's seed stock.
    pub fn seeded() -> Self {
        Self::with_stock(SEED_STOCK.iter().filter_map(|&(sku, total, reserved)| {
            Some((Sku::try_from(sku).ok()?, Stock::new(total, reserved).ok()?))
        }))
    }

    /// The full stock record of `sku`, for tests and diagnostics.
    pub fn stock(&self, sku: Sku) -> Option<Stock> {
        self.lock().stocks.get(&sku).copied()
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
    async fn create(&self, user: UserId, items: OrderItems) -> Result<OrderId, RepoError> {
        let mut state = self.lock();
        let id = OrderId::try_from(state.last_order_id + 1)
            .map_err(|e| RepoError::new("order id sequence", e))?;
        state.last_order_id = id.get();
        state.orders.insert(
            id,
            Order {
                id,
                user,
                status: OrderStatus::New,
                items,
            },
        );
        Ok(id)
    }

    async fn get(&self, id: OrderId) -> Result<Option<Order>, RepoError> {
        Ok(self.lock().orders.get(&id).cloned())
    }

    async fn reserve(&self, id: OrderId) -> Result<Reservation, RepoError> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let order = state
            .orders
            .get_mut(&id)
            .ok_or_else(|| RepoError::msg(format!("reserve: order {id} not found")))?;
        if order.status != OrderStatus::New {
            return Err(RepoError::msg(format!(
                "reserve: order {id} is {}, not new",
                order.status
            )));
        }
        // Check every item first, then reserve: all or nothing.
        let short = order.items.iter().find(|item| {
            state
                .stocks
                .get(&item.sku)
                .is_none_or(|stock| stock.available() < item.units())
        });
        if let Some(item) = short {
            order.status = OrderStatus::Failed;
            return Ok(Reservation::Failed { sku: item.sku });
        }
        for item in order.items.iter() {
            if let Some(stock) = state.stocks.get_mut(&item.sku) {
                stock
                    .reserve(item.units())
                    .map_err(|e| RepoError::new("reserve checked stock", e))?;
            }
        }
        order.status = OrderStatus::AwaitingPayment;
        Ok(Reservation::Reserved)
    }

    async fn transition(
        &self,
        id: OrderId,
        transition: Transition,
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
        // Work on copies and write back only when every item succeeded, so a broken invariant cannot
        // leave the stock half-changed.
        let mut changed = Vec::new();
        for item in order.items.iter() {
            let mut stock = state.stocks.get(&item.sku).copied().ok_or_else(|| {
                RepoError::msg(format!(
                    "order {id} holds sku {} that has no stock",
                    item.sku
                ))
            })?;
            stock
                .apply(transition.stock_effect(), item.units())
                .map_err(|e| RepoError::new(format!("order {id}: {}", transition.verb()), e))?;
            changed.push((item.sku, stock));
        }
        state.stocks.extend(changed);
        order.status = transition.end_status();
        Ok(TransitionOutcome::Applied)
    }
}

#[async_trait]
impl StockRepo for MemoryStore {
    async fn available(&self, sku: Sku) -> Result<Option<u64>, RepoError> {
        Ok(self.lock().stocks.get(&sku).map(Stock::available))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Item;

    fn sku(n: u32) -> Sku {
        Sku::try_from(n).expect("positive")
    }
    fn user() -> UserId {
        UserId::try_from(1).expect("positive")
    }
    fn items(list: &[(u32, u32)]) -> OrderItems {
        OrderItems::new(list.iter().map(|&(s, c)| Item::new(s, c).expect("valid"))).expect("valid")
    }
    fn store() -> MemoryStore {
        MemoryStore::with_stock([
            (sku(1), Stock::new(10, 2).expect("valid")),
            (sku(2), Stock::new(5, 0).expect("valid")),
        ])
    }

    #[tokio::test]
    async fn reservation_is_all_or_nothing() {
        let store = store();
        let id = store
            .create(user(), items(&[(1, 8), (2, 6)]))
            .await
            .expect("created");
        assert_eq!(
            store.reserve(id).await.ok(),
            Some(Reservation::Failed { sku: sku(2) })
        );
        assert_eq!(
            store.stock(sku(1)).map(|s| s.reserved()),
            Some(2),
            "nothing reserved"
        );
        let order = store.get(id).await.ok().flatten().expect("kept");
        assert_eq!(order.status, OrderStatus::Failed);

        let id = store
            .create(user(), items(&[(1, 8), (2, 5)]))
            .await
            .expect("created");
        assert_eq!(store.reserve(id).await.ok(), Some(Reservation::Reserved));
        assert_eq!(store.available(sku(1)).await.ok(), Some(Some(0)));
        assert_eq!(store.available(sku(2)).await.ok(), Some(Some(0)));
    }

    #[tokio::test]
    async fn unknown_sku_fails_the_order() {
        let store = store();
        let id = store
            .create(user(), items(&[(1, 1), (99, 1)]))
            .await
            .expect("created");
        assert_eq!(
            store.reserve(id).await.ok(),
            Some(Reservation::Failed { sku: sku(99) })
        );
        assert_eq!(store.available(sku(99)).await.ok(), Some(None));
    }

    #[tokio::test]
    async fn pay_writes_off_and_cancel_releases() {
        let store = store();
        let paid = store
            .create(user(), items(&[(1, 3)]))
            .await
            .expect("created");
        let cancelled = store
            .create(user(), items(&[(1, 4)]))
            .await
            .expect("created");
        for id in [paid, cancelled] {
            assert_eq!(store.reserve(id).await.ok(), Some(Reservation::Reserved));
        }
        assert_eq!(
            store.transition(paid, Transition::Pay).await.ok(),
            Some(TransitionOutcome::Applied)
        );
        assert_eq!(store.stock(sku(1)), Stock::new(7, 6).ok());
        assert_eq!(
            store.transition(cancelled, Transition::Cancel).await.ok(),
            Some(TransitionOutcome::Applied)
        );
        assert_eq!(store.stock(sku(1)), Stock::new(7, 2).ok());
        assert_eq!(
            store.transition(paid, Transition::Cancel).await.ok(),
            Some(TransitionOutcome::Refused {
                current: OrderStatus::Payed
            })
        );
        assert_eq!(
            store.stock(sku(1)),
            Stock::new(7, 2).ok(),
            "a refused transition moves nothing"
        );
    }

    #[tokio::test]
    async fn transition_of_unknown_order_is_not_found() {
        let id = OrderId::try_from(404).expect("positive");
        assert_eq!(
            store().transition(id, Transition::Pay).await.ok(),
            Some(TransitionOutcome::NotFound)
        );
    }

    #[tokio::test]
    async fn order_ids_are_sequential_from_one() {
        let store = store();
        let a = store
            .create(user(), items(&[(1, 1)]))
            .await
            .expect("created");
        let b = store
            .create(user(), items(&[(1, 1)]))
            .await
            .expect("created");
        assert_eq!((a.get(), b.get()), (1, 2));
    }

    #[test]
    fn seed_has_the_course_stock() {
        let store = MemoryStore::seeded();
        assert_eq!(store.stock(sku(1076963)), Stock::new(300, 35).ok());
        assert_eq!(store.stock(sku(139819069)).map(|s| s.available()), Some(0));
        assert_eq!(SEED_STOCK.len(), 15);
        assert!(SEED_STOCK
            .iter()
            .all(|&(s, _, _)| store.stock(sku(s)).is_some()));
    }
}
