//! Order events through faults, over the real binaries and the real 3-broker cluster: loms and the
//! notifier killed with SIGKILL while orders flow, the broker leading the most partitions killed, the
//! whole cluster down for 10 s. Afterwards every order's notifications must be exactly its changes, in
//! order: none lost, none twice.
//!
//! These tests stop and start the shared cluster, so they are `#[ignore]`d in the ordinary passes and
//! run one at a time by `just test-faults` (part of `just test`), after `just stack-up` has built the
//! binaries (`target/debug/loms`, `target/debug/notifier`; `ROUTE256_BIN_DIR` points elsewhere).
mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use route256_proto::loms::{
    Item, OrderCancelRequest, OrderCreateRequest, OrderInfoRequest, OrderPayRequest, OrderStatus,
};
use storage::testing::TestDatabase;
use support::events;
use support::processes::{free_port, stack, Process};
use support::{PLENTY, SOLD_OUT};
use tonic::transport::Channel;
use tonic::Code;

/// loms and the notifier as processes over fresh databases and a fresh topic.
struct Rig {
    topic: String,
    loms_db: TestDatabase,
    notifier_db: TestDatabase,
    loms: Process,
    notifier: Process,
    loms_grpc: String,
    loms_http: String,
    logs: PathBuf,
    /// The notifier's settings but its probe port: for more members of its group.
    notifier_env: Vec<(String, String)>,
    /// loms's settings but its ports: for more replicas.
    loms_env: Vec<(String, String)>,
}

impl Rig {
    async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// The rig, loms with `settings` on top of its own.
    async fn start_with(settings: &[(&str, &str)]) -> Self {
        let topic = events::fresh_topic().await;
        let logs = std::env::temp_dir().join(format!("route256-{topic}"));
        std::fs::create_dir_all(&logs).expect("a log folder");
        let (loms_db, notifier_db) = (
            TestDatabase::create("loms", "127.0.0.1:6433"),
            TestDatabase::create("notifier", "127.0.0.1:6434"),
        );
        let (grpc, http) = (free_port(), free_port());
        let vars = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let (grpc_addr, http_addr) = (format!("127.0.0.1:{grpc}"), format!("127.0.0.1:{http}"));
        let mut loms_env = vars(&[
            ("STORAGE", "postgres"),
            ("LOMS_DATABASE_URL", &loms_db.settings().url),
            ("LOMS_KAFKA_BROKERS", &events::brokers()),
            ("LOMS_KAFKA_TOPIC", &topic),
            ("LOMS_RELAY_POLL_MS", "20"),
            // a killed relay's successor takes over after 1 s
            ("LOMS_RELAY_LEASE_TTL_MS", "1000"),
            ("LOMS_UNPAID_CANCEL_AFTER_SECS", "2"),
            ("LOMS_UNPAID_CHECK_PERIOD_MS", "200"),
        ]);
        loms_env.retain(|(key, _)| settings.iter().all(|(k, _)| k != key));
        loms_env.extend(vars(settings));
        let mut env = loms_env.clone();
        env.extend(vars(&[
            ("LOMS_GRPC_ADDR", &grpc_addr),
            ("LOMS_HTTP_ADDR", &http_addr),
        ]));
        let loms = Process::start("loms", env, &logs);
        let notifier_env = vars(&[
            ("STORAGE", "postgres"),
            ("NOTIFIER_DATABASE_URL", &notifier_db.settings().url),
            ("NOTIFIER_KAFKA_BROKERS", &events::brokers()),
            ("NOTIFIER_KAFKA_TOPIC", &topic),
            ("NOTIFIER_GROUP", &topic),
        ]);
        let notifier_http = format!("127.0.0.1:{}", free_port());
        let mut env = notifier_env.clone();
        env.push(("NOTIFIER_HTTP_ADDR".into(), notifier_http.clone()));
        let notifier = Process::start("notifier", env, &logs);
        for http in [&http_addr, &notifier_http] {
            ready(http).await;
        }
        Self {
            topic,
            loms_db,
            notifier_db,
            loms,
            notifier,
            loms_grpc: format!("http://{grpc_addr}"),
            loms_http: http_addr,
            logs,
            notifier_env,
            loms_env,
        }
    }

