//! `order-create-load ADDR CLIENTS SECONDS FIRST_SKU SKUS [CONNECTIONS]`: OrderCreate calls of 1 unit of
//! a random one of SKUS SKUs from FIRST_SKU, from CLIENTS clients, one call at a time each, for SECONDS
//! seconds, the clients taking turns on CONNECTIONS HTTP/2 connections (default: one each). Prints one
//! line of JSON: calls per second and latency percentiles.
//!
//! Closed loop (a client sends its next call when the previous answered), the same shape as pgbench's
//! clients, so the two measure the same thing: transactions per second at a given concurrency.
use bench::credentials::{with_bearer, Credentials};
use std::time::{Duration, Instant};

use route256_proto::loms::loms_service_client::LomsServiceClient;
use route256_proto::loms::{Item, OrderCreateRequest};
use tonic::transport::Channel;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (addr, clients, seconds, first_sku, skus, connections) = match args.as_slice() {
        [addr, clients, seconds, first_sku, skus] => {
            (addr, clients, seconds, first_sku, skus, None)
        }
        [addr, clients, seconds, first_sku, skus, connections] => {
            (addr, clients, seconds, first_sku, skus, Some(connections))
        }
        _ => anyhow::bail!(
            "usage: order-create-load ADDR CLIENTS SECONDS FIRST_SKU SKUS [CONNECTIONS]"
        ),
    };
    let clients: usize = clients.parse()?;
    let connections: usize = connections.map_or(Ok(clients), |c| c.parse())?;
    anyhow::ensure!(
        clients > 0 && connections > 0,
        "CLIENTS and CONNECTIONS must be above 0"
    );
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections.min(clients) {
        channels.push(LomsServiceClient::connect(format!("http://{addr}")).await?);
    }
    let duration = Duration::from_secs(seconds.parse()?);
    let first_sku: u32 = first_sku.parse()?;
    let skus: u32 = skus.parse()?;

    let credentials = Credentials::from_env()?;
    let mut tasks = Vec::with_capacity(clients);
    let started = Instant::now();
    for client_no in 0..clients {
        let client = channels[client_no % channels.len()].clone();
        let user = 1 + i64::try_from(client_no).unwrap_or(0);
        let bearer = credentials.bearer(user)?;
        let sku = Skus {
            first: first_sku,
            count: skus,
        };
        tasks.push(tokio::spawn(one_client(
            client, client_no, user, bearer, sku, started, duration,
        )));
    }
    println!("{}", bench::collect(clients, tasks, started).await?);
    Ok(())
}

/// The SKUs orders are placed for: `count` of them from `first`.
#[derive(Clone, Copy)]
struct Skus {
    first: u32,
    count: u32,
}

/// One client's closed loop until `duration` has passed since `started`: its latencies and failures.
async fn one_client(
    mut client: LomsServiceClient<Channel>,
    client_no: usize,
    user: i64,
    bearer: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    skus: Skus,
    started: Instant,
    duration: Duration,
) -> (Vec<Duration>, u64) {
    // A cheap deterministic spread over the SKUs, different per client.
    let mut state = 0x9e37_79b9_u32.wrapping_mul(u32::try_from(client_no + 1).unwrap_or(1));
    let mut latencies = Vec::new();
    let mut failures = 0u64;
    while started.elapsed() < duration {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let request = with_bearer(
            OrderCreateRequest {
                user,
                items: vec![Item {
                    sku: skus.first + state % skus.count,
                    count: 1,
                }],
                idempotency_key: String::new(),
            },
            &bearer,
        );
        let call = Instant::now();
        match client.order_create(request).await {
            Ok(_) => latencies.push(call.elapsed()),
            Err(_) => failures += 1,
        }
    }
    (latencies, failures)
}
