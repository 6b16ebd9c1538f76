//! `google.api.http` path templates: parsing and matching.
//!
//! The grammar (from `google/api/http.proto`):
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb     = ":" LITERAL ;
//! ```
//!
//! `{name}` is `{name=*}`: one segment. `**` matches the rest of the path and may only come last.
//! Matching is on the percent-decoded segments; a variable's value is its segments, decoded and joined
//! by `/`. A segment that `*` or a variable matches is never empty.
use std::cmp::Ordering;
use std::fmt;

use percent_encoding::percent_decode_str;

/// A template that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid path template {template:?}: {reason}")]
pub struct TemplateError {
    template: String,
    reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `*`: exactly one segment.
    One,
    /// `**`: every remaining segment (zero or more).
    Rest,
}

/// A variable of a template: the field it fills and the segments it spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// The request field, as proto field names from the request message down (`a.b` → `["a", "b"]`).
    pub field_path: Vec<String>,
    start: usize,
    end: usize,
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    segments: Vec<Segment>,
    verb: Option<String>,
    variables: Vec<Variable>,
}

/// How specific a match is: templates that match the same path are ranked segment by segment, a literal
/// before `*` or a variable, before `**`; so `/user/{user}/cart/checkout` wins over
/// `/user/{user}/cart/{sku}` for `/user/1/cart/checkout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Specificity(Vec<u8>);

impl PartialOrd for Specificity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Specificity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

/// What a path matched: the variables' field paths and values, in template order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub bindings: Vec<(Vec<String>, String)>,
    pub specificity: Specificity,
}

impl PathTemplate {
    /// Parses a template such as `/user/{user}/cart/{sku}` or `/v1/{name=shelves/*/books/*}:publish`.
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        Self::parse_path(template).map_err(|reason| TemplateError {
            template: template.to_owned(),
            reason,
        })
    }

    fn parse_path(template: &str) -> Result<Self, &'static str> {
        let rest = template.strip_prefix('/').ok_or("must start with '/'")?;
        let (pieces, verb) = split_top_level(rest)?;
        let verb = match verb {
            Some(verb) if !is_literal(verb) => return Err("invalid verb"),
            Some(verb) => Some(verb.to_owned()),
            None => None,
        };
        let mut segments = Vec::new();
        let mut variables: Vec<Variable> = Vec::new();
        for piece in pieces {
            let Some(inner) = piece.strip_prefix('{') else {
                segments.push(parse_segment(piece).ok_or("invalid segment")?);
                continue;
            };
            let inner = inner
                .strip_suffix('}')
                .ok_or("a variable must be a whole segment")?;
            let (path, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
            let field_path: Vec<String> = path.split('.').map(str::to_owned).collect();
            if !field_path.iter().all(|name| is_ident(name)) {
                return Err("invalid field path");
            }
            if variables.iter().any(|v| v.field_path == field_path) {
                return Err("a field is bound twice");
            }
            let start = segments.len();
            for part in pattern.split('/') {
                segments.push(parse_segment(part).ok_or("invalid segment")?);
            }
            let end = segments.len();
            variables.push(Variable {
                field_path,
                start,
                end,
            });
        }
        if let Some(at) = segments.iter().position(|s| *s == Segment::Rest) {
            if at + 1 != segments.len() {
                return Err("'**' must be the last segment");
            }
        }
        Ok(Self {
            segments,
            verb,
            variables,
        })
    }

    /// The variables, in template order.
    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }

    /// Matches a request path (still percent-encoded, without the query).
    pub fn matches(&self, path: &str) -> Option<Match> {
        let mut path = path.strip_prefix('/')?;
        if let Some(verb) = &self.verb {
            path = path.strip_suffix(verb.as_str())?.strip_suffix(':')?;
        }
        let raw: Vec<&str> = path.split('/').collect();
        let mut decoded = Vec::with_capacity(raw.len());
        for part in &raw {
            decoded.push(percent_decode_str(part).decode_utf8().ok()?.into_owned());
        }
        // Where each template segment's match starts in `decoded`; `**` takes the rest.
        let mut spans = Vec::with_capacity(self.segments.len());
        let mut at = 0;
        let mut rank = Vec::with_capacity(self.segments.len() + 1);
        for segment in &self.segments {
            match segment {
                Segment::Literal(literal) => {
                    if decoded.get(at)? != literal {
                        return None;
                    }
                    spans.push((at, at + 1));
                    at += 1;
                    rank.push(2);
                }
                Segment::One => {
                    if decoded.get(at)?.is_empty() {
                        return None;
                    }
                    spans.push((at, at + 1));
                    at += 1;
                    rank.push(1);
                }
                Segment::Rest => {
                    if decoded[at..].iter().any(String::is_empty) {
                        return None;
                    }
                    spans.push((at, decoded.len()));
                    at = decoded.len();
                    rank.push(0);
                }
            }
        }
        if at != decoded.len() {
            return None;
        }
        rank.push(u8::from(self.verb.is_some()));
        let bindings = self
            .variables
            .iter()
            .map(|variable| {
                let from = spans[variable.start].0;
                let to = spans[variable.end - 1].1;
                (variable.field_path.clone(), decoded[from..to].join("/"))
            })
            .collect();
        Some(Match {
            bindings,
            specificity: Specificity(rank),
        })
    }

    /// The template as an OpenAPI path: each variable becomes `{field.path}`.
    pub fn openapi_path(&self) -> String {
        let mut out = String::new();
        let mut index = 0;
        while index < self.segments.len() {
            out.push('/');
            if let Some(variable) = self.variables.iter().find(|v| v.start == index) {
                out.push('{');
                out.push_str(&variable.field_path.join("."));
                out.push('}');
                index = variable.end;
                continue;
            }
            match &self.segments[index] {
                Segment::Literal(literal) => out.push_str(literal),
                Segment::One => out.push('*'),
                Segment::Rest => out.push_str("**"),
            }
            index += 1;
        }
        if let Some(verb) = &self.verb {
            out.push(':');
            out.push_str(verb);
        }
        out
    }
}

impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.openapi_path())
    }
}

/// A template's path (after the leading '/') split at the top level — '/' and ':' inside braces
/// belong to a variable — into its pieces and its verb.
fn split_top_level(rest: &str) -> Result<(Vec<&str>, Option<&str>), &'static str> {
    let mut pieces = Vec::new();
    let mut verb = None;
    let mut depth = 0usize;
    let mut start = 0usize;
    for (at, c) in rest.char_indices() {
        match c {
            '{' if depth == 0 => depth = 1,
            '{' => return Err("nested variable"),
            '}' if depth == 1 => depth = 0,
            '}' => return Err("unbalanced '}'"),
            '/' if depth == 0 => {
                pieces.push(&rest[start..at]);
                start = at + 1;
            }
            ':' if depth == 0 => {
                verb = Some(&rest[at + 1..]);
                pieces.push(&rest[start..at]);
                start = rest.len() + 1;
                break;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced '{'");
    }
    if start <= rest.len() {
        pieces.push(&rest[start..]);
    }
    Ok((pieces, verb))
}

fn parse_segment(text: &str) -> Option<Segment> {
    match text {
        "*" => Some(Segment::One),
        "**" => Some(Segment::Rest),
        literal if is_literal(literal) => Some(Segment::Literal(literal.to_owned())),
        _ => None,
    }
}

fn is_literal(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| !matches!(c, '/' | '{' | '}' | ':' | '*' | '=' | '?' | '#') && !c.is_control())
}

fn is_ident(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bindings(template: &str, path: &str) -> Option<Vec<(String, String)>> {
        let template = PathTemplate::parse(template).expect("template parses");
        template.matches(path).map(|m| {
            m.bindings
                .into_iter()
                .map(|(field, value)| (field.join("."), value))
                .collect()
        })
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn simple_variables_take_one_segment() {
        assert_eq!(
            bindings("/user/{user}/cart/{sku}", "/user/7/cart/1076963"),
            Some(pairs(&[("user", "7"), ("sku", "1076963")]))
        );
        assert_eq!(bindings("/user/{user}/cart", "/user/7/cart/1"), None);
        assert_eq!(bindings("/user/{user}/cart", "/user//cart"), None);
        assert_eq!(bindings("/user/{user}/cart", "/user/7/cart/"), None);
        assert_eq!(bindings("/order/create", "/order/create"), Some(vec![]));
        assert_eq!(bindings("/order/create", "/order/Create"), None);
    }

    #[test]
    fn nested_fields_and_multi_segment_variables() {
        assert_eq!(
            bindings("/v1/{book.name=shelves/*/books/*}", "/v1/shelves/1/books/2"),
            Some(pairs(&[("book.name", "shelves/1/books/2")]))
        );
        assert_eq!(
            bindings("/v1/{book.name=shelves/*/books/*}", "/v1/shelves/1/books"),
            None
        );
        assert_eq!(
            bindings("/files/{path=**}", "/files/a/b/c"),
            Some(pairs(&[("path", "a/b/c")]))
        );
        assert_eq!(
            bindings("/files/{path=**}", "/files"),
            Some(pairs(&[("path", "")]))
        );
    }

    #[test]
    fn values_are_percent_decoded() {
        assert_eq!(
            bindings("/p/{name}", "/p/a%20b%2Fc"),
            Some(pairs(&[("name", "a b/c")]))
        );
        assert_eq!(
            bindings("/p/{name}", "/p/%D0%BA%D0%BE%D1%82"),
            Some(pairs(&[("name", "кот")]))
        );
        // Not UTF-8 after decoding: no route can take it.
        assert_eq!(bindings("/p/{name}", "/p/%FF"), None);
    }

    #[test]
    fn verbs_end_the_path() {
        assert_eq!(
            bindings("/v1/{name}:publish", "/v1/b1:publish"),
            Some(pairs(&[("name", "b1")]))
        );
        assert_eq!(bindings("/v1/{name}:publish", "/v1/b1"), None);
        assert_eq!(bindings("/v1/{name}:publish", "/v1/b1:cancel"), None);
    }

    #[test]
    fn literals_rank_above_variables() {
        let specific = PathTemplate::parse("/user/{user}/cart/checkout").expect("parses");
        let general = PathTemplate::parse("/user/{user}/cart/{sku}").expect("parses");
        let path = "/user/1/cart/checkout";
        let a = specific.matches(path).expect("matches").specificity;
        let b = general.matches(path).expect("matches").specificity;
        assert!(a > b);
    }

    #[test]
    fn malformed_templates_are_refused() {
        for bad in [
            "user/{user}",
            "/user/{user",
            "/user/{user}}",
            "/user/{a{b}}",
            "/user/{9lives}",
            "/user/{a..b}",
            "/user/{a}/{a}",
            "/files/**/tail",
            "/v1/{name}:",
            "/x/pre{name}",
        ] {
            assert!(PathTemplate::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn openapi_paths_name_the_variables() {
        let t = PathTemplate::parse("/v1/{book.name=shelves/*}/x:go").expect("parses");
        assert_eq!(t.openapi_path(), "/v1/{book.name}/x:go");
    }
}
