//! The life of one task, PROVISIONING to STOPPED (aws-behavior.md §4.2): take an
//! address, start the process, wait for its first passing health check, register it
//! in Cloud Map, watch it, and stop it in ECS's order: deregister (DEACTIVATING), drain,
//! SIGTERM and SIGKILL after the stop timeout (STOPPING), release (DEPROVISIONING).
//!
//! The task runs as a host process or, for a service with `driver = "docker"`, as a
//! container of the service's image ([`crate::driver`]); the lifecycle is the same.
//!
//! Local deviation (§6.7): a task turns ACTIVATING, is registered and becomes RUNNING
//! only once its first health check passes (or, without a check, once its port accepts
//! connections), so the gateway never sends it a request it cannot answer.

use std::collections::BTreeMap;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use albless_registry::{ATTR_INIT_HEALTH, ATTR_IPV4, ATTR_PORT, HealthStatus};
use tokio::sync::watch;

use crate::Shared;
use crate::TaskEvent;
use crate::driver::{Exit, Runner};
use crate::health::{Probe, Verdict};
use crate::model::{RolloutState, StopCode, TaskHealth, TaskStatus};
use crate::process::{Launch, TaskProcess, task_env};
use crate::state::{STOPPED_RETENTION, StopRequest};

/// A task that stops within this time of getting healthy counts as a failed start.
const PROVEN_AFTER: Duration = Duration::from_secs(10);
/// Longest wait between restarts of a failing service.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Fargate Spot's warning: the task must be gone within two minutes (§4.6).
const SPOT_WINDOW: Duration = Duration::from_secs(120);

/// How a task ended, for the breaker and the backoff.
struct End {
    code: StopCode,
    reason: String,
    /// Not asked for by anyone: counts against the deployment.
    failed: bool,
    exit_code: Option<i32>,
}

