//! One service's reconciler: on every change (a task moved, UpdateService, a timer) it
//! takes one planning step under the lock — circuit breaker, rollback, starts within
//! `maximumPercent`, stops within `minimumHealthyPercent`, completion — and starts or
//! signals tasks accordingly (aws-behavior.md §4.4). Scale to zero is applied here too.

use std::sync::Arc;
use std::time::Duration;

use albless_spec::CapacityProvider;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::Shared;
use crate::deploy::{self, PlanTask};
use crate::model::{RolloutState, StopCode, TaskHealth, TaskStatus, TaskView};
use crate::placement;
use crate::state::{State, StopRequest, TaskEntry, counts_healthy, new_deployment};

/// Longest sleep between two steps when nothing is due (expiry of stopped tasks).
const IDLE_STEP: Duration = Duration::from_secs(60);

/// Runs the reconciler of `name` until `shutdown`, then stops the service's tasks.
pub(crate) async fn run_service(
    sh: Arc<Shared>,
    name: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some(notify) = sh.lock().services.get(&name).map(|s| s.notify.clone()) else {
        return;
    };
    loop {
        if *shutdown.borrow() {
            break;
        }
        let wake_at = step(&sh, &name);
        tokio::select! {
            _ = notify.notified() => {}
            _ = tokio::time::sleep_until(wake_at) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// One planning step. Returns when the next step is due at the latest.
pub(crate) fn step(sh: &Arc<Shared>, name: &str) -> Instant {
    let now = sh.clock.now();
    let epoch = sh.clock.epoch();
    let mut st = sh.lock();
    st.expire(now);
    let mut wake_at = now + IDLE_STEP;
    let Some(svc) = st.services.get(name) else {
        return wake_at;
    };
    let healthy_after = svc.healthy_after;
    let drain = svc.drain;

    // Scale to zero: an idle service goes back to zero tasks (beyond AWS, issue #5).
    if let Some(stz) = sh.stack.services.get(name).and_then(|s| s.scale_to_zero)
        && let Some(activity) = sh.activity.get(name)
    {
        let last = sh.clock_origin
            + Duration::from_millis(activity.load(std::sync::atomic::Ordering::Relaxed));
        let svc = st.services.get_mut(name).expect("service exists");
        if svc.desired > 0 {
            if now >= last + stz.idle_after {
                svc.wake_count = svc.desired;
                svc.desired = 0;
                let secs = stz.idle_after.as_secs();
                st.event(
                    name,
                    format!("(service {name}) scaled to zero after {secs} s without requests."),
                    &sh.clock,
                );
            } else {
                wake_at = wake_at.min(last + stz.idle_after);
            }
        }
    }

    breaker(&mut st, name, epoch, &sh.clock);

    // Plan over the live tasks (desired RUNNING).
    let svc = &st.services[name];
    let primary = svc.deployments[0].clone();
    let live: Vec<&TaskEntry> = st
        .tasks
        .values()
        .filter(|t| {
            t.view.service.as_deref() == Some(name) && t.view.desired_status == TaskStatus::Running
        })
        .collect();
    let plan_tasks: Vec<PlanTask> = live
        .iter()
        .map(|t| PlanTask {
            id: t.view.id.clone(),
            primary: t.deployment.as_deref() == Some(&primary.id),
            healthy: counts_healthy(t, healthy_after, now),
        })
        .collect();
    for t in &live {
        // Wake when a check-less task starts to count as healthy.
        if let (Some(since), TaskHealth::Unknown, TaskStatus::Running) =
            (t.running_since, t.view.health, t.view.last_status)
            && since + healthy_after > now
        {
            wake_at = wake_at.min(since + healthy_after);
        }
    }
    let backoff = now < svc.next_launch;
    if backoff {
        wake_at = wake_at.min(svc.next_launch);
    }
    let may_start = primary.rollout != RolloutState::Failed && !backoff;
    let plan = deploy::plan(
        svc.desired,
        svc.min_percent,
        svc.max_percent,
        &plan_tasks,
        may_start,
    );
    let all_healthy = plan_tasks.iter().all(|t| t.primary && t.healthy);
    let live_count = plan_tasks.len() as u32;
    let desired = svc.desired;

    // Stops: scale in or replaced; draining keeps a replaced task serving a while.
    let mut stopped = Vec::new();
    for id in &plan.stop {
        let request = StopRequest {
            code: StopCode::ServiceSchedulerInitiated,
            reason: format!("Scaling activity initiated by (deployment {})", primary.id),
            drain,
        };
        if let Some(entry) = st.tasks.get_mut(id) {
            entry.view.desired_status = TaskStatus::Stopped;
            entry.view.stop_code = Some(request.code);
            entry.view.stopped_reason = Some(request.reason.clone());
            entry.view.stopping_at = Some(epoch);
            entry.view.version += 1;
            let _ = entry.control.send(Some(request));
            stopped.push(id.clone());
        }
    }
    if !stopped.is_empty() {
        let list: Vec<String> = stopped.iter().map(|id| format!("(task {id})")).collect();
        st.event(
            name,
            format!(
                "(service {name}) has stopped {} running tasks: {}.",
                stopped.len(),
                list.join(" ")
            ),
            &sh.clock,
        );
    }

    // Starts: each new task placed on a capacity provider.
    let mut started = Vec::new();
    for _ in 0..plan.start {
        match start_task(sh, &mut st, name, &primary.id, now, epoch) {
            Some(id) => started.push(id),
            None => {
                st.event(
                    name,
                    format!("(service {name}) was unable to place a task. Reason: Capacity is unavailable at this time. Please try again later or in a different availability zone."),
                    &sh.clock,
                );
                if let Some(until) = st.spot_withheld_until {
                    wake_at = wake_at.min(until);
                }
                break;
            }
        }
    }
    if !started.is_empty() {
        let list: Vec<String> = started.iter().map(|id| format!("(task {id})")).collect();
        st.event(
            name,
            format!(
                "(service {name}) has started {} tasks: {}.",
                started.len(),
                list.join(" ")
            ),
            &sh.clock,
        );
    }

    // A deployment the settings can never finish says so once (§4.4).
    let svc = st.services.get_mut(name).expect("service exists");
    if plan.stuck && !svc.stuck_reported {
        svc.stuck_reported = true;
        st.event(
            name,
            format!("(service {name}) was unable to stop or start tasks during a deployment because of the service deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again."),
            &sh.clock,
        );
    }

    // Completion: only primary tasks, as many as desired, all healthy, and every
    // replaced task gone (drained and stopped).
    st.retire(name);
    let svc = st.services.get_mut(name).expect("service exists");
    if svc.deployments[0].rollout == RolloutState::InProgress
        && svc.deployments.len() == 1
        && live_count == desired
        && all_healthy
        && plan.start == 0
        && plan.stop.is_empty()
    {
        let d = &mut svc.deployments[0];
        d.rollout = RolloutState::Completed;
        d.reason = "ECS deployment completed.".into();
        d.updated_at = epoch;
        let id = d.id.clone();
        svc.failures = 0;
        st.event(
            name,
            format!("(service {name}) (deployment {id}) deployment completed."),
            &sh.clock,
        );
        st.event(
            name,
            format!("(service {name}) has reached a steady state."),
            &sh.clock,
        );
    }
    wake_at
}

/// The circuit breaker (§4.4): enough failed tasks fail the primary deployment; with
/// rollback, a new deployment of the last completed one takes over.
fn breaker(st: &mut State, name: &str, epoch: f64, clock: &crate::Clock) {
    let svc = st.services.get_mut(name).expect("service exists");
    let d = &svc.deployments[0];
    if !svc.breaker_enable || d.rollout != RolloutState::InProgress {
        return;
    }
    let threshold = deploy::breaker_threshold(svc.desired, svc.breaker_threshold);
    if d.failed_tasks < threshold {
        return;
    }
    let failed_id = d.id.clone();
    let d = &mut svc.deployments[0];
    d.rollout = RolloutState::Failed;
    d.reason = "ECS deployment circuit breaker: tasks failed to start.".into();
    d.updated_at = epoch;
    let rollback = svc.breaker_rollback;
    let target = svc
        .deployments
        .iter()
        .skip(1)
        // Active deployments are newer than finished ones (history is newest first).
        .chain(svc.history.iter())
        .find(|d| d.rollout == RolloutState::Completed)
        .cloned();
    st.event(
        name,
        format!(
            "(service {name}) (deployment {failed_id}) deployment failed: tasks failed to start."
        ),
        clock,
    );
    let Some(target) = target.filter(|_| rollback) else {
        return;
    };
    let Some(td) = st
        .families
        .get(&target.family)
        .and_then(|r| r.iter().find(|t| t.revision == target.revision))
        .cloned()
    else {
        return;
    };
    let reason = format!(
        "ECS deployment circuit breaker: rolling back to deploymentId {}.",
        target.id
    );
    let dep = new_deployment(&td, &reason, epoch);
    let new_id = dep.id.clone();
    let svc = st.services.get_mut(name).expect("service exists");
    svc.deployments.insert(0, dep);
    svc.failures = 0;
    svc.stuck_reported = false;
    st.event(
        name,
        format!(
            "(service {name}) rolling back to deployment {} (new deployment {new_id}).",
            target.id
        ),
        clock,
    );
}

/// Creates a PROVISIONING task of deployment `deployment` and spawns its runner.
/// `None` when no capacity provider can take it.
fn start_task(
    sh: &Arc<Shared>,
    st: &mut State,
    name: &str,
    deployment: &str,
    now: Instant,
    epoch: f64,
) -> Option<String> {
    let svc = &st.services[name];
    let d = svc.deployments.iter().find(|d| d.id == deployment)?;
    let td = st
        .families
        .get(&d.family)?
        .iter()
        .find(|t| t.revision == d.revision)?
        .clone();

    let withheld = st.spot_withheld_until.is_some_and(|u| u > now);
    let counts: Vec<u32> = svc
        .capacity
        .iter()
        .map(|item| {
            st.tasks
                .values()
                .filter(|t| {
                    t.view.service.as_deref() == Some(name)
                        && t.view.desired_status == TaskStatus::Running
                })
                .filter(|t| t.view.capacity_provider == item.provider.name())
                .count() as u32
        })
        .collect();
    let provider = if svc.capacity.is_empty() {
        CapacityProvider::Fargate
    } else {
        svc.capacity[placement::choose(&svc.capacity, &counts, withheld)?].provider
    };
    let id = crate::new_task_id();
    let view = new_task_view(
        st,
        &id,
        &td,
        Some(name),
        &format!("service:{name}"),
        Some(deployment.to_string()),
        provider,
        epoch,
    );
    let (control, rx) = watch::channel(None);
    st.tasks.insert(
        id.clone(),
        TaskEntry {
            view,
            deployment: Some(deployment.to_string()),
            spec: Arc::new(td.spec.clone()),
            running_since: None,
            control,
            expires: None,
        },
    );
    sh.spawn_runner(id.clone(), rx);
    Some(id)
}

/// The view of a new PROVISIONING task.
#[allow(clippy::too_many_arguments)]
pub(crate) fn new_task_view(
    st: &State,
    id: &str,
    td: &crate::model::TaskDefinition,
    service: Option<&str>,
    group: &str,
    started_by: Option<String>,
    provider: CapacityProvider,
    epoch: f64,
) -> TaskView {
    TaskView {
        id: id.to_string(),
        arn: format!(
            "arn:aws:ecs:{}:000000000000:task/{}/{id}",
            st.region, st.cluster
        ),
        task_definition_arn: td.arn.clone(),
        service: service.map(str::to_string),
        group: group.to_string(),
        started_by,
        last_status: TaskStatus::Provisioning,
        desired_status: TaskStatus::Running,
        health: TaskHealth::Unknown,
        capacity_provider: provider.name().to_string(),
        addr: None,
        pid: None,
        cpu: td.spec.cpu,
        memory: td.spec.memory,
        container_name: service.map_or_else(|| td.spec.family.clone(), str::to_string),
        image: td.spec.image.clone(),
        exit_code: None,
        created_at: epoch,
        started_at: None,
        stopping_at: None,
        stopped_at: None,
        stop_code: None,
        stopped_reason: None,
        version: 1,
    }
}
