//! Every call's span and its log: the span the call runs in — a log line's context, and the trace's
//! server span — and a line for each call that failed on the server's side.
use std::time::Duration;

use telemetry::semconv::{self, Side};
use tower_http::classify::{GrpcCode, GrpcErrorsAsFailures, SharedClassifier};
use tower_http::trace::{
    DefaultOnEos, DefaultOnFailure, DefaultOnResponse, OnEos, OnResponse, TraceLayer,
};
use tracing::Level;

use crate::metrics::grpc_status;

pub(super) type CallLog = TraceLayer<
    SharedClassifier<GrpcErrorsAsFailures>,
    fn(&http::Request<tonic::body::Body>) -> tracing::Span,
    (),
    RecordStatus,
    tower_http::trace::DefaultOnBodyChunk,
    RecordStatus,
    DefaultOnFailure,
>;

/// A log line per failed call, at WARN; the outcomes a client caused are not server failures and are
/// logged at debug only. The span names the method and the request id only: the rest of the
/// metadata, and with it the caller's token, is never recorded.
pub(super) fn layer() -> CallLog {
    let classifier = GrpcErrorsAsFailures::new()
        .with_success(GrpcCode::InvalidArgument)
        .with_success(GrpcCode::NotFound)
        .with_success(GrpcCode::FailedPrecondition)
        .with_success(GrpcCode::Unauthenticated)
        .with_success(GrpcCode::PermissionDenied)
        .with_success(GrpcCode::ResourceExhausted)
        .with_success(GrpcCode::OutOfRange)
        .with_success(GrpcCode::Cancelled)
        .with_success(GrpcCode::Unimplemented);
    TraceLayer::new(SharedClassifier::new(classifier))
        .make_span_with(call_span as fn(&http::Request<tonic::body::Body>) -> tracing::Span)
        .on_request(())
        .on_response(RecordStatus)
        .on_eos(RecordStatus)
        .on_failure(DefaultOnFailure::new().level(Level::WARN))
}

/// A call's span: the method, the request id and the trace id, nothing else of the metadata. It is the
/// trace's server span (named `<package>.<Service>/<Method>`, with the `rpc.*` attributes), the child
/// of the caller's span when the call carries a `traceparent` (gRPC metadata, or the HTTP header the
/// gateway passes on).
fn call_span(request: &http::Request<tonic::body::Body>) -> tracing::Span {
    use telemetry::trace_context::{self, TRACEPARENT, TRACESTATE};
    let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
    let rpc = request.uri().path();
    let request_id = header(crate::context::REQUEST_ID).unwrap_or_default();
    if rpc.starts_with("/grpc.health.v1.Health/") {
        // probes every few seconds: logged like any call, never a trace of their own
        return tracing::info_span!(telemetry::UNTRACED, rpc = %rpc, request_id = %request_id);
    }
    let span = tracing::info_span!(
        "grpc",
        rpc = %rpc,
        request_id = %request_id,
        trace_id = tracing::field::Empty,
        otel.name = %rpc.trim_start_matches('/'),
        otel.kind = "server",
    );
    trace_context::continue_trace(&span, header(TRACEPARENT), header(TRACESTATE));
    semconv::rpc(&span, rpc);
    if let Some(trace_id) = trace_context::trace_id(&span) {
        span.record("trace_id", tracing::field::display(trace_id));
    }
    span
}

/// Puts the call's gRPC status on its span (`rpc.grpc.status_code`, and the span's error status when
/// the server failed: [`semconv::grpc_status`]) — read from the headers of a trailers-only answer, or
/// else from the trailers at the end of the stream — and logs as tower-http's defaults do, at debug.
#[derive(Clone, Copy)]
pub(super) struct RecordStatus;

impl<B> OnResponse<B> for RecordStatus {
    fn on_response(self, response: &http::Response<B>, latency: Duration, span: &tracing::Span) {
        if let Some(code) = grpc_status(response.headers()) {
            semconv::grpc_status(span, Side::Server, code.into());
        }
        DefaultOnResponse::new()
            .level(Level::DEBUG)
            .on_response(response, latency, span);
    }
}

impl OnEos for RecordStatus {
    fn on_eos(self, trailers: Option<&http::HeaderMap>, duration: Duration, span: &tracing::Span) {
        if let Some(code) = trailers.and_then(grpc_status) {
            semconv::grpc_status(span, Side::Server, code.into());
        }
        DefaultOnEos::new().on_eos(trailers, duration, span);
    }
}
