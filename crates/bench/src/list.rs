//! `list-load ADDR USER ITEMS RUNS`: fills USER's cart with ITEMS distinct SKUs of the built-in
//! catalogue (one unit each), then times RUNS List calls one after another. Prints one line of JSON:
//! the median and the slowest List in milliseconds. Calls as USER, with a token signed by
//! `ROUTE256_SIGNING_KEY`'s key (see `bench::credentials`).
use std::time::Instant;

use bench::credentials::{with_bearer, Credentials};
use route256_proto::cart::cart_service_client::CartServiceClient;
use route256_proto::cart::{AddItemRequest, ClearRequest, ListRequest};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, user, items, runs] = args.as_slice() else {
        anyhow::bail!("usage: list-load ADDR USER ITEMS RUNS");
    };
    let (user, items, runs): (i64, usize, usize) = (user.parse()?, items.parse()?, runs.parse()?);
    let bearer = Credentials::from_env()?.bearer(user)?;
    let mut cart = CartServiceClient::connect(format!("http://{addr}")).await?;
    cart.clear(with_bearer(ClearRequest { user }, &bearer))
        .await?;
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
        let add = AddItemRequest {
            user,
            sku,
            count: 1,
        };
        cart.add_item(with_bearer(add, &bearer)).await?;
    }
    let mut took = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let listed = cart
            .list(with_bearer(ListRequest { user }, &bearer))
            .await?
            .into_inner();
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
