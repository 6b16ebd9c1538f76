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
//! admission, deadline, the validating codec and the handler — as a gRPC request with no socket in
//! between. So an HTTP call is validated, limited, logged and counted exactly as a gRPC one.
//!
//! Headers that become metadata: those the server names ([`Headers`]: the caller's credential, never
//! logged, and a request id, which is passed back when the answer carries it); and `x-timeout-ms`, the caller's deadline in milliseconds, becomes `grpc-timeout`.
//! Answers: 200 with the response message as JSON, or an error status from grpc-gateway's map with the
//! body `{"code", "message", "details"}` (`status.rs`). What never reaches a service: no route (404),
//! a route without the method (405), a body past the request size limit (413) or still arriving after
//! 30 s (408), a body that is not declared JSON (415, [`json_only`]), a request the gateway cannot turn
//! into the message (400; a JSON key twice in one object among them); each with the same error body.
mod docs;
mod openapi;
mod status;
mod template;
mod transcode;

use std::collections::BTreeSet;

use bytes::{Buf, Bytes};
use http::{header, HeaderMap, HeaderValue, Method};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, MessageDescriptor, MethodDescriptor,
};
use tower::util::BoxCloneSyncService;
use tower::ServiceExt;

pub use docs::Docs;
pub use openapi::openapi;
pub use status::{http_status, HttpError};
pub use template::{PathTemplate, TemplateError};
pub use transcode::BodyRule;
use transcode::FieldPath;

/// The header that carries the caller's deadline, in milliseconds (gRPC's `grpc-timeout`).
pub const TIMEOUT_HEADER: &str = "x-timeout-ms";
/// The longest deadline `grpc-timeout` can say in milliseconds: at most 8 digits.
const MAX_TIMEOUT_MS: u64 = 99_999_999;
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
}

/// The counter of requests refused before any call (the server's RPC metrics never see them).
const REFUSED: &str = "http_gateway_refused_total";

/// Marks a call that came in through the gateway (a request extension), for the metrics.
#[derive(Clone, Copy, Debug)]
pub struct ViaGateway;

/// A `google.api.http` rule that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("the descriptor set does not decode")]
    Descriptors(#[from] prost_reflect::DescriptorError),
    #[error("the descriptor set has no google.api.http extension")]
    NoHttpExtension,
    #[error("service {0} is not in the descriptor set")]
    UnknownService(String),
    #[error("{rpc}: {reason}")]
    Invalid { rpc: String, reason: String },
}

/// One HTTP binding of an RPC.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    pub template: PathTemplate,
    pub body: BodyRule,
    pub response_body: Option<FieldDescriptor>,
    pub rpc: MethodDescriptor,
    /// The fields the template's variables fill, in template order.
    path_fields: Vec<FieldPath>,
}

impl Route {
    /// The request fields the path binds.
    pub fn path_fields(&self) -> &[FieldPath] {
        &self.path_fields
    }

    fn input(&self) -> MessageDescriptor {
        self.rpc.input()
    }

    /// `/package.Service/Method`, the gRPC path of the call.
    fn grpc_path(&self) -> String {
        format!(
            "/{}/{}",
            self.rpc.parent_service().full_name(),
            self.rpc.name()
        )
    }
}

/// The routes of `services` (full names), from their methods' `google.api.http` rules.
pub fn routes(pool: &DescriptorPool, services: &[&str]) -> Result<Vec<Route>, RuleError> {
    let http = pool
        .get_extension_by_name("google.api.http")
        .ok_or(RuleError::NoHttpExtension)?;
    let mut routes: Vec<Route> = Vec::new();
    for name in services {
        let service = pool
            .get_service_by_name(name)
            .ok_or_else(|| RuleError::UnknownService((*name).to_owned()))?;
        for rpc in service.methods() {
            let options = rpc.options();
            if !options.has_extension(&http) {
                continue;
            }
            let rule = options.get_extension(&http);
            let Some(rule) = rule.as_message() else {
                continue;
            };
            let invalid = |reason: String| RuleError::Invalid {
                rpc: rpc.full_name().to_owned(),
                reason,
            };
            let mut rules = vec![rule.clone()];
            if let Some(more) = rule.get_field_by_name("additional_bindings") {
                // A binding inside an additional binding is ignored, as the spec says.
                rules.extend(
                    more.as_list()
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|v| v.as_message().cloned()),
                );
            }
            for rule in &rules {
                let route = route_of(&rpc, rule).map_err(invalid)?;
                let clash = routes.iter().any(|r| {
                    r.method == route.method
                        && r.template.openapi_path() == route.template.openapi_path()
                });
                if clash {
                    return Err(invalid(format!(
                        "{} {} is bound twice",
                        route.method, route.template
                    )));
                }
                routes.push(route);
            }
        }
    }
    Ok(routes)
}

