//! What a trace says of a span beyond its name and kind: the OpenTelemetry semantic conventions'
//! attributes (`rpc.*` for gRPC calls, `messaging.*` for Kafka records, as the conventions of 2025 name
//! them; the RPC ones are still marked experimental there) and the span's status.
//!
//! They go to the trace only, never to a log line (a line already names the call by its `rpc` field);
//! when no exporter runs, setting one is a lookup that finds no trace, after its value was built. The
//! spans keep the names README gives them (`<topic> publish`, `<topic> process`), not the conventions'
//! newer `send <topic>`. Each function takes the span it describes, before or after it was entered.
use opentelemetry::trace::Status;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Sets one attribute of `span`.
pub fn set(span: &tracing::Span, key: &'static str, value: impl Into<opentelemetry::Value>) {
    span.set_attribute(key, value);
}

/// Names the gRPC method `span` is a call of (`rpc.system`, `rpc.service`, `rpc.method`), from its path:
/// `/<package>.<Service>/<Method>`, with or without the leading slash.
pub fn rpc(span: &tracing::Span, path: &str) {
    let path = path.trim_start_matches('/');
    set(span, "rpc.system", "grpc");
    if let Some((service, method)) = path.split_once('/') {
        set(span, "rpc.service", service.to_owned());
        set(span, "rpc.method", method.to_owned());
    }
}

/// Which side of a gRPC call a span stands for: they count different outcomes as errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// Records how a gRPC call ended (`rpc.grpc.status_code`) and, when that is an error for `side`, the
/// span's error status. As the conventions have it: to a client every status but OK is an error; to a
/// server only those that say the server failed — UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
/// UNAVAILABLE, DATA_LOSS — not the caller's mistakes (INVALID_ARGUMENT, NOT_FOUND, …).
pub fn grpc_status(span: &tracing::Span, side: Side, code: i32) {
    set(span, "rpc.grpc.status_code", i64::from(code));
    if is_error(side, code) {
        failed(span, format!("gRPC status {code}"));
    }
}

fn is_error(side: Side, code: i32) -> bool {
    match side {
        Side::Client => code != 0,
        Side::Server => matches!(code, 2 | 4 | 12 | 13 | 14 | 15),
    }
}

/// Marks `span` as failed, saying why.
pub fn failed(span: &tracing::Span, why: impl Into<std::borrow::Cow<'static, str>>) {
    span.set_status(Status::error(why));
}

/// Names the Kafka topic a record went to or came from, and what was done with it (`send`, `process`:
/// the operation's type, and its name, which Kafka has no other word for).
pub fn kafka(span: &tracing::Span, topic: &str, operation: &'static str) {
    set(span, "messaging.system", "kafka");
    set(span, "messaging.destination.name", topic.to_owned());
    set(span, "messaging.operation.type", operation);
    set(span, "messaging.operation.name", operation);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_fails_on_every_status_but_ok_a_server_only_on_its_own_faults() {
        let errors = |side| {
            (0..=16)
                .filter(|&code| is_error(side, code))
                .collect::<Vec<_>>()
        };
        assert_eq!(errors(Side::Client), (1..=16).collect::<Vec<_>>());
        assert_eq!(errors(Side::Server), [2, 4, 12, 13, 14, 15]);
    }
}
