//! The course's names of the order statuses (`new`, `awaiting payment`, `failed`, `payed`,
//! `cancelled`), as order events and the notifier's lines spell them: one table, beside the contract's
//! enum, for loms, which writes them, and the notifier, which reads them.
use crate::loms::OrderStatus;

impl OrderStatus {
    /// Every status an order can be in (all but `Unspecified`).
    pub const ALL: [Self; 5] = [
        Self::New,
        Self::AwaitingPayment,
        Self::Failed,
        Self::Payed,
        Self::Cancelled,
    ];

    /// The course's name of the status; `unspecified` for the enum's zero value, which no order has.
    pub const fn course_name(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::New => "new",
            Self::AwaitingPayment => "awaiting payment",
            Self::Failed => "failed",
            Self::Payed => "payed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The status the course's `name` names, if an order can be in it.
    pub fn from_course_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.course_name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_found_by_its_course_name_and_nothing_else_is() {
        for status in OrderStatus::ALL {
            assert_eq!(
                OrderStatus::from_course_name(status.course_name()),
                Some(status)
            );
        }
        assert_eq!(
            OrderStatus::AwaitingPayment.course_name(),
            "awaiting payment"
        );
        assert_eq!(OrderStatus::from_course_name("paid"), None);
        assert_eq!(OrderStatus::from_course_name("unspecified"), None);
    }
}
