//! product-service over gRPC.
use async_trait::async_trait;
use platform::context::RequestContext;
use route256_proto::product::product_service_client::ProductServiceClient;
use route256_proto::product::GetProductRequest;
use tonic::transport::Channel;

use super::upstream_error;
use crate::domain::{Product, Sku};
use crate::ports::{ProductCatalog, UpstreamError};

/// The catalogue, asked over gRPC with the caller's token.
#[derive(Clone, Debug)]
pub struct GrpcProductCatalog {
    client: ProductServiceClient<Channel>,
}

impl GrpcProductCatalog {
    pub fn new(channel: Channel) -> Self {
        Self {
            client: ProductServiceClient::new(channel),
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
        let request = ctx.outgoing(GetProductRequest {
            token,
            sku: sku.get(),
        });
        let response = self
            .client
            .clone()
            .get_product(request)
            .await
            .map_err(upstream_error)?
            .into_inner();
        Ok(Product {
            name: response.name,
            price: response.price,
        })
    }
}
