//! The ECS model for local mode: task definitions with revisions, services with rolling
//! deployments and a circuit breaker, tasks with ECS's lifecycle, capacity providers
//! with Spot interruptions, scale to zero, and the task metadata endpoint
//! (aws-behavior.md §4, §6).
//!
//! The flow of one task: a service's reconciler ([`reconcile`]) sees fewer tasks than
//! desired and starts one ([`task`]) on its own loopback address (as each Fargate task
//! gets its own ENI); once its health check passes the task is registered in Cloud Map
//! with the attributes ECS sets; when it exits or turns unhealthy it is deregistered and
//! replaced, with a backoff for tasks that never got healthy. Stopping is the reverse:
//! deregister, drain, SIGTERM, SIGKILL after the stop timeout.
//!
//! [`SchedulerHandle`] is the scheduler's API (what the ECS API of the `api` crate
//! calls). Every wait reads tokio's clock ([`Clock`]), so tests run on a paused clock.
//! State worth keeping (desired counts, revisions, deployment history) is written to a
//! file in the state folder and read back on the next start ([`persist`]).
//!
//! Scheduled scaling ([`scaling`]) fires each service's `[[schedule]]` actions as
//! Application Auto Scaling does.
//!
//! A service with `driver = "docker"` runs each task as a container ([`albless_docker`]):
//! before any reconciler starts, the scheduler connects to the engine and builds (or
//! finds) each such service's image once; a service whose image cannot be had gets its
//! tasks stopped with `TaskFailedToStart` and the reason.
//!
//! Known limits: one container per task; RunTask tasks (no service) always use the
//! process driver; a Docker image is built once per `albless up`, not again when a
//! deployment registers a new revision.

mod addr;
mod clock;
pub mod deploy;
mod driver;
mod handle;
mod health;
mod metadata;
pub mod model;
mod persist;
pub mod placement;
mod process;
mod reconcile;
mod scaling;
mod state;
mod task;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use albless_registry::Registry;
use albless_spec::Stack;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use addr::AddressPool;
pub use albless_spec::{HealthCheck, HealthCheckKind};
pub use clock::Clock;
pub use handle::{SchedulerError, SchedulerHandle};
pub use model::*;

use state::{State, StopRequest};

/// Settings of a local scheduler that do not come from albless.toml.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Folder for per-task log files (`<service>-<task id>.log`).
    pub log_dir: PathBuf,
    /// Where bare program names in a service's `command` are looked up first (the
    /// folder of the albless binary, where the sample app is built too).
    pub exe_dir: Option<PathBuf>,
    /// Echo task output to albless's stdout, prefixed with the service and task id.
    pub echo_output: bool,
    /// The file desired counts, revisions and deployments are kept in across restarts;
    /// `None` keeps nothing.
    pub state_file: Option<PathBuf>,
}

/// Something that happened to a task, for the CLI to show.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskEvent {
    /// The task's process started.
    Started {
        /// Service name (the family for a RunTask task).
        service: String,
        /// 32-hex task id.
        task_id: String,
        /// The task's address and port.
        addr: std::net::SocketAddr,
        /// OS process id.
        pid: u32,
    },
    /// The task passed its health check and was registered in Cloud Map.
    Healthy {
        /// Service name.
        service: String,
        /// 32-hex task id.
        task_id: String,
        /// The task's address and port.
        addr: std::net::SocketAddr,
        /// OS process id.
        pid: u32,
    },
    /// The task stopped.
    Stopped {
        /// Service name.
        service: String,
        /// 32-hex task id.
        task_id: String,
        /// ECS stop code (`EssentialContainerExited`, `TaskFailedToStart`,
        /// `ServiceSchedulerInitiated`, `UserInitiated`, `TerminationNotice`).
        stop_code: &'static str,
        /// Why, in words.
        reason: String,
    },
}

/// What every part of the scheduler shares.
pub(crate) struct Shared {
    pub stack: Arc<Stack>,
    pub registry: Registry,
    pub options: SchedulerOptions,
    pub events: broadcast::Sender<TaskEvent>,
    pub pool: AddressPool,
    pub clock: Clock,
    /// Activity marks per service: milliseconds since `clock_origin` of the last
    /// request the gateway saw (scale to zero).
    pub activity: HashMap<String, Arc<AtomicU64>>,
    pub clock_origin: Instant,
    pub state: Mutex<State>,
    pub runners: Mutex<JoinSet<()>>,
    /// Base URL of the task metadata endpoint, once bound.
    pub metadata_base: OnceLock<String>,
    /// Wakes the persistence writer.
    pub persist: tokio::sync::Notify,
    /// The image of each Docker-driven service, or why it cannot run; set once before
    /// the reconcilers start.
    pub images: OnceLock<driver::Images>,
}

