//! The gRPC server every service runs: its own services plus health (`grpc.health.v1`), server reflection
//! v1 and v1alpha (grpcurl 1.8 speaks only v1alpha), a log line per failed call, graceful shutdown, and
//! the limits that keep it answering under abuse or overload ([`ServerLimits`]).
//!
//! HTTP/2 is served by our own loop over hyper rather than tonic's `Server`, so that nothing of tonic's
//! runs before our layers (its server answers a passed `grpc-timeout` with `CANCELLED`). A connection
//! comes from the accept loop (`incoming.rs`: backoff on resource errors, idle timeout); each call then
//! passes, outermost first, the request id (`context_layer.rs`), the call log, admission (`limits.rs`),
//! the caller's deadline (`context_layer.rs`), and the services' routes. On shutdown the listener
//! closes, health turns NOT_SERVING, every connection is sent GOAWAY, and calls in flight finish.
//!
//! Request validation is not here: the generated code decodes every request through
//! `route256_proto::codec::ValidatingCodec`, so a handler never runs on an invalid request.
mod context_layer;
mod incoming;
mod limits;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::StreamExt;
use tonic::service::Routes;
use tonic::transport::server::Connected;
use tonic_health::ServingStatus;
use tower::ServiceExt;
use tower_http::classify::{GrpcCode, GrpcErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;

/// The server could not start or stopped on an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot build the reflection service")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// The listener could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}")]
pub struct BindError {
    addr: SocketAddr,
    #[source]
    source: std::io::Error,
}

/// The limits a gRPC server runs with, the same for every service; each can be set by an environment
/// variable (milliseconds for durations).
///
/// | limit | variable | default |
/// |---|---|---|
/// | largest request message | `GRPC_MAX_REQUEST_BYTES` | 1 MiB (4 MiB is tonic's) |
/// | calls in flight, whole server | `GRPC_MAX_IN_FLIGHT` | 1024 |
/// | calls in flight, one connection | `GRPC_MAX_IN_FLIGHT_PER_CONNECTION` | 256 |
/// | HTTP/2 keepalive ping interval / answer timeout | `GRPC_KEEPALIVE_INTERVAL_MS` / `_TIMEOUT_MS` | 30 s / 10 s |
/// | a connection without calls is closed after | `GRPC_IDLE_TIMEOUT_MS` | 5 min |
///
/// A request message above the size limit is refused before it is decoded, with tonic's
/// `OUT_OF_RANGE`; request metadata is capped at 16 KiB. A call past either in-flight limit is answered
/// `RESOURCE_EXHAUSTED` at once (health checks are exempt). Keepalive pings find dead peers; they do not
/// keep an idle connection open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    pub max_request_bytes: usize,
    pub max_in_flight: usize,
    pub max_in_flight_per_connection: usize,
    pub keepalive_interval: Duration,
    pub keepalive_timeout: Duration,
    pub idle_timeout: Duration,
}

/// The largest header block (metadata) a request may carry.
const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_request_bytes: 1024 * 1024,
            max_in_flight: 1024,
            max_in_flight_per_connection: 256,
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

impl ServerLimits {
    /// The defaults, overridden by the environment; out-of-range values are errors.
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        use crate::config::env_in_range;
        let d = Self::default();
        let ms = |key, default: Duration, range| {
            let default = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
            env_in_range(key, default, range).map(Duration::from_millis)
        };
        Ok(Self {
            max_request_bytes: env_in_range(
                "GRPC_MAX_REQUEST_BYTES",
                d.max_request_bytes,
                1024..=64 * 1024 * 1024,
            )?,
            max_in_flight: env_in_range("GRPC_MAX_IN_FLIGHT", d.max_in_flight, 1..=1_000_000)?,
            max_in_flight_per_connection: env_in_range(
                "GRPC_MAX_IN_FLIGHT_PER_CONNECTION",
                d.max_in_flight_per_connection,
                1..=1_000_000,
            )?,
            keepalive_interval: ms(
                "GRPC_KEEPALIVE_INTERVAL_MS",
                d.keepalive_interval,
                1_000..=3_600_000,
            )?,
            keepalive_timeout: ms(
                "GRPC_KEEPALIVE_TIMEOUT_MS",
                d.keepalive_timeout,
                1_000..=600_000,
            )?,
            idle_timeout: ms("GRPC_IDLE_TIMEOUT_MS", d.idle_timeout, 1_000..=86_400_000)?,
        })
    }
}

