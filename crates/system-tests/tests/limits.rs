//! The server limits seen from clients: calls past the in-flight limits are shed at once with
//! RESOURCE_EXHAUSTED (never queued), slots come back when a call ends or is abandoned, an abandoned
//! call stops the work it started downstream; calls that never finish arriving hold no slot and cannot
//! keep a stopping server past its drain deadline; a silent connection is closed soon; callers that
//! cancel at once close no connection for the others.
mod support;

use std::time::Duration;

use prost::Message as _;
use route256_proto::cart::{AddItemRequest, ClearRequest};
use route256_proto::loms::StocksInfoRequest;
use support::{authed, eventually, hold_partial_calls, Settings, System, GUROV};
use tonic::Code;

const STOCKS_INFO: &str = "/route256.loms.v1.LomsService/StocksInfo";

/// product-service answers only after 60 s, so a cart AddItem holds its slot until the test drops it.
fn slow_upstream() -> Settings {
    let mut settings = Settings::default();
    settings.product.latency = Duration::from_secs(60);
    settings.cart.upstream_timeout = Duration::from_secs(120);
    settings
}

type CartClient = support::clients::Cart;

/// An AddItem that holds its slot for a minute (see [`slow_upstream`]).
fn block(mut client: CartClient) -> tokio::task::JoinHandle<Result<(), tonic::Status>> {
    tokio::spawn(async move {
        let request = authed(AddItemRequest {
            user: 2,
            sku: GUROV,
            count: 1,
        });
        client.add_item(request).await.map(|_| ())
    })
}

/// Holds a blocking AddItem on `blocker` and calls Clear on `probe` until a Clear is shed; returns that
/// status and the blocking call. A probe in flight may itself take the only slot and get the blocker
/// shed: then the blocker is sent again. Fails the test if no Clear is ever shed.
async fn shed_while_blocked(
    blocker: &CartClient,
    probe: &mut CartClient,
) -> (
    tonic::Status,
    tokio::task::JoinHandle<Result<(), tonic::Status>>,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut blocked = block(blocker.clone());
    loop {
        assert!(tokio::time::Instant::now() < deadline, "never shed");
        if blocked.is_finished() {
            let lost = blocked.await.expect("task").expect_err("a minute long");
            assert_eq!(lost.code(), Code::ResourceExhausted, "{lost:?}");
            blocked = block(blocker.clone());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        if let Err(status) = probe.clear(ClearRequest { user: 1 }).await {
            return (status, blocked);
        }
    }
}

#[tokio::test]
async fn past_the_server_limit_calls_are_shed_and_the_slot_comes_back() {
    let mut settings = slow_upstream();
    settings.cart.limits.max_in_flight = 1;
    let system = System::start_with(settings).await;

    // The probe on another connection: the limit is the whole server's.
    let blocker = system.cart().await;
    let mut cart = system.cart().await;
    let (shed, blocked) = shed_while_blocked(&blocker, &mut cart).await;
    assert_eq!(shed.code(), Code::ResourceExhausted, "{shed:?}");
    assert!(shed.message().contains("server busy"), "{shed:?}");

    // The caller gives up: cart logs the abandoned call, and product-service sees its own call end.
    blocked.abort();
    eventually("cart logs the abandoned AddItem", || {
        support::logs().lines().any(|l| {
            l.contains("call abandoned") && l.contains("/route256.cart.v1.CartService/AddItem")
        })
    })
    .await;
    eventually("product-service logs its abandoned GetProduct", || {
        support::logs().lines().any(|l| {
            l.contains("call abandoned")
                && l.contains("/route256.product.v1.ProductService/GetProduct")
        })
    })
    .await;
    // ...and the slot is free again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while let Err(status) = cart.clear(ClearRequest { user: 1 }).await {
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(tokio::time::Instant::now() < deadline, "slot never freed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    system.stop().await;
}

#[tokio::test]
async fn past_the_connection_limit_calls_are_shed_other_connections_go_on() {
    let mut settings = slow_upstream();
    settings.cart.limits.max_in_flight_per_connection = 1;
    let system = System::start_with(settings).await;

    let mut cart = system.cart().await;
    let blocker = cart.clone(); // the same connection
    let (shed, blocked) = shed_while_blocked(&blocker, &mut cart).await;
    assert_eq!(shed.code(), Code::ResourceExhausted, "{shed:?}");
    assert!(shed.message().contains("this connection"), "{shed:?}");

    let mut elsewhere = system.cart().await;
    elsewhere
        .clear(ClearRequest { user: 1 })
        .await
        .expect("another connection has slots of its own");

    blocked.abort();
    system.stop().await;
}

#[tokio::test]
async fn idle_connections_are_closed_busy_ones_are_not() {
    use tokio::io::AsyncReadExt;

    let mut settings = Settings::default();
    settings.product.limits.idle_timeout = Duration::from_millis(300);
    settings.product.latency = Duration::from_millis(900);
    let system = System::start_with(settings).await;

    // A connection that never makes a call is closed by the server.
    let mut idle = tokio::net::TcpStream::connect(system.product_addr)
        .await
        .expect("connects");
    let mut buffer = [0u8; 256];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(20), idle.read(&mut buffer))
            .await
            .expect("the server closed the idle connection");
        match read {
            Ok(0) | Err(_) => break,
            Ok(_) => {} // the server's HTTP/2 settings
        }
    }

    // A call that lasts three idle timeouts keeps its connection.
    let mut product = system.product().await;
    product
        .get_product(route256_proto::product::GetProductRequest {
            token: support::TOKEN.into(),
            sku: GUROV,
        })
        .await
        .expect("answered on a busy connection");
    system.stop().await;
}

