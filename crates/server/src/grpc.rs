//! The gRPC server every service runs: its own services plus health (`grpc.health.v1`), server reflection
//! v1 and v1alpha (grpcurl 1.8 speaks only v1alpha), a log line per failed call, graceful shutdown, and
//! the limits that keep it answering under abuse or overload ([`ServerLimits`]).
//!
//! HTTP/2 is served by our own loop over hyper rather than tonic's `Server`, so that nothing of tonic's
//! runs before our layers (its server answers a passed `grpc-timeout` with `CANCELLED`). A connection
//! comes from the accept loop (`incoming.rs`: backoff on resource errors, idle timeout); each call then
//! passes the layers [`call_stack`] lists, outermost first: the request id, metrics, the call log,
//! message receipt (`receive.rs`), admission (`limits.rs`), the caller's token (`authenticate.rs`),
//! the caller's deadline, then the services' routes. On shutdown health turns NOT_SERVING, the listeners close, every connection is sent GOAWAY,
//! and calls in flight finish (the steps of [`serve`]).
//!
//! With [`GrpcServer::with_http`] the same server also listens for HTTP/1.1 and HTTP/2 on a second
//! port ([`crate::web`]): the JSON gateway calls the very service stack above in-process, so both ports
//! share validation, limits, logs, metrics and deadlines. Shutdown then begins by reporting not ready
//! (`/readyz` 503, health NOT_SERVING) for `SHUTDOWN_DRAIN_DELAY_MS` while still serving, so load
//! balancers stop sending calls before the listeners close.
//!
//! Request validation is not here: a service's generated code decodes and validates its requests, so
//! a handler never runs on an invalid request.
mod authenticate;
mod call_log;
mod context_layer;
mod incoming;
mod limits;
mod receive;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
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

use gateway::{CallService, Docs, Gateway};

pub use authenticate::Callers;

use crate::background::Background;
use crate::web::{HttpFront, Probes, ReadinessCheck};

/// The server could not start or stopped on an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot build the reflection service")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("cannot build the HTTP gateway")]
    Gateway(#[from] gateway::RuleError),
    #[error("cannot read the descriptor sets")]
    Descriptors(#[from] prost_reflect::DescriptorError),
    /// Connections still open when the drain deadline passed were closed by force: their calls were
    /// cut off. The process should exit with a failure status, so whoever stopped it can tell.
    #[error("{open} connections still open {after:?} after shutdown began were closed by force")]
    DrainTimedOut { open: usize, after: Duration },
    /// Background tasks (loms's relay, the notifier's consumer) had not ended when the drain's deadline
    /// passed, counted from the start of the shutdown: they were aborted.
    #[error(
        "background tasks {tasks:?} still running {after:?} after shutdown began were aborted"
    )]
    BackgroundTimedOut {
        tasks: Vec<&'static str>,
        after: Duration,
    },
}

/// The listener could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}")]
pub struct BindError {
    pub(crate) addr: SocketAddr,
    #[source]
    pub(crate) source: std::io::Error,
}

/// The limits a gRPC server runs with, the same for every service; each can be set by an environment
/// variable (milliseconds for durations).
///
/// | limit | variable | default |
/// |---|---|---|
/// | largest request message | `GRPC_MAX_REQUEST_BYTES` | 1 MiB (4 MiB is tonic's) |
/// | a call's first request message arrives within | `GRPC_REQUEST_READ_TIMEOUT_MS` | 10 s |
/// | calls in flight, whole server | `GRPC_MAX_IN_FLIGHT` | 1024 |
/// | calls in flight, one connection | `GRPC_MAX_IN_FLIGHT_PER_CONNECTION` | 256 |
/// | HTTP/2 keepalive ping interval / answer timeout | `GRPC_KEEPALIVE_INTERVAL_MS` / `_TIMEOUT_MS` | 30 s / 10 s |
/// | a connection without calls is closed after | `GRPC_IDLE_TIMEOUT_MS` | 5 min |
/// | not ready but still serving, from a shutdown signal until the listeners close | `SHUTDOWN_DRAIN_DELAY_MS` | 0 |
/// | then, at most, for calls in flight to finish; connections still open are closed by force | `SHUTDOWN_DRAIN_TIMEOUT_MS` | 30 s |
///
/// The HTTP port ([`GrpcServer::with_http`]) shares these: its bodies are capped at the same size
/// (413 above it), its calls count against the same in-flight limits, and its idle connections close
/// alike; an HTTP/1.1 request's headers must arrive within 10 s.
///
/// A request message above the size limit is refused from its length prefix, before it is read or
/// decoded, with `OUT_OF_RANGE` (`receive.rs`); request metadata is capped at 16 KiB. A call past
/// either in-flight limit is answered `RESOURCE_EXHAUSTED` at once (health checks are exempt); a call
/// counts against them only once its request message has arrived whole (`receive.rs`), so streams
/// that never finish sending hold no slot. Keepalive pings find dead peers; they do not keep an idle
/// connection open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    pub max_request_bytes: usize,
    pub read_timeout: Duration,
    pub max_in_flight: usize,
    pub max_in_flight_per_connection: usize,
    pub keepalive_interval: Duration,
    pub keepalive_timeout: Duration,
    pub idle_timeout: Duration,
    pub drain_delay: Duration,
    pub drain_timeout: Duration,
}

