//! The load generator behind `just load`: many shoppers going through the shopping flow
//! ([`flow`]) against cart and loms, either
//!
//! - **open loop** at a target rate: calls are scheduled at fixed times, whatever the answers; each goes
//!   to a shopper that has no call in flight (each shopper makes one call at a time). A call's latency
//!   counts from its scheduled time, so when the system falls behind the waiting shows in the figures
//!   instead of slowing the schedule down (no coordinated omission); calls that start more than 10 ms
//!   late are counted; or
//! - **closed loop** at a concurrency: that many workers, each making its shoppers' calls one after
//!   another as fast as the answers come.
//!
//! A progress line is written every second while it runs; the [`Report`] has throughput, p50/p90/p99/
//! max of the successful calls per RPC and the failures by gRPC code.
pub mod flow;
pub mod stats;

use crate::credentials::Credentials;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

use route256_proto::cart::cart_service_client::CartServiceClient;
use route256_proto::loms::loms_service_client::LomsServiceClient;

use flow::{Clients, Shopper};
pub use stats::Report;
use stats::{Recorder, LATE};

/// How the calls are paced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// This many calls per second, on schedule.
    Open { rate: f64 },
    /// This many calls in flight at all times.
    Closed { concurrency: usize },
}

/// A run's settings; `load --help` lists them.
#[derive(Clone, Debug)]
pub struct Settings {
    pub cart: String,
    pub loms: String,
    pub pace: Pace,
    pub duration: Duration,
    pub shoppers: usize,
    /// Shoppers are users `first_user`, `first_user + 1`, …
    pub first_user: i64,
    /// HTTP/2 connections to each service, shared by the shoppers.
    pub connections: usize,
    /// Each shopper calls with its own user's token, or with one static token (auth off).
    pub credentials: Credentials,
    pub timeout: Duration,
    pub seed: u64,
    /// Write the progress line (to standard error).
    pub progress: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            cart: "http://127.0.0.1:8082".into(),
            loms: "http://127.0.0.1:8083".into(),
            pace: Pace::Closed { concurrency: 32 },
            duration: Duration::from_secs(30),
            shoppers: 1000,
            first_user: 1_000_000,
            connections: 4,
            credentials: Credentials::default(),
            timeout: Duration::from_secs(5),
            seed: 1,
            progress: true,
        }
    }
}

/// The SKUs shoppers put in their carts: the catalogue's with at least 100 units free, so that a run
/// of minutes empties none of them.
fn stocked_skus() -> Vec<u32> {
    catalogue::stock()
        .into_iter()
        .filter(|level| level.total.saturating_sub(level.reserved) >= 100)
        .map(|level| level.sku)
        .collect()
}

async fn connect(url: &str, count: usize) -> anyhow::Result<Vec<Channel>> {
    let endpoint =
        Endpoint::from_shared(url.to_owned()).with_context(|| format!("address {url}"))?;
    let mut channels = Vec::with_capacity(count);
    for _ in 0..count.max(1) {
        channels.push(
            endpoint
                .connect()
                .await
                .with_context(|| format!("connecting to {url}"))?,
        );
    }
    Ok(channels)
}

/// What every call shares.
struct Shared {
    recorder: Mutex<Recorder>,
    skus: Vec<u32>,
}

