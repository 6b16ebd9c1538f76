//! Checkout under concurrency: one order per cart state however many calls race, the stock reserved
//! once, and nothing added meanwhile lost.
mod support;

use route256_proto::cart::{CheckoutRequest, ListRequest};
use route256_proto::loms::{Item, OrderCreateRequest, OrderInfoRequest, OrderStatus};
use support::{add, authed, available, System, GUROV, SMITH};
use tonic::Code;

/// `calls` Checkouts of one cart at once, each on a connection of its own (as from different cart
/// clients): one order, stock reserved once; every loser answers OK with that order or NOT_FOUND.
async fn concurrent_checkouts(calls: usize) {
    let system = System::start().await;
    let user = 500 + i64::try_from(calls).expect("small");
    let mut cart = system.cart().await;
    cart.add_item(add(user, GUROV, 3)).await.expect("added");
    cart.add_item(add(user, SMITH, 2)).await.expect("added");

    let mut clients = Vec::with_capacity(calls);
    for _ in 0..calls {
        clients.push(system.cart().await);
    }
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(calls));
    let checkouts: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                client.checkout(authed(CheckoutRequest { user })).await
            })
        })
        .collect();
    let mut orders = Vec::new();
    let mut empty = 0;
    for checkout in checkouts {
        match checkout.await.expect("task completes") {
            Ok(response) => orders.push(response.into_inner().order_id),
            Err(status) if status.code() == Code::NotFound => empty += 1,
            Err(status) => panic!("a checkout failed: {status:?}"),
        }
    }
    orders.dedup();
    assert_eq!(
        orders.len(),
        1,
        "one order for one cart state: {orders:?} ({empty} empty)"
    );

    assert_eq!(available(&system, GUROV).await, 297, "reserved once");
    assert_eq!(available(&system, SMITH).await, 263, "reserved once");
    let info = system
        .loms()
        .await
        .order_info(OrderInfoRequest {
            order_id: orders[0],
        })
        .await
        .expect("ordered")
        .into_inner();
    assert_eq!(info.status(), OrderStatus::AwaitingPayment);
    let items: Vec<_> = info.items.iter().map(|i| (i.sku, i.count)).collect();
    assert_eq!(items, vec![(SMITH, 2), (GUROV, 3)]);
    let list = cart.list(authed(ListRequest { user })).await;
    assert_eq!(list.expect_err("cart emptied").code(), Code::NotFound);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_double_clicked_checkout_makes_one_order() {
    concurrent_checkouts(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_checkouts_make_one_order() {
    concurrent_checkouts(50).await;
}

/// What several cart replicas do when they check out one state: the same key. loms alone decides, so
/// the guarantee holds across processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_key_sent_fifty_times_at_once_is_one_order() {
    let system = System::start().await;
    let request = OrderCreateRequest {
        user: 77,
        items: vec![Item {
            sku: GUROV,
            count: 4,
        }],
        idempotency_key: "cart:77:1".into(),
    };
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let (system_loms, request) = (system.loms_addr, request.clone());
            tokio::spawn(async move {
                let mut loms = support::clients::Loms::new(support::channel(system_loms).await);
                loms.order_create(request).await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for call in calls {
        ids.push(
            call.await
                .expect("task")
                .expect("created")
                .into_inner()
                .order_id,
        );
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(available(&system, GUROV).await, 296, "reserved once");
    system.stop().await;
}

/// Units added while a checkout runs are neither lost nor ordered twice: whatever the interleaving,
/// the order plus what stays in the cart is exactly what was added.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checkout_racing_add_item_loses_nothing() {
    let system = System::start().await;
    for trial in 0..20 {
        let user = 9000 + trial;
        let mut cart = system.cart().await;
        cart.add_item(add(user, GUROV, 2)).await.expect("added");
        let mut adder = system.cart().await;
        let mut checker = system.cart().await;
        let (checkout, added) =
            tokio::join!(checker.checkout(authed(CheckoutRequest { user })), async {
                adder.add_item(add(user, GUROV, 1)).await.expect("added");
                adder.add_item(add(user, SMITH, 1)).await.expect("added");
            });
        let () = added;
        let order_id = checkout.expect("checked out").into_inner().order_id;
        let ordered = system
            .loms()
            .await
            .order_info(OrderInfoRequest { order_id })
            .await
            .expect("ordered")
            .into_inner()
            .items;
        let in_cart = match cart.list(authed(ListRequest { user })).await {
            Ok(list) => list
                .into_inner()
                .items
                .iter()
                .map(|i| (i.sku, i.count))
                .collect(),
            Err(status) if status.code() == Code::NotFound => Vec::new(),
            Err(status) => panic!("list failed: {status:?}"),
        };
        let units = |sku: u32| -> u32 {
            ordered
                .iter()
                .filter(|i| i.sku == sku)
                .map(|i| i.count)
                .sum::<u32>()
                + in_cart
                    .iter()
                    .filter(|i| i.0 == sku)
                    .map(|i| i.1)
                    .sum::<u32>()
        };
        assert_eq!(
            (units(GUROV), units(SMITH)),
            (3, 1),
            "trial {trial}: ordered {ordered:?}, left {in_cart:?}"
        );
    }
    system.stop().await;
}
