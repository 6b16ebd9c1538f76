//! The service's own rate limit: at most N calls in any one-second window, from all callers together.
//!
//! A sliding-window log: the instants of the last N accepted calls are kept; a call is accepted when the
//! oldest of them is at least a second old. Unlike a token bucket it never lets a burst above N into any
//! window, which is what catching a client that does not limit itself needs. Memory is N instants.
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tonic::{Request, Status};

const WINDOW: Duration = Duration::from_secs(1);

/// Shared by every connection of the server.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    limit: usize,
    accepted: Arc<Mutex<VecDeque<Instant>>>,
}

impl RateLimiter {
    /// At most `per_second` calls in any one-second window; 0 means no limit.
    pub fn new(per_second: u32) -> Self {
        let limit = per_second as usize;
        Self {
            limit,
            accepted: Arc::new(Mutex::new(VecDeque::with_capacity(limit))),
        }
    }

    /// Records a call at `now` if the window has room for it.
    pub fn try_acquire_at(&self, now: Instant) -> bool {
        if self.limit == 0 {
            return true;
        }
        // The lock is held for a few comparisons only; a poisoned lock still holds valid instants.
        let mut accepted = self.accepted.lock().unwrap_or_else(|p| p.into_inner());
        while accepted
            .front()
            .is_some_and(|&oldest| now.saturating_duration_since(oldest) >= WINDOW)
        {
            accepted.pop_front();
        }
        if accepted.len() < self.limit {
            accepted.push_back(now);
            true
        } else {
            false
        }
    }

    /// A tonic interceptor: rejects the call with `RESOURCE_EXHAUSTED` before it is decoded.
    pub fn check(&self, request: Request<()>) -> Result<Request<()>, Status> {
        if self.try_acquire_at(Instant::now()) {
            Ok(request)
        } else {
            Err(Status::resource_exhausted(format!(
                "rate limit of {} requests per second exceeded",
                self.limit
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_limit_then_rejects_within_the_window() {
        let limiter = RateLimiter::new(3);
        let t0 = Instant::now();
        assert!((0..3).all(|i| limiter.try_acquire_at(t0 + Duration::from_millis(i))));
        assert!(!limiter.try_acquire_at(t0 + Duration::from_millis(999)));
        // one second after the first call, exactly one slot is free again
        assert!(limiter.try_acquire_at(t0 + Duration::from_millis(1000)));
        assert!(!limiter.try_acquire_at(t0 + Duration::from_millis(1000)));
    }

    #[test]
    fn rejected_calls_do_not_take_a_slot() {
        let limiter = RateLimiter::new(1);
        let t0 = Instant::now();
        assert!(limiter.try_acquire_at(t0));
        assert!(!limiter.try_acquire_at(t0 + Duration::from_millis(500)));
        assert!(limiter.try_acquire_at(t0 + Duration::from_millis(1000)));
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = RateLimiter::new(0);
        let t0 = Instant::now();
        assert!((0..10_000).all(|_| limiter.try_acquire_at(t0)));
    }

    #[test]
    fn interceptor_answers_resource_exhausted() {
        let limiter = RateLimiter::new(1);
        assert!(limiter.check(Request::new(())).is_ok());
        let status = limiter.check(Request::new(())).expect_err("over the limit");
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    }
}
