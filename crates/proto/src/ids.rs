//! The identifiers the contract shares between services, as validated newtypes: once parsed, an id is
//! known to be positive (every RPC's rules say so), and a user id cannot be passed where an order id is
//! expected. The bound each applies is the contract's own `(validate.rules).*.gt`, read from the
//! generated limits; a test holds every id field of the contract to it.
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
    ($(#[$doc:meta])* $name:ident($repr:ty), $what:literal, above $gt:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name($repr);

        impl $name {
            /// Every value of the id is above this (the contract's `gt` rule of its fields).
            pub const ABOVE: $repr = $gt;

            /// The wire value.
            pub const fn get(self) -> $repr {
                self.0
            }
        }

        impl TryFrom<$repr> for $name {
            type Error = NotPositive;

            fn try_from(value: $repr) -> Result<Self, NotPositive> {
                if value > Self::ABOVE {
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
    "user",
    above crate::cart::limits::add_item_request::USER_GT
);
positive_id!(
    /// A stock keeping unit: one product of the catalogue.
    Sku(u32),
    "sku",
    above crate::cart::limits::add_item_request::SKU_GT
);
positive_id!(
    /// An order in loms.
    OrderId(i64),
    "order_id",
    above crate::loms::limits::order_info_request::ORDER_ID_GT
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

    /// The ids' bounds come from one message each; every other field that carries the same id must
    /// have the same rule, or the newtype would accept what the contract refuses (or the reverse).
    #[test]
    fn every_id_field_of_the_contract_has_its_newtypes_bound() {
        let pool = prost_reflect::DescriptorPool::decode(crate::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set decodes");
        let rules = pool
            .get_extension_by_name("validate.rules")
            .expect("the contract imports validate.proto");
        let bounds = [
            ("user", "int64", UserId::ABOVE),
            ("sku", "uint32", i64::from(Sku::ABOVE)),
            ("order_id", "int64", OrderId::ABOVE),
        ];
        let mut checked = 0;
        let requests = pool
            .services()
            .flat_map(|s| s.methods().map(|m| m.input()).collect::<Vec<_>>());
        let items = pool.all_messages().filter(|m| m.name() == "Item");
        for message in requests.chain(items) {
            for (name, kind, bound) in bounds {
                let Some(field) = message.get_field_by_name(name) else {
                    continue;
                };
                let options = field.options();
                assert!(
                    options.has_extension(&rules),
                    "{} has no rule",
                    field.full_name()
                );
                let field_rules = options.get_extension(&rules);
                let typed = field_rules
                    .as_message()
                    .and_then(|r| r.get_field_by_name(kind))
                    .and_then(|t| t.as_message().cloned())
                    .unwrap_or_else(|| panic!("{} has no {kind} rule", field.full_name()));
                let gt = typed
                    .get_field_by_name("gt")
                    .and_then(|v| match v.as_ref() {
                        prost_reflect::Value::I64(v) => Some(*v),
                        prost_reflect::Value::U32(v) => Some(i64::from(*v)),
                        _ => None,
                    });
                assert_eq!(gt, Some(bound), "the gt rule of {}", field.full_name());
                checked += 1;
            }
        }
        assert!(checked >= 10, "only {checked} id fields found");
    }
}
