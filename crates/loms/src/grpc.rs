//! `route256.loms.v1.LomsService` over the use cases: proto ↔ domain, and the one mapping of
//! [`LomsError`] to a gRPC status. Requests arrive validated (see `route256_proto::codec`); parsing into
//! domain types still refuses what the rules cannot express (an order position over 65535 units).
//!
//! Every call but StocksInfo arrives authenticated (the server's `authenticate` layer); its token
//! becomes the use cases' [`Actor`]: OrderCreate places orders for the caller's own user only, and the
//! other order calls find only what the actor may see ([`SUPPORT_ROLE`] reads every order).
use route256_proto::loms as pb;
use route256_proto::loms::loms_service_server::LomsService;
use tonic::{Request, Response, Status};

use identity::Access;
use server::context::RequestContext;

use crate::domain::{Actor, IdempotencyKey, Item, Order, OrderId, RequestId, Sku, UserId};
use crate::ports::{BacklogFull, RepoError};
use crate::service::{Loms, LomsError};

impl From<LomsError> for Status {
    fn from(error: LomsError) -> Self {
        match &error {
            LomsError::InvalidOrder(_) => Status::invalid_argument(error.to_string()),
            LomsError::OrderNotFound(_) | LomsError::SkuNotFound(_) => {
                Status::not_found(error.to_string())
            }
            LomsError::NotYourUser(_) => Status::permission_denied(error.to_string()),
            LomsError::InsufficientStock { .. }
            | LomsError::KeyReused { .. }
            | LomsError::WrongStatus { .. } => Status::failed_precondition(error.to_string()),
            LomsError::Storage(cause) if backlog_full(cause) => {
                // Debug only: while the backlog is full every change is refused, and a line each would
                // flood the log; `loms_outbox_pending_events` and the relay's lag warning say it.
                tracing::debug!(error = %telemetry::error_chain(cause), "status change refused");
                Status::unavailable("order events backlog full; retry later")
            }
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

/// The memory store's outbox is full ([`BacklogFull`]): the change waits for the relay to catch up.
fn backlog_full(cause: &RepoError) -> bool {
    let source = std::error::Error::source(cause);
    source.is_some_and(|source| source.is::<BacklogFull>())
}

fn order_to_pb(order: Order) -> pb::OrderInfoResponse {
    pb::OrderInfoResponse {
        status: pb::OrderStatus::from(order.status).into(),
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

/// The role (the token's `roles` claim) of support staff: they read any order, and change only their
/// own.
pub(crate) const SUPPORT_ROLE: &str = "support";

/// The use cases' actor, from what the server's authentication found.
fn actor<T>(request: &Request<T>) -> Result<Actor, Status> {
    match RequestContext::from_request(request).access() {
        Some(Access::Caller(caller)) => Ok(Actor::User {
            id: UserId::try_from(caller.user()).map_err(LomsError::from)?,
            support: caller.has_role(SUPPORT_ROLE),
        }),
        Some(Access::Unchecked) => Ok(Actor::Anyone),
        // Only a server without authentication would get here: refuse rather than guess.
        None => Err(Status::unauthenticated("no authenticated caller")),
    }
}

fn order_id(raw: i64) -> Result<OrderId, LomsError> {
    Ok(OrderId::try_from(raw)?)
}

/// The id the server gave the call (it gives every call one), which the call's status events carry.
fn request_id<T>(request: &Request<T>) -> RequestId {
    RequestContext::from_request(request)
        .request_id()
        .and_then(RequestId::parse)
        .unwrap_or_else(|| RequestId::fresh("loms"))
}

/// The gRPC face of loms.
#[derive(Clone)]
pub(crate) struct LomsGrpc {
    loms: Loms,
}

impl LomsGrpc {
    pub(crate) fn new(loms: Loms) -> Self {
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
        let ctx = RequestContext::from_request(&request);
        let request = request.into_inner();
        let user = UserId::try_from(request.user).map_err(LomsError::from)?;
        if !ctx.may_act_as(request.user) {
            return Err(LomsError::NotYourUser(user).into());
        }
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
        let actor = actor(&request)?;
        let order = self
            .loms
            .order_info(order_id(request.get_ref().order_id)?, actor)
            .await?;
        Ok(Response::new(order_to_pb(order)))
    }

    async fn order_pay(
        &self,
        request: Request<pb::OrderPayRequest>,
    ) -> Result<Response<pb::OrderPayResponse>, Status> {
        let order = order_id(request.get_ref().order_id)?;
        let actor = actor(&request)?;
        self.loms
            .pay_order(order, actor, request_id(&request))
            .await?;
        Ok(Response::new(pb::OrderPayResponse {}))
    }

    async fn order_cancel(
        &self,
        request: Request<pb::OrderCancelRequest>,
    ) -> Result<Response<pb::OrderCancelResponse>, Status> {
        let order = order_id(request.get_ref().order_id)?;
        let actor = actor(&request)?;
        self.loms
            .cancel_order(order, actor, request_id(&request))
            .await?;
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
    use crate::adapters::memory::MemoryStore;
    use crate::domain::InvalidOrder;
    use crate::domain::OrderStatus;
    use crate::domain::Stock;
    use crate::ports::{Outbox, RepoError};
    use std::sync::Arc;
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
            (
                LomsError::NotYourUser(UserId::try_from(2).expect("positive")),
                Code::PermissionDenied,
            ),
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
        let full = crate::ports::BacklogFull {
            pending: 5,
            limit: 5,
        };
        let status = Status::from(LomsError::Storage(RepoError::unavailable("write", full)));
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.message(), "order events backlog full; retry later");
    }

    /// loms over a memory store with `stock` (sku, total, reserved), and the store.
    fn grpc(stock: &[(u32, u64, u64)]) -> (LomsGrpc, Arc<MemoryStore>) {
        let store = Arc::new(MemoryStore::with_stock(stock.iter().map(
            |&(sku, total, reserved)| {
                let stock = Stock::new(total, reserved).expect("valid");
                (Sku::try_from(sku).expect("positive"), stock)
            },
        )));
        let loms = Loms::new(store.clone(), store.clone());
        (LomsGrpc::new(loms), store)
    }

    /// A request of a server that authenticates nobody (a benchmark's baseline): these tests are
    /// about everything but who calls.
    fn unchecked<T>(message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.extensions_mut().insert(Access::Unchecked);
        request
    }

    /// A request as the server's authentication leaves it for a token of `user` with `roles`.
    fn by<T>(user: i64, roles: &[&str], message: T) -> Request<T> {
        let mut request = Request::new(message);
        let roles = roles.iter().map(|r| r.to_string()).collect();
        let caller = identity::Caller::new(user, roles);
        request.extensions_mut().insert(Access::Caller(caller));
        request
    }

    /// A request carrying `x-request-id: id`, as the server's layer leaves it.
    fn with_id<T>(message: T, id: &str) -> Request<T> {
        let mut request = unchecked(message);
        let id = id.parse().expect("ascii");
        request
            .metadata_mut()
            .insert(server::context::REQUEST_ID, id);
        request
    }

    fn create(user: i64, items: &[(u32, u32)], key: &str) -> pb::OrderCreateRequest {
        pb::OrderCreateRequest {
            user,
            items: items
                .iter()
                .map(|&(sku, count)| pb::Item { sku, count })
                .collect(),
            idempotency_key: key.into(),
        }
    }

    /// The request ids of the events waiting in the outbox, oldest first.
    async fn event_request_ids(store: &MemoryStore) -> Vec<String> {
        let events = store.pending(100, &[]).await.expect("pending");
        events.iter().map(|e| e.request_id.to_string()).collect()
    }

    async fn info(grpc: &LomsGrpc, order_id: i64) -> pb::OrderInfoResponse {
        let request = unchecked(pb::OrderInfoRequest { order_id });
        grpc.order_info(request).await.expect("found").into_inner()
    }

    #[tokio::test]
    async fn an_order_is_created_and_read_back_as_the_caller_sent_it() {
        let (grpc, store) = grpc(&[(1, 10, 0), (2, 10, 0)]);
        let request = with_id(create(42, &[(1, 2), (2, 3)], "k"), "req-7");
        let created = grpc.order_create(request).await.expect("created");
        let order_id = created.into_inner().order_id;
        assert_eq!(order_id, 1);

        let order = info(&grpc, order_id).await;
        assert_eq!(order.status, i32::from(pb::OrderStatus::AwaitingPayment));
        assert_eq!(order.user, 42);
        let items: Vec<_> = order.items.iter().map(|i| (i.sku, i.count)).collect();
        assert_eq!(items, [(1, 2), (2, 3)]);
        // new, then awaiting payment: both caused by the call
        assert_eq!(event_request_ids(&store).await, ["req-7", "req-7"]);

        // the key answers the same order again
        let again = grpc.order_create(unchecked(create(42, &[(1, 2), (2, 3)], "k")));
        assert_eq!(again.await.expect("answered").into_inner().order_id, 1);
    }

    #[tokio::test]
    async fn pay_and_cancel_change_the_status_and_carry_the_callers_request_id() {
        let (grpc, store) = grpc(&[(1, 10, 0)]);
        for _ in 0..2 {
            let request = unchecked(create(1, &[(1, 1)], ""));
            grpc.order_create(request).await.expect("created");
        }
        let creation = store.pending(100, &[]).await.expect("pending");
        let positions: Vec<i64> = creation.iter().map(|e| e.position).collect();
        let (lease, none) = (store.lease_of("t"), Default::default());
        let marked = store.mark_sent(&positions, &lease, &none);
        marked.await.expect("marked");

        let pay = with_id(pb::OrderPayRequest { order_id: 1 }, "req-pay");
        grpc.order_pay(pay).await.expect("payed");
        let cancel = with_id(pb::OrderCancelRequest { order_id: 2 }, "req-cancel");
        grpc.order_cancel(cancel).await.expect("cancelled");

        assert_eq!(
            info(&grpc, 1).await.status,
            i32::from(pb::OrderStatus::Payed)
        );
        let cancelled = info(&grpc, 2).await.status;
        assert_eq!(cancelled, i32::from(pb::OrderStatus::Cancelled));
        assert_eq!(event_request_ids(&store).await, ["req-pay", "req-cancel"]);
        let stock = grpc.stocks_info(unchecked(pb::StocksInfoRequest { sku: 1 }));
        // one unit sold, the cancelled one back: 9 of 10 left
        assert_eq!(stock.await.expect("stocked").into_inner().count, 9);
    }

    #[tokio::test]
    async fn a_call_without_a_request_id_gets_a_fresh_one() {
        let (grpc, store) = grpc(&[(1, 10, 0)]);
        let request = unchecked(create(1, &[(1, 1)], ""));
        grpc.order_create(request).await.expect("created");
        let ids = event_request_ids(&store).await;
        assert_eq!(ids.len(), 2);
        assert!(ids.iter().all(|id| id.starts_with("loms-")), "{ids:?}");
    }

    #[tokio::test]
    async fn each_status_reads_back_as_its_own_proto_value() {
        let statuses = [
            (OrderStatus::New, pb::OrderStatus::New),
            (
                OrderStatus::AwaitingPayment,
                pb::OrderStatus::AwaitingPayment,
            ),
            (OrderStatus::Failed, pb::OrderStatus::Failed),
            (OrderStatus::Payed, pb::OrderStatus::Payed),
            (OrderStatus::Cancelled, pb::OrderStatus::Cancelled),
        ];
        for (status, proto) in statuses {
            assert_eq!(pb::OrderStatus::from(status), proto);
        }
    }

    #[tokio::test]
    async fn bad_ids_counts_and_unknown_orders_get_their_codes() {
        let (grpc, _) = grpc(&[(1, 10, 0)]);
        fn code<T>(result: Result<T, Status>) -> Code {
            result.map(|_| ()).expect_err("refused").code()
        }
        let refused = [
            (create(0, &[(1, 1)], ""), Code::InvalidArgument),
            (create(1, &[(0, 1)], ""), Code::InvalidArgument),
            (create(1, &[(1, 65_536)], ""), Code::InvalidArgument),
            (
                create(1, &[(1, 40_000), (1, 40_000)], ""),
                Code::InvalidArgument,
            ),
            // the most units a position may have: refused for the stock only
            (create(1, &[(1, 65_535)], ""), Code::FailedPrecondition),
            (create(1, &[(1, 11)], ""), Code::FailedPrecondition),
            // an unknown sku fails the order, as a short one does
            (create(1, &[(3, 1)], ""), Code::FailedPrecondition),
        ];
        for (request, expected) in refused {
            let answer = grpc.order_create(unchecked(request.clone())).await;
            assert_eq!(code(answer), expected, "{request:?}");
        }
        let info = grpc.order_info(unchecked(pb::OrderInfoRequest { order_id: 0 }));
        assert_eq!(code(info.await), Code::InvalidArgument);
        let info = grpc.order_info(unchecked(pb::OrderInfoRequest { order_id: 99 }));
        assert_eq!(code(info.await), Code::NotFound);
        let pay = grpc.order_pay(unchecked(pb::OrderPayRequest { order_id: -1 }));
        assert_eq!(code(pay.await), Code::InvalidArgument);
        let cancel = grpc.order_cancel(unchecked(pb::OrderCancelRequest { order_id: 99 }));
        assert_eq!(code(cancel.await), Code::NotFound);
        let stock = grpc.stocks_info(unchecked(pb::StocksInfoRequest { sku: 0 }));
        assert_eq!(code(stock.await), Code::InvalidArgument);
        let stock = grpc.stocks_info(unchecked(pb::StocksInfoRequest { sku: 3 }));
        assert_eq!(code(stock.await), Code::NotFound);
    }

    #[tokio::test]
    async fn a_user_orders_for_themselves_and_finds_only_their_own_orders() {
        let (grpc, store) = grpc(&[(1, 10, 0)]);
        let code = |result: Result<(), Status>| result.expect_err("refused").code();
        let theirs = by(2, &[], create(1, &[(1, 1)], ""));
        assert_eq!(
            code(grpc.order_create(theirs).await.map(drop)),
            Code::PermissionDenied
        );
        let own = by(1, &[], create(1, &[(1, 1)], ""));
        let order_id = grpc
            .order_create(own)
            .await
            .expect("created")
            .into_inner()
            .order_id;
        let info = |user, roles: &'static [&'static str]| {
            grpc.order_info(by(user, roles, pb::OrderInfoRequest { order_id }))
        };
        assert_eq!(info(1, &[]).await.expect("own").into_inner().user, 1);
        assert_eq!(code(info(2, &[]).await.map(drop)), Code::NotFound);
        assert_eq!(
            info(2, &[SUPPORT_ROLE])
                .await
                .expect("support")
                .into_inner()
                .user,
            1
        );
        for roles in [&[][..], &[SUPPORT_ROLE][..]] {
            let pay = grpc.order_pay(by(2, roles, pb::OrderPayRequest { order_id }));
            assert_eq!(code(pay.await.map(drop)), Code::NotFound);
            let cancel = grpc.order_cancel(by(2, roles, pb::OrderCancelRequest { order_id }));
            assert_eq!(code(cancel.await.map(drop)), Code::NotFound);
        }
        let status = info(1, &[]).await.expect("own").into_inner().status;
        assert_eq!(status, i32::from(pb::OrderStatus::AwaitingPayment));
        // No other event than the creation's two: nothing changed.
        assert_eq!(event_request_ids(&store).await.len(), 2);
        // A call no authentication passed finds nothing of anyone's.
        let anonymous = grpc.order_info(Request::new(pb::OrderInfoRequest { order_id }));
        assert_eq!(code(anonymous.await.map(drop)), Code::Unauthenticated);
    }

    #[test]
    fn refusals_tell_the_caller_what_was_refused() {
        let id = OrderId::try_from(7).expect("positive");
        let key = IdempotencyKey::parse("cart:1:2")
            .ok()
            .flatten()
            .expect("valid");
        let wrong = |current, transition| LomsError::WrongStatus {
            order_id: id,
            current,
            transition,
        };
        use crate::domain::Transition::{Cancel, Pay};
        let cases = [
            (
                LomsError::KeyReused { key, order_id: id },
                "idempotency key 'cart:1:2' was used for order 7 with other items",
            ),
            (
                wrong(OrderStatus::Failed, Pay),
                "order 7 is failed: cannot pay",
            ),
            (
                wrong(OrderStatus::Payed, Cancel),
                "order 7 is payed: cannot cancel",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(Status::from(error).message(), message);
        }
    }

    #[test]
    fn storage_causes_are_not_sent_to_the_caller() {
        let status = Status::from(LomsError::Storage(RepoError::msg("password=hunter2")));
        assert!(!status.message().contains("hunter2"));
    }
}
