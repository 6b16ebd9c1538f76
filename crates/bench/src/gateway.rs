//! `gateway-load GRPC_ADDR HTTP_ADDR CLIENTS SECONDS`: what the HTTP gateway costs. The same call —
//! loms StocksInfo of a random seed SKU — first over gRPC (generated client), then over HTTP/1.1
//! through the gateway (`GET /stock/info?sku=`), from CLIENTS clients, each on its own connection and
//! one call at a time, for SECONDS seconds each. Prints two lines of JSON, gRPC then HTTP.
use std::time::{Duration, Instant};

use route256_proto::loms::loms_service_client::LomsServiceClient;
use route256_proto::loms::StocksInfoRequest;

use bench::{collect, Outcome};

/// The contract's seed SKUs: every one is stocked, so every call succeeds.
const SKUS: [u32; 5] = [1_076_963, 1_148_162, 1_625_903, 2_618_151, 773_297_411];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [grpc_addr, http_addr, clients, seconds] = args.as_slice() else {
        anyhow::bail!("usage: gateway-load GRPC_ADDR HTTP_ADDR CLIENTS SECONDS");
    };
    let clients: usize = clients.parse()?;
    let duration = Duration::from_secs(seconds.parse()?);

    let mut tasks = Vec::with_capacity(clients);
    let started = Instant::now();
    for client_no in 0..clients {
        let client = LomsServiceClient::connect(format!("http://{grpc_addr}")).await?;
        tasks.push(tokio::spawn(async move {
            run(client_no, started, duration, |sku| {
                // A clone shares the connection; the call needs it mutably while it runs.
                let mut client = client.clone();
                async move { client.stocks_info(StocksInfoRequest { sku }).await.is_ok() }
            })
            .await
        }));
    }
    println!("{}", collect(clients, tasks, started).await?);

    let mut tasks = Vec::with_capacity(clients);
    let started = Instant::now();
    for client_no in 0..clients {
        // One client each: its own keep-alive connection.
        let client = reqwest::Client::new();
        let base = format!("http://{http_addr}/stock/info?sku=");
        tasks.push(tokio::spawn(async move {
            run(client_no, started, duration, |sku| {
                let call = client.get(format!("{base}{sku}")).send();
                async move {
                    match call.await {
                        Ok(response) => {
                            let ok = response.status().is_success();
                            response.bytes().await.is_ok() && ok
                        }
                        Err(_) => false,
                    }
                }
            })
            .await
        }));
    }
    println!("{}", collect(clients, tasks, started).await?);
    Ok(())
}

/// One client's closed loop: latencies of the calls that succeeded, and how many failed.
async fn run<F, Fut>(client_no: usize, started: Instant, duration: Duration, mut call: F) -> Outcome
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut latencies = Vec::new();
    let mut failures = 0;
    let mut next = client_no;
    while started.elapsed() < duration {
        let sku = SKUS[next % SKUS.len()];
        next += 1;
        let at = Instant::now();
        if call(sku).await {
            latencies.push(at.elapsed());
        } else {
            failures += 1;
        }
    }
    (latencies, failures)
}
