//! An order event as the notifier reads it off a record — parsed whole before anything is stored.

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

/// A record as it came: key, value and the two headers loms sets.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Record<'a> {
    pub(crate) key: Option<&'a [u8]>,
    pub(crate) value: Option<&'a [u8]>,
    pub(crate) event_id: Option<&'a [u8]>,
    pub(crate) request_id: Option<&'a [u8]>,
}

/// One status change of one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    /// Unique per change, the same on every re-send: what de-duplication keys on.
    pub(crate) event_id: String,
    pub(crate) order_id: i64,
    pub(crate) status: Status,
    /// When loms made the change: RFC 3339.
    pub(crate) moment: String,
    /// The request that caused it, when the record says.
    pub(crate) request_id: Option<String>,
}

/// Why a record is not an order event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Malformed {
    #[error("no usable event-id header")]
    EventId,
    #[error("the value is not an order event: {0}")]
    Value(String),
    #[error("order id {0} is not positive")]
    OrderId(i64),
    #[error("unknown status '{0}'")]
    Status(String),
    #[error("moment '{0}' is not RFC 3339 in UTC")]
    Moment(String),
    #[error("the key does not name order {0}")]
    Key(i64),
}

/// The contract's value: `{"order_id", "status", "moment"}`; other fields are ignored, so that loms
/// may add some.
#[derive(serde::Deserialize)]
struct Value {
    order_id: i64,
    status: String,
    moment: String,
}

impl Event {
    /// Parses a record. Header values must be visible ASCII (1 to 128 bytes); a key, when present,
    /// must be the order id in decimal.
    pub(crate) fn parse(record: Record<'_>) -> Result<Self, Malformed> {
        let event_id = record.event_id.and_then(token).ok_or(Malformed::EventId)?;
        let value: Value = serde_json::from_slice(record.value.unwrap_or_default())
            .map_err(|e| Malformed::Value(e.to_string()))?;
        if value.order_id <= 0 {
            return Err(Malformed::OrderId(value.order_id));
        }
        let status =
            Status::from_course_name(&value.status).ok_or(Malformed::Status(value.status))?;
        // UTC with `Z`, as loms writes it: a moment without a zone would be read in the database
        // session's time zone.
        if humantime::parse_rfc3339(&value.moment).is_err() {
            return Err(Malformed::Moment(value.moment));
        }
        if let Some(key) = record.key {
            if key != value.order_id.to_string().as_bytes() {
                return Err(Malformed::Key(value.order_id));
            }
        }
        Ok(Self {
            event_id,
            order_id: value.order_id,
            status,
            moment: value.moment,
            request_id: record.request_id.and_then(token),
        })
    }
}

/// A header value fit to be stored and logged.
fn token(raw: &[u8]) -> Option<String> {
    let usable = (1..=128).contains(&raw.len()) && raw.iter().all(u8::is_ascii_graphic);
    usable.then(|| String::from_utf8_lossy(raw).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &[u8] =
        br#"{"order_id": 42, "status": "awaiting payment", "moment": "2026-11-30T10:00:00.000001Z"}"#;

    fn record(value: &[u8]) -> Record<'_> {
        Record {
            key: Some(b"42"),
            value: Some(value),
            event_id: Some(b"e-1"),
            request_id: Some(b"req-1"),
        }
    }

    #[test]
    fn a_loms_event_parses() {
        let event = Event::parse(record(VALUE)).expect("parses");
        assert_eq!(
            event,
            Event {
                event_id: "e-1".into(),
                order_id: 42,
                status: Status::AwaitingPayment,
                moment: "2026-11-30T10:00:00.000001Z".into(),
                request_id: Some("req-1".into()),
            }
        );
    }

    #[test]
    fn malformed_records_say_why() {
        let cases: [(Record<'_>, Malformed); 8] = [
            (
                Record {
                    event_id: None,
                    ..record(VALUE)
                },
                Malformed::EventId,
            ),
            (
                Record {
                    event_id: Some(b"has space"),
                    ..record(VALUE)
                },
                Malformed::EventId,
            ),
            (
                record(b"not json"),
                Malformed::Value("expected ident at line 1 column 2".into()),
            ),
            (
                record(br#"{"order_id": 0, "status": "new", "moment": "2026-11-30T10:00:00Z"}"#),
                Malformed::OrderId(0),
            ),
            (
                record(br#"{"order_id": 42, "status": "paid", "moment": "2026-11-30T10:00:00Z"}"#),
                Malformed::Status("paid".into()),
            ),
            (
                record(br#"{"order_id": 42, "status": "new", "moment": "yesterday"}"#),
                Malformed::Moment("yesterday".into()),
            ),
            (
                record(br#"{"order_id": 42, "status": "new", "moment": "2026-11-30T10:00:00"}"#),
                Malformed::Moment("2026-11-30T10:00:00".into()),
            ),
            (
                Record {
                    key: Some(b"43"),
                    ..record(VALUE)
                },
                Malformed::Key(42),
            ),
        ];
        for (record, why) in cases {
            assert_eq!(Event::parse(record), Err(why));
        }
    }

    #[test]
    fn a_missing_request_id_is_no_reason_to_refuse() {
        let event = Event::parse(Record {
            request_id: None,
            key: None,
            ..record(VALUE)
        });
        assert_eq!(event.expect("parses").request_id, None);
    }
}
