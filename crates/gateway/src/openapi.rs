//! `/openapi.json`: an OpenAPI 3.0 document generated at start-up from the gateway's own routes, so it
//! describes exactly what is served.
//!
//! - Paths and operations: one per route (additional bindings included), summary and description from
//!   the RPC's proto comment, parameters from the path variables and, for routes whose body is not the
//!   whole message, a query parameter per remaining scalar field (nested ones dotted, `page.size`).
//! - Schemas: one per message and enum, from the proto comments, in canonical proto3 JSON:
//!   lowerCamelCase names, enums by name, 64-bit integers as strings in what the services answer. A
//!   message only ever sent by clients takes them as integers too (the gateway accepts both), so their
//!   limits can be said. Every field of an answer is always present (the gateway writes defaults), so
//!   answers list them all as `required`; unknown fields are refused, hence `additionalProperties: false`.
//! - The validation rules (`validate.rules`) as constraints OpenAPI can say: `minimum`/`maximum`,
//!   `minLength`/`maxLength`, `pattern`, `enum` for `const`/`in`, `minItems`/`maxItems`/`uniqueItems`,
//!   and `required` for a field whose rules refuse its default value (absent means default). A message
//!   both sent and answered is described as answered.
//! - Errors: every operation documents the error statuses with the `{code, message, details}` schema.
//! - Security: a scheme per credential header the server names ([`crate::Headers`]), each optional:
//!   which RPCs need a token is the service's business.
use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{
    DescriptorPool, DynamicMessage, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, Value,
};
use serde_json::{json, Map, Value as Json};

use super::{BodyRule, Headers, Route};

/// How a schema is used: what clients send, what the services answer, or a path/query parameter.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Use {
    Input,
    Output,
    Param,
}

/// The error statuses every operation may answer, and why.
const ERRORS: [(&str, &str); 8] = [
    (
        "400",
        "INVALID_ARGUMENT, FAILED_PRECONDITION or OUT_OF_RANGE: the request breaks a rule or the state does not allow it",
    ),
    ("401", "UNAUTHENTICATED: the token is missing or unknown"),
    ("404", "NOT_FOUND"),
    ("415", "the request body is not application/json"),
    ("429", "RESOURCE_EXHAUSTED: past a rate limit or the server is shedding load"),
    ("500", "INTERNAL"),
    ("503", "UNAVAILABLE: a service or database this one needs cannot be reached"),
    ("504", "DEADLINE_EXCEEDED: the caller's deadline (header x-timeout-ms) passed"),
];

/// The OpenAPI document of `routes`, the routes of `services` (full names) in `pool`: titled by the
/// services' names, described by their proto comments.
pub fn openapi(
    pool: &DescriptorPool,
    services: &[&str],
    routes: &[Route],
    headers: &Headers,
) -> Json {
    let description: Vec<String> = services
        .iter()
        .filter_map(|name| pool.get_service_by_name(name))
        .filter_map(|service| comment(&service.parent_file(), service.path()))
        .collect();
    let mut gen = Generator {
        outputs: output_messages(routes),
        schemas: BTreeMap::new(),
    };
    let paths = gen.paths(routes);
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": services.join(", "),
            "description": description.join("\n\n"),
            "version": env!("CARGO_PKG_VERSION"),
        },
        "paths": paths,
        "components": components(gen.schemas, headers.credentials),
        "security": security(headers.credentials),
    })
}

/// Every message that appears in an answer of `routes`, by full name.
fn output_messages(routes: &[Route]) -> BTreeSet<String> {
    let mut outputs = BTreeSet::new();
    for route in routes {
        match &route.response_body {
            Some(field) => {
                if let Kind::Message(m) = field.kind() {
                    reachable(&m, &mut outputs);
                }
            }
            None => reachable(&route.rpc.output(), &mut outputs),
        }
    }
    outputs
}

/// A security scheme's name: `bearer` for `authorization`, else the header's own.
fn scheme_name(header: &str) -> &str {
    if header == "authorization" {
        "bearer"
    } else {
        header
    }
}

