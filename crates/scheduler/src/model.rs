//! The ECS model as the scheduler reports it: task definitions, services with their
//! deployments and events, and tasks with their lifecycle (aws-behavior.md §4.1, §4.2).
//!
//! These are plain Rust values, copies taken under the scheduler's lock; the `api`
//! crate turns them into AWS JSON. Times are Unix epoch seconds (with fractions), read
//! from the scheduler's [`Clock`](crate::Clock) so that a paused test clock moves them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use albless_spec::HealthCheck;

/// What a task definition revision holds: everything that, when it changes, makes a
/// new revision and a rolling deployment (issue #5: command, environment, port, health
/// check, size).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDefinitionSpec {
    /// `<stack>-<service>` for a service's definitions.
    pub family: String,
    /// Local process command, if any.
    pub command: Option<Vec<String>>,
    /// Container image (used on AWS; reported locally).
    pub image: Option<String>,
    /// Container port.
    pub port: u16,
    /// CPU units.
    pub cpu: u32,
    /// Memory, MiB.
    pub memory: u32,
    /// `ARM64` or `X86_64`.
    pub cpu_architecture: String,
    /// Container environment.
    pub environment: BTreeMap<String, String>,
    /// Container health check.
    pub health_check: Option<HealthCheck>,
    /// SIGTERM to SIGKILL.
    pub stop_timeout: Duration,
}

impl TaskDefinitionSpec {
    /// The definition a service of `stack` gets from albless.toml.
    pub fn from_service(stack: &albless_spec::Stack, service: &albless_spec::Service) -> Self {
        TaskDefinitionSpec {
            family: format!("{}-{}", stack.name, service.name),
            command: service.command.clone(),
            image: service.image.clone(),
            port: service.port,
            cpu: service.cpu,
            memory: service.memory,
            cpu_architecture: match service.arch {
                albless_spec::Arch::Arm64 => "ARM64".into(),
                albless_spec::Arch::X86_64 => "X86_64".into(),
            },
            environment: service.environment.clone(),
            health_check: service.health_check.clone(),
            stop_timeout: service.stop_timeout,
        }
    }
}

/// One registered revision of a task definition family.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDefinition {
    /// `arn:aws:ecs:<region>:000000000000:task-definition/<family>:<revision>`.
    pub arn: String,
    /// Revision number, from 1.
    pub revision: u32,
    /// What it runs.
    pub spec: TaskDefinitionSpec,
    /// When it was registered.
    pub registered_at: f64,
}

/// `lastStatus` of a task (ECS task lifecycle, §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaskStatus {
    /// Resources (here: a loopback address) are being set up.
    Provisioning,
    /// Started, not yet passing its first health check (or accepting connections).
    Pending,
    /// Being registered in Cloud Map.
    Activating,
    /// Running (and registered, for a service task).
    Running,
    /// Deregistered, draining before it is signalled.
    Deactivating,
    /// SIGTERM sent, waiting for it to exit (SIGKILL after the stop timeout).
    Stopping,
    /// Releasing its resources.
    Deprovisioning,
    /// Gone; visible for an hour.
    Stopped,
}

impl TaskStatus {
    /// The ECS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Provisioning => "PROVISIONING",
            TaskStatus::Pending => "PENDING",
            TaskStatus::Activating => "ACTIVATING",
            TaskStatus::Running => "RUNNING",
            TaskStatus::Deactivating => "DEACTIVATING",
            TaskStatus::Stopping => "STOPPING",
            TaskStatus::Deprovisioning => "DEPROVISIONING",
            TaskStatus::Stopped => "STOPPED",
        }
    }
}

/// Task health as ECS reports it (§4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskHealth {
    /// Every essential container with a check passes it.
    Healthy,
    /// A container failed its check `retries` times in a row.
    Unhealthy,
    /// No check, or no verdict yet.
    Unknown,
}

impl TaskHealth {
    /// The ECS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskHealth::Healthy => "HEALTHY",
            TaskHealth::Unhealthy => "UNHEALTHY",
            TaskHealth::Unknown => "UNKNOWN",
        }
    }
}

/// Why a task stopped (ECS `stopCode`, §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCode {
    /// It never got running (no command, no address, spawn failure, failed checks).
    TaskFailedToStart,
    /// Its process exited.
    EssentialContainerExited,
    /// StopTask.
    UserInitiated,
    /// The service scheduler stopped it (scale in, deployment, unhealthy, shutdown).
    ServiceSchedulerInitiated,
    /// A Fargate Spot interruption (§4.6).
    TerminationNotice,
}

impl StopCode {
    /// The ECS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StopCode::TaskFailedToStart => "TaskFailedToStart",
            StopCode::EssentialContainerExited => "EssentialContainerExited",
            StopCode::UserInitiated => "UserInitiated",
            StopCode::ServiceSchedulerInitiated => "ServiceSchedulerInitiated",
            StopCode::TerminationNotice => "TerminationNotice",
        }
    }
}

