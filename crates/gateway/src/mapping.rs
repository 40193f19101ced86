//! Parameter mapping (aws-behavior.md §1.4): an integration's `requestParameters`
//! change the request before it reaches the instance, its `responseParameters` change
//! the instance's response, chosen by the instance's status code.
//!
//! Request targets: `overwrite:path`, `append|overwrite|remove:header.NAME`,
//! `append|overwrite|remove:querystring.NAME`. Response targets:
//! `append|overwrite|remove:header.NAME`, `overwrite:statuscode`. Values are static
//! text mixed with `$request.header.NAME` (case-insensitive, several values joined with
//! `,`), `$request.querystring.NAME` (URL-decoded, joined with `,`), `$request.path`
//! (without the stage), `$request.path.NAME`, `$context.NAME`, and on responses
//! `$response.header.NAME`. Every value is computed from the request (or response) as
//! it arrived, then the changes are applied in file order, as AWS evaluates mappings
//! against the original message.
//!
//! Known limits: `$request.body.*`, `$response.body.*` and `$stageVariables.*` evaluate
//! to the empty string (no JSON path evaluation, no stage variables); a mapping onto a
//! reserved header (§1.3, which AWS rejects when the API is created) is left out with a
//! warning.

use std::collections::HashMap;

use albless_spec::{ParamAction, ParamMapping, ParamTarget};
use http::StatusCode;
use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::context::{ContextVar, Piece, Record, parse_template};

/// A reference in a mapping value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Var {
    RequestHeader(HeaderName),
    RequestQuery(String),
    RequestPath,
    RequestPathParam(String),
    ResponseHeader(HeaderName),
    Context(ContextVar),
    /// A reference the gateway cannot evaluate (body, stage variables): empty.
    Empty,
}

/// One compiled mapping.
#[derive(Debug)]
struct Mapping {
    action: ParamAction,
    target: Target,
    value: Vec<Piece<Var>>,
}

#[derive(Debug)]
enum Target {
    Path,
    Header(HeaderName),
    Query(String),
    StatusCode,
}

/// A route's request and response mappings, compiled.
#[derive(Debug, Default)]
pub(crate) struct Mappings {
    request: Vec<Mapping>,
    response: HashMap<u16, Vec<Mapping>>,
}

/// The request as mapping values see it.
pub(crate) struct RequestView<'a> {
    pub(crate) headers: &'a HeaderMap,
    pub(crate) query: Option<&'a str>,
    /// The path without the stage prefix (`$request.path`).
    pub(crate) path: &'a str,
    pub(crate) params: &'a [(&'a str, &'a str)],
    pub(crate) record: &'a Record,
}

impl Mappings {
    /// Compiles a route's mappings; invalid ones are left out with a warning.
    pub(crate) fn new(
        route_key: &str,
        request: &[ParamMapping],
        response: &std::collections::BTreeMap<u16, Vec<ParamMapping>>,
    ) -> Mappings {
        let request = request
            .iter()
            .filter_map(|m| compile(route_key, m, false))
            .collect();
        let response = response
            .iter()
            .map(|(status, ms)| {
                let ms = ms
                    .iter()
                    .filter_map(|m| compile(route_key, m, true))
                    .collect();
                (*status, ms)
            })
            .collect();
        Mappings { request, response }
    }

    /// Whether the request needs work.
    pub(crate) fn has_request(&self) -> bool {
        !self.request.is_empty()
    }

    /// Whether any response mapping exists.
    pub(crate) fn has_response(&self) -> bool {
        !self.response.is_empty()
    }

