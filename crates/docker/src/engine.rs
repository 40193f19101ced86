//! The connection to the local Docker engine, and what is done to a whole stack's
//! containers (removing the leftovers of a killed albless).
//!
//! Known limit: unix sockets only; a `DOCKER_HOST` that is not `unix://` is ignored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bollard::Docker;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
};

use crate::{Error, LABEL_SERVICE, LABEL_STACK, LABEL_TASK};

/// The socket tried when `DOCKER_HOST` does not name one.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Seconds the client waits for the engine's answer to one request (the headers only:
/// streams such as logs and waits last as long as the container).
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// A reachable Docker engine.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) docker: Docker,
    socket: PathBuf,
}

/// A container removed by [`Engine::cleanup_leftovers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// Container id.
    pub id: String,
    /// Container name, without Docker's leading `/`.
    pub name: String,
    /// Its service (label `albless.service`), if labelled.
    pub service: Option<String>,
    /// Its task id (label `albless.task`), if labelled.
    pub task_id: Option<String>,
}

impl Engine {
    /// Connects to the engine of `DOCKER_HOST` (when it is `unix://PATH`) or of
    /// [`DEFAULT_SOCKET`], checks that it answers, and settles on the highest API version
    /// both sides speak.
    pub async fn connect() -> Result<Engine, Error> {
        let socket = match std::env::var("DOCKER_HOST") {
            Ok(host) if host.starts_with("unix://") => PathBuf::from(&host["unix://".len()..]),
            _ => PathBuf::from(DEFAULT_SOCKET),
        };
        Engine::connect_to(&socket).await
    }

    /// Connects to the engine listening on the unix socket `socket`.
    pub async fn connect_to(socket: &Path) -> Result<Engine, Error> {
        let unreachable = |reason: String| Error::EngineUnreachable {
            socket: socket.to_path_buf(),
            reason,
        };
        let path = socket
            .to_str()
            .ok_or_else(|| unreachable("the path is not UTF-8".into()))?;
        let docker =
            Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
                .map_err(|e| unreachable(e.to_string()))?;
        // Older engines (API 1.41 here) reject a newer client version outright.
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        docker
            .ping()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        tracing::debug!(socket = %socket.display(), api = %docker.client_version(), "docker engine connected");
        Ok(Engine {
            docker,
            socket: socket.to_path_buf(),
        })
    }

    /// The socket this engine was reached on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The underlying client, for what this crate does not wrap.
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    /// Removes (forcibly: running ones are killed) every container labelled
    /// `albless.stack=<stack>`, and returns what was removed. `albless up` calls this
    /// before it starts anything, so that containers of an albless that was killed
    /// (SIGKILL: no chance to stop them) do not outlive it.
    pub async fn cleanup_leftovers(&self, stack: &str) -> Result<Vec<Leftover>, Error> {
        let filters =
            HashMap::from([("label".to_string(), vec![format!("{LABEL_STACK}={stack}")])]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let found = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| Error::engine(format!("list containers of stack {stack}"), e))?;
        let mut removed = Vec::new();
        for summary in found {
            let Some(id) = summary.id else { continue };
            let labels = summary.labels.unwrap_or_default();
            // The filter already matched; this guards against an engine ignoring it.
            if labels.get(LABEL_STACK).map(String::as_str) != Some(stack) {
                continue;
            }
            let name = summary
                .names
                .and_then(|n| n.into_iter().next())
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_else(|| id.clone());
            let options = RemoveContainerOptionsBuilder::new()
                .force(true)
                .v(true)
                .build();
            match self.docker.remove_container(&id, Some(options)).await {
                Ok(()) => {}
                // Gone meanwhile (removed by its own stop): nothing left over.
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => continue,
                Err(e) => return Err(Error::engine(format!("remove container {name}"), e)),
            }
            tracing::info!(stack, container = %name, "leftover container removed");
            removed.push(Leftover {
                id,
                name,
                service: labels.get(LABEL_SERVICE).cloned(),
                task_id: labels.get(LABEL_TASK).cloned(),
            });
        }
        Ok(removed)
    }

    /// Removes the image `reference` (a tag or id). A tag that other tags share is only
    /// untagged, as `docker rmi` does. Absent images are not an error.
    pub async fn remove_image(&self, reference: &str) -> Result<(), Error> {
        let options = RemoveImageOptionsBuilder::new()
            .force(false)
            .noprune(false)
            .build();
        match self
            .docker
            .remove_image(reference, Some(options), None)
            .await
        {
            Ok(_) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(Error::engine(format!("remove image {reference}"), e)),
        }
    }
}
