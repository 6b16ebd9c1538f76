//! `route256.product.v1.ProductService` over [`ProductService`]: proto ↔ domain only.
use std::sync::Arc;

use route256_proto::product::product_service_server;
use route256_proto::product::{
    GetProductRequest, GetProductResponse, ListSkusRequest, ListSkusResponse,
};
use server::context::AuthToken;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use crate::service::{ProductError, ProductService};

/// The gRPC face of the catalogue. Requests arrive validated (see `route256_proto::codec`).
#[derive(Clone, Debug)]
pub(crate) struct ProductGrpc {
    service: Arc<ProductService>,
}

impl ProductGrpc {
    pub(crate) fn new(service: Arc<ProductService>) -> Self {
        Self { service }
    }
}

/// The one mapping of the catalogue's errors to gRPC codes (the contract's table).
impl From<ProductError> for Status {
    fn from(error: ProductError) -> Self {
        match error {
            ProductError::Unauthenticated | ProductError::UserTokenRefused(_) => {
                Self::unauthenticated(error.to_string())
            }
            ProductError::NotFound(_) => Self::not_found(error.to_string()),
            ProductError::RateLimited { .. } => Self::resource_exhausted(error.to_string()),
        }
    }
}

/// The request's `token` field, or when empty the token from the metadata.
fn token(field: &str, metadata: &MetadataMap) -> Option<String> {
    if !field.is_empty() {
        return Some(field.to_owned());
    }
    AuthToken::from_metadata(metadata).map(|t| t.expose().to_owned())
}

#[tonic::async_trait]
impl product_service_server::ProductService for ProductGrpc {
    async fn get_product(
        &self,
        request: Request<GetProductRequest>,
    ) -> Result<Response<GetProductResponse>, Status> {
        let token = token(&request.get_ref().token, request.metadata());
        let product = self
            .service
            .get_product(token.as_deref(), request.get_ref().sku)
            .await?;
        Ok(Response::new(GetProductResponse {
            name: product.name,
            price: product.price,
        }))
    }

    async fn list_skus(
        &self,
        request: Request<ListSkusRequest>,
    ) -> Result<Response<ListSkusResponse>, Status> {
        let token = token(&request.get_ref().token, request.metadata());
        let ListSkusRequest {
            start_after_sku,
            count,
            ..
        } = *request.get_ref();
        let skus = self
            .service
            .list_skus(token.as_deref(), start_after_sku, count as usize)
            .await?;
        Ok(Response::new(ListSkusResponse { skus }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_grpc_codes() {
        assert_eq!(
            Status::from(ProductError::Unauthenticated).code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            Status::from(ProductError::NotFound(1)).code(),
            tonic::Code::NotFound
        );
        assert_eq!(
            Status::from(ProductError::RateLimited { rps: 10 }).code(),
            tonic::Code::ResourceExhausted
        );
    }
}
