//! Starts the three real services in this process, each on 127.0.0.1:0, and hands out clients.
//!
//! Every log line of the process is captured (at debug level, tonic and hyper included) so that a test
//! can check what was logged, e.g. that no token ever was.
#![allow(dead_code)] // each test binary uses part of the kit

pub(crate) mod auth;
pub(crate) mod clients;
pub(crate) mod events;
pub(crate) mod processes;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use route256_proto::cart::cart_service_client::CartServiceClient;
use route256_proto::cart::{AddItemRequest, CheckoutRequest};
use route256_proto::loms::loms_service_client::LomsServiceClient;
use route256_proto::loms::StocksInfoRequest;
use route256_proto::product::product_service_client::ProductServiceClient;
use server::context::AuthToken;
use storage::testing::TestDatabase;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// The token product-service accepts in these tests.
pub(crate) const TOKEN: &str = "svc-test-token-7f3a9c";

/// Seed SKUs the tests order (see the contract's seed stock and catalogue).
pub(crate) const SMITH: u32 = 1076963; // 300 total, 35 reserved: 265 available, 3379 each
pub(crate) const GUROV: u32 = 1148162; // 300 available, 2931 each
pub(crate) const NIKE: u32 = 773297411; // 150 total, 10 reserved: 140 available
pub(crate) const SOLD_OUT: u32 = 139819069; // 100 total, 100 reserved
pub(crate) const PLENTY: u32 = 1625903; // 10000 available

/// An AddItem request with a token of its user.
pub(crate) fn add(user: i64, sku: u32, count: u32) -> tonic::Request<AddItemRequest> {
    authed(AddItemRequest { user, sku, count })
}

/// Puts `count` units of `sku` in `user`'s cart and checks out: the id of the order placed.
pub(crate) async fn order(system: &System, user: i64, sku: u32, count: u32) -> i64 {
    let mut cart = system.cart().await;
    cart.add_item(add(user, sku, count)).await.expect("added");
    cart.checkout(authed(CheckoutRequest { user }))
        .await
        .expect("checked out")
        .into_inner()
        .order_id
}

/// Units of `sku` loms has available.
pub(crate) async fn available(system: &System, sku: u32) -> u64 {
    let mut loms = system.loms().await;
    let response = loms.stocks_info(StocksInfoRequest { sku }).await;
    response.expect("stocked").into_inner().count
}

/// Everything logged by this test process.
pub(crate) fn logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = CaptureWriter(buffer.clone());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init();
        buffer
    })
}

#[derive(Clone)]
struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The three services, running until [`System::stop`].
pub(crate) struct System {
    pub cart_addr: SocketAddr,
    pub loms_addr: SocketAddr,
    pub product_addr: SocketAddr,
    /// The HTTP ports: gateway, Swagger UI, health, metrics.
    pub cart_http: SocketAddr,
    pub loms_http: SocketAddr,
    pub product_http: SocketAddr,
    stop: watch::Sender<bool>,
    servers: Vec<JoinHandle<Result<(), server::grpc::ServeError>>>,
    /// What the system was started with, to start it again on the same data.
    started_with: Settings,
    /// product-service's use cases, whose counters the tests read.
    pub product_service: std::sync::Arc<product_service::service::ProductService>,
}

fn spawn_server<F>(
    stop: &watch::Sender<bool>,
    run: impl FnOnce(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> F,
) -> JoinHandle<Result<(), server::grpc::ServeError>>
where
    F: std::future::Future<Output = Result<(), server::grpc::ServeError>> + Send + 'static,
{
    let mut stopped = stop.subscribe();
    let shutdown = Box::pin(async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    });
    tokio::spawn(run(shutdown))
}

