//! Starts the three real services in this process, each on 127.0.0.1:0, and hands out clients.
//!
//! Every log line of the process is captured (at debug level, tonic and hyper included) so that a test
//! can check what was logged, e.g. that no token ever was.
#![allow(dead_code)] // each test binary uses part of the kit

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use platform::context::AuthToken;
use route256_proto::cart::cart_service_client::CartServiceClient;
use route256_proto::loms::loms_service_client::LomsServiceClient;
use route256_proto::product::product_service_client::ProductServiceClient;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// The token product-service accepts in these tests.
pub const TOKEN: &str = "svc-test-token-7f3a9c";

/// Everything logged by this test process.
pub fn logs() -> String {
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
pub struct System {
    pub cart_addr: SocketAddr,
    pub loms_addr: SocketAddr,
    pub product_addr: SocketAddr,
    stop: watch::Sender<bool>,
    servers: Vec<JoinHandle<Result<(), platform::grpc::ServeError>>>,
}

fn spawn_server<F>(
    stop: &watch::Sender<bool>,
    run: impl FnOnce(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> F,
) -> JoinHandle<Result<(), platform::grpc::ServeError>>
where
    F: std::future::Future<Output = Result<(), platform::grpc::ServeError>> + Send + 'static,
{
    let mut stopped = stop.subscribe();
    let shutdown = Box::pin(async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    });
    tokio::spawn(run(shutdown))
}

impl System {
    pub async fn start() -> Self {
        log_buffer();
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let product = product_service::app::build(product_service::Config {
            grpc_addr: any_port,
            tokens: AuthToken::new(TOKEN).into_iter().collect(),
            rps: 0,
            ..product_service::Config::default()
        })
        .await
        .expect("product-service starts");
        let loms = loms::app::build(loms::Config {
            grpc_addr: any_port,
            ..loms::Config::default()
        })
        .await
        .expect("loms starts");
        let (product_addr, loms_addr) = (product.local_addr(), loms.local_addr());
        let cart = cart::app::build(cart::Config {
            grpc_addr: any_port,
            product_service_url: format!("http://{product_addr}"),
            loms_url: format!("http://{loms_addr}"),
            upstream_timeout: Duration::from_secs(10),
            ..cart::Config::default()
        })
        .await
        .expect("cart starts");
        let cart_addr = cart.local_addr();

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
            stop,
            servers,
        }
    }

    pub async fn cart(&self) -> CartServiceClient<Channel> {
        CartServiceClient::new(channel(self.cart_addr).await)
    }

    pub async fn loms(&self) -> LomsServiceClient<Channel> {
        LomsServiceClient::new(channel(self.loms_addr).await)
    }

    pub async fn product(&self) -> ProductServiceClient<Channel> {
        ProductServiceClient::new(channel(self.product_addr).await)
    }

    /// Signals shutdown and waits for every server to stop cleanly.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        for server in self.servers {
            server
                .await
                .expect("server task completes")
                .expect("server stops without error");
        }
    }
}

pub async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("valid uri")
        .connect()
        .await
        .expect("server accepts connections")
}

/// A request carrying the test token as `authorization: Bearer`.
pub fn authed<T>(message: T) -> tonic::Request<T> {
    with_header(message, "authorization", &format!("Bearer {TOKEN}"))
}

/// A request carrying one header.
pub fn with_header<T>(message: T, key: &'static str, value: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert(key, value.parse().expect("ascii header"));
    request
}
