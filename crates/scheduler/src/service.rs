//! One service's reconciler and the life of each of its tasks.
//!
//! The reconciler keeps `desired_count` live tasks: it starts one whenever fewer are
//! live, waiting out a backoff after tasks that failed before they ever got healthy
//! (ECS throttles such restarts too). A task's life: start the process, wait for its
//! first passing health check, register it, watch it, and on exit, unhealthiness or
//! shutdown deregister it before it is signalled.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use albless_registry::{ATTR_INIT_HEALTH, ATTR_IPV4, ATTR_PORT, HealthStatus, Registry};
use albless_spec::{Service, Stack};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;

use crate::health::{Probe, Verdict};
use crate::process::{Launch, TaskProcess, task_env};
use crate::{AddressPool, SchedulerOptions, TaskEvent, new_task_id};

/// Shared by every service of a scheduler.
pub(crate) struct Context {
    pub stack: Arc<Stack>,
    pub registry: Registry,
    pub options: SchedulerOptions,
    pub events: broadcast::Sender<TaskEvent>,
    pub pool: Arc<AddressPool>,
}

/// How a task ended, for the reconciler's backoff.
struct Outcome {
    task_id: String,
    /// The task was healthy for long enough that its end is not a start-up failure.
    proven: bool,
}

/// A task that stops within this time of getting healthy counts as a failed start.
const PROVEN_AFTER: Duration = Duration::from_secs(10);
/// Longest wait between restarts of a failing service.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Runs service `name` of the context's stack until `shutdown` turns true, then stops
/// its tasks and returns when they have exited.
pub(crate) async fn run_service(ctx: Arc<Context>, name: String, mut shutdown: watch::Receiver<bool>) {
    let Some(service) = ctx.stack.services.get(&name).cloned() else { return };
    let service = Arc::new(service);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Outcome>();
    let mut live: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    let mut failures: u32 = 0;
    let mut next_launch = Instant::now();

    loop {
        if *shutdown.borrow() {
            break;
        }
        while live.len() < service.desired_count as usize && Instant::now() >= next_launch {
            let task_id = new_task_id();
            let (ctx, service, stop, done) =
                (ctx.clone(), service.clone(), stop_rx.clone(), done_tx.clone());
            let id = task_id.clone();
            let handle = tokio::spawn(async move {
                let proven = run_task(&ctx, &service, &id, stop).await;
                let _ = done.send(Outcome { task_id: id, proven });
            });
            live.insert(task_id, handle);
        }
        let wait_launch = async {
            if live.len() < service.desired_count as usize {
                tokio::time::sleep_until(next_launch).await
            } else {
                std::future::pending().await
            }
        };
        tokio::select! {
            _ = shutdown.changed() => {}
            Some(outcome) = done_rx.recv() => {
                live.remove(&outcome.task_id);
                if outcome.proven {
                    failures = 0;
                    next_launch = Instant::now();
                } else {
                    failures += 1;
                    let delay = Duration::from_secs(1 << (failures - 1).min(6)).min(MAX_BACKOFF);
                    tracing::warn!(service = %name, failures, delay_s = delay.as_secs(), "task failed to start; backing off");
                    next_launch = Instant::now() + delay;
                }
            }
            _ = wait_launch => {}
        }
    }

    let _ = stop_tx.send(true);
    for (_, handle) in live {
        let _ = handle.await;
    }
}