/// The three services' settings for one test; the defaults put every service on a free port, switch
/// product-service's rate limit off and accept [`TOKEN`]. Storage is in memory, or, when
/// `ROUTE256_TEST_STORAGE=postgres` (the second pass of `just test`), PostgreSQL on fresh databases.
pub(crate) struct Settings {
    pub product: product_service::Config,
    pub loms: loms::Config,
    /// cart's upstream URLs are filled in by [`System::start_with`] unless a test set them.
    pub cart: cart::Config,
    /// The throw-away databases the services use, dropped by [`System::stop`].
    databases: Vec<TestDatabase>,
}

impl Settings {
    /// cart and loms on PostgreSQL, each on a fresh database through its pgbouncer.
    pub(crate) fn on_postgres(mut self) -> Self {
        let cart_db = TestDatabase::create("cart", "127.0.0.1:6432");
        let loms_db = TestDatabase::create("loms", "127.0.0.1:6433");
        self.cart.storage = cart::config::Storage::Postgres(cart_db.settings().clone());
        self.loms.storage = loms::config::Storage::Postgres(loms_db.settings().clone());
        self.databases.extend([cart_db, loms_db]);
        self
    }

    /// A second cart replica of `system`: its cart store (memory stays per process; PostgreSQL is the
    /// same database) and its loms and product-service.
    pub(crate) fn cart_replica_of(mut self, system: &System) -> Self {
        self.cart.storage = system.cart_storage();
        self.cart.loms_url = format!("http://{}", system.loms_addr);
        self.cart.product_service_url = format!("http://{}", system.product_addr);
        self
    }

    /// The same services again, on the same data (the databases move along).
    fn again(&mut self) -> Self {
        Self {
            product: self.product.clone(),
            loms: self.loms.clone(),
            cart: self.cart.clone(),
            databases: std::mem::take(&mut self.databases),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let settings = Self {
            product: product_service::Config {
                grpc_addr: any_port,
                http_addr: any_port,
                tokens: AuthToken::new(TOKEN).into_iter().collect(),
                rps: 0,
                authentication: auth::authentication(),
                ..product_service::Config::default()
            },
            loms: loms::Config {
                grpc_addr: any_port,
                http_addr: any_port,
                authentication: auth::authentication(),
                ..loms::Config::default()
            },
            cart: cart::Config {
                grpc_addr: any_port,
                http_addr: any_port,
                product_service_url: String::new(),
                loms_url: String::new(),
                upstream_timeout: Duration::from_secs(10),
                authentication: auth::authentication(),
                ..cart::Config::default()
            },
            databases: Vec::new(),
        };
        match std::env::var("ROUTE256_TEST_STORAGE").as_deref() {
            Ok("postgres") => settings.on_postgres(),
            Ok("memory") | Err(_) => settings,
            Ok(other) => panic!("ROUTE256_TEST_STORAGE={other}: memory or postgres"),
        }
    }
}

impl System {
    pub(crate) async fn start() -> Self {
        Self::start_with(Settings::default()).await
    }

    pub(crate) async fn start_with(mut settings: Settings) -> Self {
        log_buffer();
        let started_with = settings.again();
        let (product, product_service) = product_service::app::build_service(settings.product)
            .await
            .expect("product-service starts");
        let loms = loms::app::build(settings.loms).await.expect("loms starts");
        let (product_addr, loms_addr) = (product.local_addr(), loms.local_addr());
        let product_http = product.http_addr().expect("product-service serves http");
        let loms_http = loms.http_addr().expect("loms serves http");
        let mut cart_config = settings.cart;
        if cart_config.product_service_url.is_empty() {
            cart_config.product_service_url = format!("http://{product_addr}");
        }
        if cart_config.loms_url.is_empty() {
            cart_config.loms_url = format!("http://{loms_addr}");
        }
        let cart = cart::app::build(cart_config).await.expect("cart starts");
        let cart_addr = cart.local_addr();
        let cart_http = cart.http_addr().expect("cart serves http");

        let (stop, _) = watch::channel(false);
        let servers = vec![
            spawn_server(&stop, |s| product.run_until(s)),
            spawn_server(&stop, |s| loms.run_until(s)),
            spawn_server(&stop, |s| cart.run_until(s)),
        ];
        Self {
            cart_addr,
            loms_addr,
            product_addr,
            cart_http,
            loms_http,
            product_http,
            stop,
            servers,
            started_with,
            product_service,
        }
    }