/// The largest header block (metadata) a request may carry.
const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_request_bytes: 1024 * 1024,
            read_timeout: Duration::from_secs(10),
            max_in_flight: 1024,
            max_in_flight_per_connection: 256,
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            drain_delay: Duration::ZERO,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

impl ServerLimits {
    /// The defaults, overridden by the environment; out-of-range values are errors.
    pub fn from_env() -> Result<Self, env_config::ConfigError> {
        use env_config::env_in_range;
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
            read_timeout: ms(
                "GRPC_REQUEST_READ_TIMEOUT_MS",
                d.read_timeout,
                100..=600_000,
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
            drain_delay: ms("SHUTDOWN_DRAIN_DELAY_MS", d.drain_delay, 0..=600_000)?,
            drain_timeout: ms("SHUTDOWN_DRAIN_TIMEOUT_MS", d.drain_timeout, 0..=3_600_000)?,
        })
    }
}

/// How long an HTTP/1.1 client may take to send a request's headers.
const HTTP1_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// What a service serves: its routes, the full names of its services (`package.Service`), and the
/// encoded descriptor set its code was generated from, which reflection, the gateway and the table of
/// known methods read. The server adds health and reflection to them.
pub struct Served {
    pub routes: Routes,
    pub services: Vec<&'static str>,
    pub descriptors: &'static [u8],
    /// Who may call the services' methods: a service that serves users names its authenticator and
    /// its open methods; `None` lets every call through to the handlers (product-service checks its
    /// own tokens).
    pub callers: Option<Callers>,
}

/// A service's gRPC server, bound and ready to run.
pub struct GrpcServer {
    addr: SocketAddr,
    listener: TcpListener,
    served: Served,
    limits: ServerLimits,
    background: Background,
    http: Option<(SocketAddr, TcpListener)>,
    readiness: Option<ReadinessCheck>,
}