    /// Evaluates the request mappings against `view`: the header changes to make, and
    /// the path and query to send instead of `full_path` and the request's query when
    /// the path or the query string changed.
    pub(crate) fn apply_request(
        &self,
        view: &RequestView<'_>,
        full_path: &str,
    ) -> (Option<String>, Vec<HeaderOp>) {
        // Values first, from the request as it arrived.
        let values: Vec<String> = self
            .request
            .iter()
            .map(|m| evaluate(&m.value, Some(view), None, view.record))
            .collect();

        let mut path: Option<String> = None;
        let mut query: Option<Vec<(String, String)>> = None;
        let mut ops = Vec::new();
        for (m, value) in self.request.iter().zip(values) {
            match &m.target {
                Target::Path => {
                    let value = if value.starts_with('/') {
                        value
                    } else {
                        format!("/{value}")
                    };
                    path = Some(value);
                }
                Target::Header(name) => ops.push(HeaderOp {
                    action: m.action,
                    name: name.clone(),
                    value,
                }),
                Target::Query(name) => {
                    let pairs = query.get_or_insert_with(|| parse_query(view.query));
                    match m.action {
                        ParamAction::Append => pairs.push((name.clone(), value)),
                        ParamAction::Overwrite => {
                            pairs.retain(|(n, _)| n != name);
                            pairs.push((name.clone(), value));
                        }
                        ParamAction::Remove => pairs.retain(|(n, _)| n != name),
                    }
                }
                Target::StatusCode => {}
            }
        }
        if path.is_none() && query.is_none() {
            return (None, ops);
        }
        let mut out = path.unwrap_or_else(|| full_path.to_string());
        match query {
            Some(pairs) => {
                for (i, (name, value)) in pairs.iter().enumerate() {
                    out.push(if i == 0 { '?' } else { '&' });
                    encode_into(&mut out, name);
                    out.push('=');
                    encode_into(&mut out, value);
                }
            }
            None => {
                if let Some(q) = view.query {
                    out.push('?');
                    out.push_str(q);
                }
            }
        }
        (Some(out), ops)
    }

    /// Applies the response mappings for `status`, returning the status to send.
    pub(crate) fn apply_response(
        &self,
        status: StatusCode,
        headers: &mut HeaderMap,
        record: &Record,
    ) -> StatusCode {
        let Some(mappings) = self.response.get(&status.as_u16()) else {
            return status;
        };
        let values: Vec<String> = mappings
            .iter()
            .map(|m| evaluate(&m.value, None, Some(headers), record))
            .collect();
        let mut status = status;
        for (m, value) in mappings.iter().zip(values) {
            match &m.target {
                Target::Header(name) => apply_header(headers, m.action, name, value),
                Target::StatusCode => match value.trim().parse::<u16>() {
                    Ok(code) if (100..=599).contains(&code) => {
                        status = StatusCode::from_u16(code).unwrap_or(status);
                    }
                    _ => tracing::debug!(value, "status code mapping is not a status, ignored"),
                },
                Target::Path | Target::Query(_) => {}
            }
        }
        status
    }
}

/// A header change a request mapping asks for.
pub(crate) struct HeaderOp {
    action: ParamAction,
    name: HeaderName,
    value: String,
}

impl HeaderOp {
    /// Makes the change.
    pub(crate) fn apply(self, headers: &mut HeaderMap) {
        apply_header(headers, self.action, &self.name, self.value);
    }
}

fn apply_header(headers: &mut HeaderMap, action: ParamAction, name: &HeaderName, value: String) {
    if action == ParamAction::Remove {
        headers.remove(name);
        return;
    }
    let Ok(value) = HeaderValue::try_from(value) else {
        tracing::debug!(header = %name, "mapped header value is invalid, ignored");
        return;
    };
    if action == ParamAction::Append {
        headers.append(name.clone(), value);
    } else {
        headers.insert(name.clone(), value);
    }
}

/// Compiles one mapping, or `None` (logged) when AWS would have rejected it.
fn compile(route_key: &str, m: &ParamMapping, response: bool) -> Option<Mapping> {
    let target = match &m.target {
        ParamTarget::Path if !response && m.action == ParamAction::Overwrite => Target::Path,
        ParamTarget::StatusCode if response && m.action == ParamAction::Overwrite => {
            Target::StatusCode
        }
        ParamTarget::QueryString(name) if !response => Target::Query(name.clone()),
        ParamTarget::Header(name) => match HeaderName::try_from(name.as_str()) {
            Ok(name) if !is_reserved(name.as_str()) => Target::Header(name),
            _ => {
                tracing::warn!(route_key, header = %name, "mapping onto a reserved or invalid header, left out");
                return None;
            }
        },
        other => {
            tracing::warn!(route_key, target = ?other, "mapping target not allowed here, left out");
            return None;
        }
    };
    let value = parse_template(&m.value, |name| resolve(name, response));
    Some(Mapping {
        action: m.action,
        target,
        value,
    })
}

