//! The request context: what a request carries from the handler down to the calls made on its behalf —
//! the caller's token and the deadline — the way Go passes a `context.Context`.
//!
//! It is built once per incoming request from the gRPC metadata and passed explicitly to use cases and
//! ports, so a call to another service can forward the token and the time left, and tests can see both.
use std::fmt;
use std::time::{Duration, Instant};

use identity::Access;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};

/// Metadata key of the standard credential header: `authorization: Bearer <token>`.
pub const AUTHORIZATION: &str = "authorization";
/// Metadata key of the alternative credential header: `x-api-key: <token>`.
pub const API_KEY: &str = "x-api-key";
const GRPC_TIMEOUT: &str = "grpc-timeout";
/// Metadata key of the request id that follows one call through every service's logs.
pub const REQUEST_ID: &str = "x-request-id";
/// The HTTP headers the gateway lets through: the credential, the request id (also passed back) and
/// the W3C trace context.
pub const GATEWAY_HEADERS: gateway::Headers = gateway::Headers {
    credentials: &[AUTHORIZATION, API_KEY],
    echoed: &[REQUEST_ID],
    forwarded: &[
        telemetry::trace_context::TRACEPARENT,
        telemetry::trace_context::TRACESTATE,
    ],
};

/// The caller's credential. Its `Debug` output is redacted and it has no `Display`, so it cannot reach a
/// log line by accident; [`AuthToken::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AuthToken(String);

impl AuthToken {
    /// A token is non-empty, visible ASCII without spaces (it must fit a metadata value).
    pub fn new(token: impl Into<String>) -> Option<Self> {
        let token = token.into();
        let valid = !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic());
        valid.then_some(Self(token))
    }

    /// Reads `authorization: Bearer <token>` (the scheme is case-insensitive), else `x-api-key: <token>`.
    pub fn from_metadata(metadata: &MetadataMap) -> Option<Self> {
        Self::from_headers(metadata.as_ref())
    }

    /// [`AuthToken::from_metadata`] of a request's HTTP headers.
    pub fn from_headers(headers: &http::HeaderMap) -> Option<Self> {
        let header = |key| {
            headers
                .get(key)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let bearer = header(AUTHORIZATION).and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        bearer
            .and_then(Self::new)
            .or_else(|| header(API_KEY).and_then(Self::new))
    }

    /// The secret itself, for the one place that sends or checks it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Writes the token as `authorization: Bearer <token>`.
    pub fn insert_into(&self, metadata: &mut MetadataMap) {
        if let Ok(value) = AsciiMetadataValue::try_from(format!("Bearer {}", self.0)) {
            metadata.insert(AUTHORIZATION, value);
        }
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

/// What one incoming request carries to everything done on its behalf.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    token: Option<AuthToken>,
    /// What the server's authentication found (`grpc/authenticate.rs`); `None` when it checked nothing.
    access: Option<Access>,
    deadline: Option<Instant>,
    request_id: Option<AsciiMetadataValue>,
}

impl RequestContext {
    /// The context of an incoming gRPC request: its token and, from `grpc-timeout`, its deadline.
    pub fn from_request<T>(request: &tonic::Request<T>) -> Self {
        let metadata = request.metadata();
        let timeout = metadata
            .get(GRPC_TIMEOUT)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout);
        Self {
            token: AuthToken::from_metadata(metadata),
            access: request.extensions().get::<Access>().cloned(),
            deadline: timeout.and_then(|t| Instant::now().checked_add(t)),
            request_id: metadata.get(REQUEST_ID).cloned(),
        }
    }

    /// A context with a token and no deadline.
    pub fn with_token(token: AuthToken) -> Self {
        Self {
            token: Some(token),
            access: None,
            deadline: None,
            request_id: None,
        }
    }

    /// The caller's token, if the request had one.
    pub fn token(&self) -> Option<&AuthToken> {
        self.token.as_ref()
    }

    /// What the caller may do, when the server authenticated it.
    pub fn access(&self) -> Option<&Access> {
        self.access.as_ref()
    }

    /// Whether the call may act on `user`'s data: its token names that user. Never when the server
    /// authenticated nobody — a handler that asks needs an authenticated call.
    pub fn may_act_as(&self, user: i64) -> bool {
        self.access.as_ref().is_some_and(|a| a.may_act_as(user))
    }

    /// Whether the caller's token grants `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.access.as_ref().is_some_and(|a| a.has_role(role))
    }

    /// This context with `access`, as the server's authentication would have found it (tests).
    pub fn with_access(mut self, access: Access) -> Self {
        self.access = Some(access);
        self
    }

    /// The time left before the caller gives up, if it said.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The request id the call came with (the server gives every call one).
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_ref().and_then(|id| id.to_str().ok())
    }

    /// An outgoing request on behalf of this one: it carries the token, the request id and at most
    /// the time left, which the callee's server enforces.
    pub fn outgoing<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(token) = &self.token {
            token.insert_into(request.metadata_mut());
        }
        if let Some(id) = &self.request_id {
            request.metadata_mut().insert(REQUEST_ID, id.clone());
        }
        if let Some(remaining) = self.remaining() {
            request.set_timeout(remaining);
        }
        request
    }
}

