//! HTTP request parts → request message, response message → JSON, in canonical proto3 JSON.
//!
//! The request message is built in three steps, each refusing what it cannot place:
//! 1. the body: the whole message (`body: "*"`), one field of it (`body: "field"`), or nothing — a
//!    route without a body rule refuses a non-empty body;
//! 2. the path variables, by proto field name; a body that sets a path-bound field to another value is
//!    refused rather than silently overridden;
//! 3. the query parameters, for the fields neither the path nor the body binds (`a.b=1`, either
//!    spelling of a name, a repeated field by repeating the key); a route whose body is the whole
//!    message takes none.
//!
//! JSON in: both the proto and the lowerCamelCase names, integers as numbers or strings, enums by name
//! or number; unknown fields are refused. JSON out: lowerCamelCase, 64-bit integers as strings, enum
//! names, and every field, defaults included, so a client never has to guess what an absent field means.
use std::collections::HashSet;

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, SerializeOptions,
    Value,
};

use super::status::HttpError;

/// Where a route's request body goes.
#[derive(Debug, Clone)]
pub enum BodyRule {
    /// No body (`GET`, `DELETE` and the like): every field not in the path comes from the query.
    None,
    /// `body: "*"`: the body is the request message; only the path adds to it.
    Whole,
    /// `body: "field"`: the body is that field's value.
    Field(FieldDescriptor),
}

/// A field path, resolved from the request message down.
pub(crate) type FieldPath = Vec<FieldDescriptor>;

/// Resolves `names` (proto names; `json` also accepts lowerCamelCase) from `message` down: every step
/// but the last a singular message field, the last a scalar or enum (a list only when `list_ok`).
pub(crate) fn resolve(
    message: &MessageDescriptor,
    names: &[String],
    json: bool,
    list_ok: bool,
) -> Result<FieldPath, String> {
    let mut path = Vec::with_capacity(names.len());
    let mut current = message.clone();
    for (at, name) in names.iter().enumerate() {
        let field = current
            .get_field_by_name(name)
            .or_else(|| json.then(|| current.get_field_by_json_name(name)).flatten())
            .ok_or_else(|| format!("unknown field {:?}", names.join(".")))?;
        let last = at + 1 == names.len();
        match field.kind() {
            Kind::Message(inner) if !last && !field.is_list() && !field.is_map() => {
                current = inner;
            }
            _ if !last => {
                return Err(format!(
                    "{:?} is not a message field",
                    names[..=at].join(".")
                ));
            }
            Kind::Message(_) => {
                return Err(format!(
                    "{:?} is a message: name one of its fields",
                    names.join(".")
                ))
            }
            _ if field.is_map() || (field.is_list() && !list_ok) => {
                return Err(format!("{:?} cannot be given here", names.join(".")));
            }
            _ => {}
        }
        path.push(field);
    }
    if path.is_empty() {
        return Err("empty field name".to_owned());
    }
    Ok(path)
}