fn route_of(rpc: &MethodDescriptor, rule: &DynamicMessage) -> Result<Route, String> {
    let text = |name: &str| {
        rule.get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let mut pattern = None;
    for (name, method) in [
        ("get", Method::GET),
        ("put", Method::PUT),
        ("post", Method::POST),
        ("delete", Method::DELETE),
        ("patch", Method::PATCH),
    ] {
        if rule.has_field_by_name(name) {
            pattern = Some((method, text(name)));
        }
    }
    if rule.has_field_by_name("custom") {
        let custom = rule.get_field_by_name("custom");
        let custom = custom.as_ref().and_then(|v| v.as_message());
        let part = |name| {
            custom
                .and_then(|m| m.get_field_by_name(name))
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let method = Method::from_bytes(part("kind").as_bytes())
            .map_err(|_| format!("invalid custom method {:?}", part("kind")))?;
        pattern = Some((method, part("path")));
    }
    let (method, pattern) = pattern.ok_or("the rule has no method and path")?;
    let template = PathTemplate::parse(&pattern).map_err(|e| e.to_string())?;
    let input = rpc.input();
    let path_fields = template
        .variables()
        .iter()
        .map(|v| transcode::resolve(&input, &v.field_path, false, false))
        .collect::<Result<Vec<_>, _>>()?;
    let top_field = |name: &str| {
        input
            .get_field_by_name(name)
            .ok_or_else(|| format!("no field {name:?} in {}", input.full_name()))
    };
    let body = match text("body").as_str() {
        "" => BodyRule::None,
        "*" => BodyRule::Whole,
        name => {
            let field = top_field(name)?;
            if path_fields.iter().any(|p| p[0] == field) {
                return Err(format!("{name:?} is bound by both the path and the body"));
            }
            BodyRule::Field(field)
        }
    };
    let response_body = match text("response_body").as_str() {
        "" => None,
        name => Some(
            rpc.output()
                .get_field_by_name(name)
                .ok_or_else(|| format!("no field {name:?} in {}", rpc.output().full_name()))?,
        ),
    };
    Ok(Route {
        method,
        template,
        body,
        response_body,
        rpc: rpc.clone(),
        path_fields,
    })
}

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

/// The gRPC request for a route's message: the gRPC path, one length-prefixed message, and the
/// headers that are metadata.
fn grpc_request(
    route: &Route,
    headers: &HeaderMap,
    passed: Headers,
    message: &DynamicMessage,
) -> Result<http::Request<tonic::body::Body>, HttpError> {
    let encoded = transcode::encode(message);
    let length = u32::try_from(encoded.len())
        .map_err(|_| HttpError::invalid("the request message is too large"))?;
    let mut frame = Vec::with_capacity(encoded.len() + 5);
    frame.push(0); // not compressed
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(&encoded);

    let mut request = http::Request::new(tonic::body::Body::new(Full::new(Bytes::from(frame))));
    *request.method_mut() = Method::POST;
    *request.version_mut() = http::Version::HTTP_2;
    *request.uri_mut() = route
        .grpc_path()
        .parse()
        .map_err(|_| HttpError::invalid("invalid method path"))?;
    let out = request.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    out.insert(header::TE, HeaderValue::from_static("trailers"));
    copy_headers(passed.credentials, headers, out);
    copy_headers(passed.echoed, headers, out);
    if let Some(value) = headers.get(TIMEOUT_HEADER) {
        let ms = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| (1..=MAX_TIMEOUT_MS).contains(ms))
            .ok_or_else(|| {
                HttpError::invalid(format!(
                    "{TIMEOUT_HEADER} must be a whole number of milliseconds, 1 to {MAX_TIMEOUT_MS}"
                ))
            })?;
        out.insert(
            "grpc-timeout",
            HeaderValue::try_from(format!("{ms}m"))
                .map_err(|_| HttpError::invalid("invalid timeout"))?,
        );
    }
    Ok(request)
}

/// The one message of a unary response body: a 5-byte prefix (compression flag, length), then the
/// message.
fn unframe(mut data: Bytes) -> Result<Bytes, &'static str> {
    if data.len() < 5 {
        return Err("the response has no message");
    }
    if data.get_u8() != 0 {
        return Err("the response is compressed");
    }
    let length = usize::try_from(data.get_u32()).map_err(|_| "bad length")?;
    if data.len() < length {
        return Err("the response message is truncated");
    }
    Ok(data.split_to(length))
}

/// Copies the headers named in `names` that `from` has.
fn copy_headers(names: &[&'static str], from: &HeaderMap, to: &mut HeaderMap) {
    for &name in names {
        if let Some(value) = from.get(name) {
            to.insert(name, value.clone());
        }
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
