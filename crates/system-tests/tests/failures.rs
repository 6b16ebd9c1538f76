//! Error paths: other services down or slow, orders in the wrong status, pay racing cancel.
mod support;

use std::time::Duration;

use route256_proto::loms::{
    Item, OrderCancelRequest, OrderCreateRequest, OrderInfoRequest, OrderPayRequest, OrderStatus,
};
use support::{add, authed, available, order, Settings, System, GUROV, PLENTY, SMITH, SOLD_OUT};
use tonic::Code;

/// An address nothing listens on: bound, then released.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

#[tokio::test]
async fn other_services_down_is_unavailable() {
    let down = |which: &str| {
        let mut settings = Settings::default();
        match which {
            "product-service" => settings.cart.product_service_url = dead_url(),
            _ => settings.cart.loms_url = dead_url(),
        }
        settings
    };
    for which in ["product-service", "loms"] {
        let system = System::start_with(down(which)).await;
        let status = system
            .cart()
            .await
            .add_item(add(1, GUROV, 1))
            .await
            .expect_err("down");
        assert_eq!(status.code(), Code::Unavailable, "{which}: {status:?}");
        assert!(status.message().contains(which), "{status:?}");
        system.stop().await;
    }
}

#[tokio::test]
async fn cart_own_deadline_on_a_slow_upstream_is_deadline_exceeded() {
    let mut settings = Settings::default();
    settings.product.latency = Duration::from_secs(30);
    settings.cart.upstream_timeout = Duration::from_millis(200);
    let system = System::start_with(settings).await;
    let status = system
        .cart()
        .await
        .add_item(add(1, GUROV, 1))
        .await
        .expect_err("product-service too slow");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().contains("product-service"), "{status:?}");
    system.stop().await;
}

#[tokio::test]
async fn a_failed_order_can_be_neither_paid_nor_cancelled() {
    let system = System::start().await;
    let mut loms = system.loms().await;
    let failed = loms
        .order_create(OrderCreateRequest {
            user: 3,
            items: vec![Item {
                sku: SOLD_OUT,
                count: 1,
            }],
            idempotency_key: String::new(),
        })
        .await
        .expect_err("sold out");
    assert_eq!(failed.code(), Code::FailedPrecondition);
    let order_id = 1; // the first order of a fresh store
    let info = loms
        .order_info(OrderInfoRequest { order_id })
        .await
        .expect("kept")
        .into_inner();
    assert_eq!(info.status(), OrderStatus::Failed);
    let pay = loms.order_pay(OrderPayRequest { order_id }).await;
    assert_eq!(pay.expect_err("failed").code(), Code::FailedPrecondition);
    let cancel = loms.order_cancel(OrderCancelRequest { order_id }).await;
    assert_eq!(cancel.expect_err("failed").code(), Code::FailedPrecondition);
    assert_eq!(available(&system, SOLD_OUT).await, 0, "nothing moved");
    system.stop().await;
}

