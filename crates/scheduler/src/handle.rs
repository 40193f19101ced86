//! [`SchedulerHandle`]: the scheduler's API, cheap to clone. It is what the ECS API
//! handlers, the gateway's wake hook and `albless up` call: describe the cluster, its
//! services, tasks and task definitions; update a service; run, stop and interrupt
//! tasks (aws-behavior.md §4.1).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use albless_spec::CapacityProvider;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::Shared;
use crate::model::{
    ClusterView, ServiceUpdate, ServiceView, StopCode, TaskDefinition, TaskDefinitionSpec,
    TaskFilter, TaskStatus, TaskView,
};
use crate::reconcile::new_task_view;
use crate::state::{StopRequest, TaskEntry, new_deployment};

/// Why a scheduler call was refused. The API maps each to an ECS error type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchedulerError {
    /// No service of that name in the cluster.
    #[error("Service not found.")]
    ServiceNotFound,
    /// No task of that id or ARN (or it was forgotten an hour after it stopped).
    #[error("The referenced task was not found.")]
    TaskNotFound,
    /// No task definition of that family, revision or ARN.
    #[error("Unable to describe task definition.")]
    TaskDefinitionNotFound,
    /// A parameter is out of range or does not apply.
    #[error("{0}")]
    InvalidParameter(String),
}

/// A cloneable handle to a scheduler.
#[derive(Clone)]
pub struct SchedulerHandle {
    sh: Arc<Shared>,
}

impl SchedulerHandle {
    pub(crate) fn new(sh: Arc<Shared>) -> SchedulerHandle {
        SchedulerHandle { sh }
    }

    /// The cluster (the stack).
    pub fn cluster(&self) -> ClusterView {
        let st = self.sh.lock();
        let live = |s: TaskStatus| {
            st.tasks
                .values()
                .filter(|t| t.view.last_status == s)
                .count() as u32
        };
        ClusterView {
            name: st.cluster.clone(),
            arn: format!(
                "arn:aws:ecs:{}:000000000000:cluster/{}",
                st.region, st.cluster
            ),
            region: st.region.clone(),
            active_services: st.services.len() as u32,
            running_tasks: live(TaskStatus::Running),
            pending_tasks: live(TaskStatus::Provisioning)
                + live(TaskStatus::Pending)
                + live(TaskStatus::Activating),
        }
    }

    /// Service names, in name order.
    pub fn service_names(&self) -> Vec<String> {
        self.sh.lock().services.keys().cloned().collect()
    }

    /// A service by name or ARN.
    pub fn describe_service(&self, name: &str) -> Option<ServiceView> {
        let st = self.sh.lock();
        let name = st.service_name(name)?;
        st.service_view(&name, &self.sh.clock)
    }

    /// ARNs of the tasks `filter` selects, oldest first.
    pub fn list_tasks(&self, filter: &TaskFilter) -> Vec<String> {
        let st = self.sh.lock();
        let want = filter.desired_status.as_deref().unwrap_or("RUNNING");
        let mut tasks: Vec<&TaskEntry> = st
            .tasks
            .values()
            .filter(|t| match want {
                "STOPPED" => t.view.desired_status == TaskStatus::Stopped,
                "RUNNING" => t.view.desired_status == TaskStatus::Running,
                // ECS: PENDING "returns no results".
                _ => false,
            })
            .filter(|t| {
                filter.service.as_deref().is_none_or(|s| {
                    t.view.service.as_deref() == Some(s.rsplit('/').next().unwrap_or(s))
                })
            })
            .filter(|t| filter.family.as_deref().is_none_or(|f| t.spec.family == f))
            .filter(|t| {
                filter
                    .started_by
                    .as_deref()
                    .is_none_or(|s| t.view.started_by.as_deref() == Some(s))
            })
            .collect();
        tasks.sort_by(|a, b| a.view.created_at.total_cmp(&b.view.created_at));
        tasks.iter().map(|t| t.view.arn.clone()).collect()
    }

    /// A task by id or ARN.
    pub fn describe_task(&self, task: &str) -> Option<TaskView> {
        let st = self.sh.lock();
        let id = st.task_id(task)?;
        st.tasks.get(&id).map(|t| t.view.clone())
    }

    /// Task definition ARNs, by family then revision; `family` limits to one family.
    pub fn list_task_definitions(&self, family: Option<&str>) -> Vec<String> {
        let st = self.sh.lock();
        st.families
            .iter()
            .filter(|(f, _)| family.is_none_or(|want| want == f.as_str()))
            .flat_map(|(_, revisions)| revisions.iter().map(|t| t.arn.clone()))
            .collect()
    }

    /// A task definition by `family` (latest), `family:revision` or ARN.
    pub fn describe_task_definition(&self, name: &str) -> Option<TaskDefinition> {
        self.sh.lock().find_definition(name).cloned()
    }

