//! The HTTP port of every service: the JSON gateway over its RPCs, the OpenAPI document and Swagger UI
//! over it, and what load balancers and Prometheus ask for.
//!
//! | path | what |
//! |---|---|
//! | `/healthz` | liveness: 200 while the process serves at all |
//! | `/readyz` | readiness: 200 when the service's own check passes (storage and the services it calls are reachable); 503 once shutdown has begun, or when the check fails or takes over 2 s |
//! | `/metrics` | Prometheus text format (see [`crate::metrics`]) |
//! | `/openapi.json` | the OpenAPI 3 document of the gateway's routes |
//! | `/swagger/` | Swagger UI over that document, from files built into the binary; "Try it out" calls this same origin |
//! | anything else | the gateway (see [`crate::gateway`]) |
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};
use http_body_util::Full;
use tokio::sync::watch;

use crate::gateway::{Gateway, HttpError, HttpResponse};

/// A service's readiness check: `Err` says what is not reachable.
pub type ReadinessCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// How long a readiness check may take before the answer is "not ready".
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// Everything the HTTP port answers.
pub struct HttpFront {
    gateway: Gateway,
    openapi: Bytes,
    swagger: Arc<utoipa_swagger_ui::Config<'static>>,
    readiness: Option<ReadinessCheck>,
    /// `true` once shutdown has begun.
    draining: watch::Receiver<bool>,
}

impl HttpFront {
    /// The front of `gateway`, documented by `openapi`.
    pub fn new(
        gateway: Gateway,
        openapi: &serde_json::Value,
        readiness: Option<ReadinessCheck>,
        draining: watch::Receiver<bool>,
    ) -> Self {
        // No validator badge: it would be fetched from swagger.io, and nothing here needs the network.
        let swagger = utoipa_swagger_ui::Config::new(["/openapi.json"])
            .persist_authorization(true)
            .validator_url("none");
        Self {
            gateway,
            openapi: Bytes::from(openapi.to_string()),
            swagger: Arc::new(swagger),
            readiness,
            draining,
        }
    }

    /// Answers one request.
    pub async fn respond<B>(&self, request: http::Request<B>) -> HttpResponse
    where
        B: http_body::Body,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let path = request.uri().path();
        let fixed = matches!(
            path,
            "/healthz" | "/readyz" | "/metrics" | "/openapi.json" | "/swagger"
        ) || path.starts_with("/swagger/");
        if !fixed {
            return self.gateway.handle(request).await;
        }
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return HttpError::method_not_allowed(request.method(), path, "GET, HEAD")
                .into_response();
        }
        match path {
            "/healthz" => text(StatusCode::OK, "text/plain", "ok"),
            "/readyz" => self.ready().await,
            "/metrics" => text(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                crate::metrics::render(),
            ),
            "/openapi.json" => text(StatusCode::OK, "application/json", self.openapi.clone()),
            "/swagger" => {
                let mut response = text(StatusCode::MOVED_PERMANENTLY, "text/plain", "");
                response
                    .headers_mut()
                    .insert(header::LOCATION, HeaderValue::from_static("/swagger/"));
                response
            }
            _ => self.swagger_file(path.trim_start_matches("/swagger/")),
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

    fn swagger_file(&self, file: &str) -> HttpResponse {
        match utoipa_swagger_ui::serve(file, self.swagger.clone()) {
            Ok(Some(found)) => {
                let mut response = text(StatusCode::OK, "", Bytes::from(found.bytes.into_owned()));
                if let Ok(kind) = HeaderValue::try_from(found.content_type) {
                    response.headers_mut().insert(header::CONTENT_TYPE, kind);
                }
                if found.gzpipped {
                    response
                        .headers_mut()
                        .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                }
                response
            }
            Ok(None) => HttpError::no_route(&format!("/swagger/{file}")).into_response(),
            Err(error) => {
                tracing::error!(%error, "cannot serve swagger ui");
                HttpError::from_status(&tonic::Status::internal("internal error")).into_response()
            }
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