#[tokio::test]
async fn a_call_that_never_arrives_cannot_keep_a_stopping_server_alive() {
    let mut settings = Settings::default();
    settings.loms.limits.drain_timeout = Duration::from_secs(1);
    let system = System::start_with(settings).await;
    let held = hold_partial_calls(
        system.loms_addr,
        "/route256.loms.v1.LomsService/StocksInfo",
        1,
    )
    .await;
    let ended = tokio::time::timeout(Duration::from_secs(60), system.stop_results())
        .await
        .expect("every server stops by its drain deadline");
    let [product, loms, cart] = &ended[..] else {
        panic!("three servers: {ended:?}")
    };
    assert!(
        matches!(
            loms,
            Err(server::grpc::ServeError::DrainTimedOut { open: 1, .. })
        ),
        "{loms:?}"
    );
    assert!(product.is_ok() && cart.is_ok(), "{ended:?}");
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_that_never_finish_arriving_lock_nobody_out() {
    let mut settings = Settings::default();
    // Longer than the test: the held calls are still waiting for their messages when the probes run.
    settings.loms.limits.read_timeout = Duration::from_secs(300);
    let system = System::start_with(settings).await;
    // As many as the server admits at once: 4 connections at the per-connection limit.
    let limits = server::grpc::ServerLimits::default();
    let per_connection = limits.max_in_flight_per_connection;
    let connections = limits.max_in_flight / per_connection;
    let mut held = Vec::new();
    for _ in 0..connections {
        held.push(hold_partial_calls(system.loms_addr, STOCKS_INFO, per_connection).await);
    }
    let mut loms = system.loms().await;
    loms.stocks_info(StocksInfoRequest { sku: GUROV })
        .await
        .expect("a gRPC call is served while the partial ones are held");
    let http = reqwest::get(format!(
        "http://{}/stock/info?sku={GUROV}",
        system.loms_http
    ))
    .await
    .expect("answers");
    assert_eq!(http.status(), reqwest::StatusCode::OK);
    drop(held);
    system.stop().await;
}

#[tokio::test]
async fn a_connection_that_never_sends_a_byte_is_closed_soon() {
    use tokio::io::AsyncReadExt;
    let mut settings = Settings::default();
    settings.loms.limits.read_timeout = Duration::from_secs(1);
    let system = System::start_with(settings).await;
    for addr in [system.loms_addr, system.loms_http] {
        let mut silent = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        let mut buffer = Vec::new();
        // The server may greet (HTTP/2 SETTINGS) before it closes: read to the end.
        tokio::time::timeout(Duration::from_secs(30), silent.read_to_end(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("{addr} kept a silent connection open"))
            .expect("closed cleanly");
    }
    system.stop().await;
}

#[tokio::test]
async fn callers_that_give_up_at_once_close_no_connection_for_others() {
    let system = System::start().await;
    let tcp = tokio::net::TcpStream::connect(system.loms_addr)
        .await
        .expect("connects");
    let (client, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    let connection = tokio::spawn(connection);
    let request = || {
        http::Request::post(format!("http://{}{STOCKS_INFO}", system.loms_addr))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .expect("request")
    };
    // What clients with tiny deadlines do: open a call and cancel it at once, 200 times, in a burst
    // the server reads before it has taken up the calls.
    let mut client = client;
    for _ in 0..200 {
        client = client.ready().await.expect("the connection is still open");
        let (_answer, mut sent) = client.send_request(request(), false).expect("sent");
        sent.send_reset(h2::Reason::CANCEL);
    }
    // A whole call on the same connection is still served.
    client = client.ready().await.expect("the connection is still open");
    let (answer, mut sent) = client.send_request(request(), false).expect("sent");
    let message = StocksInfoRequest { sku: GUROV }.encode_to_vec();
    let mut framed = vec![0];
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(&message);
    sent.send_data(framed.into(), true).expect("message sent");
    let answer = answer.await.expect("answered, not GOAWAY");
    let mut body = answer.into_body();
    while let Some(data) = body.data().await {
        let data = data.expect("data");
        let _ = body.flow_control().release_capacity(data.len());
    }
    let trailers = body.trailers().await.expect("trailers").expect("trailers");
    assert_eq!(trailers["grpc-status"], "0");
    assert!(!connection.is_finished(), "the connection was closed");
    connection.abort();
    system.stop().await;
}