/// Runs task `id` (already in the state, PROVISIONING) to STOPPED.
pub(crate) async fn run(
    sh: Arc<Shared>,
    id: String,
    mut control: watch::Receiver<Option<StopRequest>>,
) {
    let (spec, service) = {
        let st = sh.lock();
        let Some(entry) = st.tasks.get(&id) else {
            return;
        };
        (entry.spec.clone(), entry.view.service.clone())
    };
    let name = service.clone().unwrap_or_else(|| spec.family.clone());
    let stack = &sh.stack;
    let short = id[..8].to_string();
    let fail = |reason: String| End {
        code: StopCode::TaskFailedToStart,
        reason,
        failed: true,
        exit_code: None,
    };

    // The driver: a container for a Docker-driven service (RunTask tasks have no
    // service, and run as processes).
    let docker = service
        .as_ref()
        .and_then(|s| stack.services.get(s))
        .is_some_and(|s| s.driver == albless_spec::Driver::Docker);
    let image = if docker {
        match sh.images.get().and_then(|m| m.get(&name)) {
            Some(Ok(image)) => Some(image.clone()),
            Some(Err(why)) => return finish(&sh, &id, fail(why.clone()), None),
            None => {
                return finish(
                    &sh,
                    &id,
                    fail("the service's image is not ready".into()),
                    None,
                );
            }
        }
    } else {
        None
    };
    // Only the process driver needs a local command.
    let command = match (&image, spec.command.clone()) {
        (Some(_), _) => Vec::new(),
        (None, Some(command)) => command,
        (None, None) => {
            return finish(
                &sh,
                &id,
                fail("the task definition has no local `command`".into()),
                None,
            );
        }
    };

    // PROVISIONING: the task's own address, as a Fargate task gets its own ENI.
    let Some(ip) = sh.pool.allocate(spec.port) else {
        return finish(
            &sh,
            &id,
            fail("no free loopback address for the task".into()),
            None,
        );
    };
    let addr = SocketAddr::from((ip, spec.port));
    let arn = format!(
        "arn:aws:ecs:{}:000000000000:task/{}/{id}",
        stack.region, stack.name
    );
    let mut env: Vec<(String, String)> = spec
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.extend(task_env(ip, spec.port, &id, &arn, &name, &stack.region));
    if let Some(base) = sh.metadata_base.get() {
        // Task metadata endpoint v4 (and v3, which ECS still sets).
        let uri = format!("{base}/v4/{id}");
        env.push(("ECS_CONTAINER_METADATA_URI_V4".into(), uri.clone()));
        env.push(("ECS_CONTAINER_METADATA_URI".into(), uri));
    }
    sh.lock().touch_task(&id, |t| {
        t.view.addr = Some(addr);
        t.view.last_status = TaskStatus::Pending;
    });

    // PENDING: the process or container starts.
    let log_file = sh.options.log_dir.join(format!("{name}-{id}.log"));
    let echo_prefix = sh.options.echo_output.then(|| format!("{name}/{short}"));
    let started = match &image {
        Some(image) => image
            .engine
            .start(albless_docker::TaskSpec {
                stack: &stack.name,
                service: &name,
                task_id: &id,
                image: &image.tag,
                env: &env,
                cpu_units: spec.cpu,
                memory_mib: spec.memory,
                container_port: spec.port,
                publish: SocketAddrV4::new(ip, spec.port),
                log_file,
                echo_prefix,
            })
            .await
            .map(Runner::Container)
            .map_err(|e| format!("cannot start a container of {}: {e}", image.tag)),
        None => TaskProcess::spawn(Launch {
            command: &command,
            env: env.clone(),
            cwd: &stack.dir,
            exe_dir: sh.options.exe_dir.as_deref(),
            log_file,
            echo_prefix,
        })
        .map(|p| Runner::Process(tokio::sync::Mutex::new(p)))
        .map_err(|e| format!("cannot start `{}`: {e}", command[0])),
    };
    let mut process = match started {
        Ok(p) => p,
        Err(why) => return finish(&sh, &id, fail(why), None),
    };
    let pid = match &process {
        Runner::Process(p) => p.lock().await.pid(),
        Runner::Container(c) => c.pid(),
    };
    let started = sh.clock.epoch();
    sh.lock().touch_task(&id, |t| {
        t.view.pid = Some(pid);
        t.view.started_at = Some(started);
    });
    tracing::info!(service = %name, task_id = %id, %addr, pid, "task started");
    let _ = sh.events.send(TaskEvent::Started {
        service: name.clone(),
        task_id: id.clone(),
        addr,
        pid,
    });

    let probe = Probe {
        check: spec.health_check.as_ref(),
        addr,
        env: &env,
        cwd: &stack.dir,
        container: process.container(),
    };
    let namespace = stack.discovery.namespace.clone();

    // Starting: wait for the first pass, an exit, or a stop request.
    tokio::select! {
        r = probe.until_healthy() => {
            if let Err(Verdict::Unhealthy(why)) = r {
                sh.lock().touch_task(&id, |t| t.view.health = TaskHealth::Unhealthy);
                let exit = process.stop(spec.stop_timeout).await;
                let end = End { exit_code: exit.code, ..fail(format!("Task failed container health checks: {why}")) };
                return finish(&sh, &id, end, None);
            }
        }
        exit = process.wait() => {
            process.release().await;
            let end = End { code: StopCode::EssentialContainerExited, reason: exit.reason, failed: true, exit_code: exit.code };
            return finish(&sh, &id, end, None);
        }
        request = requested(&mut control) => {
            return stop_sequence(&sh, &id, &mut process, request, false, spec.stop_timeout).await;
        }
    }

    // ACTIVATING: register (service tasks only), then RUNNING.
    sh.lock()
        .touch_task(&id, |t| t.view.last_status = TaskStatus::Activating);
    let registered = match &service {
        Some(service) => {
            let attributes = instance_attributes(&sh, service, addr);
            match sh
                .registry
                .register_instance(&namespace, service, &id, attributes)
            {
                Ok(()) => true,
                Err(error) => {
                    tracing::error!(service = %service, task_id = %id, %error, "cannot register task");
                    false
                }
            }
        }
        None => false,
    };
    let now = sh.clock.now();
    let health = if spec.health_check.is_some() {
        TaskHealth::Healthy
    } else {
        TaskHealth::Unknown
    };
    sh.lock().touch_task(&id, |t| {
        t.view.last_status = TaskStatus::Running;
        t.view.health = health;
        t.running_since = Some(now);
    });
    tracing::info!(service = %name, task_id = %id, %addr, "task healthy and registered");
    let _ = sh.events.send(TaskEvent::Healthy {
        service: name.clone(),
        task_id: id.clone(),
        addr,
        pid,
    });

    // RUNNING: watch until unhealthy, exited or asked to stop.
    let deregister = || {
        if let (true, Some(service)) = (registered, &service) {
            let _ = sh.registry.deregister_instance(&namespace, service, &id);
        }
    };
    tokio::select! {
        Verdict::Unhealthy(why) = probe.until_unhealthy() => {
            if let (true, Some(service)) = (registered, &service) {
                let _ = sh.registry.set_health(&namespace, service, &id, HealthStatus::Unhealthy);
            }
            deregister();
            sh.lock().touch_task(&id, |t| t.view.health = TaskHealth::Unhealthy);
            let proven = sh.clock.now() >= now + PROVEN_AFTER;
            let request = StopRequest {
                code: StopCode::ServiceSchedulerInitiated,
                reason: format!("Task failed container health checks: {why}"),
                drain: Duration::ZERO,
            };
            mark_stopping(&sh, &id, &request);
            let exit = process.stop(spec.stop_timeout).await;
            let end = End { code: request.code, reason: request.reason, failed: !proven, exit_code: exit.code };
            finish(&sh, &id, end, Some(proven));
        }
        exit = process.wait() => {
            deregister();
            process.release().await;
            let proven = sh.clock.now() >= now + PROVEN_AFTER;
            let end = End { code: StopCode::EssentialContainerExited, reason: exit.reason, failed: !proven, exit_code: exit.code };
            finish(&sh, &id, end, Some(proven));
        }
        request = requested(&mut control) => {
            stop_sequence(&sh, &id, &mut process, request, registered, spec.stop_timeout).await;
        }
    }
}

