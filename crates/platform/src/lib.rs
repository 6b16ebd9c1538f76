//! What at least two Route256 binaries share, and nothing domain-specific: telemetry, configuration from
//! the environment, shutdown signals, the gRPC server bootstrap (health, reflection, request logs, call
//! limits), the HTTP side of every service (JSON gateway, OpenAPI, Swagger UI, health, metrics) and the
//! request context that carries the caller's token.
pub mod config;
pub mod context;
pub mod gateway;
pub mod grpc;
pub mod metrics;
pub mod postgres;
pub mod shutdown;
pub mod telemetry;
pub mod web;

/// One `#[tokio::test]` per case of a storage suite shared by several implementations of a port:
/// `$suite` is the module (a path) whose `async fn $case(store: Arc<S>)` are the cases; `$make` a
/// future expression, evaluated afresh for every case, yielding `(store, guard)`; `$finish` gets the
/// guard once the case has passed (for PostgreSQL: the database to drop).
#[macro_export]
macro_rules! suite_tests {
    ($suite:path; $make:expr, $finish:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                use $suite as suite;
                let (store, guard) = $make.await;
                suite::$case(::std::sync::Arc::new(store)).await;
                ($finish)(guard);
            }
        )*
    };
}
