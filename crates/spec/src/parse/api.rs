//! `[api]`: the HTTP API's listener, stage, timeouts, passive health, CORS, default
//! throttling and access log; each route's own table is read by the `routes` module.

use std::collections::BTreeMap;

use toml::Spanned;
use toml::de::{DeString, DeTable};

use super::{invalid, millis, routes, socket_addr};
use crate::error::Kind;
use crate::model::{
    AccessLog, Api, Cors, DEFAULT_ACCESS_LOG_FORMAT, Outlier, Route, RouteKey, Service, Stage,
    Throttle,
};
use crate::route_key::METHODS;
use crate::walk::{Result, Table};

const DEFAULT_API_LISTEN: &str = "127.0.0.1:8000";

/// `[api]` and `[api.routes]`; routes must name services in `services`.
pub(super) fn api(root: &Table<'_, '_>, services: &BTreeMap<String, Service>) -> Result<Api> {
    let empty = DeTable::new();
    let api = match root.table("api", "api")? {
        Some(t) => t,
        None => Table {
            path: "api",
            map: &empty,
            ..root.clone()
        },
    };
    api.deny_unknown(&[
        "listen",
        "routes",
        "stage",
        "integration_timeout_ms",
        "discovery_lag_ms",
        "retry_connect_failures",
        "outlier",
        "cors",
        "throttle",
        "access_log",
    ])?;
    let listen = socket_addr(&api, "listen", DEFAULT_API_LISTEN)?;
    let stage = stage(&api)?;
    // TimeoutInMillis of an HTTP API integration: 50 to 30000 (aws-behavior.md section 1.5).
    let integration_timeout = millis(&api, "integration_timeout_ms", 50, 30_000, 30_000)?;
    // Ten minutes is far past any cache API Gateway was seen to keep.
    let discovery_lag = millis(&api, "discovery_lag_ms", 0, 600_000, 0)?;
    let retry_connect_failures = api.bool_or("retry_connect_failures", false)?;
    let outlier = outlier(&api)?;
    let cors = cors(&api)?;
    let throttle = throttle(&api, "throttle")?;
    let access_log = access_log(&api)?;

    let no_routes = |span| {
        root.ctx
            .error(
                Kind::Missing,
                span,
                "api.routes",
                "no routes: the HTTP API needs at least one",
            )
            .with_help("add `[api.routes]` with `\"$default\" = { service = \"NAME\" }`")
    };
    let routes_table = api
        .table("routes", "api.routes")?
        .ok_or_else(|| no_routes(api.span.clone()))?;
    if routes_table.map.is_empty() {
        return Err(no_routes(routes_table.span.clone()));
    }

    let mut routes: Vec<(Route, &Spanned<DeString<'_>>)> = Vec::new();
    for (key, value) in routes_table.entries() {
        let written: &str = key.get_ref();
        let path = routes_table.field(written);
        let parsed: RouteKey = written.parse().map_err(|e| {
            let err = root.ctx.error(
                Kind::InvalidRouteKey,
                key.span(),
                path.clone(),
                format!("invalid route key `{written}`: {e}"),
            );
            match written.split_once(' ') {
                Some((m, _)) if m != m.to_ascii_uppercase() => err.with_help(format!(
                    "methods are upper case: `{}`",
                    m.to_ascii_uppercase()
                )),
                _ => err.with_help(
                    "a route key is `$default` or `METHOD /path`, e.g. `GET /pets/{id}`",
                ),
            }
        })?;
        if let Some((_, first)) = routes.iter().find(|(r, _)| r.key.same_shape(&parsed)) {
            let (line, _) = crate::error::line_column(root.ctx.text, first.span().start);
            return Err(root
                .ctx
                .error(
                    Kind::Invalid,
                    key.span(),
                    path,
                    format!(
                        "route `{written}` duplicates `{}` (line {line})",
                        first.get_ref()
                    ),
                )
                .with_help("two routes with the same method and path shape cannot be told apart"));
        }

        let route = routes_table.as_table(value, &path)?;
        routes.push((routes::route(&route, parsed, services)?, key));
    }
    Ok(Api {
        listen,
        routes: routes.into_iter().map(|(r, _)| r).collect(),
        stage,
        integration_timeout,
        discovery_lag,
        retry_connect_failures,
        outlier,
        cors,
        throttle,
        access_log,
    })
}

/// `stage`: `$default` or a name of 1 to 128 `[A-Za-z0-9_-]`.
fn stage(api: &Table<'_, '_>) -> Result<Stage> {
    let Some(name) = api.string("stage")? else {
        return Ok(Stage::Default);
    };
    let n: &str = name.as_ref();
    if n == "$default" {
        return Ok(Stage::Default);
    }
    let valid = (1..=128).contains(&n.len())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(
            invalid(api, &name, "stage", format!("invalid stage name `{n}`"))
                .with_help("a stage is `$default` or 1 to 128 letters, digits, `_` and `-`"),
        );
    }
    Ok(Stage::Named(n.to_owned()))
}

/// `[api.outlier]`: off unless the table is there.
fn outlier(api: &Table<'_, '_>) -> Result<Option<Outlier>> {
    let Some(t) = api.table("outlier", "api.outlier")? else {
        return Ok(None);
    };
    t.deny_unknown(&["consecutive_failures", "eject_ms"])?;
    Ok(Some(Outlier {
        consecutive_failures: t.int_or("consecutive_failures", 1, 100, 5)? as u32,
        eject: millis(&t, "eject_ms", 1000, 3_600_000, 30_000)?,
    }))
}