/// Waits for a stop request.
async fn requested(control: &mut watch::Receiver<Option<StopRequest>>) -> StopRequest {
    match control.wait_for(Option::is_some).await {
        Ok(r) => r.clone().unwrap_or_else(shutdown_request),
        // The sender went away: the scheduler is gone.
        Err(_) => shutdown_request(),
    }
}

fn shutdown_request() -> StopRequest {
    StopRequest {
        code: StopCode::ServiceSchedulerInitiated,
        reason: "albless is shutting down".into(),
        drain: Duration::ZERO,
    }
}

/// Records that the task is on its way down.
fn mark_stopping(sh: &Shared, id: &str, request: &StopRequest) {
    let now = sh.clock.epoch();
    sh.lock().touch_task(id, |t| {
        t.view.desired_status = TaskStatus::Stopped;
        t.view.last_status = TaskStatus::Deactivating;
        t.view.stopping_at.get_or_insert(now);
        t.view.stop_code.get_or_insert(request.code);
        t.view
            .stopped_reason
            .get_or_insert_with(|| request.reason.clone());
    });
}

/// A requested stop: deregister, drain, SIGTERM, SIGKILL after the stop timeout.
async fn stop_sequence(
    sh: &Arc<Shared>,
    id: &str,
    process: &mut Runner,
    request: StopRequest,
    registered: bool,
    stop_timeout: Duration,
) {
    mark_stopping(sh, id, &request);
    let service = sh.lock().tasks.get(id).and_then(|t| t.view.service.clone());
    if let (true, Some(service)) = (registered, &service) {
        // Deregister first: the gateway and DNS stop choosing the task before SIGTERM.
        let _ = sh
            .registry
            .deregister_instance(&sh.stack.discovery.namespace, service, id);
        if !request.drain.is_zero() {
            // Keep serving what a stale discovery view still sends (§2.2, issue #5).
            tokio::select! {
                _ = tokio::time::sleep(request.drain) => {}
                _ = process.wait() => {}
            }
        }
    }
    sh.lock()
        .touch_task(id, |t| t.view.last_status = TaskStatus::Stopping);
    let timeout = match request.code {
        StopCode::TerminationNotice => stop_timeout.min(SPOT_WINDOW),
        _ => stop_timeout,
    };
    let exit: Exit = process.stop(timeout).await;
    let end = End {
        code: request.code,
        reason: request.reason,
        failed: false,
        exit_code: exit.code,
    };
    finish(sh, id, end, Some(true));
}

