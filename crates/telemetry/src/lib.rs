//! Logs and traces through `tracing`: the process's subscriber — log lines, text or JSON, and, when an
//! OTLP endpoint is configured, the spans exported to it as OpenTelemetry traces — the W3C trace context
//! a request carries in and out ([`trace_context`]), and the one-line error chain every log of a failure
//! uses. A leaf: it imports no other crate of the workspace.
//!
//! Traces are configured by the standard variables (README's "Traces"):
//! - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` (OTLP over gRPC): unset or
//!   empty, nothing is exported — no exporter, no span kept beyond what the log lines need;
//! - `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`: the same, whatever the endpoint;
//! - `OTEL_SERVICE_NAME` (default: the binary's service name), `OTEL_TRACES_SAMPLER` and
//!   `OTEL_TRACES_SAMPLER_ARG` (default `parentbased_always_on`), read by the SDK.
mod sdk_logs;
pub mod semconv;
pub mod trace_context;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;

/// The name of a span that is logged but never traced (a health probe's call). The name of a span must
/// be a literal: write `tracing::info_span!("untraced", …)`, this constant is what the traces leave out.
/// What runs within it makes no span of its own for the traces either (storage's [`in_untraced`]).
pub const UNTRACED: &str = "untraced";

/// Whether the current span is an [`UNTRACED`] one: a span begun within it would be a trace's root.
pub fn in_untraced() -> bool {
    tracing::Span::current()
        .metadata()
        .is_some_and(|metadata| metadata.name() == UNTRACED)
}

/// What [`init`] started. Dropped at the end of `main`, it sends the spans still queued.
#[must_use = "dropping it ends the export of spans"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exports(&self) -> bool {
        self.provider.is_some()
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(error) = provider.shutdown() {
                eprintln!("telemetry: the last spans were not all sent: {error}");
            }
        }
    }
}

/// Installs the global subscriber: human-readable lines, or JSON when `LOG_FORMAT=json`; the level comes
/// from `RUST_LOG` (default `info`), the SDK's own lines at most once a minute each ([`sdk_logs`]); and
/// the spans of `service`, exported when the variables above ask for it. Calling it twice is harmless (tests start several services in one process): the first
/// subscriber stays, and the second call exports nothing. Called within the tokio runtime, which sends
/// the spans.
pub fn init(service: &str) -> Telemetry {
    let env = |name: &str| std::env::var(name).ok();
    // A second call changes nothing: no exporter is built only to be shut down at once.
    let provider = match exporting(env) && !tracing::dispatcher::has_been_set() {
        false => None,
        true => match provider(service) {
            Ok(provider) => Some(provider),
            Err(error) => {
                eprintln!("telemetry: no traces: cannot build the OTLP exporter: {error}");
                None
            }
        },
    };
    trace_context::install_propagator();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let traces = provider.as_ref().map(|provider| {
        // a health probe's span is logged, never traced (its children are not made: see UNTRACED)
        let untraced = tracing_subscriber::filter::filter_fn(|metadata| {
            !(metadata.is_span() && metadata.name() == UNTRACED)
        });
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("route256"))
            .with_filter(untraced)
    });
    let registry = tracing_subscriber::registry().with(filter).with(traces);
    let fmt = tracing_subscriber::fmt::layer().with_target(false);
    let sdk_logs = sdk_logs::SdkLogs::default();
    let installed = if std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json") {
        registry.with(fmt.json().with_filter(sdk_logs)).try_init()
    } else {
        let fmt = fmt.compact().fmt_fields(LogFields);
        registry.with(fmt.with_filter(sdk_logs)).try_init()
    };
    match installed {
        Ok(()) => Telemetry { provider },
        // another subscriber stays: these spans would go nowhere
        Err(_) => Telemetry { provider: None },
    }
}

