//! Records no notifier can ever store, and a partition the database holds up, on the real 3-broker
//! cluster with loms and the notifier on PostgreSQL: poison records go to `dead_letters` and block
//! nothing; a partition that cannot be stored for a while turns `/readyz` 503, naming it, and 200 once
//! it passes. Needs `just stack-up`.
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use notifier::adapters::suite::TestStore;
use notifier::adapters::testing::RecordWriter;
use notifier::domain::Status;
use route256_proto::events::CONTENT_TYPE;
use route256_proto::loms::{Item, OrderCreateRequest, OrderPayRequest, OrderStatusChanged};
use storage::testing::TestDatabase;
use support::events::{self, Running};
use support::SMITH;

/// Writes records as a hostile (or broken) producer would.
struct Producer(RecordWriter);

impl Producer {
    fn new(topic: &str) -> Self {
        Self(RecordWriter::new(topic))
    }

    /// Publishes `event` as loms would (framed by the contract, but not validated: the point is to
    /// send what loms never would).
    async fn event(&self, key: &str, event: &OrderStatusChanged) -> i32 {
        let value = prost::Message::encode_to_vec(event);
        self.0.send(key, &value, Some(CONTENT_TYPE)).await
    }
}

/// A valid event of order `order_id` (event number `n`).
fn event(n: u64, order_id: i64) -> OrderStatusChanged {
    OrderStatusChanged {
        event_id: format!("00000000-0000-4000-8000-{n:012}"),
        order_id,
        status: Status::New.into(),
        moment: Some(SystemTime::now().into()),
        request_id: "poison-test".into(),
    }
}

async fn readyz(notifier: &Running) -> (reqwest::StatusCode, String) {
    let answer = reqwest::get(format!("http://{}/readyz", notifier.addr))
        .await
        .expect("the probe port answers");
    let status = answer.status();
    (status, answer.text().await.unwrap_or_default())
}

/// An order the database refuses for its data: a constraint added for the test refuses it, as a
/// later migration stricter than the contract would.
const REFUSED_ORDER: i64 = 777_777;

/// Real orders, and between them records no notifier can ever store: garbage bytes, an event breaking
/// the contract (a moment past year 9999), one keyed to another order, an unknown status, one without
/// the contract's content type, and a valid event the database refuses. Every real order is notified
/// change by change, each poison record is in `dead_letters` with its reason, and `/readyz` stays 200.
///
/// Caught with its mechanism removed: the refusal retried like a failure that may pass (the notifier
/// never moved past it: order 1, on the partition of a refused record, never notified).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn poison_records_go_to_the_dead_letters_and_hold_back_no_order() {
    let topic = events::fresh_topic().await;
    let (loms_db, notifier_db) = (
        TestDatabase::create("loms", "127.0.0.1:6433"),
        TestDatabase::create("notifier", "127.0.0.1:6434"),
    );
    let loms = events::start_loms(&loms_db, &topic, Duration::from_secs(600)).await;
    let notifier = events::start_notifier_stalling(
        &notifier_db,
        &topic,
        Duration::from_secs(3),
        Duration::from_secs(5),
    )
    .await;
    let store = events::notifications(&notifier_db).await;
    assert!(store.refuse_order(REFUSED_ORDER).await);
    let poison = Producer::new(&topic);
    let mut loms_client = support::clients::Loms::new(support::channel(loms.addr).await);

    let mut expected = Vec::new();
    let mut reasons = Vec::new();
    for n in 0..24_u64 {
        let request = OrderCreateRequest {
            user: 1,
            items: vec![Item {
                sku: SMITH,
                count: 1,
            }],
            idempotency_key: String::new(),
        };
        let order_id = loms_client
            .order_create(request)
            .await
            .expect("created")
            .into_inner()
            .order_id;
        let status = if n % 2 == 0 {
            let paid = loms_client.order_pay(OrderPayRequest { order_id }).await;
            paid.expect("paid");
            route256_proto::loms::OrderStatus::Payed
        } else {
            route256_proto::loms::OrderStatus::AwaitingPayment
        };
        expected.push((order_id, status));
        let key = order_id.to_string();
        let reason = match n % 6 {
            0 => {
                poison
                    .0
                    .send(&key, b"\xff\xfe not an event", Some(CONTENT_TYPE))
                    .await;
                "undecodable"
            }
            1 => {
                let mut past_9999 = event(n, order_id);
                past_9999.moment = Some(prost_types::Timestamp {
                    seconds: 253_402_300_800,
                    nanos: 0,
                });
                poison.event(&key, &past_9999).await;
                "invalid"
            }
            2 => {
                poison.event(&key, &event(n, order_id + 1)).await;
                "key"
            }
            3 => {
                let unknown = OrderStatusChanged {
                    status: 9,
                    ..event(n, order_id)
                };
                poison.event(&key, &unknown).await;
                "invalid"
            }
            4 => {
                let value = prost::Message::encode_to_vec(&event(n, order_id));
                poison.0.send(&key, &value, Some("application/json")).await;
                "content_type"
            }
            _ => {
                let refused = event(n, REFUSED_ORDER);
                poison.event(&REFUSED_ORDER.to_string(), &refused).await;
                "refused"
            }
        };
        reasons.push(reason);
    }

    events::assert_notified(&store, &expected).await;
    support::eventually_async("every poison record in dead_letters", || async {
        store.dead_letters(&topic).await.len() >= reasons.len()
    })
    .await;
    let kept = store.dead_letters(&topic).await;
    let count = |reasons: &mut dyn Iterator<Item = String>| {
        let mut counts = BTreeMap::new();
        for reason in reasons {
            *counts.entry(reason).or_insert(0) += 1;
        }
        counts
    };
    assert_eq!(
        count(&mut kept.iter().map(|(_, _, reason)| reason.clone())),
        count(&mut reasons.iter().map(|reason| (*reason).to_owned())),
        "{kept:?}"
    );
    assert_eq!(store.notified_statuses(REFUSED_ORDER).await, vec![]);
    let (status, why) = readyz(&notifier).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{why}");

    notifier.stop().await;
    loms.stop().await;
    loms_db.drop_now();
    notifier_db.drop_now();
}

