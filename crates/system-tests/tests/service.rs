//! Service tests: the real cart, loms and product-service servers in one process, driven through the
//! generated clients, as a user of the system would.
mod support;

use route256_proto::cart::{
    AddItemRequest, CheckoutRequest, ClearRequest, DeleteItemRequest, ListRequest,
};
use route256_proto::loms::{
    Item, OrderCancelRequest, OrderCreateRequest, OrderInfoRequest, OrderPayRequest, OrderStatus,
    StocksInfoRequest,
};
use route256_proto::product::{GetProductRequest, ListSkusRequest};
use support::{
    add, authed, available, order, with_header, System, GUROV, NIKE, SMITH, SOLD_OUT, TOKEN,
};
use tonic::Code;

async fn order_status(system: &System, order_id: i64) -> (OrderStatus, i64, Vec<(u32, u32)>) {
    let info = system
        .loms()
        .await
        .order_info(OrderInfoRequest { order_id })
        .await
        .expect("order exists")
        .into_inner();
    let items = info.items.iter().map(|i| (i.sku, i.count)).collect();
    (info.status(), info.user, items)
}

#[tokio::test]
async fn purchase_flow_add_list_delete_checkout_pay() {
    let system = System::start().await;
    let mut cart = system.cart().await;
    let mut loms = system.loms().await;
    let user = 1001;

    cart.add_item(add(user, GUROV, 1)).await.expect("added");
    cart.add_item(add(user, SMITH, 2)).await.expect("added");
    cart.add_item(add(user, SMITH, 3))
        .await
        .expect("counts add up");
    cart.add_item(add(user, 2958025, 1)).await.expect("added");

    let list = cart
        .list(authed(ListRequest { user }))
        .await
        .expect("listed")
        .into_inner();
    let lines: Vec<_> = list
        .items
        .iter()
        .map(|i| (i.sku, i.count, i.name.as_str(), i.price))
        .collect();
    assert_eq!(
        lines,
        vec![
            (SMITH, 5, "Теория нравственных чувств | Смит Адам", 3379),
            (GUROV, 1, "Кулинар Гуров", 2931),
            (2958025, 1, "Roxy Music. Stranded. Remastered Edition", 1028),
        ],
        "sorted by sku, names and prices from the catalogue"
    );
    assert_eq!(list.total_price, 5 * 3379 + 2931 + 1028);

    cart.delete_item(DeleteItemRequest { user, sku: 2958025 })
        .await
        .expect("deleted");
    cart.delete_item(DeleteItemRequest { user, sku: 2958025 })
        .await
        .expect("deleting what is not there is fine");
    let list = cart
        .list(authed(ListRequest { user }))
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(list.items.len(), 2);
    assert_eq!(list.total_price, 5 * 3379 + 2931);

    assert_eq!(available(&system, SMITH).await, 265);
    let order_id = cart
        .checkout(authed(CheckoutRequest { user }))
        .await
        .expect("checked out")
        .into_inner()
        .order_id;
    assert!(order_id > 0);
    let emptied = cart.list(authed(ListRequest { user })).await;
    assert_eq!(emptied.expect_err("cart cleared").code(), Code::NotFound);

    assert_eq!(
        order_status(&system, order_id).await,
        (
            OrderStatus::AwaitingPayment,
            user,
            vec![(SMITH, 5), (GUROV, 1)]
        )
    );
    assert_eq!(available(&system, SMITH).await, 260, "5 reserved");

    loms.order_pay(OrderPayRequest { order_id })
        .await
        .expect("paid");
    loms.order_pay(OrderPayRequest { order_id })
        .await
        .expect("paying again is a no-op");
    assert_eq!(order_status(&system, order_id).await.0, OrderStatus::Payed);
    assert_eq!(
        available(&system, SMITH).await,
        260,
        "written off, not released"
    );
    let cancel = loms.order_cancel(OrderCancelRequest { order_id }).await;
    assert_eq!(cancel.expect_err("payed").code(), Code::FailedPrecondition);

    system.stop().await;
}

#[tokio::test]
async fn cancel_releases_the_reservation() {
    let system = System::start().await;
    let mut loms = system.loms().await;

    let order_id = order(&system, 2002, GUROV, 7).await;
    assert_eq!(available(&system, GUROV).await, 293);

    loms.order_cancel(OrderCancelRequest { order_id })
        .await
        .expect("cancelled");
    loms.order_cancel(OrderCancelRequest { order_id })
        .await
        .expect("cancelling again is a no-op");
    assert_eq!(
        order_status(&system, order_id).await.0,
        OrderStatus::Cancelled
    );
    assert_eq!(available(&system, GUROV).await, 300, "released");
    let pay = loms.order_pay(OrderPayRequest { order_id }).await;
    assert_eq!(pay.expect_err("cancelled").code(), Code::FailedPrecondition);

    system.stop().await;
}

