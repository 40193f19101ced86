//! One task as one container: start it, stream its output, wait for its exit, run
//! health checks inside it, stop and remove it.
//!
//! The container's port is published on the task's own loopback address (HostIp =
//! `127.x.y.z`, HostPort = the service port), the address model of the process driver:
//! container bridge addresses are not reachable from the host on every platform, loopback
//! publishing is. Inside the container `HOST` is `0.0.0.0` (the task's loopback address
//! exists only on the host) and `PORT` is the container port.
//!
//! Known limit: dropping a [`TaskContainer`] leaves its container running, as a crash of
//! albless would; [`crate::Engine::cleanup_leftovers`] removes such containers.

use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error as ClientError;
use bollard::exec::StartExecResults;
use bollard::models::{ContainerCreateBody, ExecConfig, HostConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::lines::{LineSplitter, spawn_sink};
use crate::{Engine, Error, LABEL_SERVICE, LABEL_STACK, LABEL_TASK, container_name};

/// The stop signal when the image names none (Docker's and ECS's default).
const DEFAULT_STOP_SIGNAL: &str = "SIGTERM";
/// The name under which a container reaches its host.
pub const HOST_ALIAS: &str = "host.docker.internal";
/// How long a stopped task's last output lines may take to reach the log file.
const LOG_DRAIN: Duration = Duration::from_secs(2);
/// Bytes of a failed health check's output kept for its error message.
const CHECK_OUTPUT_KEPT: usize = 512;

/// What one task container needs to start.
#[derive(Debug, Clone)]
pub struct TaskSpec<'a> {
    /// Stack name (label `albless.stack`).
    pub stack: &'a str,
    /// Service name (label `albless.service`).
    pub service: &'a str,
    /// Task id, 32 hex digits (label `albless.task`).
    pub task_id: &'a str,
    /// Image reference, already on the engine (see [`Engine::ensure_image`]).
    pub image: &'a str,
    /// Environment of the task; `HOST` and `PORT` are replaced as the module doc says.
    pub env: &'a [(String, String)],
    /// ECS CPU units; 1024 units are one CPU (`NanoCpus = units × 10⁹ / 1024`).
    pub cpu_units: u32,
    /// Memory limit, MiB.
    pub memory_mib: u32,
    /// The port the app listens on inside the container.
    pub container_port: u16,
    /// Where the container port is published on the host: the task's loopback address
    /// and, normally, the same port.
    pub publish: SocketAddrV4,
    /// Log file of the task (appended).
    pub log_file: PathBuf,
    /// Prefix for output lines echoed to stdout; `None` keeps output in the log file only.
    pub echo_prefix: Option<String>,
}

/// The exit as the waiting task saw it: the exit code, or why it is unknown.
type ExitSeen = Option<Result<i64, String>>;

/// A task's running (or exited, not yet removed) container.
pub struct TaskContainer {
    docker: Docker,
    id: String,
    name: String,
    stop_signal: String,
    pid: u32,
    publish: SocketAddrV4,
    exit: watch::Receiver<ExitSeen>,
    logs: Option<JoinHandle<()>>,
    waiter: JoinHandle<()>,
}

impl Engine {
    /// Creates and starts the container of one task (image ready, see
    /// [`Engine::ensure_image`]); its output is streamed to the log file from the start.
    pub async fn start(&self, spec: TaskSpec<'_>) -> Result<TaskContainer, Error> {
        let name = container_name(spec.stack, spec.service, spec.task_id);
        let port_key = format!("{}/tcp", spec.container_port);
        let mut env: Vec<String> = spec
            .env
            .iter()
            .filter(|(k, _)| k != "HOST" && k != "PORT")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        env.push("HOST=0.0.0.0".into());
        env.push(format!("PORT={}", spec.container_port));
        let labels = HashMap::from([
            (LABEL_STACK.to_string(), spec.stack.to_string()),
            (LABEL_SERVICE.to_string(), spec.service.to_string()),
            (LABEL_TASK.to_string(), spec.task_id.to_string()),
        ]);
        let binding = PortBinding {
            host_ip: Some(spec.publish.ip().to_string()),
            host_port: Some(spec.publish.port().to_string()),
        };
        let host_config = HostConfig {
            nano_cpus: Some(i64::from(spec.cpu_units) * 1_000_000_000 / 1024),
            memory: Some(i64::from(spec.memory_mib) * 1024 * 1024),
            port_bindings: Some(HashMap::from([(port_key.clone(), Some(vec![binding]))])),
            // The host as the container sees it (Docker 20.10+), for endpoints albless
            // serves on the host, such as the task metadata endpoint.
            extra_hosts: Some(vec![format!("{HOST_ALIAS}:host-gateway")]),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.to_string()),
            env: Some(env),
            labels: Some(labels),
            exposed_ports: Some(vec![port_key]),
            host_config: Some(host_config),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| Error::engine(format!("create container {name}"), e))?;
        let id = created.id;