/// A partition whose offset row another session holds locked cannot be stored (each attempt times
/// out: a failure that may pass). Past the stall limit `/readyz` answers 503 naming that partition;
/// once the lock goes, the records are stored, notified once, and `/readyz` is 200 again.
///
/// Caught with its mechanism removed: a stall check that never fails (`/readyz` went 503 only once the
/// pool's connections were all stuck behind the lock, saying "database: no answer", never which
/// partition).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_partition_the_database_holds_up_is_named_by_readyz_until_it_passes() {
    let topic = events::fresh_topic().await;
    let notifier_db = TestDatabase::create("notifier", "127.0.0.1:6434");
    let notifier = events::start_notifier_stalling(
        &notifier_db,
        &topic,
        Duration::from_secs(2),
        Duration::from_millis(500),
    )
    .await;
    let store = events::notifications(&notifier_db).await;
    let producer = Producer::new(&topic);
    // a first event gives its partition an offset row
    let partition = producer.event("1", &event(1, 1)).await;
    support::eventually_async("the first event notified", || async {
        store.notified_statuses(1).await == vec![Status::New]
    })
    .await;

    let (locker, connection) =
        tokio_postgres::connect(&notifier_db.settings().url, tokio_postgres::NoTls)
            .await
            .expect("a session of its own");
    let session = tokio::spawn(connection);
    locker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM consumer_offsets WHERE topic = '{topic}' AND partition = {partition} FOR UPDATE"
        ))
        .await
        .expect("the partition's row locked");
    // another event of the same order: the same partition
    producer
        .event(
            "1",
            &OrderStatusChanged {
                status: Status::AwaitingPayment.into(),
                ..event(2, 1)
            },
        )
        .await;
    // Until the stall limit passes, /readyz may also be 503 for the database: a store that timed out
    // gives its connection back still waiting behind the lock, and the readiness ping may draw it
    // (more likely with other tests' load beside this one). Once the limit has passed, the stall is
    // checked first and named.
    let named = format!("{topic}/{partition} ");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, why) = readyz(&notifier).await;
        if status == reqwest::StatusCode::SERVICE_UNAVAILABLE && why.contains(&named) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the held partition never named by /readyz; last: {status} {why}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(store.notified_statuses(1).await, vec![Status::New]);

    locker.batch_execute("ROLLBACK").await.expect("released");
    support::eventually_async("the held event notified once it passed", || async {
        store.notified_statuses(1).await == vec![Status::New, Status::AwaitingPayment]
    })
    .await;
    support::eventually_async("ready again", || async {
        readyz(&notifier).await.0 == reqwest::StatusCode::OK
    })
    .await;
    drop(locker);
    let _ = session.await;
    notifier.stop().await;
    notifier_db.drop_now();
}