/// Whether the variables ask for spans to be exported (see the module doc).
fn exporting(env: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| env(name).is_some_and(|value| !value.trim().is_empty());
    let is =
        |name: &str, value: &str| env(name).is_some_and(|v| v.trim().eq_ignore_ascii_case(value));
    let endpoint = set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") || set("OTEL_EXPORTER_OTLP_ENDPOINT");
    endpoint && !is("OTEL_SDK_DISABLED", "true") && !is("OTEL_TRACES_EXPORTER", "none")
}

/// The tracer provider: OTLP over gRPC (tonic) to the configured endpoint, spans sent in batches by a
/// task of the tokio runtime; sampling as `OTEL_TRACES_SAMPLER` says.
fn provider(service: &str) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    use opentelemetry_otlp::WithExportConfig as _;
    use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_protocol(opentelemetry_otlp::Protocol::Grpc)
        .build()?;
    let processor =
        BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build();
    let resource = opentelemetry_sdk::Resource::builder();
    // OTEL_SERVICE_NAME, read by the builder, comes first
    let resource = match std::env::var("OTEL_SERVICE_NAME") {
        Ok(name) if !name.trim().is_empty() => resource,
        _ => resource.with_service_name(service.to_owned()),
    };
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource.build())
        .build())
}

/// The fields of a text log line: `name=value`, the message bare, and none of the `otel.*` fields that
/// name a span and its kind for the traces (they would repeat the `rpc` field on every line).
struct LogFields;

impl<'writer> tracing_subscriber::fmt::FormatFields<'writer> for LogFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        writer: tracing_subscriber::fmt::format::Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        let mut line = LineFields {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut line);
        line.result
    }
}

struct LineFields<'writer> {
    writer: tracing_subscriber::fmt::format::Writer<'writer>,
    first: bool,
    result: std::fmt::Result,
}

impl tracing::field::Visit for LineFields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let name = field.name();
        // `log.*`: where a line bridged from the `log` crate (librdkafka's) was written
        if self.result.is_err() || name.starts_with("otel.") || name.starts_with("log.") {
            return;
        }
        let gap = if std::mem::take(&mut self.first) {
            ""
        } else {
            " "
        };
        self.result = match name {
            "message" => write!(self.writer, "{gap}{value:?}"),
            _ => write!(self.writer, "{gap}{name}={value:?}"),
        };
    }
}

/// An error and its sources on one line (`outer: inner: root`), for the one log line that records an
/// internal failure.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    /// Caught with its mechanism removed: with the default fields, the line names `otel.name`.
    #[test]
    fn a_text_line_has_the_spans_fields_but_not_their_names_for_the_traces() {
        let written = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let sink = written.clone();
        let subscriber = tracing_subscriber::fmt()
            .compact()
            .with_ansi(false)
            .fmt_fields(LogFields)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "grpc",
                rpc = "/a.B/C",
                otel.name = "a.B/C",
                otel.kind = "server"
            );
            let _entered = span.enter();
            tracing::info!(order_id = 7, "order placed");
        });
        let line = String::from_utf8(written.lock().expect("unpoisoned").clone()).expect("text");
        assert!(line.contains("order placed order_id=7"), "{line}");
        assert!(line.contains("rpc=\"/a.B/C\""), "{line}");
        assert!(!line.contains("otel"), "{line}");
    }

    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("unpoisoned").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn spans_are_exported_only_to_an_endpoint_and_unless_disabled() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317");
        let traces = (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://127.0.0.1:4317",
        );
        assert!(!exporting(env(&[])), "no endpoint: nothing");
        assert!(!exporting(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])));
        assert!(exporting(env(&[endpoint])));
        assert!(exporting(env(&[traces])));
        assert!(!exporting(env(&[endpoint, ("OTEL_SDK_DISABLED", "TRUE")])));
        assert!(exporting(env(&[endpoint, ("OTEL_SDK_DISABLED", "false")])));
        assert!(!exporting(env(&[traces, ("OTEL_TRACES_EXPORTER", "none")])));
    }
}