/// Runs one task from start to stop. Returns whether it was proven (healthy for at
/// least [`PROVEN_AFTER`] or stopped by the scheduler).
async fn run_task(
    ctx: &Context,
    service: &Service,
    task_id: &str,
    mut stop: watch::Receiver<bool>,
) -> bool {
    let stack = &ctx.stack;
    let short = &task_id[..8];
    let stopped = |stop_code, reason: String| {
        tracing::info!(service = %service.name, task_id, stop_code, %reason, "task stopped");
        let _ = ctx.events.send(TaskEvent::Stopped {
            service: service.name.clone(),
            task_id: task_id.to_string(),
            stop_code,
            reason,
        });
    };

    let Some(command) = service.command.as_deref() else {
        stopped("TaskFailedToStart", "the service has no local `command`".into());
        return false;
    };
    let Some(ip) = ctx.pool.allocate(service.port) else {
        stopped("TaskFailedToStart", "no free loopback address for the task".into());
        return false;
    };
    let addr = SocketAddr::from((ip, service.port));
    let task_arn = format!("arn:aws:ecs:{}:000000000000:task/{}/{task_id}", stack.region, stack.name);
    let mut env: Vec<(String, String)> =
        service.environment.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    env.extend(task_env(ip, service.port, task_id, &task_arn, &service.name, &stack.region));

    let launch = Launch {
        command,
        env: env.clone(),
        cwd: &stack.dir,
        exe_dir: ctx.options.exe_dir.as_deref(),
        log_file: ctx.options.log_dir.join(format!("{}-{task_id}.log", service.name)),
        echo_prefix: ctx.options.echo_output.then(|| format!("{}/{short}", service.name)),
    };
    let mut process = match TaskProcess::spawn(launch) {
        Ok(p) => p,
        Err(e) => {
            stopped("TaskFailedToStart", format!("cannot start `{}`: {e}", command[0]));
            return false;
        }
    };
    let pid = process.pid();
    tracing::info!(service = %service.name, task_id, %addr, pid, "task started");
    let _ = ctx.events.send(TaskEvent::Started {
        service: service.name.clone(),
        task_id: task_id.to_string(),
        addr,
        pid,
    });

    let probe =
        Probe { check: service.health_check.as_ref(), addr, env: &env, cwd: &stack.dir };
    let namespace = &stack.discovery.namespace;

    // Starting: wait for the first pass, an exit, or a stop.
    tokio::select! {
        r = probe.until_healthy() => {
            if let Err(Verdict::Unhealthy(why)) = r {
                let _ = process.stop(service.stop_timeout).await;
                stopped("TaskFailedToStart", format!("Task failed container health checks: {why}"));
                return false;
            }
        }
        status = process.wait() => {
            stopped("EssentialContainerExited", exit_reason(status));
            return false;
        }
        _ = stop_requested(&mut stop) => {
            let _ = process.stop(service.stop_timeout).await;
            stopped("ServiceSchedulerInitiated", "albless is shutting down".into());
            return true;
        }
    }

    // Healthy: register, then watch.
    let attributes = instance_attributes(stack, service, addr);
    if let Err(e) = ctx.registry.register_instance(namespace, &service.name, task_id, attributes) {
        tracing::error!(service = %service.name, task_id, error = %e, "cannot register task");
    }
    let healthy_at = Instant::now();
    tracing::info!(service = %service.name, task_id, %addr, "task healthy and registered");
    let _ = ctx.events.send(TaskEvent::Healthy {
        service: service.name.clone(),
        task_id: task_id.to_string(),
        addr,
        pid,
    });
    let deregister = || {
        let _ = ctx.registry.deregister_instance(namespace, &service.name, task_id);
    };

    tokio::select! {
        Verdict::Unhealthy(why) = probe.until_unhealthy() => {
            let _ = ctx.registry.set_health(namespace, &service.name, task_id, HealthStatus::Unhealthy);
            deregister();
            let _ = process.stop(service.stop_timeout).await;
            stopped("ServiceSchedulerInitiated", format!("Task failed container health checks: {why}"));
            healthy_at.elapsed() >= PROVEN_AFTER
        }
        status = process.wait() => {
            deregister();
            stopped("EssentialContainerExited", exit_reason(status));
            healthy_at.elapsed() >= PROVEN_AFTER
        }
        _ = stop_requested(&mut stop) => {
            // Deregister first: the gateway and DNS stop sending before SIGTERM.
            deregister();
            let _ = process.stop(service.stop_timeout).await;
            stopped("ServiceSchedulerInitiated", "albless is shutting down".into());
            true
        }
    }
}

/// Resolves once the scheduler asks every task to stop.
async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The attributes ECS gives an instance it registers (aws-behavior.md §3.3, §4.3).
fn instance_attributes(stack: &Stack, service: &Service, addr: SocketAddr) -> BTreeMap<String, String> {
    BTreeMap::from([
        (ATTR_IPV4.to_string(), addr.ip().to_string()),
        (ATTR_PORT.to_string(), addr.port().to_string()),
        (ATTR_INIT_HEALTH.to_string(), "HEALTHY".to_string()),
        ("AVAILABILITY_ZONE".to_string(), format!("{}a", stack.region)),
        ("REGION".to_string(), stack.region.clone()),
        ("ECS_CLUSTER_NAME".to_string(), stack.name.clone()),
        ("ECS_SERVICE_NAME".to_string(), service.name.clone()),
        ("ECS_TASK_DEFINITION_FAMILY".to_string(), format!("{}-{}", stack.name, service.name)),
    ])
}

fn exit_reason(status: std::io::Result<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("Essential container in task exited (exit code {code})"),
            (None, Some(sig)) => format!("Essential container in task exited (killed by signal {sig})"),
            _ => "Essential container in task exited".to_string(),
        },
        Err(e) => format!("cannot wait for the task: {e}"),
    }
}
