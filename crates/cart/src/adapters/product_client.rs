//! product-service over gRPC.
use std::time::Duration;

use async_trait::async_trait;
use route256_proto::product::product_service_client::ProductServiceClient;
use route256_proto::product::GetProductRequest;
use server::context::RequestContext;
use tonic::transport::Channel;

use super::rate_limit::RateLimited;

use super::call;
use crate::domain::{Product, Sku};
use crate::ports::{ProductCatalog, UpstreamError};

/// The most tries of one GetProduct that product-service refuses for its rate limit.
const MAX_TRIES: u32 = 3;

/// The catalogue, asked over gRPC with the caller's token.
#[derive(Clone, Debug)]
pub struct GrpcProductCatalog {
    client: ProductServiceClient<RateLimited<Channel>>,
    timeout: Duration,
}

impl GrpcProductCatalog {
    /// A client whose calls take at most `timeout` each (less when the caller's deadline is sooner).
    /// `channel` is the product channel behind the rate limit.
    pub fn new(channel: RateLimited<Channel>, timeout: Duration) -> Self {
        Self {
            client: ProductServiceClient::new(channel),
            timeout,
        }
    }
}

#[async_trait]
impl ProductCatalog for GrpcProductCatalog {
    async fn get_product(&self, ctx: &RequestContext, sku: Sku) -> Result<Product, UpstreamError> {
        // The token travels in the request field, as the contract asks, and in the metadata; an absent
        // token is sent as absent, and product-service answers UNAUTHENTICATED.
        let token = ctx
            .token()
            .map(|t| t.expose().to_owned())
            .unwrap_or_default();
        let message = GetProductRequest {
            token,
            sku: sku.get(),
        };
        // product-service refusing for its own rate limit is retried, a little later each time, at most
        // three tries in all and never past the call's deadline (`call` bounds each try by what is left).
        let mut backoff = Duration::from_millis(100);
        let mut tries = 1;
        let response = loop {
            let mut client = self.client.clone();
            match call(ctx, self.timeout, message.clone(), |r| {
                client.get_product(r)
            })
            .await
            {
                Err(UpstreamError::RateLimited(reason)) if tries < MAX_TRIES => {
                    if ctx.remaining().is_some_and(|left| left <= backoff) {
                        return Err(UpstreamError::RateLimited(reason));
                    }
                    tracing::debug!(%sku, tries, "product-service rate limited: retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    tries += 1;
                }
                result => break result?,
            }
        };
        Ok(Product {
            name: response.name,
            price: response.price,
        })
    }
}