#[tokio::test]
async fn paying_writes_the_goods_off() {
    // All 300 units ordered and paid: if paying only released the reservation, they would be
    // available again.
    let system = System::start().await;
    let order_id = order(&system, 4, GUROV, 300).await;
    assert_eq!(available(&system, GUROV).await, 0);
    let mut loms = system.loms().await;
    loms.order_pay(OrderPayRequest { order_id })
        .await
        .expect("paid");
    assert_eq!(
        available(&system, GUROV).await,
        0,
        "total lowered with reserved"
    );
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pay_racing_cancel_has_one_winner_and_consistent_stock() {
    let system = System::start().await;
    let mut paid = 0u64;
    for trial in 0..30 {
        let mut loms = system.loms().await;
        let order_id = loms
            .order_create(OrderCreateRequest {
                user: 100 + trial,
                items: vec![Item {
                    sku: GUROV,
                    count: 1,
                }],
                idempotency_key: String::new(),
            })
            .await
            .expect("created")
            .into_inner()
            .order_id;
        let (mut payer, mut canceller) = (system.loms().await, system.loms().await);
        let (pay, cancel) = tokio::join!(
            payer.order_pay(OrderPayRequest { order_id }),
            canceller.order_cancel(OrderCancelRequest { order_id })
        );
        let status = loms
            .order_info(OrderInfoRequest { order_id })
            .await
            .expect("kept")
            .into_inner()
            .status();
        match (pay, cancel) {
            (Ok(_), Err(lost)) => {
                assert_eq!(lost.code(), Code::FailedPrecondition);
                assert_eq!(status, OrderStatus::Payed);
                paid += 1;
            }
            (Err(lost), Ok(_)) => {
                assert_eq!(lost.code(), Code::FailedPrecondition);
                assert_eq!(status, OrderStatus::Cancelled);
            }
            other => panic!("trial {trial}: not exactly one winner: {other:?}"),
        }
        // Paid units are gone for good; cancelled ones are back.
        assert_eq!(available(&system, GUROV).await, 300 - paid, "trial {trial}");
    }
    system.stop().await;
}

#[tokio::test]
async fn an_unpaid_order_is_cancelled_by_itself_and_its_stock_released() {
    let mut settings = Settings::default();
    settings.loms.unpaid_ttl = Duration::from_secs(1);
    settings.loms.unpaid_check_period = Duration::from_millis(50);
    let system = System::start_with(settings).await;
    let order_id = order(&system, 6, GUROV, 5).await;
    let paid = order(&system, 7, GUROV, 2).await;
    let mut loms = system.loms().await;
    loms.order_pay(OrderPayRequest { order_id: paid })
        .await
        .expect("paid in time");
    assert_eq!(available(&system, GUROV).await, 293);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let info = loms
            .order_info(OrderInfoRequest { order_id })
            .await
            .expect("kept")
            .into_inner();
        if info.status() == OrderStatus::Cancelled {
            break;
        }
        assert_eq!(info.status(), OrderStatus::AwaitingPayment);
        assert!(tokio::time::Instant::now() < deadline, "never cancelled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        available(&system, GUROV).await,
        298,
        "its 5 units released, the paid 2 gone"
    );
    let status = loms
        .order_info(OrderInfoRequest { order_id: paid })
        .await
        .expect("kept")
        .into_inner()
        .status();
    assert_eq!(status, OrderStatus::Payed, "a paid order is not touched");
    system.stop().await;
}

/// The caller's 200 ms deadline on a List that cart cannot finish in time (product-service takes 30 s
/// per item): the call ends at the deadline in cart — answered DEADLINE_EXCEEDED, or abandoned when the
/// caller's reset arrives first — and cart's calls to product-service end with it, which product-service
/// sees abandoned. (A tonic client keeps the deadline itself too and reports it as CANCELLED "Timeout
/// expired" when its timer wins the race with the answer; grpc-go and grpcurl say DEADLINE_EXCEEDED.
/// The server's own answer at the deadline is checked in server's `DeadlineLayer` tests.)
#[tokio::test]
async fn the_callers_deadline_ends_the_call_everywhere() {
    // The cart is filled through a system with a quick product-service, then listed by a second cart
    // on the same cart database whose product-service is slow.
    let quick = System::start_with(Settings::default().on_postgres()).await;
    let mut filler = quick.cart().await;
    for sku in [GUROV, SMITH, PLENTY] {
        filler.add_item(add(8, sku, 1)).await.expect("added");
    }
    let mut settings = Settings::default().cart_replica_of(&quick);
    settings.product.latency = Duration::from_secs(30);
    // ...but with a product-service of its own, the slow one.
    settings.cart.product_service_url = String::new();
    let slow = System::start_with(settings).await;

    let mut cart = slow.cart().await;
    let mut listing = authed(route256_proto::cart::ListRequest { user: 8 });
    listing.set_timeout(Duration::from_millis(200));
    let status = cart
        .list(listing)
        .await
        .expect_err("product-service too slow");
    let ran_out = status.code() == Code::DeadlineExceeded
        || (status.code() == Code::Cancelled && status.message() == "Timeout expired");
    assert!(ran_out, "{status:?}");
    support::eventually("cart's call ends at the deadline", || {
        support::logs().lines().any(|line| {
            (line.contains("call ended by the") || line.contains("call abandoned"))
                && line.contains("/route256.cart.v1.CartService/List")
        })
    })
    .await;
    support::eventually("product-service sees its calls abandoned", || {
        support::logs().lines().any(|line| {
            line.contains("call abandoned")
                && line.contains("/route256.product.v1.ProductService/GetProduct")
        })
    })
    .await;
    slow.stop().await;
    quick.stop().await;
}

#[tokio::test]
async fn one_request_id_follows_a_call_through_every_service() {
    let system = System::start().await;
    let mut cart = system.cart().await;
    let mut request = add(9, GUROV, 1);
    request
        .metadata_mut()
        .insert("x-request-id", "trace-me-7f3e".parse().expect("ascii"));
    let response = cart.add_item(request).await.expect("added");
    assert_eq!(
        response
            .metadata()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("trace-me-7f3e"),
        "echoed"
    );
    // AddItem asks product-service, then loms: each logs the call in a span with the same id.
    for rpc in [
        "/route256.cart.v1.CartService/AddItem",
        "/route256.product.v1.ProductService/GetProduct",
        "/route256.loms.v1.LomsService/StocksInfo",
    ] {
        support::eventually(rpc, || {
            support::logs()
                .lines()
                .any(|line| line.contains(rpc) && line.contains("request_id=trace-me-7f3e"))
        })
        .await;
    }
    let fresh = cart.add_item(add(9, GUROV, 1)).await.expect("added");
    let id = fresh
        .metadata()
        .get("x-request-id")
        .expect("an id was made up");
    assert_eq!(id.len(), 32);
    system.stop().await;
}