/// Builds the request message of a route.
pub(crate) fn request_message(
    input: &MessageDescriptor,
    body_rule: &BodyRule,
    path_values: &[(FieldPath, String)],
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, HttpError> {
    let mut message = read_body(input, body_rule, body)?;

    for (path, text) in path_values {
        let value = parse_scalar(leaf(path), text).map_err(HttpError::invalid)?;
        let current = get(&message, path);
        if let Some(current) = current {
            if current != value {
                return Err(HttpError::invalid(format!(
                    "field {:?} is {text:?} in the path but something else in the body",
                    dotted(path)
                )));
            }
        }
        set(&mut message, path, value);
    }

    let query = query.unwrap_or_default();
    if query.is_empty() {
        return Ok(message);
    }
    if matches!(body_rule, BodyRule::Whole) {
        return Err(HttpError::invalid(
            "this route takes its fields from the body: no query parameters",
        ));
    }
    let mut seen = HashSet::new();
    for (key, text) in parse_query(query)? {
        let names: Vec<String> = key.split('.').map(str::to_owned).collect();
        let path = resolve(input, &names, true, true)
            .map_err(|reason| HttpError::invalid(format!("query parameter {key:?}: {reason}")))?;
        let taken = path_values
            .iter()
            .map(|(bound, _)| bound)
            .any(|bound| overlaps(bound, &path))
            || matches!(body_rule, BodyRule::Field(field) if *field == path[0]);
        if taken {
            return Err(HttpError::invalid(format!(
                "query parameter {key:?} names a field the path or the body binds"
            )));
        }
        let field = leaf(&path);
        if !field.is_list() && !seen.insert(dotted(&path)) {
            return Err(HttpError::invalid(format!(
                "query parameter {key:?} is given twice"
            )));
        }
        let value = parse_scalar(field, &text).map_err(HttpError::invalid)?;
        set(&mut message, &path, value);
    }
    Ok(message)
}

fn read_body(
    input: &MessageDescriptor,
    body_rule: &BodyRule,
    body: &[u8],
) -> Result<DynamicMessage, HttpError> {
    let blank = body.iter().all(u8::is_ascii_whitespace);
    let json_error =
        |error: serde_json::Error| HttpError::invalid(format!("invalid JSON body: {error}"));
    if blank {
        return Ok(DynamicMessage::new(input.clone()));
    }
    if !matches!(body_rule, BodyRule::None) {
        unique_keys(body).map_err(json_error)?;
    }
    match body_rule {
        BodyRule::None => Err(HttpError::invalid("this route takes no body")),
        BodyRule::Whole => {
            let mut deserializer = serde_json::Deserializer::from_slice(body);
            let message = DynamicMessage::deserialize_with_options(
                input.clone(),
                &mut deserializer,
                &DeserializeOptions::new(),
            )
            .map_err(json_error)?;
            deserializer.end().map_err(json_error)?;
            Ok(message)
        }
        BodyRule::Field(field) => {
            // Parsed on its own first, so the body is one JSON value and cannot add other fields.
            let value: serde_json::Value = serde_json::from_slice(body).map_err(json_error)?;
            let wrapped = serde_json::json!({ field.json_name(): value });
            DynamicMessage::deserialize_with_options(
                input.clone(),
                wrapped,
                &DeserializeOptions::new(),
            )
            .map_err(json_error)
        }
    }
}

/// Fails on a JSON document with a key twice in one object, at any depth. Parsers disagree on which
/// one counts (the last here, the first elsewhere), so a proxy in front could read another request than
/// the one served; refusing it leaves one reading.
fn unique_keys(body: &[u8]) -> Result<(), serde_json::Error> {
    serde::de::DeserializeSeed::deserialize(
        UniqueKeys,
        &mut serde_json::Deserializer::from_slice(body),
    )
}

/// A JSON value walked for repeated keys; its contents are not kept.
struct UniqueKeys;

impl<'de> serde::de::DeserializeSeed<'de> for UniqueKeys {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        while items.next_element_seed(UniqueKeys)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut entries: A) -> Result<(), A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = entries.next_key::<String>()? {
            if keys.contains(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
            }
            entries.next_value_seed(UniqueKeys)?;
            keys.insert(key);
        }
        Ok(())
    }
}

/// `a=1&b.c=x%20y&b.c=z` → pairs, percent- and `+`-decoded; a key without `=` has an empty value.
fn parse_query(query: &str) -> Result<Vec<(String, String)>, HttpError> {
    let decode = |part: &str| {
        let spaced = part.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8()
            .map(std::borrow::Cow::into_owned)
            .map_err(|_| HttpError::invalid("query parameters must be UTF-8"))
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(key)?, decode(value)?))
        })
        .collect()
}

/// Whether one field path is the other or lies inside it.
fn overlaps(a: &FieldPath, b: &FieldPath) -> bool {
    a.iter().zip(b.iter()).all(|(x, y)| x == y)
}

fn leaf(path: &FieldPath) -> &FieldDescriptor {
    // `resolve` never returns an empty path.
    &path[path.len() - 1]
}

fn dotted(path: &FieldPath) -> String {
    path.iter()
        .map(FieldDescriptor::name)
        .collect::<Vec<_>>()
        .join(".")
}

