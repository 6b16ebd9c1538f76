//! Spans exported over OTLP to the collector the standard variable names: the stack's Jaeger (`just
//! stack-up`; `ROUTE256_TEST_OTLP` and `ROUTE256_TEST_JAEGER` override its addresses). One binary of its
//! own, since it installs the process's subscriber.
use std::time::{Duration, Instant};

/// Caught with its mechanism removed: with no exporter built, the service never reaches Jaeger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_collector_the_endpoint_names_and_are_sent_at_the_end() {
    let otlp =
        std::env::var("ROUTE256_TEST_OTLP").unwrap_or_else(|_| "http://127.0.0.1:4317".into());
    let jaeger =
        std::env::var("ROUTE256_TEST_JAEGER").unwrap_or_else(|_| "http://127.0.0.1:16686".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos();
    let name = format!("telemetry-test-{nanos}");
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", otlp);
    std::env::remove_var("OTEL_SERVICE_NAME"); // the service's own name, then
    let telemetry = telemetry::init(&name);
    assert!(telemetry.exports(), "an endpoint: an exporter");
    tracing::info_span!("probe", otel.kind = "server").in_scope(|| tracing::info!("inside"));
    // what the batch still holds goes out as it is dropped (a blocking call: off the runtime's workers)
    tokio::task::spawn_blocking(move || drop(telemetry))
        .await
        .expect("dropped");

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let services = reqwest::get(format!("{jaeger}/api/services"))
            .await
            .expect("is the stack's Jaeger up? just stack-up")
            .text()
            .await
            .expect("an answer");
        if services.contains(&name) {
            break;
        }
        assert!(Instant::now() < deadline, "{name} not in {services}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
