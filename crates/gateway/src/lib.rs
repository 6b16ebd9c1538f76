//! The HTTP/JSON gateway: every RPC with a `google.api.http` rule, reachable over HTTP with JSON, with no
//! second hand-written API.
//!
//! The routes are read at start-up from the descriptor pool the server hands in (the one its services
//! were generated from): every binding of every rule, `additional_bindings` included, with its method,
//! path template and body rule. The OpenAPI document is generated from the same routes
//! (`openapi.rs`), so the document and what is served cannot drift apart; [`Docs`] serves it with
//! Swagger UI.
//!
//! This crate owns the translation between HTTP/JSON and gRPC, and nothing else: it knows no service
//! of Route256 (its tests run over a fixture service of their own, `testdata/gateway_test.proto`),
//! never imports `route256-proto` or the `server` crate, and calls whatever tower service it is given.
//!
//! A request is matched to a route (the most specific template wins: literals before variables), its
//! message is built from the path, query and body (`transcode.rs`), and the call then runs
//! **in-process** through the very service stack the gRPC port serves — request id, metrics, call log,
//! message receipt, admission, deadline, the validating codec and the handler — as a gRPC request
//! with no socket in between. So an HTTP call is validated, limited, logged and counted exactly as a gRPC one.
//!
//! Headers that become metadata: those the server names ([`Headers`]: the caller's credential, never
//! logged, and a request id, which is passed back when the answer carries it); and `x-timeout-ms`, the caller's deadline in milliseconds, becomes `grpc-timeout`.
//! Answers: 200 with the response message as JSON, or an error status from grpc-gateway's map with the
//! body `{"code", "message", "details"}` (`status.rs`). What never reaches a service: no route (404),
//! a route without the method (405), a body past the request size limit (413) or still arriving after
//! 30 s (408), a body that is not declared JSON (415, [`json_only`]), a request the gateway cannot turn
//! into the message (400; a JSON key twice in one object among them); each with the same error body.
mod docs;
mod framing;
mod openapi;
mod routes;
mod status;
mod template;
mod transcode;

use std::collections::BTreeSet;

use bytes::Bytes;
use http::{header, HeaderValue, Method};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tower::util::BoxCloneSyncService;
use tower::ServiceExt;

pub use docs::Docs;
pub use framing::TIMEOUT_HEADER;
use framing::{copy_headers, grpc_request, unframe};
pub use openapi::openapi;
pub use routes::{routes, Route, RuleError};
pub use status::{http_status, HttpError};
pub use template::{PathTemplate, TemplateError};
pub use transcode::BodyRule;
use transcode::FieldPath;

/// How long a request body may take to arrive: a client trickling bytes does not hold a task longer.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The service stack the gateway calls into: the gRPC server's, boxed. It answers every call (an
/// error is a response with a gRPC status), so it never fails.
pub type CallService = BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    std::convert::Infallible,
>;

/// The HTTP headers that cross the gateway beside the body.
#[derive(Clone, Copy, Debug)]
pub struct Headers {
    /// The caller's credential (never logged): passed on as metadata, and documented as the OpenAPI
    /// document's security schemes (`authorization` as a bearer token, any other as an API key).
    pub credentials: &'static [&'static str],
    /// Passed on as metadata, and back to the client when the call answers with them (a request id).
    pub echoed: &'static [&'static str],
    /// Passed on as metadata only (the W3C trace context).
    pub forwarded: &'static [&'static str],
}

/// The counter of requests refused before any call (the server's RPC metrics never see them).
const REFUSED: &str = "http_gateway_refused_total";

/// Marks a call that came in through the gateway (a request extension), for the metrics.
#[derive(Clone, Copy, Debug)]
pub struct ViaGateway;

/// The gateway of one server: its routes and the service stack they call.
#[derive(Clone)]
pub struct Gateway {
    routes: std::sync::Arc<Vec<Route>>,
    service: CallService,
    max_body: usize,
    headers: Headers,
}

/// The answer the gateway gives.
pub type HttpResponse = http::Response<Full<Bytes>>;

impl Gateway {
    /// A gateway over `routes` calling `service`; bodies larger than `max_body` bytes are refused.
    pub fn new(
        routes: Vec<Route>,
        service: CallService,
        max_body: usize,
        headers: Headers,
    ) -> Self {
        metrics::describe_counter!(
            REFUSED,
            "HTTP requests the gateway refused before any call, by status"
        );
        Self {
            routes: std::sync::Arc::new(routes),
            service,
            max_body,
            headers,
        }
    }

