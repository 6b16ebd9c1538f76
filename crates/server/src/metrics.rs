//! Metrics in Prometheus text format, for `/metrics`: per RPC, calls by status code and a latency
//! histogram, whether the call came over gRPC or through the HTTP gateway; plus the process's own
//! (CPU time, memory, open files, threads).
//!
//! The recorder is the `metrics` facade's global one (`metrics-exporter-prometheus`), installed once per
//! process: a test process that runs several services shares it, and the `grpc_service` label keeps
//! their series apart.
//!
//! | metric | labels |
//! |---|---|
//! | `grpc_server_handled_total` (counter) | `grpc_service`, `grpc_method`, `grpc_code`, `transport` (`grpc`/`http`) |
//! | `grpc_server_handling_seconds` (histogram) | `grpc_service`, `grpc_method`, `transport` |
//! | `http_gateway_refused_total` (counter) | `status`: requests the gateway refused before any call (no route, 405, 408, 413, 415, a body or query it could not turn into the message); counted by the `gateway` crate |
//! | `tokio_runtime_workers`, `tokio_runtime_alive_tasks`, `tokio_runtime_global_queue_depth` (gauges) | — : the runtime serving `/metrics`, read when it is rendered |
//! | `tokio_runtime_busy_seconds` (gauge, only grows), `tokio_runtime_worker_parks_total` (counter) | — : its workers' time spent busy and their parks since the start, summed; `busy / (workers × elapsed)` over an interval is how saturated the runtime was (BENCHMARKS.md, "OrderCreate's tail") |
//!
//! Label values come from a closed set: a call to a method the server does not serve (answered
//! `UNIMPLEMENTED`) counts under `grpc_service="unknown", grpc_method="unknown"`, so a client inventing
//! names grows neither `/metrics` nor the process ([`KnownMethods`]).
//!
//! A call is counted when its answer ends: the status comes from the response headers (an error
//! answered at once) or from the trailers after the message; an answer dropped before its status (the
//! caller went away) counts as `Cancelled`.
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tonic::Code;

use gateway::ViaGateway;

/// Latency buckets, in seconds (`grpc_server_handling_seconds`).
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

struct Exporter {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

fn exporter() -> Option<&'static Exporter> {
    static EXPORTER: OnceLock<Option<Exporter>> = OnceLock::new();
    EXPORTER
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &BUCKETS);
            let handle = match builder {
                Ok(builder) => builder.install_recorder(),
                Err(error) => {
                    tracing::error!(%error, "cannot configure the metrics recorder");
                    return None;
                }
            };
            match handle {
                Ok(handle) => {
                    let process = metrics_process::Collector::default();
                    process.describe();
                    metrics::describe_counter!(
                        "grpc_server_handled_total",
                        "RPCs completed, by status code and transport"
                    );
                    metrics::describe_histogram!(
                        "grpc_server_handling_seconds",
                        metrics::Unit::Seconds,
                        "RPC latency until the answer ended"
                    );
                    Some(Exporter { handle, process })
                }
                Err(error) => {
                    tracing::error!(%error, "cannot install the metrics recorder");
                    None
                }
            }
        })
        .as_ref()
}

/// Installs the process's recorder (once; later calls do nothing). Metrics recorded before it is
/// installed are lost, so the server calls it when it is built.
pub fn install() {
    let _ = exporter();
}

/// Everything recorded so far, in Prometheus text format.
pub fn render() -> String {
    match exporter() {
        Some(exporter) => {
            exporter.process.collect();
            record_runtime();
            exporter.handle.run_upkeep();
            exporter.handle.render()
        }
        None => String::new(),
    }
}

/// The runtime's own figures (tokio's stable `RuntimeMetrics`), when called on one.
fn record_runtime() {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let figures = runtime.metrics();
    let workers = figures.num_workers();
    let busy: f64 = (0..workers)
        .map(|worker| figures.worker_total_busy_duration(worker).as_secs_f64())
        .sum();
    let parks: u64 = (0..workers)
        .map(|worker| figures.worker_park_count(worker))
        .sum();
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    {
        metrics::gauge!("tokio_runtime_workers").set(workers as f64);
        metrics::gauge!("tokio_runtime_alive_tasks").set(figures.num_alive_tasks() as f64);
        metrics::gauge!("tokio_runtime_global_queue_depth")
            .set(figures.global_queue_depth() as f64);
    }
    metrics::gauge!("tokio_runtime_busy_seconds").set(busy);
    metrics::counter!("tokio_runtime_worker_parks_total").absolute(parks);
}

