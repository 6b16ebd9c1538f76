//! The bad-input campaign: over 10,000 generated malformed, boundary and hostile requests against every
//! service — gRPC message bytes, framing and headers to cart, loms and product-service; HTTP/1.1
//! requests (paths, queries, methods, bodies, headers) to their gateways and to the notifier's probe
//! port. A fixed seed makes every run send the same requests (`ROUTE256_CAMPAIGN_SEED` picks another).
//!
//! What must hold: no panic anywhere in the process; no gRPC `INTERNAL`, `UNKNOWN`, `DATA_LOSS` or
//! `UNAVAILABLE` and no HTTP 5xx; every refusal carries a message; every call ends in an answer (no
//! reset stream or dropped connection).
//!
//! The generators draw field types, names and routes from the contract's own descriptors, so a new
//! field or RPC is attacked without a change here.
mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value,
};
use support::{System, TOKEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How many requests of each kind the campaign sends.
const GRPC_CASES: usize = 6_000;
const HTTP_CASES: usize = 4_800;

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts every panic of the process (a handler's, a connection task's), then reports it as usual.
fn count_panics() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        report(info);
    }));
}

/// A deterministic generator (splitmix64).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Fewer than `max` random bytes.
    fn some_bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max);
        self.bytes(len)
    }
}

// ---------------------------------------------------------------------------------------------------
// gRPC: message bytes, framing, headers

/// A value at or past the edge of `kind`'s range, or an ordinary one.
fn boundary(g: &mut Gen, kind: &Kind, depth: usize) -> Value {
    let any = g.next();
    match kind {
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(g.pick(&[0, 1, -1, i64::MIN, i64::MAX, any as i64, 42]))
        }
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(g.pick(&[0, 1, -1, i32::MIN, i32::MAX, any as i32]))
        }
        Kind::Uint64 | Kind::Fixed64 => Value::U64(g.pick(&[0, 1, u64::MAX, any])),
        Kind::Uint32 | Kind::Fixed32 => {
            Value::U32(g.pick(&[0, 1, 65_535, 65_536, u32::MAX, any as u32, 1_076_963]))
        }
        Kind::Bool => Value::Bool(g.chance(50)),
        Kind::Float => Value::F32(g.pick(&[0.0, -1.0, f32::NAN, f32::INFINITY, f32::MAX])),
        Kind::Double => Value::F64(g.pick(&[0.0, -1.0, f64::NAN, f64::NEG_INFINITY, f64::MAX])),
        Kind::String => Value::String(match g.below(5) {
            0 => String::new(),
            1 => "ключ-🔑".into(),
            2 => "x".repeat(g.pick(&[64, 65, 255, 256, 10_000])),
            3 => "\0\u{7f}\u{202e}".into(),
            _ => format!("key-{}", g.next()),
        }),
        Kind::Bytes => Value::Bytes(g.some_bytes(300).into()),
        Kind::Enum(e) => {
            Value::EnumNumber(g.pick(&[0, 1, -1, i32::MAX, e.values().count() as i32]))
        }
        Kind::Message(m) => Value::Message(boundary_message(g, m, depth + 1)),
    }
}

/// A message whose fields, each set or not, hold boundary values; lists of 0 to 5,000 elements.
fn boundary_message(g: &mut Gen, descriptor: &MessageDescriptor, depth: usize) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    if depth > 3 {
        return message;
    }
    for field in descriptor.fields() {
        if field.is_map() || !g.chance(80) {
            continue;
        }
        let value = if field.is_list() {
            let len = g.pick(&[0, 1, 2, 3, 100, 5_000]);
            Value::List(
                (0..len)
                    .map(|_| boundary(g, &field.kind(), depth))
                    .collect(),
            )
        } else {
            boundary(g, &field.kind(), depth)
        };
        message.set_field(&field, value);
    }
    message
}

fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A field the message does not declare, of any wire type.
fn unknown_field(g: &mut Gen, out: &mut Vec<u8>) {
    let number = g.pick(&[15_u64, 99, 1_000, 536_870_911, 19_000]);
    match g.below(4) {
        0 => {
            varint(number << 3, out);
            varint(g.next(), out);
        }
        1 => {
            varint((number << 3) | 2, out);
            let payload = g.some_bytes(200);
            varint(payload.len() as u64, out);
            out.extend(payload);
        }
        2 => {
            varint((number << 3) | 1, out);
            out.extend(g.bytes(8));
        }
        _ => {
            varint((number << 3) | 5, out);
            out.extend(g.bytes(4));
        }
    }
}