/// The value at `path` if the message sets it (a proto3 scalar is "set" when it is not the default).
fn get(message: &DynamicMessage, path: &FieldPath) -> Option<Value> {
    let (last, parents) = path.split_last()?;
    let mut current = message.clone();
    for field in parents {
        if !current.has_field(field) {
            return None;
        }
        current = current.get_field(field).as_message()?.clone();
    }
    current
        .has_field(last)
        .then(|| current.get_field(last).into_owned())
}

/// Sets the value at `path`, appending when the last field is repeated.
fn set(message: &mut DynamicMessage, path: &FieldPath, value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = message;
    for field in parents {
        match current.get_field_mut(field) {
            Value::Message(inner) => current = inner,
            // `resolve` only lets singular message fields lead.
            _ => return,
        }
    }
    if last.is_list() {
        if let Value::List(list) = current.get_field_mut(last) {
            list.push(value);
        }
    } else {
        current.set_field(last, value);
    }
}

/// A path or query value as the field's type.
pub(crate) fn parse_scalar(field: &FieldDescriptor, text: &str) -> Result<Value, String> {
    let invalid = |expected: &str| {
        format!(
            "invalid value {text:?} for field {:?}: expected {expected}",
            field.name()
        )
    };
    Ok(match field.kind() {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(
            text.parse()
                .map_err(|_| invalid("a 32-bit signed integer"))?,
        ),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(
            text.parse()
                .map_err(|_| invalid("a 64-bit signed integer"))?,
        ),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(
            text.parse()
                .map_err(|_| invalid("a 32-bit unsigned integer"))?,
        ),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(
            text.parse()
                .map_err(|_| invalid("a 64-bit unsigned integer"))?,
        ),
        Kind::Double => Value::F64(parse_float(text).ok_or_else(|| invalid("a number"))?),
        Kind::Float => Value::F32(parse_f32(text).map_err(invalid)?),
        Kind::Bool => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(invalid("true or false")),
        },
        Kind::String => Value::String(text.to_owned()),
        Kind::Enum(descriptor) => Value::EnumNumber(
            descriptor
                .get_value_by_name(text)
                .map(|value| value.number())
                .or_else(|| text.parse().ok())
                .ok_or_else(|| invalid("one of the enum's names"))?,
        ),
        Kind::Bytes | Kind::Message(_) => {
            return Err(format!(
                "field {:?} cannot be given in the path or the query",
                field.name()
            ))
        }
    })
}

