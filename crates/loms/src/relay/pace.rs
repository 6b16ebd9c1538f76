//! When the relay steps next: at once behind a full batch or after a takeover, soon after a commit
//! here, every poll otherwise, backing off after failures.
use std::time::Duration;

use tokio::time::Instant;

use super::{Step, StepError};

/// After a transaction that did not fill its batch, the next one begins no sooner than this (the
/// default of `LOMS_RELAY_LINGER_MS`), however soon a commit here wakes the relay. Each transaction
/// costs the brokers a coordinator's round of replicated writes — on two cores shared with them,
/// ~35–50 ms of their CPU, whatever it carries (BENCHMARKS.md, "OrderCreate's tail") — so under a
/// steady flow of changes the linger sets how many transactions a second the cluster must run: 10 ms
/// let the brokers take 1.25 cores beside OrderCreate at one client, 50 ms halves that. It is also
/// most of an event's wait before it is handed over: at 100 orders/s, commit → notification p99
/// was 113 ms with 50 ms (146 ms with 100, against a target of 150).
pub(super) const LINGER: Duration = Duration::from_millis(50);

/// When the relay steps next.
pub(super) struct Pace {
    pub(super) next_read: Instant,
    /// The earliest a commit here may bring the next read forward to.
    earliest: Instant,
    poll: Duration,
    linger: Duration,
    backoff: Duration,
    max_backoff: Duration,
}

impl Pace {
    pub(super) fn new(poll: Duration, linger: Duration, max_backoff: Duration) -> Self {
        Self {
            next_read: Instant::now(),
            earliest: Instant::now(),
            poll,
            linger,
            backoff: poll,
            max_backoff,
        }
    }

    /// At once after a full batch or a takeover, after `poll` otherwise, backing off after an error.
    pub(super) fn stepped(&mut self, step: &Result<Step, StepError>, batch: usize) {
        let pause = match step {
            Ok(step) => {
                self.backoff = self.poll;
                match step {
                    Step::Committed { count, more } if *more || *count == batch => Duration::ZERO,
                    Step::TookOver { .. } => Duration::ZERO,
                    Step::Committed { .. } | Step::Idle => self.poll,
                }
            }
            Err(error) => {
                tracing::warn!(error = %telemetry::error_chain(error), backoff = ?self.backoff, "relay step failed; retrying");
                self.back_off()
            }
        };
        self.next_read = Instant::now() + pause;
        if let Ok(Step::Committed { .. }) = step {
            self.earliest = Instant::now() + self.linger;
        }
    }

    /// Events were written here: read at once — once the linger has passed since the last transaction —
    /// unless backing off.
    pub(super) fn woken(&mut self) {
        if self.backoff == self.poll {
            self.next_read = self.next_read.min(self.earliest.max(Instant::now()));
        }
    }

    fn back_off(&mut self) -> Duration {
        let pause = self.backoff;
        self.backoff = (self.backoff * 2).min(self.max_backoff);
        pause
    }
}