/// Any one of the schemes, or none.
fn security(credentials: &[&str]) -> Json {
    let mut any: Vec<Json> = credentials
        .iter()
        .map(|header| json!({ scheme_name(header): [] }))
        .collect();
    any.push(json!({}));
    Json::Array(any)
}

/// The document's components: the messages' `schemas`, the error body every route may answer with,
/// and a security scheme per credential header.
fn components(schemas: BTreeMap<String, Json>, credentials: &[&str]) -> Json {
    let mut schemas: Map<String, Json> = schemas.into_iter().collect();
    schemas.insert(
        "Error".to_owned(),
        json!({
            "type": "object",
            "description": "The body of every error answer.",
            "properties": {
                "code": {"type": "integer", "format": "int32", "description": "The gRPC status code (google.rpc.Code)."},
                "message": {"type": "string", "description": "What went wrong, for people."},
                "details": {"type": "array", "items": {"type": "object"}, "description": "Error details (google.protobuf.Any); always empty."}
            },
            "required": ["code", "message", "details"],
            "additionalProperties": false
        }),
    );
    let schemes: Map<String, Json> = credentials
        .iter()
        .map(|&header| {
            let scheme = if header == "authorization" {
                json!({
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The caller's token as `authorization: Bearer <token>`."
                })
            } else {
                json!({
                    "type": "apiKey",
                    "in": "header",
                    "name": header,
                    "description": format!("The caller's token as `{header}: <token>`."),
                })
            };
            (scheme_name(header).to_owned(), scheme)
        })
        .collect();
    json!({
        "schemas": schemas,
        "responses": {
            "Error": {
                "description": "An error: the gRPC status code, its message, and details (always empty here).",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            }
        },
        "securitySchemes": schemes,
    })
}

/// Every message reachable from `message`, by full name.
fn reachable(message: &MessageDescriptor, seen: &mut BTreeSet<String>) {
    if !seen.insert(message.full_name().to_owned()) {
        return;
    }
    for field in message.fields() {
        if let Kind::Message(inner) = field.kind() {
            reachable(&inner, seen);
        }
    }
}

struct Generator {
    /// Messages that appear in answers: their 64-bit integers are strings and every field is present.
    outputs: BTreeSet<String>,
    schemas: BTreeMap<String, Json>,
}

impl Generator {
    /// The document's paths: an operation per route, under its template, with a unique id.
    fn paths(&mut self, routes: &[Route]) -> BTreeMap<String, Map<String, Json>> {
        let mut paths: BTreeMap<String, Map<String, Json>> = BTreeMap::new();
        let mut operation_ids = BTreeSet::new();
        for route in routes {
            let service = route.rpc.parent_service();
            let mut id = format!("{}_{}", service.name(), route.rpc.name());
            let mut n = 1;
            while !operation_ids.insert(id.clone()) {
                id = format!("{}_{}{n}", service.name(), route.rpc.name());
                n += 1;
            }
            let operation = self.operation(route, id);
            paths
                .entry(route.template.openapi_path())
                .or_default()
                .insert(
                    route.method.as_str().to_lowercase(),
                    Json::Object(operation),
                );
        }
        paths
    }

    fn operation(&mut self, route: &Route, id: String) -> Map<String, Json> {
        let mut operation = Map::new();
        operation.insert("operationId".to_owned(), json!(id));
        operation.insert(
            "tags".to_owned(),
            json!([route.rpc.parent_service().name()]),
        );
        if let Some(text) = comment(&route.rpc.parent_file(), route.rpc.path()) {
            operation.insert("summary".to_owned(), json!(summary(&text)));
            operation.insert("description".to_owned(), json!(text));
        }
        let parameters = self.parameters(route);
        if !parameters.is_empty() {
            operation.insert("parameters".to_owned(), json!(parameters));
        }
        if let Some(body) = self.request_body(route) {
            operation.insert("requestBody".to_owned(), body);
        }
        operation.insert("responses".to_owned(), self.responses(route));
        operation
    }