/// Writes `span`'s trace context into an outgoing call's metadata (`traceparent`, `tracestate`), so
/// that the callee's server span is its child; nothing when no trace is exported.
pub fn send_trace_context(span: &tracing::Span, metadata: &mut MetadataMap) {
    use telemetry::trace_context::{TRACEPARENT, TRACESTATE};
    let Some(context) = telemetry::trace_context::of(span) else {
        return;
    };
    if let Ok(value) = AsciiMetadataValue::try_from(context.traceparent) {
        metadata.insert(TRACEPARENT, value);
    }
    if let Ok(value) = AsciiMetadataValue::try_from(context.tracestate) {
        if !value.is_empty() {
            metadata.insert(TRACESTATE, value);
        }
    }
}

/// Parses the gRPC wire format of a timeout: up to 8 digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`).
pub(crate) fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(pairs: &[(&'static str, &'static str)]) -> MetadataMap {
        let mut map = MetadataMap::new();
        for (key, value) in pairs {
            map.insert(*key, value.parse().expect("ascii"));
        }
        map
    }

    #[test]
    fn bearer_token_is_read_with_any_scheme_case() {
        let token = AuthToken::from_metadata(&metadata(&[("authorization", "bearer abc")]));
        assert_eq!(token.map(|t| t.expose().to_owned()), Some("abc".to_owned()));
    }

    #[test]
    fn api_key_is_the_fallback() {
        let md = metadata(&[("authorization", "Basic xyz"), ("x-api-key", "k1")]);
        assert_eq!(
            AuthToken::from_metadata(&md).map(|t| t.expose().to_owned()),
            Some("k1".to_owned())
        );
    }

    #[test]
    fn no_or_empty_token_is_none() {
        assert!(AuthToken::from_metadata(&metadata(&[])).is_none());
        assert!(AuthToken::from_metadata(&metadata(&[("authorization", "Bearer ")])).is_none());
        assert!(AuthToken::new("with space").is_none());
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let token = AuthToken::new("s3cret").expect("valid");
        let ctx = RequestContext::with_token(token.clone());
        assert!(!format!("{token:?} {ctx:?}").contains("s3cret"));
    }

    #[test]
    fn outgoing_request_carries_token_and_time_left() {
        let mut incoming = tonic::Request::new(());
        incoming
            .metadata_mut()
            .insert("x-api-key", "t".parse().expect("ascii"));
        incoming
            .metadata_mut()
            .insert("grpc-timeout", "5S".parse().expect("ascii"));
        incoming
            .metadata_mut()
            .insert("x-request-id", "req-1".parse().expect("ascii"));
        let ctx = RequestContext::from_request(&incoming);
        let out = ctx.outgoing(());
        assert_eq!(
            out.metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer t")
        );
        assert_eq!(
            out.metadata()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok()),
            Some("req-1")
        );
        assert_eq!(ctx.request_id(), Some("req-1"));
        let timeout = out.metadata().get("grpc-timeout").expect("timeout set");
        assert!(!timeout.is_empty());
        assert!(ctx.remaining().is_some_and(|r| r <= Duration::from_secs(5)));
    }

    #[test]
    fn grpc_timeout_units() {
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("150m"), Some(Duration::from_millis(150)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout("12x"), None);
        assert_eq!(parse_grpc_timeout("123456789S"), None);
    }
}
