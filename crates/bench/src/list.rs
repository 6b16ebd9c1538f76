//! `list-load ADDR USER ITEMS RUNS`: fills USER's cart with ITEMS distinct SKUs of the built-in
//! catalogue (one unit each), then times RUNS List calls one after another. Prints one line of JSON:
//! the median and the slowest List in milliseconds. Needs the token `testtoken`.
use std::time::Instant;

use route256_proto::cart::cart_service_client::CartServiceClient;
use route256_proto::cart::{AddItemRequest, ClearRequest, ListRequest};

fn authed<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        tonic::metadata::MetadataValue::from_static("Bearer testtoken"),
    );
    request
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, user, items, runs] = args.as_slice() else {
        anyhow::bail!("usage: list-load ADDR USER ITEMS RUNS");
    };
    let (user, items, runs): (i64, usize, usize) = (user.parse()?, items.parse()?, runs.parse()?);
    let mut cart = CartServiceClient::connect(format!("http://{addr}")).await?;
    cart.clear(ClearRequest { user }).await?;
    let skus: Vec<u32> = catalogue::stock()
        .into_iter()
        .filter(|level| level.total > level.reserved && level.sku > 200_000_000)
        .map(|level| level.sku)
        .take(items)
        .collect();
    anyhow::ensure!(
        skus.len() == items,
        "the catalogue has fewer SKUs than {items}"
    );
    for sku in skus {
        cart.add_item(authed(AddItemRequest {
            user,
            sku,
            count: 1,
        }))
        .await?;
    }
    let mut took = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let listed = cart.list(authed(ListRequest { user })).await?.into_inner();
        took.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(listed.items.len() == items, "listed {}", listed.items.len());
    }
    took.sort_by(f64::total_cmp);
    println!(
        "{{\"items\": {items}, \"median_ms\": {:.0}, \"max_ms\": {:.0}}}",
        took[took.len() / 2],
        took[took.len() - 1]
    );
    Ok(())
}