        let started = async {
            self.docker
                .start_container(&id, None)
                .await
                .map_err(|e| Error::engine(format!("start container {name}"), e))?;
            self.docker
                .inspect_container(&id, None)
                .await
                .map_err(|e| Error::engine(format!("inspect container {name}"), e))
        };
        let inspect = match started.await {
            Ok(inspect) => inspect,
            Err(e) => {
                // A container that never ran (port taken, bad image config) goes at once.
                let _ = remove(&self.docker, &id).await;
                return Err(e);
            }
        };
        let stop_signal = inspect
            .config
            .and_then(|c| c.stop_signal)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_STOP_SIGNAL.to_string());
        let pid = inspect
            .state
            .and_then(|s| s.pid)
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(0);

        let (exit_tx, exit) = watch::channel(None);
        let waiter = tokio::spawn(watch_exit(self.docker.clone(), id.clone(), exit_tx));
        let sink = spawn_sink(spec.log_file, spec.echo_prefix);
        let logs = tokio::spawn(forward_logs(self.docker.clone(), id.clone(), sink));
        tracing::info!(container = %name, image = spec.image, publish = %spec.publish, pid, "container started");
        Ok(TaskContainer {
            docker: self.docker.clone(),
            id,
            name,
            stop_signal,
            pid,
            publish: spec.publish,
            exit,
            logs: Some(logs),
            waiter,
        })
    }
}

impl TaskContainer {
    /// Container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Container name (`albless-<stack>-<service>-<task8>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Host process id of the container's main process at start (0 when the engine did
    /// not say, or it had already exited), for the task's view and events.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The host address the container port is published on.
    pub fn publish_addr(&self) -> SocketAddrV4 {
        self.publish
    }

    /// The signal [`TaskContainer::stop`] sends first: the image's `STOPSIGNAL`, else
    /// `SIGTERM`.
    pub fn stop_signal(&self) -> &str {
        &self.stop_signal
    }

    /// Waits for the container to exit and returns its exit code (137 after SIGKILL).
    /// Cancel-safe: it can be raced in `select!` and called again.
    pub async fn wait(&self) -> Result<i64, Error> {
        let mut exit = self.exit.clone();
        let seen = match exit.wait_for(Option::is_some).await {
            Ok(seen) => seen.clone(),
            Err(_) => None,
        };
        match seen {
            Some(Ok(code)) => Ok(code),
            Some(Err(message)) => Err(Error::Wait {
                container: self.name.clone(),
                message,
            }),
            None => Err(Error::Wait {
                container: self.name.clone(),
                message: "the waiting task ended".into(),
            }),
        }
    }

    /// Stops the task as ECS does: the stop signal, then SIGKILL once `timeout` has
    /// passed (ECS `stopTimeout`), then removes the container. Also removes a container
    /// that already exited. Returns the exit code.
    pub async fn stop(&mut self, timeout: Duration) -> Result<i64, Error> {
        let running = self.exit.borrow().is_none();
        if running {
            self.signal(&self.stop_signal.clone()).await?;
            if tokio::time::timeout(timeout, self.wait()).await.is_err() {
                tracing::info!(container = %self.name, timeout_ms = timeout.as_millis() as u64, "stop timeout passed; killing");
                self.signal("SIGKILL").await?;
            }
        }
        let code = self.wait().await;
        // The log stream ends with the container; let its last lines reach the file.
        if let Some(logs) = self.logs.take() {
            let _ = tokio::time::timeout(LOG_DRAIN, logs).await;
        }
        remove(&self.docker, &self.id)
            .await
            .map_err(|e| Error::engine(format!("remove container {}", self.name), e))?;
        tracing::info!(container = %self.name, exit_code = ?code.as_ref().ok(), "container removed");
        code
    }

