//! The validation limits as constants: every number and string of every `(validate.rules)` option,
//! so that hand-written code reads a limit from the contract instead of writing it again.
//!
//! For each package, a `limits` module holds a module per message that has rules (`snake_case` of its
//! name, nested messages joined with `_`) and in it a constant per rule:
//! `<FIELD>_<RULE>` (upper case), typed as the rule's own field, e.g.
//! `limits::order_create_request::IDEMPOTENCY_KEY_MAX_LEN: u64 = 64` from
//! `string idempotency_key = 3 [(validate.rules).string.max_len = 64]`; a Timestamp or Duration bound
//! is an `(i64, i32)` of its seconds and nanos. Repeated rule values (`in`,
//! `not_in`) and flags (`ignore_empty`, …) are left out: they are checked by the generated validators,
//! and no code needs them as a value.
use std::fmt::Write as _;

use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage, Value};

/// The `limits` module of the messages of `files` (all in one package), or `None` when none has a rule.
pub fn module(pool: &DescriptorPool, files: &[&str]) -> Result<Option<String>, String> {
    let Some(rules) = pool.get_extension_by_name("validate.rules") else {
        return Ok(None);
    };
    let mut messages = Vec::new();
    for name in files {
        let file = pool
            .get_file_by_name(name)
            .ok_or_else(|| format!("{name} is not in the descriptors"))?;
        for message in file.messages() {
            collect(message, &mut messages);
        }
    }
    let mut out = String::new();
    for message in messages {
        let mut constants = String::new();
        for field in message.fields() {
            let options = field.options();
            if !options.has_extension(&rules) {
                continue;
            }
            let Some(field_rules) = options.get_extension(&rules).as_message().cloned() else {
                continue;
            };
            for (kind, typed) in field_rules.fields() {
                let Some(typed) = typed.as_message() else {
                    continue;
                };
                constants.push_str(&constants_of(&message, field.name(), kind.name(), typed));
            }
        }
        if !constants.is_empty() {
            let _ = write!(
                out,
                "    /// The rules of `{}`.\n    pub mod {} {{\n{constants}    }}\n",
                message.full_name(),
                module_name(&message)
            );
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "/// The validation limits of this package's messages, from their `(validate.rules)` options.\n\
         pub mod limits {{\n{out}}}\n"
    )))
}

/// `message` and the messages nested in it, depth first.
fn collect(message: MessageDescriptor, into: &mut Vec<MessageDescriptor>) {
    let nested: Vec<_> = message
        .child_messages()
        .filter(|m| !m.is_map_entry())
        .collect();
    into.push(message);
    for child in nested {
        collect(child, into);
    }
}

/// `OrderCreateRequest` → `order_create_request`; a nested `Outer.Inner` → `outer_inner`.
fn module_name(message: &MessageDescriptor) -> String {
    let package = message.package_name();
    let path = message.full_name()[package.len()..].trim_start_matches('.');
    let mut name = String::new();
    for part in path.split('.') {
        if !name.is_empty() {
            name.push('_');
        }
        for (i, c) in part.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                name.push('_');
            }
            name.push(c.to_ascii_lowercase());
        }
    }
    name
}

/// A `google.protobuf.Timestamp` or `Duration` bound: written as `(seconds, nanos)`.
fn is_seconds_and_nanos(value: &DynamicMessage) -> bool {
    matches!(
        value.descriptor().full_name(),
        "google.protobuf.Timestamp" | "google.protobuf.Duration"
    )
}

/// One constant per number or string rule of a field's typed rules (`uint32`, `string`, `repeated`, …).
fn constants_of(
    message: &MessageDescriptor,
    field: &str,
    kind: &str,
    rules: &DynamicMessage,
) -> String {
    let mut out = String::new();
    for (rule, value) in rules.fields() {
        let (ty, literal) = match value {
            Value::I32(v) => ("i32", v.to_string()),
            Value::I64(v) => ("i64", v.to_string()),
            Value::U32(v) => ("u32", v.to_string()),
            Value::U64(v) => ("u64", v.to_string()),
            Value::F32(v) => ("f32", format!("{v:?}")),
            Value::F64(v) => ("f64", format!("{v:?}")),
            Value::String(v) => ("&str", format!("{v:?}")),
            Value::Message(v) if is_seconds_and_nanos(v) => {
                let part = |name| {
                    v.get_field_by_name(name)
                        .and_then(|p| p.as_i64().or(p.as_i32().map(i64::from)))
                };
                let (seconds, nanos) = (part("seconds").unwrap_or(0), part("nanos").unwrap_or(0));
                ("(i64, i32)", format!("({seconds}, {nanos})"))
            }
            _ => continue,
        };
        let _ = write!(
            out,
            "        /// `(validate.rules).{kind}.{}` of `{}.{field}`.\n        pub const {}_{}: {ty} = {literal};\n",
            rule.name(),
            message.full_name(),
            field.to_ascii_uppercase(),
            rule.name().to_ascii_uppercase(),
        );
    }
    out
}