/// A string field of `descriptor` carrying bytes that are not UTF-8.
fn invalid_utf8(g: &mut Gen, descriptor: &MessageDescriptor) -> Option<Vec<u8>> {
    let strings: Vec<FieldDescriptor> = descriptor
        .fields()
        .filter(|f| matches!(f.kind(), Kind::String))
        .collect();
    if strings.is_empty() {
        return None;
    }
    let field = g.pick(&strings);
    let mut out = boundary_message(g, descriptor, 0).encode_to_vec();
    varint((u64::from(field.number()) << 3) | 2, &mut out);
    let bad = g.pick(&[
        vec![0xff, 0xfe],
        vec![0xc3, 0x28],
        vec![b'a', 0xed, 0xa0, 0x80],
    ]);
    varint(bad.len() as u64, &mut out);
    out.extend(bad);
    Some(out)
}

/// Length-delimited unknown fields nested `depth` deep.
fn nested(depth: usize) -> Vec<u8> {
    let mut inner = Vec::new();
    for _ in 0..depth {
        let mut outer = Vec::new();
        varint((99 << 3) | 2, &mut outer);
        varint(inner.len() as u64, &mut outer);
        outer.extend(inner);
        inner = outer;
    }
    inner
}

/// The bytes of a hostile request message for `descriptor`.
fn hostile_message(g: &mut Gen, descriptor: &MessageDescriptor) -> Vec<u8> {
    match g.below(7) {
        0 => g.some_bytes(64),
        1 => boundary_message(g, descriptor, 0).encode_to_vec(),
        2 => {
            let mut out = boundary_message(g, descriptor, 0).encode_to_vec();
            for _ in 0..=g.below(5) {
                unknown_field(g, &mut out);
            }
            out
        }
        3 => {
            let mut out = boundary_message(g, descriptor, 0).encode_to_vec();
            if !out.is_empty() {
                let at = g.below(out.len());
                match g.below(3) {
                    0 => out[at] ^= 1 << g.below(8),
                    1 => out.truncate(at),
                    _ => out.extend(out[at..].to_vec()),
                }
            }
            out
        }
        4 => invalid_utf8(g, descriptor).unwrap_or_else(|| g.bytes(16)),
        5 => nested(g.pick(&[2, 100, 5_000])),
        _ => vec![0; g.pick(&[1, 100, 4_096])],
    }
}

/// The gRPC frame around `message`, sometimes broken: compressed without an encoding, a length that
/// lies, two messages for a unary call, no frame at all.
fn frame(g: &mut Gen, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 5);
    let honest = |out: &mut Vec<u8>, flag: u8| {
        out.push(flag);
        out.extend((message.len() as u32).to_be_bytes());
        out.extend(message);
    };
    match g.below(20) {
        0 => honest(&mut out, 1),
        1 => {
            out.push(0);
            out.extend((message.len() as u32 + 10).to_be_bytes());
            out.extend(message);
        }
        2 => {
            honest(&mut out, 0);
            honest(&mut out, 0);
        }
        3 => {}
        4 => out.extend([0, 0xff, 0xff]),
        _ => honest(&mut out, 0),
    }
    out
}

/// User 1's token, signed by the tests' identity provider.
fn user_token() -> &'static str {
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| support::auth::token_for(1))
}

/// A token that looks like a JWT and is none that verifies: user 1's with its header swapped for
/// `alg: none` or HMAC, its signature or claims cut or garbled.
fn forged(g: &mut Gen) -> String {
    let token = user_token();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    match g.below(4) {
        // {"alg":"none"} and {"alg":"HS256","kid":"x"}, base64url without padding
        0 => parts[0] = "eyJhbGciOiJub25lIn0".into(),
        1 => parts[0] = "eyJhbGciOiJIUzI1NiIsImtpZCI6IngifQ".into(),
        2 => parts[2] = parts[2].chars().rev().collect(),
        _ => {
            let cut = g.below(parts[1].len());
            parts[1].truncate(cut);
        }
    }
    parts.join(".")
}

