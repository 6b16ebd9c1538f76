//! cart's rate limit toward product-service, seen from outside: a 30-item cart lists at the default
//! limits of both services; two cart replicas sharing a budget through Redis stay within it together,
//! as product-service counts; and with Redis stopped mid-run no request fails.
mod support;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use route256_proto::cart::ListRequest;
use support::{add, authed, eventually, Settings, System};
use tokio::time::Instant;

/// `count` SKUs of the built-in catalogue beyond the contract's, each stocked.
fn catalogue_skus(count: usize) -> Vec<u32> {
    catalogue::stock()
        .iter()
        .filter(|level| level.sku > 200_000_000 && level.total >= 100)
        .take(count)
        .map(|level| level.sku)
        .collect()
}

async fn fill_cart(system: &System, user: i64, skus: &[u32]) {
    let mut cart = system.cart().await;
    for &sku in skus {
        cart.add_item(add(user, sku, 1)).await.expect("added");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thirty_item_cart_lists_at_the_default_limits() {
    let mut settings = Settings::default();
    // product-service's own limit at its default: 10 per second, bursts of 10.
    settings.product.rps = 10;
    settings.product.burst = 10;
    let system = System::start_with(settings).await;
    let skus = catalogue_skus(30);
    fill_cart(&system, 1, &skus).await;
    let list = system
        .cart()
        .await
        .list(authed(ListRequest { user: 1 }))
        .await
        .expect("no RESOURCE_EXHAUSTED: cart kept to the rate")
        .into_inner();
    assert_eq!(list.items.len(), 30);
    system.stop().await;
}

/// A Redis server of the test's own, on a spare port, so that stopping it disturbs nobody.
struct OwnRedis {
    port: u16,
    child: Child,
}

impl OwnRedis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/tools.sh installs it)");
        Self { port, child }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn ready(&self) {
        let addr = format!("127.0.0.1:{}", self.port);
        eventually("redis answers", || {
            std::net::TcpStream::connect(&addr).is_ok()
        })
        .await;
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A key of its own per test run, so that concurrent runs on one Redis do not share a budget.
fn fresh_key() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "route256:test:{}:{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Lists `user`'s cart from `clients` clients in a loop until `until`; every call must succeed.
async fn hammer(
    addrs: Vec<std::net::SocketAddr>,
    user: i64,
    clients: usize,
    until: Instant,
) -> u64 {
    let mut tasks = Vec::new();
    for i in 0..clients {
        let addr = addrs[i % addrs.len()];
        tasks.push(tokio::spawn(async move {
            let mut cart = support::clients::Cart::new(support::channel(addr).await);
            let mut lists = 0u64;
            while Instant::now() < until {
                cart.list(authed(ListRequest { user }))
                    .await
                    .expect("every List succeeds");
                lists += 1;
            }
            lists
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("task");
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_cart_replicas_share_one_budget_through_redis() {
    const RPS: u32 = 10;
    // The machine's Redis when it answers, else one of our own.
    let own = std::net::TcpStream::connect("127.0.0.1:6379")
        .is_err()
        .then(|| OwnRedis::start(support::processes::free_port()));
    if let Some(redis) = &own {
        redis.ready().await;
    }
    let redis_url = own
        .as_ref()
        .map_or_else(|| "redis://127.0.0.1:6379".to_owned(), OwnRedis::url);
    let key = fresh_key();
    let mut settings = Settings::default();
    settings.cart.limiter_redis_url = Some(redis_url.clone());
    settings.cart.limiter_key = key.clone();
    settings.cart.product_burst = std::num::NonZeroU32::MIN;
    let first = System::start_with(settings).await;
    // A second cart replica: its own process state, the same product-service, loms and budget.
    let mut settings = Settings::default().cart_replica_of(&first);
    settings.cart.limiter_redis_url = Some(redis_url);
    settings.cart.limiter_key = key;
    settings.cart.product_burst = std::num::NonZeroU32::MIN;
    let second = System::start_with(settings).await;
    // Each replica keeps carts of its own (memory): fill the same cart in both.
    let skus = catalogue_skus(5);
    fill_cart(&first, 7, &skus).await;
    fill_cart(&second, 7, &skus).await;

    let served_before = first.product_service.served();
    let started = Instant::now();
    hammer(
        vec![first.cart_addr, second.cart_addr],
        7,
        8,
        started + Duration::from_secs(3),
    )
    .await;
    let elapsed = started.elapsed();
    let served = first.product_service.served() - served_before;
    // One shared budget: at most one burst (1) plus RPS a second, 10 % allowed for the edges.
    let bound = (1.0 + f64::from(RPS) * elapsed.as_secs_f64()) * 1.1;
    assert!(
        (served as f64) <= bound,
        "{served} calls in {elapsed:?}: more than one budget of {RPS}/s"
    );
    assert!(served > 0);
    second.stop().await;
    first.stop().await;
    if let Some(redis) = own {
        redis.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_redis_stopped_mid_run_no_request_fails() {
    let redis = OwnRedis::start(support::processes::free_port());
    redis.ready().await;
    let port = redis.port;
    let mut settings = Settings::default();
    settings.cart.limiter_redis_url = Some(redis.url());
    settings.cart.limiter_key = fresh_key();
    let system = System::start_with(settings).await;
    fill_cart(&system, 9, &catalogue_skus(3)).await;

    let run = |seconds| {
        hammer(
            vec![system.cart_addr],
            9,
            2,
            Instant::now() + Duration::from_secs(seconds),
        )
    };
    assert!(run(1).await > 0, "lists through redis");
    redis.stop();
    assert!(run(2).await > 0, "lists with redis gone");
    eventually("the fallback is logged", || {
        support::logs().contains("redis unreachable: limiting locally")
    })
    .await;

    let redis = OwnRedis::start(port);
    redis.ready().await;
    // Redis is tried again a second after the failure.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !support::logs().contains("redis is back") {
        assert!(Instant::now() < deadline, "never back on redis");
        run(1).await;
    }
    redis.stop();
    system.stop().await;
}