/// What a reference name means in a request (or response) mapping value.
fn resolve(name: &str, response: bool) -> Option<Var> {
    if let Some(ctx) = name.strip_prefix("context.") {
        return Some(Var::Context(ContextVar::parse(ctx)));
    }
    if name.starts_with("stageVariables.") {
        return Some(Var::Empty);
    }
    if response {
        if let Some(h) = name.strip_prefix("response.header.") {
            return HeaderName::try_from(h).ok().map(Var::ResponseHeader);
        }
        return name.starts_with("response.body").then_some(Var::Empty);
    }
    if name == "request.path" {
        return Some(Var::RequestPath);
    }
    if let Some(p) = name.strip_prefix("request.path.") {
        return Some(Var::RequestPathParam(p.to_string()));
    }
    if let Some(h) = name.strip_prefix("request.header.") {
        return HeaderName::try_from(h).ok().map(Var::RequestHeader);
    }
    if let Some(q) = name.strip_prefix("request.querystring.") {
        return Some(Var::RequestQuery(q.to_string()));
    }
    name.starts_with("request.body").then_some(Var::Empty)
}

fn evaluate(
    pieces: &[Piece<Var>],
    request: Option<&RequestView<'_>>,
    response: Option<&HeaderMap>,
    record: &Record,
) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Var(Var::Context(var)) => record.render(*var, &mut out, false),
            Piece::Var(Var::ResponseHeader(name)) => {
                if let Some(headers) = response {
                    join_header(&mut out, headers, name);
                }
            }
            Piece::Var(var) => {
                let Some(req) = request else { continue };
                match var {
                    Var::RequestHeader(name) => join_header(&mut out, req.headers, name),
                    Var::RequestQuery(name) => {
                        let values: Vec<String> = parse_query(req.query)
                            .into_iter()
                            .filter(|(n, _)| n == name)
                            .map(|(_, v)| v)
                            .collect();
                        out.push_str(&values.join(","));
                    }
                    Var::RequestPath => out.push_str(req.path),
                    Var::RequestPathParam(name) => {
                        if let Some((_, v)) = req.params.iter().find(|(n, _)| *n == name) {
                            out.push_str(v);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

fn join_header(out: &mut String, headers: &HeaderMap, name: &HeaderName) {
    for (i, v) in headers.get_all(name).iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(v.to_str().unwrap_or_default());
    }
}

/// The query's pairs, URL-decoded (`+` is a space, as browsers encode forms).
fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(n), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi * 16 + lo) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes all but RFC 3986 unreserved characters.
fn encode_into(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// Header names HTTP API does not let a mapping touch (§1.3, R-PM).
fn is_reserved(name: &str) -> bool {
    name.starts_with("access-control-")
        || name.starts_with("apigw-")
        || name.starts_with("x-amz-")
        || name.starts_with("x-amzn-")
        || matches!(
            name,
            "authorization"
                | "connection"
                | "content-encoding"
                | "content-length"
                | "content-location"
                | "forwarded"
                | "keep-alive"
                | "origin"
                | "proxy-authenticate"
                | "proxy-authorization"
                | "te"
                | "trailers"
                | "transfer-encoding"
                | "upgrade"
                | "x-forwarded-for"
                | "x-forwarded-host"
                | "x-forwarded-proto"
                | "via"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_round_trip() {
        assert_eq!(
            parse_query(Some("a=x%20y&b&a=z+w&c=%zz")),
            [
                ("a".to_string(), "x y".to_string()),
                ("b".to_string(), String::new()),
                ("a".to_string(), "z w".to_string()),
                ("c".to_string(), "%zz".to_string()),
            ]
        );
        let mut out = String::new();
        encode_into(&mut out, "a b/é~");
        assert_eq!(out, "a%20b%2F%C3%A9~");
    }

    #[test]
    fn reserved_headers_are_known() {
        for name in [
            "apigw-requestid",
            "x-amzn-trace-id",
            "via",
            "content-length",
        ] {
            assert!(is_reserved(name), "{name}");
        }
        assert!(!is_reserved("x-api-key"));
    }
}