    /// Registers `spec` as the next revision of its family.
    pub fn register_task_definition(
        &self,
        spec: TaskDefinitionSpec,
    ) -> Result<TaskDefinition, SchedulerError> {
        if spec.family.is_empty() || spec.family.len() > 255 {
            return Err(SchedulerError::InvalidParameter(
                "Family must be 1 to 255 characters.".into(),
            ));
        }
        let td = self.sh.lock().register(spec, &self.sh.clock);
        self.sh.persist.notify_one();
        Ok(td)
    }

    /// UpdateService: desired count, task definition, forced deployment, deployment
    /// settings. A new definition (or `force_new_deployment`) starts a rolling
    /// deployment; a count alone does not.
    pub fn update_service(
        &self,
        name: &str,
        update: ServiceUpdate,
    ) -> Result<ServiceView, SchedulerError> {
        let clock = self.sh.clock;
        let mut st = self.sh.lock();
        let name = st
            .service_name(name)
            .ok_or(SchedulerError::ServiceNotFound)?;
        let td = match &update.task_definition {
            Some(t) => Some(
                st.find_definition(t)
                    .cloned()
                    .ok_or(SchedulerError::TaskDefinitionNotFound)?,
            ),
            None => None,
        };
        if let Some(min) = update.min_healthy_percent
            && min > 100
        {
            return Err(SchedulerError::InvalidParameter(
                "minimumHealthyPercent must be between 0 and 100.".into(),
            ));
        }
        if let Some(max) = update.max_percent
            && !(100..=200).contains(&max)
        {
            return Err(SchedulerError::InvalidParameter(
                "maximumPercent must be between 100 and 200.".into(),
            ));
        }
        let svc = st.services.get_mut(&name).expect("service exists");
        if let Some(n) = update.desired_count {
            svc.desired = n;
            if n > 0 {
                svc.wake_count = n;
            }
        }
        if let Some(min) = update.min_healthy_percent {
            svc.min_percent = min;
        }
        if let Some(max) = update.max_percent {
            svc.max_percent = max;
        }
        if let Some((enable, rollback)) = update.circuit_breaker {
            svc.breaker_enable = enable;
            svc.breaker_rollback = rollback;
        }
        let current = (
            svc.deployments[0].family.clone(),
            svc.deployments[0].revision,
        );
        let td = match td {
            Some(td) => Some(td),
            None if update.force_new_deployment => st
                .find_definition(&format!("{}:{}", current.0, current.1))
                .cloned(),
            None => None,
        };
        if let Some(td) = td
            && (update.force_new_deployment || (td.spec.family.clone(), td.revision) != current)
        {
            let dep = new_deployment(&td, "ECS deployment in progress.", clock.epoch());
            let svc = st.services.get_mut(&name).expect("service exists");
            svc.deployments.insert(0, dep);
            svc.stuck_reported = false;
            svc.failures = 0;
            svc.next_launch = clock.now();
        }
        st.dirty = true;
        st.services[&name].notify.notify_one();
        let view = st.service_view(&name, &clock).expect("service exists");
        drop(st);
        self.sh.persist.notify_one();
        Ok(view)
    }

