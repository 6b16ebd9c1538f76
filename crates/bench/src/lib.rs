//! What the load generators share: gathering closed-loop clients' results, and their summary as one
//! line of JSON; the tokens they call with ([`credentials`]).
pub mod credentials;

use std::time::{Duration, Instant};

/// What one client measured: the latencies of the calls that succeeded, and how many failed.
pub type Outcome = (Vec<Duration>, u64);

/// Waits for every client and summarises the run that began at `started`.
pub async fn collect(
    clients: usize,
    tasks: Vec<tokio::task::JoinHandle<Outcome>>,
    started: Instant,
) -> anyhow::Result<String> {
    let mut latencies = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (mut l, f) = task.await?;
        latencies.append(&mut l);
        failures += f;
    }
    Ok(summary(clients, latencies, failures, started.elapsed()))
}

/// One line of JSON: calls, failures, calls per second and latency percentiles (ms).
pub fn summary(
    clients: usize,
    mut latencies: Vec<Duration>,
    failures: u64,
    elapsed: Duration,
) -> String {
    latencies.sort_unstable();
    let percentile = |p: f64| {
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies
            .get(index)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    #[allow(clippy::cast_precision_loss)]
    let per_second = latencies.len() as f64 / elapsed.as_secs_f64();
    format!(
        "{{\"clients\": {clients}, \"calls\": {}, \"failures\": {failures}, \"per_second\": {per_second:.0}, \"p50_ms\": {:.2}, \"p99_ms\": {:.2}}}",
        latencies.len(),
        percentile(0.5),
        percentile(0.99),
    )
}

pub mod shopping;
