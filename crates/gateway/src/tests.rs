//! The gateway over a test service (`testdata/gateway_test.proto`) that uses every binding feature;
//! calls go to a fake in-process service that answers from the request message, so each test sees
//! exactly what the gateway built and how it rendered the answer. The gateway over Route256's own
//! contract is tested where the contract is known: `crates/system-tests/tests/http.rs`.
use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes};
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, Value};

use super::*;

/// The headers the fixture's server lets through.
const HEADERS: Headers = Headers {
    credentials: &["authorization"],
    echoed: &["x-request-id"],
    forwarded: &["traceparent"],
};
const FIXTURE: &[u8] = include_bytes!("../testdata/gateway_test.binpb");
const SHELVES: &str = "route256.testing.v1.Shelves";

fn fixture() -> DescriptorPool {
    DescriptorPool::decode(FIXTURE).expect("fixture descriptor set")
}

/// What the fake service saw of the last call.
#[derive(Default, Clone)]
struct Seen {
    path: String,
    message: Option<DynamicMessage>,
    headers: http::HeaderMap,
}

/// A fake gRPC service: decodes the request as `rpc`'s input, records it, and answers with `reply`'s
/// message or status.
fn fake(
    pool: DescriptorPool,
    seen: Arc<Mutex<Seen>>,
    reply: impl Fn(&str, &DynamicMessage) -> Result<DynamicMessage, tonic::Status>
        + Clone
        + Send
        + Sync
        + 'static,
) -> CallService {
    CallService::new(tower::service_fn(
        move |request: http::Request<tonic::body::Body>| {
            let (pool, seen, reply) = (pool.clone(), seen.clone(), reply.clone());
            async move {
                let (parts, body) = request.into_parts();
                let mut data = body.collect().await.expect("request body").to_bytes();
                assert_eq!(parts.headers["content-type"], "application/grpc");
                assert_eq!(data.get_u8(), 0, "not compressed");
                let length = data.get_u32() as usize;
                assert_eq!(data.len(), length, "one whole message");
                let path = parts.uri.path().to_owned();
                let (service, method) = path[1..].split_once('/').expect("grpc path");
                let rpc = pool
                    .get_service_by_name(service)
                    .and_then(|s| s.methods().find(|m| m.name() == method))
                    .expect("known rpc");
                let message = DynamicMessage::decode(rpc.input(), data).expect("decodes");
                *seen.lock().expect("lock") = Seen {
                    path: path.clone(),
                    message: Some(message.clone()),
                    headers: parts.headers.clone(),
                };
                let response = match reply(method, &message) {
                    Ok(answer) => {
                        let bytes = answer.encode_to_vec();
                        let mut framed = vec![0];
                        framed.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
                        framed.extend_from_slice(&bytes);
                        let trailers = {
                            let mut map = http::HeaderMap::new();
                            map.insert("grpc-status", "0".parse().expect("header"));
                            map
                        };
                        let body = Full::new(Bytes::from(framed)).with_trailers(async move {
                            Some(Ok::<_, std::convert::Infallible>(trailers))
                        });
                        let mut response = http::Response::new(tonic::body::Body::new(body));
                        let headers = response.headers_mut();
                        headers.insert("x-request-id", "from-the-call".parse().expect("header"));
                        // A call that echoes the credential: it must not reach the HTTP client.
                        headers.insert("authorization", "Bearer echoed".parse().expect("header"));
                        response
                    }
                    Err(status) => status.into_http(),
                };
                Ok::<_, std::convert::Infallible>(response)
            }
        },
    ))
}

fn book(pool: &DescriptorPool, id: i64, title: &str) -> DynamicMessage {
    let mut book = DynamicMessage::new(
        pool.get_message_by_name("route256.testing.v1.Book")
            .expect("Book"),
    );
    book.set_field_by_name("id", Value::I64(id));
    book.set_field_by_name("title", Value::String(title.to_owned()));
    book
}

