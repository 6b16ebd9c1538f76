//! When the relay steps next: at once behind a full batch or after a takeover, soon after a commit
//! here, every poll otherwise, backing off after failures.
use std::time::Duration;

use tokio::time::Instant;

use super::{Step, StepError};

/// After a transaction that did not fill its batch, the next one begins no sooner than this, however
/// soon a commit here wakes the relay: under a steady flow of changes, one transaction per change
/// would cost the brokers a coordinator's round of writes each (on two cores shared with them, a
/// loaded loms's calls then timed out), while a few milliseconds gather the changes into one.
pub(super) const LINGER: Duration = Duration::from_millis(10);

/// When the relay steps next.
pub(super) struct Pace {
    pub(super) next_read: Instant,
    /// The earliest a commit here may bring the next read forward to.
    earliest: Instant,
    poll: Duration,
    backoff: Duration,
    max_backoff: Duration,
}

impl Pace {
    pub(super) fn new(poll: Duration, max_backoff: Duration) -> Self {
        Self {
            next_read: Instant::now(),
            earliest: Instant::now(),
            poll,
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
            self.earliest = Instant::now() + LINGER;
        }
    }

    /// Events were written here: read at once — once [`LINGER`] has passed since the last step —
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
