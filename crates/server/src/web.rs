//! The HTTP port of every service: what load balancers and Prometheus ask for, and the JSON gateway
//! over its RPCs with its documentation (the `gateway` crate) for everything else.
//!
//! | path | what |
//! |---|---|
//! | `/healthz` | liveness: 200 while the process serves at all |
//! | `/readyz` | readiness: 200 when the service's own check passes (storage and the services it calls are reachable); 503 once shutdown has begun, or when the check fails or takes over 2 s |
//! | `/metrics` | Prometheus text format (see [`crate::metrics`]) |
//! | `/openapi.json`, `/swagger/` | the gateway's OpenAPI document and Swagger UI ([`gateway::Docs`]) |
//! | anything else | the gateway ([`gateway::Gateway`]) |
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};
use http_body_util::Full;
use tokio::sync::watch;

use gateway::{Docs, Gateway, HttpError, HttpResponse};

/// A service's readiness check: `Err` says what is not reachable.
pub type ReadinessCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// The readiness check of one dependency: ready while `probe(target)` succeeds (a store's `ping`,
/// say); a failure reads `<what>: <error>`.
pub fn readiness_of<T, F, Fut, E>(what: &'static str, target: Arc<T>, probe: F) -> ReadinessCheck
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    Arc::new(move || {
        let answer = probe(target.clone());
        Box::pin(async move { answer.await.map_err(|error| format!("{what}: {error}")) })
    })
}

/// How long a readiness check may take before the answer is "not ready".
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// The probes every HTTP port answers: `/healthz`, `/readyz` and `/metrics`.
pub struct Probes {
    readiness: Option<ReadinessCheck>,
    /// `true` once shutdown has begun.
    draining: watch::Receiver<bool>,
}

impl Probes {
    pub fn new(readiness: Option<ReadinessCheck>, draining: watch::Receiver<bool>) -> Self {
        Self {
            readiness,
            draining,
        }
    }

    /// Whether `path` is a probe's.
    pub fn serves(path: &str) -> bool {
        matches!(path, "/healthz" | "/readyz" | "/metrics")
    }

    /// The answer to a GET of `path`, which [`Probes::serves`].
    pub async fn respond(&self, path: &str) -> HttpResponse {
        match path {
            "/healthz" => text(StatusCode::OK, "text/plain", "ok"),
            "/readyz" => self.ready().await,
            "/metrics" => text(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                crate::metrics::render(),
            ),
            _ => text(StatusCode::NOT_FOUND, "text/plain", "not found"),
        }
    }

    async fn ready(&self) -> HttpResponse {
        if *self.draining.borrow() {
            return text(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "draining");
        }
        let Some(check) = &self.readiness else {
            return text(StatusCode::OK, "text/plain", "ready");
        };
        match tokio::time::timeout(READINESS_TIMEOUT, check()).await {
            Ok(Ok(())) => text(StatusCode::OK, "text/plain", "ready"),
            Ok(Err(reason)) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                format!("not ready: {reason}"),
            ),
            Err(_) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                "not ready: the check timed out",
            ),
        }
    }
}

/// Everything the HTTP port of a gRPC server answers.
pub struct HttpFront {
    gateway: Gateway,
    docs: Docs,
    probes: Probes,
}

impl HttpFront {
    /// The front of `gateway`, documented by `docs`, beside the `probes`.
    pub fn new(gateway: Gateway, docs: Docs, probes: Probes) -> Self {
        Self {
            gateway,
            docs,
            probes,
        }
    }

    /// Answers one request.
    pub async fn respond<B>(&self, request: http::Request<B>) -> HttpResponse
    where
        B: http_body::Body,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let path = request.uri().path();
        if !Probes::serves(path) && !Docs::serves(path) {
            return self.gateway.handle(request).await;
        }
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return HttpError::method_not_allowed(request.method(), path, "GET, HEAD")
                .into_response();
        }
        if Probes::serves(path) {
            self.probes.respond(path).await
        } else {
            self.docs.respond(path)
        }
    }
}

fn text(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> HttpResponse {
    let mut response = http::Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if !content_type.is_empty() {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_readiness_check_asks_its_probe_each_time_and_names_what_failed() {
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let check = readiness_of("database", up.clone(), |up| async move {
            match up.load(std::sync::atomic::Ordering::SeqCst) {
                true => Ok(()),
                false => Err("connection refused"),
            }
        });
        assert_eq!(check().await, Ok(()));
        up.store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            check().await,
            Err("database: connection refused".to_owned())
        );
    }
}
