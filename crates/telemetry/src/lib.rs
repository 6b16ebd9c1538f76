//! Structured logs through `tracing`: the process's subscriber, and the one-line error chain every log
//! of a failure uses. A leaf: it imports no other crate of the workspace.
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: human-readable lines, or JSON when `LOG_FORMAT=json`; the level comes
/// from `RUST_LOG` (default `info`). Calling it twice is harmless (tests start several services in one
/// process), the first subscriber stays.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _already_installed = if std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder.compact().try_init()
    };
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
