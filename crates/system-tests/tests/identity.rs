//! Who is calling, over the running services: every missing, forged or stale token is refused before
//! a handler runs, over gRPC and HTTP; a cart and an order are reachable by their owner only (support
//! staff read orders and change none); and a key rotation at the provider's JWKS URL is taken without a
//! restart.
mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use identity::mint::{key_set, now, SigningKey, TokenClaims};
use identity::{Authentication, JwksLocation, VerifySettings};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use route256_proto::cart::{
    AddItemRequest, CheckoutRequest, ClearRequest, DeleteItemRequest, ListRequest,
};
use route256_proto::loms::{
    Item, OrderCancelRequest, OrderCreateRequest, OrderInfoRequest, OrderPayRequest, OrderStatus,
};
use support::auth::{provider, support_token, token_for};
use support::{available, with_header, Settings, System, GUROV, PLENTY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

const HOUR: Duration = Duration::from_secs(3600);

/// The provider's key signing `claims` as edited.
fn claims(edit: impl FnOnce(&mut TokenClaims)) -> String {
    let mut claims = TokenClaims::for_user(1, HOUR);
    edit(&mut claims);
    provider().sign(&claims).expect("a token")
}

/// Each way a token can be wrong, with what its refusal says: (case, token, a word of the message).
fn bad_tokens() -> Vec<(&'static str, Option<String>, &'static str)> {
    let good = token_for(1);
    let (signed, _) = good.rsplit_once('.').expect("three parts");
    let (_, payload) = signed.split_once('.').expect("two parts");
    let stranger = SigningKey::generate().expect("a key");
    let foreign = stranger.token_for(1, HOUR).expect("a token");
    let foreign_signature = foreign.rsplit_once('.').expect("three parts").1;
    let kid = provider().kid();
    let header = |json: String| URL_SAFE_NO_PAD.encode(json);
    // HS256 "signed" with the public key as its secret: what a verifier confused about algorithms takes.
    let public = serde_json::to_string(provider().public_jwk()).expect("json");
    let mut hmac = Header::new(Algorithm::HS256);
    hmac.kid = Some(kid.to_owned());
    let secret = EncodingKey::from_secret(public.as_bytes()).expect("a secret");
    let hmac = jsonwebtoken::encode(&hmac, &TokenClaims::for_user(1, HOUR), &secret).expect("hmac");
    vec![
        ("no token", None, "no token"),
        ("malformed", Some("not.a.jwt".into()), "malformed"),
        (
            "another key's signature",
            Some(format!("{signed}.{foreign_signature}")),
            "signature",
        ),
        (
            "alg none",
            Some(format!(
                "{}.{payload}.",
                header(format!(r#"{{"alg":"none","kid":"{kid}"}}"#))
            )),
            "malformed",
        ),
        (
            "HMAC with the public key as its secret",
            Some(hmac),
            "HS256",
        ),
        ("expired", Some(claims(|c| c.exp = now() - 3600)), "expired"),
        (
            "not yet valid",
            Some(claims(|c| c.nbf = Some(now() + 3600))),
            "not valid yet",
        ),
        (
            "another issuer",
            Some(claims(|c| c.iss = "evil-idp".into())),
            "issuer",
        ),
        (
            "another audience",
            Some(claims(|c| c.aud = "another-shop".into())),
            "audience",
        ),
        ("an unknown key", Some(foreign), "kid"),
        (
            "a subject that is no user id",
            Some(claims(|c| c.sub = "alice".into())),
            "subject",
        ),
        ("8 KB", Some("a".repeat(8 * 1024)), "longer than"),
    ]
}

/// `message` with `authorization: Bearer <token>`, or with no credential.
fn bearing<T>(message: T, token: &Option<String>) -> tonic::Request<T> {
    match token {
        Some(token) => with_header(message, "authorization", &format!("Bearer {token}")),
        None => tonic::Request::new(message),
    }
}

async fn http(
    method: reqwest::Method,
    addr: SocketAddr,
    path: &str,
    body: Option<&str>,
    token: &Option<String>,
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().request(method, format!("http://{addr}{path}"));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// Caught with the checks removed: without cart's authentication layer every call reached its handler
/// (refused there as nobody's, not as unauthenticated); without the refusal of HMAC algorithms the
/// forgery was refused only later, for the wrong reason.
#[tokio::test]
async fn every_bad_token_is_refused_by_cart_and_loms_over_grpc_and_http_before_any_handler() {
    let system = System::start().await;
    let (mut cart, mut loms) = (system.cart_raw().await, system.loms_raw().await);
    let stock = available(&system, PLENTY).await;
    let create = || OrderCreateRequest {
        user: 1,
        items: vec![Item {
            sku: PLENTY,
            count: 1,
        }],
        idempotency_key: String::new(),
    };
    let add = AddItemRequest {
        user: 1,
        sku: PLENTY,
        count: 1,
    };
    let create_json = format!(r#"{{"user": 1, "items": [{{"sku": {PLENTY}, "count": 1}}]}}"#);
    for (case, token, says) in bad_tokens() {
        let refusals = [
            cart.add_item(bearing(add, &token)).await.map(drop),
            cart.list(bearing(ListRequest { user: 1 }, &token))
                .await
                .map(drop),
            loms.order_create(bearing(create(), &token)).await.map(drop),
            loms.order_info(bearing(OrderInfoRequest { order_id: 1 }, &token))
                .await
                .map(drop),
        ];
        for refused in refusals {
            let status = refused.expect_err(case);
            assert_eq!(status.code(), Code::Unauthenticated, "{case}: {status:?}");
            assert!(status.message().contains(says), "{case}: {status:?}");
        }
        let post = reqwest::Method::POST;
        let cart_path = format!("/user/1/cart/{PLENTY}");
        for (addr, path, body) in [
            (system.cart_http, cart_path.as_str(), r#"{"count": 1}"#),
            (system.loms_http, "/order/create", create_json.as_str()),
        ] {
            let (status, answer) = http(post.clone(), addr, path, Some(body), &token).await;
            assert_eq!(
                (status, &answer["code"]),
                (401, &16.into()),
                "{case}: {answer}"
            );
            assert!(
                answer["message"].as_str().is_some_and(|m| m.contains(says)),
                "{case}: {answer}"
            );
        }
    }
    // Nothing reached a handler: product-service was never asked, no order took stock, no cart exists.
    assert_eq!(system.product_service.served(), 0);
    assert_eq!(available(&system, PLENTY).await, stock);
    let mut own = system.cart().await;
    let empty = own
        .list(ListRequest { user: 1 })
        .await
        .expect_err("no cart");
    assert_eq!(empty.code(), Code::NotFound);
    // Tokens are not logged, nor repeated in answers.
    let logs = support::logs();
    for (case, token, _) in bad_tokens().into_iter().skip(1) {
        let token = token.expect("a token");
        assert!(
            !logs.contains(&token[..token.len().min(200)]),
            "{case}: logged"
        );
    }
    system.stop().await;
}

/// Caught with the checks removed: cart's `owner` check (every call of user 1 on user 2's cart went
/// through), loms's `NotYourUser` (user 1 ordered for user 2), `Actor::may_read` (user 1 read the order)
/// and `may_change` (support paid it).
#[tokio::test]
async fn a_users_cart_and_orders_are_theirs_alone_and_support_only_reads() {
    let system = System::start().await;
    let mut cart = system.cart_raw().await;
    let mut loms = system.loms_raw().await;
    let mut own = system.cart().await;
    own.add_item(AddItemRequest {
        user: 2,
        sku: GUROV,
        count: 2,
    })
    .await
    .expect("added");
    let order_id = own
        .checkout(CheckoutRequest { user: 2 })
        .await
        .expect("ordered")
        .into_inner()
        .order_id;
    own.add_item(AddItemRequest {
        user: 2,
        sku: GUROV,
        count: 1,
    })
    .await
    .expect("added again");

    let one = Some(token_for(1));
    let denied = |result: Result<(), tonic::Status>| {
        let status = result.expect_err("another user's cart");
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    };
    let add = AddItemRequest {
        user: 2,
        sku: GUROV,
        count: 5,
    };
    denied(cart.add_item(bearing(add, &one)).await.map(drop));
    let delete = DeleteItemRequest {
        user: 2,
        sku: GUROV,
    };
    denied(cart.delete_item(bearing(delete, &one)).await.map(drop));
    denied(
        cart.list(bearing(ListRequest { user: 2 }, &one))
            .await
            .map(drop),
    );
    denied(
        cart.clear(bearing(ClearRequest { user: 2 }, &one))
            .await
            .map(drop),
    );
    denied(
        cart.checkout(bearing(CheckoutRequest { user: 2 }, &one))
            .await
            .map(drop),
    );
    let get = reqwest::Method::GET;
    let (status, _) = http(get.clone(), system.cart_http, "/user/2/cart", None, &one).await;
    assert_eq!(status, 403);
    let create = OrderCreateRequest {
        user: 2,
        items: vec![Item {
            sku: GUROV,
            count: 1,
        }],
        idempotency_key: String::new(),
    };
    denied(loms.order_create(bearing(create, &one)).await.map(drop));
    let listed = own
        .list(ListRequest { user: 2 })
        .await
        .expect("still there");
    let items: Vec<_> = listed
        .into_inner()
        .items
        .iter()
        .map(|i| (i.sku, i.count))
        .collect();
    assert_eq!(items, [(GUROV, 1)], "user 2's cart as they left it");

    // Another user's order is not found, exactly as one that does not exist.
    let unknown = loms
        .order_info(bearing(OrderInfoRequest { order_id: 999_999 }, &one))
        .await
        .expect_err("no such order");
    let not_found = |result: Result<(), tonic::Status>, what: &str| {
        let status = result.expect_err(what);
        assert_eq!(status.code(), Code::NotFound, "{what}: {status:?}");
        assert_eq!(
            status.message(),
            unknown.message().replace("999999", &order_id.to_string()),
            "{what}: says no more than for an unknown order"
        );
    };
    let support = Some(support_token());
    for (who, token) in [("user 1", &one), ("support", &support)] {
        let pay = loms
            .order_pay(bearing(OrderPayRequest { order_id }, token))
            .await;
        not_found(pay.map(drop), &format!("{who} pays"));
        let cancel = loms
            .order_cancel(bearing(OrderCancelRequest { order_id }, token))
            .await;
        not_found(cancel.map(drop), &format!("{who} cancels"));
    }
    let info = loms
        .order_info(bearing(OrderInfoRequest { order_id }, &one))
        .await;
    not_found(info.map(drop), "user 1 reads");
    let path = format!("/order/info?orderId={order_id}");
    let (status, _) = http(get.clone(), system.loms_http, &path, None, &one).await;
    assert_eq!(status, 404);
    let read = loms
        .order_info(bearing(OrderInfoRequest { order_id }, &support))
        .await
        .expect("support reads any order")
        .into_inner();
    assert_eq!(read.user, 2);
    assert_eq!(
        read.status,
        i32::from(OrderStatus::AwaitingPayment),
        "unchanged"
    );
    let (status, _) = http(get, system.loms_http, &path, None, &Some(token_for(2))).await;
    assert_eq!(status, 200, "its owner reads it over HTTP");
    system.stop().await;
}

/// A JWKS endpoint: serves the current document with the current `Cache-Control`.
struct Jwks {
    url: String,
    document: Arc<Mutex<(String, &'static str)>>,
}

impl Jwks {
    async fn serve(keys: &[&SigningKey], cache_control: &'static str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().expect("addr")
        );
        let document = Arc::new(Mutex::new((key_set(keys), cache_control)));
        let served = document.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let (body, cache) = served.lock().expect("not poisoned").clone();
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = stream.read(&mut request).await;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: {cache}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(body.as_bytes()).await;
                });
            }
        });
        Self { url, document }
    }

    fn publish(&self, keys: &[&SigningKey], cache_control: &'static str) {
        *self.document.lock().expect("not poisoned") = (key_set(keys), cache_control);
    }
}

/// Caught with the mechanisms removed: without the read on an unknown `kid`, the new key's tokens were
/// refused for the hour the first answer allowed; without the timed read (or with the schedule not
/// moved by that read), the dropped key's tokens kept passing.
#[tokio::test]
async fn a_key_rotation_at_the_jwks_url_is_taken_without_a_restart() {
    let (old, new) = (
        SigningKey::generate().expect("a key"),
        SigningKey::generate().expect("a key"),
    );
    // The first answer may be kept an hour: only a token of an unknown key can make cart read again.
    let jwks = Jwks::serve(&[&old], "max-age=3600").await;
    let authentication = Authentication::Verify(VerifySettings {
        min_refresh: Duration::from_millis(100),
        ..VerifySettings::new(JwksLocation::Url(jwks.url.clone()))
    });
    let mut settings = Settings::default();
    settings.cart.authentication = authentication.clone();
    settings.loms.authentication = authentication.clone();
    settings.product.authentication = authentication;
    let system = System::start_with(settings).await;
    let mut cart = system.cart_raw().await;
    let list = |token: String| {
        let mut cart = cart.clone();
        async move {
            let request = with_header(
                ListRequest { user: 3 },
                "authorization",
                &format!("Bearer {token}"),
            );
            cart.list(request)
                .await
                .map(drop)
                .expect_err("an empty cart")
                .code()
        }
    };
    let (old_token, new_token) = (
        old.token_for(3, HOUR).expect("a token"),
        new.token_for(3, HOUR).expect("a token"),
    );
    // Past authentication an empty cart is NOT_FOUND.
    assert_eq!(list(old_token.clone()).await, Code::NotFound);
    assert_eq!(list(new_token.clone()).await, Code::Unauthenticated);

    jwks.publish(&[&old, &new], "max-age=1");
    support::eventually_async("the new key's token accepted", || async {
        list(new_token.clone()).await == Code::NotFound
    })
    .await;
    assert_eq!(
        list(old_token.clone()).await,
        Code::NotFound,
        "both keys for now"
    );

    jwks.publish(&[&new], "max-age=1");
    support::eventually_async("the dropped key's token refused", || async {
        list(old_token.clone()).await == Code::Unauthenticated
    })
    .await;
    assert_eq!(list(new_token.clone()).await, Code::NotFound);
    // Through cart to product-service, which read the same set: AddItem with the new key's token.
    let add = with_header(
        AddItemRequest {
            user: 3,
            sku: GUROV,
            count: 1,
        },
        "authorization",
        &format!("Bearer {new_token}"),
    );
    cart.add_item(add).await.expect("added with the new key");
    system.stop().await;
}