#[tokio::test]
async fn refused_checkout_keeps_the_cart_and_the_failed_order() {
    let system = System::start().await;
    let mut cart = system.cart().await;

    // Both fit the 140 available on their own; only one can have them.
    cart.add_item(add(1, NIKE, 100)).await.expect("added");
    cart.add_item(add(2, NIKE, 100)).await.expect("added");
    let first = cart
        .checkout(authed(CheckoutRequest { user: 1 }))
        .await
        .expect("first checkout reserves")
        .into_inner()
        .order_id;
    let second = cart.checkout(authed(CheckoutRequest { user: 2 })).await;
    let status = second.expect_err("stock short");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("insufficient stock"),
        "{status:?}"
    );

    let kept = cart
        .list(authed(ListRequest { user: 2 }))
        .await
        .expect("cart kept")
        .into_inner();
    assert_eq!(
        kept.items
            .iter()
            .map(|i| (i.sku, i.count))
            .collect::<Vec<_>>(),
        vec![(NIKE, 100)]
    );
    // loms keeps the refused order as failed; ids are sequential in the in-memory store.
    assert_eq!(
        order_status(&system, first + 1).await,
        (OrderStatus::Failed, 2, vec![(NIKE, 100)])
    );
    assert_eq!(
        available(&system, NIKE).await,
        40,
        "the failed order reserved nothing"
    );

    system.stop().await;
}

#[tokio::test]
async fn add_item_refuses_unknown_products_and_short_stock() {
    let system = System::start().await;
    let mut cart = system.cart().await;

    let unknown = cart
        .add_item(add(3, 1, 1))
        .await
        .expect_err("sku 1 is not listed");
    assert_eq!(unknown.code(), Code::FailedPrecondition);
    let sold_out = cart
        .add_item(add(3, SOLD_OUT, 1))
        .await
        .expect_err("none available");
    assert_eq!(sold_out.code(), Code::FailedPrecondition);

    cart.add_item(add(3, SMITH, 265))
        .await
        .expect("exactly what is available");
    let more = cart
        .add_item(add(3, SMITH, 1))
        .await
        .expect_err("cart would exceed stock");
    assert_eq!(more.code(), Code::FailedPrecondition);
    assert!(more.message().contains("insufficient stock"), "{more:?}");

    system.stop().await;
}

#[tokio::test]
async fn empty_carts_and_unknown_orders_and_skus() {
    let system = System::start().await;
    let mut cart = system.cart().await;
    let mut loms = system.loms().await;

    cart.clear(ClearRequest { user: 4 })
        .await
        .expect("clearing an empty cart is fine");
    let list = cart.list(authed(ListRequest { user: 4 })).await;
    assert_eq!(list.expect_err("empty").code(), Code::NotFound);
    let checkout = cart.checkout(authed(CheckoutRequest { user: 4 })).await;
    assert_eq!(checkout.expect_err("empty").code(), Code::NotFound);

    cart.add_item(add(4, GUROV, 1)).await.expect("added");
    cart.clear(ClearRequest { user: 4 }).await.expect("cleared");
    let list = cart.list(authed(ListRequest { user: 4 })).await;
    assert_eq!(list.expect_err("cleared").code(), Code::NotFound);

    for status in [
        loms.order_info(OrderInfoRequest { order_id: 999_999 })
            .await
            .map(|_| ()),
        loms.order_pay(OrderPayRequest { order_id: 999_999 })
            .await
            .map(|_| ()),
        loms.order_cancel(OrderCancelRequest { order_id: 999_999 })
            .await
            .map(|_| ()),
        loms.stocks_info(StocksInfoRequest { sku: 1 })
            .await
            .map(|_| ()),
    ] {
        assert_eq!(status.expect_err("unknown").code(), Code::NotFound);
    }

    system.stop().await;
}

