//! Route key syntax of an HTTP API: `$default` or `METHOD /path`, parsed into a
//! [`RouteKey`]. Rules follow "Working with routes for HTTP APIs" in the API Gateway
//! developer guide (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html>):
//! methods in upper case or `ANY`, path variables `{name}`, a greedy `{name+}` only at the
//! end of the path.
//!
//! Known limits: literal segments are taken as written (no percent-decoding), and a
//! segment that mixes text and a variable (`a{b}`) is rejected rather than emulated.

use std::collections::HashSet;
use std::str::FromStr;

use crate::model::{RouteKey, Segment};

/// The methods a route key may name; `ANY` matches all of them.
pub const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

/// Why a string is not a route key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteKeyError {
    /// Neither `$default` nor `METHOD /path`.
    #[error("expected `$default` or `METHOD /path`")]
    Shape,
    /// A method outside [`METHODS`] (they are upper case).
    #[error(
        "unknown method `{0}`: expected one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ANY"
    )]
    Method(String),
    /// More than one space between method and path.
    #[error("expected exactly one space between the method and the path")]
    Spacing,
    /// The path does not start with `/`.
    #[error("the path must start with `/`")]
    NoLeadingSlash,
    /// Whitespace inside the path.
    #[error("the path must not contain whitespace")]
    Whitespace,
    /// `//` or a trailing `/`.
    #[error("empty path segment (`//` or a trailing `/`)")]
    EmptySegment,
    /// A segment with a brace that is not exactly `{name}` or `{name+}`.
    #[error("segment `{0}` must be literal text, `{{name}}` or `{{name+}}`")]
    BadSegment(String),
    /// A variable name outside `[A-Za-z0-9_]+`.
    #[error("path variable name `{0}` must be letters, digits and `_`")]
    BadName(String),
    /// A greedy variable before the last segment.
    #[error("greedy path variable `{{{0}+}}` must be the last segment")]
    GreedyNotLast(String),
    /// The same variable name twice in one path.
    #[error("path variable `{0}` is used twice")]
    DuplicateName(String),
}

impl FromStr for RouteKey {
    type Err = RouteKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "$default" {
            return Ok(Self::Default);
        }
        let (method, path) = s.split_once(' ').ok_or(RouteKeyError::Shape)?;
        if !METHODS.contains(&method) {
            return Err(RouteKeyError::Method(method.to_owned()));
        }
        if path.starts_with(char::is_whitespace) {
            return Err(RouteKeyError::Spacing);
        }
        let rest = path
            .strip_prefix('/')
            .ok_or(RouteKeyError::NoLeadingSlash)?;
        if path.contains(char::is_whitespace) {
            return Err(RouteKeyError::Whitespace);
        }

        let mut segments = Vec::new();
        let mut names = HashSet::new();
        // `/` alone is the root: no segments.
        if !rest.is_empty() {
            for raw in rest.split('/') {
                if let Some(Segment::Greedy(previous)) = segments.last() {
                    return Err(RouteKeyError::GreedyNotLast(previous.clone()));
                }
                let segment = segment(raw)?;
                if let Segment::Param(name) | Segment::Greedy(name) = &segment
                    && !names.insert(name.clone())
                {
                    return Err(RouteKeyError::DuplicateName(name.clone()));
                }
                segments.push(segment);
            }
        }

        let method = (method != "ANY").then(|| method.to_owned());
        Ok(Self::Path { method, segments })
    }
}

impl RouteKey {
    /// Whether two keys route exactly the same requests: same method and the same path
    /// once variable names are ignored (`GET /pets/{id}` and `GET /pets/{petId}`).
    pub fn same_shape(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Default, Self::Default) => true,
            (
                Self::Path {
                    method: m1,
                    segments: s1,
                },
                Self::Path {
                    method: m2,
                    segments: s2,
                },
            ) => {
                m1 == m2
                    && s1.len() == s2.len()
                    && s1.iter().zip(s2).all(|pair| match pair {
                        (Segment::Literal(a), Segment::Literal(b)) => a == b,
                        (Segment::Param(_), Segment::Param(_)) => true,
                        (Segment::Greedy(_), Segment::Greedy(_)) => true,
                        _ => false,
                    })
            }
            _ => false,
        }
    }
}

/// One path segment: literal text, `{name}` or `{name+}`.
fn segment(raw: &str) -> Result<Segment, RouteKeyError> {
    if raw.is_empty() {
        return Err(RouteKeyError::EmptySegment);
    }
    if !raw.contains(['{', '}']) {
        return Ok(Segment::Literal(raw.to_owned()));
    }
    let inner = raw
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .filter(|inner| !inner.contains(['{', '}']))
        .ok_or_else(|| RouteKeyError::BadSegment(raw.to_owned()))?;
    let (name, greedy) = match inner.strip_suffix('+') {
        Some(name) => (name, true),
        None => (inner, false),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(RouteKeyError::BadName(name.to_owned()));
    }
    Ok(if greedy {
        Segment::Greedy(name.to_owned())
    } else {
        Segment::Param(name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Segment {
        Segment::Literal(s.to_owned())
    }

    #[test]
    fn valid_keys_parse_and_print_back() {
        let rows: [(&str, RouteKey); 4] = [
            ("$default", RouteKey::Default),
            (
                "ANY /",
                RouteKey::Path {
                    method: None,
                    segments: vec![],
                },
            ),
            (
                "GET /pets/{id}",
                RouteKey::Path {
                    method: Some("GET".to_owned()),
                    segments: vec![lit("pets"), Segment::Param("id".to_owned())],
                },
            ),
            (
                "POST /a/{proxy+}",
                RouteKey::Path {
                    method: Some("POST".to_owned()),
                    segments: vec![lit("a"), Segment::Greedy("proxy".to_owned())],
                },
            ),
        ];
        for (text, want) in rows {
            let got: RouteKey = text.parse().unwrap();
            assert_eq!(got, want, "{text}");
            assert_eq!(got.to_string(), text);
        }
    }

    #[test]
    fn invalid_keys_say_why() {
        let rows = [
            ("$DEFAULT", RouteKeyError::Shape),
            ("get /x", RouteKeyError::Method("get".to_owned())),
            ("GET  /x", RouteKeyError::Spacing),
            ("GET x", RouteKeyError::NoLeadingSlash),
            ("GET /a b", RouteKeyError::Whitespace),
            ("GET /a//b", RouteKeyError::EmptySegment),
            ("GET /a/", RouteKeyError::EmptySegment),
            ("GET /a{b}", RouteKeyError::BadSegment("a{b}".to_owned())),
            ("GET /{a-b}", RouteKeyError::BadName("a-b".to_owned())),
            ("GET /{p+}/x", RouteKeyError::GreedyNotLast("p".to_owned())),
            (
                "GET /{p+}/{p+}",
                RouteKeyError::GreedyNotLast("p".to_owned()),
            ),
            (
                "GET /{id}/{id}",
                RouteKeyError::DuplicateName("id".to_owned()),
            ),
        ];
        for (text, want) in rows {
            assert_eq!(text.parse::<RouteKey>(), Err(want), "{text}");
        }
    }

    #[test]
    fn same_shape_ignores_variable_names_only() {
        let key = |s: &str| s.parse::<RouteKey>().unwrap();
        assert!(key("GET /p/{id}").same_shape(&key("GET /p/{pid}")));
        assert!(!key("GET /p/{id}").same_shape(&key("ANY /p/{id}")));
        assert!(!key("GET /p/{id}").same_shape(&key("GET /p/{id+}")));
        assert!(!key("GET /p/x").same_shape(&key("GET /p/{id}")));
    }
}