impl Shared {
    /// The state, even if a panicking holder poisoned the lock.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Spawns the runner of task `id`.
    pub fn spawn_runner(
        self: &Arc<Self>,
        id: String,
        control: watch::Receiver<Option<StopRequest>>,
    ) {
        let sh = self.clone();
        self.runners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .spawn(task::run(sh, id, control));
        self.persist.notify_one();
    }
}

/// The local ECS: one reconciler per service of a stack.
pub struct Scheduler {
    shared: Arc<Shared>,
}

impl Scheduler {
    /// A scheduler for `stack`, registering tasks in `registry`. The stack's namespace
    /// and services must already exist in the registry. With a state file from an
    /// earlier run, desired counts, revisions and deployment history are restored; a
    /// service whose albless.toml definition changed since gets a new revision.
    pub fn new(stack: Arc<Stack>, registry: Registry, options: SchedulerOptions) -> Scheduler {
        let (events, _) = broadcast::channel(1024);
        let clock = Clock::new();
        let state = match options
            .state_file
            .as_deref()
            .and_then(|p| persist::load(p, &stack, &clock))
        {
            Some(state) => state,
            None => State::new(&stack, &clock),
        };
        let activity = stack
            .services
            .keys()
            .map(|k| (k.clone(), Arc::new(AtomicU64::new(0))))
            .collect();
        let shared = Arc::new(Shared {
            stack,
            registry,
            options,
            events,
            pool: AddressPool::new(),
            clock,
            activity,
            clock_origin: clock.now(),
            state: Mutex::new(state),
            runners: Mutex::new(JoinSet::new()),
            metadata_base: OnceLock::new(),
            persist: tokio::sync::Notify::new(),
            images: OnceLock::new(),
        });
        Scheduler { shared }
    }

    /// Task events from now on.
    pub fn events(&self) -> broadcast::Receiver<TaskEvent> {
        self.shared.events.subscribe()
    }

    /// A handle to the running scheduler (the ECS API's view of it).
    pub fn handle(&self) -> SchedulerHandle {
        SchedulerHandle::new(self.shared.clone())
    }

    /// Runs every service until `shutdown` turns true, then stops every task (each
    /// deregistered before it is signalled) and returns once all have exited.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let sh = self.shared;
        match metadata::bind().await {
            Ok(listener) => {
                if let Ok(addr) = listener.local_addr() {
                    let _ = sh.metadata_base.set(format!("http://{addr}"));
                }
                tokio::spawn(metadata::serve(listener, SchedulerHandle::new(sh.clone())));
            }
            Err(error) => tracing::warn!(%error, "cannot start the task metadata endpoint"),
        }
        let writer = tokio::spawn(persist::writer(sh.clone()));
        let _ = sh
            .images
            .set(driver::prepare(&sh.stack, sh.options.echo_output).await);

        let mut set = JoinSet::new();
        let names: Vec<String> = sh.lock().services.keys().cloned().collect();
        for name in names {
            set.spawn(reconcile::run_service(
                sh.clone(),
                name.clone(),
                shutdown.clone(),
            ));
            tokio::spawn(scaling::run(sh.clone(), name, shutdown.clone()));
        }
        while set.join_next().await.is_some() {}

        // Shutdown: every task is asked to stop (no drain), then awaited.
        {
            let st = sh.lock();
            for entry in st.tasks.values() {
                if entry.view.last_status != TaskStatus::Stopped {
                    let _ = entry.control.send(Some(StopRequest {
                        code: StopCode::ServiceSchedulerInitiated,
                        reason: "albless is shutting down".into(),
                        drain: std::time::Duration::ZERO,
                    }));
                }
            }
        }
        let mut runners =
            std::mem::take(&mut *sh.runners.lock().unwrap_or_else(|e| e.into_inner()));
        while runners.join_next().await.is_some() {}
        writer.abort();
        persist::save_now(&sh);
    }
}

/// A new ECS-style task id: 32 lower-case hex digits.
pub fn new_task_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}