/// The methods a server serves, as `/package.Service/Method` paths: the label values calls may have.
#[derive(Clone, Debug, Default)]
pub struct KnownMethods(Arc<HashSet<String>>);

impl KnownMethods {
    pub fn new(paths: impl IntoIterator<Item = String>) -> Self {
        Self(Arc::new(paths.into_iter().collect()))
    }

    /// The service and method labels of a call to `path`.
    fn labels(&self, path: &str) -> (String, String) {
        match path.trim_start_matches('/').split_once('/') {
            Some((service, method)) if self.0.contains(path) => {
                (service.to_owned(), method.to_owned())
            }
            _ => ("unknown".to_owned(), "unknown".to_owned()),
        }
    }
}

/// A tower layer that counts and times every call.
#[derive(Clone, Debug)]
pub struct RpcMetricsLayer {
    known: KnownMethods,
}

impl RpcMetricsLayer {
    pub fn new(known: KnownMethods) -> Self {
        Self { known }
    }
}

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics {
            inner,
            known: self.known.clone(),
        }
    }
}

/// See [`RpcMetricsLayer`].
#[derive(Clone, Debug)]
pub struct RpcMetrics<S> {
    inner: S,
    known: KnownMethods,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for RpcMetrics<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Body,
{
    type Response = http::Response<MeteredBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let mut call = Call::new(
            self.known.labels(request.uri().path()),
            request.extensions().get::<ViaGateway>().is_some(),
        );
        let response = self.inner.call(request);
        Box::pin(async move {
            // Dropped here unanswered (the caller went away), the call counts as Cancelled.
            let response = response
                .await
                .inspect_err(|_| call.code = Some(Code::Internal))?;
            if let Some(code) = grpc_status(response.headers()) {
                call.code = Some(code);
            }
            Ok(response.map(|inner| MeteredBody {
                inner,
                call: Some(call),
            }))
        })
    }
}

/// The gRPC status a trailers-only answer's headers, or an answer's trailers, carry.
pub(crate) fn grpc_status(headers: &http::HeaderMap) -> Option<Code> {
    let value = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .parse::<i32>()
        .ok()?;
    Some(Code::from_i32(value))
}

/// One call being measured; recorded when dropped.
#[derive(Debug)]
struct Call {
    service: String,
    method: String,
    transport: &'static str,
    started: Instant,
    code: Option<Code>,
}

impl Call {
    fn new((service, method): (String, String), via_gateway: bool) -> Self {
        Self {
            service,
            method,
            transport: if via_gateway { "http" } else { "grpc" },
            started: Instant::now(),
            code: None,
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        let code = format!("{:?}", self.code.unwrap_or(Code::Cancelled));
        metrics::counter!(
            "grpc_server_handled_total",
            "grpc_service" => self.service.clone(),
            "grpc_method" => self.method.clone(),
            "grpc_code" => code,
            "transport" => self.transport,
        )
        .increment(1);
        metrics::histogram!(
            "grpc_server_handling_seconds",
            "grpc_service" => self.service.clone(),
            "grpc_method" => self.method.clone(),
            "transport" => self.transport,
        )
        .record(self.started.elapsed().as_secs_f64());
    }
}

pin_project_lite::pin_project! {
    /// A response body that records its call once the status is known and the body is done.
    pub struct MeteredBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
    }
}

impl<B: Body> Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let (Some(trailers), Some(call)) = (frame.trailers_ref(), this.call.as_mut()) {
                    if let Some(code) = grpc_status(trailers) {
                        call.code = Some(code);
                    }
                }
            }
            Some(Err(_)) => {
                if let Some(call) = this.call.as_mut() {
                    call.code.get_or_insert(Code::Internal);
                }
            }
            // The end: record now rather than when the connection drops the body.
            None => drop(this.call.take()),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