    /// Another loms replica on the rig's database, logging to `<logs>/<name>/loms.log`, once ready;
    /// with its gRPC and HTTP addresses.
    async fn another_loms(&self, name: &str) -> (Process, String, String) {
        let logs = self.logs.join(name);
        std::fs::create_dir_all(&logs).expect("a log folder");
        let (grpc, http) = (
            format!("127.0.0.1:{}", free_port()),
            format!("127.0.0.1:{}", free_port()),
        );
        let mut env = self.loms_env.clone();
        env.push(("LOMS_GRPC_ADDR".into(), grpc.clone()));
        env.push(("LOMS_HTTP_ADDR".into(), http.clone()));
        let replica = Process::start("loms", env, &logs);
        ready(&http).await;
        (replica, format!("http://{grpc}"), http)
    }

    /// Another member of the notifier's group, logging to `<logs>/<name>/notifier.log`, once ready.
    async fn another_notifier(&self, name: &str) -> Process {
        let logs = self.logs.join(name);
        std::fs::create_dir_all(&logs).expect("a log folder");
        let http = format!("127.0.0.1:{}", free_port());
        let mut env = self.notifier_env.clone();
        env.push(("NOTIFIER_HTTP_ADDR".into(), http.clone()));
        let member = Process::start("notifier", env, &logs);
        ready(&http).await;
        member
    }

    /// How many times each `order <id> status <status>` line was logged, across every notifier log
    /// under the rig's log folder.
    fn notification_lines(&self) -> std::collections::HashMap<(i64, String), usize> {
        let line =
            regex::Regex::new(r"order (\d+) status (new|awaiting payment|failed|payed|cancelled)")
                .expect("a pattern");
        let mut counts = std::collections::HashMap::new();
        let mut logs = vec![self.logs.join("notifier.log")];
        for entry in std::fs::read_dir(&self.logs)
            .expect("the log folder")
            .flatten()
        {
            let nested = entry.path().join("notifier.log");
            if nested.exists() {
                logs.push(nested);
            }
        }
        for log in logs {
            let text = std::fs::read_to_string(&log).expect("a log");
            for found in text.lines().filter_map(|l| line.captures(l)) {
                let order: i64 = found[1].parse().expect("an order id");
                *counts.entry((order, found[2].to_owned())).or_default() += 1;
            }
        }
        counts
    }

    /// A client that reconnects by itself after loms restarts.
    fn client(&self) -> support::clients::Loms {
        let channel = Channel::from_shared(self.loms_grpc.clone())
            .expect("a valid url")
            // the machine is saturated by design in some of these tests: a call may queue for seconds
            .timeout(Duration::from_secs(30))
            .connect_lazy();
        support::clients::Loms::new(channel)
    }

    /// loms's gauge of unsent events, when loms answers.
    async fn pending_events(&self) -> Option<f64> {
        events::pending_events(&self.loms_http).await
    }

