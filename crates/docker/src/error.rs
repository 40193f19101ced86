//! The Docker driver's errors: one enum for the engine, images, containers and checks.

use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong while driving containers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No Docker engine answered on the socket (not installed, not running, or no
    /// permission on the socket).
    #[error("no Docker engine reachable at {}: {reason}", socket.display())]
    EngineUnreachable {
        /// The socket path that was tried.
        socket: PathBuf,
        /// Why the connection failed, as the client reported it.
        reason: String,
    },
    /// The engine refused or failed a request.
    #[error("Docker engine: cannot {action}: {source}")]
    Engine {
        /// What was asked, in words (`create container albless-…`).
        action: String,
        /// The client's error.
        #[source]
        source: bollard::errors::Error,
    },
    /// The build folder has no `Dockerfile`.
    #[error("no Dockerfile in {}", dir.display())]
    NoDockerfile {
        /// The build folder.
        dir: PathBuf,
    },
    /// The build folder could not be read into a build context.
    #[error("cannot read build folder {}: {source}", dir.display())]
    BuildContext {
        /// The build folder.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The engine could not build the image (a failing step, or a base image that is not
    /// local and cannot be pulled).
    #[error("cannot build image {tag} from {}: {message}", dir.display())]
    Build {
        /// The tag being built.
        tag: String,
        /// The build folder.
        dir: PathBuf,
        /// The engine's message.
        message: String,
    },
    /// The image is not on this machine and could not be pulled: no registry reachable,
    /// or no such image there.
    #[error("image {image} is not on this machine and cannot be pulled: {message}")]
    Pull {
        /// The image reference.
        image: String,
        /// The engine's message.
        message: String,
    },
    /// Waiting for the container's exit failed (the container was removed behind
    /// albless's back, or the engine went away).
    #[error("cannot wait for container {container}: {message}")]
    Wait {
        /// Container name.
        container: String,
        /// The engine's message.
        message: String,
    },
    /// A health check had no command.
    #[error("the health check command is empty")]
    EmptyCheck,
    /// A health check command ran and exited with a non-zero status.
    #[error("health check command exited with {exit_code}{}", output_suffix(.output))]
    CheckFailed {
        /// Its exit status (126 or 127: the program could not be run).
        exit_code: i64,
        /// The end of its output, for the log.
        output: String,
    },
    /// A health check command did not finish within the check's timeout.
    #[error("health check timed out after {} ms", timeout.as_millis())]
    CheckTimedOut {
        /// The check's timeout.
        timeout: Duration,
    },
}

fn output_suffix(output: &str) -> String {
    if output.is_empty() {
        String::new()
    } else {
        format!(": {output}")
    }
}

impl Error {
    /// An [`Error::Engine`] for `action`.
    pub(crate) fn engine(action: impl Into<String>, source: bollard::errors::Error) -> Error {
        Error::Engine {
            action: action.into(),
            source,
        }
    }
}
