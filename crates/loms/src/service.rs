//! loms's use cases.
use std::sync::Arc;

use crate::domain::{
    InvalidOrder, Item, Order, OrderId, OrderItems, OrderStatus, Sku, Transition, UserId,
};
use crate::ports::{OrderRepo, RepoError, Reservation, StockRepo, TransitionOutcome};

/// Everything a loms call can end in besides success.
#[derive(Debug, thiserror::Error)]
pub enum LomsError {
    #[error(transparent)]
    InvalidOrder(#[from] InvalidOrder),
    #[error("order {0} not found")]
    OrderNotFound(OrderId),
    #[error("sku {0} is not stocked")]
    SkuNotFound(Sku),
    #[error("insufficient stock for sku {sku}: order {order_id} is failed")]
    InsufficientStock { order_id: OrderId, sku: Sku },
    #[error("order {order_id} is {current}: cannot {}", transition.verb())]
    WrongStatus {
        order_id: OrderId,
        current: OrderStatus,
        transition: Transition,
    },
    #[error(transparent)]
    Storage(#[from] RepoError),
}

impl From<crate::domain::NotPositive> for LomsError {
    fn from(error: crate::domain::NotPositive) -> Self {
        Self::InvalidOrder(error.into())
    }
}

/// The use cases, over the storage ports.
#[derive(Clone)]
pub struct Loms {
    orders: Arc<dyn OrderRepo>,
    stocks: Arc<dyn StockRepo>,
}

impl Loms {
    pub fn new(orders: Arc<dyn OrderRepo>, stocks: Arc<dyn StockRepo>) -> Self {
        Self { orders, stocks }
    }

    /// Creates an order (NEW) and reserves its items: AWAITING_PAYMENT, or FAILED — kept, and reported as
    /// insufficient stock.
    ///
    /// Creating and reserving are two atomic steps, because each status is a change of its own. Should
    /// the store fail between them, the order stays NEW, holds no stock, and the caller gets an error.
    pub async fn create_order(
        &self,
        user: UserId,
        items: impl IntoIterator<Item = Item>,
    ) -> Result<OrderId, LomsError> {
        let items = OrderItems::new(items)?;
        let order_id = self.orders.create(user, items).await?;
        match self.orders.reserve(order_id).await? {
            Reservation::Reserved => {
                tracing::info!(%order_id, %user, "order reserved");
                Ok(order_id)
            }
            Reservation::Failed { sku } => {
                tracing::info!(%order_id, %user, %sku, "order failed: insufficient stock");
                Err(LomsError::InsufficientStock { order_id, sku })
            }
        }
    }

    /// An order's status, user and items.
    pub async fn order_info(&self, order_id: OrderId) -> Result<Order, LomsError> {
        self.orders
            .get(order_id)
            .await?
            .ok_or(LomsError::OrderNotFound(order_id))
    }

    /// Pays an order awaiting payment; paying a paid order again succeeds.
    pub async fn pay_order(&self, order_id: OrderId) -> Result<(), LomsError> {
        self.transition(order_id, Transition::Pay).await
    }

    /// Cancels an order awaiting payment; cancelling a cancelled order again succeeds.
    pub async fn cancel_order(&self, order_id: OrderId) -> Result<(), LomsError> {
        self.transition(order_id, Transition::Cancel).await
    }

    /// Units of `sku` free to reserve.
    pub async fn stocks_info(&self, sku: Sku) -> Result<u64, LomsError> {
        self.stocks
            .available(sku)
            .await?
            .ok_or(LomsError::SkuNotFound(sku))
    }

    async fn transition(&self, order_id: OrderId, transition: Transition) -> Result<(), LomsError> {
        match self.orders.transition(order_id, transition).await? {
            TransitionOutcome::Applied => {
                tracing::info!(%order_id, status = %transition.end_status(), "order status changed");
                Ok(())
            }
            // Idempotent: the caller's retry of a transition that already happened succeeds.
            TransitionOutcome::Refused { current } if current == transition.end_status() => Ok(()),
            TransitionOutcome::Refused { current } => Err(LomsError::WrongStatus {
                order_id,
                current,
                transition,
            }),
            TransitionOutcome::NotFound => Err(LomsError::OrderNotFound(order_id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{MockOrderRepo, MockStockRepo};
    use mockall::predicate::eq;

    fn id(n: i64) -> OrderId {
        OrderId::try_from(n).expect("positive")
    }
    fn user() -> UserId {
        UserId::try_from(7).expect("positive")
    }
    fn sku(n: u32) -> Sku {
        Sku::try_from(n).expect("positive")
    }
    fn item(s: u32, count: u32) -> Item {
        Item::new(s, count).expect("valid")
    }

    fn loms(orders: MockOrderRepo, stocks: MockStockRepo) -> Loms {
        Loms::new(Arc::new(orders), Arc::new(stocks))
    }

    fn with_orders(orders: MockOrderRepo) -> Loms {
        loms(orders, MockStockRepo::new())
    }

    #[tokio::test]
    async fn create_order_stores_merged_items_and_reserves() {
        let mut orders = MockOrderRepo::new();
        let expected = OrderItems::new([item(1, 3), item(2, 1)]).expect("valid");
        orders
            .expect_create()
            .with(eq(user()), eq(expected))
            .times(1)
            .returning(|_, _| Ok(id(10)));
        orders
            .expect_reserve()
            .with(eq(id(10)))
            .times(1)
            .returning(|_| Ok(Reservation::Reserved));
        let created = with_orders(orders)
            .create_order(user(), [item(2, 1), item(1, 1), item(1, 2)])
            .await;
        assert_eq!(created.ok(), Some(id(10)));
    }

    #[tokio::test]
    async fn create_order_reports_failed_reservation_as_insufficient_stock() {
        let mut orders = MockOrderRepo::new();
        orders.expect_create().returning(|_, _| Ok(id(11)));
        orders
            .expect_reserve()
            .returning(|_| Ok(Reservation::Failed { sku: sku(5) }));
        let error = with_orders(orders)
            .create_order(user(), [item(5, 1)])
            .await
            .expect_err("short");
        assert!(matches!(
            error,
            LomsError::InsufficientStock { order_id, sku: s } if order_id == id(11) && s == sku(5)
        ));
    }

    #[tokio::test]
    async fn create_order_without_items_stores_nothing() {
        let error = with_orders(MockOrderRepo::new())
            .create_order(user(), [])
            .await
            .expect_err("empty");
        assert!(matches!(
            error,
            LomsError::InvalidOrder(InvalidOrder::NoItems)
        ));
    }

    #[tokio::test]
    async fn create_order_passes_storage_failures_on() {
        let mut orders = MockOrderRepo::new();
        orders
            .expect_create()
            .returning(|_, _| Err(RepoError::msg("down")));
        let error = with_orders(orders)
            .create_order(user(), [item(1, 1)])
            .await
            .expect_err("storage down");
        assert!(matches!(error, LomsError::Storage(_)));
    }

    #[tokio::test]
    async fn order_info_reads_the_order_or_not_found() {
        let order = Order {
            id: id(3),
            user: user(),
            status: OrderStatus::Payed,
            items: OrderItems::new([item(1, 1)]).expect("valid"),
        };
        let stored = order.clone();
        let mut orders = MockOrderRepo::new();
        orders
            .expect_get()
            .with(eq(id(3)))
            .returning(move |_| Ok(Some(stored.clone())));
        orders.expect_get().with(eq(id(4))).returning(|_| Ok(None));
        let loms = with_orders(orders);
        assert_eq!(loms.order_info(id(3)).await.ok(), Some(order));
        assert!(matches!(
            loms.order_info(id(4)).await,
            Err(LomsError::OrderNotFound(n)) if n == id(4)
        ));
    }

    async fn transition_with(
        transition: Transition,
        outcome: TransitionOutcome,
    ) -> Result<(), LomsError> {
        let mut orders = MockOrderRepo::new();
        orders
            .expect_transition()
            .with(eq(id(1)), eq(transition))
            .times(1)
            .returning(move |_, _| Ok(outcome));
        let loms = with_orders(orders);
        match transition {
            Transition::Pay => loms.pay_order(id(1)).await,
            Transition::Cancel => loms.cancel_order(id(1)).await,
        }
    }

    #[tokio::test]
    async fn pay_and_cancel_apply_from_awaiting_payment() {
        for transition in [Transition::Pay, Transition::Cancel] {
            assert!(transition_with(transition, TransitionOutcome::Applied)
                .await
                .is_ok());
        }
    }

    #[tokio::test]
    async fn pay_and_cancel_are_idempotent() {
        let repeat = |t: Transition| TransitionOutcome::Refused {
            current: t.end_status(),
        };
        assert!(transition_with(Transition::Pay, repeat(Transition::Pay))
            .await
            .is_ok());
        assert!(
            transition_with(Transition::Cancel, repeat(Transition::Cancel))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn other_transitions_are_refused_with_the_current_status() {
        use OrderStatus::*;
        let cases = [
            (Transition::Pay, Cancelled),
            (Transition::Pay, Failed),
            (Transition::Pay, New),
            (Transition::Cancel, Payed),
            (Transition::Cancel, Failed),
            (Transition::Cancel, New),
        ];
        for (transition, current) in cases {
            let result = transition_with(transition, TransitionOutcome::Refused { current }).await;
            assert!(
                matches!(result, Err(LomsError::WrongStatus { current: c, .. }) if c == current),
                "{transition:?} from {current:?}"
            );
        }
    }

    #[tokio::test]
    async fn pay_and_cancel_of_unknown_orders_are_not_found() {
        for transition in [Transition::Pay, Transition::Cancel] {
            let result = transition_with(transition, TransitionOutcome::NotFound).await;
            assert!(matches!(result, Err(LomsError::OrderNotFound(_))));
        }
    }

    #[tokio::test]
    async fn stocks_info_reads_available_or_not_found() {
        let mut stocks = MockStockRepo::new();
        stocks
            .expect_available()
            .with(eq(sku(1)))
            .returning(|_| Ok(Some(265)));
        stocks
            .expect_available()
            .with(eq(sku(2)))
            .returning(|_| Ok(None));
        stocks
            .expect_available()
            .with(eq(sku(3)))
            .returning(|_| Err(RepoError::msg("down")));
        let loms = loms(MockOrderRepo::new(), stocks);
        assert_eq!(loms.stocks_info(sku(1)).await.ok(), Some(265));
        assert!(matches!(
            loms.stocks_info(sku(2)).await,
            Err(LomsError::SkuNotFound(_))
        ));
        assert!(matches!(
            loms.stocks_info(sku(3)).await,
            Err(LomsError::Storage(_))
        ));
    }
}
