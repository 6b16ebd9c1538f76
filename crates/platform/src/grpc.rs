//! The gRPC server every service runs: its own services plus health (`grpc.health.v1`), server reflection
//! v1 and v1alpha (grpcurl 1.8 speaks only v1alpha), a log line per failed call, and graceful shutdown.
//!
//! Request validation is not here: the generated code decodes every request through
//! `route256_proto::codec::ValidatingCodec`, so a handler never runs on an invalid request.
use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tower_http::classify::{GrpcCode, GrpcErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;

/// The server could not start or stopped on an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot build the reflection service")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("grpc transport failed")]
    Transport(#[from] tonic::transport::Error),
}

/// The listener could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}")]
pub struct BindError {
    addr: SocketAddr,
    #[source]
    source: std::io::Error,
}

/// A service's gRPC server, bound and ready to run.
pub struct GrpcServer {
    addr: SocketAddr,
    listener: TcpListener,
    routes: Routes,
    services: Vec<&'static str>,
}

impl GrpcServer {
    /// Binds `addr` (port 0 picks a free port: see [`GrpcServer::local_addr`]) for `routes`, whose
    /// services are named in `services`.
    pub async fn bind(
        addr: SocketAddr,
        routes: Routes,
        services: &[&'static str],
    ) -> Result<Self, BindError> {
        let bind_error = |source| BindError { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        Ok(Self {
            addr,
            listener,
            routes,
            services: services.to_vec(),
        })
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
        serve(
            self.addr,
            self.listener,
            self.routes,
            &self.services,
            shutdown,
        )
        .await
    }
}

async fn serve(
    addr: SocketAddr,
    listener: TcpListener,
    routes: Routes,
    services: &[&'static str],
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
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
    let routes = routes
        .add_service(health_service)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?);

    // Business outcomes a client caused are not server failures: log those calls at debug only.
    let classifier = GrpcErrorsAsFailures::new()
        .with_success(GrpcCode::InvalidArgument)
        .with_success(GrpcCode::NotFound)
        .with_success(GrpcCode::FailedPrecondition)
        .with_success(GrpcCode::Unauthenticated)
        .with_success(GrpcCode::ResourceExhausted)
        .with_success(GrpcCode::OutOfRange);
    // The span names the method only: metadata, and with it the caller's token, is never recorded.
    let trace = TraceLayer::new(SharedClassifier::new(classifier))
        .make_span_with(
            |request: &http::Request<_>| tracing::info_span!("grpc", rpc = %request.uri().path()),
        )
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::DEBUG))
        .on_failure(DefaultOnFailure::new().level(Level::WARN));

    tracing::info!(%addr, ?services, "grpc server listening");

    let shutdown = async {
        shutdown.await;
        for name in services {
            health
                .set_service_status(*name, ServingStatus::NotServing)
                .await;
        }
        tracing::info!(%addr, "grpc server draining");
    };
    Server::builder()
        .layer(trace)
        .add_routes(routes)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    tracing::info!(%addr, "grpc server stopped");
    Ok(())
}
