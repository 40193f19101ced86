//! The ECS model for local mode: services keep their desired number of tasks running,
//! healthy and registered in the registry.
//!
//! The flow of one task: the service's reconciler sees fewer live tasks than desired
//! and asks the process driver to start one on its own loopback address (as each
//! Fargate task gets its own ENI); once its health check passes the task is registered
//! in Cloud Map with the attributes ECS sets; when it exits or turns unhealthy it is
//! deregistered and replaced, with a backoff for tasks that never got healthy. Stopping
//! is the reverse: deregister first, then SIGTERM, then SIGKILL after the stop timeout.
//!
//! Every wait reads tokio's clock, so tests can run on a paused clock.
//!
//! Known limits: deployments, scaling commands, lifecycle states beyond started /
//! healthy / stopped and the ECS API come with issue #5; the Docker driver with #9.

mod addr;
mod health;
mod process;
mod service;

use std::path::PathBuf;
use std::sync::Arc;

use albless_registry::Registry;
use albless_spec::Stack;
use tokio::sync::{broadcast, watch};

pub use addr::AddressPool;


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
}

/// Something that happened to a task, for the CLI to show.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskEvent {
    /// The task's process started.
    Started {
        /// Service name.
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
        /// ECS-style stop code (`EssentialContainerExited`, `TaskFailedToStart`,
        /// `ServiceSchedulerInitiated`).
        stop_code: &'static str,
        /// Why, in words.
        reason: String,
    },
}

/// The local ECS: one reconciler per service of a stack.
pub struct Scheduler {
    stack: Arc<Stack>,
    registry: Registry,
    options: SchedulerOptions,
    events: broadcast::Sender<TaskEvent>,
}

impl Scheduler {
    /// A scheduler for `stack`, registering tasks in `registry`. The stack's namespace
    /// and services must already exist in the registry.
    pub fn new(stack: Arc<Stack>, registry: Registry, options: SchedulerOptions) -> Scheduler {
        let (events, _) = broadcast::channel(1024);
        Scheduler { stack, registry, options, events }
    }

    /// Task events from now on.
    pub fn events(&self) -> broadcast::Receiver<TaskEvent> {
        self.events.subscribe()
    }

    /// Runs every service until `shutdown` turns true, then stops every task (each
    /// deregistered before it is signalled) and returns once all have exited.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let pool = Arc::new(AddressPool::new());
        let ctx = Arc::new(service::Context {
            stack: self.stack.clone(),
            registry: self.registry,
            options: self.options,
            events: self.events,
            pool,
        });
        let mut set = tokio::task::JoinSet::new();
        for name in self.stack.services.keys() {
            set.spawn(service::run_service(ctx.clone(), name.clone(), shutdown.clone()));
        }
        while set.join_next().await.is_some() {}
    }
}

/// A new ECS-style task id: 32 lower-case hex digits.
pub fn new_task_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}