/// The fixture's gateway answering every RPC with a book (or the message's own echo) and recording
/// the calls.
fn shelves() -> (Gateway, Arc<Mutex<Seen>>) {
    let pool = fixture();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let answers = pool.clone();
    let service = fake(pool.clone(), seen.clone(), move |method, request| {
        let output = answers
            .get_service_by_name(SHELVES)
            .and_then(|s| s.methods().find(|m| m.name() == method))
            .expect("rpc")
            .output();
        Ok(match method {
            "GetBook" | "UpdateBook" => book(&answers, i64::MAX, "Stranded"),
            "MoveBook" => {
                let mut out = DynamicMessage::new(output);
                out.set_field_by_name("book", Value::Message(book(&answers, 7, "moved")));
                out.set_field_by_name("moves", Value::U32(3));
                out
            }
            "DeleteShelf"
                if request.get_field_by_name("force").and_then(|v| v.as_bool()) == Some(false) =>
            {
                return Err(tonic::Status::failed_precondition("the shelf holds books"))
            }
            _ => DynamicMessage::new(output),
        })
    });
    let routes = routes(&pool, &[SHELVES]).expect("routes");
    (Gateway::new(routes, service, 1024, HEADERS), seen)
}

/// Sends `body` as JSON (with no Content-Type when it is empty).
async fn send(
    gateway: &Gateway,
    method: Method,
    uri: &str,
    body: &'static [u8],
) -> (StatusCode, serde_json::Value, http::HeaderMap) {
    let kind = (!body.is_empty()).then_some("application/json");
    send_typed(gateway, method, uri, kind, body).await
}

async fn send_typed(
    gateway: &Gateway,
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: &'static [u8],
) -> (StatusCode, serde_json::Value, http::HeaderMap) {
    let mut request = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", "Bearer secret")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("x-timeout-ms", "1500");
    if let Some(kind) = content_type {
        request = request.header("content-type", kind);
    }
    let request = request
        .body(Full::new(Bytes::from_static(body)))
        .expect("request");
    let response = gateway.handle(request).await;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{uri}: not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, json, headers)
}

fn seen_json(seen: &Arc<Mutex<Seen>>) -> serde_json::Value {
    let message = seen.lock().expect("lock").message.clone().expect("a call");
    let bytes = transcode::response_json(&message.descriptor(), &message.encode_to_vec(), None)
        .expect("json");
    serde_json::from_slice(&bytes).expect("json")
}

use prost_reflect::ReflectMessage as _;

#[tokio::test]
async fn nested_path_fields_and_additional_bindings() {
    let (gateway, seen) = shelves();
    let (status, body, headers) =
        send(&gateway, Method::GET, "/v1/shelves/fiction/books/42", b"").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        serde_json::json!({"id": "9223372036854775807", "title": "Stranded", "genre": "GENRE_UNSPECIFIED", "pages": 0})
    );
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-request-id"], "from-the-call");
    assert!(
        headers.get("authorization").is_none(),
        "a credential is passed on, never back"
    );
    assert_eq!(
        seen.lock().expect("lock").path,
        "/route256.testing.v1.Shelves/GetBook"
    );
    assert_eq!(
        seen_json(&seen),
        serde_json::json!({"shelf": "fiction", "book": {"id": "42"}})
    );

    // The additional binding reaches the same RPC.
    let (status, _, _) = send(&gateway, Method::GET, "/v1/books/43", b"").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        seen_json(&seen),
        serde_json::json!({"shelf": "", "book": {"id": "43"}})
    );
}

#[tokio::test]
async fn put_takes_a_field_body_and_patch_the_whole() {
    let (gateway, seen) = shelves();
    let (status, _, _) = send(
        &gateway,
        Method::PUT,
        "/v1/shelves/poems/books/5",
        br#"{"title": "Odes", "genre": "GENRE_POETRY"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        seen_json(&seen),
        serde_json::json!({"shelf": "poems", "book": {"id": "5"}, "patch": {"title": "Odes", "genre": "GENRE_POETRY"}})
    );
    let (status, _, _) = send(
        &gateway,
        Method::PATCH,
        "/v1/shelves/poems/books/5",
        br#"{"patch": {"genre": 1}}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        seen_json(&seen),
        serde_json::json!({"shelf": "poems", "book": {"id": "5"}, "patch": {"title": "", "genre": "GENRE_NOVEL"}})
    );
}