    /// Every order loms holds, with its final status, once none awaits payment (ids with gaps: a
    /// create killed mid-transaction leaves its id unused).
    async fn final_statuses(&self, highest_seen: i64) -> Vec<(i64, OrderStatus)> {
        let mut client = self.client();
        let mut orders = Vec::new();
        for id in 1..=highest_seen + 50 {
            let status = loop {
                match client.order_info(OrderInfoRequest { order_id: id }).await {
                    Ok(info) if info.get_ref().status() != OrderStatus::AwaitingPayment => {
                        break Some(info.into_inner().status());
                    }
                    Err(status) if status.code() == Code::NotFound => break None,
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            };
            orders.extend(status.map(|s| (id, s)));
        }
        orders
    }

    /// Every order notified exactly of its changes, in order; and the topic, read with
    /// `read_committed`, holds each change once, each order's in order, no fenced holder's record
    /// after its successor's. Returns how many relay terms published.
    async fn assert_every_order_notified(&self, highest_seen: i64) -> usize {
        let orders = self.final_statuses(highest_seen).await;
        let store = events::notifications(&self.notifier_db).await;
        events::assert_notified(&store, &orders).await;
        let changes: usize = orders
            .iter()
            .map(|&(_, s)| events::changes_to(s).len())
            .sum();
        let records = events::assert_published_once_in_order(&self.topic);
        assert_eq!(records, changes, "each change published once");
        let mut terms = std::collections::BTreeMap::<i64, usize>::new();
        for record in events::committed_records(&self.topic) {
            *terms.entry(record.term).or_default() += 1;
        }
        println!(
            "{} orders notified change by change; {records} records in the topic for {changes} changes, by term of the lease {terms:?}; logs in {}",
            orders.len(),
            self.logs.display()
        );
        terms.len()
    }

    fn finish(mut self) {
        self.loms.kill();
        self.notifier.kill();
        self.loms_db.drop_now();
        self.notifier_db.drop_now();
    }
}

/// Waits until the service whose probes listen at `http` (`host:port`) answers `/readyz` with 200.
async fn ready(http: &str) {
    let url = format!("http://{http}/readyz");
    support::eventually_async(&format!("{url} answers 200"), || async {
        let answer = reqwest::get(&url).await;
        answer.is_ok_and(|a| a.status() == reqwest::StatusCode::OK)
    })
    .await;
}

/// How an order call that did not succeed is taken.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnError {
    /// loms is being killed: try again.
    Retry,
    /// loms is up: an error fails the test.
    Fail,
}

