//! The scheduler's state under one lock: task definition families, services with their
//! deployments and events, and every task (stopped ones for an hour, as ECS shows
//! them, §4.2). Readers take copies ([`crate::model`] views); the lock is never held
//! across an await.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use albless_spec::{CapacityItem, Service, Stack};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::clock::Clock;
use crate::model::{
    DeploymentView, RolloutState, ServiceEvent, ServiceView, StopCode, TaskDefinition,
    TaskDefinitionSpec, TaskHealth, TaskStatus, TaskView,
};

/// Stopped tasks stay visible this long (ECS: "at least one hour").
pub const STOPPED_RETENTION: Duration = Duration::from_secs(3600);
/// Service events kept (DescribeServices shows the newest 100).
const MAX_EVENTS: usize = 100;
/// The shortest drain of a replaced task, whatever `drain_ms` says: the gateway may
/// have picked the task just before it was deregistered, and that request must still
/// find it listening (a local floor; ECS itself does not drain, §4.3).
pub const MIN_DRAIN: Duration = Duration::from_millis(200);
/// Finished deployments kept per service, for rollback and history.
const MAX_HISTORY: usize = 20;

/// How the scheduler asks a task to stop.
#[derive(Debug, Clone, PartialEq)]
pub struct StopRequest {
    /// Stop code reported.
    pub code: StopCode,
    /// Reason reported.
    pub reason: String,
    /// Keep serving for this long after deregistration, before SIGTERM.
    pub drain: Duration,
}

/// One deployment of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// `ecs-svc/<19 digits>`.
    pub id: String,
    /// Task definition family and revision.
    pub family: String,
    /// Revision.
    pub revision: u32,
    /// Tasks that failed while it rolled out.
    pub failed_tasks: u32,
    /// Rollout state.
    pub rollout: RolloutState,
    /// Why.
    pub reason: String,
    /// Epoch seconds.
    pub created_at: f64,
    /// Epoch seconds.
    pub updated_at: f64,
}

/// One service.
pub struct ServiceState {
    /// Desired count.
    pub desired: u32,
    /// The desired count albless.toml had when this state was made (to tell a user's
    /// edit of the file from a `scale` on restart).
    pub spec_desired: u32,
    /// Deployment settings.
    pub min_percent: u32,
    /// Deployment settings.
    pub max_percent: u32,
    /// Circuit breaker.
    pub breaker_enable: bool,
    /// Circuit breaker.
    pub breaker_rollback: bool,
    /// Circuit breaker threshold override.
    pub breaker_threshold: Option<u32>,
    /// Capacity provider strategy.
    pub capacity: Vec<CapacityItem>,
    /// Wait after RUNNING before a task without a check counts as healthy.
    pub healthy_after: Duration,
    /// Drain delay of replaced tasks.
    pub drain: Duration,
    /// Deployments with tasks, primary first.
    pub deployments: Vec<Deployment>,
    /// Finished deployments, newest first.
    pub history: Vec<Deployment>,
    /// Events, newest first.
    pub events: VecDeque<ServiceEvent>,
    /// Wakes the service's reconciler.
    pub notify: Arc<Notify>,
    /// Epoch seconds.
    pub created_at: f64,
    /// Consecutive failed starts, for the restart backoff.
    pub failures: u32,
    /// No start before this.
    pub next_launch: Instant,
    /// The stuck-deployment event was emitted for the primary deployment.
    pub stuck_reported: bool,
    /// The desired count to restore when woken (scale to zero).
    pub wake_count: u32,
}

/// One task and how to control it.
pub struct TaskEntry {
    /// What DescribeTasks shows.
    pub view: TaskView,
    /// Its deployment id, for a service task.
    pub deployment: Option<String>,
    /// Its definition.
    pub spec: Arc<TaskDefinitionSpec>,
    /// When it reached RUNNING.
    pub running_since: Option<Instant>,
    /// Sends the stop request to its runner.
    pub control: watch::Sender<Option<StopRequest>>,
    /// When it is forgotten (an hour after STOPPED).
    pub expires: Option<Instant>,
}

/// Everything under the lock.
pub struct State {
    /// Stack name (cluster name).
    pub cluster: String,
    /// Region, for ARNs.
    pub region: String,
    /// Families by name, revisions in order.
    pub families: BTreeMap<String, Vec<TaskDefinition>>,
    /// Services by name.
    pub services: BTreeMap<String, ServiceState>,
    /// Tasks by id.
    pub tasks: BTreeMap<String, TaskEntry>,
    /// Spot capacity is withheld until then.
    pub spot_withheld_until: Option<Instant>,
    /// A change worth persisting happened.
    pub dirty: bool,
    /// Increases on every change.
    pub version: u64,
}

impl State {
    /// Fresh state for `stack`: revision 1 of each service's definition and one
    /// deployment each.
    pub fn new(stack: &Stack, clock: &Clock) -> State {
        let mut state = State::new_empty(stack);
        for service in stack.services.values() {
            state.add_service(stack, service, clock);
        }
        state
    }