impl GrpcServer {
    /// Binds `addr` (port 0 picks a free port: see [`GrpcServer::local_addr`]) for `served`. The
    /// caller sets `limits.max_request_bytes` on its generated services (`max_decoding_message_size`);
    /// the rest is applied here.
    ///
    /// Raises the process's soft open-file limit to its hard limit first: each connection is a file.
    pub async fn bind(
        addr: SocketAddr,
        served: Served,
        limits: ServerLimits,
    ) -> Result<Self, BindError> {
        raise_open_file_limit();
        crate::metrics::install();
        let bind_error = |source| BindError { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        Ok(Self {
            addr,
            listener,
            served,
            limits,
            background: Background::default(),
            http: None,
            readiness: None,
        })
    }

    /// Also serves HTTP on `addr` (port 0 picks a free port: see [`GrpcServer::http_addr`]): the JSON
    /// gateway, `/openapi.json`, `/swagger/`, `/healthz`, `/readyz` and `/metrics` ([`crate::web`]).
    pub async fn with_http(mut self, addr: SocketAddr) -> Result<Self, BindError> {
        let bind_error = |source| BindError { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        self.http = Some((addr, listener));
        Ok(self)
    }

    /// What `/readyz` checks beyond "not shutting down": the storage and services this one needs.
    pub fn with_readiness(mut self, check: ReadinessCheck) -> Self {
        self.readiness = Some(check);
        self
    }

    /// The HTTP address, when the server has one.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|(addr, _)| *addr)
    }

    /// Runs `task` beside the server, from the moment [`GrpcServer::run_until`] starts. Its receiver
    /// turns `true` when shutdown begins; `run_until` returns only after the task has ended, so nothing
    /// the service started outlives it.
    pub fn with_background<F, Fut>(mut self, name: &'static str, task: F) -> Self
    where
        F: FnOnce(watch::Receiver<bool>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.background.add(name, task);
        self
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` resolves; then health answers NOT_SERVING, no new call is accepted and
    /// calls in flight finish, for at most `drain_timeout` ([`ServeError::DrainTimedOut`] past it).
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

/// The steps of a server's life: build the call stack (and the HTTP front over it), start the
/// background tasks, accept connections until shutdown, drain them, wait for the tasks.
async fn serve(
    server: GrpcServer,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let GrpcServer {
        addr,
        listener,
        served,
        limits,
        background,
        http,
        readiness,
    } = server;
    let Served {
        routes,
        services,
        descriptors,
        callers,
    } = served;
    // `true` from the moment shutdown begins: background tasks stop, readiness turns 503.
    let (draining, stopped) = watch::channel(false);
    let (health, routes) = Health::serve(routes, &services, limits.max_request_bytes).await;
    let calls = call_stack(routes, &services, descriptors, callers, &limits)?;
    let http_addr = http.as_ref().map(|(addr, _)| *addr);
    let http = match http {
        Some((_, listener)) => {
            let (gateway, docs) = http_front(&services, descriptors, calls.clone(), &limits)?;
            let probes = Probes::new(readiness, stopped.clone());
            let front = HttpFront::new(gateway, docs, probes);
            Some((listener, Arc::new(front)))
        }
        None => None,
    };
    // Started once nothing can fail any more: a server that cannot start leaves no task behind.
    let background = background.spawn(&stopped);
    tracing::info!(%addr, ?http_addr, ?services, ?limits, "grpc server listening");
    let stopping = async {
        shutdown.await;
        draining.send_replace(true);
        health.set(ServingStatus::NotServing).await;
    };
    let connections = accept_until(stopping, (listener, http), calls, &limits).await;
    // Also when the server failed or the signal came without a delay: the tasks must stop.
    draining.send_replace(true);
    health.set(ServingStatus::NotServing).await;
    tracing::info!(%addr, "grpc server draining");
    // The tasks were told to stop with the drain: both share its deadline.
    let deadline = tokio::time::Instant::now() + limits.drain_timeout;
    let drained = connections.drain(limits.drain_timeout).await;
    let joined = background.join_until(deadline).await;
    tracing::info!(%addr, "grpc server stopped");
    drained?;
    joined.map_err(|tasks| ServeError::BackgroundTimedOut {
        tasks,
        after: limits.drain_timeout,
    })
}

/// What the health service (`grpc.health.v1`) reports for a server's services.
struct Health {
    reporter: tonic_health::server::HealthReporter,
    services: Vec<&'static str>,
}

impl Health {
    /// `routes` with the health service added, every service reported SERVING.
    async fn serve(
        routes: Routes,
        services: &[&'static str],
        max_request: usize,
    ) -> (Self, Routes) {
        let (reporter, service) = tonic_health::server::health_reporter();
        let health = Self {
            reporter,
            services: services.to_vec(),
        };
        health.set(ServingStatus::Serving).await;
        let routes = routes.add_service(service.max_decoding_message_size(max_request));
        (health, routes)
    }

    async fn set(&self, status: ServingStatus) {
        for name in &self.services {
            self.reporter.set_service_status(*name, status).await;
        }
    }
}

/// The services every server adds beside its own: health and reflection v1 and v1alpha.
const BUILT_IN: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// What every call passes, outermost first: the request id, metrics, the call log, receiving the
/// message, admission, authentication, the deadline, then the services (`routes` with reflection
/// added).
fn call_stack(
    routes: Routes,
    services: &[&'static str],
    descriptors: &'static [u8],
    callers: Option<Callers>,
    limits: &ServerLimits,
) -> Result<CallService, ServeError> {
    let reflection = || {
        let mut builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(descriptors)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
        for name in BUILT_IN.iter().chain(services) {
            builder = builder.with_service_name(*name);
        }
        builder
    };
    let max = limits.max_request_bytes;
    let routes = routes
        .add_service(reflection().build_v1()?.max_decoding_message_size(max))
        .add_service(reflection().build_v1alpha()?.max_decoding_message_size(max));
    let methods = served_methods(services, descriptors)?;
    let known = crate::metrics::KnownMethods::new(methods.iter().map(|(path, _)| path.clone()));
    let stack = tower::ServiceBuilder::new()
        .layer(context_layer::RequestIdLayer)
        .layer(crate::metrics::RpcMetricsLayer::new(known))
        .layer(call_log::layer())
        .layer(receive::ReceiveLayer::new(
            receive::MethodKinds::new(methods),
            limits.max_request_bytes,
            limits.read_timeout,
        ))
        .layer(limits::CallLimitsLayer::new(
            limits.max_in_flight,
            limits.max_in_flight_per_connection,
        ))
        .layer(authenticate::AuthenticateLayer::new(callers, services))
        .layer(context_layer::DeadlineLayer)
        .service(routes)
        .map_response(|response| response.map(tonic::body::Body::new));
    Ok(CallService::new(stack))
}

/// The gateway over the call stack, and its documentation.
fn http_front(
    services: &[&'static str],
    descriptors: &'static [u8],
    calls: CallService,
    limits: &ServerLimits,
) -> Result<(Gateway, Docs), ServeError> {
    let pool = prost_reflect::DescriptorPool::decode(descriptors)?;
    let routes = gateway::routes(&pool, services)?;
    let headers = crate::context::GATEWAY_HEADERS;
    let docs = Docs::new(&gateway::openapi(&pool, services, &routes, &headers));
    Ok((
        Gateway::new(routes, calls, limits.max_request_bytes, headers),
        docs,
    ))
}

/// The gRPC listener, and the HTTP one with what answers there.
type Listeners = (TcpListener, Option<(TcpListener, Arc<HttpFront>)>);

/// Accepts connections and serves them until `stopping` has resolved and the drain delay after it
/// has passed (not ready, still serving), or an accept loop ends. The listeners close when it returns;
/// the connections it hands back are still open.
async fn accept_until(
    stopping: impl Future<Output = ()>,
    (grpc, http): Listeners,
    calls: CallService,
    limits: &ServerLimits,
) -> Connections {
    let mut connections = Connections::new(limits);
    // A connection has as long to send its first request as a request has to send its message.
    let timeouts = incoming::Timeouts {
        idle: limits.idle_timeout,
        first_request: limits.read_timeout,
    };
    let mut grpc = incoming::accept(grpc, timeouts);
    let (http, front) = match http {
        Some((listener, front)) => (Some(incoming::accept(listener, timeouts)), Some(front)),
        None => (None, None),
    };
    let mut http = http;
    let mut stopping = std::pin::pin!(stopping);
    let mut drain_until: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    loop {
        tokio::select! {
            () = &mut stopping, if drain_until.is_none() => {
                if limits.drain_delay.is_zero() {
                    break;
                }
                tracing::info!(delay = ?limits.drain_delay, "not ready, still serving");
                drain_until = Some(Box::pin(tokio::time::sleep(limits.drain_delay)));
            }
            () = until(drain_until.as_mut()) => break,
            Some(_ended) = connections.tasks.join_next(), if !connections.tasks.is_empty() => {}
            io = grpc.next() => match io {
                Some(Ok(io)) => connections.serve_grpc(io, &calls),
                // The accept loop never yields an error, and ends only when the server does.
                Some(Err(_)) | None => break,
            },
            io = next_connection(http.as_mut()) => match (io, &front) {
                (Some(io), Some(front)) => connections.serve_http(io, front),
                _ => break,
            },
        }
    }
    connections
}

/// The open connections of a server, each served by a task of its own.
struct Connections {
    graceful: GracefulShutdown,
    /// The connections' tasks, so that those still open at the drain deadline can be ended.
    tasks: tokio::task::JoinSet<()>,
    http2: hyper::server::conn::http2::Builder<TokioExecutor>,
    web: hyper_util::server::conn::auto::Builder<TokioExecutor>,
}

impl Connections {
    fn new(limits: &ServerLimits) -> Self {
        let (http2, web) = connection_builders(limits);
        Self {
            graceful: GracefulShutdown::new(),
            tasks: tokio::task::JoinSet::new(),
            http2,
            web,
        }
    }

    /// Serves a gRPC connection: every call through `calls`.
    fn serve_grpc(&mut self, io: incoming::TrackedStream, calls: &CallService) {
        let info = io.connect_info();
        let calls = calls.clone();
        let per_call = hyper::service::service_fn(move |request: http::Request<Incoming>| {
            info.0.touch();
            let mut request = request.map(tonic::body::Body::new);
            request.extensions_mut().insert(info.clone());
            calls.clone().oneshot(request)
        });
        let connection = self
            .graceful
            .watch(self.http2.serve_connection(TokioIo::new(io), per_call));
        self.tasks.spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended");
            }
        });
    }

    /// Serves an HTTP connection: every request answered by `front`.
    fn serve_http(&mut self, io: incoming::TrackedStream, front: &Arc<HttpFront>) {
        let info = io.connect_info();
        let front = front.clone();
        let per_request =
            hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
                info.0.touch();
                request.extensions_mut().insert(info.clone());
                let front = front.clone();
                async move { Ok::<_, std::convert::Infallible>(front.respond(request).await) }
            });
        let connection = self.graceful.watch(
            self.web
                .serve_connection(TokioIo::new(io), per_request)
                .into_owned(),
        );
        self.tasks.spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "http connection ended");
            }
        });
    }

    /// Tells every open connection to go away (HTTP/2 GOAWAY, HTTP/1.1 close after the current
    /// request) and lets calls in flight finish, for at most `timeout`: a client that never finishes
    /// its request (or never reads its answer) cannot keep the process alive. Connections open past it
    /// are dropped, which closes their sockets.
    async fn drain(self, timeout: Duration) -> Result<(), ServeError> {
        let Self {
            graceful,
            mut tasks,
            ..
        } = self;
        if tokio::time::timeout(timeout, graceful.shutdown())
            .await
            .is_ok()
        {
            return Ok(());
        }
        while tasks.try_join_next().is_some() {}
        let open = tasks.len();
        tasks.shutdown().await;
        tracing::warn!(open, after = ?timeout, "drain deadline passed: connections closed by force");
        Err(ServeError::DrainTimedOut {
            open,
            after: timeout,
        })
    }
}

/// How connections are served: HTTP/2 on the gRPC port; HTTP/1.1 and HTTP/2 on the HTTP port.
fn connection_builders(
    limits: &ServerLimits,
) -> (
    hyper::server::conn::http2::Builder<TokioExecutor>,
    hyper_util::server::conn::auto::Builder<TokioExecutor>,
) {
    let streams = limits.max_in_flight_per_connection.saturating_mul(2);
    // Callers whose deadline is tiny open a call and cancel it at once; h2 closes the whole connection
    // (every other call on it) once more than 20 such calls wait to be taken up. As many as the
    // connection may have open is the bound that still stops a rapid-reset flood.
    let cancelled_before_taken = Some(streams);
    let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    http2
        .timer(TokioTimer::new())
        .max_concurrent_streams(u32::try_from(streams).unwrap_or(u32::MAX))
        .max_pending_accept_reset_streams(cancelled_before_taken)
        .max_header_list_size(MAX_HEADER_LIST_BYTES)
        .keep_alive_interval(Some(limits.keepalive_interval))
        .keep_alive_timeout(limits.keepalive_timeout);
    let mut web = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    web.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HTTP1_HEADER_TIMEOUT)
        .max_headers(100);
    web.http2()
        .timer(TokioTimer::new())
        .max_pending_accept_reset_streams(cancelled_before_taken)
        .max_header_list_size(MAX_HEADER_LIST_BYTES)
        .keep_alive_interval(Some(limits.keepalive_interval))
        .keep_alive_timeout(limits.keepalive_timeout);
    (http2, web)
}

/// Every method of `services` and of the built-in health and reflection services: its path, and
/// whether its client sends a stream.
fn served_methods(
    services: &[&'static str],
    descriptors: &'static [u8],
) -> Result<Vec<(String, bool)>, prost_reflect::DescriptorError> {
    let mut paths = Vec::new();
    for set in [
        descriptors,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ] {
        let pool = prost_reflect::DescriptorPool::decode(set)?;
        for service in pool.services() {
            let name = service.full_name();
            if services.contains(&name) || BUILT_IN.contains(&name) {
                paths.extend(
                    service
                        .methods()
                        .map(|m| (format!("/{name}/{}", m.name()), m.is_client_streaming())),
                );
            }
        }
    }
    Ok(paths)
}

/// Resolves when the drain delay has passed; never while there is none.
async fn until(sleep: Option<&mut std::pin::Pin<Box<tokio::time::Sleep>>>) {
    match sleep {
        Some(sleep) => sleep.as_mut().await,
        None => std::future::pending().await,
    }
}

/// The next HTTP connection; never, without an HTTP port. `None` when its accept loop ended.
async fn next_connection<S>(incoming: Option<&mut S>) -> Option<incoming::TrackedStream>
where
    S: tokio_stream::Stream<Item = std::io::Result<incoming::TrackedStream>> + Unpin,
{
    match incoming {
        Some(incoming) => incoming.next().await.and_then(Result::ok),
        None => std::future::pending().await,
    }
}
