//! cart's use cases.
use std::sync::Arc;

use server::context::RequestContext;

use crate::domain::{CartLine, CartView, ItemCount, OrderId, OrderKey, Sku, UserId};
use crate::pool::{PoolError, WorkerPool};
use crate::ports::{AddOutcome, CartRepo, Loms, ProductCatalog, RepoError, UpstreamError};

/// The other services cart calls, for messages and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Upstream {
    ProductService,
    Loms,
}

impl std::fmt::Display for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ProductService => "product-service",
            Self::Loms => "loms",
        })
    }
}

/// Everything a cart call can end in besides success.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CartError {
    #[error(transparent)]
    InvalidRequest(#[from] crate::domain::InvalidRequest),
    #[error("cart of user {0} is empty")]
    EmptyCart(UserId),
    #[error("the cart of user {0} is not yours: your token names another user")]
    NotYourCart(UserId),
    #[error("sku {0} is not in the catalogue")]
    UnknownProduct(Sku),
    #[error("insufficient stock for sku {sku}: {requested} wanted in cart, {available} available")]
    InsufficientStock {
        sku: Sku,
        requested: u64,
        available: u64,
    },
    #[error("sku {0} would exceed {MAX_UNITS} units in one cart")]
    TooManyUnits(Sku),
    #[error("the cart's total price does not fit 32 bits")]
    TotalOverflow,
    #[error("order refused by loms: {0}")]
    OrderRefused(String),
    #[error("{0} rejected the token: {1}")]
    Unauthenticated(Upstream, String),
    #[error("{0} is rate limited: {1}")]
    RateLimited(Upstream, String),
    #[error("{0} is unavailable")]
    Unavailable(Upstream, #[source] UpstreamError),
    #[error("{0} did not answer before the deadline")]
    DeadlineExceeded(Upstream),
    #[error("{0} cancelled the call: {1}")]
    Cancelled(Upstream, String),
    #[error("{0} call failed")]
    Upstream(Upstream, #[source] UpstreamError),
    #[error("cart storage failed")]
    Storage(#[from] RepoError),
    #[error("a pricing job panicked: {0}")]
    Panicked(String),
}

impl CartError {
    /// The mapping every upstream answer shares; `NotFound` and `Refused` mean different things per
    /// call and are handled where they happen.
    fn upstream(service: Upstream, error: UpstreamError) -> Self {
        match error {
            UpstreamError::Unauthenticated(m) => Self::Unauthenticated(service, m),
            UpstreamError::RateLimited(m) => Self::RateLimited(service, m),
            e @ UpstreamError::Unavailable(_) => Self::Unavailable(service, e),
            UpstreamError::DeadlineExceeded => Self::DeadlineExceeded(service),
            UpstreamError::Cancelled(m) => Self::Cancelled(service, m),
            e => Self::Upstream(service, e),
        }
    }
}

/// The use cases, over the ports.
#[derive(Clone)]
pub(crate) struct Cart {
    carts: Arc<dyn CartRepo>,
    products: Arc<dyn ProductCatalog>,
    loms: Arc<dyn Loms>,
    /// Prices a listed cart's items concurrently.
    pricing: WorkerPool,
}

/// The most units of one SKU a cart holds: what one loms order position may take (its `count` rule).
const MAX_UNITS: u64 = route256_proto::loms::limits::item::COUNT_LTE as u64;

impl Cart {
    pub(crate) fn new(
        carts: Arc<dyn CartRepo>,
        products: Arc<dyn ProductCatalog>,
        loms: Arc<dyn Loms>,
        pricing: WorkerPool,
    ) -> Self {
        Self {
            carts,
            products,
            loms,
            pricing,
        }
    }

    /// Adds units of a SKU that the catalogue lists and loms has enough of.
    ///
    /// The stock check is advisory: nothing is reserved until checkout, where loms decides for good.
    pub(crate) async fn add_item(
        &self,
        ctx: &RequestContext,
        user: UserId,
        sku: Sku,
        count: ItemCount,
    ) -> Result<(), CartError> {
        match self.products.get_product(ctx, sku).await {
            Ok(_) => {}
            Err(UpstreamError::NotFound) => return Err(CartError::UnknownProduct(sku)),
            Err(e) => return Err(CartError::upstream(Upstream::ProductService, e)),
        }
        let available = match self.loms.available_stock(ctx, sku).await {
            Ok(available) => available,
            // loms does not stock it at all: nothing is available.
            Err(UpstreamError::NotFound) => 0,
            Err(e) => return Err(CartError::upstream(Upstream::Loms, e)),
        };
        let requested = u64::from(self.carts.count(user, sku).await?) + u64::from(count.get());
        if requested > available {
            return Err(CartError::InsufficientStock {
                sku,
                requested,
                available,
            });
        }
        if requested > MAX_UNITS {
            return Err(CartError::TooManyUnits(sku));
        }
        match self.carts.add_item(user, sku, count).await? {
            AddOutcome::Added => Ok(()),
            AddOutcome::TooManyUnits => Err(CartError::TooManyUnits(sku)),
        }
    }

    /// Removes a SKU from the cart.
    pub(crate) async fn delete_item(&self, user: UserId, sku: Sku) -> Result<(), CartError> {
        Ok(self.carts.delete_item(user, sku).await?)
    }

    /// Empties the cart.
    pub(crate) async fn clear(&self, user: UserId) -> Result<(), CartError> {
        Ok(self.carts.clear(user).await?)
    }

    /// The cart with live names and prices, sorted by SKU, and its total.
    ///
    /// Each item is priced by its own product-service call, on the worker pool: as many at once as it
    /// has workers (the rate limiter on the channel spaces them out). The first failure cancels the
    /// calls still running and is the answer.
    pub(crate) async fn list(
        &self,
        ctx: &RequestContext,
        user: UserId,
    ) -> Result<CartView, CartError> {
        let items = self.carts.snapshot(user).await?.items;
        if items.is_empty() {
            return Err(CartError::EmptyCart(user));
        }
        let (products, ctx) = (self.products.clone(), ctx.clone());
        let lines = self
            .pricing
            .map(items, move |item| {
                let (products, ctx) = (products.clone(), ctx.clone());
                async move {
                    match products.get_product(&ctx, item.sku).await {
                        Ok(product) => Ok(CartLine { item, product }),
                        Err(UpstreamError::NotFound) => Err(CartError::UnknownProduct(item.sku)),
                        Err(e) => Err(CartError::upstream(Upstream::ProductService, e)),
                    }
                }
            })
            .await
            .map_err(|error| match error {
                PoolError::Job(error) => error,
                PoolError::Panicked(message) => CartError::Panicked(message),
            })?;
        CartView::new(lines).ok_or(CartError::TotalOverflow)
    }

    /// Orders the cart's content in loms, then removes what was ordered from the cart.
    ///
    /// Once per cart state, across calls and replicas, with no lock: the order's idempotency key is
    /// derived from the user and the snapshot's version, so loms answers every checkout of one state
    /// with the same order; and the ordered quantities are removed once per state (see
    /// [`CartRepo::remove_ordered`]). Units added while loms works stay in the cart.
    pub(crate) async fn checkout(
        &self,
        ctx: &RequestContext,
        user: UserId,
    ) -> Result<OrderId, CartError> {
        let snapshot = self.carts.snapshot(user).await?;
        if snapshot.items.is_empty() {
            return Err(CartError::EmptyCart(user));
        }
        let key = OrderKey::for_checkout(user, snapshot.version);
        let order_id = match self
            .loms
            .create_order(ctx, user, snapshot.items.clone(), &key)
            .await
        {
            Ok(id) => id,
            // The cart stays as it was: the user can change it and try again.
            Err(UpstreamError::Refused(reason)) => return Err(CartError::OrderRefused(reason)),
            Err(e) => return Err(CartError::upstream(Upstream::Loms, e)),
        };
        // The order exists: report it even if the cart cannot be changed. The goods stay in the cart,
        // and checking it out again is safe: the same version gets the same order, then the removal.
        match self.carts.remove_ordered(user, &snapshot).await {
            Ok(true) => {
                tracing::info!(%user, %order_id, version = %snapshot.version, "cart checked out")
            }
            Ok(false) => tracing::info!(
                %user, %order_id, version = %snapshot.version,
                "cart state already checked out by another call: same order"
            ),
            Err(error) => {
                let error = telemetry::error_chain(&error);
                tracing::error!(%user, %order_id, %error, "ordered items not removed from the cart");
            }
        }
        Ok(order_id)
    }
}

#[cfg(test)]
mod tests;
