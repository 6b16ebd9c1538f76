//! The system on PostgreSQL whatever `ROUTE256_TEST_STORAGE` says: data survives a restart of the
//! services, and one cart state checked out from two cart replicas on one database is one order.
mod support;

use route256_proto::cart::{CheckoutRequest, ListRequest};
use route256_proto::loms::{OrderInfoRequest, OrderStatus};
use support::{add, authed, available, order, Settings, System, GUROV, SMITH};
use tonic::Code;

#[tokio::test]
async fn carts_and_orders_survive_a_restart() {
    let system = System::start_with(Settings::default().on_postgres()).await;
    let order_id = order(&system, 1, GUROV, 2).await;
    let mut cart = system.cart().await;
    cart.add_item(add(1, SMITH, 1)).await.expect("added");

    let system = system.restart().await;
    let info = system
        .loms()
        .await
        .order_info(OrderInfoRequest { order_id })
        .await
        .expect("the order is still there")
        .into_inner();
    assert_eq!(info.status(), OrderStatus::AwaitingPayment);
    assert_eq!(available(&system, GUROV).await, 298, "and its reservation");
    let list = system
        .cart()
        .await
        .list(authed(ListRequest { user: 1 }))
        .await
        .expect("the cart is still there")
        .into_inner();
    let items: Vec<_> = list.items.iter().map(|i| (i.sku, i.count)).collect();
    assert_eq!(items, vec![(SMITH, 1)]);
    system.stop().await;
}

/// Two cart replicas on one cart database (and one loms): the checkout key comes from the shared
/// version, so calls spread over both replicas still make one order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_cart_replicas_check_one_cart_out_once() {
    let first = System::start_with(Settings::default().on_postgres()).await;
    // A second cart on the same databases, pointed at the first system's loms and product-service.
    let second = System::start_with(Settings::default().cart_replica_of(&first)).await;

    let mut cart = first.cart().await;
    cart.add_item(add(5, GUROV, 3)).await.expect("added");
    let mut calls = Vec::new();
    for i in 0..20 {
        let addr = if i % 2 == 0 {
            first.cart_addr
        } else {
            second.cart_addr
        };
        calls.push(tokio::spawn(async move {
            let mut client = support::clients::Cart::new(support::channel(addr).await);
            client.checkout(authed(CheckoutRequest { user: 5 })).await
        }));
    }
    let mut orders = Vec::new();
    for call in calls {
        match call.await.expect("task") {
            Ok(response) => orders.push(response.into_inner().order_id),
            Err(status) if status.code() == Code::NotFound => {}
            Err(status) => panic!("checkout failed: {status:?}"),
        }
    }
    orders.dedup();
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(available(&first, GUROV).await, 297, "reserved once");
    second.stop().await;
    first.stop().await;
}

/// Two loms replicas on one database, both running the auto-cancel: 100 stale orders are each
/// cancelled exactly once (one log line per order, whichever replica), and the stock comes back exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_loms_replicas_cancel_each_stale_order_once() {
    use route256_proto::loms::{Item, OrderCreateRequest};
    use std::time::Duration;

    let unpaid_after = |mut settings: Settings| {
        settings.loms.unpaid_ttl = Duration::from_secs(1);
        settings.loms.unpaid_check_period = Duration::from_millis(20);
        settings
    };
    let first = System::start_with(unpaid_after(Settings::default().on_postgres())).await;
    let mut settings = unpaid_after(Settings::default());
    settings.loms.storage = first.loms_storage();
    let second = System::start_with(settings).await;

    let before = available(&first, GUROV).await;
    let mut loms = first.loms().await;
    let mut orders = Vec::new();
    for user in 1..=100 {
        let created = loms
            .order_create(OrderCreateRequest {
                user,
                items: vec![Item {
                    sku: GUROV,
                    count: 1,
                }],
                idempotency_key: String::new(),
            })
            .await
            .expect("reserved")
            .into_inner();
        orders.push(created.order_id);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for &order_id in &orders {
        loop {
            let info = loms
                .order_info(OrderInfoRequest { order_id })
                .await
                .expect("kept")
                .into_inner();
            if info.status() == OrderStatus::Cancelled {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "order {order_id} never cancelled"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(
        available(&first, GUROV).await,
        before,
        "every reservation released once"
    );
    let logs = support::logs();
    for order_id in orders {
        let needle = format!("order_id={order_id} ");
        let cancellations = logs
            .lines()
            .filter(|line| {
                line.contains("order cancelled: unpaid too long") && line.contains(&needle)
            })
            .count();
        assert_eq!(
            cancellations, 1,
            "order {order_id} cancelled {cancellations} times"
        );
    }
    second.stop().await;
    first.stop().await;
}
