//! The boundaries of cart's use cases: cart storage, the catalogue (product-service) and loms.
use async_trait::async_trait;
use platform::context::RequestContext;

use crate::domain::{CartItem, ItemCount, OrderId, Product, Sku, UserId};

/// A boxed cause, kept for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Cart storage failed.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The SKU's count would pass 65535.
    #[error("sku {0} would exceed 65535 units")]
    CountOverflow(Sku),
    #[error("cart storage failed")]
    Storage(#[source] Cause),
}

/// Users' carts.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait CartRepo: Send + Sync {
    /// Adds `count` units of `sku` to the user's cart, in one step; counts of a SKU add up.
    async fn add_item(&self, user: UserId, sku: Sku, count: ItemCount) -> Result<(), RepoError>;

    /// Units of `sku` in the user's cart (0 when none).
    async fn count(&self, user: UserId, sku: Sku) -> Result<u32, RepoError>;

    /// The user's cart, sorted by SKU; empty when the user has none.
    async fn items(&self, user: UserId) -> Result<Vec<CartItem>, RepoError>;

    /// Removes `sku` from the user's cart; removing what is not there is fine.
    async fn delete_item(&self, user: UserId, sku: Sku) -> Result<(), RepoError>;

    /// Empties the user's cart.
    async fn clear(&self, user: UserId) -> Result<(), RepoError>;
}

/// A call to another service did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
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
    /// The service could not be reached or did not answer in time.
    #[error("unavailable")]
    Unavailable(#[source] Cause),
    /// Anything else; a bug on one side or the other.
    #[error("failed")]
    Failed(#[source] Cause),
}

/// product-service.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ProductCatalog: Send + Sync {
    /// The name and price of `sku`, asked with the caller's token.
    async fn get_product(&self, ctx: &RequestContext, sku: Sku) -> Result<Product, UpstreamError>;
}

/// loms.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait Loms: Send + Sync {
    /// Units of `sku` free to reserve; `NotFound` when loms does not stock it.
    async fn available_stock(&self, ctx: &RequestContext, sku: Sku) -> Result<u64, UpstreamError>;

    /// Creates an order of `items` for `user`; `Refused` when the stock cannot be reserved.
    async fn create_order(
        &self,
        ctx: &RequestContext,
        user: UserId,
        items: Vec<CartItem>,
    ) -> Result<OrderId, UpstreamError>;
}
