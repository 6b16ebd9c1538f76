//! When the relay reads next: at once behind a full batch or after a commit here, every poll otherwise,
//! backing off after failures.
use std::time::Duration;

use tokio::time::Instant;

use super::Step;
use crate::ports::RepoError;

/// When the relay reads next.
pub(super) struct Pace {
    pub(super) next_read: Instant,
    poll: Duration,
    backoff: Duration,
    max_backoff: Duration,
    /// A failure is waiting for the pipeline to run empty: the read after it backs off.
    failed: bool,
}

impl Pace {
    pub(super) fn new(poll: Duration, max_backoff: Duration) -> Self {
        Self {
            next_read: Instant::now(),
            poll,
            backoff: poll,
            max_backoff,
            failed: false,
        }
    }

    /// At once after a full batch, after `poll` otherwise, backing off after an error.
    pub(super) fn stepped(&mut self, step: &Result<Step, RepoError>, batch: usize) {
        let pause = match step {
            Ok(Step::HandedOver { count, more }) if *more || *count == batch => Duration::ZERO,
            Ok(Step::HandedOver { .. }) => self.poll,
            Ok(Step::Idle | Step::Standby) => {
                self.backoff = self.poll;
                self.poll
            }
            Err(error) => {
                tracing::warn!(error = %telemetry::error_chain(error), backoff = ?self.backoff, "relay read failed; retrying");
                self.back_off()
            }
        };
        self.next_read = Instant::now() + pause;
    }

    /// After a batch's answer: a batch all acknowledged ends the backoff; after failed events, the
    /// first read once the pipeline ran empty backs off.
    pub(super) fn settled(&mut self, failed: usize, empty: bool) {
        if failed > 0 {
            self.failed = true;
        } else if !self.failed {
            self.backoff = self.poll;
        }
        if empty && self.failed {
            self.failed = false;
            self.next_read = Instant::now() + self.back_off();
        }
    }

    /// Events were written here: read at once, unless backing off.
    pub(super) fn woken(&mut self) {
        if self.backoff == self.poll && !self.failed {
            self.next_read = self.next_read.min(Instant::now());
        }
    }

    fn back_off(&mut self) -> Duration {
        let pause = self.backoff;
        self.backoff = (self.backoff * 2).min(self.max_backoff);
        pause
    }
}
