//! Hostile and malformed input: bytes that are no protobuf message, rule violations named by their field
//! path, counts that overflow when merged, oversized requests, misused idempotency keys. Each is the
//! client's fault: a clear 4xx-class code, nothing stored, no warning in the server's log.
mod support;

use prost::Message;
use route256_proto::cart::AddItemRequest;
use route256_proto::loms::{Item, OrderCreateRequest, OrderInfoRequest, OrderStatus};
use support::{available, framed_call, raw_call, System, GUROV, PLENTY, SOLD_OUT};
use tonic::Code;

const CREATE: &str = "/route256.loms.v1.LomsService/OrderCreate";

fn item(sku: u32, count: u32) -> Item {
    Item { sku, count }
}

#[tokio::test]
async fn malformed_protobuf_is_invalid_argument_on_every_service() {
    let system = System::start().await;
    // Per target: a varint that never ends, and an integer field (user; for GetProduct, sku) sent
    // with the length-delimited wire type.
    let targets: [(_, _, [&[u8]; 2]); 3] = [
        (
            system.cart_addr,
            "/route256.cart.v1.CartService/AddItem",
            [&[0x08, 0xff], &[0x0a, 0x01, 0x01]],
        ),
        (
            system.loms_addr,
            CREATE,
            [&[0x08, 0xff], &[0x0a, 0x01, 0x01]],
        ),
        (
            system.product_addr,
            "/route256.product.v1.ProductService/GetProduct",
            [&[0x10, 0xff], &[0x12, 0x01, 0x01]],
        ),
    ];
    for (addr, path, garbage) in targets {
        for bytes in garbage {
            let status = raw_call(addr, path, bytes.to_vec())
                .await
                .expect_err("malformed");
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "{path} {bytes:?}: {status:?}"
            );
            assert!(status.message().starts_with("malformed "), "{status:?}");
        }
    }
    // A client's garbage is no server failure: not logged as one.
    let logs = support::logs();
    let warned: Vec<_> = logs
        .lines()
        .filter(|line| {
            line.contains("WARN") && targets.iter().any(|(_, path, _)| line.contains(path))
        })
        .collect();
    assert!(warned.is_empty(), "{warned:#?}");
    system.stop().await;
}

#[tokio::test]
async fn well_formed_bytes_still_work_through_the_raw_path() {
    // The raw client itself is sound: a valid message gets a valid answer.
    let system = System::start().await;
    let request = OrderCreateRequest {
        user: 1,
        items: vec![item(GUROV, 1)],
        idempotency_key: String::new(),
    };
    let answer = raw_call(system.loms_addr, CREATE, request.encode_to_vec())
        .await
        .expect("created");
    let response =
        route256_proto::loms::OrderCreateResponse::decode(answer.as_slice()).expect("decodes");
    assert!(response.order_id > 0);
    system.stop().await;
}

#[tokio::test]
async fn merged_counts_over_65535_are_invalid_argument_and_store_nothing() {
    let system = System::start().await;
    let mut loms = system.loms().await;
    let status = loms
        .order_create(OrderCreateRequest {
            user: 1,
            items: vec![item(GUROV, 65535), item(GUROV, 1)],
            idempotency_key: String::new(),
        })
        .await
        .expect_err("too many units");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("more than 65535"), "{status:?}");
    assert_eq!(available(&system, GUROV).await, 300);
    let none = loms.order_info(OrderInfoRequest { order_id: 1 }).await;
    assert_eq!(none.expect_err("no order stored").code(), Code::NotFound);
    system.stop().await;
}

#[tokio::test]
async fn request_limits_name_the_field() {
    let system = System::start().await;
    let mut loms = system.loms().await;
    let cases = [
        (
            OrderCreateRequest {
                user: 1,
                items: vec![item(GUROV, 1); 1001],
                idempotency_key: String::new(),
            },
            "route256.loms.v1.OrderCreateRequest.items",
        ),
        (
            OrderCreateRequest {
                user: 1,
                items: vec![item(GUROV, 1)],
                idempotency_key: "k".repeat(65),
            },
            "route256.loms.v1.OrderCreateRequest.idempotency_key",
        ),
        (
            OrderCreateRequest {
                user: 1,
                items: vec![item(GUROV, 1)],
                idempotency_key: "line\nbreak".into(),
            },
            "route256.loms.v1.OrderCreateRequest.idempotency_key",
        ),
    ];
    for (request, field) in cases {
        let status = loms.order_create(request).await.expect_err("invalid");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains(field), "{field}: {status:?}");
    }
    // 1000 positions is the most, and fine (they merge into 1000 units of a SKU with 10000 in stock)
    let most = loms
        .order_create(OrderCreateRequest {
            user: 1,
            items: vec![item(PLENTY, 1); 1000],
            idempotency_key: "k".repeat(64),
        })
        .await;
    assert!(most.is_ok(), "{most:?}");
    system.stop().await;
}

