use super::*;
use crate::ports::{MockOrderRepo, MockStockRepo, StaleBatch};
use mockall::predicate::eq;

fn id(n: i64) -> OrderId {
    OrderId::try_from(n).expect("positive")
}
fn user() -> UserId {
    UserId::try_from(7).expect("positive")
}
fn sku(n: u32) -> Sku {
    Sku::try_from(n).expect("positive")
}
fn item(s: u32, count: u32) -> Item {
    Item::new(s, count).expect("valid")
}

fn loms(orders: MockOrderRepo, stocks: MockStockRepo) -> Loms {
    Loms::new(Arc::new(orders), Arc::new(stocks))
}

fn with_orders(orders: MockOrderRepo) -> Loms {
    loms(orders, MockStockRepo::new())
}

fn rid() -> RequestId {
    RequestId::parse("req-1").expect("valid")
}

fn key(k: &str) -> Option<IdempotencyKey> {
    IdempotencyKey::parse(k).expect("valid")
}

fn stored(order_id: i64, items: &[(u32, u32)], status: OrderStatus, k: &str) -> Order {
    Order {
        id: id(order_id),
        user: user(),
        status,
        items: OrderItems::new(items.iter().map(|&(s, c)| item(s, c))).expect("valid"),
        idempotency_key: key(k),
    }
}

#[tokio::test]
async fn create_order_places_merged_items_with_the_key() {
    let mut orders = MockOrderRepo::new();
    let expected = NewOrder {
        user: user(),
        items: OrderItems::new([item(1, 3), item(2, 1)]).expect("valid"),
        idempotency_key: key("k1"),
        request_id: rid(),
    };
    orders
        .expect_place()
        .with(eq(expected))
        .times(1)
        .returning(|_| {
            Ok(Placement::Created {
                order_id: id(10),
                reservation: Reservation::Reserved,
            })
        });
    let created = with_orders(orders)
        .create_order(
            user(),
            [item(2, 1), item(1, 1), item(1, 2)],
            key("k1"),
            rid(),
        )
        .await;
    assert_eq!(created.ok(), Some(id(10)));
}

#[tokio::test]
async fn create_order_reports_failed_reservation_as_insufficient_stock() {
    let mut orders = MockOrderRepo::new();
    orders.expect_place().returning(|_| {
        Ok(Placement::Created {
            order_id: id(11),
            reservation: Reservation::Failed { sku: sku(5) },
        })
    });
    let error = with_orders(orders)
        .create_order(user(), [item(5, 1)], None, rid())
        .await
        .expect_err("short");
    assert!(matches!(
        error,
        LomsError::InsufficientStock { order_id, sku: s } if order_id == id(11) && s == sku(5)
    ));
}

#[tokio::test]
async fn a_repeated_key_answers_with_the_first_order() {
    let mut orders = MockOrderRepo::new();
    orders.expect_place().returning(|_| {
        Ok(Placement::Existing(stored(
            12,
            &[(5, 2)],
            OrderStatus::Payed,
            "k",
        )))
    });
    let loms = with_orders(orders);
    let again = loms
        .create_order(user(), [item(5, 1), item(5, 1)], key("k"), rid())
        .await;
    assert_eq!(again.ok(), Some(id(12)), "same items after merging");
    let other = loms
        .create_order(user(), [item(5, 3)], key("k"), rid())
        .await;
    assert!(matches!(
        other,
        Err(LomsError::KeyReused { order_id, .. }) if order_id == id(12)
    ));
}

#[tokio::test]
async fn a_store_that_answers_an_order_without_a_key_with_another_order_is_a_storage_failure() {
    let mut orders = MockOrderRepo::new();
    orders.expect_place().returning(|_| {
        Ok(Placement::Existing(stored(
            12,
            &[(5, 2)],
            OrderStatus::New,
            "",
        )))
    });
    let error = with_orders(orders)
        .create_order(user(), [item(5, 3)], None, rid())
        .await
        .expect_err("no key: nothing can exist already");
    assert!(
        matches!(&error, LomsError::Storage(e) if e.to_string().contains("without a key")),
        "{error:?}"
    );
}

#[test]
fn an_id_that_is_not_positive_is_an_invalid_order() {
    let error = LomsError::from(OrderId::try_from(0).expect_err("not positive"));
    assert!(matches!(
        error,
        LomsError::InvalidOrder(InvalidOrder::NotPositive(_))
    ));
}

#[tokio::test]
async fn create_order_without_items_stores_nothing() {
    let error = with_orders(MockOrderRepo::new())
        .create_order(user(), [], None, rid())
        .await
        .expect_err("empty");
    assert!(matches!(
        error,
        LomsError::InvalidOrder(InvalidOrder::NoItems)
    ));
}