/// Places order `n` and gives it its fate — pay, cancel, leave unpaid (auto-cancel), or fail; returns
/// the order id when loms said it.
async fn order(mut loms: support::clients::Loms, n: i64, on_error: OnError) -> Option<i64> {
    let fail = n % 4 == 3;
    let request = OrderCreateRequest {
        user: 5000 + n,
        items: vec![Item {
            sku: if fail { SOLD_OUT } else { PLENTY },
            count: 1,
        }],
        // the same key on every retry: a create whose answer was lost is not placed twice
        idempotency_key: format!("fault-{n}"),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let retry = |what: String| {
        assert!(on_error == OnError::Retry, "{what}");
        assert!(tokio::time::Instant::now() < deadline, "gave up: {what}");
        tokio::time::sleep(Duration::from_millis(50))
    };
    let order_id = loop {
        match loms.order_create(request.clone()).await {
            Ok(created) => break created.into_inner().order_id,
            Err(status) if status.code() == Code::FailedPrecondition => return None,
            Err(status) => retry(format!("order {n}: {status:?}")).await,
        }
    };
    loop {
        let result = match n % 4 {
            0 => loms.order_pay(OrderPayRequest { order_id }).await.map(drop),
            1 => loms
                .order_cancel(OrderCancelRequest { order_id })
                .await
                .map(drop),
            _ => return Some(order_id),
        };
        match result {
            // paid, cancelled, or lost to the auto-cancel first: either way it is settled
            Ok(()) => return Some(order_id),
            Err(status) if status.code() == Code::FailedPrecondition => return Some(order_id),
            Err(status) => retry(format!("order {order_id}: {status:?}")).await,
        }
    }
}

/// Runs orders `range`, 8 at a time; returns the highest order id loms answered with.
async fn run_orders(
    loms: support::clients::Loms,
    range: std::ops::Range<i64>,
    on_error: OnError,
    done: Arc<AtomicUsize>,
) -> i64 {
    let next = Arc::new(AtomicUsize::new(range.start as usize));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (loms, next, done, end) = (loms.clone(), next.clone(), done.clone(), range.end);
            tokio::spawn(async move {
                let mut highest = 0;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed) as i64;
                    if n >= end {
                        return highest;
                    }
                    if let Some(id) = order(loms.clone(), n, on_error).await {
                        highest = highest.max(id);
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut highest = 0;
    for worker in workers {
        highest = highest.max(worker.await.expect("no panic"));
    }
    highest
}

/// Starts the stack's cluster again when a test fails after stopping a broker or all of them: the
/// fault tests after it, and every pass of `just test` after those, need the whole cluster.
struct RestartClusterIfFailed;

impl Drop for RestartClusterIfFailed {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // not `stack`, which asserts: a panic while panicking would abort the whole run
            let restarted = Command::new("bash")
                .arg(support::processes::root().join("scripts/stack.sh"))
                .arg("kafka")
                .status();
            eprintln!("the test failed; the cluster was started again: {restarted:?}");
        }
    }
}

/// The broker leading the most partitions of `topic`: its node number.
fn busiest_leader(topic: &str) -> i32 {
    let probe: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", events::brokers())
        .create()
        .expect("a client");
    let metadata = probe
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let mut led = std::collections::HashMap::<i32, usize>::new();
    for partition in metadata.topics()[0].partitions() {
        *led.entry(partition.leader()).or_default() += 1;
    }
    led.into_iter()
        .max_by_key(|&(_, count)| count)
        .map(|(leader, _)| leader)
        .expect("a leader")
}

/// 1,200 orders while loms and the notifier are killed with SIGKILL (and restarted) in turn, at
/// least six times in all, and the broker leading the most partitions is killed once (and restarted):
/// every order is notified exactly of its changes, in order.
///
/// Caught with its mechanism removed: a relay taking events out of the outbox as it hands them to the
/// producer rather than once acknowledged (order 127 never notified of its cancellation).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "kills a broker of the shared cluster: run alone by `just test-faults`"]
async fn killed_processes_and_a_killed_leader_lose_and_repeat_nothing() {
    let _restart = RestartClusterIfFailed;
    let mut rig = Rig::start().await;
    let done = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    // Orders keep coming, 200 at a time, until 1,200 are done and the faults below have happened:
    // however fast the machine, every kill hits a running flow.
    let faults_done = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn({
        let (loms, done, finished) = (rig.client(), done.clone(), finished.clone());
        let faults_done = faults_done.clone();
        async move {
            let (mut highest, mut next) = (0, 0);
            while next < 1200 || !faults_done.load(Ordering::Relaxed) {
                let batch = next..next + 200;
                next += 200;
                let done = done.clone();
                highest = highest.max(run_orders(loms.clone(), batch, OnError::Retry, done).await);
            }
            finished.store(true, Ordering::Relaxed);
            highest
        }
    });
    let (mut kills, mut killed_broker) = (0, None);
    while !finished.load(Ordering::Relaxed) {
        faults_done.store(kills >= 6 && killed_broker.is_some(), Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        if killed_broker.is_none() && done.load(Ordering::Relaxed) >= 300 {
            let node = busiest_leader(&rig.topic);
            let pid = stack(&["kafka-pid", &node.to_string()]);
            let killed = Command::new("kill").args(["-9", &pid]).status();
            assert!(killed.expect("kill runs").success(), "broker {node} killed");
            println!("killed broker {node}, the busiest leader, with SIGKILL");
            killed_broker = Some(node);
            continue;
        }
        if finished.load(Ordering::Relaxed) {
            break;
        }
        let victim = if kills % 2 == 0 {
            &mut rig.loms
        } else {
            &mut rig.notifier
        };
        victim.kill();
        tokio::time::sleep(Duration::from_millis(200)).await;
        victim.restart();
        kills += 1;
    }
    let highest = load.await.expect("no panic");
    println!("{kills} processes killed while orders flowed; broker {killed_broker:?} killed");
    // With acks=all (the relay's producer, checked in its unit tests), the brokers acknowledge a write
    // only once this many replicas hold it: losing the killed leader lost no acknowledged event. The
    // stack's own topic is provisioned the same way.
    for topic in [rig.topic.as_str(), "loms.order-events"] {
        assert_eq!(events::min_insync_replicas(topic).await, "2", "{topic}");
    }
    assert!(kills >= 6, "only {kills} kills while orders flowed");
    assert!(killed_broker.is_some(), "the broker was never killed");
    stack(&["kafka"]); // restarts the killed broker; waits until every partition is in sync
    rig.assert_every_order_notified(highest).await;
    rig.finish();
}

/// The whole cluster stops for 10 s while orders flow: the orders still succeed, their events wait in
/// the outbox, and once the cluster is back the outbox drains and every order is notified.
///
/// Caught with its mechanism removed: a relay that gives a failed event up — deliveries timing out
/// after 3 s rather than never, and the failed ones taken out of the outbox like the sent (order 27
/// never notified of its cancellation).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "stops the shared cluster: run alone by `just test-faults`"]
async fn a_cluster_down_for_ten_seconds_delays_events_and_loses_none() {
    let rig = Rig::start().await;
    let done = Arc::new(AtomicUsize::new(0));
    let before = run_orders(rig.client(), 0..100, OnError::Fail, done.clone()).await;

    let _restart = RestartClusterIfFailed;
    stack(&["kafka-down"]);
    let down = tokio::time::Instant::now();
    // kafka-down returns once the brokers' processes are gone; a port still taken belongs to
    // another cluster, which this test must not count as an outage
    for port in [9092, 9093, 9094] {
        let refused = std::net::TcpStream::connect(("127.0.0.1", port)).is_err();
        assert!(
            refused,
            "a broker still answers on {port}: is the cluster this checkout's?"
        );
    }
    let mut during = before;
    let mut next = 100;
    while down.elapsed() < Duration::from_secs(10) {
        let batch = next..next + 40;
        next += 40;
        let highest = run_orders(rig.client(), batch, OnError::Fail, done.clone()).await;
        during = during.max(highest);
    }
    // every order placed meanwhile made at least two changes, none of which could be published
    let unsent = 2.0 * (next - 100) as f64;
    support::eventually_async("the outbox holds the events of the outage", || async {
        rig.pending_events()
            .await
            .is_some_and(|pending| pending >= unsent)
    })
    .await;
    stack(&["kafka"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while rig.pending_events().await != Some(0.0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox never drained"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("{next} orders, {} during the outage", next - 100);
    rig.assert_every_order_notified(during).await;
    rig.finish();
}

/// Two notifiers on one database under steady orders; one is stopped with SIGSTOP for 8 s — past its
/// session, so the group hands its partitions to the other — and continued, five times, while a third
/// member joins and leaves every few seconds. Every `order <id> status <status>` line appears exactly
/// once across all the notifiers' logs, and the lines are exactly the changes the table holds.
///
/// Caught with its mechanism removed: a run stored wherever the partition stood (`claim_run` without
/// its condition): a member stopped with records in hand, continued, stored and logged records its
/// successor had already notified — dozens of lines twice ("order 2513 status new", …). With slower
/// orders (16 every 100 ms) the members were idle when paused and it passed anyway: hence the load.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "runs processes for a minute: run alone by `just test-faults`"]
async fn a_member_paused_past_its_session_or_coming_and_going_notifies_nothing_twice() {
    let rig = Rig::start().await;
    let second = rig.another_notifier("second").await;
    let finished = Arc::new(AtomicBool::new(false));
    let orders = {
        let (client, finished) = (rig.client(), finished.clone());
        tokio::spawn(async move {
            // as fast as 8 callers go: the busier the members, the likelier a pause finds one
            // with records in hand
            let (mut next, mut highest) = (0, 0);
            while !finished.load(Ordering::Relaxed) {
                let done = Arc::new(AtomicUsize::new(0));
                let batch = run_orders(client.clone(), next..next + 64, OnError::Fail, done).await;
                highest = highest.max(batch);
                next += 64;
            }
            highest
        })
    };
    let third = {
        let (mut third, finished) = (rig.another_notifier("third").await, finished.clone());
        tokio::spawn(async move {
            while !finished.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(3)).await;
                third.terminate();
                tokio::time::sleep(Duration::from_secs(2)).await;
                third.restart();
            }
            third.terminate();
        })
    };
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        rig.notifier.signal("STOP");
        tokio::time::sleep(Duration::from_secs(8)).await;
        rig.notifier.signal("CONT");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    finished.store(true, Ordering::Relaxed);
    let highest = orders.await.expect("no panic");
    third.await.expect("no panic");

    rig.assert_every_order_notified(highest).await;
    let expected: std::collections::HashSet<(i64, String)> = rig
        .final_statuses(highest)
        .await
        .into_iter()
        .flat_map(|(id, status)| {
            events::changes_to(status)
                .into_iter()
                .map(move |change| (id, change.course_name().to_owned()))
        })
        .collect();
    // the last lines may still be on their way to the logs
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let lines = loop {
        let lines = rig.notification_lines();
        if lines.len() >= expected.len() || tokio::time::Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let twice: Vec<_> = lines.iter().filter(|(_, count)| **count > 1).collect();
    assert!(twice.is_empty(), "logged more than once: {twice:?}");
    let logged: std::collections::HashSet<_> = lines.into_keys().collect();
    assert_eq!(logged, expected, "the lines are the table's changes");
    println!(
        "{} changes notified once each; logs in {}",
        expected.len(),
        rig.logs.display()
    );
    drop(second);
    rig.finish();
}

/// loms in memory (the default storage) with the cluster down and a small outbox: the change past its
/// limit is refused with `UNAVAILABLE` ("order events backlog full") and nothing of it is kept; once
/// the cluster is back the backlog drains and changes are accepted again.
///
/// Caught with its mechanism removed: an outbox without a limit (the sixth order was accepted, its
/// events piling up in memory).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "stops the shared cluster: run alone by `just test-faults`"]
async fn a_memory_loms_refuses_changes_past_its_backlog_until_the_cluster_is_back() {
    let topic = events::fresh_topic().await;
    let any_port = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let config = loms::Config {
        grpc_addr: any_port,
        http_addr: any_port,
        events: Some(loms::config::Events {
            brokers: events::brokers(),
            topic: topic.clone(),
            relay: loms::relay::RelaySettings {
                poll: Duration::from_millis(20),
                batch: 500,
                lease_ttl: Duration::from_secs(30),
                ..loms::relay::RelaySettings::default()
            },
        }),
        outbox_max_pending: 10,
        authentication: support::auth::authentication(),
        ..loms::Config::default()
    };
    let server = loms::app::build(config).await.expect("loms starts");
    let (grpc, http) = (
        server.local_addr(),
        server.http_addr().expect("an http port"),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(server.run_until(async move {
        let _ = stopped.clone().wait_for(|stop| *stop).await;
    }));
    let mut loms = support::clients::Loms::new(support::channel(grpc).await);
    let create = || OrderCreateRequest {
        user: 1,
        items: vec![Item {
            sku: PLENTY,
            count: 1,
        }],
        idempotency_key: String::new(),
    };
    let first = loms.order_create(create()).await.expect("created");
    let first = first.into_inner().order_id;
    let http = http.to_string();
    // the gauge reads 0 before its first reading: the topic says when both events are out
    support::eventually_async("the first order's events published", || async {
        events::records_in(&topic) == 2
    })
    .await;

    let _restart = RestartClusterIfFailed;
    stack(&["kafka-down"]);
    // two events per order: five fill the outbox's ten places
    for n in 0..5 {
        let created = loms.order_create(create()).await;
        assert!(
            created.is_ok(),
            "order {n} with the cluster down: {created:?}"
        );
    }
    let refused = loms
        .order_create(create())
        .await
        .expect_err("past the limit");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(
        refused.message().contains("order events backlog full"),
        "{refused:?}"
    );
    let pay = loms.order_pay(OrderPayRequest { order_id: first }).await;
    assert_eq!(pay.map(drop).map_err(|s| s.code()), Err(Code::Unavailable));
    let info = loms.order_info(OrderInfoRequest { order_id: first }).await;
    let status = info.expect("reads are not refused").into_inner().status();
    assert_eq!(
        status,
        OrderStatus::AwaitingPayment,
        "the refused pay changed nothing"
    );
    support::eventually_async("the gauge shows the ten events waiting", || async {
        events::pending_events(&http).await == Some(10.0)
    })
    .await;

    stack(&["kafka"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while events::pending_events(&http).await != Some(0.0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the backlog never drained"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    loms.order_pay(OrderPayRequest { order_id: first })
        .await
        .expect("accepted again");
    loms.order_create(create()).await.expect("accepted again");
    stop.send_replace(true);
    running
        .await
        .expect("no panic")
        .expect("loms stops cleanly");
}

/// Whether the loms replica answering `/metrics` at `http` holds the relay's lease.
async fn holds_lease(http: &str) -> bool {
    let Ok(answer) = reqwest::get(format!("http://{http}/metrics")).await else {
        return false;
    };
    let text = answer.text().await.unwrap_or_default();
    text.lines().any(|line| line == "loms_relay_lease_held 1")
}

/// A metric's value (summed over its labels) on the `/metrics` of `http`.
async fn metric(http: &str, name: &str) -> f64 {
    let Ok(answer) = reqwest::get(format!("http://{http}/metrics")).await else {
        return 0.0;
    };
    let text = answer.text().await.unwrap_or_default();
    text.lines()
        .filter(|line| line.starts_with(name))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Two loms replicas on one database, each with a lease of 1 s, under orders placed through both: the
/// replica holding the lease is stopped with SIGSTOP for 3 s — its successor takes over after 1 s — and
/// continued, five times. Read with `read_committed`, the topic then holds every change once, in each
/// partition no record of a paused holder's term after its successor's first record, and each order's
/// statuses in topic order are its path; every order is notified exactly of its changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "runs processes for half a minute: run alone by `just test-faults`"]
async fn a_holder_paused_past_its_lease_is_fenced_and_publishes_nothing_twice() {
    let rig = Rig::start().await;
    let (mut second, second_grpc, second_http) = rig.another_loms("second").await;
    let second_client = support::clients::Loms::new(
        Channel::from_shared(second_grpc)
            .expect("a valid url")
            .timeout(Duration::from_secs(10))
            .connect_lazy(),
    );
    let finished = Arc::new(AtomicBool::new(false));
    // half the callers on each replica: events keep coming while either is stopped
    let load = |client: support::clients::Loms, first: i64| {
        let finished = finished.clone();
        tokio::spawn(async move {
            let (mut next, mut highest) = (first, 0);
            while !finished.load(Ordering::Relaxed) {
                let done = Arc::new(AtomicUsize::new(0));
                let batch = next..next + 32;
                highest =
                    highest.max(run_orders(client.clone(), batch, OnError::Retry, done).await);
                next += 64;
            }
            highest
        })
    };
    let loads = [load(rig.client(), 0), load(second_client, 32)];
    let https = [rig.loms_http.clone(), second_http.clone()];
    for round in 0..5 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let holder = loop {
            let held = [holds_lease(&https[0]).await, holds_lease(&https[1]).await];
            if held[0] != held[1] {
                break usize::from(held[1]);
            }
            assert!(tokio::time::Instant::now() < deadline, "no single holder");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let paused = if holder == 0 { &rig.loms } else { &second };
        paused.signal("STOP");
        tokio::time::sleep(Duration::from_secs(3)).await;
        paused.signal("CONT");
        println!("round {round}: replica {holder}, the holder, paused for 3 s");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    finished.store(true, Ordering::Relaxed);
    let mut highest = 0;
    for load in loads {
        highest = highest.max(load.await.expect("no panic"));
    }
    let fenced = metric(&https[0], "loms_relay_fenced_total").await
        + metric(&https[1], "loms_relay_fenced_total").await;
    let fenced = fenced as u64;
    let terms = rig.assert_every_order_notified(highest).await;
    assert!(
        terms > 5,
        "every pause handed the lease over: {terms} terms published"
    );
    println!("producers fenced: {fenced}");
    second.kill();
    rig.finish();
}

/// loms with batches of 50,000 events and a lease of 60 s takes the lease while the cluster is up, is
/// stopped (SIGSTOP) while a second replica places 6,000 orders (over 12,000 events; the producer's
/// queue holds 10,000), then all three brokers are killed with
/// SIGKILL and loms is continued: its next transaction fills the producer's queue and waits for room.
/// SIGTERM then ends it within its drain timeout (5 s), exit 0; once the cluster is back a new loms
/// drains the outbox and every change is notified, and published, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "kills the shared cluster: run alone by `just test-faults`"]
async fn sigterm_in_an_outage_with_a_full_producer_queue_ends_within_the_drain_timeout() {
    let _restart = RestartClusterIfFailed;
    let mut rig = Rig::start_with(&[
        ("LOMS_RELAY_BATCH", "50000"),
        ("LOMS_RELAY_LEASE_TTL_MS", "60000"),
        ("SHUTDOWN_DRAIN_TIMEOUT_MS", "5000"),
    ])
    .await;
    let done = Arc::new(AtomicUsize::new(0));
    let first = run_orders(rig.client(), 0..8, OnError::Fail, done.clone()).await;
    support::eventually_async("the first orders' events published", || async {
        rig.pending_events().await == Some(0.0) && events::records_in(&rig.topic) > 0
    })
    .await;
    // the events pile up in the outbox while the holder is stopped; the second replica, which cannot
    // take the lease (60 s), places the orders
    rig.loms.signal("STOP");
    let (mut second, second_grpc, _) = rig.another_loms("second").await;
    let second_client = support::clients::Loms::new(
        Channel::from_shared(second_grpc)
            .expect("a valid url")
            .timeout(Duration::from_secs(10))
            .connect_lazy(),
    );
    let mut placed = first;
    for start in (8..6_008).step_by(1_000) {
        let batch = start..start + 1_000;
        placed =
            placed.max(run_orders(second_client.clone(), batch, OnError::Fail, done.clone()).await);
    }
    second.terminate();
    for node in 1..=3 {
        let pid = stack(&["kafka-pid", &node.to_string()]);
        let killed = Command::new("kill").args(["-9", &pid]).status();
        assert!(killed.expect("kill runs").success(), "broker {node} killed");
    }
    for port in [9092, 9093, 9094] {
        support::eventually("the broker's port closed", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        })
        .await;
    }
    rig.loms.signal("CONT");
    let log = rig.logs.join("loms.log");
    support::eventually("loms waits for room in the producer's queue", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains("the producer's queue is full; waiting for room")
    })
    .await;
    let stopping = std::time::Instant::now();
    let status = tokio::task::block_in_place(|| rig.loms.terminate());
    let took = stopping.elapsed();
    assert!(
        status.success(),
        "loms exited {status} after SIGTERM (logs in {})",
        rig.logs.display()
    );
    assert!(took < Duration::from_secs(6), "loms took {took:?} to stop");
    println!("loms stopped {took:?} after SIGTERM, the cluster down and the producer's queue full");

    stack(&["kafka"]);
    rig.loms.restart();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while rig.pending_events().await != Some(0.0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox never drained"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    rig.assert_every_order_notified(placed).await;
    rig.finish();
}