/// One task, as DescribeTasks shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    /// 32-hex id.
    pub id: String,
    /// Task ARN.
    pub arn: String,
    /// Its task definition's ARN.
    pub task_definition_arn: String,
    /// The service, for a service's task.
    pub service: Option<String>,
    /// `service:<name>` or `family:<family>`.
    pub group: String,
    /// `ecs-svc/<id>` of its deployment, or RunTask's `startedBy`.
    pub started_by: Option<String>,
    /// Actual state.
    pub last_status: TaskStatus,
    /// `RUNNING` or `STOPPED`.
    pub desired_status: TaskStatus,
    /// Health.
    pub health: TaskHealth,
    /// `FARGATE` or `FARGATE_SPOT`.
    pub capacity_provider: String,
    /// Address and port (its "ENI").
    pub addr: Option<SocketAddr>,
    /// OS process id, once started.
    pub pid: Option<u32>,
    /// CPU units and memory MiB of its definition.
    pub cpu: u32,
    /// Memory, MiB.
    pub memory: u32,
    /// Container name (the service name, or the family).
    pub container_name: String,
    /// Image of its definition.
    pub image: Option<String>,
    /// Exit code of its process, once it exited normally.
    pub exit_code: Option<i32>,
    /// Times (epoch seconds).
    pub created_at: f64,
    /// When its process started.
    pub started_at: Option<f64>,
    /// When stopping began.
    pub stopping_at: Option<f64>,
    /// When it stopped.
    pub stopped_at: Option<f64>,
    /// Stop code, once asked to stop or stopped.
    pub stop_code: Option<StopCode>,
    /// Why it stopped.
    pub stopped_reason: Option<String>,
    /// Increases on every change.
    pub version: u64,
}

/// `rolloutState` of a deployment (§4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutState {
    /// Rolling out.
    InProgress,
    /// Every desired task of it is running and healthy and older ones are gone.
    Completed,
    /// Stopped by the circuit breaker.
    Failed,
}

impl RolloutState {
    /// The ECS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::InProgress => "IN_PROGRESS",
            RolloutState::Completed => "COMPLETED",
            RolloutState::Failed => "FAILED",
        }
    }
}

/// One deployment of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentView {
    /// `ecs-svc/<19 digits>`.
    pub id: String,
    /// `PRIMARY` (the newest) or `ACTIVE` (older ones still holding tasks).
    pub status: &'static str,
    /// Its task definition's ARN.
    pub task_definition_arn: String,
    /// Tasks it aims for.
    pub desired_count: u32,
    /// Its tasks not yet running.
    pub pending_count: u32,
    /// Its running tasks.
    pub running_count: u32,
    /// Its tasks that failed (circuit breaker count).
    pub failed_tasks: u32,
    /// Rollout state.
    pub rollout_state: RolloutState,
    /// Why, in words.
    pub rollout_state_reason: String,
    /// Times (epoch seconds).
    pub created_at: f64,
    /// Last change.
    pub updated_at: f64,
}

/// A service event (`events[]` in DescribeServices), newest first there.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceEvent {
    /// Random id.
    pub id: String,
    /// When (epoch seconds).
    pub created_at: f64,
    /// The ECS-style message.
    pub message: String,
}

/// One service, as DescribeServices shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceView {
    /// Name.
    pub name: String,
    /// Service ARN.
    pub arn: String,
    /// Desired count.
    pub desired_count: u32,
    /// Running tasks (all deployments).
    pub running_count: u32,
    /// Pending tasks (all deployments).
    pub pending_count: u32,
    /// The primary deployment's task definition ARN.
    pub task_definition_arn: String,
    /// Deployments, primary first.
    pub deployments: Vec<DeploymentView>,
    /// Events, newest first (at most 100).
    pub events: Vec<ServiceEvent>,
    /// Deployment settings.
    pub min_healthy_percent: u32,
    /// Deployment settings.
    pub max_percent: u32,
    /// Circuit breaker enabled.
    pub circuit_breaker_enable: bool,
    /// Circuit breaker rolls back.
    pub circuit_breaker_rollback: bool,
    /// Capacity provider strategy (provider, base, weight).
    pub capacity: Vec<(String, u32, u32)>,
    /// The Cloud Map service ARN-ish name it registers into.
    pub registry_service: String,
    /// Container port registered.
    pub port: u16,
    /// When it was created.
    pub created_at: f64,
}

/// The cluster, as DescribeClusters shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterView {
    /// Name (the stack's).
    pub name: String,
    /// Cluster ARN.
    pub arn: String,
    /// Region.
    pub region: String,
    /// Services.
    pub active_services: u32,
    /// Tasks RUNNING.
    pub running_tasks: u32,
    /// Tasks on their way to RUNNING.
    pub pending_tasks: u32,
}

/// Which tasks ListTasks returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskFilter {
    /// Only this service's.
    pub service: Option<String>,
    /// Only this family's.
    pub family: Option<String>,
    /// Only these started-by values.
    pub started_by: Option<String>,
    /// `desiredStatus` (default RUNNING); PENDING lists nothing, as in ECS.
    pub desired_status: Option<String>,
}

/// What UpdateService changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceUpdate {
    /// New desired count.
    pub desired_count: Option<u32>,
    /// New task definition (`family`, `family:revision` or ARN).
    pub task_definition: Option<String>,
    /// Start a new deployment even without a change.
    pub force_new_deployment: bool,
    /// New `minimumHealthyPercent`.
    pub min_healthy_percent: Option<u32>,
    /// New `maximumPercent`.
    pub max_percent: Option<u32>,
    /// New circuit breaker (enable, rollback).
    pub circuit_breaker: Option<(bool, bool)>,
}