    /// The path's variables, then the query's fields (unless the body is the whole message).
    fn parameters(&mut self, route: &Route) -> Vec<Json> {
        let mut parameters = Vec::new();
        for path in route.path_fields() {
            let field = &path[path.len() - 1];
            let name: Vec<&str> = path.iter().map(FieldDescriptor::name).collect();
            let mut parameter = json!({
                "name": name.join("."),
                "in": "path",
                "required": true,
                "schema": self.field_schema(field, Use::Param),
            });
            if let Some(text) = field_comment(field) {
                parameter["description"] = json!(text);
            }
            parameters.push(parameter);
        }
        if !matches!(route.body, BodyRule::Whole) {
            let mut prefix = Vec::new();
            self.query_parameters(route, &route.rpc.input(), &mut prefix, &mut parameters, 0);
        }
        parameters
    }

    /// The request body's schema, and whether a body is required.
    fn request_body(&mut self, route: &Route) -> Option<Json> {
        let input = route.rpc.input();
        let bound_top: BTreeSet<String> = route
            .path_fields()
            .iter()
            .filter(|p| p.len() == 1)
            .map(|p| p[0].full_name().to_owned())
            .collect();
        let (schema, required) = match &route.body {
            BodyRule::None => return None,
            BodyRule::Field(field) => {
                let required = self.excludes_default(field);
                (self.field_schema(field, Use::Input), required)
            }
            BodyRule::Whole if bound_top.is_empty() => {
                let required = input.fields().any(|f| self.excludes_default(&f));
                (self.message_ref(&input), required)
            }
            BodyRule::Whole => {
                // The path's fields are not repeated in the body's schema.
                let schema = self.message_schema(&input, &bound_top);
                let required = schema
                    .get("required")
                    .and_then(Json::as_array)
                    .is_some_and(|r| !r.is_empty());
                (schema, required)
            }
        };
        Some(json!({
            "required": required,
            "content": {"application/json": {"schema": schema}}
        }))
    }

    /// 200 with the answer's schema, and the error body under every status the gateway maps to.
    fn responses(&mut self, route: &Route) -> Json {
        let ok = match &route.response_body {
            Some(field) => self.field_schema(field, Use::Output),
            None => self.message_ref(&route.rpc.output()),
        };
        let mut responses = Map::new();
        responses.insert(
            "200".to_owned(),
            json!({"description": "OK", "content": {"application/json": {"schema": ok}}}),
        );
        for (status, why) in ERRORS {
            responses.insert(
                status.to_owned(),
                json!({
                    "description": why,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                }),
            );
        }
        responses.insert(
            "default".to_owned(),
            json!({"$ref": "#/components/responses/Error"}),
        );
        Json::Object(responses)
    }

    /// A query parameter per scalar field the path and body leave, nested messages dotted.
    fn query_parameters(
        &mut self,
        route: &Route,
        message: &MessageDescriptor,
        prefix: &mut Vec<FieldDescriptor>,
        out: &mut Vec<Json>,
        depth: usize,
    ) {
        // Deep enough for any real request; a recursive message would otherwise never end.
        if depth > 4 {
            return;
        }
        for field in message.fields() {
            prefix.push(field.clone());
            let bound = route
                .path_fields()
                .iter()
                .any(|p| p.iter().zip(prefix.iter()).all(|(a, b)| a == b))
                || matches!(&route.body, BodyRule::Field(f) if *f == prefix[0]);
            if !bound && !field.is_map() {
                match field.kind() {
                    Kind::Message(inner) if !field.is_list() => {
                        self.query_parameters(route, &inner, prefix, out, depth + 1);
                    }
                    Kind::Message(_) | Kind::Bytes => {}
                    _ => {
                        let name: Vec<&str> =
                            prefix.iter().map(FieldDescriptor::json_name).collect();
                        let mut parameter = json!({
                            "name": name.join("."),
                            "in": "query",
                            "required": depth == 0 && self.excludes_default(&field),
                            "schema": self.field_schema(&field, Use::Param),
                        });
                        if field.is_list() {
                            parameter["style"] = json!("form");
                            parameter["explode"] = json!(true);
                        }
                        if let Some(text) = field_comment(&field) {
                            parameter["description"] = json!(text);
                        }
                        out.push(parameter);
                    }
                }
            }
            prefix.pop();
        }
    }

