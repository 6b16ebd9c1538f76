//! cart's limit on its own calls to product-service: a tower layer on the product channel — a gRPC
//! client interceptor — that spaces calls out to a steady rate (default 10 per second) with a
//! configurable burst. It limits the *rate* of calls, not how many run at once.
//!
//! The algorithm is GCRA by reservation. The limiter keeps the theoretical arrival time `tat` of the
//! next call; a call arriving at `now` may go at `max(now, tat − tolerance)` (tolerance = (burst − 1) ×
//! interval), and moves `tat` to `max(tat, now) + interval`. Guarantees:
//! - **Rate**: over any span of t seconds at most `burst + rate × t` calls go, whatever the concurrency.
//! - **FIFO**: slots are handed out under one lock in arrival order, each call waiting for its own; a
//!   later call never overtakes an earlier one.
//! - **Deadline-aware**: a call whose slot would come after its deadline is refused at once with
//!   `DEADLINE_EXCEEDED` and takes no slot, instead of waiting to fail. (A call abandoned while it waits
//!   leaves its slot unused: the rate can only be lower than the limit, never higher.)
//!
//! Shared mode ([`RedisGcra`]): the same arithmetic in one Lua script on Redis, with Redis's clock
//! (`TIME`), so every cart replica draws from one budget. If Redis cannot be reached, the replica falls
//! back to its local limiter — it says so once in the log — and tries Redis again a second later; it says
//! so again when Redis is back. While Redis is away each replica keeps its own rate, so several replicas
//! together may exceed the shared limit until it returns.
//!
//! Why not `governor`, whose GCRA product-service's own limit uses: governor answers "now, or not
//! before t" without taking the later slot, so FIFO waiting, the deadline check and a state kept in
//! Redis would all be ours anyway; what remains is a dozen lines of arithmetic.
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use tonic::Status;
use tower::{Layer, Service};
use tracing::Instrument as _;

/// The deadline of an outgoing call, carried in the request's extensions (set by `adapters::call`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Deadline(pub Instant);

/// No slot before the deadline: the call was not made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("rate limit: the next slot is {0:?} away, after the call's deadline")]
pub struct NoSlot(pub Duration);

/// A rate limit callers wait on.
#[async_trait]
pub trait Limiter: Send + Sync + std::fmt::Debug {
    /// Waits until the caller may call; refuses at once when that is after `deadline`.
    async fn acquire(&self, deadline: Option<Instant>) -> Result<(), NoSlot>;
}

/// No limit at all (`CART_PRODUCT_RPS=0`).
#[derive(Debug)]
pub(crate) struct Unlimited;

#[async_trait]
impl Limiter for Unlimited {
    async fn acquire(&self, _: Option<Instant>) -> Result<(), NoSlot> {
        Ok(())
    }
}

/// The local limiter: GCRA by reservation in process memory.
#[derive(Debug)]
pub(crate) struct Gcra {
    interval: Duration,
    tolerance: Duration,
    /// The theoretical arrival time of the next call.
    tat: Mutex<Instant>,
}

impl Gcra {
    pub(crate) fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        let interval = Duration::from_secs(1) / per_second.get();
        Self {
            interval,
            tolerance: interval * (burst.get() - 1),
            tat: Mutex::new(Instant::now()),
        }
    }

    /// Reserves the next slot: when the caller may go, or `NoSlot` (and nothing reserved) when that is
    /// after `deadline`.
    fn reserve(&self, now: Instant, deadline: Option<Instant>) -> Result<Instant, NoSlot> {
        let mut tat = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        let at = tat
            .checked_sub(self.tolerance)
            .map_or(now, |allowed| allowed.max(now));
        if deadline.is_some_and(|deadline| at > deadline) {
            return Err(NoSlot(at - now));
        }
        *tat = (*tat).max(now) + self.interval;
        Ok(at)
    }
}

#[async_trait]
impl Limiter for Gcra {
    async fn acquire(&self, deadline: Option<Instant>) -> Result<(), NoSlot> {
        let at = self.reserve(Instant::now(), deadline)?;
        tokio::time::sleep_until(at).await;
        Ok(())
    }
}

/// GCRA by reservation in one atomic Lua script, on Redis's clock (microseconds). `KEYS[1]` holds the
/// theoretical arrival time; ARGV: interval, tolerance, the longest the caller can wait (or -1 for no
/// limit). Returns the wait in microseconds, or -1 when the slot is past the caller's deadline (then
/// nothing is reserved).
const GCRA_SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local at = math.max(now, tat - tolerance)
local wait = at - now
if max_wait >= 0 and wait > max_wait then
  return -1
end
local next_tat = math.max(tat, now) + interval
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1000)
return wait
";

/// How long one Redis round trip may take before the local limiter is used instead.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);
/// How long after a failure Redis is tried again.
const REDIS_RETRY: Duration = Duration::from_secs(1);

