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

/// The call's name in the traces.
const GET_PRODUCT: &str = "route256.product.v1.ProductService/GetProduct";

/// The most tries of one GetProduct that product-service refuses for its rate limit.
const MAX_TRIES: u32 = 3;

/// The catalogue, asked over gRPC with the caller's token.
#[derive(Clone, Debug)]
pub(crate) struct GrpcProductCatalog {
    client: ProductServiceClient<RateLimited<Channel>>,
    timeout: Duration,
}

impl GrpcProductCatalog {
    /// A client whose calls take at most `timeout` each (less when the caller's deadline is sooner).
    /// `channel` is the product channel behind the rate limit.
    pub(crate) fn new(channel: RateLimited<Channel>, timeout: Duration) -> Self {
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
            match call(ctx, GET_PRODUCT, self.timeout, message.clone(), |r| {
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use route256_proto::product::product_service_server::{ProductService, ProductServiceServer};
    use route256_proto::product::{GetProductResponse, ListSkusRequest, ListSkusResponse};
    use tonic::transport::server::TcpIncoming;
    use tonic::{Request, Response, Status};
    use tower::Layer;

    use super::*;
    use crate::adapters::rate_limit::{RateLimitLayer, Unlimited};

    /// A product-service that refuses its first `refusals` calls for its rate limit.
    struct Refusing {
        refusals: u32,
        calls: Arc<AtomicU32>,
    }

    #[tonic::async_trait]
    impl ProductService for Refusing {
        async fn get_product(
            &self,
            _: Request<GetProductRequest>,
        ) -> Result<Response<GetProductResponse>, Status> {
            if self.calls.fetch_add(1, Ordering::SeqCst) < self.refusals {
                return Err(Status::resource_exhausted("too many requests"));
            }
            let name = "book".into();
            Ok(Response::new(GetProductResponse { name, price: 100 }))
        }

        async fn list_skus(
            &self,
            _: Request<ListSkusRequest>,
        ) -> Result<Response<ListSkusResponse>, Status> {
            Err(Status::unimplemented("not here"))
        }
    }

    /// The catalogue over a product-service refusing `refusals` calls, and its count of calls.
    async fn catalogue(refusals: u32) -> (GrpcProductCatalog, Arc<AtomicU32>) {
        let calls = Arc::new(AtomicU32::new(0));
        let service = Refusing {
            refusals,
            calls: calls.clone(),
        };
        let incoming = TcpIncoming::bind(([127, 0, 0, 1], 0).into()).expect("bind");
        let addr = incoming.local_addr().expect("address");
        let server = tonic::transport::Server::builder()
            .add_service(ProductServiceServer::new(service))
            .serve_with_incoming(incoming);
        tokio::spawn(server);
        let channel = super::super::channel(&format!("http://{addr}")).expect("a channel");
        let limited = RateLimitLayer::new(Arc::new(Unlimited)).layer(channel);
        (
            GrpcProductCatalog::new(limited, Duration::from_secs(5)),
            calls,
        )
    }

    /// A caller's context with `timeout` left (`grpc-timeout` notation).
    fn with_deadline(timeout: &str) -> RequestContext {
        let mut request = Request::new(());
        let timeout = timeout.parse().expect("ascii");
        request.metadata_mut().insert("grpc-timeout", timeout);
        RequestContext::from_request(&request)
    }

    fn sku() -> Sku {
        Sku::try_from(1).expect("positive")
    }

    #[tokio::test]
    async fn a_rate_limited_call_is_tried_again_up_to_three_times_in_all() {
        let (catalogue, calls) = catalogue(2).await;
        let product = catalogue.get_product(&with_deadline("10S"), sku()).await;
        assert_eq!(product.expect("the third try").name, "book");
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let (catalogue, calls) = self::catalogue(u32::MAX).await;
        let refused = catalogue.get_product(&with_deadline("10S"), sku()).await;
        assert!(
            matches!(refused, Err(UpstreamError::RateLimited(_))),
            "{refused:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3, "three tries, no more");
    }

    #[tokio::test]
    async fn no_retry_waits_past_the_callers_deadline() {
        let (catalogue, calls) = catalogue(1).await;
        // less time left than the first pause (100 ms): the refusal is the answer (or, on a machine
        // too slow to answer within the 100 ms, the deadline)
        let refused = catalogue.get_product(&with_deadline("100m"), sku()).await;
        let answer = matches!(
            refused,
            Err(UpstreamError::RateLimited(_) | UpstreamError::DeadlineExceeded)
        );
        assert!(answer, "{refused:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "tried again");
    }
}
