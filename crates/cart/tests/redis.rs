//! The limiter shared through Redis, against the stack's Redis (`ROUTE256_TEST_REDIS`, default
//! redis://127.0.0.1:6379), on a key of its own per test: replicas draw on one budget, a call waits for
//! its slot, and one whose slot comes after its deadline is refused at once. One call a second, so
//! that no test depends on the machine being quick.
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cart::adapters::rate_limit::{Limiter, NoSlot, RedisGcra};
use tokio::time::Instant;

/// A limiter of one call a second with no burst, on `key`, as one replica sees it.
fn replica(key: &str) -> RedisGcra {
    let url =
        std::env::var("ROUTE256_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let one = NonZeroU32::new(1).expect("positive");
    RedisGcra::new(&url, key, one, one).expect("a redis url")
}

fn fresh_key() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos();
    format!("cart-test-{}-{nanos}", std::process::id())
}

/// A deadline that allows no wait at all.
fn now() -> Option<Instant> {
    Some(Instant::now())
}

#[tokio::test]
async fn replicas_draw_on_one_budget_and_a_call_past_its_deadline_is_refused() {
    let key = fresh_key();
    let (first, second) = (replica(&key), replica(&key));
    first.acquire(now()).await.expect("the budget's first slot");
    let refused = second.acquire(now()).await;
    let Err(NoSlot(left)) = refused else {
        panic!("the second replica got a slot of the same second: {refused:?}");
    };
    assert_eq!(left, Duration::ZERO, "the deadline had no time left");
    assert!(
        first.acquire(now()).await.is_err(),
        "the same replica again"
    );
}

#[tokio::test]
async fn a_call_waits_for_its_slot_with_a_later_deadline_or_none() {
    let key = fresh_key();
    let limiter = replica(&key);
    limiter.acquire(now()).await.expect("the first slot");
    let started = Instant::now();
    let later = Some(started + Duration::from_secs(30));
    limiter
        .acquire(later)
        .await
        .expect("the next slot, within 30 s");
    limiter
        .acquire(None)
        .await
        .expect("the slot after it, without a deadline");
    // two slots a second apart after the first: the calls waited for them
    assert!(
        started.elapsed() >= Duration::from_millis(1_900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn without_redis_the_local_limit_stands_in() {
    let one = NonZeroU32::new(1).expect("positive");
    let limiter = RedisGcra::new("redis://127.0.0.1:1", &fresh_key(), one, one).expect("a url");
    // half a second to spare: the refused connection comes first
    let soon = || Some(Instant::now() + Duration::from_millis(500));
    limiter
        .acquire(soon())
        .await
        .expect("the local budget's first slot");
    assert!(
        limiter.acquire(soon()).await.is_err(),
        "the local limit is one a second"
    );
}
