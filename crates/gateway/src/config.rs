//! What the gateway serves: the HTTP API's stage, routes and their settings, and where
//! the routes' services live. Built from a stack with [`GatewayConfig::from_stack`], or
//! by hand (tests, benchmarks) from [`GatewayConfig::new`] and its public fields.

use std::time::Duration;

use albless_spec::{AccessLog, Cors, Outlier, Route, Stage, Throttle};

/// The gateway's configuration. Every field but the namespace and routes has the
/// default HTTP API (or albless) has when the file leaves it out.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayConfig {
    /// Cloud Map namespace the routes' services live in.
    pub namespace: String,
    /// The stage serving the API: `$default` (no path prefix) or a named one whose name
    /// is the first path segment of every request and reaches the instances (§1.1, §1.3).
    pub stage: Stage,
    /// Routes, each with its service, throttle, mappings and timeout.
    pub routes: Vec<Route>,
    /// Integration timeout of routes without their own (HTTP API default 30 s, range
    /// 50 ms..=30 s).
    pub integration_timeout: Duration,
    /// How far the gateway's view of the instances trails the registry (default 0).
    pub discovery_lag: Duration,
    /// Beyond AWS: retry a bodiless idempotent request on another instance when the
    /// connection fails (default off, as AWS does not retry).
    pub retry_connect_failures: bool,
    /// Beyond AWS: passive health (default off).
    pub outlier: Option<Outlier>,
    /// CORS (default off).
    pub cors: Option<Cors>,
    /// Throttle of routes without their own (default none).
    pub throttle: Option<Throttle>,
    /// The access log (default off); a relative file is taken as given.
    pub access_log: Option<AccessLog>,
}

impl GatewayConfig {
    /// HTTP API's default integration timeout, which is also its maximum (§1.5).
    pub const DEFAULT_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);
    /// The shortest integration timeout HTTP API accepts (`TimeoutInMillis` 50, §1.5).
    pub const MIN_INTEGRATION_TIMEOUT: Duration = Duration::from_millis(50);

    /// `routes` over `namespace`, everything else at its default.
    pub fn new(namespace: impl Into<String>, routes: Vec<Route>) -> GatewayConfig {
        GatewayConfig {
            namespace: namespace.into(),
            stage: Stage::Default,
            routes,
            integration_timeout: Self::DEFAULT_INTEGRATION_TIMEOUT,
            discovery_lag: Duration::ZERO,
            retry_connect_failures: false,
            outlier: None,
            cors: None,
            throttle: None,
            access_log: None,
        }
    }

    /// The gateway configuration of `stack`'s `[api]` and `[discovery]`. A relative
    /// access-log file is resolved against the stack's folder.
    pub fn from_stack(stack: &albless_spec::Stack) -> GatewayConfig {
        let api = &stack.api;
        let access_log = api.access_log.clone().map(|mut log| {
            log.file = log.file.map(|f| stack.dir.join(f));
            log
        });
        GatewayConfig {
            namespace: stack.discovery.namespace.clone(),
            stage: api.stage.clone(),
            routes: api.routes.clone(),
            integration_timeout: api.integration_timeout,
            discovery_lag: api.discovery_lag,
            retry_connect_failures: api.retry_connect_failures,
            outlier: api.outlier,
            cors: api.cors.clone(),
            throttle: api.throttle,
            access_log,
        }
    }
}
