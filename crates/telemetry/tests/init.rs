//! The global subscriber: installed by the first call, a second call harmless. One binary of its own,
//! since it installs the process's subscriber.

#[test]
fn the_subscriber_is_installed_and_a_second_call_is_harmless() {
    assert!(!tracing::dispatcher::has_been_set());
    std::env::set_var("LOG_FORMAT", "json");
    // no OTLP endpoint in the environment: no exporter, nothing to connect to
    std::env::remove_var("OTEL_EXPORTER_OTLP_ENDPOINT");
    std::env::remove_var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    let telemetry = telemetry::init("test");
    assert!(!telemetry.exports(), "no endpoint, no exporter");
    assert!(
        tracing::dispatcher::has_been_set(),
        "a subscriber is installed"
    );
    std::env::remove_var("LOG_FORMAT");
    let _telemetry = telemetry::init("test");
    tracing::info!("still logging");
}