/// DEPROVISIONING to STOPPED: records the end, the breaker count and the backoff.
/// `proven` is `None` for a task that never ran.
fn finish(sh: &Shared, id: &str, end: End, proven: Option<bool>) {
    let now = sh.clock.now();
    let epoch = sh.clock.epoch();
    let mut st = sh.lock();
    st.touch_task(id, |t| t.view.last_status = TaskStatus::Deprovisioning);
    let mut service = None;
    let mut deployment = None;
    st.touch_task(id, |t| {
        t.view.last_status = TaskStatus::Stopped;
        t.view.desired_status = TaskStatus::Stopped;
        t.view.stopping_at.get_or_insert(epoch);
        t.view.stopped_at = Some(epoch);
        t.view.stop_code.get_or_insert(end.code);
        t.view
            .stopped_reason
            .get_or_insert_with(|| end.reason.clone());
        t.view.exit_code = end.exit_code;
        t.expires = Some(now + STOPPED_RETENTION);
        service = t.view.service.clone();
        deployment = t.deployment.clone();
    });
    let (code, reason) = st
        .tasks
        .get(id)
        .map(|t| {
            (
                t.view.stop_code.unwrap_or(end.code),
                t.view.stopped_reason.clone().unwrap_or_default(),
            )
        })
        .unwrap_or((end.code, end.reason.clone()));
    if let Some(service) = &service
        && let Some(svc) = st.services.get_mut(service)
    {
        if end.failed
            && let Some(d) = svc
                .deployments
                .iter_mut()
                .find(|d| Some(&d.id) == deployment.as_ref())
            && d.rollout == RolloutState::InProgress
        {
            d.failed_tasks += 1;
            d.updated_at = epoch;
        }
        if end.failed && proven != Some(true) {
            svc.failures += 1;
            let delay = Duration::from_secs(1 << (svc.failures - 1).min(6)).min(MAX_BACKOFF);
            tracing::warn!(
                service,
                failures = svc.failures,
                delay_s = delay.as_secs(),
                "task failed to start; backing off"
            );
            svc.next_launch = now + delay;
        } else if proven == Some(true) {
            svc.failures = 0;
        }
        svc.notify.notify_one();
        st.dirty = true;
    }
    drop(st);
    let name = service.unwrap_or_default();
    tracing::info!(service = %name, task_id = id, stop_code = code.as_str(), %reason, "task stopped");
    let _ = sh.events.send(TaskEvent::Stopped {
        service: name,
        task_id: id.to_string(),
        stop_code: code.as_str(),
        reason,
    });
}

/// The attributes ECS gives an instance it registers (aws-behavior.md §3.3, §4.3).
fn instance_attributes(sh: &Shared, service: &str, addr: SocketAddr) -> BTreeMap<String, String> {
    let stack = &sh.stack;
    BTreeMap::from([
        (ATTR_IPV4.to_string(), addr.ip().to_string()),
        (ATTR_PORT.to_string(), addr.port().to_string()),
        (ATTR_INIT_HEALTH.to_string(), "HEALTHY".to_string()),
        (
            "AVAILABILITY_ZONE".to_string(),
            format!("{}a", stack.region),
        ),
        ("REGION".to_string(), stack.region.clone()),
        ("ECS_CLUSTER_NAME".to_string(), stack.name.clone()),
        ("ECS_SERVICE_NAME".to_string(), service.to_string()),
        (
            "ECS_TASK_DEFINITION_FAMILY".to_string(),
            format!("{}-{service}", stack.name),
        ),
    ])
}
