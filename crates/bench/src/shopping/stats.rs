//! What a load run measured: per RPC, the latencies of the calls that succeeded (an HDR histogram in
//! microseconds: constant memory, 3 significant digits, however long the run) and the failures by
//! gRPC code; the progress line while it runs; the report at the end, as a table or as JSON.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::flow::Rpc;

/// The longest latency a histogram holds exactly; longer ones are recorded as this (the calls'
/// deadlines are shorter).
const MAX_MICROS: u64 = 120_000_000;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3)
        .expect("1 µs..120 s at 3 digits is a valid histogram")
}

/// One RPC's figures.
#[derive(Clone, Debug)]
pub struct RpcStats {
    pub ok: Histogram<u64>,
    /// Failed calls by gRPC code (its name, `Unavailable`).
    pub errors: BTreeMap<String, u64>,
}

impl Default for RpcStats {
    fn default() -> Self {
        Self {
            ok: histogram(),
            errors: BTreeMap::new(),
        }
    }
}

impl RpcStats {
    pub fn calls(&self) -> u64 {
        self.ok.len() + self.failed()
    }

    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }

    fn millis(&self, quantile: f64) -> f64 {
        if self.ok.is_empty() {
            return 0.0;
        }
        micros_to_ms(self.ok.value_at_quantile(quantile))
    }

    fn max_ms(&self) -> f64 {
        micros_to_ms(self.ok.max())
    }
}

#[allow(clippy::cast_precision_loss)]
fn micros_to_ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// Every RPC's figures, and the calls that started late.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub rpcs: BTreeMap<Rpc, RpcStats>,
    /// Open loop: calls that started more than [`LATE`] after their scheduled time, because every
    /// shopper was busy or the generator lagged. Their latency counts from the scheduled time.
    pub late: u64,
}

/// How far behind its schedule a call may start before it counts as late.
pub const LATE: Duration = Duration::from_millis(10);

impl Stats {
    pub fn record(&mut self, rpc: Rpc, took: Duration, outcome: Result<(), tonic::Code>) {
        let entry = self.rpcs.entry(rpc).or_default();
        match outcome {
            Ok(()) => {
                let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
                entry.ok.saturating_record(micros.clamp(1, MAX_MICROS));
            }
            Err(code) => *entry.errors.entry(format!("{code:?}")).or_insert(0) += 1,
        }
    }

    pub fn calls(&self) -> u64 {
        self.rpcs.values().map(RpcStats::calls).sum()
    }

    pub fn failed(&self) -> u64 {
        self.rpcs.values().map(RpcStats::failed).sum()
    }

    /// All RPCs' successful latencies together.
    fn all_ok(&self) -> RpcStats {
        let mut all = RpcStats::default();
        for stats in self.rpcs.values() {
            let _ = all.ok.add(&stats.ok);
            for (code, count) in &stats.errors {
                *all.errors.entry(code.clone()).or_insert(0) += count;
            }
        }
        all
    }
}

/// The figures of the whole run, and those since the last progress line.
#[derive(Debug, Default)]
pub struct Recorder {
    pub total: Stats,
    window: Stats,
}

impl Recorder {
    pub fn record(&mut self, rpc: Rpc, took: Duration, outcome: Result<(), tonic::Code>) {
        self.total.record(rpc, took, outcome);
        self.window.record(rpc, took, outcome);
    }

    /// The progress line — `at` into the run, the calls and failures so far, and the rate and p99 of
    /// the last `window` — and a fresh window.
    pub fn progress(&mut self, at: Duration, window: Duration) -> String {
        let recent = std::mem::take(&mut self.window);
        format!(
            "{:>5.1}s  calls {:>9}  failed {:>6}  now {:>8.0}/s  p99 {:>8.2} ms",
            at.as_secs_f64(),
            self.total.calls(),
            self.total.failed(),
            per_second(recent.calls(), window),
            recent.all_ok().millis(0.99),
        )
    }
}

#[allow(clippy::cast_precision_loss)]
fn per_second(calls: u64, over: Duration) -> f64 {
    calls as f64 / over.as_secs_f64().max(f64::EPSILON)
}

/// A finished run: what it was asked to do, and what it measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// `open loop at 500 calls/s` or `closed loop, 64 concurrent`.
    pub mode: String,
    pub shoppers: usize,
    pub elapsed: Duration,
    pub stats: Stats,
}

impl Report {
    pub fn throughput(&self) -> f64 {
        per_second(self.stats.calls(), self.elapsed)
    }