    fn message_ref(&mut self, message: &MessageDescriptor) -> Json {
        let name = message.full_name().to_owned();
        if !self.schemas.contains_key(&name) {
            // Reserve the name first: a message may refer to itself.
            self.schemas.insert(name.clone(), Json::Null);
            let schema = self.message_schema(message, &BTreeSet::new());
            self.schemas.insert(name.clone(), schema);
        }
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    fn message_schema(&mut self, message: &MessageDescriptor, skip: &BTreeSet<String>) -> Json {
        if let Some(known) = well_known(message.full_name()) {
            return known;
        }
        let output = self.outputs.contains(message.full_name());
        let use_ = if output { Use::Output } else { Use::Input };
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in message.fields() {
            if skip.contains(field.full_name()) {
                continue;
            }
            properties.insert(
                field.json_name().to_owned(),
                self.field_schema(&field, use_),
            );
            let always_written =
                output && !field.supports_presence() && !matches!(field.kind(), Kind::Message(_));
            if always_written || (!output && self.excludes_default(&field)) {
                required.push(json!(field.json_name()));
            }
        }
        let mut schema = json!({
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
        });
        if !required.is_empty() {
            schema["required"] = json!(required);
        }
        if let Some(text) = comment(&message.parent_file(), message.path()) {
            schema["description"] = json!(text);
        }
        schema
    }

    fn field_schema(&mut self, field: &FieldDescriptor, use_: Use) -> Json {
        let schema = with_description(self.value_schema(field, use_), field);
        if use_ == Use::Input && !self.excludes_default(field) {
            // Canonical proto3 JSON reads `null` as the field's default: fine where the default is.
            nullable(schema)
        } else {
            schema
        }
    }

    /// The schema of the field's whole value: a map, a list, or one value.
    fn value_schema(&mut self, field: &FieldDescriptor, use_: Use) -> Json {
        let rules = rules(field);
        if field.is_map() {
            let value = match field.kind() {
                Kind::Message(entry) => {
                    self.single_schema(&entry.map_entry_value_field(), use_, None)
                }
                _ => json!({}),
            };
            return json!({"type": "object", "additionalProperties": value});
        }
        if field.is_list() {
            let repeated = rules.as_ref().and_then(|r| rule(r, "repeated"));
            let items_rules = repeated.as_ref().and_then(|r| rule(r, "items"));
            let mut schema = json!({
                "type": "array",
                "items": self.single_schema(field, use_, items_rules.as_ref()),
            });
            if let Some(repeated) = &repeated {
                copy_number(repeated, "min_items", &mut schema, "minItems");
                copy_number(repeated, "max_items", &mut schema, "maxItems");
                if rule_bool(repeated, "unique") {
                    schema["uniqueItems"] = json!(true);
                }
            }
            return schema;
        }
        self.single_schema(field, use_, rules.as_ref())
    }

    /// The schema of one value of the field (an item of a list), with its type's rules.
    fn single_schema(
        &mut self,
        field: &FieldDescriptor,
        use_: Use,
        rules: Option<&DynamicMessage>,
    ) -> Json {
        let typed = |name: &str| rules.and_then(|r| rule(r, name));
        let stringly_64 = use_ == Use::Output;
        let mut schema = match field.kind() {
            Kind::Message(message) => return self.message_ref(&message),
            Kind::Enum(descriptor) => return self.enum_ref(&descriptor),
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({"type": "string", "format": "byte"}),
            Kind::Double => json!({"type": "number", "format": "double"}),
            Kind::Float => json!({"type": "number", "format": "float"}),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({"type": "integer", "format": "int32", "minimum": i32::MIN, "maximum": i32::MAX})
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": u32::MAX})
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 if stringly_64 => {
                return json!({"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"})
            }
            Kind::Uint64 | Kind::Fixed64 if stringly_64 => {
                return json!({"type": "string", "format": "uint64", "pattern": "^[0-9]+$"})
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX})
            }
            Kind::Uint64 | Kind::Fixed64 => {
                json!({"type": "integer", "format": "uint64", "minimum": 0, "maximum": u64::MAX})
            }
        };
        let numeric = [
            "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64",
            "sfixed32", "sfixed64", "float", "double",
        ];
        for name in numeric {
            if let Some(r) = typed(name) {
                number_rules(&r, &mut schema, !matches!(name, "float" | "double"));
            }
        }
        if let Some(r) = typed("string") {
            string_rules(&r, &mut schema);
        }
        schema
    }

    fn enum_ref(&mut self, descriptor: &EnumDescriptor) -> Json {
        let name = descriptor.full_name().to_owned();
        if !self.schemas.contains_key(&name) {
            let values: Vec<String> = descriptor.values().map(|v| v.name().to_owned()).collect();
            let mut schema = json!({"type": "string", "enum": values});
            if let Some(text) = comment(&descriptor.parent_file(), descriptor.path()) {
                schema["description"] = json!(text);
            }
            self.schemas.insert(name.clone(), schema);
        }
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    /// Whether the field's rules refuse its default value, so a request must set it.
    fn excludes_default(&mut self, field: &FieldDescriptor) -> bool {
        let Some(rules) = rules(field) else {
            return false;
        };
        if field.is_list() {
            return rule(&rules, "repeated")
                .is_some_and(|r| number(&r, "min_items").is_some_and(|n| n >= 1.0));
        }
        if let Some(message) = rule(&rules, "message") {
            return rule_bool(&message, "required");
        }
        let Json::Object(schema) = self.single_schema(field, Use::Input, Some(&rules)) else {
            return false;
        };
        let get = |key: &str| schema.get(key).and_then(Json::as_f64);
        get("minimum").is_some_and(|m| m > 0.0)
            || get("maximum").is_some_and(|m| m < 0.0)
            || get("minLength").is_some_and(|m| m >= 1.0)
            || schema
                .get("enum")
                .and_then(Json::as_array)
                .is_some_and(|values| {
                    !values
                        .iter()
                        .any(|v| v.as_f64() == Some(0.0) || v.as_str() == Some(""))
                })
    }
}

