//! The catalogue's use cases: check the caller's token, take a slot of the rate limit, answer from
//! the catalogue. The token comes first, so callers without a valid one spend nobody's budget.
//!
//! A token is good when it is one of the static ones (`PRODUCT_TOKENS`: the course's direct calls) or
//! a user token that verifies (cart passes its caller's on). Any user may read the catalogue.
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use identity::Verifier;
use server::context::AuthToken;

use crate::catalogue::{Catalogue, Product};
use crate::rate_limit::RateLimiter;

/// What a caller can get wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ProductError {
    #[error("missing or unknown token")]
    Unauthenticated,
    #[error("user token refused: {0}")]
    UserTokenRefused(identity::Refusal),
    #[error("sku {0} is not in the catalogue")]
    NotFound(u32),
    #[error("rate limit of {rps} requests per second exceeded")]
    RateLimited { rps: u32 },
}

/// The catalogue behind a token check and the rate limit. Its `Debug` output shows no token.
#[derive(Debug)]
pub struct ProductService {
    catalogue: Catalogue,
    tokens: HashSet<AuthToken>,
    /// Verifies user tokens; `None` when authentication is off (benchmarks): static tokens only.
    users: Option<Verifier>,
    limiter: RateLimiter,
    latency: Duration,
    /// GetProduct calls that reached the catalogue (past the rate limit and the token check).
    served: AtomicU64,
}

impl ProductService {
    pub(crate) fn new(
        catalogue: Catalogue,
        tokens: impl IntoIterator<Item = AuthToken>,
        users: Option<Verifier>,
        limiter: RateLimiter,
        latency: Duration,
    ) -> Self {
        Self {
            catalogue,
            tokens: tokens.into_iter().collect(),
            users,
            limiter,
            latency,
            served: AtomicU64::new(0),
        }
    }

    /// The product of `sku`, for a caller holding a known token.
    pub(crate) async fn get_product(
        &self,
        token: Option<&str>,
        sku: u32,
    ) -> Result<Product, ProductError> {
        self.admit(token).await?;
        self.served.fetch_add(1, Ordering::Relaxed);
        self.delay().await;
        self.catalogue
            .get(sku)
            .cloned()
            .ok_or(ProductError::NotFound(sku))
    }

    /// How many GetProduct calls were served (admitted and authorised) since the start.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Up to `count` SKUs after `start_after`, ascending, for a caller holding a known token.
    pub(crate) async fn list_skus(
        &self,
        token: Option<&str>,
        start_after: u32,
        count: usize,
    ) -> Result<Vec<u32>, ProductError> {
        self.admit(token).await?;
        self.delay().await;
        Ok(self.catalogue.skus_after(start_after, count))
    }

    /// A caller with a static token or a user token that verifies, within the rate limit, in that
    /// order.
    async fn admit(&self, token: Option<&str>) -> Result<(), ProductError> {
        let Some(token) = token.and_then(AuthToken::new) else {
            return Err(ProductError::Unauthenticated);
        };
        if !self.tokens.contains(&token) {
            let users = self.users.as_ref().ok_or(ProductError::Unauthenticated)?;
            users
                .verify(token.expose())
                .await
                .map_err(ProductError::UserTokenRefused)?;
        }
        if self.limiter.try_acquire() {
            Ok(())
        } else {
            Err(ProductError::RateLimited {
                rps: self.limiter.rps(),
            })
        }
    }

    async fn delay(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> ProductService {
        let catalogue = Catalogue::from_json(
            r#"{"5": {"name": "five", "price": 50}, "9": {"name": "nine", "price": 90}}"#,
        )
        .expect("valid");
        ProductService::new(
            catalogue,
            AuthToken::new("good"),
            None,
            RateLimiter::new(0, 1),
            Duration::ZERO,
        )
    }

    #[test]
    fn debug_output_never_shows_a_token() {
        let service = ProductService::new(
            Catalogue::builtin(),
            AuthToken::new("hidden-token"),
            None,
            RateLimiter::new(0, 1),
            Duration::ZERO,
        );
        assert!(!format!("{service:?}").contains("hidden-token"));
    }

    #[tokio::test]
    async fn known_token_gets_the_product() {
        let product = service().get_product(Some("good"), 5).await.expect("found");
        assert_eq!((product.name.as_str(), product.price), ("five", 50));
    }

    #[tokio::test]
    async fn missing_or_wrong_token_is_unauthenticated_even_for_unknown_skus() {
        let service = service();
        assert_eq!(
            service.get_product(None, 5).await,
            Err(ProductError::Unauthenticated)
        );
        assert_eq!(
            service.get_product(Some("bad"), 404).await,
            Err(ProductError::Unauthenticated)
        );
        assert_eq!(
            service.list_skus(Some(""), 0, 10).await,
            Err(ProductError::Unauthenticated)
        );
    }

    #[tokio::test]
    async fn unknown_sku_is_not_found() {
        assert_eq!(
            service().get_product(Some("good"), 6).await,
            Err(ProductError::NotFound(6))
        );
    }

    #[tokio::test]
    async fn list_pages() {
        assert_eq!(service().list_skus(Some("good"), 5, 10).await, Ok(vec![9]));
    }

    #[tokio::test]
    async fn calls_without_a_known_token_spend_no_budget() {
        let catalogue =
            Catalogue::from_json(r#"{"5": {"name": "five", "price": 50}}"#).expect("valid");
        let service = ProductService::new(
            catalogue,
            AuthToken::new("good"),
            None,
            RateLimiter::new(1, 1),
            Duration::ZERO,
        );
        for token in [None, Some(""), Some("bad")] {
            for _ in 0..10 {
                assert_eq!(
                    service.get_product(token, 5).await,
                    Err(ProductError::Unauthenticated)
                );
            }
        }
        assert!(service.get_product(Some("good"), 5).await.is_ok());
        assert_eq!(
            service.list_skus(Some("good"), 0, 1).await,
            Err(ProductError::RateLimited { rps: 1 })
        );
    }
}
