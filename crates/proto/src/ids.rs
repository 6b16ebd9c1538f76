//! The identifiers the contract shares between services, as validated newtypes: once parsed, an id is
//! known to be positive (every RPC's rules say so), and a user id cannot be passed where an order id is
//! expected.
use std::fmt;

/// A value that must be positive was not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} must be positive, got {value}")]
pub struct NotPositive {
    /// What was being parsed, e.g. `sku`.
    pub what: &'static str,
    /// The rejected value.
    pub value: i64,
}

macro_rules! positive_id {
    ($(#[$doc:meta])* $name:ident($repr:ty), $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name($repr);

        impl $name {
            /// The wire value.
            pub const fn get(self) -> $repr {
                self.0
            }
        }

        impl TryFrom<$repr> for $name {
            type Error = NotPositive;

            fn try_from(value: $repr) -> Result<Self, NotPositive> {
                if value > 0 {
                    Ok(Self(value))
                } else {
                    Err(NotPositive { what: $what, value: i64::from(value) })
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

positive_id!(
    /// A marketplace user.
    UserId(i64),
    "user"
);
positive_id!(
    /// A stock keeping unit: one product of the catalogue.
    Sku(u32),
    "sku"
);
positive_id!(
    /// An order in loms.
    OrderId(i64),
    "order_id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positive_values_parse() {
        assert_eq!(UserId::try_from(7).map(UserId::get), Ok(7));
        assert_eq!(
            Sku::try_from(0),
            Err(NotPositive {
                what: "sku",
                value: 0
            })
        );
        assert!(OrderId::try_from(-1).is_err());
        assert_eq!(
            OrderId::try_from(42).map(|id| id.to_string()),
            Ok("42".to_owned())
        );
    }
}