#[tokio::test]
async fn create_order_over_65535_units_of_a_sku_stores_nothing() {
    let error = with_orders(MockOrderRepo::new())
        .create_order(user(), [item(5, 65535), item(5, 1)], None, rid())
        .await
        .expect_err("too many");
    assert!(matches!(
        error,
        LomsError::InvalidOrder(InvalidOrder::TooManyUnits(s)) if s == sku(5)
    ));
}

#[tokio::test]
async fn create_order_passes_storage_failures_on() {
    let mut orders = MockOrderRepo::new();
    orders
        .expect_place()
        .returning(|_| Err(RepoError::msg("down")));
    let error = with_orders(orders)
        .create_order(user(), [item(1, 1)], None, rid())
        .await
        .expect_err("storage down");
    assert!(matches!(error, LomsError::Storage(_)));
}

#[tokio::test]
async fn order_info_reads_the_order_or_not_found() {
    let order = stored(3, &[(1, 1)], OrderStatus::Payed, "");
    let stored = order.clone();
    let mut orders = MockOrderRepo::new();
    orders
        .expect_get()
        .with(eq(id(3)))
        .returning(move |_| Ok(Some(stored.clone())));
    orders.expect_get().with(eq(id(4))).returning(|_| Ok(None));
    let loms = with_orders(orders);
    assert_eq!(
        loms.order_info(id(3), Actor::Anyone).await.ok(),
        Some(order)
    );
    assert!(matches!(
        loms.order_info(id(4), Actor::Anyone).await,
        Err(LomsError::OrderNotFound(n)) if n == id(4)
    ));
}

async fn transition_with(
    transition: Transition,
    outcome: TransitionOutcome,
) -> Result<(), LomsError> {
    let mut orders = MockOrderRepo::new();
    orders
        .expect_transition()
        .with(eq(id(1)), eq(transition), eq(rid()))
        .times(1)
        .returning(move |_, _, _| Ok(outcome));
    let loms = with_orders(orders);
    match transition {
        Transition::Pay => loms.pay_order(id(1), Actor::Anyone, rid()).await,
        Transition::Cancel => loms.cancel_order(id(1), Actor::Anyone, rid()).await,
    }
}

fn as_user(n: i64, support: bool) -> Actor {
    Actor::User {
        id: UserId::try_from(n).expect("positive"),
        support,
    }
}

/// Orders of `user()` (7): order 3 exists, order 4 does not.
fn one_order(orders: &mut MockOrderRepo) {
    let order = stored(3, &[(1, 1)], OrderStatus::AwaitingPayment, "");
    orders
        .expect_get()
        .with(eq(id(3)))
        .returning(move |_| Ok(Some(order.clone())));
    orders.expect_get().with(eq(id(4))).returning(|_| Ok(None));
}

#[tokio::test]
async fn another_users_order_is_not_found_unless_support_reads_it() {
    let mut orders = MockOrderRepo::new();
    one_order(&mut orders);
    let loms = with_orders(orders);
    let not_found = |result: Result<Order, LomsError>| matches!(result, Err(LomsError::OrderNotFound(n)) if n == id(3));
    assert!(loms.order_info(id(3), as_user(7, false)).await.is_ok());
    assert!(not_found(loms.order_info(id(3), as_user(8, false)).await));
    assert!(loms.order_info(id(3), as_user(8, true)).await.is_ok());
}

#[tokio::test]
async fn only_its_owner_pays_or_cancels_an_order_and_the_others_find_nothing() {
    for transition in [Transition::Pay, Transition::Cancel] {
        let mut orders = MockOrderRepo::new();
        one_order(&mut orders);
        // Only the owner's call reaches the transition.
        orders
            .expect_transition()
            .with(eq(id(3)), eq(transition), eq(rid()))
            .times(1)
            .returning(|_, _, _| Ok(TransitionOutcome::Applied));
        let loms = with_orders(orders);
        let apply = |order: i64, actor| {
            let loms = loms.clone();
            async move {
                match transition {
                    Transition::Pay => loms.pay_order(id(order), actor, rid()).await,
                    Transition::Cancel => loms.cancel_order(id(order), actor, rid()).await,
                }
            }
        };
        for (order, actor) in [
            (3, as_user(8, false)),
            (3, as_user(8, true)),
            (4, as_user(7, false)),
        ] {
            let refused = apply(order, actor).await;
            assert!(
                matches!(refused, Err(LomsError::OrderNotFound(n)) if n == id(order)),
                "{transition:?} of order {order} by {actor:?}: {refused:?}"
            );
        }
        assert!(apply(3, as_user(7, false)).await.is_ok());
    }
}

