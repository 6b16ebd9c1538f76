//! Graceful shutdown under load, over the real binaries: while the load generator's shoppers go
//! through the shopping flow, each service in turn — loms, cart, the notifier, product-service — is sent
//! SIGTERM, waited for, and started again.
//!
//! - Every call in flight when a service is told to stop gets its answer: the process drains and exits
//!   0 (a drain cut short by its deadline exits non-zero), and no call fails but with `UNAVAILABLE`, the
//!   clean refusal of a call made while the service is away (an aborted call shows as `UNKNOWN` or
//!   `CANCELLED`).
//! - Afterwards the outbox drains to 0 and every order is notified exactly of its changes, in order,
//!   with the notifier's stored offsets at the end of every partition.
//!
//! `#[ignore]`d in the ordinary passes (it needs the binaries and the cluster of `just stack-up`); run by
//! `just test-faults`.
mod support;

use std::path::PathBuf;
use std::time::Duration;

use bench::credentials::Credentials;
use bench::shopping::{self, Pace, Settings};
use notifier::ports::NotificationStore as _;
use route256_proto::loms::{OrderInfoRequest, OrderStatus};
use storage::testing::TestDatabase;
use support::events;
use support::processes::{free_port, Process};
use tonic::Code;

/// A service's addresses: gRPC (none for the notifier) and HTTP (probes).
struct Ports {
    grpc: String,
    http: String,
}

impl Ports {
    fn new() -> Self {
        Self {
            grpc: format!("127.0.0.1:{}", free_port()),
            http: format!("127.0.0.1:{}", free_port()),
        }
    }
}

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The four services as processes, on fresh databases and a fresh topic.
struct Rig {
    topic: String,
    dbs: [TestDatabase; 3],
    services: Vec<(Process, Ports)>,
    logs: PathBuf,
}

impl Rig {
    async fn start() -> Self {
        let topic = events::fresh_topic().await;
        let logs = std::env::temp_dir().join(format!("route256-{topic}"));
        std::fs::create_dir_all(&logs).expect("a log folder");
        let dbs = [
            TestDatabase::create("cart", "127.0.0.1:6432"),
            TestDatabase::create("loms", "127.0.0.1:6433"),
            TestDatabase::create("notifier", "127.0.0.1:6434"),
        ];
        let [product, loms, cart, notifier] =
            [Ports::new(), Ports::new(), Ports::new(), Ports::new()];
        let brokers = events::brokers();
        let product_env = vars(&[
            ("PRODUCT_GRPC_ADDR", &product.grpc),
            ("PRODUCT_HTTP_ADDR", &product.http),
            ("PRODUCT_RPS", "0"),
        ]);
        let loms_env = vars(&[
            ("STORAGE", "postgres"),
            ("LOMS_DATABASE_URL", &dbs[1].settings().url),
            ("LOMS_GRPC_ADDR", &loms.grpc),
            ("LOMS_HTTP_ADDR", &loms.http),
            ("LOMS_KAFKA_BROKERS", &brokers),
            ("LOMS_KAFKA_TOPIC", &topic),
            ("LOMS_RELAY_POLL_MS", "20"),
            // long enough that no shopper's payment loses to it; the orders left unpaid at the end
            // are cancelled before the check
            ("LOMS_UNPAID_CANCEL_AFTER_SECS", "10"),
            ("LOMS_UNPAID_CHECK_PERIOD_MS", "200"),
        ]);
        let cart_env = vars(&[
            ("STORAGE", "postgres"),
            ("CART_DATABASE_URL", &dbs[0].settings().url),
            ("CART_GRPC_ADDR", &cart.grpc),
            ("CART_HTTP_ADDR", &cart.http),
            ("PRODUCT_SERVICE_URL", &format!("http://{}", product.grpc)),
            ("LOMS_URL", &format!("http://{}", loms.grpc)),
            ("CART_PRODUCT_RPS", "0"),
        ]);
        let notifier_env = vars(&[
            ("STORAGE", "postgres"),
            ("NOTIFIER_DATABASE_URL", &dbs[2].settings().url),
            ("NOTIFIER_HTTP_ADDR", &notifier.http),
            ("NOTIFIER_KAFKA_BROKERS", &brokers),
            ("NOTIFIER_KAFKA_TOPIC", &topic),
            ("NOTIFIER_GROUP", &topic),
        ]);
        let mut services = Vec::new();
        for (name, env, ports) in [
            ("product-service", product_env, product),
            ("loms", loms_env, loms),
            ("cart", cart_env, cart),
            ("notifier", notifier_env, notifier),
        ] {
            let process = Process::start(name, env, &logs);
            ready(&ports).await;
            services.push((process, ports));
        }
        Self {
            topic,
            dbs,
            services,
            logs,
        }
    }

    fn grpc_url(&self, index: usize) -> String {
        format!("http://{}", self.services[index].1.grpc)
    }