    /// Sends `signal` to the container's main process; a container that is no longer
    /// running is not an error.
    async fn signal(&self, signal: &str) -> Result<(), Error> {
        let options = KillContainerOptionsBuilder::new().signal(signal).build();
        match self.docker.kill_container(&self.id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(ClientError::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }) => Ok(()),
            Err(e) => Err(Error::engine(
                format!("send {signal} to container {}", self.name),
                e,
            )),
        }
    }

    /// Runs one ECS container health check inside the container (aws-behavior.md §4.5):
    /// `["CMD-SHELL", "cmd"]` runs `/bin/sh -c cmd`, `["CMD", prog, args…]` runs `prog`
    /// directly, and a bare `[prog, args…]` is taken as `CMD`. Exit 0 passes. The command
    /// sees the container's environment, as with `docker exec`.
    pub async fn exec_check(&self, command: &[String], timeout: Duration) -> Result<(), Error> {
        let argv: Vec<String> = match command.first().map(String::as_str) {
            None => return Err(Error::EmptyCheck),
            Some("CMD-SHELL") => {
                vec!["/bin/sh".into(), "-c".into(), command[1..].join(" ")]
            }
            Some("CMD") => command[1..].to_vec(),
            Some(_) => command.to_vec(),
        };
        if argv.is_empty() || argv[0].is_empty() {
            return Err(Error::EmptyCheck);
        }
        match tokio::time::timeout(timeout, self.exec(argv)).await {
            Ok(result) => result,
            Err(_) => Err(Error::CheckTimedOut { timeout }),
        }
    }

    async fn exec(&self, argv: Vec<String>) -> Result<(), Error> {
        let config = ExecConfig {
            cmd: Some(argv),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let action = || format!("run a health check in container {}", self.name);
        let created = self
            .docker
            .create_exec(&self.id, config)
            .await
            .map_err(|e| Error::engine(action(), e))?;
        let mut output = Vec::new();
        if let StartExecResults::Attached {
            output: mut stream, ..
        } = self
            .docker
            .start_exec(&created.id, None)
            .await
            .map_err(|e| Error::engine(action(), e))?
        {
            while let Some(Ok(frame)) = stream.next().await {
                output.extend_from_slice(&frame.into_bytes());
                if output.len() > 2 * CHECK_OUTPUT_KEPT {
                    output.drain(..output.len() - CHECK_OUTPUT_KEPT);
                }
            }
        }
        let inspect = self
            .docker
            .inspect_exec(&created.id)
            .await
            .map_err(|e| Error::engine(action(), e))?;
        match inspect.exit_code {
            Some(0) => Ok(()),
            code => {
                let start = output.len().saturating_sub(CHECK_OUTPUT_KEPT);
                Err(Error::CheckFailed {
                    exit_code: code.unwrap_or(-1),
                    output: String::from_utf8_lossy(&output[start..]).trim().to_string(),
                })
            }
        }
    }
}

impl Drop for TaskContainer {
    fn drop(&mut self) {
        self.waiter.abort();
        if let Some(logs) = self.logs.take() {
            logs.abort();
        }
    }
}

/// Removes a container and its anonymous volumes, killing it if it still runs; an
/// absent container is not an error.
async fn remove(docker: &Docker, id: &str) -> Result<(), ClientError> {
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(id, Some(options)).await {
        Ok(())
        | Err(ClientError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Publishes the container's exit code once it stops running.
async fn watch_exit(docker: Docker, id: String, tx: watch::Sender<ExitSeen>) {
    let seen = loop {
        let options = WaitContainerOptionsBuilder::new()
            .condition("not-running")
            .build();
        let mut stream = docker.wait_container(&id, Some(options));
        match stream.next().await {
            Some(Ok(response)) => break Ok(response.status_code),
            // The client reports a non-zero exit as an error carrying the code.
            Some(Err(ClientError::DockerContainerWaitError { code, .. })) => break Ok(code),
            // The engine took longer than the client's request timeout to answer: ask again.
            Some(Err(ClientError::RequestTimeoutError)) => continue,
            Some(Err(e)) => break Err(e.to_string()),
            None => break Err("the engine ended the wait without an exit code".to_string()),
        }
    };
    let _ = tx.send(Some(seen));
}

/// Streams the container's stdout and stderr, from its start, to the line sink.
async fn forward_logs(
    docker: Docker,
    id: String,
    sink: tokio::sync::mpsc::UnboundedSender<String>,
) {
    let options = LogsOptionsBuilder::new()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .tail("all")
        .build();
    let mut stream = docker.logs(&id, Some(options));
    let (mut out, mut err) = (LineSplitter::default(), LineSplitter::default());
    while let Some(Ok(frame)) = stream.next().await {
        let lines = match frame {
            LogOutput::StdErr { message } => err.push(&message),
            LogOutput::StdOut { message } | LogOutput::Console { message } => out.push(&message),
            LogOutput::StdIn { .. } => continue,
        };
        for line in lines {
            let _ = sink.send(line);
        }
    }
    for line in [out.finish(), err.finish()].into_iter().flatten() {
        let _ = sink.send(line);
    }
}
