//! The HTTP API's model (`[api]`): stage, timeouts, CORS, throttling, access log, and
//! routes with their parameter mappings.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The access-log format used when `[api.access_log]` sets none: the console's CLF
/// preset (aws-behavior.md section 1.8).
pub const DEFAULT_ACCESS_LOG_FORMAT: &str = "$context.identity.sourceIp - - [$context.requestTime] \
     \"$context.httpMethod $context.routeKey $context.protocol\" $context.status \
     $context.responseLength $context.requestId";

/// The HTTP API (`[api]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    /// Where the local gateway listens; port 0 picks a free port. Default `127.0.0.1:8000`.
    pub listen: SocketAddr,
    /// Routes in file order.
    pub routes: Vec<Route>,
    /// The stage that serves the API (default `$default`). A named stage is the first
    /// path segment of every request, and private integrations pass it on to the backend
    /// (aws-behavior.md sections 1.1, 1.3).
    pub stage: Stage,
    /// How long the gateway waits for a backend (`integration_timeout_ms`, 50 ms to 30 s,
    /// default 30 s); past it the client gets 503, as HTTP API answers.
    pub integration_timeout: Duration,
    /// How far the gateway's view of instances lags the registry (`discovery_lag_ms`,
    /// 0 to 600 s, default 0). API Gateway caches Cloud Map answers for an unpublished
    /// time, so it keeps sending requests to deregistered tasks for a while.
    pub discovery_lag: Duration,
    /// Beyond AWS: retry an idempotent request on another instance when the connection is
    /// refused (default `false`, as API Gateway does not retry).
    pub retry_connect_failures: bool,
    /// Beyond AWS: passive health checking (`[api.outlier]`); `None` is off.
    pub outlier: Option<Outlier>,
    /// CORS configuration (`[api.cors]`); `None` is off.
    pub cors: Option<Cors>,
    /// Default route throttling (`[api.throttle]`, the stage's `defaultRouteSettings`);
    /// `None` is no limit.
    pub throttle: Option<Throttle>,
    /// The access log (`[api.access_log]`); `None` is off.
    pub access_log: Option<AccessLog>,
}

/// The stage an HTTP API is served from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Stage {
    /// `$default`: served from the root of the URL, no path prefix.
    Default,
    /// A named stage (`[A-Za-z0-9_-]{1,128}`): `/NAME` prefixes every request path.
    Named(String),
}

impl Stage {
    /// The stage name as AWS spells it (`$default` or the name).
    pub fn name(&self) -> &str {
        match self {
            Stage::Default => "$default",
            Stage::Named(name) => name,
        }
    }

    /// The first path segment a request must carry to reach this stage; `None` for
    /// `$default`.
    pub fn path_prefix(&self) -> Option<&str> {
        match self {
            Stage::Default => None,
            Stage::Named(name) => Some(name),
        }
    }
}

/// Passive health checking (`[api.outlier]`): an instance that fails too often in a row
/// is skipped for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outlier {
    /// Consecutive failed requests (connection errors, timeouts) that eject an instance
    /// (1 to 100, default 5).
    pub consecutive_failures: u32,
    /// How long an ejected instance is skipped (`eject_ms`, 1 s to 1 h, default 30 s).
    pub eject: Duration,
}

/// CORS configuration (`[api.cors]`), as the HTTP API's `corsConfiguration`
/// (aws-behavior.md section 1.7). Empty lists send no header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cors {
    /// `Access-Control-Allow-Origin` values: `*` or `scheme://host[:port]`.
    pub allow_origins: Vec<String>,
    /// `Access-Control-Allow-Methods` values: methods in upper case, or `*`.
    pub allow_methods: Vec<String>,
    /// `Access-Control-Allow-Headers` values, lower case, or `*`.
    pub allow_headers: Vec<String>,
    /// `Access-Control-Expose-Headers` values, lower case, or `*`.
    pub expose_headers: Vec<String>,
    /// `Access-Control-Allow-Credentials: true` when set (default `false`).
    pub allow_credentials: bool,
    /// `Access-Control-Max-Age` in seconds (-1 to 86400); `None` sends no header.
    pub max_age: Option<i32>,
}