/// Request headers, sometimes missing, malformed or hostile.
fn grpc_headers(g: &mut Gen) -> Vec<(&'static str, Vec<u8>)> {
    let mut headers = Vec::new();
    let content_type = g.pick(&[
        "application/grpc",
        "application/grpc",
        "application/grpc",
        "application/grpc+proto",
        "application/json",
        "text/plain",
    ]);
    headers.push(("content-type", content_type.as_bytes().to_vec()));
    match g.below(9) {
        0 => {}
        // User 1's token: the calls that pass validation act for them (another user is refused).
        1 | 6 => headers.push((
            "authorization",
            format!("Bearer {}", user_token()).into_bytes(),
        )),
        7 => headers.push((
            "authorization",
            format!("Bearer {}", forged(g)).into_bytes(),
        )),
        8 => headers.push(("authorization", format!("Bearer {TOKEN}").into_bytes())),
        2 => headers.push(("authorization", b"Bearer".to_vec())),
        3 => headers.push((
            "authorization",
            [b"Bearer ".as_slice(), &[0x80, 0xff, b'x']].concat(),
        )),
        4 => headers.push(("x-api-key", "k".repeat(8_000).into_bytes())),
        _ => headers.push(("authorization", format!("Basic {}", g.next()).into_bytes())),
    }
    if g.chance(40) {
        let timeout = g.pick(&[
            "",
            "-1S",
            "1",
            "1x",
            "99999999S",
            "100000000H",
            "5S",
            "1n",
            "0m",
            "S",
        ]);
        headers.push(("grpc-timeout", timeout.as_bytes().to_vec()));
    }
    if g.chance(20) {
        let id = g.pick(&["", "x", "../../etc", "🔑"]);
        headers.push(("x-request-id", id.as_bytes().to_vec()));
    }
    if g.chance(10) {
        headers.push((
            "grpc-encoding",
            g.pick(&["gzip", "br", "nonsense"]).as_bytes().to_vec(),
        ));
    }
    headers
}

