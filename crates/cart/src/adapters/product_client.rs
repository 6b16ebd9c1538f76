//! product-service over gRPC.
use std::time::Duration;

use async_trait::async_trait;
use platform::context::RequestContext;
use route256_proto::product::product_service_client::ProductServiceClient;
use route256_proto::product::GetProductRequest;
use tonic::transport::Channel;

use super::call;
use crate::domain::{Product, Sku};
use crate::ports::{ProductCatalog, UpstreamError};

/// The catalogue, asked over gRPC with the caller's token.
#[derive(Clone, Debug)]
pub struct GrpcProductCatalog {
    client: ProductServiceClient<Channel>,
    timeout: Duration,
}

impl GrpcProductCatalog {
    /// A client whose calls take at most `timeout` each (less when the caller's deadline is sooner).
    pub fn new(channel: Channel, timeout: Duration) -> Self {
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
        let mut client = self.client.clone();
        let message = GetProductRequest {
            token,
            sku: sku.get(),
        };
        let response = call(ctx, self.timeout, message, |r| client.get_product(r)).await?;
        Ok(Product {
            name: response.name,
            price: response.price,
        })
    }
}
