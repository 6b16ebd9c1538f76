//! The order event as a Kafka record: [`OrderStatusChanged`] framed as its proto comment says (the
//! contract), in code that loms (which writes it), the notifier (which reads it) and `just events`
//! share.
use prost::Message;
use prost_validate::Validator;

use crate::loms::limits::order_status_changed::{MOMENT_GTE, MOMENT_LTE};
use crate::loms::OrderStatusChanged;

/// The header naming the value's wire form.
pub const CONTENT_TYPE_HEADER: &str = "content-type";
/// The value's wire form: [`OrderStatusChanged`] in binary protobuf.
pub const CONTENT_TYPE: &str = "application/x-protobuf; proto=route256.loms.v1.OrderStatusChanged";
/// The header that repeats the event's id, for tools that do not decode the value.
pub const EVENT_ID_HEADER: &str = "event-id";
/// The header that repeats the id of the request that caused the change.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The header naming the term of loms's relay lease whose transaction published the record: it grows
/// with each handover, so a reader sees in the topic which tenure wrote what.
pub const RELAY_TERM_HEADER: &str = "relay-term";

/// Why a record's value is not an order event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The bytes are no `OrderStatusChanged` at all.
    #[error("undecodable: {0}")]
    Undecodable(String),
    /// A well-formed message breaking a rule of the contract.
    #[error("invalid: {0}")]
    Invalid(String),
}

impl OrderStatusChanged {
    /// The record's key: the order id in decimal, so that one order's events share a partition.
    pub fn key(&self) -> String {
        self.order_id.to_string()
    }

    /// The record's value, checked against the contract's rules first: an event breaking one is never
    /// written.
    pub fn to_value(&self) -> Result<Vec<u8>, EventError> {
        self.check()?;
        Ok(self.encode_to_vec())
    }

    /// The event a record's value holds, decoded and validated.
    pub fn from_value(value: &[u8]) -> Result<Self, EventError> {
        let event =
            Self::decode(value).map_err(|error| EventError::Undecodable(error.to_string()))?;
        event.check()?;
        Ok(event)
    }

    /// The contract's rules. The moment's range is checked here first: prost-validate reads a
    /// Timestamp past year 9999 as 1970 (passing the range rule), and one whose nanos overflow its
    /// seconds makes it panic.
    fn check(&self) -> Result<(), EventError> {
        if let Some(moment) = &self.moment {
            let at = (moment.seconds, moment.nanos);
            let in_range = (MOMENT_GTE..=MOMENT_LTE).contains(&at);
            if !(in_range && (0..NANOS_PER_SECOND).contains(&moment.nanos)) {
                return Err(EventError::Invalid(format!(
                    "\"route256.loms.v1.OrderStatusChanged.moment\": {}s {}ns is not a Timestamp \
                     from 0001-01-01 to 9999-12-31",
                    moment.seconds, moment.nanos
                )));
            }
        }
        self.validate()
            .map_err(|error| EventError::Invalid(error.to_string()))
    }
}

/// A Timestamp's nanos are 0 to 999,999,999 (its proto comment).
const NANOS_PER_SECOND: i32 = 1_000_000_000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loms::OrderStatus;

    fn event() -> OrderStatusChanged {
        OrderStatusChanged {
            event_id: "0b7c6f1e-8a52-4c4f-9d0e-2f3a4b5c6d7e".into(),
            order_id: 42,
            status: OrderStatus::AwaitingPayment.into(),
            moment: Some(prost_types::Timestamp {
                seconds: 1_796_000_000,
                nanos: 123_456_000,
            }),
            request_id: "req-1".into(),
        }
    }

    #[test]
    fn an_event_goes_through_its_value_unchanged() {
        let value = event().to_value().expect("valid");
        assert_eq!(OrderStatusChanged::from_value(&value), Ok(event()));
        assert_eq!(event().key(), "42");
    }

    #[test]
    fn the_content_type_names_the_message_of_the_contract() {
        let pool = prost_reflect::DescriptorPool::decode(crate::FILE_DESCRIPTOR_SET)
            .expect("the contract's descriptors");
        let message = pool
            .get_message_by_name("route256.loms.v1.OrderStatusChanged")
            .expect("in the contract");
        assert_eq!(
            CONTENT_TYPE,
            format!("application/x-protobuf; proto={}", message.full_name())
        );
    }

    #[test]
    fn garbage_is_undecodable_and_broken_rules_are_invalid() {
        assert!(matches!(
            OrderStatusChanged::from_value(b"\xff\xff garbage"),
            Err(EventError::Undecodable(_))
        ));
        let broken = [
            OrderStatusChanged {
                event_id: "not-a-uuid".into(),
                ..event()
            },
            OrderStatusChanged {
                order_id: 0,
                ..event()
            },
            OrderStatusChanged {
                status: 9,
                ..event()
            },
            OrderStatusChanged {
                status: OrderStatus::Unspecified.into(),
                ..event()
            },
            OrderStatusChanged {
                moment: None,
                ..event()
            },
            OrderStatusChanged {
                moment: Some(prost_types::Timestamp {
                    seconds: 253_402_300_800,
                    nanos: 0,
                }),
                ..event()
            },
            OrderStatusChanged {
                moment: Some(prost_types::Timestamp {
                    seconds: -62_135_596_801,
                    nanos: 999_999_999,
                }),
                ..event()
            },
            OrderStatusChanged {
                moment: Some(prost_types::Timestamp {
                    seconds: 253_402_300_799,
                    nanos: 1_999_999_999,
                }),
                ..event()
            },
            OrderStatusChanged {
                moment: Some(prost_types::Timestamp {
                    seconds: 0,
                    nanos: -1,
                }),
                ..event()
            },
            OrderStatusChanged {
                request_id: "has space".into(),
                ..event()
            },
        ];
        for event in broken {
            let value = event.encode_to_vec();
            assert!(
                matches!(
                    OrderStatusChanged::from_value(&value),
                    Err(EventError::Invalid(_))
                ),
                "{event:?}"
            );
            assert!(event.to_value().is_err(), "{event:?}");
        }
    }
}