/// cart forwards its caller's own token to product-service: with a token product-service does not
/// trust (of a key only cart and loms know), AddItem fails at product-service; with one it trusts, it
/// succeeds. Neither token reaches a log.
#[tokio::test]
async fn the_callers_token_is_forwarded_to_product_service() {
    use identity::mint::{key_set, SigningKey};
    use identity::{Authentication, JwksLocation, VerifySettings};
    let cart_only = SigningKey::generate().expect("a key");
    let trusted = |keys: &[&SigningKey]| {
        Authentication::Verify(VerifySettings::new(JwksLocation::Inline(
            key_set(keys).into(),
        )))
    };
    let mut settings = support::Settings::default();
    settings.cart.authentication = trusted(&[support::auth::provider(), &cart_only]);
    let system = System::start_with(settings).await;
    let mut cart = system.cart_raw().await;
    let add = || AddItemRequest {
        user: 5,
        sku: GUROV,
        count: 1,
    };

    let anonymous = cart.add_item(add()).await.expect_err("no token");
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    assert!(anonymous.message().starts_with("no token"), "{anonymous:?}");
    let garbage = with_header(add(), "authorization", "Bearer not-a-token");
    let garbage = cart.add_item(garbage).await.expect_err("not a token");
    assert_eq!(garbage.code(), Code::Unauthenticated);

    let unknown_there = cart_only
        .token_for(5, std::time::Duration::from_secs(60))
        .expect("token");
    let refused = with_header(add(), "x-api-key", &unknown_there);
    let refused = cart
        .add_item(refused)
        .await
        .expect_err("product-service refuses it");
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(refused.message().contains("product-service"), "{refused:?}");

    let token = support::auth::token_for(5);
    let known = with_header(add(), "x-api-key", &token);
    cart.add_item(known)
        .await
        .expect("x-api-key is accepted too");
    cart.list(authed(ListRequest { user: 5 }))
        .await
        .expect("listed with the token");

    let logs = support::logs();
    for secret in [TOKEN, &token, &unknown_there] {
        assert!(!logs.contains(secret), "a token reached the logs");
    }
    system.stop().await;
}

#[tokio::test]
async fn invalid_requests_are_rejected_before_any_handler() {
    let system = System::start().await;
    let mut cart = system.cart().await;
    let mut loms = system.loms().await;
    let mut product = system.product().await;

    // Each rejection names the field the generated validator checked: without the validating codec
    // these calls would reach the handlers and fail differently, or not at all.
    const ADD: &str = "route256.cart.v1.AddItemRequest";
    const CREATE: &str = "route256.loms.v1.OrderCreateRequest";
    let cart_calls = [
        (
            cart.add_item(add(0, GUROV, 1)).await.map(|_| ()),
            format!("{ADD}.user"),
        ),
        (
            cart.add_item(add(-1, GUROV, 1)).await.map(|_| ()),
            format!("{ADD}.user"),
        ),
        (
            cart.add_item(add(6, 0, 1)).await.map(|_| ()),
            format!("{ADD}.sku"),
        ),
        (
            cart.add_item(add(6, GUROV, 0)).await.map(|_| ()),
            format!("{ADD}.count"),
        ),
        (
            cart.add_item(add(6, GUROV, 65536)).await.map(|_| ()),
            format!("{ADD}.count"),
        ),
        (
            cart.delete_item(DeleteItemRequest { user: 6, sku: 0 })
                .await
                .map(|_| ()),
            "route256.cart.v1.DeleteItemRequest.sku".to_owned(),
        ),
        (
            cart.list(authed(ListRequest { user: 0 })).await.map(|_| ()),
            "route256.cart.v1.ListRequest.user".to_owned(),
        ),
        (
            cart.clear(ClearRequest { user: -5 }).await.map(|_| ()),
            "route256.cart.v1.ClearRequest.user".to_owned(),
        ),
        (
            cart.checkout(authed(CheckoutRequest { user: 0 }))
                .await
                .map(|_| ()),
            "route256.cart.v1.CheckoutRequest.user".to_owned(),
        ),
    ];
    let loms_calls = [
        (
            loms.order_create(OrderCreateRequest {
                user: 6,
                ..Default::default()
            })
            .await
            .map(|_| ()),
            format!("{CREATE}.items"),
        ),
        (
            loms.order_create(OrderCreateRequest {
                user: 0,
                items: vec![Item {
                    sku: GUROV,
                    count: 1,
                }],
                ..Default::default()
            })
            .await
            .map(|_| ()),
            format!("{CREATE}.user"),
        ),
        (
            loms.order_create(OrderCreateRequest {
                user: 6,
                items: vec![Item {
                    sku: GUROV,
                    count: 0,
                }],
                ..Default::default()
            })
            .await
            .map(|_| ()),
            "route256.loms.v1.Item.count".to_owned(),
        ),
        (
            loms.order_info(OrderInfoRequest { order_id: 0 })
                .await
                .map(|_| ()),
            "route256.loms.v1.OrderInfoRequest.order_id".to_owned(),
        ),
        (
            loms.order_pay(OrderPayRequest { order_id: -1 })
                .await
                .map(|_| ()),
            "route256.loms.v1.OrderPayRequest.order_id".to_owned(),
        ),
        (
            loms.order_cancel(OrderCancelRequest { order_id: 0 })
                .await
                .map(|_| ()),
            "route256.loms.v1.OrderCancelRequest.order_id".to_owned(),
        ),
        (
            loms.stocks_info(StocksInfoRequest { sku: 0 })
                .await
                .map(|_| ()),
            "route256.loms.v1.StocksInfoRequest.sku".to_owned(),
        ),
    ];
    let product_calls = [
        (
            product
                .get_product(GetProductRequest {
                    token: TOKEN.into(),
                    sku: 0,
                })
                .await
                .map(|_| ()),
            "route256.product.v1.GetProductRequest.sku".to_owned(),
        ),
        (
            product
                .list_skus(ListSkusRequest {
                    token: TOKEN.into(),
                    start_after_sku: 0,
                    count: 1001,
                })
                .await
                .map(|_| ()),
            "route256.product.v1.ListSkusRequest.count".to_owned(),
        ),
    ];
    for (result, field) in cart_calls
        .into_iter()
        .chain(loms_calls)
        .chain(product_calls)
    {
        let status = result.expect_err("invalid");
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(status.message().contains(&field), "{field}: {status:?}");
    }
    // Nothing reached a handler: no cart was created, no stock moved.
    assert_eq!(available(&system, GUROV).await, 300);

    system.stop().await;
}

