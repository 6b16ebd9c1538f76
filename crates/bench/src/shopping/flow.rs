//! One shopper: a user who fills a cart, looks at it, changes it, checks out, then pays or cancels
//! and looks at the order. Each [`Shopper::next_rpc`] is one RPC, chosen by fixed weights from what the
//! shopper has now:
//!
//! | the shopper has | next call, by weight |
//! |---|---|
//! | an order just placed | `OrderPay` 70, `OrderCancel` 30 (loms) |
//! | an order paid or cancelled | `OrderInfo` (loms), then on to a new cart |
//! | an empty cart | `AddItem` |
//! | a cart with items | `AddItem` 30, `List` 35, `DeleteItem` 10, `Checkout` 25 (`AddItem`'s share goes to `List` at five items) |
//!
//! So a whole visit — about three adds, three lists, one delete, a checkout, a payment or cancellation
//! and an order lookup — is the shape of the course's shopping flow. Items are one unit of a SKU drawn
//! from the stocked catalogue, so a checkout is refused only when a SKU runs out.
use std::time::Duration;

use route256_proto::cart::cart_service_client::CartServiceClient;
use route256_proto::cart::{AddItemRequest, CheckoutRequest, DeleteItemRequest, ListRequest};
use route256_proto::loms::loms_service_client::LomsServiceClient;
use route256_proto::loms::{OrderCancelRequest, OrderInfoRequest, OrderPayRequest};
use tonic::transport::Channel;

/// The RPCs of the flow, in the order the report lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rpc {
    AddItem,
    List,
    DeleteItem,
    Checkout,
    OrderPay,
    OrderCancel,
    OrderInfo,
}

impl Rpc {
    pub const ALL: [Self; 7] = [
        Self::AddItem,
        Self::List,
        Self::DeleteItem,
        Self::Checkout,
        Self::OrderPay,
        Self::OrderCancel,
        Self::OrderInfo,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::AddItem => "cart.AddItem",
            Self::List => "cart.List",
            Self::DeleteItem => "cart.DeleteItem",
            Self::Checkout => "cart.Checkout",
            Self::OrderPay => "loms.OrderPay",
            Self::OrderCancel => "loms.OrderCancel",
            Self::OrderInfo => "loms.OrderInfo",
        }
    }
}

/// The code a failed call is counted under: its own, except for a call that never reached a server's
/// handler because its connection was going away — the connection closed before the call was sent
/// (hyper: canceled), or the server's GOAWAY declared it unprocessed (h2: a stream above the GOAWAY's
/// last stream id). tonic reports those as `CANCELLED` and `INTERNAL`; they are `UNAVAILABLE`, the code
/// gRPC gives a call that can be retried because nothing of it ran, and what a server that is
/// stopping owes its new calls.
pub fn code_of(status: &tonic::Status) -> tonic::Code {
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        let never_sent = error
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_canceled);
        let refused = error
            .downcast_ref::<h2::Error>()
            .is_some_and(|e| e.is_go_away() && e.is_remote());
        if never_sent || refused {
            return tonic::Code::Unavailable;
        }
        source = error.source();
    }
    status.code()
}

/// The most distinct SKUs a shopper puts in a cart.
const MAX_ITEMS: usize = 5;

/// Where a shopper's calls go, and what they carry.
#[derive(Clone)]
pub struct Clients {
    pub cart: CartServiceClient<Channel>,
    pub loms: LomsServiceClient<Channel>,
    /// `Bearer <token>` of the shopper's user, on every call (cart passes it on to product-service
    /// and loms).
    pub token: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    /// Every call's deadline (`grpc-timeout`).
    pub timeout: Duration,
}

impl Clients {
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        request
            .metadata_mut()
            .insert("authorization", self.token.clone());
        request
    }
}

/// What a shopper does with its order next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    Placed(i64),
    Settled(i64),
}

/// A small deterministic generator (splitmix64): the flow needs spread, not secrecy.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `bound` (which is not 0).
    pub fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next_u64() % bound as u64).unwrap_or(0)
    }

    /// The index of the weight drawn, each with a chance in proportion to it.
    fn pick(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut draw = u32::try_from(self.next_u64() % u64::from(total.max(1))).unwrap_or(0);
        for (index, &weight) in weights.iter().enumerate() {
            if draw < weight {
                return index;
            }
            draw -= weight;
        }
        weights.len() - 1
    }
}

/// One user going through the flow, one call at a time.
#[derive(Clone, Debug)]
pub struct Shopper {
    pub user: i64,
    cart: Vec<u32>,
    order: Option<Order>,
    rng: Rng,
}

impl Shopper {
    pub fn new(user: i64, seed: u64) -> Self {
        Self {
            user,
            cart: Vec::new(),
            order: None,
            rng: Rng::new(seed),
        }
    }

    /// The call this shopper makes next (it draws from the shopper's generator).
    pub fn next_rpc(&mut self) -> Rpc {
        match self.order {
            Some(Order::Placed(_)) => [Rpc::OrderPay, Rpc::OrderCancel][self.rng.pick(&[70, 30])],
            Some(Order::Settled(_)) => Rpc::OrderInfo,
            None if self.cart.is_empty() => Rpc::AddItem,
            None => {
                let add = if self.cart.len() < MAX_ITEMS { 30 } else { 0 };
                let steps = [Rpc::AddItem, Rpc::List, Rpc::DeleteItem, Rpc::Checkout];
                steps[self.rng.pick(&[add, 65 - add, 10, 25])]
            }
        }
    }

