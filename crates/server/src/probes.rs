//! How a service that serves no RPCs runs (the notifier, a consumer): its background tasks, and an
//! HTTP port with the probes only — `/healthz`, `/readyz`, `/metrics` ([`Probes`]).
//!
//! Shutdown goes in the order that loses nothing: readiness turns 503 and the tasks are told to stop;
//! they finish what they hold (the notifier the records of the poll in hand); then the port closes, so `/metrics`
//! and `/readyz` answer until the last task has ended.
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::background::Background;
use crate::grpc::BindError;
use crate::web::{Probes, ReadinessCheck};

/// How long an HTTP/1.1 client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open probe connections may take to finish after the tasks ended.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A probe port with background tasks, bound and ready to run.
pub struct ProbeServer {
    addr: SocketAddr,
    listener: TcpListener,
    readiness: Option<ReadinessCheck>,
    background: Background,
}

impl ProbeServer {
    /// Binds `addr` (port 0 picks a free port: see [`ProbeServer::local_addr`]).
    pub async fn bind(addr: SocketAddr) -> Result<Self, BindError> {
        crate::metrics::install();
        let bind_error = |source| BindError { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        Ok(Self {
            addr,
            listener,
            readiness: None,
            background: Background::default(),
        })
    }

    /// What `/readyz` checks beyond "not shutting down".
    pub fn with_readiness(mut self, check: ReadinessCheck) -> Self {
        self.readiness = Some(check);
        self
    }

    /// Runs `task` from the moment [`ProbeServer::run_until`] starts; its receiver turns `true` when
    /// shutdown begins, and `run_until` returns only after the task has ended.
    pub fn with_background<F, Fut>(mut self, name: &'static str, task: F) -> Self
    where
        F: FnOnce(watch::Receiver<bool>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.background.add(name, task);
        self
    }

    /// The address the probes answer on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` resolves, then stops the tasks, waits for them, and closes the port.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) {
        let Self {
            addr,
            listener,
            readiness,
            background,
        } = self;
        let (draining, stopped) = watch::channel(false);
        let probes = Arc::new(Probes::new(readiness, stopped.clone()));
        let tasks = background.spawn(&stopped);
        tracing::info!(%addr, "probe port listening");
        let graceful = GracefulShutdown::new();
        let accepting = accept(&listener, &probes, &graceful);
        tokio::select! {
            () = shutdown => {}
            () = accepting => {}
        }
        draining.send_replace(true);
        tracing::info!(%addr, "stopping background tasks");
        // The port still answers while the tasks finish: accept on until they have.
        tokio::select! {
            () = tasks.join() => {}
            () = accept(&listener, &probes, &graceful) => {}
        }
        drop(listener);
        if tokio::time::timeout(CLOSE_TIMEOUT, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::debug!("probe connections closed by force");
        }
        tracing::info!(%addr, "stopped");
    }
}

/// Accepts probe connections for as long as it runs; a failed accept is logged and pauses 100 ms.
async fn accept(listener: &TcpListener, probes: &Arc<Probes>, graceful: &GracefulShutdown) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors and the like: pause instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let probes = probes.clone();
        let answer = hyper::service::service_fn(move |request: http::Request<Incoming>| {
            let probes = probes.clone();
            async move {
                let path = request.uri().path();
                let get = matches!(*request.method(), http::Method::GET | http::Method::HEAD);
                let response = match (Probes::serves(path), get) {
                    (true, true) => probes.respond(path).await,
                    (true, false) => {
                        let method = request.method();
                        gateway::HttpError::method_not_allowed(method, path, "GET, HEAD")
                            .into_response()
                    }
                    (false, _) => gateway::HttpError::no_route(path).into_response(),
                };
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        let mut http1 = hyper::server::conn::http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT);
        let connection = graceful.watch(http1.serve_connection(TokioIo::new(stream), answer));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "probe connection ended");
            }
        });
    }
}
