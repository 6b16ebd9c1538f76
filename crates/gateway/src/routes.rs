//! The routes: every binding of every `google.api.http` rule of the services served, read from the
//! descriptor pool at start-up (`additional_bindings` included), each with its method, path template
//! and body rule.
use http::Method;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, MessageDescriptor, MethodDescriptor,
};

use crate::template::PathTemplate;
use crate::transcode::{self, BodyRule, FieldPath};

/// A `google.api.http` rule that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("the descriptor set does not decode")]
    Descriptors(#[from] prost_reflect::DescriptorError),
    #[error("the descriptor set has no google.api.http extension")]
    NoHttpExtension,
    #[error("service {0} is not in the descriptor set")]
    UnknownService(String),
    #[error("{rpc}: {reason}")]
    Invalid { rpc: String, reason: String },
}

/// One HTTP binding of an RPC.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    pub template: PathTemplate,
    pub body: BodyRule,
    pub response_body: Option<FieldDescriptor>,
    pub rpc: MethodDescriptor,
    /// The fields the template's variables fill, in template order.
    pub(crate) path_fields: Vec<FieldPath>,
}

impl Route {
    /// The request fields the path binds.
    pub fn path_fields(&self) -> &[FieldPath] {
        &self.path_fields
    }

    pub(crate) fn input(&self) -> MessageDescriptor {
        self.rpc.input()
    }

    /// `/package.Service/Method`, the gRPC path of the call.
    pub(crate) fn grpc_path(&self) -> String {
        format!(
            "/{}/{}",
            self.rpc.parent_service().full_name(),
            self.rpc.name()
        )
    }
}

/// The routes of `services` (full names), from their methods' `google.api.http` rules.
pub fn routes(pool: &DescriptorPool, services: &[&str]) -> Result<Vec<Route>, RuleError> {
    let http = pool
        .get_extension_by_name("google.api.http")
        .ok_or(RuleError::NoHttpExtension)?;
    let mut routes: Vec<Route> = Vec::new();
    for name in services {
        let service = pool
            .get_service_by_name(name)
            .ok_or_else(|| RuleError::UnknownService((*name).to_owned()))?;
        for rpc in service.methods() {
            let options = rpc.options();
            if !options.has_extension(&http) {
                continue;
            }
            let rule = options.get_extension(&http);
            let Some(rule) = rule.as_message() else {
                continue;
            };
            let invalid = |reason: String| RuleError::Invalid {
                rpc: rpc.full_name().to_owned(),
                reason,
            };
            let mut rules = vec![rule.clone()];
            if let Some(more) = rule.get_field_by_name("additional_bindings") {
                // A binding inside an additional binding is ignored, as the spec says.
                rules.extend(
                    more.as_list()
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|v| v.as_message().cloned()),
                );
            }
            for rule in &rules {
                let route = route_of(&rpc, rule).map_err(invalid)?;
                let clash = routes.iter().any(|r| {
                    r.method == route.method
                        && r.template.openapi_path() == route.template.openapi_path()
                });
                if clash {
                    return Err(invalid(format!(
                        "{} {} is bound twice",
                        route.method, route.template
                    )));
                }
                routes.push(route);
            }
        }
    }
    Ok(routes)
}

fn route_of(rpc: &MethodDescriptor, rule: &DynamicMessage) -> Result<Route, String> {
    let (method, pattern) = method_and_pattern(rule)?;
    let template = PathTemplate::parse(&pattern).map_err(|e| e.to_string())?;
    let input = rpc.input();
    let path_fields = template
        .variables()
        .iter()
        .map(|v| transcode::resolve(&input, &v.field_path, false, false))
        .collect::<Result<Vec<_>, _>>()?;
    let body = body_rule(&input, &text_field(rule, "body"), &path_fields)?;
    let response_body = match text_field(rule, "response_body").as_str() {
        "" => None,
        name => Some(
            rpc.output()
                .get_field_by_name(name)
                .ok_or_else(|| format!("no field {name:?} in {}", rpc.output().full_name()))?,
        ),
    };
    Ok(Route {
        method,
        template,
        body,
        response_body,
        rpc: rpc.clone(),
        path_fields,
    })
}

/// A string field of a rule (`HttpRule` or `CustomHttpPattern`), empty when unset.
fn text_field(rule: &DynamicMessage, name: &str) -> String {
    rule.get_field_by_name(name)
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The rule's HTTP method and path pattern: one of `get`, `put`, `post`, `delete`, `patch`, or
/// `custom` with its own method name.
fn method_and_pattern(rule: &DynamicMessage) -> Result<(Method, String), String> {
    let mut pattern = None;
    for (name, method) in [
        ("get", Method::GET),
        ("put", Method::PUT),
        ("post", Method::POST),
        ("delete", Method::DELETE),
        ("patch", Method::PATCH),
    ] {
        if rule.has_field_by_name(name) {
            pattern = Some((method, text_field(rule, name)));
        }
    }
    if rule.has_field_by_name("custom") {
        let custom = rule.get_field_by_name("custom");
        let custom = custom.as_ref().and_then(|v| v.as_message());
        let part = |name| custom.map(|m| text_field(m, name)).unwrap_or_default();
        let method = Method::from_bytes(part("kind").as_bytes())
            .map_err(|_| format!("invalid custom method {:?}", part("kind")))?;
        pattern = Some((method, part("path")));
    }
    pattern.ok_or_else(|| "the rule has no method and path".to_owned())
}

/// What the rule's `body` names: nothing, the whole message (`*`), or one top-level field that the
/// path does not bind.
fn body_rule(
    input: &MessageDescriptor,
    body: &str,
    path_fields: &[FieldPath],
) -> Result<BodyRule, String> {
    Ok(match body {
        "" => BodyRule::None,
        "*" => BodyRule::Whole,
        name => {
            let field = input
                .get_field_by_name(name)
                .ok_or_else(|| format!("no field {name:?} in {}", input.full_name()))?;
            if path_fields.iter().any(|p| p[0] == field) {
                return Err(format!("{name:?} is bound by both the path and the body"));
            }
            BodyRule::Field(field)
        }
    })
}
