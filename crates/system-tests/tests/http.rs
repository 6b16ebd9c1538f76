//! The HTTP side of the three services, with a plain HTTP/1.1 client: the contract's purchase flow
//! through the REST routes, every error status (400, 401, 404, 429, 500, 503, 504), hostile input, deadlines, request ids, health,
//! readiness, metrics, the OpenAPI document and Swagger UI.
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use storage::testing::TestDatabase;
use support::{available, Settings, System, GUROV, NIKE, SMITH, SOLD_OUT, TOKEN};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// One HTTP call: its status, and its body as JSON (`Value::Null` when it is not JSON).
async fn call(
    method: Method,
    addr: SocketAddr,
    path: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut request = client().request(method, format!("http://{addr}{path}"));
    for (key, value) in headers {
        request = request.header(*key, *value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_vec());
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let bytes = response.bytes().await.expect("a body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The user these tests act as, unless a path (`/user/N/…`) or a body (`"user": N`) names another.
const ACTOR: i64 = 7;

/// `authorization: Bearer <token>` of the user a call acts for: the one its path or body names, else
/// [`ACTOR`].
fn auth(path: &str, body: Option<&str>) -> (&'static str, String) {
    let from_path = path
        .strip_prefix("/user/")
        .and_then(|rest| rest.split('/').next())
        .and_then(|user| user.parse().ok());
    let from_body = body
        .and_then(|body| serde_json::from_str::<Value>(body).ok())
        .and_then(|body| body["user"].as_i64());
    let user = from_path.or(from_body).unwrap_or(ACTOR);
    (
        "authorization",
        format!("Bearer {}", support::auth::token_acting_for(user)),
    )
}

/// [`call`] with the token of the user it acts for ([`auth`]) and `headers`.
async fn call_as(
    method: Method,
    addr: SocketAddr,
    path: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let (key, value) = auth(path, body.and_then(|b| std::str::from_utf8(b).ok()));
    let mut all = vec![(key, value.as_str())];
    all.extend_from_slice(headers);
    call(method, addr, path, body, &all).await
}

async fn get(addr: SocketAddr, path: &str) -> (StatusCode, Value) {
    let (key, value) = auth(path, None);
    call(Method::GET, addr, path, None, &[(key, &value)]).await
}

async fn post(addr: SocketAddr, path: &str, body: &str) -> (StatusCode, Value) {
    let (key, value) = auth(path, Some(body));
    call(
        Method::POST,
        addr,
        path,
        Some(body.as_bytes()),
        &[(key, &value)],
    )
    .await
}

/// An error answer: the status and the gRPC code in the body, which has exactly the three fields.
#[track_caller]
fn assert_error(answer: &(StatusCode, Value), status: u16, code: i64) {
    let (got, body) = answer;
    assert_eq!(got.as_u16(), status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body["details"], json!([]), "{body}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(3), "{body}");
}

#[tokio::test]
async fn the_purchase_flow_over_http() {
    let system = System::start().await;
    let (cart, loms, product) = (system.cart_http, system.loms_http, system.product_http);

    // product-service: the catalogue, with the token as a header or in the body.
    let answer = post(product, "/get_product", &format!(r#"{{"sku": {SMITH}}}"#)).await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    assert_eq!(
        answer.1,
        json!({"name": "Теория нравственных чувств | Смит Адам", "price": 3379})
    );
    let in_body = format!(r#"{{"token": "{TOKEN}", "count": 2, "startAfterSku": {SMITH}}}"#);
    let answer = call(
        Method::POST,
        product,
        "/list_skus",
        Some(in_body.as_bytes()),
        &[],
    )
    .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    assert_eq!(answer.1["skus"].as_array().map(Vec::len), Some(2));
    let key = call(
        Method::POST,
        product,
        "/get_product",
        Some(br#"{"sku": 1148162}"#),
        &[("x-api-key", TOKEN)],
    )
    .await;
    assert_eq!(key.1["name"], "Кулинар Гуров");
    let no_token = r#"{"sku": 1076963}"#.as_bytes();
    assert_error(
        &call(Method::POST, product, "/get_product", Some(no_token), &[]).await,
        401,
        16,
    );
    assert_error(
        &post(product, "/get_product", r#"{"sku": 4000000000}"#).await,
        404,
        5,
    );

    // cart: add, list, delete, checkout.
    assert_eq!(
        post(cart, &format!("/user/7/cart/{SMITH}"), r#"{"count": 2}"#).await,
        (StatusCode::OK, json!({}))
    );
    assert_eq!(
        post(cart, &format!("/user/7/cart/{GUROV}"), r#"{"count": 1}"#)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        post(cart, &format!("/user/7/cart/{NIKE}"), "{\"count\": 3}")
            .await
            .0,
        StatusCode::OK
    );
    assert_error(
        &post(cart, &format!("/user/7/cart/{SOLD_OUT}"), r#"{"count": 1}"#).await,
        400,
        9,
    );
    assert_error(
        &post(cart, "/user/7/cart/4000000000", r#"{"count": 1}"#).await,
        400,
        9,
    );
    let (status, _) = call_as(
        Method::DELETE,
        cart,
        &format!("/user/7/cart/{NIKE}"),
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, list) = get(cart, "/user/7/cart").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        list,
        json!({
            "items": [
                {"sku": SMITH, "count": 2, "name": "Теория нравственных чувств | Смит Адам", "price": 3379},
                {"sku": GUROV, "count": 1, "name": "Кулинар Гуров", "price": 2931}
            ],
            "totalPrice": 2 * 3379 + 2931
        })
    );
    let no_token = call(Method::GET, cart, "/user/7/cart", None, &[]).await;
    assert_error(&no_token, 401, 16);
    let (status, order) = post(cart, "/user/7/cart/checkout", "").await;
    assert_eq!(status, StatusCode::OK, "{order}");
    let order_id = order["orderId"]
        .as_str()
        .expect("int64 as a string")
        .to_owned();
    assert_error(&get(cart, "/user/7/cart").await, 404, 5);
    assert_error(&post(cart, "/user/7/cart/checkout", "{}").await, 404, 5);

    // loms: the order, its payment, the stock.
    let (status, info) = get(loms, &format!("/order/info?orderId={order_id}")).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(
        info,
        json!({
            "status": "ORDER_STATUS_AWAITING_PAYMENT",
            "user": "7",
            "items": [{"sku": SMITH, "count": 2}, {"sku": GUROV, "count": 1}]
        })
    );
    let pay = format!(r#"{{"orderId": "{order_id}"}}"#);
    assert_eq!(
        post(loms, "/order/pay", &pay).await,
        (StatusCode::OK, json!({}))
    );
    assert_eq!(post(loms, "/order/pay", &pay).await.0, StatusCode::OK);
    let (_, info) = get(loms, &format!("/order/info?order_id={order_id}")).await;
    assert_eq!(info["status"], "ORDER_STATUS_PAYED");
    assert_error(&post(loms, "/order/cancel", &pay).await, 400, 9);
    assert_error(&get(loms, "/order/info?orderId=999999").await, 404, 5);
    let (status, stock) = get(loms, &format!("/stock/info?sku={GUROV}")).await;
    assert_eq!((status, stock), (StatusCode::OK, json!({"count": "299"})));
    assert_error(&get(loms, "/stock/info?sku=4000000000").await, 404, 5);

    // A created order is cancelled over HTTP too, and loms refuses what cannot be reserved.
    let create = format!(r#"{{"user": {ACTOR}, "items": [{{"sku": {GUROV}, "count": 2}}]}}"#);
    let (status, created) = post(loms, "/order/create", &create).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let cancel = json!({"orderId": created["orderId"]}).to_string();
    assert_eq!(post(loms, "/order/cancel", &cancel).await.0, StatusCode::OK);
    let short = format!(r#"{{"user": 8, "items": [{{"sku": {SOLD_OUT}, "count": 1}}]}}"#);
    assert_error(&post(loms, "/order/create", &short).await, 400, 9);
    system.stop().await;
    // The token went as a header and in bodies, to every service, over debug-level logs.
    assert!(!support::logs().contains(TOKEN), "a token reached the logs");
}

#[tokio::test]
async fn rate_limit_deadline_and_unavailable_statuses() {
    // product-service at one call per second: the second call at once is refused.
    let mut settings = Settings::default();
    settings.product.rps = 1;
    settings.product.burst = 1;
    let system = System::start_with(settings).await;
    let body = format!(r#"{{"sku": {SMITH}}}"#);
    assert_eq!(
        post(system.product_http, "/get_product", &body).await.0,
        StatusCode::OK
    );
    assert_error(
        &post(system.product_http, "/get_product", &body).await,
        429,
        8,
    );
    system.stop().await;

    // The caller's deadline in x-timeout-ms, shorter than product-service takes.
    let mut settings = Settings::default();
    settings.product.latency = Duration::from_secs(5);
    let system = System::start_with(settings).await;
    let late = call_as(
        Method::POST,
        system.cart_http,
        &format!("/user/1/cart/{SMITH}"),
        Some(br#"{"count": 1}"#),
        &[("x-timeout-ms", "100")],
    )
    .await;
    assert_error(&late, 504, 4);
    system.stop().await;

    // loms unreachable: cart answers 503, and is not ready.
    let mut settings = Settings::default();
    settings.cart.loms_url = "http://127.0.0.1:1".to_owned();
    let system = System::start_with(settings).await;
    let answer = post(
        system.cart_http,
        &format!("/user/1/cart/{SMITH}"),
        r#"{"count": 1}"#,
    )
    .await;
    assert_error(&answer, 503, 14);
    let ready = client()
        .get(format!("http://{}/readyz", system.cart_http))
        .send()
        .await
        .expect("answers");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let reason = ready.text().await.expect("text");
    assert!(reason.contains("LomsService"), "{reason}");
    system.stop().await;
}

#[tokio::test]
async fn a_broken_database_is_a_500_whose_cause_stays_in_the_log() {
    // loms on a database of its own, whose order positions table then goes missing under it.
    let database = TestDatabase::create("loms", "127.0.0.1:6433");
    let mut settings = Settings::default();
    settings.loms.storage = loms::config::Storage::Postgres(database.settings().clone());
    let system = System::start_with(settings).await;
    let create = format!(r#"{{"user": {ACTOR}, "items": [{{"sku": {GUROV}, "count": 1}}]}}"#);
    let (status, created) = post(system.loms_http, "/order/create", &create).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let renamed = std::process::Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-q",
            "-d",
            database.name(),
            "-c",
        ])
        .arg("ALTER TABLE order_items RENAME TO order_items_gone")
        .status()
        .expect("psql runs");
    assert!(renamed.success());

    let answer = get(
        system.loms_http,
        &format!(
            "/order/info?orderId={}",
            created["orderId"].as_str().expect("id")
        ),
    )
    .await;
    assert_error(&answer, 500, 13);
    assert_eq!(
        answer.1["message"], "internal error",
        "the cause is not sent"
    );
    assert!(
        support::logs().contains("order_items"),
        "the cause is logged"
    );
    system.stop().await;
    database.drop_now();
}

#[tokio::test]
async fn hostile_input_gets_a_clear_4xx_never_a_5xx() {
    let system = System::start().await;
    let oversized = vec![b' '; 2 * 1024 * 1024];
    let long_key = format!(
        r#"{{"user": 1, "items": [{{"sku": 1, "count": 1}}], "idempotencyKey": "{}"}}"#,
        "k".repeat(65)
    );
    let bomb = format!("{}{}", "[".repeat(10000), "]".repeat(10000));
    let (long_key, bomb) = (long_key.as_bytes(), bomb.as_bytes());
    // (what, "METHOD service path" with `{sku}` for a real SKU, body, expected status): a case a line.
    #[rustfmt::skip]
    let cases: [(&str, &str, Option<&[u8]>, u16); 31] = [
        ("malformed json", "POST cart /user/1/cart/{sku}", Some(b"{\"count\": "), 400),
        ("not an object", "POST cart /user/1/cart/{sku}", Some(b"[1]"), 400),
        ("unknown field", "POST cart /user/1/cart/{sku}", Some(br#"{"count": 1, "colour": "red"}"#), 400),
        ("wrong type", "POST cart /user/1/cart/{sku}", Some(br#"{"count": "many"}"#), 400),
        ("count 70000", "POST cart /user/1/cart/{sku}", Some(br#"{"count": 70000}"#), 400),
        ("count past uint32", "POST cart /user/1/cart/{sku}", Some(br#"{"count": 4294967296}"#), 400),
        ("duplicate key", "POST cart /user/1/cart/{sku}", Some(br#"{"count": 60000, "count": 1}"#), 400),
        ("count negative", "POST cart /user/1/cart/{sku}", Some(br#"{"count": -1}"#), 400),
        ("count fractional", "POST cart /user/1/cart/{sku}", Some(br#"{"count": 1.5}"#), 400),
        ("negative user", "POST cart /user/-5/cart/{sku}", Some(br#"{"count": 1}"#), 400),
        ("user past int64", "GET cart /user/9223372036854775808/cart", None, 400),
        ("sku past uint32", "DELETE cart /user/1/cart/4294967296", None, 400),
        ("sku not a number", "DELETE cart /user/1/cart/abc", None, 400),
        ("path and body users differ", "POST cart /user/1/cart/{sku}", Some(br#"{"user": 2, "count": 1}"#), 400),
        ("invalid utf-8 in the body", "POST cart /user/1/cart/{sku}", Some(b"{\"count\": 1, \"x\": \"\xff\xfe\"}"), 400),
        ("invalid utf-8 in the path", "GET cart /user/%FF/cart", None, 404),
        ("a body where none is taken", "GET cart /user/1/cart", Some(b"{}"), 400),
        ("oversized body", "POST cart /user/1/cart/{sku}", Some(&oversized), 413),
        ("unknown route", "GET cart /admin", None, 404),
        ("unknown method", "PUT cart /user/1/cart", None, 405),
        ("an odd method", "BREW cart /user/1/cart", None, 405),
        ("order id negative", "GET loms /order/info?orderId=-1", None, 400),
        ("order id past int64", "GET loms /order/info?orderId=99999999999999999999", None, 400),
        ("order id missing", "GET loms /order/info", None, 400),
        ("unknown query parameter", "GET loms /stock/info?sku=1&shop=2", None, 400),
        ("query on a body route", "POST loms /order/pay?orderId=1", Some(b"{}"), 400),
        ("no items", "POST loms /order/create", Some(br#"{"user": 1, "items": []}"#), 400),
        ("idempotency key too long", "POST loms /order/create", Some(long_key), 400),
        ("nesting bomb", "POST loms /order/create", Some(bomb), 400),
        ("list count too large", "POST product /list_skus", Some(br#"{"count": 1001}"#), 400),
        ("sku zero", "POST product /get_product", Some(br#"{"sku": 0}"#), 400),
    ];
    let (cart, loms, product) = (system.cart_http, system.loms_http, system.product_http);
    for (what, request, body, status) in cases {
        let words: Vec<&str> = request.split(' ').collect();
        let [method, service, path] = words[..] else {
            panic!("{what}: not METHOD service path: {request}")
        };
        let method = Method::from_bytes(method.as_bytes()).expect("a method");
        let addr = match service {
            "cart" => cart,
            "loms" => loms,
            "product" => product,
            other => panic!("{what}: no service {other}"),
        };
        let path = path.replace("{sku}", &SMITH.to_string());
        let answer = call_as(method, addr, &path, body, &[]).await;
        assert_eq!(answer.0.as_u16(), status, "{what}: {}", answer.1);
        assert!(
            answer.1["code"].as_i64().is_some(),
            "{what}: error body {}",
            answer.1
        );
        assert!(answer.1["message"].is_string(), "{what}: {}", answer.1);
    }
    // Still serving.
    assert_eq!(
        get(loms, &format!("/stock/info?sku={SMITH}")).await.0,
        StatusCode::OK
    );
    system.stop().await;
}

#[tokio::test]
async fn a_page_elsewhere_cannot_place_an_order() {
    let system = System::start().await;
    let before = available(&system, GUROV).await;
    // What a web page may send any origin without asking it first: text or a form, no custom header.
    for kind in ["text/plain", "application/x-www-form-urlencoded"] {
        let response = client()
            .post(format!("http://{}/order/create", system.loms_http))
            .header("content-type", kind)
            .body(format!(
                r#"{{"user": 1, "items": [{{"sku": {GUROV}, "count": 1}}]}}"#
            ))
            .send()
            .await
            .expect("answers");
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{kind}"
        );
    }
    assert_eq!(
        available(&system, GUROV).await,
        before,
        "an order was placed"
    );
    system.stop().await;
}

#[tokio::test]
async fn request_ids_and_metrics_follow_http_calls() {
    let system = System::start().await;
    let response = client()
        .get(format!("http://{}/stock/info?sku={NIKE}", system.loms_http))
        .header("x-request-id", "http-test-1")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.headers()["x-request-id"], "http-test-1");
    assert!(support::logs().contains("http-test-1"));

    // One call each way, then both show per RPC, by code and transport, with a latency histogram.
    let mut loms = system.loms().await;
    loms.stocks_info(route256_proto::loms::StocksInfoRequest { sku: 4_000_000_001 })
        .await
        .expect_err("unknown sku");
    get(system.loms_http, "/stock/info?sku=4000000001").await;
    let metrics = client()
        .get(format!("http://{}/metrics", system.loms_http))
        .send()
        .await
        .expect("answers");
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.expect("text");
    for transport in ["grpc", "http"] {
        let line = format!(
            "grpc_server_handled_total{{grpc_service=\"route256.loms.v1.LomsService\",grpc_method=\"StocksInfo\",grpc_code=\"NotFound\",transport=\"{transport}\"}}"
        );
        assert!(text.contains(&line), "no {line} in\n{text}");
    }
    assert!(text.contains("grpc_server_handling_seconds_bucket{grpc_service=\"route256.loms.v1.LomsService\",grpc_method=\"StocksInfo\",transport=\"http\",le=\"0.005\"}"), "{text}");
    assert!(text.contains("process_resident_memory_bytes"), "{text}");
    // The runtime's own figures, read as the page is rendered: it has workers, and they have worked.
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    };
    assert!(value("tokio_runtime_workers") >= 1.0);
    assert!(value("tokio_runtime_busy_seconds") > 0.0);
    assert!(value("tokio_runtime_alive_tasks") >= 1.0);
    // A request refused before any call is counted too.
    get(system.loms_http, "/no/such/route").await;
    let text = client()
        .get(format!("http://{}/metrics", system.loms_http))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains("http_gateway_refused_total{status=\"404\"}"),
        "{text}"
    );
    system.stop().await;
}

#[tokio::test]
async fn health_readiness_and_draining() {
    let mut settings = Settings::default();
    settings.loms.limits.drain_delay = Duration::from_secs(5);
    let system = System::start_with(settings).await;
    let probe = |path: &'static str| {
        let url = format!("http://{}{path}", system.loms_http);
        async move {
            let response = client().get(url).send().await.expect("answers");
            (response.status(), response.text().await.expect("text"))
        }
    };
    assert_eq!(probe("/healthz").await, (StatusCode::OK, "ok".to_owned()));
    assert_eq!(probe("/readyz").await, (StatusCode::OK, "ready".to_owned()));
    for addr in [system.cart_http, system.product_http] {
        let ready = client()
            .get(format!("http://{addr}/readyz"))
            .send()
            .await
            .expect("answers");
        assert_eq!(ready.status(), StatusCode::OK);
    }

    // Shutdown begins: not ready, but still alive and serving calls until the delay ends.
    system.begin_stop();
    support::eventually_async("loms reports draining", || async {
        probe("/readyz").await == (StatusCode::SERVICE_UNAVAILABLE, "draining".to_owned())
    })
    .await;
    assert_eq!(probe("/healthz").await.0, StatusCode::OK);
    assert_eq!(
        get(system.loms_http, &format!("/stock/info?sku={NIKE}"))
            .await
            .0,
        StatusCode::OK
    );
    system.stop().await;
}

#[tokio::test]
async fn openapi_and_swagger_ui_are_served() {
    let system = System::start().await;
    let (status, doc) = get(system.cart_http, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/user/{user}/cart/{sku}", "post"),
        ("/user/{user}/cart/{sku}", "delete"),
        ("/user/{user}/cart", "get"),
        ("/user/{user}/cart", "delete"),
        ("/user/{user}/cart/checkout", "post"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    let response = client()
        .get(format!("http://{}/swagger", system.cart_http))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(response.headers()["location"], "/swagger/");
    let page = client()
        .get(format!("http://{}/swagger/", system.cart_http))
        .send()
        .await
        .expect("answers");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.expect("html").contains("swagger-ui"));
    let init = client()
        .get(format!(
            "http://{}/swagger/swagger-initializer.js",
            system.cart_http
        ))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("js");
    assert!(init.contains("/openapi.json"), "{init}");
    system.stop().await;
}

/// Every RPC of the contract has a route (moved from the gateway crate, which knows no contract).
#[test]
fn every_contract_rpc_has_a_route() {
    let pool = prost_reflect::DescriptorPool::decode(route256_proto::FILE_DESCRIPTOR_SET)
        .expect("the contract's descriptor set");
    for service in [
        "route256.cart.v1.CartService",
        "route256.loms.v1.LomsService",
        "route256.product.v1.ProductService",
    ] {
        let served = gateway::routes(&pool, &[service]).expect("routes");
        let descriptor = pool.get_service_by_name(service).expect("service");
        assert_eq!(served.len(), descriptor.methods().len(), "{service}");
    }
}

/// A path names a resource by its most specific template: `/user/1/cart/checkout` is the checkout,
/// so DELETE is refused with the methods the checkout takes, not taken for DeleteItem of SKU
/// "checkout".
#[tokio::test]
async fn the_most_specific_route_wins() {
    let system = System::start().await;
    let cart = system.cart_http;
    let response = client()
        .delete(format!("http://{cart}/user/1/cart/checkout"))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
    // DELETE of the cart itself is Clear; of a SKU in it, DeleteItem.
    let added = post(cart, &format!("/user/1/cart/{GUROV}"), r#"{"count": 1}"#).await;
    assert_eq!(added.0, StatusCode::OK, "{}", added.1);
    let added = post(cart, &format!("/user/1/cart/{SMITH}"), r#"{"count": 1}"#).await;
    assert_eq!(added.0, StatusCode::OK, "{}", added.1);
    let deleted = call_as(
        Method::DELETE,
        cart,
        &format!("/user/1/cart/{SMITH}"),
        None,
        &[],
    )
    .await;
    assert_eq!(deleted.0, StatusCode::OK, "{}", deleted.1);
    let (status, list) = get(cart, "/user/1/cart").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    let cleared = call_as(Method::DELETE, cart, "/user/1/cart", None, &[]).await;
    assert_eq!(cleared.0, StatusCode::OK, "{}", cleared.1);
    let (status, list) = get(cart, "/user/1/cart").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{list}");
    system.stop().await;
}

/// loms's OpenAPI document states the contract's validation rules.
#[tokio::test]
async fn openapi_of_the_contract_states_its_validation() {
    let system = System::start().await;
    let (status, doc) = get(system.loms_http, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let create = &doc["paths"]["/order/create"]["post"]["requestBody"];
    assert_eq!(create["required"], true);
    let schema = &doc["components"]["schemas"]["route256.loms.v1.OrderCreateRequest"];
    assert_eq!(schema["properties"]["user"]["minimum"], 1);
    assert_eq!(schema["properties"]["user"]["type"], "integer");
    assert_eq!(schema["properties"]["items"]["minItems"], 1);
    assert_eq!(schema["properties"]["items"]["maxItems"], 1000);
    assert_eq!(schema["properties"]["idempotencyKey"]["maxLength"], 64);
    assert_eq!(schema["required"], json!(["user", "items"]));
    let item = &doc["components"]["schemas"]["route256.loms.v1.Item"];
    assert_eq!(item["properties"]["count"]["minimum"], 1);
    assert_eq!(item["properties"]["count"]["maximum"], 65535);
    let info = &doc["paths"]["/order/info"]["get"]["parameters"][0];
    assert_eq!(info["name"], "orderId");
    assert_eq!(info["in"], "query");
    assert_eq!(info["required"], true);
    let answer = &doc["components"]["schemas"]["route256.loms.v1.OrderInfoResponse"];
    assert_eq!(answer["properties"]["user"]["type"], "string");
    system.stop().await;
}
