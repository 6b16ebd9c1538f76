//! `route256.loms.v1.LomsService` over the use cases: proto ↔ domain, and the one mapping of
//! [`LomsError`] to a gRPC status. Requests arrive validated (see `route256_proto::codec`); parsing into
//! domain types still refuses what the rules cannot express (an order position over 65535 units).
use route256_proto::loms as pb;
use route256_proto::loms::loms_service_server::LomsService;
use tonic::{Request, Response, Status};

use crate::domain::{IdempotencyKey, Item, Order, OrderId, OrderStatus, RequestId, Sku, UserId};
use crate::service::{Loms, LomsError};

impl From<LomsError> for Status {
    fn from(error: LomsError) -> Self {
        match &error {
            LomsError::InvalidOrder(_) => Status::invalid_argument(error.to_string()),
            LomsError::OrderNotFound(_) | LomsError::SkuNotFound(_) => {
                Status::not_found(error.to_string())
            }
            LomsError::InsufficientStock { .. }
            | LomsError::KeyReused { .. }
            | LomsError::WrongStatus { .. } => Status::failed_precondition(error.to_string()),
            LomsError::Storage(cause) if cause.is_unavailable() => {
                tracing::warn!(error = %telemetry::error_chain(cause), "loms storage unavailable");
                Status::unavailable("storage unavailable; retry later")
            }
            LomsError::Storage(cause) => {
                // Logged once here with its chain; the caller learns only that it failed.
                tracing::error!(error = %telemetry::error_chain(cause), "loms storage failed");
                Status::internal("internal error")
            }
        }
    }
}

fn status_to_pb(status: OrderStatus) -> pb::OrderStatus {
    match status {
        OrderStatus::New => pb::OrderStatus::New,
        OrderStatus::AwaitingPayment => pb::OrderStatus::AwaitingPayment,
        OrderStatus::Failed => pb::OrderStatus::Failed,
        OrderStatus::Payed => pb::OrderStatus::Payed,
        OrderStatus::Cancelled => pb::OrderStatus::Cancelled,
    }
}

fn order_to_pb(order: Order) -> pb::OrderInfoResponse {
    pb::OrderInfoResponse {
        status: status_to_pb(order.status).into(),
        user: order.user.get(),
        items: order
            .items
            .iter()
            .map(|item| pb::Item {
                sku: item.sku.get(),
                count: u32::from(item.count.get()),
            })
            .collect(),
    }
}

fn order_id(raw: i64) -> Result<OrderId, LomsError> {
    Ok(OrderId::try_from(raw)?)
}

/// The id the server gave the call (it gives every call one), which the call's status events carry.
fn request_id<T>(request: &Request<T>) -> RequestId {
    server::context::RequestContext::from_request(request)
        .request_id()
        .and_then(RequestId::parse)
        .unwrap_or_else(|| RequestId::fresh("loms"))
}

/// The gRPC face of loms.
#[derive(Clone)]
pub struct LomsGrpc {
    loms: Loms,
}

impl LomsGrpc {
    pub fn new(loms: Loms) -> Self {
        Self { loms }
    }
}

#[tonic::async_trait]
impl LomsService for LomsGrpc {
    async fn order_create(
        &self,
        request: Request<pb::OrderCreateRequest>,
    ) -> Result<Response<pb::OrderCreateResponse>, Status> {
        let request_id = request_id(&request);
        let request = request.into_inner();
        let user = UserId::try_from(request.user).map_err(LomsError::from)?;
        let items = request
            .items
            .iter()
            .map(|item| Item::new(item.sku, item.count))
            .collect::<Result<Vec<_>, _>>()
            .map_err(LomsError::from)?;
        let key = IdempotencyKey::parse(&request.idempotency_key).map_err(LomsError::from)?;
        let order_id = self.loms.create_order(user, items, key, request_id).await?;
        Ok(Response::new(pb::OrderCreateResponse {
            order_id: order_id.get(),
        }))
    }

    async fn order_info(
        &self,
        request: Request<pb::OrderInfoRequest>,
    ) -> Result<Response<pb::OrderInfoResponse>, Status> {
        let order = self
            .loms
            .order_info(order_id(request.get_ref().order_id)?)
            .await?;
        Ok(Response::new(order_to_pb(order)))
    }

    async fn order_pay(
        &self,
        request: Request<pb::OrderPayRequest>,
    ) -> Result<Response<pb::OrderPayResponse>, Status> {
        let order = order_id(request.get_ref().order_id)?;
        self.loms.pay_order(order, request_id(&request)).await?;
        Ok(Response::new(pb::OrderPayResponse {}))
    }

    async fn order_cancel(
        &self,
        request: Request<pb::OrderCancelRequest>,
    ) -> Result<Response<pb::OrderCancelResponse>, Status> {
        let order = order_id(request.get_ref().order_id)?;
        self.loms.cancel_order(order, request_id(&request)).await?;
        Ok(Response::new(pb::OrderCancelResponse {}))
    }

    async fn stocks_info(
        &self,
        request: Request<pb::StocksInfoRequest>,
    ) -> Result<Response<pb::StocksInfoResponse>, Status> {
        let sku = Sku::try_from(request.get_ref().sku).map_err(LomsError::from)?;
        let count = self.loms.stocks_info(sku).await?;
        Ok(Response::new(pb::StocksInfoResponse { count }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::InvalidOrder;
    use crate::ports::RepoError;
    use tonic::Code;

    #[test]
    fn errors_map_to_the_contracts_codes() {
        let id = OrderId::try_from(1).expect("positive");
        let sku = Sku::try_from(2).expect("positive");
        let cases = [
            (
                LomsError::InvalidOrder(InvalidOrder::NoItems),
                Code::InvalidArgument,
            ),
            (LomsError::OrderNotFound(id), Code::NotFound),
            (LomsError::SkuNotFound(sku), Code::NotFound),
            (
                LomsError::InsufficientStock { order_id: id, sku },
                Code::FailedPrecondition,
            ),
            (
                LomsError::KeyReused {
                    key: IdempotencyKey::parse("k").ok().flatten().expect("valid"),
                    order_id: id,
                },
                Code::FailedPrecondition,
            ),
            (
                LomsError::WrongStatus {
                    order_id: id,
                    current: OrderStatus::Failed,
                    transition: crate::domain::Transition::Pay,
                },
                Code::FailedPrecondition,
            ),
            (
                LomsError::Storage(RepoError::msg("disk on fire")),
                Code::Internal,
            ),
            (
                LomsError::Storage(RepoError::unavailable("pool", "timed out")),
                Code::Unavailable,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(Status::from(error).code(), code);
        }
    }

    #[test]
    fn storage_causes_are_not_sent_to_the_caller() {
        let status = Status::from(LomsError::Storage(RepoError::msg("password=hunter2")));
        assert!(!status.message().contains("hunter2"));
    }
}
