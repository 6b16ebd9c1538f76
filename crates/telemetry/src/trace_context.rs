//! The W3C trace context (`traceparent`, `tracestate`) a request or an event carries: read from a call's
//! headers or a Kafka record's, and written into an outgoing call's metadata, an outbox row and a
//! record's headers, so that one trace follows a purchase through every service, the outbox and Kafka.
//!
//! Only the two values cross a boundary, whatever carries them, so the functions here take and give
//! those two strings. A missing or malformed `traceparent` is no error: the span it would have parented
//! starts a trace of its own. With no exporter (see the crate doc) spans have no trace context, and
//! nothing is written.
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The header (and metadata key) of the trace and the span a call or an event continues.
pub const TRACEPARENT: &str = "traceparent";
/// The header of the vendors' trace state that goes with it.
pub const TRACESTATE: &str = "tracestate";

/// A span's trace context as it crosses a boundary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceContext {
    pub traceparent: String,
    /// Empty when there is none.
    pub tracestate: String,
}

pub(crate) fn install_propagator() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
}

/// Makes `span` a child of the span `traceparent` names (a server's call, a consumed event); with none,
/// or a malformed one, `span` stays the root of a trace of its own. Called before the span is entered.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let carried = Carried {
        traceparent,
        tracestate: tracestate.unwrap_or_default(),
    };
    let parent = TraceContextPropagator::new().extract(&carried);
    if parent.span().span_context().is_valid() {
        // fails only without the OpenTelemetry layer, when nothing is traced anyway
        let _ = span.set_parent(parent);
    }
}

/// `span`'s trace context, to send on: `None` when no exporter runs or the span is not in a trace.
pub fn of(span: &tracing::Span) -> Option<TraceContext> {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut written = TraceContext::default();
    TraceContextPropagator::new().inject_context(&context, &mut written);
    (!written.traceparent.is_empty()).then_some(written)
}

/// The trace id of `span`, 32 hex digits: what a log line names to find its trace.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    let context: Context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// The two values, as the propagator reads them.
struct Carried<'a> {
    traceparent: &'a str,
    tracestate: &'a str,
}

impl Extractor for Carried<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => Some(self.traceparent),
            TRACESTATE if !self.tracestate.is_empty() => Some(self.tracestate),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, TRACESTATE]
    }
}

impl Injector for TraceContext {
    fn set(&mut self, key: &str, value: String) {
        match key {
            TRACEPARENT => self.traceparent = value,
            TRACESTATE => self.tracestate = value,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// Runs `test` under a subscriber that traces, as `init` sets one up with an exporter.
    fn traced<T>(test: impl FnOnce() -> T) -> T {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, test)
    }

    /// Caught with its mechanism removed: without the parent set, the span's trace is its own.
    #[test]
    fn a_span_continues_the_trace_its_traceparent_names_and_passes_itself_on() {
        let (id, sent) = traced(|| {
            let span = tracing::info_span!("call");
            continue_trace(&span, Some(PARENT), Some("vendor=1"));
            (trace_id(&span), of(&span))
        });
        assert_eq!(id.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        let sent = sent.expect("a trace context to send");
        let parts: Vec<&str> = sent.traceparent.split('-').collect();
        assert_eq!(
            parts[1], "4bf92f3577b34da6a3ce929d0e0e4736",
            "the same trace"
        );
        assert_ne!(
            parts[2], "00f067aa0ba902b7",
            "the span's own id, not its parent's"
        );
        assert_eq!(parts[3], "01", "sampled, as its parent");
        assert_eq!(sent.tracestate, "vendor=1");
    }

    #[test]
    fn a_malformed_or_missing_traceparent_starts_a_trace_of_its_own() {
        for traceparent in [Some("00-not-a-trace-01"), Some(""), None] {
            let id = traced(|| {
                let span = tracing::info_span!("call");
                continue_trace(&span, traceparent, None);
                trace_id(&span)
            });
            let id = id.expect("a trace of its own");
            assert_eq!(id.len(), 32);
            assert_ne!(id, "4bf92f3577b34da6a3ce929d0e0e4736");
        }
    }

    #[test]
    fn without_traces_nothing_is_passed_on() {
        let span = tracing::info_span!("call");
        continue_trace(&span, Some(PARENT), None);
        assert_eq!(of(&span), None);
        assert_eq!(trace_id(&span), None);
    }
}