    /// State with no family and no service.
    pub fn new_empty(stack: &Stack) -> State {
        State {
            cluster: stack.name.clone(),
            region: stack.region.clone(),
            families: BTreeMap::new(),
            services: BTreeMap::new(),
            tasks: BTreeMap::new(),
            spot_withheld_until: None,
            dirty: true,
            version: 0,
        }
    }

    /// Adds `service` with its definition as the next revision of its family.
    pub fn add_service(&mut self, stack: &Stack, service: &Service, clock: &Clock) {
        let spec = TaskDefinitionSpec::from_service(stack, service);
        let td = self.register(spec, clock);
        self.insert_service(stack, service, &td, clock);
    }

    /// Adds `service` with a deployment of `td`.
    pub fn insert_service(
        &mut self,
        stack: &Stack,
        service: &Service,
        td: &TaskDefinition,
        clock: &Clock,
    ) {
        let now = clock.epoch();
        let mut svc = ServiceState {
            desired: service.desired_count,
            spec_desired: service.desired_count,
            min_percent: service.min_healthy_percent,
            max_percent: service.max_percent,
            breaker_enable: service.circuit_breaker.enable,
            breaker_rollback: service.circuit_breaker.rollback,
            breaker_threshold: service.circuit_breaker.threshold,
            capacity: service.capacity.clone(),
            healthy_after: service.healthy_after,
            drain: service.drain(&stack.api).max(MIN_DRAIN),
            deployments: Vec::new(),
            history: Vec::new(),
            events: VecDeque::new(),
            notify: Arc::new(Notify::new()),
            created_at: now,
            failures: 0,
            next_launch: clock.now(),
            stuck_reported: false,
            wake_count: service.desired_count.max(1),
        };
        svc.deployments
            .push(new_deployment(td, "ECS deployment created.", now));
        self.services.insert(service.name.clone(), svc);
    }

    /// Registers `spec` as the next revision of its family.
    pub fn register(&mut self, spec: TaskDefinitionSpec, clock: &Clock) -> TaskDefinition {
        let revisions = self.families.entry(spec.family.clone()).or_default();
        let revision = revisions.last().map_or(1, |r| r.revision + 1);
        let td = TaskDefinition {
            arn: td_arn(&self.region, &spec.family, revision),
            revision,
            spec,
            registered_at: clock.epoch(),
        };
        revisions.push(td.clone());
        self.dirty = true;
        td
    }

    /// A definition by `family`, `family:revision` or ARN (`family` alone is the latest).
    pub fn find_definition(&self, name: &str) -> Option<&TaskDefinition> {
        let name = name
            .rsplit_once(":task-definition/")
            .map_or(name, |(_, r)| r);
        let (family, revision) = match name.rsplit_once(':') {
            Some((f, r)) => (f, Some(r.parse::<u32>().ok()?)),
            None => (name, None),
        };
        let revisions = self.families.get(family)?;
        match revision {
            Some(r) => revisions.iter().find(|t| t.revision == r),
            None => revisions.last(),
        }
    }

    /// A service by name or ARN.
    pub fn service_name(&self, name: &str) -> Option<String> {
        let name = name.rsplit('/').next().unwrap_or(name);
        self.services.contains_key(name).then(|| name.to_string())
    }

    /// A task id from an id, an ARN, or a unique prefix of at least 8 digits of an id.
    pub fn task_id(&self, name: &str) -> Option<String> {
        let id = name.rsplit('/').next().unwrap_or(name);
        if self.tasks.contains_key(id) {
            return Some(id.to_string());
        }
        let mut matches = self
            .tasks
            .keys()
            .filter(|k| id.len() >= 8 && k.starts_with(id));
        match (matches.next(), matches.next()) {
            (Some(only), None) => Some(only.clone()),
            _ => None,
        }
    }

    /// Adds an event to `service` (newest first).
    pub fn event(&mut self, service: &str, message: String, clock: &Clock) {
        if let Some(svc) = self.services.get_mut(service) {
            tracing::info!(service, %message, "service event");
            svc.events.push_front(ServiceEvent {
                id: uuid_like(),
                created_at: clock.epoch(),
                message,
            });
            svc.events.truncate(MAX_EVENTS);
            self.dirty = true;
        }
    }

    /// Moves finished non-primary deployments to history.
    pub fn retire(&mut self, service: &str) {
        let Some(svc) = self.services.get_mut(service) else {
            return;
        };
        let tasks = &self.tasks;
        let has_tasks = |d: &Deployment| {
            tasks.values().any(|t| {
                t.deployment.as_deref() == Some(&d.id) && t.view.last_status != TaskStatus::Stopped
            })
        };
        let mut keep = Vec::new();
        for (i, d) in std::mem::take(&mut svc.deployments).into_iter().enumerate() {
            if i == 0 || has_tasks(&d) {
                keep.push(d);
            } else {
                svc.history.insert(0, d);
            }
        }
        svc.history.truncate(MAX_HISTORY);
        svc.deployments = keep;
    }

