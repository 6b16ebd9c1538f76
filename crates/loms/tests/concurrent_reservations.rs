//! Many orders racing for the same stock: no oversell, no half-reservation, the invariant holds throughout.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use loms::adapters::memory::MemoryStore;
use loms::domain::{Actor, Item, OrderStatus, RequestId, Sku, Stock, UserId};
use loms::service::{Loms, LomsError};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_orders_for_one_hundred_units() {
    let sku = Sku::try_from(42).expect("positive");
    let store = Arc::new(MemoryStore::with_stock([(
        sku,
        Stock::new(100, 0).expect("valid"),
    )]));
    let loms = Loms::new(store.clone(), store.clone());

    // Watches the stock while the orders race, and remembers any breach of 0 ≤ reserved ≤ total.
    let done = Arc::new(AtomicBool::new(false));
    let observer = tokio::spawn({
        let (store, done) = (store.clone(), done.clone());
        async move {
            let mut observations = 0u64;
            let mut last_reserved = 0;
            while !done.load(Ordering::Acquire) {
                let stock = store.stock(sku).expect("stocked");
                assert!(
                    stock.reserved() <= stock.total(),
                    "reserved above total: {stock:?}"
                );
                assert!(
                    stock.reserved() >= last_reserved,
                    "a reservation was undone: {stock:?}"
                );
                last_reserved = stock.reserved();
                observations += 1;
                tokio::task::yield_now().await;
            }
            observations
        }
    });

    let orders: Vec<_> = (1..=200)
        .map(|user| {
            let loms = loms.clone();
            tokio::spawn(async move {
                let user = UserId::try_from(user).expect("positive");
                let request_id = RequestId::fresh("test");
                loms.create_order(user, [Item::new(42, 1).expect("valid")], None, request_id)
                    .await
            })
        })
        .collect();
    let mut created = Vec::new();
    let mut failed = Vec::new();
    for order in orders {
        match order.await.expect("task completes") {
            Ok(id) => created.push(id),
            Err(LomsError::InsufficientStock { order_id, .. }) => failed.push(order_id),
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    done.store(true, Ordering::Release);
    let observations = observer.await.expect("invariant held throughout");
    assert!(observations > 0);

    assert_eq!((created.len(), failed.len()), (100, 100));
    for id in &created {
        let order = loms.order_info(*id, Actor::Anyone).await.expect("stored");
        assert_eq!(order.status, OrderStatus::AwaitingPayment);
    }
    for id in &failed {
        let order = loms
            .order_info(*id, Actor::Anyone)
            .await
            .expect("failed orders are kept");
        assert_eq!(order.status, OrderStatus::Failed);
    }
    assert_eq!(store.stock(sku), Stock::new(100, 100).ok());
    assert_eq!(loms.stocks_info(sku).await.ok(), Some(0));
}