    /// The human-readable report: one line per RPC and a total, then the failures by code.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{}, {} shoppers: {} calls in {:.1} s = {:.1} calls/s, {} failed, {} started late\n",
            self.mode,
            self.shoppers,
            self.stats.calls(),
            self.elapsed.as_secs_f64(),
            self.throughput(),
            self.stats.failed(),
            self.stats.late,
        );
        let _ = writeln!(
            out,
            "{:<18} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
            "rpc", "calls", "calls/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "failed"
        );
        let all = self.stats.all_ok();
        let rows = self
            .stats
            .rpcs
            .iter()
            .map(|(rpc, stats)| (rpc.name(), stats));
        for (name, stats) in rows.chain(std::iter::once(("all", &all))) {
            let _ = writeln!(
                out,
                "{name:<18} {:>9} {:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>8}",
                stats.calls(),
                per_second(stats.calls(), self.elapsed),
                stats.millis(0.5),
                stats.millis(0.9),
                stats.millis(0.99),
                stats.max_ms(),
                stats.failed(),
            );
        }
        for (rpc, stats) in &self.stats.rpcs {
            for (code, count) in &stats.errors {
                let _ = writeln!(out, "failed: {} {code} ×{count}", rpc.name());
            }
        }
        out
    }

    /// The same figures as one JSON object, for scripts.
    pub fn json(&self) -> serde_json::Value {
        let rpc = |stats: &RpcStats| {
            serde_json::json!({
                "calls": stats.calls(),
                "p50_ms": stats.millis(0.5),
                "p90_ms": stats.millis(0.9),
                "p99_ms": stats.millis(0.99),
                "max_ms": stats.max_ms(),
                "failed": stats.errors,
            })
        };
        let rpcs: serde_json::Map<String, serde_json::Value> = self
            .stats
            .rpcs
            .iter()
            .map(|(r, stats)| (r.name().to_owned(), rpc(stats)))
            .collect();
        serde_json::json!({
            "mode": self.mode,
            "shoppers": self.shoppers,
            "seconds": self.elapsed.as_secs_f64(),
            "calls": self.stats.calls(),
            "calls_per_second": self.throughput(),
            "failed": self.stats.failed(),
            "late": self.stats.late,
            "all": rpc(&self.stats.all_ok()),
            "rpcs": rpcs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successes_go_to_the_histogram_and_failures_by_code() {
        let mut stats = Stats::default();
        for ms in 1..=100 {
            stats.record(Rpc::List, Duration::from_millis(ms), Ok(()));
        }
        stats.record(
            Rpc::List,
            Duration::from_secs(1),
            Err(tonic::Code::Unavailable),
        );
        stats.record(
            Rpc::Checkout,
            Duration::from_secs(1),
            Err(tonic::Code::FailedPrecondition),
        );
        stats.record(
            Rpc::Checkout,
            Duration::from_secs(1),
            Err(tonic::Code::FailedPrecondition),
        );
        let list = &stats.rpcs[&Rpc::List];
        assert_eq!((list.calls(), list.failed()), (101, 1));
        assert!(
            (list.millis(0.5) - 50.0).abs() < 0.1,
            "{}",
            list.millis(0.5)
        );
        assert!(
            (list.millis(0.99) - 99.0).abs() < 0.1,
            "{}",
            list.millis(0.99)
        );
        assert!((list.max_ms() - 100.0).abs() < 0.1);
        assert_eq!(stats.rpcs[&Rpc::Checkout].errors["FailedPrecondition"], 2);
        assert_eq!((stats.calls(), stats.failed()), (103, 3));
    }

    #[test]
    fn the_report_names_every_rpc_a_total_and_each_failure() {
        let mut stats = Stats::default();
        stats.record(Rpc::AddItem, Duration::from_millis(2), Ok(()));
        stats.record(
            Rpc::OrderPay,
            Duration::from_millis(4),
            Err(tonic::Code::Unavailable),
        );
        let report = Report {
            mode: "closed loop, 1 concurrent".into(),
            shoppers: 1,
            elapsed: Duration::from_secs(2),
            stats,
        };
        let table = report.table();
        assert!(
            table.starts_with(
                "closed loop, 1 concurrent, 1 shoppers: 2 calls in 2.0 s = 1.0 calls/s, 1 failed"
            ),
            "{table}"
        );
        for row in [
            "cart.AddItem",
            "loms.OrderPay",
            "all ",
            "failed: loms.OrderPay Unavailable ×1",
        ] {
            assert!(table.contains(row), "{row} in\n{table}");
        }
        let json = report.json();
        assert_eq!(json["calls"], 2);
        assert_eq!(json["rpcs"]["loms.OrderPay"]["failed"]["Unavailable"], 1);
    }
}