    /// StopTask: stops a task with stop code `UserInitiated` (a service replaces it).
    pub fn stop_task(
        &self,
        task: &str,
        reason: Option<String>,
    ) -> Result<TaskView, SchedulerError> {
        let reason = reason
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "Task stopped by user".into());
        self.request_stop(task, StopCode::UserInitiated, reason, None)
    }

    /// Simulates a Fargate Spot interruption of a FARGATE_SPOT task (§4.6, §6.17): the
    /// task is deregistered and gets SIGTERM at once, SIGKILL after its stop timeout
    /// (at most 120 s), stop code `TerminationNotice`. With `withhold`, no Spot task is
    /// placed for that long, as when AWS has no Spot capacity.
    pub fn spot_interrupt(
        &self,
        task: &str,
        withhold: Option<Duration>,
    ) -> Result<TaskView, SchedulerError> {
        {
            let st = self.sh.lock();
            let id = st.task_id(task).ok_or(SchedulerError::TaskNotFound)?;
            let view = &st.tasks[&id].view;
            if view.capacity_provider != CapacityProvider::FargateSpot.name() {
                return Err(SchedulerError::InvalidParameter(format!(
                    "Task {id} runs on {}, not FARGATE_SPOT: only Spot tasks are interrupted.",
                    view.capacity_provider
                )));
            }
        }
        self.request_stop(
            task,
            StopCode::TerminationNotice,
            "Your Spot Task was interrupted.".into(),
            withhold,
        )
    }

    fn request_stop(
        &self,
        task: &str,
        code: StopCode,
        reason: String,
        withhold: Option<Duration>,
    ) -> Result<TaskView, SchedulerError> {
        let epoch = self.sh.clock.epoch();
        let mut st = self.sh.lock();
        let id = st.task_id(task).ok_or(SchedulerError::TaskNotFound)?;
        if let Some(w) = withhold {
            st.spot_withheld_until = Some(self.sh.clock.now() + w);
        }
        let drain = match (code, st.tasks[&id].view.service.as_deref()) {
            (StopCode::TerminationNotice, _) | (_, None) => Duration::ZERO,
            (_, Some(service)) => st.services.get(service).map_or(Duration::ZERO, |s| s.drain),
        };
        let entry = st.tasks.get_mut(&id).expect("task exists");
        if entry.view.desired_status != TaskStatus::Stopped {
            entry.view.desired_status = TaskStatus::Stopped;
            entry.view.stop_code = Some(code);
            entry.view.stopped_reason = Some(reason.clone());
            entry.view.stopping_at = Some(epoch);
            entry.view.version += 1;
            let _ = entry.control.send(Some(StopRequest {
                code,
                reason,
                drain,
            }));
        }
        let view = entry.view.clone();
        if let Some(service) = &view.service {
            st.services[service].notify.notify_one();
            if code == StopCode::TerminationNotice {
                // What the EventBridge `ECS Task State Change` event says (§4.6).
                let message =
                    format!("(service {service}) (task {id}) Your Spot Task was interrupted.");
                st.event(service, message, &self.sh.clock);
            }
        }
        Ok(view)
    }

    /// RunTask: `count` (1 to 10) stand-alone tasks of a definition, not registered in
    /// Cloud Map, in group `family:<family>`.
    pub fn run_task(
        &self,
        task_definition: &str,
        count: u32,
        started_by: Option<String>,
    ) -> Result<Vec<TaskView>, SchedulerError> {
        if !(1..=10).contains(&count) {
            return Err(SchedulerError::InvalidParameter(
                "count must be between 1 and 10.".into(),
            ));
        }
        let epoch = self.sh.clock.epoch();
        let mut st = self.sh.lock();
        let td = st
            .find_definition(task_definition)
            .cloned()
            .ok_or(SchedulerError::TaskDefinitionNotFound)?;
        let mut views = Vec::new();
        for _ in 0..count {
            let id = crate::new_task_id();
            let group = format!("family:{}", td.spec.family);
            let view = new_task_view(
                &st,
                &id,
                &td,
                None,
                &group,
                started_by.clone(),
                CapacityProvider::Fargate,
                epoch,
            );
            let (control, rx) = watch::channel(None);
            views.push(view.clone());
            st.tasks.insert(
                id.clone(),
                TaskEntry {
                    view,
                    deployment: None,
                    spec: Arc::new(td.spec.clone()),
                    running_since: None,
                    control,
                    expires: None,
                },
            );
            self.sh.spawn_runner(id, rx);
        }
        Ok(views)
    }

    /// Notes a request for `service` (the gateway calls this): it keeps a scale-to-zero
    /// service awake.
    pub fn record_request(&self, service: &str) {
        if let Some(mark) = self.sh.activity.get(service) {
            let ms = self
                .sh
                .clock
                .now()
                .saturating_duration_since(self.sh.clock_origin)
                .as_millis() as u64;
            mark.store(ms, Ordering::Relaxed);
        }
    }

    /// Whether `service` has scale to zero on.
    pub fn scales_to_zero(&self, service: &str) -> bool {
        self.sh
            .stack
            .services
            .get(service)
            .is_some_and(|s| s.scale_to_zero.is_some())
    }

    /// Wakes a scale-to-zero service that sleeps (desired 0) and waits, up to its
    /// `wake_timeout`, until one of its tasks is registered. Returns whether one is.
    pub async fn wake(&self, service: &str) -> bool {
        let Some(stz) = self
            .sh
            .stack
            .services
            .get(service)
            .and_then(|s| s.scale_to_zero)
        else {
            return false;
        };
        self.record_request(service);
        {
            let mut st = self.sh.lock();
            let Some(svc) = st.services.get_mut(service) else {
                return false;
            };
            if svc.desired == 0 {
                svc.desired = svc.wake_count.max(1);
                let n = svc.desired;
                svc.notify.notify_one();
                st.event(
                    service,
                    format!("(service {service}) woken by a request: desired count {n}."),
                    &self.sh.clock,
                );
            }
        }
        let deadline = Instant::now() + stz.wake_timeout;
        let mut changes = self.sh.registry.changes();
        let namespace = self.sh.stack.discovery.namespace.clone();
        loop {
            let ready = self
                .sh
                .registry
                .snapshot()
                .service(&namespace, service)
                .is_some_and(|s| !s.routable.is_empty());
            if ready {
                return true;
            }
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                return false;
            }
        }
    }

    /// Every task ever seen and not yet forgotten, oldest first (for the metadata
    /// endpoint and tests).
    pub fn tasks(&self) -> Vec<TaskView> {
        let st = self.sh.lock();
        let mut v: Vec<TaskView> = st.tasks.values().map(|t| t.view.clone()).collect();
        v.sort_by(|a, b| a.created_at.total_cmp(&b.created_at));
        v
    }

    /// The definition a task runs.
    pub fn task_spec(&self, task: &str) -> Option<TaskDefinitionSpec> {
        let st = self.sh.lock();
        let id = st.task_id(task)?;
        st.tasks.get(&id).map(|t| (*t.spec).clone())
    }

    /// The stack's cluster name and region.
    pub fn stack(&self) -> &albless_spec::Stack {
        &self.sh.stack
    }
}
