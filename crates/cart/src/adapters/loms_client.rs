//! loms over gRPC.
use std::time::Duration;

use async_trait::async_trait;
use route256_proto::loms::loms_service_client::LomsServiceClient;
use route256_proto::loms::{Item, OrderCreateRequest, StocksInfoRequest};
use server::context::RequestContext;
use tonic::transport::Channel;

use super::call;
use crate::domain::{CartItem, OrderId, OrderKey, Sku, UserId};
use crate::ports::{Loms, UpstreamError};

/// The calls' names in the traces.
const STOCKS_INFO: &str = "route256.loms.v1.LomsService/StocksInfo";
const ORDER_CREATE: &str = "route256.loms.v1.LomsService/OrderCreate";

/// loms, asked over gRPC.
#[derive(Clone, Debug)]
pub(crate) struct GrpcLoms {
    client: LomsServiceClient<Channel>,
    timeout: Duration,
}

impl GrpcLoms {
    /// A client whose calls take at most `timeout` each (less when the caller's deadline is sooner).
    pub(crate) fn new(channel: Channel, timeout: Duration) -> Self {
        Self {
            client: LomsServiceClient::new(channel),
            timeout,
        }
    }
}

#[async_trait]
impl Loms for GrpcLoms {
    async fn available_stock(&self, ctx: &RequestContext, sku: Sku) -> Result<u64, UpstreamError> {
        let mut client = self.client.clone();
        let message = StocksInfoRequest { sku: sku.get() };
        let response = call(ctx, STOCKS_INFO, self.timeout, message, |r| {
            client.stocks_info(r)
        })
        .await?;
        Ok(response.count)
    }

    async fn create_order(
        &self,
        ctx: &RequestContext,
        user: UserId,
        items: Vec<CartItem>,
        key: &OrderKey,
    ) -> Result<OrderId, UpstreamError> {
        let mut client = self.client.clone();
        let message = OrderCreateRequest {
            user: user.get(),
            items: items
                .into_iter()
                .map(|item| Item {
                    sku: item.sku.get(),
                    count: u32::from(item.count.get()),
                })
                .collect(),
            idempotency_key: key.as_str().to_owned(),
        };
        let response = call(ctx, ORDER_CREATE, self.timeout, message, |r| {
            client.order_create(r)
        })
        .await?;
        OrderId::try_from(response.order_id).map_err(|e| UpstreamError::Failed(Box::new(e)))
    }
}
