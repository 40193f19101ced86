//! The ECS services' model (`[services.NAME]`): what runs, its size, health check,
//! deployment settings, capacity providers, schedules and logs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDateTime;
use chrono_tz::Tz;

use super::Api;

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
    /// How tasks run locally: `process` when `command` is set, else `docker`.
    pub driver: Driver,
    /// The folder holding the `Dockerfile` to build the image from, resolved against the
    /// stack's folder; checked to exist when the file is read.
    pub build: Option<PathBuf>,
    /// When a task without health check counts as healthy: this long after RUNNING
    /// (0 to 600 s, default 40 s, as the ECS scheduler waits).
    pub healthy_after: Duration,
    /// Lower bound of running tasks during a deployment, percent of the desired count,
    /// rounded up (ECS `minimumHealthyPercent`, 0 to 100, default 100).
    pub min_healthy_percent: u32,
    /// Upper bound of running and pending tasks during a deployment, percent of the
    /// desired count, rounded down (ECS `maximumPercent`, 100 to 200, default 200).
    pub max_percent: u32,
    /// The deployment circuit breaker (`[services.NAME.circuit_breaker]`).
    pub circuit_breaker: CircuitBreaker,
    /// How long a replaced task keeps serving after deregistration (`drain_ms`, 0 to
    /// 600 s); `None` is the API's discovery lag, see [`Service::drain`].
    pub drain: Option<Duration>,
    /// The capacity provider strategy, in file order. Default: `FARGATE`, base 0, weight 1.
    pub capacity: Vec<CapacityItem>,
    /// Scheduled scaling actions (`[[services.NAME.schedule]]`), in file order.
    pub schedule: Vec<ScheduledAction>,
    /// Beyond AWS: stop every task when idle and start one on the next request
    /// (`[services.NAME.scale_to_zero]`); `None` is off.
    pub scale_to_zero: Option<ScaleToZero>,
    /// The CloudWatch log group settings (`[services.NAME.logging]`); `None` keeps logs
    /// forever on AWS.
    pub logging: Option<Logging>,
}

impl Service {
    /// How long a replaced task keeps serving after deregistration: `drain_ms` if set,
    /// else the API's [`Api::discovery_lag`], so no request reaches a stopped task.
    pub fn drain(&self, api: &Api) -> Duration {
        self.drain.unwrap_or(api.discovery_lag)
    }
}

/// How a service's tasks run locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// A host process started from `command`.
    Process,
    /// A Docker container from `image` or `build`.
    Docker,
}

/// The deployment circuit breaker (ECS `deploymentCircuitBreaker`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitBreaker {
    /// Whether a deployment that keeps failing is stopped (default `true`).
    pub enable: bool,
    /// Whether a stopped deployment rolls back to the last completed one (default `true`).
    pub rollback: bool,
    /// Failed tasks that trip the breaker (1 to 200); `None` is ECS's rule,
    /// clamp(ceil(desired / 2), 3, 200) (aws-behavior.md section 4.4).
    pub threshold: Option<u32>,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        CircuitBreaker {
            enable: true,
            rollback: true,
            threshold: None,
        }
    }
}

/// One item of a capacity provider strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityItem {
    /// The capacity provider.
    pub provider: CapacityProvider,
    /// Tasks placed on this provider first (0 to 100000; only one item may set it).
    pub base: u32,
    /// Share of the tasks beyond the bases (0 to 1000).
    pub weight: u32,
}

/// A Fargate capacity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapacityProvider {
    /// `FARGATE`: on-demand.
    Fargate,
    /// `FARGATE_SPOT`: interruptible, with a two-minute warning.
    FargateSpot,
}

impl CapacityProvider {
    /// The name AWS uses (`FARGATE`, `FARGATE_SPOT`).
    pub fn name(self) -> &'static str {
        match self {
            CapacityProvider::Fargate => "FARGATE",
            CapacityProvider::FargateSpot => "FARGATE_SPOT",
        }
    }
}

/// A scheduled scaling action (Application Auto Scaling `PutScheduledAction`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledAction {
    /// Name, unique within the service (`[A-Za-z0-9_-]`, 1 to 256 characters).
    pub name: String,
    /// When it runs.
    pub schedule: ScheduleExpr,
    /// The zone `cron` and `at` are read in (IANA name, default UTC).
    pub timezone: Tz,
    /// New minimum task count, if any.
    pub min_capacity: Option<u32>,
    /// New maximum task count, if any; at least `min_capacity`.
    pub max_capacity: Option<u32>,
}

/// A schedule as Application Auto Scaling takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleExpr {
    /// `cron(minutes hours day-of-month month day-of-week year)`.
    Cron(CronExpr),
    /// `at(yyyy-mm-ddThh:mm:ss)`: once, in the action's time zone.
    At(NaiveDateTime),
    /// `rate(N unit)`: every N minutes, hours or days.
    Rate(Duration),
}

/// The six fields of a `cron(...)` schedule, each as written and checked against the
/// field's values and wildcards (`, - * / ? L W #`). Exactly one of `day_of_month` and
/// `day_of_week` is `?`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CronExpr {
    /// 0 to 59.
    pub minutes: String,
    /// 0 to 23.
    pub hours: String,
    /// 1 to 31, `?`, `L`, `NW`.
    pub day_of_month: String,
    /// 1 to 12 or `JAN` to `DEC`.
    pub month: String,
    /// 1 to 7 or `SUN` to `SAT`, `?`, `NL`, `N#K`.
    pub day_of_week: String,
    /// 1970 to 2199.
    pub year: String,
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cron({} {} {} {} {} {})",
            self.minutes, self.hours, self.day_of_month, self.month, self.day_of_week, self.year
        )
    }
}

/// Wake on request (`[services.NAME.scale_to_zero]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleToZero {
    /// Stop every task after this long without a request (10 s to 24 h, default 300 s).
    pub idle_after: Duration,
    /// How long a request waits for a woken task before 503 (1 to 300 s, default 30 s).
    pub wake_timeout: Duration,
}

/// The service's CloudWatch log group (`[services.NAME.logging]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logging {
    /// Days logs are kept: one of the values CloudWatch Logs accepts (default 7).
    pub retention_days: u32,
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
