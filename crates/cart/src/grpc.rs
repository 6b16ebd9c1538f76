//! `route256.cart.v1.CartService` over the use cases: proto ↔ domain, the request context, and the one
//! mapping of [`CartError`] to a gRPC status. Requests arrive validated (see `route256_proto::codec`)
//! and authenticated (the server's `authenticate` layer): each handler first checks that the
//! request's `user` is the caller's own ([`owner`]), so a cart is only ever touched by its user.
use route256_proto::cart as pb;
use route256_proto::cart::cart_service_server::CartService;
use server::context::RequestContext;
use tonic::{Request, Response, Status};

use crate::domain::{item_count, InvalidRequest, Sku, UserId};
use crate::service::{Cart, CartError};

impl From<CartError> for Status {
    fn from(error: CartError) -> Self {
        let message = error.to_string();
        match &error {
            CartError::InvalidRequest(_) => Status::invalid_argument(message),
            CartError::EmptyCart(_) => Status::not_found(message),
            CartError::NotYourCart(_) => Status::permission_denied(message),
            CartError::UnknownProduct(_)
            | CartError::InsufficientStock { .. }
            | CartError::TooManyUnits(_)
            | CartError::OrderRefused(_) => Status::failed_precondition(message),
            CartError::TotalOverflow => Status::out_of_range(message),
            CartError::Unauthenticated(..) => Status::unauthenticated(message),
            CartError::RateLimited(..) => Status::resource_exhausted(message),
            CartError::DeadlineExceeded(upstream) => {
                tracing::info!(%upstream, "call ended by the deadline");
                Status::deadline_exceeded(message)
            }
            CartError::Cancelled(upstream, _) => {
                tracing::info!(%upstream, "call cancelled by the upstream service");
                Status::cancelled(message)
            }
            CartError::Unavailable(..) => {
                tracing::warn!(error = %telemetry::error_chain(&error), "upstream unavailable");
                Status::unavailable(message)
            }
            CartError::Storage(storage) if storage.is_unavailable() => {
                tracing::warn!(error = %telemetry::error_chain(&error), "cart storage unavailable");
                Status::unavailable("cart storage unavailable; retry later")
            }
            CartError::Upstream(..) | CartError::Storage(_) | CartError::Panicked(_) => {
                // Logged once here with its chain; the caller learns only that it failed.
                tracing::error!(error = %telemetry::error_chain(&error), "cart call failed");
                Status::internal("internal error")
            }
        }
    }
}

/// The request's `user`, when the caller's token names that user: a user touches their own cart
/// only. (With authentication off for a benchmark, every `user` is believed.)
fn owner(ctx: &RequestContext, raw: i64) -> Result<UserId, CartError> {
    let user = UserId::try_from(raw).map_err(|e| CartError::InvalidRequest(e.into()))?;
    if ctx.may_act_as(raw) {
        Ok(user)
    } else {
        Err(CartError::NotYourCart(user))
    }
}

fn sku(raw: u32) -> Result<Sku, CartError> {
    Sku::try_from(raw).map_err(|e| CartError::InvalidRequest(InvalidRequest::from(e)))
}

/// The gRPC face of cart.
#[derive(Clone)]
pub(crate) struct CartGrpc {
    cart: Cart,
}

impl CartGrpc {
    pub(crate) fn new(cart: Cart) -> Self {
        Self { cart }
    }
}

#[tonic::async_trait]
impl CartService for CartGrpc {
    async fn add_item(
        &self,
        request: Request<pb::AddItemRequest>,
    ) -> Result<Response<pb::AddItemResponse>, Status> {
        let ctx = RequestContext::from_request(&request);
        let pb::AddItemRequest {
            user: u,
            sku: s,
            count,
        } = *request.get_ref();
        let count = item_count(count).map_err(CartError::from)?;
        self.cart
            .add_item(&ctx, owner(&ctx, u)?, sku(s)?, count)
            .await?;
        Ok(Response::new(pb::AddItemResponse {}))
    }

    async fn delete_item(
        &self,
        request: Request<pb::DeleteItemRequest>,
    ) -> Result<Response<pb::DeleteItemResponse>, Status> {
        let ctx = RequestContext::from_request(&request);
        let pb::DeleteItemRequest { user: u, sku: s } = *request.get_ref();
        self.cart.delete_item(owner(&ctx, u)?, sku(s)?).await?;
        Ok(Response::new(pb::DeleteItemResponse {}))
    }