/// The shared limiter: one budget for every replica, through Redis; the local [`Gcra`] while Redis
/// is unreachable.
pub struct RedisGcra {
    client: redis::Client,
    key: String,
    interval: Duration,
    tolerance: Duration,
    script: redis::Script,
    state: tokio::sync::Mutex<RedisState>,
    fallback: Gcra,
}

/// Redis cannot be used now; the local limiter stands in.
struct RedisDown;

#[derive(Default)]
struct RedisState {
    connection: Option<redis::aio::MultiplexedConnection>,
    /// Since when Redis is considered down, and when to try it again.
    down: Option<Instant>,
}

impl std::fmt::Debug for RedisGcra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisGcra")
            .field("key", &self.key)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl RedisGcra {
    /// `url` like `redis://127.0.0.1:6379`; `key` names the shared budget.
    pub fn new(
        url: &str,
        key: &str,
        per_second: NonZeroU32,
        burst: NonZeroU32,
    ) -> Result<Self, redis::RedisError> {
        let fallback = Gcra::new(per_second, burst);
        Ok(Self {
            client: redis::Client::open(url)?,
            key: key.to_owned(),
            interval: fallback.interval,
            tolerance: fallback.tolerance,
            script: redis::Script::new(GCRA_SCRIPT),
            state: tokio::sync::Mutex::new(RedisState::default()),
            fallback,
        })
    }

    /// The wait Redis hands out, `Ok(None)` when the slot is past the deadline; `Err` when Redis
    /// cannot be used now.
    async fn reserve(&self, deadline: Option<Instant>) -> Result<Option<Duration>, RedisDown> {
        let mut connection = {
            let mut state = self.state.lock().await;
            if state.down.is_some_and(|retry_at| Instant::now() < retry_at) {
                return Err(RedisDown);
            }
            match &state.connection {
                Some(connection) => connection.clone(),
                None => {
                    let connected = tokio::time::timeout(
                        REDIS_TIMEOUT,
                        self.client.get_multiplexed_async_connection(),
                    )
                    .await;
                    match connected {
                        Ok(Ok(connection)) => {
                            state.connection = Some(connection.clone());
                            connection
                        }
                        Ok(Err(error)) => return Err(self.went_down(&mut state, &error)),
                        Err(_) => return Err(self.went_down(&mut state, &"connect timed out")),
                    }
                }
            }
        };
        let max_wait = deadline.map_or(-1, |d| {
            i64::try_from(d.saturating_duration_since(Instant::now()).as_micros())
                .unwrap_or(i64::MAX)
        });
        let invoked = tokio::time::timeout(
            REDIS_TIMEOUT,
            self.script
                .key(&self.key)
                .arg(micros(self.interval))
                .arg(micros(self.tolerance))
                .arg(max_wait)
                .invoke_async::<i64>(&mut connection),
        )
        .await;
        let mut state = self.state.lock().await;
        match invoked {
            Ok(Ok(wait)) => {
                if state.down.take().is_some() {
                    tracing::info!(key = %self.key, "redis is back: the rate limit is shared again");
                }
                Ok(u64::try_from(wait).ok().map(Duration::from_micros))
            }
            Ok(Err(error)) => Err(self.went_down(&mut state, &error)),
            Err(_) => Err(self.went_down(&mut state, &"script timed out")),
        }
    }

    fn went_down(&self, state: &mut RedisState, error: &dyn std::fmt::Display) -> RedisDown {
        state.connection = None;
        if state.down.is_none() {
            tracing::warn!(key = %self.key, %error, "redis unreachable: limiting locally until it is back");
        }
        state.down = Some(Instant::now() + REDIS_RETRY);
        RedisDown
    }
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

#[async_trait]
impl Limiter for RedisGcra {
    async fn acquire(&self, deadline: Option<Instant>) -> Result<(), NoSlot> {
        match self.reserve(deadline).await {
            Ok(Some(wait)) => {
                tokio::time::sleep(wait).await;
                Ok(())
            }
            Ok(None) => Err(NoSlot(deadline.map_or(Duration::ZERO, |d| {
                d.saturating_duration_since(Instant::now())
            }))),
            Err(RedisDown) => self.fallback.acquire(deadline).await,
        }
    }
}

/// Applies a [`Limiter`] to every call through a channel.
#[derive(Clone, Debug)]
pub(crate) struct RateLimitLayer {
    limiter: Arc<dyn Limiter>,
}

impl RateLimitLayer {
    pub(crate) fn new(limiter: Arc<dyn Limiter>) -> Self {
        Self { limiter }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;

    fn layer(&self, inner: S) -> RateLimited<S> {
        RateLimited {
            inner,
            limiter: self.limiter.clone(),
        }
    }
}

/// A channel whose calls wait for the rate limit.
#[derive(Clone, Debug)]
pub(crate) struct RateLimited<S> {
    inner: S,
    limiter: Arc<dyn Limiter>,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for RateLimited<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
    ResBody: Default,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        // The service that was polled ready makes the call; a fresh clone stays for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limiter = self.limiter.clone();
        let deadline = request.extensions().get::<Deadline>().map(|d| d.0);
        Box::pin(async move {
            // within the call's client span: the trace shows how long the call waited for its slot
            let waiting = tracing::info_span!("rate limiter wait", otel.kind = "internal");
            match limiter.acquire(deadline).instrument(waiting).await {
                Ok(()) => inner.call(request).await,
                Err(no_slot) => Ok(Status::deadline_exceeded(no_slot.to_string()).into_http()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gcra(per_second: u32, burst: u32) -> Arc<Gcra> {
        Arc::new(Gcra::new(
            NonZeroU32::new(per_second).expect("positive"),
            NonZeroU32::new(burst).expect("positive"),
        ))
    }

    /// Starts `calls` acquisitions at once, `concurrency` at a time, and returns when each got its slot.
    async fn slots(limiter: Arc<Gcra>, calls: usize, concurrency: usize) -> Vec<Duration> {
        let started = Instant::now();
        let gate = Arc::new(tokio::sync::Semaphore::new(concurrency));
        let tasks: Vec<_> = (0..calls)
            .map(|_| {
                let (limiter, gate) = (limiter.clone(), gate.clone());
                tokio::spawn(async move {
                    let _permit = gate.acquire_owned().await.expect("open");
                    limiter.acquire(None).await.expect("no deadline");
                    started.elapsed()
                })
            })
            .collect();
        let mut at = Vec::new();
        for task in tasks {
            at.push(task.await.expect("task"));
        }
        at.sort();
        at
    }

    #[tokio::test(start_paused = true)]
    async fn a_hundred_calls_at_ten_per_second_take_nine_point_nine_seconds() {
        let at = slots(gcra(10, 1), 100, 100).await;
        assert_eq!(at.first().copied(), Some(Duration::ZERO));
        assert!(at[99] >= Duration::from_millis(9900), "{:?}", at[99]);
        assert!(at[99] < Duration::from_millis(10_000), "{:?}", at[99]);
        // never more than one slot in any 100 ms
        assert!(at
            .windows(2)
            .all(|w| w[1] - w[0] >= Duration::from_millis(100)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_burst_goes_at_once_then_the_rate_applies() {
        let at = slots(gcra(10, 5), 100, 100).await;
        assert_eq!(&at[..5], &[Duration::ZERO; 5]);
        assert!(
            at[99] >= Duration::from_millis(9500),
            "(100 - 5) / 10 s: {:?}",
            at[99]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn more_concurrency_does_not_raise_the_rate() {
        let one = slots(gcra(10, 1), 30, 1).await;
        let many = slots(gcra(10, 1), 30, 30).await;
        assert_eq!(one.last(), many.last());
    }

    #[tokio::test(start_paused = true)]
    async fn slots_go_in_arrival_order() {
        let limiter = gcra(10, 1);
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..10 {
            let (limiter, order) = (limiter.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                limiter.acquire(None).await.expect("no deadline");
                order.lock().expect("lock").push(i);
            }));
            // each call arrives a moment after the previous one
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for task in tasks {
            task.await.expect("task");
        }
        assert_eq!(*order.lock().expect("lock"), (0..10).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_before_the_slot_fails_at_once_and_takes_no_slot() {
        let limiter = gcra(10, 1);
        limiter.acquire(None).await.expect("first slot now");
        let before = Instant::now();
        let refused = limiter
            .acquire(Some(Instant::now() + Duration::from_millis(50)))
            .await;
        assert_eq!(refused, Err(NoSlot(Duration::from_millis(100))));
        assert_eq!(Instant::now(), before, "refused without waiting");
        // the refused call took nothing: the next slot is still 100 ms after the first
        limiter
            .acquire(Some(Instant::now() + Duration::from_millis(100)))
            .await
            .expect("fits its deadline");
        assert_eq!(Instant::now() - before, Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn the_layer_answers_deadline_exceeded_without_calling() {
        let limiter = gcra(1, 1);
        limiter.acquire(None).await.expect("take the only slot");
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = calls.clone();
        let inner = tower::service_fn(move |_: http::Request<()>| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Ok::<_, std::convert::Infallible>(http::Response::new(String::new())) }
        });
        let mut service = RateLimitLayer::new(limiter).layer(inner);
        let mut request = http::Request::new(());
        request
            .extensions_mut()
            .insert(Deadline(Instant::now() + Duration::from_millis(10)));
        let response = service.call(request).await.expect("answered");
        assert_eq!(
            response.headers().get("grpc-status").map(|v| v.as_bytes()),
            Some(b"4".as_slice()),
            "DEADLINE_EXCEEDED"
        );
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
}