impl Shared {
    fn recorder(&self) -> std::sync::MutexGuard<'_, Recorder> {
        self.recorder.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Makes `shopper`'s next call; its latency counts from `scheduled`.
async fn step(shopper: &mut Shopper, clients: &mut Clients, shared: &Shared, scheduled: Instant) {
    let rpc = shopper.next_rpc();
    let outcome = shopper.call(rpc, clients, &shared.skus).await;
    let outcome = outcome.map_err(|status| flow::code_of(&status));
    shared.recorder().record(rpc, scheduled.elapsed(), outcome);
}

/// Runs the load for `settings.duration`, then waits for the calls in flight, and reports.
pub async fn run(settings: &Settings) -> anyhow::Result<Report> {
    let (carts, lomses) = (
        connect(&settings.cart, settings.connections).await?,
        connect(&settings.loms, settings.connections).await?,
    );
    let shoppers: Vec<(Shopper, Clients)> = (0..settings.shoppers.max(1))
        .map(|n| {
            let user =
                settings.first_user + i64::try_from(n).unwrap_or(i64::MAX - settings.first_user);
            let seed = settings.seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ n as u64;
            let clients = Clients {
                cart: CartServiceClient::new(carts[n % carts.len()].clone()),
                loms: LomsServiceClient::new(lomses[n % lomses.len()].clone()),
                token: settings.credentials.bearer(user)?,
                timeout: settings.timeout,
            };
            Ok((Shopper::new(user, seed), clients))
        })
        .collect::<anyhow::Result<_>>()?;
    let shared = Arc::new(Shared {
        recorder: Mutex::new(Recorder::default()),
        skus: stocked_skus(),
    });
    anyhow::ensure!(!shared.skus.is_empty(), "the catalogue has no stocked SKUs");

    let started = Instant::now();
    let until = started + settings.duration;
    let progress = settings
        .progress
        .then(|| tokio::spawn(show_progress(shared.clone(), started)));
    let mode = match settings.pace {
        Pace::Open { rate } => {
            open_loop(shoppers, &shared, rate, until).await;
            format!("open loop at {rate} calls/s")
        }
        Pace::Closed { concurrency } => {
            closed_loop(shoppers, &shared, concurrency, until).await;
            format!("closed loop, {concurrency} concurrent")
        }
    };
    let elapsed = started.elapsed();
    if let Some(progress) = progress {
        progress.abort();
        eprintln!();
    }
    let stats = std::mem::take(&mut shared.recorder().total);
    Ok(Report {
        mode,
        shoppers: settings.shoppers.max(1),
        elapsed,
        stats,
    })
}

/// Calls at `rate` per second until `until`, each by a shopper with no call in flight.
async fn open_loop(
    shoppers: Vec<(Shopper, Clients)>,
    shared: &Arc<Shared>,
    rate: f64,
    until: Instant,
) {
    let (idle, mut next_idle) = mpsc::unbounded_channel();
    for shopper in shoppers {
        let _ = idle.send(shopper);
    }
    let started = Instant::now();
    let mut calls = JoinSet::new();
    for n in 0_u64.. {
        #[allow(clippy::cast_precision_loss)]
        let scheduled = started + Duration::from_secs_f64(n as f64 / rate);
        if scheduled >= until {
            break;
        }
        tokio::time::sleep_until(scheduled).await;
        let next = tokio::select! {
            next = next_idle.recv() => next,
            () = tokio::time::sleep_until(until) => None,
        };
        let Some((mut shopper, mut clients)) = next else {
            break;
        };
        if scheduled.elapsed() > LATE {
            shared.recorder().total.late += 1;
        }
        let (shared, idle) = (shared.clone(), idle.clone());
        calls.spawn(async move {
            step(&mut shopper, &mut clients, &shared, scheduled).await;
            let _ = idle.send((shopper, clients));
        });
        while calls.try_join_next().is_some() {}
    }
    while calls.join_next().await.is_some() {}
}

/// `concurrency` workers, each making its share of the shoppers' calls back to back until `until`.
async fn closed_loop(
    shoppers: Vec<(Shopper, Clients)>,
    shared: &Arc<Shared>,
    concurrency: usize,
    until: Instant,
) {
    let concurrency = concurrency.clamp(1, shoppers.len());
    let mut shares: Vec<Vec<(Shopper, Clients)>> = (0..concurrency).map(|_| Vec::new()).collect();
    for (n, shopper) in shoppers.into_iter().enumerate() {
        shares[n % concurrency].push(shopper);
    }
    let mut workers = JoinSet::new();
    for mut share in shares {
        let shared = shared.clone();
        workers.spawn(async move {
            for index in (0..share.len()).cycle() {
                if Instant::now() >= until {
                    break;
                }
                let (shopper, clients) = &mut share[index];
                step(shopper, clients, &shared, Instant::now()).await;
            }
        });
    }
    while workers.join_next().await.is_some() {}
}

/// Writes the progress line every second: on a terminal over itself, elsewhere one line per 5 s.
async fn show_progress(shared: Arc<Shared>, started: Instant) {
    use std::io::IsTerminal as _;
    let terminal = std::io::stderr().is_terminal();
    let every = Duration::from_secs(1);
    let mut ticks = tokio::time::interval_at(started + every, every);
    for tick in 1_u64.. {
        ticks.tick().await;
        let line = shared.recorder().progress(started.elapsed(), every);
        if terminal {
            eprint!("\r{line}");
        } else if tick % 5 == 0 {
            eprintln!("{line}");
        }
    }
}