    async fn list(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListResponse>, Status> {
        let ctx = RequestContext::from_request(&request);
        let user = owner(&ctx, request.get_ref().user)?;
        let view = self.cart.list(&ctx, user).await?;
        Ok(Response::new(pb::ListResponse {
            items: view
                .lines
                .into_iter()
                .map(|line| pb::CartItem {
                    sku: line.item.sku.get(),
                    count: u32::from(line.item.count.get()),
                    name: line.product.name,
                    price: line.product.price,
                })
                .collect(),
            total_price: view.total_price,
        }))
    }

    async fn clear(
        &self,
        request: Request<pb::ClearRequest>,
    ) -> Result<Response<pb::ClearResponse>, Status> {
        let ctx = RequestContext::from_request(&request);
        self.cart
            .clear(owner(&ctx, request.get_ref().user)?)
            .await?;
        Ok(Response::new(pb::ClearResponse {}))
    }

    async fn checkout(
        &self,
        request: Request<pb::CheckoutRequest>,
    ) -> Result<Response<pb::CheckoutResponse>, Status> {
        let ctx = RequestContext::from_request(&request);
        let user = owner(&ctx, request.get_ref().user)?;
        let order_id = self.cart.checkout(&ctx, user).await?;
        Ok(Response::new(pb::CheckoutResponse {
            order_id: order_id.get(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{RepoError, UpstreamError};
    use crate::service::Upstream;
    use tonic::Code;

    #[test]
    fn errors_map_to_the_contracts_codes() {
        let u = UserId::try_from(1).expect("positive");
        let s = Sku::try_from(2).expect("positive");
        let cause = || -> crate::ports::Cause { "boom".into() };
        let cases = [
            (
                CartError::InvalidRequest(InvalidRequest::Count(0)),
                Code::InvalidArgument,
            ),
            (CartError::EmptyCart(u), Code::NotFound),
            (CartError::NotYourCart(u), Code::PermissionDenied),
            (CartError::UnknownProduct(s), Code::FailedPrecondition),
            (
                CartError::InsufficientStock {
                    sku: s,
                    requested: 2,
                    available: 1,
                },
                Code::FailedPrecondition,
            ),
            (CartError::TooManyUnits(s), Code::FailedPrecondition),
            (
                CartError::OrderRefused("short".into()),
                Code::FailedPrecondition,
            ),
            (CartError::TotalOverflow, Code::OutOfRange),
            (
                CartError::Unauthenticated(Upstream::ProductService, "no".into()),
                Code::Unauthenticated,
            ),
            (
                CartError::RateLimited(Upstream::ProductService, "10".into()),
                Code::ResourceExhausted,
            ),
            (
                CartError::Unavailable(Upstream::Loms, UpstreamError::Unavailable(cause())),
                Code::Unavailable,
            ),
            (
                CartError::DeadlineExceeded(Upstream::ProductService),
                Code::DeadlineExceeded,
            ),
            (
                CartError::Cancelled(Upstream::Loms, "bye".into()),
                Code::Cancelled,
            ),
            (
                CartError::Upstream(Upstream::Loms, UpstreamError::Failed(cause())),
                Code::Internal,
            ),
            (
                CartError::Storage(RepoError::failed("read", cause())),
                Code::Internal,
            ),
            (
                CartError::Storage(RepoError::unavailable("read", cause())),
                Code::Unavailable,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(Status::from(error).code(), code);
        }
    }

    /// cart over a memory store, a catalogue where every SKU is a book of 100 with stock 1000, and a
    /// loms that creates order 7.
    fn grpc() -> CartGrpc {
        use crate::ports::{MockLoms, MockProductCatalog};
        let mut products = MockProductCatalog::new();
        products.expect_get_product().returning(|_, sku| {
            Ok(crate::domain::Product {
                name: format!("book {sku}"),
                price: 100,
            })
        });
        let mut loms = MockLoms::new();
        loms.expect_available_stock().returning(|_, _| Ok(1000));
        loms.expect_create_order()
            .returning(|_, _, _, _| Ok(crate::domain::OrderId::try_from(7).expect("positive")));
        let carts = crate::adapters::memory::MemoryCartRepo::default();
        let workers = std::num::NonZeroUsize::new(2).expect("positive");
        let cart = Cart::new(
            std::sync::Arc::new(carts),
            std::sync::Arc::new(products),
            std::sync::Arc::new(loms),
            crate::pool::WorkerPool::new(workers),
        );
        CartGrpc::new(cart)
    }

    /// A request as the server's authentication leaves it for a caller whose token names `user`.
    fn by<T>(user: i64, message: T) -> Request<T> {
        let mut request = Request::new(message);
        let caller = identity::Caller::new(user, Vec::new());
        request
            .extensions_mut()
            .insert(identity::Access::Caller(caller));
        request
    }

    /// A request of a server that authenticates nobody (a benchmark's baseline).
    fn unchecked<T>(message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.extensions_mut().insert(identity::Access::Unchecked);
        request
    }

    async fn listed(grpc: &CartGrpc, user: i64) -> Vec<(u32, u32, String, u32)> {
        let list = grpc.list(by(user, pb::ListRequest { user })).await;
        let list = list.expect("listed").into_inner();
        let lines = list.items.into_iter();
        lines.map(|i| (i.sku, i.count, i.name, i.price)).collect()
    }

    #[tokio::test]
    async fn a_cart_is_filled_listed_trimmed_cleared_and_checked_out() {
        let grpc = grpc();
        for (sku, count) in [(2, 3), (1, 1), (2, 1)] {
            let add = pb::AddItemRequest {
                user: 5,
                sku,
                count,
            };
            grpc.add_item(by(add.user, add)).await.expect("added");
        }
        let lines = listed(&grpc, 5).await;
        let expected = [(1, 1, "book 1", 100), (2, 4, "book 2", 100)];
        let expected: Vec<_> = expected.map(|(s, c, n, p)| (s, c, n.to_owned(), p)).into();
        assert_eq!(lines, expected);
        let list = grpc.list(by(5, pb::ListRequest { user: 5 })).await;
        assert_eq!(list.expect("listed").into_inner().total_price, 500);

        let delete = pb::DeleteItemRequest { user: 5, sku: 1 };
        grpc.delete_item(by(5, delete)).await.expect("deleted");
        assert_eq!(listed(&grpc, 5).await.len(), 1);

        let checkout = grpc.checkout(by(5, pb::CheckoutRequest { user: 5 })).await;
        assert_eq!(checkout.expect("ordered").into_inner().order_id, 7);
        let empty = grpc.list(by(5, pb::ListRequest { user: 5 })).await;
        assert_eq!(empty.expect_err("checked out").code(), Code::NotFound);

        let add = pb::AddItemRequest {
            user: 6,
            sku: 1,
            count: 1,
        };
        grpc.add_item(by(add.user, add)).await.expect("added");
        grpc.clear(by(6, pb::ClearRequest { user: 6 }))
            .await
            .expect("cleared");
        let empty = grpc.list(by(6, pb::ListRequest { user: 6 })).await;
        assert_eq!(empty.expect_err("cleared").code(), Code::NotFound);
    }

    #[tokio::test]
    async fn bad_ids_and_counts_are_invalid_arguments() {
        let grpc = grpc();
        let add = |user, sku, count| unchecked(pb::AddItemRequest { user, sku, count });
        for request in [add(0, 1, 1), add(1, 0, 1), add(1, 1, 0), add(1, 1, 65_536)] {
            let refused = grpc.add_item(request).await.expect_err("refused");
            assert_eq!(refused.code(), Code::InvalidArgument);
        }
        let delete = pb::DeleteItemRequest { user: 1, sku: 0 };
        let refused = grpc.delete_item(unchecked(delete)).await;
        assert_eq!(refused.expect_err("refused").code(), Code::InvalidArgument);
        let clear = grpc.clear(unchecked(pb::ClearRequest { user: -1 })).await;
        assert_eq!(clear.expect_err("refused").code(), Code::InvalidArgument);
        let checkout = grpc
            .checkout(unchecked(pb::CheckoutRequest { user: 0 }))
            .await;
        assert_eq!(checkout.expect_err("refused").code(), Code::InvalidArgument);
    }

    #[tokio::test]
    async fn another_users_cart_is_refused_by_every_call_and_left_as_it_was() {
        let grpc = grpc();
        let own = pb::AddItemRequest {
            user: 6,
            sku: 1,
            count: 2,
        };
        grpc.add_item(by(6, own)).await.expect("added");
        let denied = |result: Result<(), Status>| {
            assert_eq!(
                result.expect_err("not theirs").code(),
                Code::PermissionDenied
            );
        };
        let add = pb::AddItemRequest {
            user: 6,
            sku: 2,
            count: 1,
        };
        denied(grpc.add_item(by(5, add)).await.map(drop));
        let delete = pb::DeleteItemRequest { user: 6, sku: 1 };
        denied(grpc.delete_item(by(5, delete)).await.map(drop));
        denied(
            grpc.list(by(5, pb::ListRequest { user: 6 }))
                .await
                .map(drop),
        );
        denied(
            grpc.clear(by(5, pb::ClearRequest { user: 6 }))
                .await
                .map(drop),
        );
        let checkout = pb::CheckoutRequest { user: 6 };
        denied(grpc.checkout(by(5, checkout)).await.map(drop));
        // A call no authentication passed is nobody's.
        let anonymous = Request::new(pb::ListRequest { user: 6 });
        denied(grpc.list(anonymous).await.map(drop));
        assert_eq!(listed(&grpc, 6).await, [(1, 2, "book 1".to_owned(), 100)]);
    }

    #[test]
    fn upstreams_are_named_in_messages() {
        assert_eq!(Upstream::ProductService.to_string(), "product-service");
        assert_eq!(Upstream::Loms.to_string(), "loms");
    }

    #[test]
    fn internal_causes_are_not_sent_to_the_caller() {
        let status = Status::from(CartError::Storage(RepoError::failed("read", "dsn=secret")));
        assert!(!status.message().contains("secret"));
    }
}