/// A `{ rate, burst }` table at `key` (`[api.throttle]` or a route's `throttle`), as a
/// stage's `ThrottlingRateLimit` (a double) and `ThrottlingBurstLimit` (an integer).
pub(super) fn throttle(t: &Table<'_, '_>, key: &str) -> Result<Option<Throttle>> {
    let path = t.field(key);
    let Some(th) = t.table(key, &path)? else {
        return Ok(None);
    };
    th.deny_unknown(&["rate", "burst"])?;
    let rate = th.number("rate")?.ok_or_else(|| th.missing("rate"))?;
    if *rate.as_ref() <= 0.0 {
        return Err(th
            .error(
                Kind::OutOfRange,
                rate.span(),
                "rate",
                format!("must be greater than 0, found {}", rate.as_ref()),
            )
            .with_help("`rate` is requests per second; to refuse every request set `burst = 0`"));
    }
    let burst = th
        .int("burst", 0, i64::from(i32::MAX))?
        .ok_or_else(|| th.missing("burst"))?;
    Ok(Some(Throttle {
        rate: rate.into_inner(),
        burst: burst.into_inner() as u32,
    }))
}

/// `[api.cors]`, checked as `corsConfiguration` is (aws-behavior.md section 1.7).
fn cors(api: &Table<'_, '_>) -> Result<Option<Cors>> {
    let Some(t) = api.table("cors", "api.cors")? else {
        return Ok(None);
    };
    t.deny_unknown(&[
        "allow_origins",
        "allow_methods",
        "allow_headers",
        "expose_headers",
        "allow_credentials",
        "max_age",
    ])?;
    let origins = list_of(&t, "allow_origins", |o| {
        let ok = o == "*"
            || ["http://", "https://"].iter().any(|scheme| {
                o.strip_prefix(scheme)
                    .is_some_and(|host| !host.is_empty() && !host.contains(['/', ' ', '?', '#']))
            });
        (!ok).then(|| format!("`{o}` is not `*` or an origin such as `https://example.com`"))
    })?;
    let methods = list_of(&t, "allow_methods", |m| {
        let ok = m == "*" || (METHODS.contains(&m) && m != "ANY");
        (!ok).then(|| format!("`{m}` is not `*` or an HTTP method in upper case"))
    })?;
    let header = |h: &str| {
        let ok = h == "*" || (!h.is_empty() && h.chars().all(is_tchar));
        (!ok).then(|| format!("`{h}` is not `*` or a header name"))
    };
    let headers = list_of(&t, "allow_headers", header)?;
    let expose = list_of(&t, "expose_headers", header)?;
    let credentials = t.bool("allow_credentials")?;
    // API Gateway refuses this pair: "allow-credentials is not supported if 'allow-origin'
    // is *" (reported in aws/aws-cdk#9076); browsers would refuse it too.
    if let Some(c) = &credentials
        && *c.as_ref()
        && origins.iter().any(|o| o == "*")
    {
        return Err(t
            .error(
                Kind::Conflict,
                c.span(),
                "allow_credentials",
                "allow_credentials is not supported when allow_origins has `*`",
            )
            .with_help("list the origins explicitly"));
    }
    let max_age = t.int("max_age", -1, 86_400)?.map(|v| *v.as_ref() as i32);
    Ok(Some(Cors {
        allow_origins: origins,
        allow_methods: methods,
        allow_headers: headers
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        expose_headers: expose.into_iter().map(|h| h.to_ascii_lowercase()).collect(),
        allow_credentials: credentials.is_some_and(Spanned::into_inner),
        max_age,
    }))
}

/// A possibly empty array of strings at `key`, each passed through `check` (which says
/// why a value is bad).
fn list_of(
    t: &Table<'_, '_>,
    key: &str,
    check: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>> {
    let Some(items) = t.string_items(key)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, item) in items.into_inner().into_iter().enumerate() {
        if let Some(why) = check(item.as_ref()) {
            let field = format!("{}[{i}]", t.field(key));
            return Err(t.ctx.error(Kind::Invalid, item.span(), field, why));
        }
        out.push(item.into_inner());
    }
    Ok(out)
}

/// An RFC 9110 token character, the characters of a header name.
pub(super) fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// `[api.access_log]`: the format must name `$context.requestId` and fit AWS's 3 KB
/// template limit (aws-behavior.md section 1.5); `file` resolves against the stack folder.
fn access_log(api: &Table<'_, '_>) -> Result<Option<AccessLog>> {
    let Some(t) = api.table("access_log", "api.access_log")? else {
        return Ok(None);
    };
    t.deny_unknown(&["format", "file"])?;
    let format = match t.string("format")? {
        None => DEFAULT_ACCESS_LOG_FORMAT.to_owned(),
        Some(f) => {
            if !f.as_ref().contains("$context.requestId") {
                return Err(invalid(
                    &t,
                    &f,
                    "format",
                    "the format must contain `$context.requestId`",
                )
                .with_help("AWS refuses an access-log format without `$context.requestId`"));
            }
            if f.as_ref().len() > 3072 || f.as_ref().contains(['\n', '\r']) {
                return Err(invalid(
                    &t,
                    &f,
                    "format",
                    "the format must be one line of at most 3 KB",
                ));
            }
            f.as_ref().to_string()
        }
    };
    let file = match t.string("file")? {
        None => None,
        Some(f) if f.as_ref().is_empty() => {
            return Err(invalid(&t, &f, "file", "must not be empty")
                .with_help("leave `file` out to log to standard output"));
        }
        Some(f) => Some(t.ctx.dir.join(f.as_ref())),
    };
    Ok(Some(AccessLog { format, file }))
}
