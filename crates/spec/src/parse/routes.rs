//! One route's table (`[api.routes."KEY"]`): its service, throttle, timeout and
//! parameter mappings, checked as the HTTP API checks an integration's
//! `requestParameters` and `responseParameters` (aws-behavior.md sections 1.3, 1.4).
//!
//! Known limits: values are checked for the `$request`, `$response`, `$context` and
//! `$stageVariables` references they hold, not evaluated; `$request.body` JSON paths are
//! taken as written.

use std::collections::BTreeMap;
use std::time::Duration;

use toml::de::DeValue;

use super::api::{is_tchar, throttle};
use crate::error::Kind;
use crate::model::{ParamAction, ParamMapping, ParamTarget, Route, RouteKey, Segment, Service};
use crate::walk::{Result, Table, closest, list};

/// Headers no mapping may touch: "Reserved headers" of the HTTP API parameter mapping
/// guide (aws-behavior.md section 1.3). Lower case; a trailing `-` is a prefix.
const RESERVED_HEADERS: [&str; 22] = [
    "access-control-",
    "apigw-",
    "authorization",
    "connection",
    "content-encoding",
    "content-length",
    "content-location",
    "forwarded",
    "keep-alive",
    "origin",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "x-amz-",
    "x-amzn-",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "via",
];

/// Which side of the integration a mapping changes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

/// One route's table.
pub(super) fn route(
    t: &Table<'_, '_>,
    key: RouteKey,
    services: &BTreeMap<String, Service>,
) -> Result<Route> {
    t.deny_unknown(&[
        "service",
        "throttle",
        "timeout_ms",
        "request_parameters",
        "response_parameters",
    ])?;
    let service = route_service(t, services)?;
    let throttle = throttle(t, "throttle")?;
    let timeout = t
        .int("timeout_ms", 50, 30_000)?
        .map(|ms| Duration::from_millis(*ms.as_ref() as u64));

    let path = t.field("request_parameters");
    let request_parameters = match t.table("request_parameters", &path)? {
        Some(p) => mappings(&p, Side::Request, &key)?,
        None => Vec::new(),
    };

    let mut response_parameters = BTreeMap::new();
    let path = t.field("response_parameters");
    if let Some(codes) = t.table("response_parameters", &path)? {
        for (code, value) in codes.entries() {
            let c: &str = code.get_ref();
            let field = codes.field(c);
            let status = c
                .parse::<u16>()
                .ok()
                .filter(|s| (200..=599).contains(s) && c.len() == 3);
            let Some(status) = status else {
                return Err(t
                    .ctx
                    .error(
                        Kind::Invalid,
                        code.span(),
                        field,
                        format!("`{c}` is not a status code from 200 to 599"),
                    )
                    .with_help(
                        "response mappings are keyed by the backend's status code, e.g. `\"500\"`",
                    ));
            };
            let table = codes.as_table(value, &field)?;
            response_parameters.insert(status, mappings(&table, Side::Response, &key)?);
        }
    }

    Ok(Route {
        key,
        service,
        throttle,
        request_parameters,
        response_parameters,
        timeout,
    })
}

/// The mappings of one table, in file order.
fn mappings(t: &Table<'_, '_>, side: Side, route: &RouteKey) -> Result<Vec<ParamMapping>> {
    let mut out: Vec<ParamMapping> = Vec::new();
    for (key, value) in t.entries() {
        let k: &str = key.get_ref();
        let field = t.field(k);
        let (action, target) = mapping_key(k, side).map_err(|(why, help)| {
            let err = t.ctx.error(Kind::Invalid, key.span(), field.clone(), why);
            match help {
                Some(help) => err.with_help(help),
                None => err,
            }
        })?;
        if out.iter().any(|m| m.action == action && m.target == target) {
            return Err(t.ctx.error(
                Kind::Conflict,
                key.span(),
                field,
                format!("`{k}` repeats a mapping (header names ignore case)"),
            ));
        }
        let DeValue::String(v) = value.as_ref() else {
            return Err(t.wrong_type(field, value, "a string"));
        };
        if action != ParamAction::Remove {
            check_value(v, side, route, &target)
                .map_err(|why| t.ctx.error(Kind::Invalid, value.span(), field.clone(), why))?;
        }
        out.push(ParamMapping {
            action,
            target,
            value: v.to_string(),
        });
    }
    Ok(out)
}

/// `ACTION:TARGET`, or why not (with a hint).
fn mapping_key(
    key: &str,
    side: Side,
) -> std::result::Result<(ParamAction, ParamTarget), (String, Option<String>)> {
    let shape = || match side {
        Side::Request => {
            "a request mapping is `append|overwrite|remove:header.NAME`, \
             `append|overwrite|remove:querystring.NAME` or `overwrite:path`"
        }
        Side::Response => {
            "a response mapping is `append|overwrite|remove:header.NAME` or \
             `overwrite:statuscode`"
        }
    };
    let Some((action, written)) = key.split_once(':') else {
        return Err((
            format!("`{key}` is not `ACTION:TARGET`"),
            Some(shape().to_owned()),
        ));
    };
    let action = match action {
        "append" => ParamAction::Append,
        "overwrite" => ParamAction::Overwrite,
        "remove" => ParamAction::Remove,
        _ => {
            let near = closest(action, &["append", "overwrite", "remove"]);
            let help = near.map_or(shape().to_owned(), |n| format!("did you mean `{n}`?"));
            return Err((format!("unknown action `{action}`"), Some(help)));
        }
    };
    let target = match (written.split_once('.'), side) {
        (None, Side::Request) if written == "path" => ParamTarget::Path,
        (None, Side::Response) if written == "statuscode" => ParamTarget::StatusCode,
        (Some(("header", name)), _) => ParamTarget::Header(header_name(name)?),
        (Some(("querystring", name)), Side::Request) if valid_query_name(name) => {
            ParamTarget::QueryString(name.to_owned())
        }
        (Some(("querystring", name)), Side::Request) => {
            return Err((format!("`{name}` is not a query string name"), None));
        }
        _ => {
            let why = format!("`{written}` cannot be changed by a {}", side.noun());
            return Err((why, Some(shape().to_owned())));
        }
    };
    if matches!(target, ParamTarget::Path | ParamTarget::StatusCode)
        && action != ParamAction::Overwrite
    {
        return Err((
            format!("`{written}` can only be overwritten"),
            Some(format!("write `overwrite:{written}`")),
        ));
    }
    Ok((action, target))
}