/// A token bucket: `rate` tokens per second, at most `burst` stored. Excess requests get
/// 429 (aws-behavior.md section 1.5).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttle {
    /// Steady requests per second, greater than 0 (`ThrottlingRateLimit`).
    pub rate: f64,
    /// Bucket size (`ThrottlingBurstLimit`); 0 rejects every request.
    pub burst: u32,
}

/// The access log (`[api.access_log]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLog {
    /// The line format with `$context...` variables; contains `$context.requestId`, as
    /// AWS requires. Default [`DEFAULT_ACCESS_LOG_FORMAT`].
    pub format: String,
    /// Where lines go, resolved against the stack's folder; `None` is standard output.
    pub file: Option<PathBuf>,
}

/// One route of the HTTP API.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The route key as written (`$default`, `GET /pets/{id}`).
    pub key: RouteKey,
    /// Name of the service this route's integration targets.
    pub service: String,
    /// This route's throttling (the stage's `routeSettings`); `None` falls back to
    /// [`Api::throttle`].
    pub throttle: Option<Throttle>,
    /// Changes made to the request before it reaches the backend, in file order
    /// (the integration's `requestParameters`).
    pub request_parameters: Vec<ParamMapping>,
    /// Changes made to the backend's response, by backend status code (200 to 599), each
    /// list in file order (the integration's `responseParameters`).
    pub response_parameters: BTreeMap<u16, Vec<ParamMapping>>,
    /// This route's integration timeout (`timeout_ms`, 50 ms to 30 s); `None` falls back
    /// to [`Api::integration_timeout`].
    pub timeout: Option<Duration>,
}

impl Route {
    /// A route to `service` with no throttle, mappings or timeout of its own.
    pub fn new(key: RouteKey, service: impl Into<String>) -> Route {
        Route {
            key,
            service: service.into(),
            throttle: None,
            request_parameters: Vec::new(),
            response_parameters: BTreeMap::new(),
            timeout: None,
        }
    }

    /// The integration timeout in force: the route's own, else the API's.
    pub fn integration_timeout(&self, api: &Api) -> Duration {
        self.timeout.unwrap_or(api.integration_timeout)
    }

    /// The throttle in force: the route's own, else the API's default, else none.
    pub fn effective_throttle(&self, api: &Api) -> Option<Throttle> {
        self.throttle.or(api.throttle)
    }
}

/// One parameter mapping: `ACTION:TARGET = "value"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamMapping {
    /// What is done.
    pub action: ParamAction,
    /// To what.
    pub target: ParamTarget,
    /// The value as written: static text and `$request...`, `$context...` or
    /// `$response...` references, which the gateway evaluates. Ignored by `remove`.
    pub value: String,
}

/// What a parameter mapping does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamAction {
    /// `append`: add a value after those present.
    Append,
    /// `overwrite`: replace what is present.
    Overwrite,
    /// `remove`: drop what is present.
    Remove,
}

/// What a parameter mapping changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ParamTarget {
    /// `path`: the path sent to the backend (requests, `overwrite` only).
    Path,
    /// `header.NAME`: a header, its name in lower case.
    Header(String),
    /// `querystring.NAME`: a query parameter, its name as written (case-sensitive).
    QueryString(String),
    /// `statuscode`: the status returned to the client (responses, `overwrite` only).
    StatusCode,
}

/// A parsed route key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RouteKey {
    /// The `$default` route: catches what no other route matches.
    Default,
    /// `METHOD /path`.
    Path {
        /// The method; `None` is `ANY`.
        method: Option<String>,
        /// The path's segments, in order. The root path `/` has none.
        segments: Vec<Segment>,
    },
}

/// One segment of a route path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A literal segment, matched exactly.
    Literal(String),
    /// `{name}`: exactly one segment.
    Param(String),
    /// `{name+}`: one or more segments; only ever the last segment.
    Greedy(String),
}

impl std::fmt::Display for RouteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteKey::Default => f.write_str("$default"),
            RouteKey::Path { method, segments } => {
                f.write_str(method.as_deref().unwrap_or("ANY"))?;
                f.write_str(" ")?;
                if segments.is_empty() {
                    return f.write_str("/");
                }
                for s in segments {
                    match s {
                        Segment::Literal(l) => write!(f, "/{l}")?,
                        Segment::Param(p) => write!(f, "/{{{p}}}")?,
                        Segment::Greedy(p) => write!(f, "/{{{p}+}}")?,
                    }
                }
                Ok(())
            }
        }
    }
}