#[tokio::test]
async fn pay_and_cancel_apply_from_awaiting_payment() {
    for transition in [Transition::Pay, Transition::Cancel] {
        assert!(transition_with(transition, TransitionOutcome::Applied)
            .await
            .is_ok());
    }
}

#[tokio::test]
async fn pay_and_cancel_are_idempotent() {
    let repeat = |t: Transition| TransitionOutcome::Refused {
        current: t.end_status(),
    };
    assert!(transition_with(Transition::Pay, repeat(Transition::Pay))
        .await
        .is_ok());
    assert!(
        transition_with(Transition::Cancel, repeat(Transition::Cancel))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn other_transitions_are_refused_with_the_current_status() {
    use OrderStatus::*;
    let cases = [
        (Transition::Pay, Cancelled),
        (Transition::Pay, Failed),
        (Transition::Pay, New),
        (Transition::Cancel, Payed),
        (Transition::Cancel, Failed),
        (Transition::Cancel, New),
    ];
    for (transition, current) in cases {
        let result = transition_with(transition, TransitionOutcome::Refused { current }).await;
        assert!(
            matches!(result, Err(LomsError::WrongStatus { current: c, .. }) if c == current),
            "{transition:?} from {current:?}"
        );
    }
}

#[tokio::test]
async fn pay_and_cancel_of_unknown_orders_are_not_found() {
    for transition in [Transition::Pay, Transition::Cancel] {
        let result = transition_with(transition, TransitionOutcome::NotFound).await;
        assert!(matches!(result, Err(LomsError::OrderNotFound(_))));
    }
}

#[tokio::test]
async fn stocks_info_reads_available_or_not_found() {
    let mut stocks = MockStockRepo::new();
    stocks
        .expect_available()
        .with(eq(sku(1)))
        .returning(|_| Ok(Some(265)));
    stocks
        .expect_available()
        .with(eq(sku(2)))
        .returning(|_| Ok(None));
    stocks
        .expect_available()
        .with(eq(sku(3)))
        .returning(|_| Err(RepoError::msg("down")));
    let loms = loms(MockOrderRepo::new(), stocks);
    assert_eq!(loms.stocks_info(sku(1)).await.ok(), Some(265));
    assert!(matches!(
        loms.stocks_info(sku(2)).await,
        Err(LomsError::SkuNotFound(_))
    ));
    assert!(matches!(
        loms.stocks_info(sku(3)).await,
        Err(LomsError::Storage(_))
    ));
}

#[tokio::test]
async fn cancel_unpaid_takes_batches_until_one_is_short_under_one_auto_cancel_id() {
    let mut orders = MockOrderRepo::new();
    let mut seq = mockall::Sequence::new();
    let ids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    for batch in [vec![id(1), id(2)], vec![id(3), id(4)], vec![id(5)]] {
        let ids = ids.clone();
        orders
            .expect_cancel_stale()
            .withf(|age, batch, skip, _| {
                *age == std::time::Duration::from_secs(60) && *batch == 2 && skip.is_empty()
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_, _, _, request_id| {
                ids.lock().expect("not poisoned").push(request_id);
                Ok(StaleBatch {
                    cancelled: batch.clone(),
                    unsettled: vec![],
                })
            });
    }
    let loms = with_orders(orders);
    let cancelled = loms
        .cancel_unpaid(std::time::Duration::from_secs(60), 2)
        .await;
    assert_eq!(cancelled.ok(), Some(5));
    let ids = ids.lock().expect("not poisoned");
    assert!(ids[0].as_str().starts_with("auto-cancel-"), "{ids:?}");
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one id per run: {ids:?}"
    );
    assert_ne!(RequestId::fresh("auto-cancel"), ids[0], "fresh per run");
}

/// An order the store cannot settle fills a place in its batch, so the next batch is asked for, and
/// that one — and every later one of the period — skips it: it holds back no other order.
#[tokio::test]
async fn cancel_unpaid_goes_on_past_an_order_it_cannot_settle_and_skips_it_after() {
    let mut orders = MockOrderRepo::new();
    let mut seq = mockall::Sequence::new();
    orders
        .expect_cancel_stale()
        .withf(|_, _, skip, _| skip.is_empty())
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _| {
            Ok(StaleBatch {
                cancelled: vec![id(2)],
                unsettled: vec![(id(1), "stock refuses the release".into())],
            })
        });
    orders
        .expect_cancel_stale()
        .withf(|_, _, skip, _| skip == [id(1)])
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _| {
            Ok(StaleBatch {
                cancelled: vec![id(3)],
                unsettled: vec![],
            })
        });
    let loms = with_orders(orders);
    let cancelled = loms
        .cancel_unpaid(std::time::Duration::from_secs(60), 2)
        .await;
    assert_eq!(cancelled.ok(), Some(2));
}
