//! Order-status events end to end on the real 3-broker Kafka cluster: loms writes each change with its
//! event, the relay publishes it, the notifier notifies it once. Needs `just stack-up`.
mod support;

use std::time::Duration;

use route256_proto::loms::{
    Item, OrderCancelRequest, OrderCreateRequest, OrderInfoRequest, OrderPayRequest, OrderStatus,
};
use storage::testing::TestDatabase;
use support::events::{self, Running};
use support::{SMITH, SOLD_OUT};

/// Orders left unpaid are cancelled by loms after this: long enough for a loaded machine to pay the
/// others first (a payment that loses to it anyway is fine: the final status decides what is expected).
const UNPAID_TTL: Duration = Duration::from_secs(10);

/// What the test does with an order after creating it.
#[derive(Clone, Copy, Debug)]
enum Fate {
    Pay,
    Cancel,
    /// Left unpaid for the auto-cancel.
    Abandon,
    /// Ordered beyond the stock: it fails.
    Fail,
}

impl Fate {
    fn of(n: i64) -> Self {
        [Self::Pay, Self::Cancel, Self::Abandon, Self::Fail][(n % 4) as usize]
    }
}

/// Creates order `n` through `via` and gives it its fate through `then`; returns its id.
async fn order(n: i64, via: &mut support::clients::Loms, then: &mut support::clients::Loms) -> i64 {
    let fate = Fate::of(n);
    let sku = if matches!(fate, Fate::Fail) {
        SOLD_OUT
    } else {
        SMITH
    };
    let request = OrderCreateRequest {
        user: 1000 + n,
        items: vec![Item { sku, count: 1 }],
        idempotency_key: String::new(),
    };
    let order_id = match via.order_create(request).await {
        Ok(created) => created.into_inner().order_id,
        Err(status) if matches!(fate, Fate::Fail) => {
            // the failed order's id is in the message; it is read back from the store below
            assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
            return -1;
        }
        Err(status) => panic!("order {n}: {status:?}"),
    };
    let settled = match fate {
        Fate::Pay => then.order_pay(OrderPayRequest { order_id }).await.map(drop),
        Fate::Cancel => then
            .order_cancel(OrderCancelRequest { order_id })
            .await
            .map(drop),
        Fate::Abandon | Fate::Fail => Ok(()),
    };
    match settled {
        Ok(()) => {}
        // on a slow machine the auto-cancel may come first: the order's final status says which won
        Err(status) if status.code() == tonic::Code::FailedPrecondition => {}
        Err(status) => panic!("order {order_id}: {status:?}"),
    }
    order_id
}

/// Every order loms holds with an id up to `count` — ids may have gaps (a rolled-back transaction
/// uses one) — with its final status, once none awaits payment any more.
async fn final_statuses(loms: &mut support::clients::Loms, count: i64) -> Vec<(i64, OrderStatus)> {
    let mut orders = Vec::new();
    for id in 1..=count {
        let status = loop {
            match loms.order_info(OrderInfoRequest { order_id: id }).await {
                Ok(info) if info.get_ref().status() != OrderStatus::AwaitingPayment => {
                    break Some(info.into_inner().status());
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(status) if status.code() == tonic::Code::NotFound => break None,
                Err(status) => panic!("order {id}: {status:?}"),
            }
        };
        orders.extend(status.map(|s| (id, s)));
    }
    orders
}

async fn client(loms: &Running) -> support::clients::Loms {
    support::clients::Loms::new(support::channel(loms.addr).await)
}

/// A few connections to `loms`, which the test's callers share as a real client's would: one
/// connection per call made the test hold over a thousand sockets at once, and near the open-file
/// limit calls failed with reset connections.
async fn clients(loms: &Running) -> Vec<support::clients::Loms> {
    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(client(loms).await);
    }
    clients
}