    /// A cart client that calls as each request's user ([`clients::Cart`]).
    pub(crate) async fn cart(&self) -> clients::Cart {
        clients::Cart::new(channel(self.cart_addr).await)
    }

    /// A loms client that calls as each request's user or the order's ([`clients::Loms`]).
    pub(crate) async fn loms(&self) -> clients::Loms {
        clients::Loms::new(channel(self.loms_addr).await)
    }

    /// cart's generated client: calls carry only what the test gives them.
    pub(crate) async fn cart_raw(&self) -> CartServiceClient<Channel> {
        CartServiceClient::new(channel(self.cart_addr).await)
    }

    /// loms's generated client: calls carry only what the test gives them.
    pub(crate) async fn loms_raw(&self) -> LomsServiceClient<Channel> {
        LomsServiceClient::new(channel(self.loms_addr).await)
    }

    pub(crate) async fn product(&self) -> ProductServiceClient<Channel> {
        ProductServiceClient::new(channel(self.product_addr).await)
    }

    /// Signals shutdown without waiting: the servers begin to drain.
    pub(crate) fn begin_stop(&self) {
        self.stop.send_replace(true);
    }

    /// Signals shutdown, waits for every server to stop cleanly, and drops the test's databases.
    pub(crate) async fn stop(self) {
        for ended in self.stop_results().await {
            ended.expect("server stops without error");
        }
    }

    /// Signals shutdown, drops the test's databases once every server has stopped, and returns how
    /// each ended: product-service, loms, cart.
    pub(crate) async fn stop_results(mut self) -> Vec<Result<(), server::grpc::ServeError>> {
        self.stop.send_replace(true);
        let mut ended = Vec::new();
        for server in self.servers.drain(..) {
            ended.push(server.await.expect("server task completes"));
        }
        for database in self.started_with.databases.drain(..) {
            database.drop_now();
        }
        ended
    }

    /// How this system's cart keeps its carts (for a second cart replica on the same database).
    pub(crate) fn cart_storage(&self) -> cart::config::Storage {
        self.started_with.cart.storage.clone()
    }

    /// How this system's loms keeps orders and stock (for a second loms replica on the same database).
    pub(crate) fn loms_storage(&self) -> loms::config::Storage {
        self.started_with.loms.storage.clone()
    }

    /// Stops the servers and starts them again, on the same data (new ports).
    pub(crate) async fn restart(mut self) -> Self {
        self.stop_servers().await;
        Self::start_with(self.started_with.again()).await
    }

    async fn stop_servers(&mut self) {
        self.stop.send_replace(true);
        for server in self.servers.drain(..) {
            server
                .await
                .expect("server task completes")
                .expect("server stops without error");
        }
    }
}

pub(crate) async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("valid uri")
        .connect()
        .await
        .expect("server accepts connections")
}

/// A request carrying, as `authorization: Bearer`, a token of the user it acts for (cart's requests),
/// or product-service's static test token.
pub(crate) fn authed<T: Credential>(message: T) -> tonic::Request<T> {
    let token = message.credential();
    with_header(message, "authorization", &format!("Bearer {token}"))
}

/// The token a request is sent with by [`authed`].
pub(crate) trait Credential {
    fn credential(&self) -> String;
}

macro_rules! acts_for_its_user {
    ($($message:ty),*) => {$(
        impl Credential for $message {
            fn credential(&self) -> String {
                auth::token_acting_for(self.user)
            }
        }
    )*};
}

acts_for_its_user!(
    AddItemRequest,
    route256_proto::cart::DeleteItemRequest,
    route256_proto::cart::ListRequest,
    route256_proto::cart::ClearRequest,
    CheckoutRequest,
    route256_proto::loms::OrderCreateRequest
);