/// A service's gRPC server, bound and ready to run.
pub struct GrpcServer {
    addr: SocketAddr,
    listener: TcpListener,
    routes: Routes,
    services: Vec<&'static str>,
    limits: ServerLimits,
    background: Vec<(&'static str, BackgroundTask)>,
}

/// A task that runs beside the server until it sees `true` on its receiver (shutdown has begun).
type BackgroundTask = Box<
    dyn FnOnce(watch::Receiver<bool>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send,
>;

impl GrpcServer {
    /// Binds `addr` (port 0 picks a free port: see [`GrpcServer::local_addr`]) for `routes`, whose
    /// services are named in `services`. The caller sets `limits.max_request_bytes` on its generated
    /// services (`max_decoding_message_size`); the rest is applied here.
    ///
    /// Raises the process's soft open-file limit to its hard limit first: each connection is a file.
    pub async fn bind(
        addr: SocketAddr,
        routes: Routes,
        services: &[&'static str],
        limits: ServerLimits,
    ) -> Result<Self, BindError> {
        raise_open_file_limit();
        let bind_error = |source| BindError { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        Ok(Self {
            addr,
            listener,
            routes,
            services: services.to_vec(),
            limits,
            background: Vec::new(),
        })
    }

    /// Runs `task` beside the server, from the moment [`GrpcServer::run_until`] starts. Its receiver
    /// turns `true` when shutdown begins; `run_until` returns only after the task has ended, so nothing
    /// the service started outlives it.
    pub fn with_background<F, Fut>(mut self, name: &'static str, task: F) -> Self
    where
        F: FnOnce(watch::Receiver<bool>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.background
            .push((name, Box::new(move |stop| Box::pin(task(stop)))));
        self
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` resolves; then health answers NOT_SERVING, no new call is accepted and
    /// calls in flight finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        serve(self, shutdown).await
    }
}

/// Raises the soft open-file limit to the hard one (once per process; later calls do nothing).
fn raise_open_file_limit() {
    static RAISED: std::sync::Once = std::sync::Once::new();
    RAISED.call_once(|| match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open-file limit raised to the hard limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open-file limit"),
    });
}

async fn serve(
    server: GrpcServer,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let GrpcServer {
        addr,
        listener,
        routes,
        services,
        limits,
        background,
    } = server;
    let (stop_background, stopped) = watch::channel(false);
    let background: Vec<_> = background
        .into_iter()
        .map(|(name, task)| (name, tokio::spawn(task(stopped.clone()))))
        .collect();
    let services = services.as_slice();
    let (health, health_service) = tonic_health::server::health_reporter();
    for name in services {
        health
            .set_service_status(*name, ServingStatus::Serving)
            .await;
    }

    let reflection = || {
        let mut builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(route256_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name("grpc.health.v1.Health")
            .with_service_name("grpc.reflection.v1.ServerReflection")
            .with_service_name("grpc.reflection.v1alpha.ServerReflection");
        for name in services {
            builder = builder.with_service_name(*name);
        }
        builder
    };
    let max = limits.max_request_bytes;
    let routes = routes
        .add_service(health_service.max_decoding_message_size(max))
        .add_service(reflection().build_v1()?.max_decoding_message_size(max))
        .add_service(reflection().build_v1alpha()?.max_decoding_message_size(max));

    // Business outcomes a client caused are not server failures: log those calls at debug only.
    let classifier = GrpcErrorsAsFailures::new()
        .with_success(GrpcCode::InvalidArgument)
        .with_success(GrpcCode::NotFound)
        .with_success(GrpcCode::FailedPrecondition)
        .with_success(GrpcCode::Unauthenticated)
        .with_success(GrpcCode::ResourceExhausted)
        .with_success(GrpcCode::OutOfRange)
        .with_success(GrpcCode::Cancelled);
    // The span names the method and the request id only: the rest of the metadata, and with it the
    // caller's token, is never recorded.
    let trace = TraceLayer::new(SharedClassifier::new(classifier))
        .make_span_with(|request: &http::Request<_>| {
            let id = request
                .headers()
                .get(crate::context::REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("grpc", rpc = %request.uri().path(), request_id = %id)
        })
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::DEBUG))
        .on_failure(DefaultOnFailure::new().level(Level::WARN));
    // Outermost first: the request id, the call log, admission, the deadline, the services.
    let service = tower::ServiceBuilder::new()
        .layer(context_layer::RequestIdLayer)
        .layer(trace)
        .layer(limits::CallLimitsLayer::new(
            limits.max_in_flight,
            limits.max_in_flight_per_connection,
        ))
        .layer(context_layer::DeadlineLayer)
        .service(routes);

    let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    http2
        .timer(TokioTimer::new())
        .max_concurrent_streams(
            u32::try_from(limits.max_in_flight_per_connection.saturating_mul(2))
                .unwrap_or(u32::MAX),
        )
        .max_header_list_size(MAX_HEADER_LIST_BYTES)
        .keep_alive_interval(Some(limits.keepalive_interval))
        .keep_alive_timeout(limits.keepalive_timeout);

    tracing::info!(%addr, ?services, ?limits, "grpc server listening");
    let connections = GracefulShutdown::new();
    {
        // Dropping the stream at the end of this block closes the listener: no new connection is
        // accepted while the open ones drain.
        let mut incoming = incoming::accept(listener, limits.idle_timeout);
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let io = tokio::select! {
                () = &mut shutdown => break,
                io = incoming.next() => match io {
                    Some(Ok(io)) => io,
                    // The accept loop never yields an error, and ends only when the server does.
                    Some(Err(_)) | None => break,
                },
            };
            let info = io.connect_info();
            let service = service.clone();
            let per_call = hyper::service::service_fn(move |request: http::Request<Incoming>| {
                let mut request = request.map(tonic::body::Body::new);
                request.extensions_mut().insert(info.clone());
                service.clone().oneshot(request)
            });
            let connection = connections.watch(http2.serve_connection(TokioIo::new(io), per_call));
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "connection ended");
                }
            });
        }
    }
    stop_background.send_replace(true);
    for name in services {
        health
            .set_service_status(*name, ServingStatus::NotServing)
            .await;
    }
    tracing::info!(%addr, "grpc server draining");
    // Every open connection is told to go away (HTTP/2 GOAWAY); calls in flight finish first.
    connections.shutdown().await;
    // Also when the server failed: the tasks must not outlive it.
    stop_background.send_replace(true);
    for (name, task) in background {
        if let Err(error) = task.await {
            tracing::error!(task = name, %error, "background task failed");
        }
    }
    tracing::info!(%addr, "grpc server stopped");
    Ok(())
}
