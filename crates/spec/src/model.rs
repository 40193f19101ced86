//! The validated stack model: what an `albless.toml` means once it has been parsed,
//! defaulted and checked. Every other crate reads these types; none reads the file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A whole stack: one `albless.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    /// The file this stack was read from (as given, not canonicalized).
    pub path: PathBuf,
    /// The folder holding the file: relative paths in the file resolve against it.
    pub dir: PathBuf,
    /// Format version of the file (`version = 1`).
    pub version: u32,
    /// Stack name (`[stack] name`): CloudFormation stack name on AWS, ECS cluster name locally.
    pub name: String,
    /// AWS region (`[stack] region`), reported in instance attributes locally.
    pub region: String,
    /// The HTTP API's settings.
    pub api: Api,
    /// Service discovery (Cloud Map namespace and DNS).
    pub discovery: Discovery,
    /// Services by name, in name order.
    pub services: BTreeMap<String, Service>,
}

/// The HTTP API (`[api]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    /// Where the local gateway listens; port 0 picks a free port. Default `127.0.0.1:8000`.
    pub listen: SocketAddr,
    /// Routes in file order.
    pub routes: Vec<Route>,
}

/// One route of the HTTP API.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The route key as written (`$default`, `GET /pets/{id}`).
    pub key: RouteKey,
    /// Name of the service this route's integration targets.
    pub service: String,
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

/// Service discovery (`[discovery]`): the Cloud Map private DNS namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    /// Namespace name. Default `ecs.local`.
    pub namespace: String,
    /// DNS record types the services register. Default SRV.
    pub record_type: RecordType,
    /// TTL of the DNS records, seconds. Default 10.
    pub ttl: u32,
    /// Where the local DNS server listens (UDP and TCP); port 0 picks a free port.
    /// Default `127.0.0.1:8053`.
    pub dns_listen: SocketAddr,
}

/// Which DNS records a Cloud Map service holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    /// SRV records (and A records for each instance's target name).
    Srv,
    /// A records only (no port: the HTTP API integration cannot use these).
    A,
    /// SRV and A records.
    SrvAndA,
}

/// CPU architecture of the task (`arch`), used on AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// `x86_64`.
    X86_64,
    /// `arm64` (Graviton).
    Arm64,
}

/// One ECS service (`[services.NAME]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// Service name: also its Cloud Map service name.
    pub name: String,
    /// Local process driver command: program and arguments. A bare program name is looked
    /// up beside the albless binary first, then on `PATH`; a relative path resolves against
    /// the stack's folder.
    pub command: Option<Vec<String>>,
    /// Container image, for AWS.
    pub image: Option<String>,
    /// Container port the task listens on.
    pub port: u16,
    /// CPU units (Fargate sizes: 256, 512, 1024, 2048, 4096, 8192, 16384).
    pub cpu: u32,
    /// Memory, MiB, valid for the CPU size.
    pub memory: u32,
    /// CPU architecture on AWS.
    pub arch: Arch,
    /// How many tasks to keep running.
    pub desired_count: u32,
    /// Environment of each task.
    pub environment: BTreeMap<String, String>,
    /// Container health check, if any.
    pub health_check: Option<HealthCheck>,
    /// Time from SIGTERM to SIGKILL when a task stops (ECS `stopTimeout`, default 30 s).
    pub stop_timeout: Duration,
}

/// A container health check, as ECS defines one.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    /// What is checked.
    pub kind: HealthCheckKind,
    /// Time between checks (ECS default 30 s).
    pub interval: Duration,
    /// Time before one check counts as failed (ECS default 5 s).
    pub timeout: Duration,
    /// Consecutive failures that make the task UNHEALTHY (ECS default 3).
    pub retries: u32,
    /// Grace period after start during which failures do not count (default 0).
    pub start_period: Duration,
}

/// What a health check runs.
#[derive(Debug, Clone, PartialEq)]
pub enum HealthCheckKind {
    /// `GET http://<task ip>:<port><path>`; a 2xx or 3xx status passes.
    Http {
        /// The path, starting with `/`.
        path: String,
    },
    /// A command run on the host in the task's environment; exit 0 passes.
    Command(Vec<String>),
}