/// 300 orders go through every change — created, failed, paid, cancelled, auto-cancelled — and each
/// order's notifications are exactly its changes, in order, each once.
///
/// Caught with its mechanism removed: a cancellation written without its event (order 4 notified
/// without `cancelled`); records partitioned at random rather than by their key, the order id (order
/// 13 notified `awaiting payment` before `new`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_hundred_orders_are_notified_change_by_change() {
    let topic = events::fresh_topic().await;
    let (loms_db, notifier_db) = (
        TestDatabase::create("loms", "127.0.0.1:6433"),
        TestDatabase::create("notifier", "127.0.0.1:6434"),
    );
    let loms = events::start_loms(&loms_db, &topic, UNPAID_TTL).await;
    let notifier = events::start_notifier(&notifier_db, &topic, &topic).await;

    let shared = clients(&loms).await;
    let calls: Vec<_> = (0..300)
        .map(|n| {
            let mut client = shared[n as usize % shared.len()].clone();
            let mut same = client.clone();
            tokio::spawn(async move { order(n, &mut client, &mut same).await })
        })
        .collect();
    for call in calls {
        call.await.expect("no panic");
    }
    let orders = final_statuses(&mut client(&loms).await, 300).await;
    for status in [
        OrderStatus::Payed,
        OrderStatus::Cancelled,
        OrderStatus::Failed,
    ] {
        assert!(
            orders.iter().any(|&(_, s)| s == status),
            "no order ended {status:?}"
        );
    }
    let store = events::notifications(&notifier_db).await;
    events::assert_notified(&store, &orders).await;
    let changes: usize = orders
        .iter()
        .map(|&(_, s)| events::changes_to(s).len())
        .sum();
    assert_eq!(
        events::assert_published_once_in_order(&topic),
        changes,
        "one record per change"
    );

    notifier.stop().await;
    loms.stop().await;
    loms_db.drop_now();
    notifier_db.drop_now();
}

/// Two loms replicas on one database (two relays) and two notifiers in one group: orders are created
/// through one replica and paid or cancelled through the other, and still every order's notifications
/// are its changes in order — and, with one relay holding the lease, each change is published once.
///
/// Caught with its mechanism removed: a lease every replica takes at once (1,042 records on the topic
/// for 550 changes).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relays_and_two_notifiers_keep_each_orders_order() {
    let topic = events::fresh_topic().await;
    let (loms_db, notifier_db) = (
        TestDatabase::create("loms", "127.0.0.1:6433"),
        TestDatabase::create("notifier", "127.0.0.1:6434"),
    );
    let replicas = [
        events::start_loms(&loms_db, &topic, UNPAID_TTL).await,
        events::start_loms(&loms_db, &topic, UNPAID_TTL).await,
    ];
    let notifiers = [
        events::start_notifier(&notifier_db, &topic, &topic).await,
        events::start_notifier(&notifier_db, &topic, &topic).await,
    ];
    let shared = [clients(&replicas[0]).await, clients(&replicas[1]).await];
    let calls: Vec<_> = (0..200)
        .map(|n| {
            let pick = |replica: i64| shared[(replica % 2) as usize][n as usize % 8].clone();
            let (mut via, mut then) = (pick(n), pick(n + 1));
            tokio::spawn(async move { order(n, &mut via, &mut then).await })
        })
        .collect();
    for call in calls {
        call.await.expect("no panic");
    }
    let orders = final_statuses(&mut client(&replicas[0]).await, 200).await;
    let store = events::notifications(&notifier_db).await;
    events::assert_notified(&store, &orders).await;
    let changes: usize = orders
        .iter()
        .map(|&(_, s)| events::changes_to(s).len())
        .sum();
    assert_eq!(
        events::assert_published_once_in_order(&topic),
        changes,
        "one relay at a time: nothing published twice"
    );

    for service in notifiers.into_iter().chain(replicas) {
        service.stop().await;
    }
    loms_db.drop_now();
    notifier_db.drop_now();
}
