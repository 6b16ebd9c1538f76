//! An export that fails is said in the log, not lost in silence: the test runs itself again as a child
//! process, exporting to a port where nothing listens, and reads what the child logged. One binary of its
//! own, since the child installs the process's subscriber.
use std::process::Command;
use std::time::Duration;

const CHILD: &str = "TELEMETRY_TEST_EXPORT_CHILD";

/// Caught with its mechanism removed: without opentelemetry's `internal-logs`, the child says nothing.
#[test]
fn a_failed_export_is_logged() {
    if std::env::var_os(CHILD).is_some() {
        return export_to_nowhere();
    }
    // a port just freed: connections to it are refused
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let mut child = Command::new(std::env::current_exe().expect("this test's binary"));
    // none of the developer's OTEL_* settings (another endpoint, a sampler that samples nothing, …)
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("OTEL_")) {
        child.env_remove(name);
    }
    let child = child
        .args(["--exact", "a_failed_export_is_logged", "--nocapture"])
        .env(CHILD, "1")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{nowhere}"))
        .env("OTEL_BSP_SCHEDULE_DELAY", "100") // a batch every 100 ms
        .env("RUST_LOG", "info")
        .env_remove("LOG_FORMAT")
        .output()
        .expect("the child runs");
    let log = String::from_utf8_lossy(&child.stdout);
    assert!(child.status.success(), "{log}");
    assert!(
        log.contains("ERROR") && log.contains("ExportError"),
        "no log line of the failed export in:\n{log}"
    );
}

fn export_to_nowhere() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let telemetry = telemetry::init("telemetry-export-failure");
        assert!(telemetry.exports(), "an endpoint: an exporter");
        tracing::info_span!("lost", otel.kind = "server").in_scope(|| tracing::info!("inside"));
        // a few scheduled exports, each refused
        tokio::time::sleep(Duration::from_secs(1)).await;
        tokio::task::spawn_blocking(move || drop(telemetry))
            .await
            .expect("dropped");
    });
}