/// A number as proto3 JSON writes it: decimal, or `Infinity`, `-Infinity`, `NaN`; a decimal too large
/// for `f64` is refused rather than taken as infinity.
fn parse_float(text: &str) -> Option<f64> {
    match text {
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => text.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

/// A `float` field's value: a number that also fits `f32` (or is one of the named infinities).
fn parse_f32(text: &str) -> Result<f32, &'static str> {
    let value = parse_float(text).ok_or("a number")?;
    #[allow(clippy::cast_possible_truncation)]
    let narrow = value as f32;
    if value.is_finite() && !narrow.is_finite() {
        return Err("a 32-bit float");
    }
    Ok(narrow)
}

/// The response message's JSON (or, with `response_body`, that one field's).
pub(crate) fn response_json(
    output: &MessageDescriptor,
    encoded: &[u8],
    response_body: Option<&FieldDescriptor>,
) -> Result<Bytes, String> {
    let message = DynamicMessage::decode(output.clone(), encoded)
        .map_err(|error| format!("cannot decode the response: {error}"))?;
    let options = SerializeOptions::new().skip_default_fields(false);
    let mut serializer = serde_json::Serializer::new(Vec::new());
    message
        .serialize_with_options(&mut serializer, &options)
        .map_err(|error| format!("cannot write the response: {error}"))?;
    let json = serializer.into_inner();
    let Some(field) = response_body else {
        return Ok(Bytes::from(json));
    };
    let mut whole: serde_json::Value =
        serde_json::from_slice(&json).map_err(|error| error.to_string())?;
    let part = whole
        .get_mut(field.json_name())
        .map(serde_json::Value::take)
        .unwrap_or_default();
    Ok(Bytes::from(part.to_string()))
}

/// The request message, protobuf-encoded.
pub(crate) fn encode(message: &DynamicMessage) -> Vec<u8> {
    message.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::{DescriptorPool, ReflectMessage};

    fn pool() -> DescriptorPool {
        DescriptorPool::decode(&include_bytes!("../testdata/gateway_test.binpb")[..])
            .expect("fixture descriptor set")
    }

    fn message(name: &str) -> MessageDescriptor {
        pool().get_message_by_name(name).expect("message exists")
    }

    fn path_of(desc: &MessageDescriptor, dotted: &str) -> FieldPath {
        let names: Vec<String> = dotted.split('.').map(str::to_owned).collect();
        resolve(desc, &names, false, false).expect("field exists")
    }

    fn json(message: &DynamicMessage) -> serde_json::Value {
        let bytes = response_json(&message.descriptor(), &encode(message), None).expect("json");
        serde_json::from_slice(&bytes).expect("valid json")
    }

    #[test]
    fn path_and_body_merge() {
        let add = message("route256.testing.v1.CartLine");
        let paths = vec![
            (path_of(&add, "user"), "7".to_owned()),
            (path_of(&add, "sku"), "1076963".to_owned()),
        ];
        let built = request_message(&add, &BodyRule::Whole, &paths, None, br#"{"count": 3}"#)
            .expect("builds");
        assert_eq!(
            json(&built),
            serde_json::json!({"user": "7", "sku": 1076963, "count": 3})
        );
        // The same body with the path's value repeated is fine; another value is refused.
        request_message(&add, &BodyRule::Whole, &paths, None, br#"{"user": "7"}"#)
            .expect("same value");
        let error = request_message(&add, &BodyRule::Whole, &paths, None, br#"{"user": 8}"#)
            .expect_err("conflict");
        assert_eq!(error.code, tonic::Code::InvalidArgument);
        // A whole-body route takes no query.
        request_message(&add, &BodyRule::Whole, &paths, Some("count=1"), b"")
            .expect_err("no query with body *");
    }

    #[test]
    fn query_fills_the_unbound_fields_in_either_spelling() {
        let info = message("route256.testing.v1.OrderRef");
        for query in ["orderId=42", "order_id=42", "orderId=%34%32"] {
            let built =
                request_message(&info, &BodyRule::None, &[], Some(query), b"").expect("builds");
            assert_eq!(
                json(&built),
                serde_json::json!({"orderId": "42"}),
                "{query}"
            );
        }
        for (query, why) in [
            ("orderId=42&orderId=43", "given twice"),
            ("nope=1", "unknown field"),
            ("orderId=abc", "expected a 64-bit signed integer"),
            (
                "orderId=9223372036854775808",
                "expected a 64-bit signed integer",
            ),
            ("orderId=%FF", "UTF-8"),
        ] {
            let error =
                request_message(&info, &BodyRule::None, &[], Some(query), b"").expect_err(query);
            assert!(error.message.contains(why), "{query}: {}", error.message);
        }
    }

    #[test]
    fn query_cannot_override_the_path() {
        let list = message("route256.testing.v1.UserRef");
        let paths = vec![(path_of(&list, "user"), "7".to_owned())];
        let error = request_message(&list, &BodyRule::None, &paths, Some("user=8"), b"")
            .expect_err("bound by the path");
        assert!(error.message.contains("binds"), "{}", error.message);
    }

    #[test]
    fn bodies_are_strict_json() {
        let create = message("route256.testing.v1.NewOrder");
        for (body, why) in [
            (
                &br#"{"user": 1, "items": [{"sku": 1, "count": 1}], "colour": "red"}"#[..],
                "colour",
            ),
            (br#"{"user": 1,"#, "eof"),
            (br#"{"user": "one"}"#, "invalid"),
            (br#"{"user": 9223372036854775808}"#, "invalid"),
            (
                br#"{"items": [{"sku": 4294967296, "count": 1}]}"#,
                "invalid",
            ),
            (br#"{"items": [{"sku": -1, "count": 1}]}"#, "invalid"),
            (br#"{"user": 1} {"user": 2}"#, "trailing"),
            (br#"{"user": 1, "user": 2}"#, "duplicate key \"user\""),
            (
                br#"{"items": [{"sku": 1, "count": 60000, "count": 1}]}"#,
                "duplicate key \"count\"",
            ),
            (b"{\"idempotencyKey\": \"\xff\"}", "invalid"),
            (br#"[1, 2]"#, "invalid"),
        ] {
            let error = request_message(&create, &BodyRule::Whole, &[], None, body)
                .expect_err(&String::from_utf8_lossy(body));
            assert_eq!(error.code, tonic::Code::InvalidArgument);
            assert!(
                error.message.to_lowercase().contains(why),
                "{}: {}",
                String::from_utf8_lossy(body),
                error.message
            );
        }
        // Both spellings, integers as strings, and an empty body (the default message) are fine.
        let built = request_message(
            &create,
            &BodyRule::Whole,
            &[],
            None,
            br#"{"user": "5", "idempotency_key": "k", "items": [{"sku": "1", "count": 2}]}"#,
        )
        .expect("builds");
        assert_eq!(
            json(&built),
            serde_json::json!({"user": "5", "idempotencyKey": "k", "items": [{"sku": 1, "count": 2}]})
        );
        request_message(&create, &BodyRule::Whole, &[], None, b" ").expect("empty body");
    }

    #[test]
    fn a_field_body_is_that_fields_value_only() {
        let create = message("route256.testing.v1.NewOrder");
        let items = create.get_field_by_name("items").expect("items");
        let built = request_message(
            &create,
            &BodyRule::Field(items.clone()),
            &[],
            Some("user=3"),
            br#"[{"sku": 1, "count": 2}]"#,
        )
        .expect("builds");
        assert_eq!(
            json(&built)["items"],
            serde_json::json!([{"sku": 1, "count": 2}])
        );
        assert_eq!(json(&built)["user"], "3");
        // Something that is not one JSON value cannot smuggle other fields in.
        request_message(
            &create,
            &BodyRule::Field(items.clone()),
            &[],
            None,
            br#"[], "user": 9"#,
        )
        .expect_err("not one value");
        request_message(
            &create,
            &BodyRule::Field(items),
            &[],
            Some("items=1"),
            b"[]",
        )
        .expect_err("body field from the query");
    }

    #[test]
    fn a_bodyless_route_refuses_a_body() {
        let list = message("route256.testing.v1.UserRef");
        request_message(&list, &BodyRule::None, &[], None, br#"{"user": 1}"#)
            .expect_err("no body here");
    }

    #[test]
    fn responses_use_canonical_names_and_keep_defaults() {
        let info = message("route256.testing.v1.OrderView");
        let mut response = DynamicMessage::new(info.clone());
        let user = info.get_field_by_name("user").expect("user");
        response.set_field(&user, Value::I64(i64::MAX));
        let out = json(&response);
        assert_eq!(out["user"], "9223372036854775807");
        assert_eq!(out["status"], "ORDER_STATUS_UNSPECIFIED");
        assert_eq!(out["items"], serde_json::json!([]));
    }

    #[test]
    fn scalars_parse_by_kind() {
        let info = message("route256.testing.v1.OrderView");
        let status = info.get_field_by_name("status").expect("status");
        assert_eq!(
            parse_scalar(&status, "ORDER_STATUS_PAYED"),
            Ok(Value::EnumNumber(
                status
                    .kind()
                    .as_enum()
                    .and_then(|e| e.get_value_by_name("ORDER_STATUS_PAYED"))
                    .map(|v| v.number())
                    .expect("enum value")
            ))
        );
        assert!(parse_scalar(&status, "PAYED_TWICE").is_err());
        let item = message("route256.testing.v1.Position");
        let count = item.get_field_by_name("count").expect("count");
        assert_eq!(parse_scalar(&count, "70000"), Ok(Value::U32(70000)));
        assert!(parse_scalar(&count, "-1").is_err());
        assert!(parse_scalar(&count, "4294967296").is_err());
        assert!(parse_scalar(&count, " 1").is_err());
    }
}
