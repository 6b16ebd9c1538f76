//! loms over gRPC.
use async_trait::async_trait;
use platform::context::RequestContext;
use route256_proto::loms::loms_service_client::LomsServiceClient;
use route256_proto::loms::{Item, OrderCreateRequest, StocksInfoRequest};
use tonic::transport::Channel;

use super::upstream_error;
use crate::domain::{CartItem, OrderId, Sku, UserId};
use crate::ports::{Loms, UpstreamError};

/// loms, asked over gRPC.
#[derive(Clone, Debug)]
pub struct GrpcLoms {
    client: LomsServiceClient<Channel>,
}

impl GrpcLoms {
    pub fn new(channel: Channel) -> Self {
        Self {
            client: LomsServiceClient::new(channel),
        }
    }
}

#[async_trait]
impl Loms for GrpcLoms {
    async fn available_stock(&self, ctx: &RequestContext, sku: Sku) -> Result<u64, UpstreamError> {
        let request = ctx.outgoing(StocksInfoRequest { sku: sku.get() });
        let response = self
            .client
            .clone()
            .stocks_info(request)
            .await
            .map_err(upstream_error)?;
        Ok(response.into_inner().count)
    }

    async fn create_order(
        &self,
        ctx: &RequestContext,
        user: UserId,
        items: Vec<CartItem>,
    ) -> Result<OrderId, UpstreamError> {
        let request = ctx.outgoing(OrderCreateRequest {
            user: user.get(),
            items: items
                .into_iter()
                .map(|item| Item {
                    sku: item.sku.get(),
                    count: u32::from(item.count.get()),
                })
                .collect(),
        });
        let response = self
            .client
            .clone()
            .order_create(request)
            .await
            .map_err(upstream_error)?;
        OrderId::try_from(response.into_inner().order_id)
            .map_err(|e| UpstreamError::Failed(Box::new(e)))
    }
}