    /// SIGTERM to service `index`; it must drain and exit 0. Then it starts again.
    async fn restart_gracefully(&mut self, index: usize) {
        let (process, ports) = &mut self.services[index];
        let status = tokio::task::block_in_place(|| process.terminate());
        assert!(
            status.success(),
            "{} exited {status} after SIGTERM: its drain did not finish (logs in {})",
            process.name(),
            self.logs.display()
        );
        process.restart();
        ready(ports).await;
    }

    /// loms's gauge of unsent events.
    async fn pending_events(&self) -> Option<f64> {
        events::pending_events(&self.services[1].1.http).await
    }
}

async fn ready(ports: &Ports) {
    let url = format!("http://{}/readyz", ports.http);
    support::eventually_async(&format!("{url} answers 200"), || async {
        let answer = reqwest::get(&url).await;
        answer.is_ok_and(|a| a.status() == reqwest::StatusCode::OK)
    })
    .await;
}

/// Every order loms holds, with its final status once none awaits payment: ids from 1 until 50 in a
/// row are unknown (a rolled-back create leaves its id unused).
async fn final_statuses(loms: &str) -> Vec<(i64, OrderStatus)> {
    let channel = tonic::transport::Channel::from_shared(loms.to_owned())
        .expect("a valid url")
        .connect()
        .await
        .expect("loms answers");
    // Reads as support staff: every user's order.
    let mut client = support::clients::Loms::new(channel);
    let (mut orders, mut unknown_in_a_row) = (Vec::new(), 0);
    for id in 1.. {
        let status = loop {
            match client.order_info(OrderInfoRequest { order_id: id }).await {
                Ok(info) if info.get_ref().status() != OrderStatus::AwaitingPayment => {
                    break Some(info.into_inner().status());
                }
                Err(status) if status.code() == Code::NotFound => break None,
                Err(status) if status.code() != Code::Unavailable => {
                    panic!("order {id}: {status:?}")
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        match status {
            Some(status) => {
                orders.push((id, status));
                unknown_in_a_row = 0;
            }
            None if unknown_in_a_row == 50 => break,
            None => unknown_in_a_row += 1,
        }
    }
    orders
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "over the binaries and the stack's cluster: run by `just test-faults`"]
async fn sigterm_under_load_fails_no_call_in_flight_and_loses_no_event() {
    let mut rig = Rig::start().await;
    let settings = Settings {
        cart: rig.grpc_url(2),
        loms: rig.grpc_url(1),
        pace: Pace::Closed { concurrency: 16 },
        duration: Duration::from_secs(30),
        shoppers: 200,
        progress: false,
        credentials: Credentials::Signed(Box::new(support::auth::provider().clone())),
        ..Settings::default()
    };
    let load = tokio::spawn(async move { shopping::run(&settings).await });
    // loms, cart, the notifier, product-service: one every 5 s, each while the load runs.
    for index in [1, 2, 3, 0] {
        tokio::time::sleep(Duration::from_secs(5)).await;
        rig.restart_gracefully(index).await;
    }
    let report = load.await.expect("no panic").expect("the load ran");
    println!("{}", report.table());

    let stats = &report.stats;
    for (rpc, figures) in &stats.rpcs {
        for (code, count) in &figures.errors {
            // Checkout's refusal when a SKU ran out is an answer too; none should here (stocked SKUs).
            assert_eq!(
                code,
                "Unavailable",
                "{} failed {count}× with {code}",
                rpc.name()
            );
        }
    }
    assert!(
        stats.calls() - stats.failed() > 1000,
        "the load went on around the restarts: {} calls, {} failed",
        stats.calls(),
        stats.failed()
    );

    support::eventually_async("the outbox drains", || async {
        rig.pending_events().await == Some(0.0)
    })
    .await;
    let orders = final_statuses(&rig.grpc_url(1)).await;
    assert!(orders.len() > 50, "orders were placed: {}", orders.len());
    let store = events::notifications(&rig.dbs[2]).await;
    events::assert_notified(&store, &orders).await;
    let records = events::assert_published_once_in_order(&rig.topic);
    let changes: usize = orders
        .iter()
        .map(|&(_, s)| events::changes_to(s).len())
        .sum();
    assert_eq!(records, changes, "each change published once");
    let ends = events::committed_ends(&rig.topic);
    support::eventually_async(
        "the notifier's offsets reach the last record of every partition",
        || async {
            let offsets = store.offsets(&rig.topic).await.expect("offsets");
            ends.iter()
                .all(|(partition, end)| offsets.get(partition).is_some_and(|at| at >= end))
        },
    )
    .await;
    println!(
        "{} orders notified change by change; logs in {}",
        orders.len(),
        rig.logs.display()
    );
    for db in rig.dbs {
        db.drop_now();
    }
}
