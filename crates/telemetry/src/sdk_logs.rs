//! The OpenTelemetry SDK's own log lines (targets `opentelemetry*`, written with its `internal-logs`):
//! an export that failed, spans dropped from a full queue. With the collector down every batch fails,
//! several times a second under load, so each of those lines is let through at once, then at most once
//! a minute for as long as it lasts: the log says the export is failing without burying the rest.
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::callsite::Identifier;
use tracing::subscriber::Interest;
use tracing::Metadata;
use tracing_subscriber::layer::{Context, Filter};

/// How often one kind of the SDK's lines is let through.
const EVERY: Duration = Duration::from_secs(60);

/// The log layers' filter: every line but the SDK's passes; each of the SDK's (one per place in its
/// code) at most once per [`EVERY`].
#[derive(Default)]
pub(crate) struct SdkLogs {
    last: Mutex<HashMap<Identifier, Instant>>,
}

fn is_sdk(metadata: &Metadata<'_>) -> bool {
    metadata.target().starts_with("opentelemetry")
}

impl SdkLogs {
    /// Whether the line written at `line` goes out at `now`.
    fn admit(&self, line: Identifier, now: Instant) -> bool {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match last.get(&line) {
            Some(at) if now.duration_since(*at) < EVERY => false,
            _ => {
                last.insert(line, now);
                true
            }
        }
    }
}

impl<S> Filter<S> for SdkLogs {
    fn enabled(&self, metadata: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        !(is_sdk(metadata) && metadata.is_event())
            || self.admit(metadata.callsite(), Instant::now())
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        // the SDK's lines are decided one by one; the rest always pass
        if is_sdk(metadata) {
            Interest::sometimes()
        } else {
            Interest::always()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // not zero-sized: two statics of a zero-sized type may share an address, and so an identifier
    struct Callsite(#[allow(dead_code)] u8);
    static CALLSITE: Callsite = Callsite(1);
    static OTHER: Callsite = Callsite(2);
    impl tracing::callsite::Callsite for Callsite {
        fn set_interest(&self, _: Interest) {}
        fn metadata(&self) -> &Metadata<'_> {
            unreachable!("identifiers only")
        }
    }

    /// Caught with its mechanism removed: letting every line through, the second within the minute
    /// is not refused.
    #[test]
    fn each_line_goes_out_at_once_then_once_a_minute() {
        let logs = SdkLogs::default();
        let line = || Identifier(&CALLSITE);
        let start = Instant::now();
        assert!(logs.admit(line(), start), "the first goes out");
        assert!(!logs.admit(line(), start + Duration::from_secs(1)));
        assert!(!logs.admit(line(), start + EVERY - Duration::from_millis(1)));
        assert!(
            logs.admit(Identifier(&OTHER), start),
            "another line has its own minute"
        );
        assert!(logs.admit(line(), start + EVERY), "a minute later, again");
        assert!(!logs.admit(line(), start + EVERY + Duration::from_secs(1)));
    }
}