impl Credential for route256_proto::product::GetProductRequest {
    fn credential(&self) -> String {
        TOKEN.to_owned()
    }
}

/// A request carrying one header.
pub(crate) fn with_header<T>(message: T, key: &'static str, value: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert(key, value.parse().expect("ascii header"));
    request
}

/// Sends `body` as the encoded request message of `path` (e.g. `/route256.loms.v1.LomsService/OrderCreate`),
/// bytes as they are, so a test can send what no generated client would; as user 1, whose token
/// every service takes.
pub(crate) async fn raw_call(
    addr: SocketAddr,
    path: &str,
    body: Vec<u8>,
) -> Result<Vec<u8>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel(addr).await);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = http::uri::PathAndQuery::try_from(path).expect("a valid path");
    let request = auth::bearer(tonic::Request::new(body), || auth::token_for(1));
    grpc.unary(request, path, RawCodec)
        .await
        .map(tonic::Response::into_inner)
}

/// A codec of raw message bytes.
#[derive(Clone, Copy, Debug, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        let len = bytes::Buf::remaining(src);
        Ok(Some(bytes::Buf::copy_to_bytes(src, len).to_vec()))
    }
}

/// Polls `check` until it holds, for at most 20 s.
pub(crate) async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the async `check` until it holds, for at most 20 s.
pub(crate) async fn eventually_async<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Calls that never finish arriving, as a hostile client makes them: on one HTTP/2 connection, each
/// call's HEADERS and a 5-byte gRPC prefix announcing a 4-byte message arrive, the 4 bytes never. The
/// connection stays alive (it answers PINGs) until this is dropped.
pub(crate) struct HeldCalls {
    _calls: Vec<(h2::client::ResponseFuture, h2::SendStream<bytes::Bytes>)>,
    connection: JoinHandle<()>,
}

impl Drop for HeldCalls {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// Holds `calls` partial calls to `path` on one new connection to `addr`; returns once the server has
/// read them all (a PING sent after them has come back).
pub(crate) async fn hold_partial_calls(addr: SocketAddr, path: &str, calls: usize) -> HeldCalls {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let (mut client, mut connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    let mut pings = connection.ping_pong().expect("ping handle");
    let connection = tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut held = Vec::new();
    for _ in 0..calls {
        client = client.ready().await.expect("a stream the server allows");
        let request = http::Request::post(format!("http://{addr}{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .expect("request");
        let (response, mut body) = client.send_request(request, false).expect("sent");
        body.send_data(bytes::Bytes::from_static(&[0, 0, 0, 0, 4]), false)
            .expect("the prefix is sent");
        held.push((response, body));
    }
    // Frames are read in order: once the PING is answered, the calls above have arrived.
    pings.ping(h2::Ping::opaque()).await.expect("PING answered");
    HeldCalls {
        _calls: held,
        connection,
    }
}

/// One call with a body of exactly `body` (framing and all) and extra `headers`, over a new HTTP/2
/// connection: the answer's `grpc-status` and `grpc-message`.
pub(crate) async fn framed_call(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (i32, String) {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let (client, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    let connection = tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.expect("ready");
    let mut request = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (key, value) in headers {
        request = request.header(*key, *value);
    }
    let (response, mut sent) = client
        .send_request(request.body(()).expect("request"), body.is_empty())
        .expect("sent");
    if !body.is_empty() {
        sent.send_data(bytes::Bytes::copy_from_slice(body), true)
            .expect("body sent");
    }
    let response = response.await.expect("an answer");
    let mut status = response.headers().clone();
    let mut answer = response.into_body();
    while let Some(data) = answer.data().await {
        let data = data.expect("answer data");
        let _ = answer.flow_control().release_capacity(data.len());
    }
    if let Some(trailers) = answer.trailers().await.expect("trailers") {
        status.extend(trailers);
    }
    connection.abort();
    let code = status
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a grpc-status");
    let message = status
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (code, message)
}
