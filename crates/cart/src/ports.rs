//! The boundaries of cart's use cases: cart storage, the catalogue (product-service) and loms.
use async_trait::async_trait;
use server::context::RequestContext;

use crate::domain::{CartItem, CartSnapshot, ItemCount, OrderId, OrderKey, Product, Sku, UserId};

/// A boxed cause, kept for the log.
pub(crate) type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Cart storage failed: the shape every store of every service shares.
pub(crate) use storage::RepoError;

/// How adding units to a cart ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    Added,
    /// The SKU's count would pass 65535: nothing changed.
    TooManyUnits,
}

/// Users' carts.
///
/// Every method is one atomic step (one statement or transaction in a database), and every change of
/// a cart gives it a new, higher [`CartVersion`](crate::domain::CartVersion) that the user's cart never
/// had before — not even after it was emptied, nor after a restart of the store.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait CartRepo: Send + Sync {
    /// Adds `count` units of `sku` to the user's cart; counts of a SKU add up.
    async fn add_item(
        &self,
        user: UserId,
        sku: Sku,
        count: ItemCount,
    ) -> Result<AddOutcome, RepoError>;

    /// Units of `sku` in the user's cart (0 when none).
    async fn count(&self, user: UserId, sku: Sku) -> Result<u32, RepoError>;

    /// The user's cart, sorted by SKU, with its version; no items when the user has none.
    async fn snapshot(&self, user: UserId) -> Result<CartSnapshot, RepoError>;

    /// Removes `sku` from the user's cart; removing what is not there is fine.
    async fn delete_item(&self, user: UserId, sku: Sku) -> Result<(), RepoError>;

    /// Empties the user's cart.
    async fn clear(&self, user: UserId) -> Result<(), RepoError>;

    /// Removes what was ordered from a snapshot of the cart: each item's count drops by the ordered
    /// count (a position that reaches zero goes), so units added or changed since the snapshot stay.
    ///
    /// Applies once per cart state: when a snapshot of this version or a later one was already removed,
    /// it removes nothing and returns `false`. Every checkout of one state gets the same order, so a
    /// second call with it must not take the goods out twice; and a later snapshot already contained
    /// whatever an earlier one had not removed yet, so its order took those goods too.
    async fn remove_ordered(
        &self,
        user: UserId,
        snapshot: &CartSnapshot,
    ) -> Result<bool, RepoError>;
}

/// A call to another service did not succeed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// The thing asked about does not exist there.
    #[error("not found")]
    NotFound,
    /// The caller's token was missing or refused.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The service refused the request as things stand (for loms: the stock is short).
    #[error("{0}")]
    Refused(String),
    /// The service's rate limit was hit.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// The service could not be reached.
    #[error("unavailable")]
    Unavailable(#[source] Cause),
    /// The call's deadline passed — the caller's, or cart's own limit on one call — before an answer.
    #[error("deadline exceeded")]
    DeadlineExceeded,
    /// The service cancelled the call.
    #[error("cancelled: {0}")]
    Cancelled(String),
    /// Anything else; a bug on one side or the other.
    #[error("failed")]
    Failed(#[source] Cause),
}

/// product-service.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub(crate) trait ProductCatalog: Send + Sync {
    /// The name and price of `sku`, asked with the caller's token.
    async fn get_product(&self, ctx: &RequestContext, sku: Sku) -> Result<Product, UpstreamError>;
}

/// loms.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub(crate) trait Loms: Send + Sync {
    /// Units of `sku` free to reserve; `NotFound` when loms does not stock it.
    async fn available_stock(&self, ctx: &RequestContext, sku: Sku) -> Result<u64, UpstreamError>;

    /// Creates an order of `items` for `user`, or returns the order already created with `key`;
    /// `Refused` when the stock cannot be reserved or the key was used for other items.
    async fn create_order(
        &self,
        ctx: &RequestContext,
        user: UserId,
        items: Vec<CartItem>,
        key: &OrderKey,
    ) -> Result<OrderId, UpstreamError>;
}