/// `google.protobuf` types with a JSON form of their own.
fn well_known(name: &str) -> Option<Json> {
    Some(match name {
        "google.protobuf.Empty" => json!({"type": "object", "additionalProperties": false}),
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => {
            json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"})
        }
        _ => return None,
    })
}

fn nullable(mut schema: Json) -> Json {
    if schema.get("$ref").is_some() {
        schema = json!({"allOf": [schema]});
    }
    schema["nullable"] = json!(true);
    schema
}

fn with_description(mut schema: Json, field: &FieldDescriptor) -> Json {
    if let Some(text) = field_comment(field) {
        if schema.get("$ref").is_some() {
            // OpenAPI 3.0 ignores siblings of $ref: wrap it.
            schema = json!({"allOf": [schema], "description": text});
        } else {
            schema["description"] = json!(text);
        }
    }
    schema
}

/// The field's `validate.rules`, if it has any.
fn rules(field: &FieldDescriptor) -> Option<DynamicMessage> {
    let options = field.options();
    let extension = field
        .parent_pool()
        .get_extension_by_name("validate.rules")?;
    if !options.has_extension(&extension) {
        return None;
    }
    options.get_extension(&extension).as_message().cloned()
}

/// A set sub-message of a rules message (`uint32`, `string`, `repeated`, `items`, ...).
fn rule(rules: &DynamicMessage, name: &str) -> Option<DynamicMessage> {
    if !rules.has_field_by_name(name) {
        return None;
    }
    rules.get_field_by_name(name)?.as_message().cloned()
}