    /// Makes `rpc` (drawn by [`Self::next_rpc`]) with `skus` to choose from, and moves on by its answer.
    pub async fn call(
        &mut self,
        rpc: Rpc,
        clients: &mut Clients,
        skus: &[u32],
    ) -> Result<(), tonic::Status> {
        let user = self.user;
        match rpc {
            Rpc::AddItem => {
                let sku = skus[self.rng.below(skus.len())];
                let request = clients.request(AddItemRequest {
                    user,
                    sku,
                    count: 1,
                });
                clients.cart.add_item(request).await?;
                if !self.cart.contains(&sku) {
                    self.cart.push(sku);
                }
            }
            Rpc::List => {
                clients
                    .cart
                    .list(clients.request(ListRequest { user }))
                    .await?;
            }
            Rpc::DeleteItem => {
                let sku = self.cart.swap_remove(self.rng.below(self.cart.len()));
                let request = clients.request(DeleteItemRequest { user, sku });
                clients.cart.delete_item(request).await?;
            }
            Rpc::Checkout => {
                let request = clients.request(CheckoutRequest { user });
                let order_id = clients.cart.checkout(request).await?.into_inner().order_id;
                self.cart.clear();
                self.order = Some(Order::Placed(order_id));
            }
            Rpc::OrderPay | Rpc::OrderCancel => {
                let order_id = self.order_id();
                // Settled whatever the answer: a refusal means it was settled already (auto-cancel).
                self.order = Some(Order::Settled(order_id));
                if rpc == Rpc::OrderPay {
                    let request = clients.request(OrderPayRequest { order_id });
                    clients.loms.order_pay(request).await?;
                } else {
                    let request = clients.request(OrderCancelRequest { order_id });
                    clients.loms.order_cancel(request).await?;
                }
            }
            Rpc::OrderInfo => {
                let order_id = self.order_id();
                self.order = None;
                let request = clients.request(OrderInfoRequest { order_id });
                clients.loms.order_info(request).await?;
            }
        }
        Ok(())
    }

    fn order_id(&self) -> i64 {
        match self.order {
            Some(Order::Placed(id) | Order::Settled(id)) => id,
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_cart_is_filled_first_and_a_placed_order_is_settled_then_looked_at() {
        let mut shopper = Shopper::new(1, 7);
        assert_eq!(shopper.next_rpc(), Rpc::AddItem);
        shopper.order = Some(Order::Placed(5));
        for _ in 0..50 {
            assert!(matches!(
                shopper.next_rpc(),
                Rpc::OrderPay | Rpc::OrderCancel
            ));
        }
        shopper.order = Some(Order::Settled(5));
        assert_eq!(shopper.next_rpc(), Rpc::OrderInfo);
    }

    #[test]
    fn a_cart_with_items_draws_by_the_weights() {
        let mut shopper = Shopper::new(1, 11);
        shopper.cart = vec![1, 2];
        let mut counts = std::collections::BTreeMap::new();
        for _ in 0..10_000 {
            *counts.entry(shopper.next_rpc()).or_insert(0_u32) += 1;
        }
        let share = |rpc| counts.get(&rpc).copied().unwrap_or(0);
        for (rpc, weight) in [
            (Rpc::AddItem, 30),
            (Rpc::List, 35),
            (Rpc::DeleteItem, 10),
            (Rpc::Checkout, 25),
        ] {
            let expected = weight * 100;
            assert!(
                share(rpc).abs_diff(expected) < 300,
                "{rpc:?}: {} of 10,000",
                share(rpc)
            );
        }
        shopper.cart = vec![1, 2, 3, 4, 5];
        for _ in 0..1_000 {
            assert_ne!(
                shopper.next_rpc(),
                Rpc::AddItem,
                "a full cart takes no more SKUs"
            );
        }
    }

    #[test]
    fn a_call_is_counted_under_its_own_code_unless_it_never_ran() {
        assert_eq!(
            code_of(&tonic::Status::cancelled("by the caller")),
            tonic::Code::Cancelled
        );
        let refused =
            tonic::Status::from_error(Box::new(h2::Error::from(h2::Reason::REFUSED_STREAM)));
        assert_eq!(code_of(&refused), tonic::Code::Unavailable);
        let reset =
            tonic::Status::from_error(Box::new(h2::Error::from(h2::Reason::INTERNAL_ERROR)));
        assert_eq!(
            code_of(&reset),
            tonic::Code::Internal,
            "a reset stream may have run"
        );
    }

    #[test]
    fn picks_follow_the_weights_and_skip_zero_weights() {
        let mut rng = Rng::new(3);
        for _ in 0..1_000 {
            assert_eq!(rng.pick(&[0, 5, 0]), 1);
        }
        let high = (0..10_000).filter(|_| rng.pick(&[1, 3]) == 1).count();
        assert!((7_000..8_000).contains(&high), "{high}");
    }
}