/// How a request ended.
#[derive(Debug)]
enum Outcome {
    /// A gRPC status, with its message.
    Grpc(i32, String),
    /// An HTTP answer without a gRPC status (or from a gateway): its status and body.
    Http(u16, String),
    /// No answer: the stream or the connection broke (why: shown through `Debug` in the report).
    Broken(#[allow(dead_code)] String),
}

/// One HTTP/2 connection to a gRPC port, opened again if the server closed it.
struct Raw {
    addr: SocketAddr,
    client: Option<h2::client::SendRequest<bytes::Bytes>>,
}

impl Raw {
    async fn send(
        &mut self,
        path: &str,
        headers: &[(&'static str, Vec<u8>)],
        body: Vec<u8>,
    ) -> Outcome {
        if self.client.is_none() {
            let tcp = tokio::net::TcpStream::connect(self.addr)
                .await
                .expect("connects");
            let (client, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.client = Some(client);
        }
        let answer =
            tokio::time::timeout(Duration::from_secs(20), self.exchange(path, headers, body)).await;
        match answer {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) => {
                self.client = None;
                Outcome::Broken(error.to_string())
            }
            Err(_) => {
                self.client = None;
                Outcome::Broken("no answer in 20 s".into())
            }
        }
    }

    async fn exchange(
        &mut self,
        path: &str,
        headers: &[(&'static str, Vec<u8>)],
        body: Vec<u8>,
    ) -> Result<Outcome, h2::Error> {
        let client = self.client.as_mut().expect("connected");
        let mut client = client.clone().ready().await?;
        let mut request =
            http::Request::post(format!("http://{}{path}", self.addr)).header("te", "trailers");
        for (key, value) in headers {
            request = request.header(
                *key,
                http::HeaderValue::from_bytes(value).expect("a header value"),
            );
        }
        let (response, mut sent) =
            client.send_request(request.body(()).expect("a request"), body.is_empty())?;
        if !body.is_empty() {
            sent.send_data(body.into(), true)?;
        }
        let response = response.await?;
        let mut fields = response.headers().clone();
        let http_status = response.status().as_u16();
        let mut answer = response.into_body();
        let mut data = Vec::new();
        while let Some(chunk) = answer.data().await {
            let chunk = chunk?;
            let _ = answer.flow_control().release_capacity(chunk.len());
            data.extend_from_slice(&chunk);
        }
        if let Some(trailers) = answer.trailers().await? {
            fields.extend(trailers);
        }
        let text = |name: &str| {
            fields
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Ok(
            match text("grpc-status").and_then(|code| code.parse().ok()) {
                Some(code) => Outcome::Grpc(code, text("grpc-message").unwrap_or_default()),
                None => Outcome::Http(http_status, String::from_utf8_lossy(&data).into_owned()),
            },
        )
    }
}

/// gRPC codes a hostile request may get: a refusal of the request (or, for what passed every check,
/// an answer). INTERNAL (13), UNKNOWN (2), DATA_LOSS (15) and UNAVAILABLE (14) mean the server failed.
fn acceptable_grpc(code: i32) -> bool {
    !matches!(code, 2 | 13 | 14 | 15)
}

// ---------------------------------------------------------------------------------------------------
// HTTP: paths, queries, methods, bodies, headers

/// A path segment or query value that is no valid number, or is one at an edge.
fn hostile_segment(g: &mut Gen) -> String {
    g.pick(&[
        "1".to_owned(),
        "0".to_owned(),
        "-1".to_owned(),
        "9223372036854775807".to_owned(),
        "9223372036854775808".to_owned(),
        "99999999999999999999999".to_owned(),
        "4294967296".to_owned(),
        "abc".to_owned(),
        "%FF%FE".to_owned(),
        "%00".to_owned(),
        "1.5".to_owned(),
        "1e3".to_owned(),
        String::new(),
        "%2e%2e%2f%2e%2e".to_owned(),
        "x".repeat(5_000),
        "%D9%A1%D9%A2".to_owned(),
        "0x10".to_owned(),
        "%".to_owned(),
        "1076963".to_owned(),
    ])
}

/// A JSON value for a field of `kind`: of its type at an edge, of another type, or malformed.
fn hostile_json_value(g: &mut Gen, kind: &Kind) -> String {
    match g.below(12) {
        0 => "null".into(),
        1 => "\"12abc\"".into(),
        2 => "1e400".into(),
        3 => "-1".into(),
        4 => "18446744073709551616".into(),
        5 => "[]".into(),
        6 => "{}".into(),
        7 => "\"\\ud800\"".into(),
        8 => "true".into(),
        9 => "\"9223372036854775807\"".into(),
        10 => "1.0000001".into(),
        _ => match kind {
            Kind::String => format!("\"{}\"", "s".repeat(g.pick(&[0, 10, 300]))),
            Kind::Message(m) => hostile_json_object(g, m, 1),
            _ => format!("{}", g.pick(&[0_u64, 1, 2, 65_535, 1_076_963])),
        },
    }
}

fn hostile_json_object(g: &mut Gen, descriptor: &MessageDescriptor, depth: usize) -> String {
    let mut members = Vec::new();
    for field in descriptor.fields() {
        if !g.chance(70) {
            continue;
        }
        let value = if field.is_list() && depth < 3 {
            let items: Vec<String> = (0..g.pick(&[0, 1, 3, 2_000]))
                .map(|_| hostile_json_value(g, &field.kind()))
                .collect();
            format!("[{}]", items.join(","))
        } else {
            hostile_json_value(g, &field.kind())
        };
        let name = if g.chance(50) {
            field.json_name().to_owned()
        } else {
            field.name().to_owned()
        };
        members.push(format!("\"{name}\":{value}"));
    }
    if g.chance(20) {
        members.push("\"unknownField\":1".into());
    }
    format!("{{{}}}", members.join(","))
}

/// A request body: a hostile JSON object for `input`, or something that is no JSON object at all.
fn hostile_body(g: &mut Gen, input: Option<&MessageDescriptor>) -> Vec<u8> {
    match (g.below(12), input) {
        (0, _) => Vec::new(),
        (1, _) => b"{".to_vec(),
        (2, _) => b"null".to_vec(),
        (3, _) => b"[]".to_vec(),
        (4, _) => [b"[".repeat(100_000), b"]".repeat(100_000)].concat(),
        (5, _) => "{\"a\":".repeat(10_000).into_bytes(),
        (6, _) => [b"{\"user\":\"".as_slice(), &[0xff, 0xfe], b"\"}"].concat(),
        (7, _) => vec![b' '; 1_100_000],
        (8, _) => g.some_bytes(100),
        (_, Some(message)) => hostile_json_object(g, message, 0).into_bytes(),
        (_, None) => b"{}".to_vec(),
    }
}

/// An HTTP/1.1 request as bytes, and whether it breaks HTTP itself (a control character in a header
/// value): hyper's parser refuses those with a bare 400 before any code of ours sees them.
fn http_request(g: &mut Gen, method: &str, path: &str, body: &[u8]) -> (Vec<u8>, bool) {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: campaign\r\nconnection: close\r\n");
    match g.below(6) {
        0 => {}
        1 => head.push_str("content-type: text/plain\r\n"),
        2 => head.push_str("content-type: application/json; charset=latin1\r\n"),
        _ => head.push_str("content-type: application/json\r\n"),
    }
    match g.below(7) {
        0 => {}
        1 => head.push_str("authorization: Bearer\r\n"),
        2 => head.push_str(&format!("authorization: Bearer {}\r\n", "t".repeat(10_000))),
        3 => head.push_str(&format!("authorization: Bearer {}\r\n", forged(g))),
        4 => head.push_str(&format!("authorization: Bearer {TOKEN}\r\n")),
        _ => head.push_str(&format!("authorization: Bearer {}\r\n", user_token())),
    }
    let malformed = g.chance(5);
    if malformed {
        head.push_str("x-request-id: \u{7f}../\r\n");
    } else if g.chance(10) {
        head.push_str(&format!(
            "x-request-id: {}\r\n",
            g.pick(&["../", "🔑", "x"])
        ));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    ([head.into_bytes(), body.to_vec()].concat(), malformed)
}

/// Sends `request` on a fresh connection; the status and body of the answer.
async fn http_exchange(addr: SocketAddr, request: &[u8]) -> Outcome {
    let exchange = async {
        let mut tcp = tokio::net::TcpStream::connect(addr).await?;
        // A server may answer (413, 400) and close before it has read everything: that is fine.
        let _ = tcp.write_all(request).await;
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.or_else(|e| {
            if answer.is_empty() {
                Err(e)
            } else {
                Ok(answer.len())
            }
        })?;
        Ok::<_, std::io::Error>(answer)
    };
    match tokio::time::timeout(Duration::from_secs(40), exchange).await {
        Ok(Ok(answer)) => {
            let text = String::from_utf8_lossy(&answer);
            let status = text.split(' ').nth(1).and_then(|s| s.parse().ok());
            let body = text
                .split_once("\r\n\r\n")
                .map(|(_, b)| b.to_owned())
                .unwrap_or_default();
            match status {
                Some(status) => Outcome::Http(status, body),
                None => Outcome::Broken(format!("not HTTP: {:.80}", text)),
            }
        }
        Ok(Err(error)) => Outcome::Broken(error.to_string()),
        Err(_) => Outcome::Broken("no answer in 40 s".into()),
    }
}

/// One route of a gateway: method, path template and the message its body fills.
struct Route {
    method: &'static str,
    template: String,
    input: Option<MessageDescriptor>,
}

/// The gateway routes of the contract, read from its `google.api.http` options, plus the probes and
/// the documents every HTTP port serves.
fn routes(pool: &DescriptorPool, services: &[&str]) -> Vec<Route> {
    let mut routes: Vec<Route> = gateway::routes(pool, services)
        .expect("the contract's rules are valid")
        .into_iter()
        .map(|route| Route {
            method: match route.method.as_str() {
                "GET" => "GET",
                "DELETE" => "DELETE",
                "PUT" => "PUT",
                "PATCH" => "PATCH",
                _ => "POST",
            },
            template: route.template.to_string(),
            input: Some(route.rpc.input()),
        })
        .collect();
    for path in [
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/swagger/",
        "/nowhere",
        "/",
    ] {
        routes.push(Route {
            method: "GET",
            template: path.into(),
            input: None,
        });
    }
    routes
}

/// `template` with every `{field}` replaced by a hostile segment, and sometimes a hostile query.
fn hostile_path(g: &mut Gen, template: &str) -> String {
    let mut path = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        path.push_str(&hostile_segment(g));
        rest = &rest[close..];
    }
    path.push_str(rest);
    if g.chance(50) {
        let name = g.pick(&["orderId", "order_id", "sku", "user", "unknown", "orderId"]);
        path.push_str(&format!("?{name}={}", hostile_segment(g)));
        if g.chance(30) {
            path.push_str(&format!("&{name}={}", hostile_segment(g)));
        }
    }
    path
}

// ---------------------------------------------------------------------------------------------------

/// What the campaign saw, by target and outcome, and what it must not have seen.
#[derive(Default)]
struct Tally {
    outcomes: BTreeMap<String, usize>,
    failures: Vec<String>,
}

impl Tally {
    fn note(
        &mut self,
        target: &str,
        outcome: &Outcome,
        ok: bool,
        request: impl FnOnce() -> String,
    ) {
        let key = match outcome {
            Outcome::Grpc(code, _) => format!("{target} grpc-status {code}"),
            Outcome::Http(status, _) => format!("{target} http {status}"),
            Outcome::Broken(_) => format!("{target} broken"),
        };
        *self.outcomes.entry(key).or_insert(0) += 1;
        if !ok && self.failures.len() < 20 {
            self.failures.push(format!("{outcome:?} for {}", request()));
        }
    }
}

fn grpc_ok(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Grpc(0, _) => true,
        Outcome::Grpc(code, message) => acceptable_grpc(*code) && !message.is_empty(),
        // What is no gRPC request (content-type) gets a plain HTTP refusal.
        Outcome::Http(status, _) => (400..500).contains(status),
        Outcome::Broken(_) => false,
    }
}

fn http_ok(outcome: &Outcome, malformed: bool) -> bool {
    match outcome {
        Outcome::Http(400, _) if malformed => true,
        Outcome::Http(status, body) => *status < 500 && (*status < 400 || !body.is_empty()),
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_hostile_requests_get_clear_refusals_and_no_panic() {
    count_panics();
    let seed = std::env::var("ROUTE256_CAMPAIGN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256);
    let mut g = Gen(seed);
    let mut settings = support::Settings::default();
    settings.cart.product_rps = 0;
    let system = System::start_with(settings).await;
    let notifier =
        support::events::start_notifier_in_memory(&support::events::fresh_topic().await).await;
    let pool = DescriptorPool::decode(route256_proto::FILE_DESCRIPTOR_SET).expect("the contract");
    let services = [
        (
            "cart",
            "route256.cart.v1.CartService",
            system.cart_addr,
            system.cart_http,
        ),
        (
            "loms",
            "route256.loms.v1.LomsService",
            system.loms_addr,
            system.loms_http,
        ),
        (
            "product",
            "route256.product.v1.ProductService",
            system.product_addr,
            system.product_http,
        ),
    ];
    let mut tally = Tally::default();

    let methods: Vec<_> = services
        .iter()
        .flat_map(|&(name, service, grpc, _)| {
            let service = pool.get_service_by_name(service).expect("in the contract");
            let prefix = service.full_name().to_owned();
            service
                .methods()
                .map(move |m| (name, grpc, format!("/{prefix}/{}", m.name()), m.input()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut connections: BTreeMap<SocketAddr, Raw> = services
        .iter()
        .map(|&(_, _, grpc, _)| {
            (
                grpc,
                Raw {
                    addr: grpc,
                    client: None,
                },
            )
        })
        .collect();
    for n in 0..GRPC_CASES {
        let (name, addr, path, input) = &methods[n % methods.len()];
        let message = if n % 1_000 == 999 {
            vec![7; 1_100_000]
        } else {
            hostile_message(&mut g, input)
        };
        let body = frame(&mut g, &message);
        let headers = grpc_headers(&mut g);
        let outcome = connections
            .get_mut(addr)
            .expect("a connection")
            .send(path, &headers, body)
            .await;
        let ok = grpc_ok(&outcome);
        tally.note(name, &outcome, ok, || {
            format!("{path} headers {headers:?}, message {:.120?}", message)
        });
    }

    let mut targets: Vec<(&str, SocketAddr, Vec<Route>)> = services
        .iter()
        .map(|&(name, service, _, http)| (name, http, routes(&pool, &[service])))
        .collect();
    targets.push(("notifier", notifier.addr, routes(&pool, &[])));
    for n in 0..HTTP_CASES {
        let (name, addr, routes) = &targets[n % targets.len()];
        let route = &routes[g.below(routes.len())];
        let method = if g.chance(85) {
            route.method
        } else {
            g.pick(&["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "FOO"])
        };
        let path = hostile_path(&mut g, &route.template);
        let body = if method == "GET" && g.chance(80) {
            Vec::new()
        } else {
            hostile_body(&mut g, route.input.as_ref())
        };
        let (request, malformed) = http_request(&mut g, method, &path, &body);
        let outcome = http_exchange(*addr, &request).await;
        let ok = http_ok(&outcome, malformed);
        tally.note(name, &outcome, ok, || {
            format!("{:.300}", String::from_utf8_lossy(&request))
        });
    }

    for (key, count) in &tally.outcomes {
        println!("{count:>6}  {key}");
    }
    let sent: usize = tally.outcomes.values().sum();
    assert!(sent >= 10_000, "{sent} requests");
    assert!(
        tally.failures.is_empty(),
        "server failures:\n{}",
        tally.failures.join("\n")
    );
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "panics in the servers");
    notifier.stop().await;
    system.stop().await;
}