    /// Answers one HTTP request. `extensions` (the connection's) are passed on to the call.
    pub async fn handle<B>(&self, request: http::Request<B>) -> HttpResponse
    where
        B: http_body::Body,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        match self.to_call(request).await {
            Ok((route, call)) => self
                .call(route, call)
                .await
                .unwrap_or_else(HttpError::into_response),
            Err(error) => {
                // Refused before any call: the RPC metrics never see it, so it is counted here.
                tracing::debug!(%method, %path, status = error.http.as_u16(), reason = %error.message, "http request refused");
                metrics::counter!(REFUSED, "status" => error.http.as_u16().to_string())
                    .increment(1);
                error.into_response()
            }
        }
    }

    /// The route and the gRPC request an HTTP request becomes, or why it cannot become one.
    async fn to_call<B>(
        &self,
        request: http::Request<B>,
    ) -> Result<(&Route, http::Request<tonic::body::Body>), HttpError>
    where
        B: http_body::Body,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path();
        let (route, values) = self.find(&parts.method, path)?;
        // Refused on its declared length, the body is never read, so a client that sent
        // `Expect: 100-continue` gets the 413 instead of an invitation to send it.
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|length| length > self.max_body as u64) {
            return Err(HttpError::too_large(self.max_body));
        }
        let read = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, self.max_body).collect());
        let body = match read.await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(error)) if error.is::<LengthLimitError>() => {
                return Err(HttpError::too_large(self.max_body))
            }
            Ok(Err(error)) => {
                return Err(HttpError::invalid(format!(
                    "cannot read the request body: {error}"
                )))
            }
            Err(_) => return Err(HttpError::body_timeout(BODY_TIMEOUT)),
        };
        json_only(&parts.headers, &body)?;
        let path_values: Vec<(FieldPath, String)> =
            route.path_fields.iter().cloned().zip(values).collect();
        let message = transcode::request_message(
            &route.input(),
            &route.body,
            &path_values,
            parts.uri.query(),
            &body,
        )?;
        let mut call = grpc_request(route, &parts.headers, self.headers, &message)?;
        call.extensions_mut().extend(parts.extensions);
        call.extensions_mut().insert(ViaGateway);
        Ok((route, call))
    }

    /// The route for the method and path. The path names a resource by its most specific template
    /// (`/user/1/cart/checkout` is the checkout, not SKU "checkout"); a method that resource does not
    /// take is a 405 listing the methods it does.
    fn find(&self, method: &Method, path: &str) -> Result<(&Route, Vec<String>), HttpError> {
        let matches: Vec<(&Route, template::Match)> = self
            .routes
            .iter()
            .filter_map(|route| route.template.matches(path).map(|found| (route, found)))
            .collect();
        let Some(most) = matches.iter().map(|(_, found)| &found.specificity).max() else {
            return Err(HttpError::no_route(path));
        };
        let resource: Vec<&(&Route, template::Match)> = matches
            .iter()
            .filter(|(_, found)| found.specificity == *most)
            .collect();
        match resource.iter().find(|(route, _)| route.method == *method) {
            Some((route, found)) => Ok((
                route,
                found
                    .bindings
                    .iter()
                    .map(|(_, value)| value.clone())
                    .collect(),
            )),
            None => {
                let allowed: BTreeSet<&str> = resource
                    .iter()
                    .map(|(route, _)| route.method.as_str())
                    .collect();
                let allowed: Vec<&str> = allowed.into_iter().collect();
                Err(HttpError::method_not_allowed(
                    method,
                    path,
                    &allowed.join(", "),
                ))
            }
        }
    }

    /// Runs the call through the service stack; its status becomes the HTTP answer.
    async fn call(
        &self,
        route: &Route,
        call: http::Request<tonic::body::Body>,
    ) -> Result<HttpResponse, HttpError> {
        let internal = |what: String| {
            tracing::error!(rpc = %route.grpc_path(), error = %what, "gateway call failed");
            HttpError::from_status(&tonic::Status::internal("internal error"))
        };
        let response = self
            .service
            .clone()
            .oneshot(call)
            .await
            .unwrap_or_else(|never| match never {});
        let (parts, body) = response.into_parts();
        let collected = body
            .collect()
            .await
            .map_err(|status| HttpError::from_status(&status))?;
        let trailers = collected.trailers().cloned().unwrap_or_default();
        let data = collected.to_bytes();
        let status = tonic::Status::from_header_map(&parts.headers)
            .or_else(|| tonic::Status::from_header_map(&trailers))
            .ok_or_else(|| internal("the call ended without a status".to_owned()))?;
        if status.code() != tonic::Code::Ok {
            let mut response = HttpError::from_status(&status).into_response();
            copy_headers(self.headers.echoed, &parts.headers, response.headers_mut());
            return Ok(response);
        }
        let message = unframe(data).map_err(|why| internal(why.to_owned()))?;
        let json =
            transcode::response_json(&route.rpc.output(), &message, route.response_body.as_ref())
                .map_err(internal)?;
        let mut response = http::Response::new(Full::new(json));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        copy_headers(self.headers.echoed, &parts.headers, response.headers_mut());
        Ok(response)
    }
}

/// Refuses a request whose body is not JSON: one that declares another type, or sends a body without
/// declaring any. A web page may send other origins a form or `text/plain` without asking them first
/// (a "simple request"); JSON only, and such a page cannot place an order in a visitor's name.
fn json_only(headers: &http::HeaderMap, body: &[u8]) -> Result<(), HttpError> {
    let declared = headers.get(header::CONTENT_TYPE);
    let Some(declared) = declared else {
        return if body.iter().all(u8::is_ascii_whitespace) {
            Ok(())
        } else {
            Err(HttpError::not_json(None))
        };
    };
    let text = declared.to_str().unwrap_or_default();
    let mut parts = text.split(';').map(str::trim);
    let essence_is_json = parts
        .next()
        .is_some_and(|essence| essence.eq_ignore_ascii_case("application/json"));
    let charset_is_utf8 = parts.all(|parameter| match parameter.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
            value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        }
        _ => true,
    });
    if essence_is_json && charset_is_utf8 {
        Ok(())
    } else {
        Err(HttpError::not_json(Some(text)))
    }
}

#[cfg(test)]
mod tests;
