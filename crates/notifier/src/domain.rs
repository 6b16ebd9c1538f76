//! An order event as the notifier reads it off a record — decoded and checked whole before anything
//! is stored — and why a record is not one.
use route256_proto::events::{EventError, CONTENT_TYPE, CONTENT_TYPE_HEADER};
use route256_proto::loms::OrderStatusChanged;

/// A status an order event can report: the contract's enum, named in events and notifications by
/// its course name ([`Status::course_name`]).
pub use route256_proto::loms::OrderStatus as Status;

/// Where a record sits: its topic, partition and offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
}

impl Position {
    /// The offset the partition resumes from once this record is handled.
    pub(crate) fn next(&self) -> i64 {
        self.offset.saturating_add(1)
    }
}

/// One header of a record, as it came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) name: String,
    pub(crate) value: Option<Vec<u8>>,
}

/// A record as it came, and where it sits: all a dead letter keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) at: Position,
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) value: Option<Vec<u8>>,
    pub(crate) headers: Vec<Header>,
}

impl Record {
    /// The value of the first header called `name`.
    pub(crate) fn header(&self, name: &str) -> Option<&[u8]> {
        let header = self
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))?;
        header.value.as_deref()
    }
}

/// One status change of one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    /// Unique per change, the same on every re-send: what de-duplication keys on.
    pub(crate) event_id: String,
    pub(crate) order_id: i64,
    pub(crate) status: Status,
    /// When loms made the change: microseconds since the Unix epoch.
    pub(crate) moment_micros: i64,
    /// The request that caused it.
    pub(crate) request_id: String,
}

/// Why a record can never be notified: it goes to the dead letters with this reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Poison {
    #[error("the content-type header is not the contract's order event")]
    ContentType,
    #[error("the value is no order event: {0}")]
    Undecodable(String),
    #[error("the event breaks the contract: {0}")]
    Invalid(String),
    #[error("the key does not name order {0}")]
    Key(i64),
    /// The store refused the event for its data (SQLSTATE class 22 or 23): found while storing.
    #[error("the store refused the event: {0}")]
    Refused(String),
}

impl Poison {
    /// Every reason's name.
    pub(crate) const LABELS: [&'static str; 5] =
        ["content_type", "undecodable", "invalid", "key", "refused"];

    /// The reason's name: the `reason` label of `notifier_dead_letters_total` and the column.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Self::ContentType => "content_type",
            Self::Undecodable(_) => "undecodable",
            Self::Invalid(_) => "invalid",
            Self::Key(_) => "key",
            Self::Refused(_) => "refused",
        }
    }
}

impl Event {
    /// Reads a record: the contract's content type, a value that decodes and passes the contract's
    /// rules, and a key that is the order id in decimal.
    pub(crate) fn parse(record: &Record) -> Result<Self, Poison> {
        if record.header(CONTENT_TYPE_HEADER) != Some(CONTENT_TYPE.as_bytes()) {
            return Err(Poison::ContentType);
        }
        let message = OrderStatusChanged::from_value(record.value.as_deref().unwrap_or_default())
            .map_err(|error| match error {
            EventError::Undecodable(why) => Poison::Undecodable(why),
            EventError::Invalid(why) => Poison::Invalid(why),
        })?;
        if record.key.as_deref() != Some(message.key().as_bytes()) {
            return Err(Poison::Key(message.order_id));
        }
        let status = message.status();
        // Validated: the moment is present, and in range, so the microseconds fit an i64.
        let moment = message.moment.unwrap_or_default();
        Ok(Self {
            event_id: message.event_id,
            order_id: message.order_id,
            status,
            moment_micros: moment.seconds * 1_000_000 + i64::from(moment.nanos / 1_000),
            request_id: message.request_id,
        })
    }
}

/// Records and events to test with.
#[cfg(test)]
pub(crate) mod testing {
    use route256_proto::events::{CONTENT_TYPE, CONTENT_TYPE_HEADER};
    use route256_proto::loms::OrderStatusChanged;

    use super::*;

    /// The event of `order_id` entering `status`, as loms writes it.
    pub(crate) fn message(order_id: i64, status: Status) -> OrderStatusChanged {
        OrderStatusChanged {
            event_id: format!("0b7c6f1e-8a52-4c4f-9d0e-{order_id:012}"),
            order_id,
            status: status.into(),
            moment: Some(prost_types::Timestamp {
                seconds: 1_796_000_000,
                nanos: 123_456_000,
            }),
            request_id: "req-1".into(),
        }
    }

    /// A record at `offset` of partition 2 of topic `t` holding `message`.
    pub(crate) fn record(offset: i64, message: &OrderStatusChanged) -> Record {
        Record {
            at: Position {
                topic: "t".into(),
                partition: 2,
                offset,
            },
            key: Some(message.key().into_bytes()),
            value: Some(prost::Message::encode_to_vec(message)),
            headers: vec![Header {
                name: CONTENT_TYPE_HEADER.into(),
                value: Some(CONTENT_TYPE.as_bytes().to_vec()),
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{message, record};
    use super::*;

    #[test]
    fn a_loms_event_parses() {
        let event = Event::parse(&record(0, &message(42, Status::AwaitingPayment)));
        assert_eq!(
            event,
            Ok(Event {
                event_id: "0b7c6f1e-8a52-4c4f-9d0e-000000000042".into(),
                order_id: 42,
                status: Status::AwaitingPayment,
                moment_micros: 1_796_000_000_123_456,
                request_id: "req-1".into(),
            })
        );
    }

    #[test]
    fn records_that_are_no_event_say_why() {
        let good = record(0, &message(42, Status::New));
        let cases = [
            (
                Record {
                    headers: vec![],
                    ..good.clone()
                },
                "content_type",
            ),
            (
                Record {
                    headers: vec![Header {
                        name: "content-type".into(),
                        value: Some(b"application/json".to_vec()),
                    }],
                    ..good.clone()
                },
                "content_type",
            ),
            (
                Record {
                    value: Some(b"\xff\xfe garbage".to_vec()),
                    ..good.clone()
                },
                "undecodable",
            ),
            (
                Record {
                    value: Some(prost::Message::encode_to_vec(&OrderStatusChanged {
                        status: 9,
                        ..message(42, Status::New)
                    })),
                    ..good.clone()
                },
                "invalid",
            ),
            (
                Record {
                    key: Some(b"43".to_vec()),
                    ..good.clone()
                },
                "key",
            ),
            (
                Record {
                    key: None,
                    ..good.clone()
                },
                "key",
            ),
        ];
        for (record, reason) in cases {
            let parsed = Event::parse(&record);
            assert_eq!(
                parsed.as_ref().map_err(Poison::label),
                Err(reason),
                "{parsed:?}"
            );
        }
    }
}