#[tokio::test]
async fn an_oversized_request_is_refused_before_decoding() {
    let system = System::start().await;
    let request = AddItemRequest {
        user: 1,
        sku: GUROV,
        count: 1,
    };
    let mut bytes = request.encode_to_vec();
    // an unknown field 15 (length-delimited) of 2 MiB: valid protobuf, too big to accept
    bytes.extend_from_slice(&[0x7a]);
    prost::encoding::encode_varint(2 * 1024 * 1024, &mut bytes);
    bytes.resize(bytes.len() + 2 * 1024 * 1024, b'x');
    let status = raw_call(
        system.cart_addr,
        "/route256.cart.v1.CartService/AddItem",
        bytes,
    )
    .await
    .expect_err("too big");
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(status.message().contains("too large"), "{status:?}");
    system.stop().await;
}

#[tokio::test]
async fn idempotency_keys_repeat_answers_refuse_other_items_and_retry_failures() {
    let system = System::start().await;
    let mut loms = system.loms().await;
    let create = |items: Vec<Item>, key: &str| OrderCreateRequest {
        user: 42,
        items,
        idempotency_key: key.to_owned(),
    };
    let first = loms
        .order_create(create(vec![item(GUROV, 2)], "k1"))
        .await
        .expect("created")
        .into_inner()
        .order_id;
    let again = loms
        .order_create(create(vec![item(GUROV, 1), item(GUROV, 1)], "k1"))
        .await
        .expect("same answer")
        .into_inner()
        .order_id;
    assert_eq!(first, again);
    assert_eq!(available(&system, GUROV).await, 298, "reserved once");

    let other = loms
        .order_create(create(vec![item(GUROV, 3)], "k1"))
        .await
        .expect_err("other items");
    assert_eq!(other.code(), Code::FailedPrecondition);
    assert!(other.message().contains("other items"), "{other:?}");

    let failed = loms
        .order_create(create(vec![item(SOLD_OUT, 1)], "k2"))
        .await
        .expect_err("sold out");
    assert_eq!(failed.code(), Code::FailedPrecondition);
    let retry = loms
        .order_create(create(vec![item(SOLD_OUT, 1)], "k2"))
        .await
        .expect_err("still sold out");
    assert_eq!(retry.code(), Code::FailedPrecondition);
    // two failed orders: the retry was a new attempt, not a replay of the failure
    let failed_orders = [first + 1, first + 2];
    for order_id in failed_orders {
        let info = loms
            .order_info(OrderInfoRequest { order_id })
            .await
            .expect("kept")
            .into_inner();
        assert_eq!(info.status(), OrderStatus::Failed);
    }
    system.stop().await;
}

#[tokio::test]
async fn invented_method_names_grow_neither_the_metrics_nor_the_warnings() {
    let system = System::start().await;
    let metrics = || async {
        reqwest::get(format!("http://{}/metrics", system.loms_http))
            .await
            .expect("answers")
            .text()
            .await
            .expect("text")
    };
    for i in 0..40 {
        let path = format!("/atk.S{i}/Method{i}");
        let status = raw_call(system.loms_addr, &path, Vec::new())
            .await
            .expect_err("no such method");
        assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    }
    let text = metrics().await;
    assert!(
        !text.contains("atk.S"),
        "an invented name became a label:\n{text}"
    );
    let unknown = text
        .lines()
        .find(|line| {
            line.starts_with("grpc_server_handled_total{grpc_service=\"unknown\",grpc_method=\"unknown\",grpc_code=\"Unimplemented\",transport=\"grpc\"}")
        })
        .unwrap_or_else(|| panic!("no count of unknown methods in\n{text}"));
    let count: f64 = unknown
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(count >= 40.0, "{unknown}");
    let warned = support::logs()
        .lines()
        .filter(|line| line.contains("WARN") && line.contains("atk.S"))
        .count();
    assert_eq!(
        warned, 0,
        "a client's invented names were logged as warnings"
    );
    system.stop().await;
}

#[tokio::test]
async fn broken_framing_is_invalid_argument_on_every_service_and_no_warning() {
    let system = System::start().await;
    // A well-formed StocksInfo / AddItem / GetProduct message of two bytes, framed.
    let message = [0x08, 0x01];
    let framed = |flag: u8, bytes: &[u8]| {
        let mut out = vec![flag];
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(bytes);
        out
    };
    let mut trailing = framed(0, &message);
    trailing.push(0);
    let mut short = framed(0, &message);
    short.pop();
    let cases: [(&str, Vec<u8>); 4] = [
        ("an empty body", Vec::new()),
        ("a message shorter than its length prefix", short),
        ("bytes after the message", trailing),
        (
            "the compressed flag without grpc-encoding",
            framed(1, &message),
        ),
    ];
    let targets = [
        (system.cart_addr, "/route256.cart.v1.CartService/List"),
        (system.loms_addr, "/route256.loms.v1.LomsService/StocksInfo"),
        (
            system.product_addr,
            "/route256.product.v1.ProductService/GetProduct",
        ),
    ];
    for (addr, path) in targets {
        for (what, body) in &cases {
            let (code, message) = framed_call(addr, path, &[], body).await;
            assert_eq!(
                code,
                Code::InvalidArgument as i32,
                "{path}, {what}: {message}"
            );
        }
    }
    let warned: Vec<_> = support::logs()
        .lines()
        .filter(|line| {
            (line.contains("WARN") || line.contains("ERROR"))
                && targets.iter().any(|(_, path)| line.contains(path))
        })
        .map(str::to_owned)
        .collect();
    assert!(
        warned.is_empty(),
        "client framing errors logged as failures: {warned:#?}"
    );
    system.stop().await;
}
