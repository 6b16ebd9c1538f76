//! loms's use cases.
use std::sync::Arc;

use crate::domain::{
    Actor, IdempotencyKey, InvalidOrder, Item, Order, OrderId, OrderItems, OrderStatus, RequestId,
    Sku, Transition, UserId,
};
use crate::ports::{
    NewOrder, OrderRepo, Placement, RepoError, Reservation, StockRepo, TransitionOutcome,
};

/// Everything a loms call can end in besides success.
#[derive(Debug, thiserror::Error)]
pub enum LomsError {
    #[error(transparent)]
    InvalidOrder(#[from] InvalidOrder),
    #[error("order {0} not found")]
    OrderNotFound(OrderId),
    #[error("orders are placed for your own user only: your token names another user than {0}")]
    NotYourUser(UserId),
    #[error("sku {0} is not stocked")]
    SkuNotFound(Sku),
    #[error("insufficient stock for sku {sku}: order {order_id} is failed")]
    InsufficientStock { order_id: OrderId, sku: Sku },
    #[error("idempotency key '{key}' was used for order {order_id} with other items")]
    KeyReused {
        key: IdempotencyKey,
        order_id: OrderId,
    },
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

    /// Creates an order and reserves its items, in one step: AWAITING_PAYMENT, or FAILED — kept, and
    /// reported as insufficient stock.
    ///
    /// With an idempotency key the user already used for an order that did not fail, the answer is
    /// that order's id and nothing is created: a retried or doubled request orders once. The same key
    /// with other items is refused, since answering with an order of other goods would be a lie.
    ///
    /// `request_id` is the calling request's: the order's status events carry it.
    pub async fn create_order(
        &self,
        user: UserId,
        items: impl IntoIterator<Item = Item>,
        idempotency_key: Option<IdempotencyKey>,
        request_id: RequestId,
    ) -> Result<OrderId, LomsError> {
        let items = OrderItems::new(items)?;
        let placement = self
            .orders
            .place(NewOrder {
                user,
                items: items.clone(),
                idempotency_key: idempotency_key.clone(),
                request_id,
            })
            .await?;
        match placement {
            Placement::Created {
                order_id,
                reservation: Reservation::Reserved,
            } => {
                tracing::info!(%order_id, %user, "order reserved");
                Ok(order_id)
            }
            Placement::Created {
                order_id,
                reservation: Reservation::Failed { sku },
            } => {
                tracing::info!(%order_id, %user, %sku, "order failed: insufficient stock");
                Err(LomsError::InsufficientStock { order_id, sku })
            }
            Placement::Existing(order) if order.items == items => {
                tracing::info!(order_id = %order.id, %user, "order create repeated: same order");
                Ok(order.id)
            }
            Placement::Existing(order) => match idempotency_key {
                Some(key) => Err(LomsError::KeyReused {
                    key,
                    order_id: order.id,
                }),
                None => Err(RepoError::msg(format!(
                    "order {} returned as existing for a request without a key",
                    order.id
                ))
                .into()),
            },
        }
    }

    /// An order's status, user and items, for an actor who may read it ([`Actor::may_read`]). Another
    /// user's order is not found, exactly as one that does not exist: ids are sequential, and a
    /// different answer would tell which exist.
    pub async fn order_info(&self, order_id: OrderId, actor: Actor) -> Result<Order, LomsError> {
        self.orders
            .get(order_id)
            .await?
            .filter(|order| actor.may_read(order.user))
            .ok_or(LomsError::OrderNotFound(order_id))
    }

    /// Pays an order awaiting payment; paying a paid order again succeeds (and writes no event).
    pub(crate) async fn pay_order(
        &self,
        order_id: OrderId,
        actor: Actor,
        request_id: RequestId,
    ) -> Result<(), LomsError> {
        self.transition(order_id, actor, Transition::Pay, request_id)
            .await
    }

    /// Cancels an order awaiting payment; cancelling a cancelled order again succeeds (and writes no
    /// event).
    pub(crate) async fn cancel_order(
        &self,
        order_id: OrderId,
        actor: Actor,
        request_id: RequestId,
    ) -> Result<(), LomsError> {
        self.transition(order_id, actor, Transition::Cancel, request_id)
            .await
    }

    /// Cancels every order that has awaited payment for `age` or longer, `batch` at a time, releasing
    /// their stock; returns how many it cancelled. Safe with several replicas on one store: each batch
    /// claims orders no one else holds (see [`OrderRepo::cancel_stale`]). The cancellations' events
    /// carry one fresh `auto-cancel-…` request id per call.
    ///
    /// An order that cannot be settled is logged, counted (`loms_auto_cancel_unsettled_total`) and
    /// left for a later period, and does not hold back the others: the batches after it skip it.
    pub(crate) async fn cancel_unpaid(
        &self,
        age: std::time::Duration,
        batch: usize,
    ) -> Result<usize, LomsError> {
        let request_id = RequestId::fresh("auto-cancel");
        let mut total = 0;
        let mut skip = Vec::new();
        loop {
            let step = self
                .orders
                .cancel_stale(age, batch, &skip, request_id.clone())
                .await?;
            for order_id in &step.cancelled {
                tracing::info!(%order_id, status = %OrderStatus::Cancelled, ?age, %request_id, "order cancelled: unpaid too long");
            }
            for (order_id, why) in &step.unsettled {
                metrics::counter!("loms_auto_cancel_unsettled_total").increment(1);
                tracing::error!(%order_id, %why, %request_id, "order not cancelled: cannot settle it; left for a later period");
                skip.push(*order_id);
            }
            total += step.cancelled.len();
            if step.claimed() < batch {
                return Ok(total);
            }
        }
    }

    /// Units of `sku` free to reserve.
    pub async fn stocks_info(&self, sku: Sku) -> Result<u64, LomsError> {
        self.stocks
            .available(sku)
            .await?
            .ok_or(LomsError::SkuNotFound(sku))
    }

    /// Applies `transition` to an order the actor may change ([`Actor::may_change`]); another user's
    /// order is not found. Reading the owner before the change is safe: an order's user is written
    /// once, at its creation.
    async fn transition(
        &self,
        order_id: OrderId,
        actor: Actor,
        transition: Transition,
        request_id: RequestId,
    ) -> Result<(), LomsError> {
        if actor != Actor::Anyone {
            let order = self.orders.get(order_id).await?;
            if !order.is_some_and(|order| actor.may_change(order.user)) {
                return Err(LomsError::OrderNotFound(order_id));
            }
        }
        match self
            .orders
            .transition(order_id, transition, request_id)
            .await?
        {
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
mod tests;
