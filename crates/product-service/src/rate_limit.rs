//! The service's own rate limit, from all callers together: GCRA (the `governor` crate), a steady
//! `rps` calls per second with bursts of up to `burst`. Over any span of t seconds at most
//! `burst + rps·t` calls are accepted, so a client that does not limit itself is caught; the state is
//! one timestamp, so any limit costs the same constant memory. The service takes a slot only for a
//! caller whose token it knows (`service.rs`).
//!
//! Not cart's limiter (`cart::adapters::rate_limit`): that one makes a caller wait for a reserved slot
//! in arrival order and can share its state through Redis; a server refuses at once instead, and its
//! limit is its own process's, which is what `governor` does.
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::Quota;

type Gcra<C> =
    governor::RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Shared by every connection of the server.
pub(crate) struct RateLimiter<C: Clock = DefaultClock> {
    gcra: Option<Arc<Gcra<C>>>,
    rps: u32,
}

impl<C: Clock> Clone for RateLimiter<C> {
    fn clone(&self) -> Self {
        Self {
            gcra: self.gcra.clone(),
            rps: self.rps,
        }
    }
}

impl<C: Clock> std::fmt::Debug for RateLimiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("rps", &self.rps)
            .finish()
    }
}

impl RateLimiter {
    /// `rps` calls per second with bursts of up to `burst` (at least 1); `rps` 0 means no limit.
    pub(crate) fn new(rps: u32, burst: u32) -> Self {
        Self::with_clock(rps, burst, DefaultClock::default())
    }
}

impl<C: Clock> RateLimiter<C> {
    /// The same, on the given clock.
    pub(crate) fn with_clock(rps: u32, burst: u32, clock: C) -> Self {
        let gcra = NonZeroU32::new(rps).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
            Arc::new(governor::RateLimiter::direct_with_clock(
                Quota::per_second(rate).allow_burst(burst),
                clock,
            ))
        });
        Self { gcra, rps }
    }

    /// Takes a slot for one call now, if there is one.
    pub(crate) fn try_acquire(&self) -> bool {
        self.gcra.as_ref().is_none_or(|gcra| gcra.check().is_ok())
    }

    /// The steady rate, in calls per second (0: no limit).
    pub(crate) fn rps(&self) -> u32 {
        self.rps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use std::time::Duration;

    fn limiter(rps: u32, burst: u32) -> (RateLimiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (RateLimiter::with_clock(rps, burst, clock.clone()), clock)
    }

    #[test]
    fn a_burst_then_the_steady_rate() {
        let (limiter, clock) = limiter(10, 3);
        assert!((0..3).all(|_| limiter.try_acquire()), "the burst");
        assert!(!limiter.try_acquire());
        clock.advance(Duration::from_millis(99));
        assert!(!limiter.try_acquire());
        clock.advance(Duration::from_millis(1));
        assert!(limiter.try_acquire(), "one slot every 100 ms");
        assert!(!limiter.try_acquire());
    }

    #[test]
    fn no_second_admits_more_than_burst_plus_rate() {
        let (limiter, clock) = limiter(10, 10);
        let mut accepted = 0;
        for _ in 0..1000 {
            accepted += u32::from(limiter.try_acquire());
            clock.advance(Duration::from_millis(1));
        }
        // In [0, 1 s): the burst of 10 at once, then one every 100 ms from 100 to 900 ms — within the
        // bound burst + rate × 1 s = 20.
        assert_eq!(accepted, 10 + 9);
    }

    #[test]
    fn zero_means_unlimited() {
        let (limiter, _) = limiter(0, 1);
        assert!((0..10_000).all(|_| limiter.try_acquire()));
    }

    #[test]
    fn a_huge_limit_costs_no_memory_up_front() {
        // The old sliding window allocated a slot per permit: this aborted on a 68 GB allocation.
        let limiter = RateLimiter::new(u32::MAX, u32::MAX);
        assert!(limiter.try_acquire());
    }
}