    /// The service as DescribeServices shows it.
    pub fn service_view(&self, name: &str, clock: &Clock) -> Option<ServiceView> {
        let svc = self.services.get(name)?;
        let count = |dep: Option<&str>, running: bool| {
            self.tasks
                .values()
                .filter(|t| t.view.service.as_deref() == Some(name))
                .filter(|t| dep.is_none() || t.deployment.as_deref() == dep)
                .filter(|t| t.view.desired_status == TaskStatus::Running)
                .filter(|t| (t.view.last_status == TaskStatus::Running) == running)
                .count() as u32
        };
        let deployments = svc
            .deployments
            .iter()
            .enumerate()
            .map(|(i, d)| DeploymentView {
                id: d.id.clone(),
                status: if i == 0 { "PRIMARY" } else { "ACTIVE" },
                task_definition_arn: td_arn(&self.region, &d.family, d.revision),
                desired_count: if i == 0 { svc.desired } else { 0 },
                pending_count: count(Some(&d.id), false),
                running_count: count(Some(&d.id), true),
                failed_tasks: d.failed_tasks,
                rollout_state: d.rollout,
                rollout_state_reason: d.reason.clone(),
                created_at: d.created_at,
                updated_at: d.updated_at,
            })
            .collect::<Vec<_>>();
        let _ = clock;
        Some(ServiceView {
            name: name.to_string(),
            arn: format!(
                "arn:aws:ecs:{}:000000000000:service/{}/{name}",
                self.region, self.cluster
            ),
            desired_count: svc.desired,
            running_count: count(None, true),
            pending_count: count(None, false),
            task_definition_arn: deployments
                .first()
                .map(|d| d.task_definition_arn.clone())
                .unwrap_or_default(),
            deployments,
            events: svc.events.iter().cloned().collect(),
            min_healthy_percent: svc.min_percent,
            max_percent: svc.max_percent,
            circuit_breaker_enable: svc.breaker_enable,
            circuit_breaker_rollback: svc.breaker_rollback,
            capacity: svc
                .capacity
                .iter()
                .map(|c| (c.provider.name().to_string(), c.base, c.weight))
                .collect(),
            registry_service: name.to_string(),
            port: self.primary_spec(name).map_or(0, |s| s.port),
            created_at: svc.created_at,
        })
    }

    /// The primary deployment's definition of `service`.
    pub fn primary_spec(&self, service: &str) -> Option<&TaskDefinitionSpec> {
        let d = self.services.get(service)?.deployments.first()?;
        self.families
            .get(&d.family)?
            .iter()
            .find(|t| t.revision == d.revision)
            .map(|t| &t.spec)
    }

    /// Forgets tasks stopped more than an hour ago.
    pub fn expire(&mut self, now: Instant) {
        self.tasks.retain(|_, t| t.expires.is_none_or(|e| e > now));
    }

    /// Updates a task's view and wakes its service.
    pub fn touch_task(&mut self, id: &str, f: impl FnOnce(&mut TaskEntry)) {
        let Some(entry) = self.tasks.get_mut(id) else {
            return;
        };
        f(entry);
        self.version += 1;
        entry.view.version += 1;
        if let Some(service) = entry.view.service.clone()
            && let Some(svc) = self.services.get(&service)
        {
            svc.notify.notify_one();
        }
    }
}

/// A new deployment of `td`.
pub fn new_deployment(td: &TaskDefinition, reason: &str, now: f64) -> Deployment {
    Deployment {
        id: format!(
            "ecs-svc/{:019}",
            rand::random::<u64>() % 10_000_000_000_000_000_000
        ),
        family: td.spec.family.clone(),
        revision: td.revision,
        failed_tasks: 0,
        rollout: RolloutState::InProgress,
        reason: reason.to_string(),
        created_at: now,
        updated_at: now,
    }
}

/// A task definition ARN.
pub fn td_arn(region: &str, family: &str, revision: u32) -> String {
    format!("arn:aws:ecs:{region}:000000000000:task-definition/{family}:{revision}")
}

/// A random id in UUID form, as ECS event ids are.
pub fn uuid_like() -> String {
    let n = rand::random::<u128>();
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Whether a task counts as healthy for a deployment (§4.4): RUNNING and HEALTHY, or
/// RUNNING for `healthy_after` when it has no health check.
pub fn counts_healthy(entry: &TaskEntry, healthy_after: Duration, now: Instant) -> bool {
    if entry.view.last_status != TaskStatus::Running {
        return false;
    }
    match entry.view.health {
        TaskHealth::Healthy => true,
        TaskHealth::Unhealthy => false,
        TaskHealth::Unknown => {
            entry.spec.health_check.is_none()
                && entry
                    .running_since
                    .is_some_and(|s| now >= s + healthy_after)
        }
    }
}
