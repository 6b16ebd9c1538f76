//! When the relay steps next: at once behind a full batch or after a takeover, after a linger that
//! grows with the flow of events once a commit here wakes it, every poll otherwise, backing off after
//! failures.
//!
//! **Why a linger, and why one that grows.** Each Kafka transaction costs the brokers a coordinator's
//! round of replicated writes — on two cores shared with them ~35–50 ms of their CPU, whatever it
//! carries (BENCHMARKS.md, "OrderCreate's tail"). A relay that began the next transaction 10 ms after
//! the last let the brokers take 1.25 of two cores beside OrderCreate at one client, and halved it.
//! But the linger is also most of an event's wait before it is handed over, and that wait must stay
//! short while changes trickle (commit → notification p99 ≤ 150 ms at 40 and 100 orders/s). So it
//! follows the flow: [`PER_EVENT`] for each event the last transaction carried, between the settings'
//! `linger` and `max_linger`. While events trickle, transactions are small and the relay lingers the
//! minimum; once they flow faster than one per `PER_EVENT` (about 1,000 a second, 400 orders/s), each
//! transaction carries more than the linger it leads to and the linger climbs to its maximum: a few
//! large transactions a second, the brokers' share bounded, each event waiting up to `max_linger` longer.
use std::time::Duration;

use tokio::time::Instant;

use super::{Step, StepError};

/// The least pause between a transaction and the next (the default of `LOMS_RELAY_LINGER_MS`).
pub(super) const LINGER: Duration = Duration::from_millis(10);

/// The most it grows to (the default of `LOMS_RELAY_MAX_LINGER_MS`).
pub(super) const MAX_LINGER: Duration = Duration::from_millis(250);

/// How much longer the relay lingers for each event the last transaction carried.
pub(super) const PER_EVENT: Duration = Duration::from_millis(1);

/// When the relay steps next.
pub(super) struct Pace {
    pub(super) next_read: Instant,
    /// The earliest a commit here may bring the next read forward to.
    earliest: Instant,
    poll: Duration,
    linger: Duration,
    max_linger: Duration,
    backoff: Duration,
    max_backoff: Duration,
}

impl Pace {
    pub(super) fn new(
        poll: Duration,
        (linger, max_linger): (Duration, Duration),
        max_backoff: Duration,
    ) -> Self {
        Self {
            next_read: Instant::now(),
            earliest: Instant::now(),
            poll,
            linger,
            max_linger: max_linger.max(linger),
            backoff: poll,
            max_backoff,
        }
    }

    /// At once after a full batch or a takeover; after a transaction, a commit here may bring the next
    /// read forward to the end of its linger, and the poll does not cut a longer linger short; after
    /// `poll` otherwise; backing off after an error.
    pub(super) fn stepped(&mut self, step: &Result<Step, StepError>, batch: usize) {
        let pause = match step {
            Ok(step) => {
                self.backoff = self.poll;
                match step {
                    Step::Committed { count, more } if *more || *count == batch => Duration::ZERO,
                    Step::TookOver { .. } => Duration::ZERO,
                    Step::Committed { count, .. } => {
                        let linger = self.linger_after(*count);
                        self.earliest = Instant::now() + linger;
                        self.poll.max(linger)
                    }
                    Step::Idle => self.poll,
                }
            }
            Err(error) => {
                tracing::warn!(error = %telemetry::error_chain(error), backoff = ?self.backoff, "relay step failed; retrying");
                self.back_off()
            }
        };
        self.next_read = Instant::now() + pause;
    }

    /// The linger after a transaction of `count` events: [`PER_EVENT`] each, within the settings.
    fn linger_after(&self, count: usize) -> Duration {
        let grown = PER_EVENT.saturating_mul(u32::try_from(count).unwrap_or(u32::MAX));
        grown.clamp(self.linger, self.max_linger)
    }

    /// Events were written here: read at once — once the last transaction's linger has passed —
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