fn rule_bool(rules: &DynamicMessage, name: &str) -> bool {
    rules
        .get_field_by_name(name)
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// A set numeric rule as a number.
fn number(rules: &DynamicMessage, name: &str) -> Option<f64> {
    if !rules.has_field_by_name(name) {
        return None;
    }
    let value = rules.get_field_by_name(name)?;
    as_f64(&value)
}

#[allow(clippy::cast_precision_loss)]
fn as_f64(value: &Value) -> Option<f64> {
    match value {
        Value::I32(v) => Some(f64::from(*v)),
        Value::I64(v) => Some(*v as f64),
        Value::U32(v) => Some(f64::from(*v)),
        Value::U64(v) => Some(*v as f64),
        Value::F32(v) => Some(f64::from(*v)),
        Value::F64(v) => Some(*v),
        _ => None,
    }
}

fn copy_number(rules: &DynamicMessage, from: &str, schema: &mut Json, to: &str) {
    if let Some(n) = number(rules, from) {
        schema[to] = number_json(n);
    }
}

#[allow(clippy::cast_possible_truncation)]
fn number_json(n: f64) -> Json {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

/// A string rule's lengths, pattern and constant, as the schema's keywords.
fn string_rules(r: &DynamicMessage, schema: &mut Json) {
    copy_number(r, "min_len", schema, "minLength");
    copy_number(r, "max_len", schema, "maxLength");
    copy_number(r, "len", schema, "minLength");
    copy_number(r, "len", schema, "maxLength");
    if let Some(pattern) = r
        .get_field_by_name("pattern")
        .filter(|_| r.has_field_by_name("pattern"))
    {
        if let Some(pattern) = pattern.as_str() {
            schema["pattern"] = json!(pattern);
        }
    }
    if r.has_field_by_name("const") {
        if let Some(c) = r.get_field_by_name("const") {
            schema["enum"] = json!([c.as_str()]);
        }
    }
}

/// `gt`/`gte`/`lt`/`lte`/`const`/`in` as `minimum`/`maximum`/`enum`; for integers a strict bound
/// becomes the next whole number, for floats it is `exclusiveMinimum`/`exclusiveMaximum`.
fn number_rules(rules: &DynamicMessage, schema: &mut Json, integer: bool) {
    if schema.get("type") == Some(&json!("string")) {
        return;
    }
    if let Some(n) = number(rules, "gte") {
        schema["minimum"] = number_json(n);
    }
    if let Some(n) = number(rules, "gt") {
        if integer {
            schema["minimum"] = number_json(n + 1.0);
        } else {
            schema["minimum"] = number_json(n);
            schema["exclusiveMinimum"] = json!(true);
        }
    }
    if let Some(n) = number(rules, "lte") {
        schema["maximum"] = number_json(n);
    }
    if let Some(n) = number(rules, "lt") {
        if integer {
            schema["maximum"] = number_json(n - 1.0);
        } else {
            schema["maximum"] = number_json(n);
            schema["exclusiveMaximum"] = json!(true);
        }
    }
    if let Some(n) = number(rules, "const") {
        schema["enum"] = json!([number_json(n)]);
    }
    if let Some(list) = rules.get_field_by_name("in") {
        let values: Vec<Json> = list
            .as_list()
            .unwrap_or_default()
            .iter()
            .filter_map(as_f64)
            .map(number_json)
            .collect();
        if !values.is_empty() {
            schema["enum"] = json!(values);
        }
    }
}

fn field_comment(field: &FieldDescriptor) -> Option<String> {
    comment(&field.parent_file(), field.path())
}

/// The leading comment of the element at `path` in the file's source info.
fn comment(file: &prost_reflect::FileDescriptor, path: &[i32]) -> Option<String> {
    let location = file
        .file_descriptor_proto()
        .source_code_info
        .as_ref()?
        .location
        .iter()
        .find(|l| l.path == path)?;
    let text = location.leading_comments.as_deref()?;
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect();
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// The first sentence of a comment, for an operation's summary.
fn summary(text: &str) -> String {
    let first = text.split("\n\n").next().unwrap_or(text).replace('\n', " ");
    match first.find(". ") {
        Some(at) => first[..=at].to_owned(),
        None => first,
    }
}