#[tokio::test]
async fn custom_verbs_multi_segment_variables_and_response_body() {
    let (gateway, seen) = shelves();
    let (status, body, _) = send(
        &gateway,
        Method::POST,
        "/v1/shelves/a/books/b:move",
        br#"{"toShelf": "c"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // response_body: "book" answers that field only.
    assert_eq!(body["title"], "moved");
    assert!(body.get("moves").is_none());
    assert_eq!(
        seen_json(&seen),
        serde_json::json!({"name": "shelves/a/books/b", "toShelf": "c"})
    );
}

#[tokio::test]
async fn query_parameters_fill_nested_repeated_and_enum_fields() {
    let (gateway, seen) = shelves();
    let (status, _, _) = send(
        &gateway,
        Method::GET,
        "/v1/search?title=war+and%20peace&genres=GENRE_NOVEL&genres=2&min_pages=10&page.size=5&page.token=x&maxPrice=9.5",
        b"",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        seen_json(&seen),
        serde_json::json!({
            "title": "war and peace",
            "genres": ["GENRE_NOVEL", "GENRE_POETRY"],
            "minPages": 10,
            "page": {"size": 5, "token": "x"},
            "maxPrice": 9.5
        })
    );
    for bad in [
        "/v1/search?page=1",
        "/v1/search?genres=GENRE_NONE",
        "/v1/search?minPages=-1",
        "/v1/search?maxPrice=1e999",
        "/v1/search?title=a&title=b",
    ] {
        let (status, body, _) = send(&gateway, Method::GET, bad, b"").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["code"], 3, "{bad}");
    }
}

#[tokio::test]
async fn metadata_and_deadline_reach_the_call() {
    let (gateway, seen) = shelves();
    let (status, _, _) = send(&gateway, Method::DELETE, "/v1/shelves/a?force=true", b"").await;
    assert_eq!(status, StatusCode::OK);
    let headers = seen.lock().expect("lock").headers.clone();
    assert_eq!(headers["authorization"], "Bearer secret");
    assert_eq!(
        headers["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    assert_eq!(headers["grpc-timeout"], "1500m");
    assert_eq!(headers["te"], "trailers");

    for timeout in ["0", "soon", "100000000"] {
        let request = http::Request::builder()
            .method(Method::DELETE)
            .uri("/v1/shelves/a")
            .header(TIMEOUT_HEADER, timeout)
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = gateway.handle(request).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{timeout}");
    }
}

#[tokio::test]
async fn a_call_status_becomes_the_http_status_and_error_body() {
    let (gateway, _) = shelves();
    let (status, body, _) = send(&gateway, Method::DELETE, "/v1/shelves/a", b"").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        serde_json::json!({"code": 9, "message": "the shelf holds books", "details": []})
    );
}

#[tokio::test]
async fn bodies_must_be_declared_json() {
    let (gateway, seen) = shelves();
    let body = br#"{"title": "Odes"}"#;
    let uri = "/v1/shelves/poems/books/5";
    for kind in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;Charset=\"UTF-8\"",
    ] {
        let (status, _, _) = send_typed(&gateway, Method::PUT, uri, Some(kind), body).await;
        assert_eq!(status, StatusCode::OK, "{kind}");
    }
    // What a web page may send anywhere without asking: a form or plain text, even an empty one.
    for (kind, body) in [
        (Some("text/plain"), &body[..]),
        (Some("application/x-www-form-urlencoded"), b"title=Odes"),
        (Some("application/x-www-form-urlencoded"), b""),
        (Some("multipart/form-data; boundary=x"), b""),
        (Some("application/json; charset=latin1"), &body[..]),
        (None, &body[..]),
    ] {
        *seen.lock().expect("lock") = Seen::default();
        let (status, error, _) = send_typed(&gateway, Method::PUT, uri, kind, body).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{kind:?}");
        assert_eq!(error["code"], 3, "{error}");
        assert!(
            error["message"]
                .as_str()
                .expect("message")
                .contains("application/json"),
            "{error}"
        );
        assert!(
            seen.lock().expect("lock").message.is_none(),
            "{kind:?} reached the service"
        );
    }
    // No body and no type: nothing to read, nothing to refuse.
    let (status, _, _) = send_typed(
        &gateway,
        Method::GET,
        "/v1/shelves/poems/books/5",
        None,
        b"",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn routing_errors_have_the_error_body() {
    let (gateway, _) = shelves();
    let (status, body, _) = send(&gateway, Method::GET, "/v2/nothing", b"").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], 5);
    let (status, body, headers) = send(&gateway, Method::POST, "/v1/shelves/a", b"").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "DELETE");
    let (_, _, headers) = send(&gateway, Method::POST, "/v1/shelves/a/books/5", b"").await;
    assert_eq!(headers["allow"], "GET, PATCH, PUT");
    assert_eq!(body["code"], 12);
    let (status, body, _) = send(&gateway, Method::GET, "/v1/shelves/a/books/5", b"{}").await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a GET takes no body: {body}"
    );
    let big: &'static [u8] = Box::leak(vec![b' '; 2048].into_boxed_slice());
    let (status, body, _) = send(&gateway, Method::PATCH, "/v1/shelves/a/books/5", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], 11);
}