#[tokio::test]
async fn product_service_checks_tokens_and_pages_skus() {
    let system = System::start().await;
    let mut product = system.product().await;

    let named = product
        .get_product(GetProductRequest {
            token: TOKEN.into(),
            sku: 4465995,
        })
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(
        (named.name.as_str(), named.price),
        (
            "Кодекс Российской Федерации об административных правонарушениях",
            42
        )
    );
    let by_metadata = product
        .get_product(authed(GetProductRequest {
            token: String::new(),
            sku: 4465995,
        }))
        .await;
    assert!(
        by_metadata.is_ok(),
        "token from metadata when the field is empty"
    );
    let missing = product
        .get_product(GetProductRequest {
            token: String::new(),
            sku: 4465995,
        })
        .await;
    assert_eq!(missing.expect_err("no token").code(), Code::Unauthenticated);
    let unknown = product
        .get_product(GetProductRequest {
            token: TOKEN.into(),
            sku: 1,
        })
        .await;
    assert_eq!(unknown.expect_err("not listed").code(), Code::NotFound);

    let page = product
        .list_skus(ListSkusRequest {
            token: TOKEN.into(),
            start_after_sku: 0,
            count: 1000,
        })
        .await
        .expect("listed")
        .into_inner()
        .skus;
    assert_eq!(page.len(), 1000);
    assert!(page.windows(2).all(|w| w[0] < w[1]), "ascending");
    let next = product
        .list_skus(ListSkusRequest {
            token: TOKEN.into(),
            start_after_sku: page[999],
            count: 10,
        })
        .await
        .expect("listed")
        .into_inner()
        .skus;
    assert!(next[0] > page[999]);

    system.stop().await;
}

/// Lists the services a server announces through one version of the reflection protocol.
macro_rules! reflected_services {
    ($version:ident, $addr:expr) => {{
        use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;
        use tonic_reflection::pb::$version::ServerReflectionRequest;

        let mut client = ServerReflectionClient::new(support::channel($addr).await);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut responses = client
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .expect("reflection answers")
            .into_inner();
        let response = responses
            .message()
            .await
            .expect("a response")
            .expect("not empty");
        match response.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
                names.sort();
                names
            }
            other => panic!("unexpected reflection response: {other:?}"),
        }
    }};
}

#[tokio::test]
async fn every_server_offers_health_and_both_reflection_versions() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;

    let system = System::start().await;
    let servers = [
        (system.cart_addr, "route256.cart.v1.CartService"),
        (system.loms_addr, "route256.loms.v1.LomsService"),
        (system.product_addr, "route256.product.v1.ProductService"),
    ];
    for (addr, service) in servers {
        let expected = vec![
            "grpc.health.v1.Health".to_owned(),
            "grpc.reflection.v1.ServerReflection".to_owned(),
            "grpc.reflection.v1alpha.ServerReflection".to_owned(),
            service.to_owned(),
        ];
        assert_eq!(reflected_services!(v1, addr), expected, "v1 at {addr}");
        assert_eq!(
            reflected_services!(v1alpha, addr),
            expected,
            "v1alpha at {addr}"
        );

        let mut health = HealthClient::new(support::channel(addr).await);
        for name in ["", service] {
            let status = health
                .check(HealthCheckRequest {
                    service: name.to_owned(),
                })
                .await
                .expect("health answers")
                .into_inner()
                .status();
            assert_eq!(status, ServingStatus::Serving, "{name:?} at {addr}");
        }
    }
    system.stop().await;
}