impl Side {
    fn noun(self) -> &'static str {
        match self {
            Side::Request => "request mapping",
            Side::Response => "response mapping",
        }
    }
}

/// A header name a mapping may change, in lower case.
fn header_name(name: &str) -> std::result::Result<String, (String, Option<String>)> {
    if name.is_empty() || !name.chars().all(is_tchar) {
        return Err((format!("`{name}` is not a header name"), None));
    }
    let lower = name.to_ascii_lowercase();
    let reserved = RESERVED_HEADERS.iter().any(|r| match r.strip_suffix('-') {
        Some(_) => lower.starts_with(r),
        None => lower == *r,
    });
    if reserved {
        return Err((
            format!(
                "`{name}` is a reserved header: API Gateway refuses request and response mappings of it"
            ),
            Some(format!(
                "reserved headers: {}",
                list(&RESERVED_HEADERS.map(|r| if r.ends_with('-') {
                    format!("{r}*")
                } else {
                    r.to_owned()
                }))
            )),
        ));
    }
    Ok(lower)
}

/// A query string name: printable ASCII without the characters that delimit a query.
fn valid_query_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && !"&=#?".contains(c))
}

/// The `$...` references in a mapping value: `$request...` only in request mappings,
/// `$response...` only in response mappings, `$request.path.NAME` only for a variable of
/// the route, and no stage variables (albless has none). Other `$` text is static.
fn check_value(
    value: &str,
    side: Side,
    route: &RouteKey,
    target: &ParamTarget,
) -> std::result::Result<(), String> {
    if value.is_empty() {
        return Err("a mapping needs a value".to_owned());
    }
    if *target == ParamTarget::StatusCode && !value.contains('$') {
        let ok = value.len() == 3 && value.parse::<u16>().is_ok_and(|s| (100..=599).contains(&s));
        if !ok {
            return Err(format!("`{value}` is not a status code from 100 to 599"));
        }
    }
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        let (reference, next) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("unclosed `${{` in `{value}`"))?;
            (&braced[..end], &braced[end + 1..])
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        check_reference(reference, side, route)?;
        rest = next;
    }
    Ok(())
}

/// One reference, without its `$` and braces.
fn check_reference(
    reference: &str,
    side: Side,
    route: &RouteKey,
) -> std::result::Result<(), String> {
    let (root, rest) = reference.split_once('.').unwrap_or((reference, ""));
    match (root, side) {
        ("request", Side::Response) => Err(format!(
            "`${reference}` is not available in a response mapping"
        )),
        ("response", Side::Request) => Err(format!(
            "`${reference}` is not available in a request mapping"
        )),
        ("stageVariables", _) => Err(format!("`${reference}`: albless has no stage variables")),
        ("context", _)
            if rest.is_empty()
                || !rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') =>
        {
            Err(format!("`${reference}` is not a context variable"))
        }
        ("request", _) => {
            let (part, name) = rest.split_once('.').unwrap_or((rest, ""));
            match part {
                "path" if name.is_empty() => Ok(()),
                "path" if route_has_variable(route, name) => Ok(()),
                "path" => Err(format!(
                    "`${reference}`: route `{route}` has no path variable `{name}`"
                )),
                "header" | "querystring" if !name.is_empty() => Ok(()),
                "body" => Ok(()),
                _ => Err(format!(
                    "`${reference}` is not a request value (header, querystring, body, path)"
                )),
            }
        }
        ("response", _) => {
            let (part, name) = rest.split_once('.').unwrap_or((rest, ""));
            match part {
                "header" if !name.is_empty() => Ok(()),
                "body" => Ok(()),
                _ => Err(format!(
                    "`${reference}` is not a response value (header, body)"
                )),
            }
        }
        _ => Ok(()),
    }
}

/// Whether `route` has a `{name}` or `{name+}` segment.
fn route_has_variable(route: &RouteKey, name: &str) -> bool {
    match route {
        RouteKey::Default => false,
        RouteKey::Path { segments, .. } => segments.iter().any(|s| match s {
            Segment::Param(p) | Segment::Greedy(p) => p == name,
            Segment::Literal(_) => false,
        }),
    }
}

/// The `service` of one route's table, which must exist.
fn route_service(route: &Table<'_, '_>, services: &BTreeMap<String, Service>) -> Result<String> {
    let name = route
        .string("service")?
        .ok_or_else(|| route.missing("service"))?;
    let n: &str = name.as_ref();
    if services.contains_key(n) {
        return Ok(n.to_owned());
    }
    let known: Vec<&str> = services.keys().map(String::as_str).collect();
    let help = match closest(n, &known) {
        Some(near) => format!("did you mean `{near}`? known services: {}", list(&known)),
        None => format!("known services: {}", list(&known)),
    };
    Err(route
        .ctx
        .error(
            Kind::UnknownService,
            name.span(),
            route.field("service"),
            format!("no service named `{n}`"),
        )
        .with_help(help))
}
