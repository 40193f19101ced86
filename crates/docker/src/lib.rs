//! The Docker driver: a task is one container on the local Docker engine, with the same
//! shape as a process task (its own loopback address, output lines to a log file, exit
//! code, stop signal then kill), so that the scheduler, the registry and DNS see the same
//! address model whichever driver runs a service.
//!
//! - [`Engine::connect`] finds the engine (`DOCKER_HOST=unix://…`, else
//!   `/var/run/docker.sock`) and agrees on an API version with it.
//! - [`Engine::ensure_image`] builds the image of a service's `build` folder, uses a local
//!   image, or pulls one (aws-behavior.md: on AWS the image comes from ECR; locally no
//!   registry need be reachable).
//! - [`Engine::start`] runs one task as one container: environment, CPU and memory limits
//!   from the task size, the container port published on the task's loopback address,
//!   labels naming stack, service and task.
//! - [`TaskContainer::exec_check`] runs an ECS container health check (`CMD-SHELL`,
//!   `CMD`) inside the container, as the ECS agent does through the engine.
//! - [`Engine::cleanup_leftovers`] removes a stack's containers that a killed albless
//!   left behind.
//!
//! Known limits: the engine is reached through a unix socket only (no TCP or TLS
//! `DOCKER_HOST`); `.dockerignore` is not read (the whole build folder is the context);
//! a health check command that times out keeps running inside the container, as with
//! `docker exec`; registry credentials are not supported (anonymous pulls only); a
//! container cannot reach what albless serves on the host's loopback only (the Cloud Map
//! DNS server, a metadata endpoint on 127.0.0.1): such a server must also listen where
//! [`HOST_ALIAS`] points; containers of a killed albless run until the next
//! [`Engine::cleanup_leftovers`] (no parent-death signal reaches a container).

mod container;
mod engine;
mod error;
mod image;
mod lines;

pub use container::{HOST_ALIAS, TaskContainer, TaskSpec};
pub use engine::{DEFAULT_SOCKET, Engine, Leftover};
pub use error::Error;
pub use image::{Obtained, build_tag, host_platform};
pub use lines::spawn_sink;

/// Label naming the stack a container belongs to.
pub const LABEL_STACK: &str = "albless.stack";
/// Label naming the service a container runs a task of.
pub const LABEL_SERVICE: &str = "albless.service";
/// Label holding the task id (32 hex digits).
pub const LABEL_TASK: &str = "albless.task";

/// The container name of a task: `albless-<stack>-<service>-<first 8 of task id>`, with
/// any character Docker does not allow in names replaced by `-`.
pub fn container_name(stack: &str, service: &str, task_id: &str) -> String {
    let short: String = task_id.chars().take(8).collect();
    let raw = format!("albless-{stack}-{service}-{short}");
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_are_docker_safe() {
        assert_eq!(
            container_name("hello", "backend", "0123456789abcdef0123456789abcdef"),
            "albless-hello-backend-01234567"
        );
        assert_eq!(container_name("a b", "c/d", "xyz"), "albless-a-b-c-d-xyz");
    }
}
