//! What runs a task: a host process (the process driver) or a container on the local
//! Docker engine (the Docker driver, issue #9), behind one [`Runner`] so that the task
//! lifecycle ([`crate::task`]) is the same for both.
//!
//! [`prepare`] readies the image of every Docker-driven service once, before any task
//! starts: build from the service's `build` folder, else the local image, else a pull
//! (as ECS pulls from ECR; aws-behavior.md §4.2).
//!
//! Known limits: the engine is connected once per scheduler; an image that fails to
//! build is not retried until the next `albless up`.

use std::collections::HashMap;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use albless_docker::{Engine, TaskContainer, build_tag};
use albless_spec::{Driver, Stack};

use crate::process::TaskProcess;

/// A Docker-driven service's ready image: the engine and the image reference.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    /// The engine the image is on.
    pub engine: Engine,
    /// The image reference (`image`, or the tag the `build` folder was built as).
    pub tag: String,
}

/// Per Docker-driven service: its image, or why its tasks cannot start.
pub(crate) type Images = HashMap<String, Result<Image, String>>;

/// Connects to the engine (only when a service needs it) and readies each Docker-driven
/// service's image. Build output is echoed when `echo` is set, as task output is.
pub(crate) async fn prepare(stack: &Stack, echo: bool) -> Images {
    let mut images = Images::new();
    let docker: Vec<_> = stack
        .services
        .values()
        .filter(|s| s.driver == Driver::Docker)
        .collect();
    if docker.is_empty() {
        return images;
    }
    let engine = match Engine::connect().await {
        Ok(engine) => engine,
        Err(error) => {
            tracing::error!(%error, "cannot reach the Docker engine");
            for service in docker {
                images.insert(service.name.clone(), Err(error.to_string()));
            }
            return images;
        }
    };
    for service in docker {
        let tag = service
            .image
            .clone()
            .unwrap_or_else(|| build_tag(&stack.name, &service.name));
        let name = service.name.clone();
        let mut on_output = |line: &str| {
            if echo {
                println!("[{name}/build] {line}");
            } else {
                tracing::debug!(service = %name, line, "image build output");
            }
        };
        let result = engine
            .ensure_image(&tag, service.build.as_deref(), &mut on_output)
            .await;
        let entry = match result {
            Ok(obtained) => {
                tracing::info!(service = %service.name, image = %tag, ?obtained, "image ready");
                Ok(Image {
                    engine: engine.clone(),
                    tag,
                })
            }
            Err(error) => {
                tracing::error!(service = %service.name, image = %tag, %error, "image not ready");
                Err(error.to_string())
            }
        };
        images.insert(service.name.clone(), entry);
    }
    images
}

/// How a task's process or container ended.
pub(crate) struct Exit {
    /// Exit code (128 + signal for a process killed by a signal), if known.
    pub code: Option<i32>,
    /// ECS's `stoppedReason` for an essential container that exited.
    pub reason: String,
}

impl Exit {
    fn from_process(status: io::Result<ExitStatus>) -> Exit {
        match status {
            Ok(s) => match (s.code(), s.signal()) {
                (Some(code), _) => Exit::code(code),
                (None, Some(sig)) => Exit {
                    code: Some(128 + sig),
                    reason: format!("Essential container in task exited (killed by signal {sig})"),
                },
                _ => Exit {
                    code: None,
                    reason: "Essential container in task exited".into(),
                },
            },
            Err(e) => Exit {
                code: None,
                reason: format!("cannot wait for the task: {e}"),
            },
        }
    }

    fn from_container(code: Result<i64, albless_docker::Error>) -> Exit {
        match code {
            Ok(code) => Exit::code(i32::try_from(code).unwrap_or(i32::MAX)),
            Err(e) => Exit {
                code: None,
                reason: format!("cannot wait for the task: {e}"),
            },
        }
    }

    fn code(code: i32) -> Exit {
        Exit {
            code: Some(code),
            reason: format!("Essential container in task exited (exit code {code})"),
        }
    }
}

/// The running part of a task.
pub(crate) enum Runner {
    /// A host process. In a mutex so that [`Runner::wait`] needs only `&self`, while a
    /// health probe borrows the runner too.
    Process(tokio::sync::Mutex<TaskProcess>),
    /// A container.
    Container(TaskContainer),
}

impl Runner {
    /// The container, for the Docker driver (health check commands run inside it).
    pub fn container(&self) -> Option<&TaskContainer> {
        match self {
            Runner::Process(_) => None,
            Runner::Container(c) => Some(c),
        }
    }

    /// Waits for the task to exit. Cancel-safe.
    pub async fn wait(&self) -> Exit {
        match self {
            Runner::Process(p) => Exit::from_process(p.lock().await.wait().await),
            Runner::Container(c) => Exit::from_container(c.wait().await),
        }
    }

    /// Frees what a task that exited on its own still holds: a container is removed
    /// (nothing outlives albless, issue #9); a process needs nothing.
    pub async fn release(&mut self) {
        if let Runner::Container(c) = self {
            // Already exited: no signal is sent, the container is only removed.
            if let Err(error) = c.stop(Duration::ZERO).await {
                tracing::warn!(container = %c.name(), %error, "cannot remove container");
            }
        }
    }

    /// The stop signal, then SIGKILL after `timeout` (ECS `stopTimeout`); a container is
    /// removed afterwards.
    pub async fn stop(&mut self, timeout: Duration) -> Exit {
        match self {
            Runner::Process(p) => Exit::from_process(p.get_mut().stop(timeout).await),
            Runner::Container(c) => Exit::from_container(c.stop(timeout).await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_reasons_follow_ecs_wording() {
        let e = Exit::from_container(Ok(137));
        assert_eq!(e.code, Some(137));
        assert_eq!(
            e.reason,
            "Essential container in task exited (exit code 137)"
        );
        let e = Exit::from_process(Ok(ExitStatus::from_raw(9)));
        assert_eq!(e.code, Some(137));
        assert!(e.reason.contains("killed by signal 9"), "{}", e.reason);
    }
}
