//! The catalogue's use cases: check the caller's token, answer from the catalogue.
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use platform::context::AuthToken;

use crate::catalogue::{Catalogue, Product};

/// What a caller can get wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProductError {
    #[error("missing or unknown token")]
    Unauthenticated,
    #[error("sku {0} is not in the catalogue")]
    NotFound(u32),
}

impl From<ProductError> for tonic::Status {
    fn from(error: ProductError) -> Self {
        match error {
            ProductError::Unauthenticated => Self::unauthenticated(error.to_string()),
            ProductError::NotFound(_) => Self::not_found(error.to_string()),
        }
    }
}

/// The catalogue behind a token check. Its `Debug` output shows no token.
#[derive(Debug)]
pub struct ProductService {
    catalogue: Catalogue,
    tokens: HashSet<AuthToken>,
    latency: Duration,
    /// GetProduct calls that reached the catalogue (past the rate limit and the token check).
    served: AtomicU64,
}

impl ProductService {
    pub fn new(
        catalogue: Catalogue,
        tokens: impl IntoIterator<Item = AuthToken>,
        latency: Duration,
    ) -> Self {
        Self {
            catalogue,
            tokens: tokens.into_iter().collect(),
            latency,
            served: AtomicU64::new(0),
        }
    }

    /// The product of `sku`, for a caller holding a known token.
    pub async fn get_product(
        &self,
        token: Option<&str>,
        sku: u32,
    ) -> Result<Product, ProductError> {
        self.authorize(token)?;
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
    pub async fn list_skus(
        &self,
        token: Option<&str>,
        start_after: u32,
        count: usize,
    ) -> Result<Vec<u32>, ProductError> {
        self.authorize(token)?;
        self.delay().await;
        Ok(self.catalogue.skus_after(start_after, count))
    }

    fn authorize(&self, token: Option<&str>) -> Result<(), ProductError> {
        match token.and_then(AuthToken::new) {
            Some(token) if self.tokens.contains(&token) => Ok(()),
            _ => Err(ProductError::Unauthenticated),
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
        ProductService::new(catalogue, AuthToken::new("good"), Duration::ZERO)
    }

    #[test]
    fn debug_output_never_shows_a_token() {
        let service = ProductService::new(
            Catalogue::builtin(),
            AuthToken::new("hidden-token"),
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

    #[test]
    fn errors_map_to_grpc_codes() {
        assert_eq!(
            tonic::Status::from(ProductError::Unauthenticated).code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            tonic::Status::from(ProductError::NotFound(1)).code(),
            tonic::Code::NotFound
        );
    }
}
