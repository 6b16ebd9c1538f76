//! Clients of cart and loms that call as the user a request acts for, with a token of the tests'
//! provider (`auth.rs`), unless the request carries a credential of its own: tests about anything
//! but identity read as they did before user tokens. A test about identity sends its own.
use route256_proto::cart::cart_service_client::CartServiceClient;
use route256_proto::cart::*;
use route256_proto::loms::loms_service_client::LomsServiceClient;
use route256_proto::loms::*;
use tonic::transport::Channel;
use tonic::{IntoRequest, Response, Status};

use super::auth::{bearer, support_token, token_acting_for, token_for};

/// cart's client; each call acts for its request's `user`.
#[derive(Clone)]
pub(crate) struct Cart(pub(crate) CartServiceClient<Channel>);

impl Cart {
    pub(crate) fn new(channel: Channel) -> Self {
        Self(CartServiceClient::new(channel))
    }

    pub(crate) async fn add_item(
        &mut self,
        request: impl IntoRequest<AddItemRequest>,
    ) -> Result<Response<AddItemResponse>, Status> {
        let request = request.into_request();
        let user = request.get_ref().user;
        self.0
            .add_item(bearer(request, || token_acting_for(user)))
            .await
    }

    pub(crate) async fn delete_item(
        &mut self,
        request: impl IntoRequest<DeleteItemRequest>,
    ) -> Result<Response<DeleteItemResponse>, Status> {
        let request = request.into_request();
        let user = request.get_ref().user;
        self.0
            .delete_item(bearer(request, || token_acting_for(user)))
            .await
    }

    pub(crate) async fn list(
        &mut self,
        request: impl IntoRequest<ListRequest>,
    ) -> Result<Response<ListResponse>, Status> {
        let request = request.into_request();
        let user = request.get_ref().user;
        self.0
            .list(bearer(request, || token_acting_for(user)))
            .await
    }

    pub(crate) async fn clear(
        &mut self,
        request: impl IntoRequest<ClearRequest>,
    ) -> Result<Response<ClearResponse>, Status> {
        let request = request.into_request();
        let user = request.get_ref().user;
        self.0
            .clear(bearer(request, || token_acting_for(user)))
            .await
    }

    pub(crate) async fn checkout(
        &mut self,
        request: impl IntoRequest<CheckoutRequest>,
    ) -> Result<Response<CheckoutResponse>, Status> {
        let request = request.into_request();
        let user = request.get_ref().user;
        self.0
            .checkout(bearer(request, || token_acting_for(user)))
            .await
    }
}

/// loms's client: OrderCreate acts for its `user`, OrderInfo as support staff, OrderPay and
/// OrderCancel as the order's owner (asked of loms as support staff first).
#[derive(Clone)]
pub(crate) struct Loms(pub(crate) LomsServiceClient<Channel>);

impl Loms {
    pub(crate) fn new(channel: Channel) -> Self {
        Self(LomsServiceClient::new(channel))
    }

    pub(crate) async fn order_create(
        &mut self,
        request: impl IntoRequest<OrderCreateRequest>,
    ) -> Result<Response<OrderCreateResponse>, Status> {
        let request = request.into_request();
        let user = request.get_ref().user;
        self.0
            .order_create(bearer(request, || token_acting_for(user)))
            .await
    }

    pub(crate) async fn order_info(
        &mut self,
        request: impl IntoRequest<OrderInfoRequest>,
    ) -> Result<Response<OrderInfoResponse>, Status> {
        self.0
            .order_info(bearer(request.into_request(), support_token))
            .await
    }

    pub(crate) async fn order_pay(
        &mut self,
        request: impl IntoRequest<OrderPayRequest>,
    ) -> Result<Response<OrderPayResponse>, Status> {
        let request = request.into_request();
        let owner = self.owner(request.get_ref().order_id).await;
        self.0.order_pay(bearer(request, || token_for(owner))).await
    }

    pub(crate) async fn order_cancel(
        &mut self,
        request: impl IntoRequest<OrderCancelRequest>,
    ) -> Result<Response<OrderCancelResponse>, Status> {
        let request = request.into_request();
        let owner = self.owner(request.get_ref().order_id).await;
        self.0
            .order_cancel(bearer(request, || token_for(owner)))
            .await
    }

    pub(crate) async fn stocks_info(
        &mut self,
        request: impl IntoRequest<StocksInfoRequest>,
    ) -> Result<Response<StocksInfoResponse>, Status> {
        self.0.stocks_info(request).await
    }

    /// The user of `order_id`; user 1 when loms cannot say (the call then fails as it would).
    async fn owner(&mut self, order_id: i64) -> i64 {
        let info = self.order_info(OrderInfoRequest { order_id }).await;
        info.map_or(1, |info| info.into_inner().user)
    }
}