/// A request body that never ends.
struct Trickle;

impl http_body::Body for Trickle {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Pending
    }
}

#[tokio::test(start_paused = true)]
async fn a_body_that_never_ends_times_out() {
    let (gateway, seen) = shelves();
    let request = http::Request::builder()
        .method(Method::PATCH)
        .uri("/v1/shelves/a/books/5")
        .body(Trickle)
        .expect("request");
    let started = tokio::time::Instant::now();
    let response = gateway.handle(request).await;
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(started.elapsed(), std::time::Duration::from_secs(30));
    assert!(
        seen.lock().expect("lock").message.is_none(),
        "no call was made"
    );
}

#[tokio::test(start_paused = true)]
async fn a_declared_length_past_the_limit_is_refused_before_the_body_is_read() {
    let (gateway, seen) = shelves();
    // The limit here is 1024 bytes. hyper answers `Expect: 100-continue` only once the body is read,
    // so a client that waits for it is refused without sending a byte of the body.
    let request = http::Request::builder()
        .method(Method::PATCH)
        .uri("/v1/shelves/a/books/5")
        .header("content-type", "application/json")
        .header("content-length", "2000000")
        .header("expect", "100-continue")
        .body(Trickle)
        .expect("request");
    let started = tokio::time::Instant::now();
    let response = gateway.handle(request).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        started.elapsed(),
        std::time::Duration::ZERO,
        "it waited for the body"
    );
    assert!(seen.lock().expect("lock").message.is_none());
}

#[test]
fn openapi_documents_every_route_with_its_rules() {
    let pool = fixture();
    let served = routes(&pool, &[SHELVES]).expect("routes");
    let doc = openapi(&pool, &[SHELVES], &served, &HEADERS);
    assert_eq!(doc["info"]["title"], SHELVES);
    assert_eq!(doc["info"]["description"], "Shelves holds books.");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/v1/shelves/{shelf}/books/{book.id}"));
    assert!(paths.contains_key("/v1/books/{book.id}"));
    assert!(paths.contains_key("/v1/{name}:move"));
    let get = &doc["paths"]["/v1/shelves/{shelf}/books/{book.id}"]["get"];
    assert_eq!(
        get["summary"],
        "GetBook reads a book; also reachable under a second path."
    );
    let parameters = get["parameters"].as_array().expect("parameters");
    let shelf = parameters
        .iter()
        .find(|p| p["name"] == "shelf")
        .expect("shelf");
    assert_eq!(shelf["schema"]["minLength"], 1);
    assert_eq!(shelf["schema"]["maxLength"], 20);
    assert_eq!(shelf["schema"]["pattern"], "^[a-z]+$");
    let id = parameters
        .iter()
        .find(|p| p["name"] == "book.id")
        .expect("book.id");
    assert_eq!(id["in"], "path");
    assert_eq!(id["schema"]["minimum"], 1);
    for status in ["200", "400", "404", "429", "503", "default"] {
        assert!(get["responses"].get(status).is_some(), "{status}");
    }

    let search = &doc["paths"]["/v1/search"]["get"]["parameters"];
    let names: Vec<&str> = search
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "title",
            "genres",
            "minPages",
            "page.size",
            "page.token",
            "maxPrice"
        ]
    );
    let min_pages = &search[2]["schema"];
    assert_eq!(min_pages["maximum"], 10000);

    // The output message: 64-bit as strings, every field required.
    let book = &doc["components"]["schemas"]["route256.testing.v1.Book"];
    assert_eq!(book["properties"]["id"]["type"], "string");
    assert_eq!(
        book["required"],
        serde_json::json!(["id", "title", "genre", "pages"])
    );
    assert_eq!(book["additionalProperties"], false);
    // The body of PUT is the patch field's schema.
    let put = &doc["paths"]["/v1/shelves/{shelf}/books/{book.id}"]["put"];
    assert!(
        put["requestBody"]["content"]["application/json"]["schema"]["allOf"][0]["$ref"]
            .as_str()
            .expect("ref")
            .ends_with("BookPatch")
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["Error"].is_object());
}
