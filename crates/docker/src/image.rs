//! Getting a service's image onto the engine: build it from the service's `build` folder,
//! use it when it is already local, or pull it.
//!
//! A build folder is built on every call: the engine's layer cache makes an unchanged
//! folder a no-op, and edits to the app show up on the next `albless up` (the image asset
//! of the original stack is rebuilt from its folder in the same way). It is built for the
//! host's architecture, whatever the service's `arch` (that one is for AWS), so it runs
//! natively here.
//!
//! Known limits: `.dockerignore` is not read; the classic builder is used (BuildKit
//! needs a session this crate does not run), so Dockerfile features that need BuildKit
//! (`RUN --mount`, heredocs) fail; pulls are anonymous.

use std::path::Path;

use bollard::query_parameters::{BuildImageOptionsBuilder, CreateImageOptionsBuilder};
use futures_util::StreamExt;

use crate::{Engine, Error};

/// How [`Engine::ensure_image`] got the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obtained {
    /// Built from the build folder.
    Built,
    /// Already on this machine.
    Local,
    /// Pulled from its registry.
    Pulled,
}

/// The tag albless gives the image it builds for a service: `albless-<stack>-<service>:local`,
/// lower-cased, with characters a repository name does not allow replaced by `-`.
pub fn build_tag(stack: &str, service: &str) -> String {
    let repo: String = format!("albless-{stack}-{service}")
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{repo}:local")
}

/// The engine platform of this machine (`linux/amd64`, `linux/arm64`, …).
pub fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        other => other,
    };
    format!("linux/{arch}")
}

impl Engine {
    /// Makes `image` available on the engine. With `build` (a folder holding a
    /// `Dockerfile`), builds it as `image` and streams the build's output lines to
    /// `on_output`; otherwise uses the local image, or pulls it when it is not local
    /// ([`Error::Pull`] when no registry is reachable or it has no such image).
    pub async fn ensure_image(
        &self,
        image: &str,
        build: Option<&Path>,
        on_output: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Obtained, Error> {
        if let Some(dir) = build {
            self.build(image, dir, on_output).await?;
            return Ok(Obtained::Built);
        }
        match self.docker.inspect_image(image).await {
            Ok(_) => return Ok(Obtained::Local),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => return Err(Error::engine(format!("inspect image {image}"), e)),
        }
        self.pull(image, on_output).await?;
        Ok(Obtained::Pulled)
    }

    async fn build(
        &self,
        tag: &str,
        dir: &Path,
        on_output: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), Error> {
        if !dir.join("Dockerfile").is_file() {
            return Err(Error::NoDockerfile {
                dir: dir.to_path_buf(),
            });
        }
        let owned = dir.to_path_buf();
        let context = tokio::task::spawn_blocking(move || tar_context(&owned))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|r| r)
            .map_err(|source| Error::BuildContext {
                dir: dir.to_path_buf(),
                source,
            })?;
        tracing::info!(tag, dir = %dir.display(), bytes = context.len(), "building image");

        let options = BuildImageOptionsBuilder::new()
            .dockerfile("Dockerfile")
            .t(tag)
            .rm(true)
            .forcerm(true)
            .platform(&host_platform())
            .build();
        let body = bollard::body_full(context.into());
        let mut stream = self.docker.build_image(options, None, Some(body));
        let fail = |message: String| Error::Build {
            tag: tag.to_string(),
            dir: dir.to_path_buf(),
            message,
        };
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok(info) => info,
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    return Err(fail(error.trim().to_string()));
                }
                Err(bollard::errors::Error::DockerResponseServerError { message, .. }) => {
                    return Err(fail(message.trim().to_string()));
                }
                Err(e) => return Err(Error::engine(format!("build image {tag}"), e)),
            };
            if let Some(detail) = info.error_detail {
                return Err(fail(detail.message.unwrap_or_default().trim().to_string()));
            }
            for text in [info.stream, info.status].into_iter().flatten() {
                for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
                    on_output(line);
                }
            }
        }
        Ok(())
    }

    async fn pull(
        &self,
        image: &str,
        on_output: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), Error> {
        // Without a tag the API pulls every tag of the repository; `docker pull` means
        // `latest` then, and so does this.
        let reference = if has_tag_or_digest(image) {
            image.to_string()
        } else {
            format!("{image}:latest")
        };
        tracing::info!(image = %reference, "pulling image");
        let options = CreateImageOptionsBuilder::new()
            .from_image(&reference)
            .platform(&host_platform())
            .build();
        let mut stream = self.docker.create_image(Some(options), None, None);
        let fail = |message: String| Error::Pull {
            image: reference.clone(),
            message,
        };
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(detail) = info.error_detail {
                        return Err(fail(detail.message.unwrap_or_default()));
                    }
                    if let Some(status) = info.status {
                        on_output(status.trim_end());
                    }
                }
                Err(bollard::errors::Error::DockerResponseServerError { message, .. }) => {
                    return Err(fail(message.trim().to_string()));
                }
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    return Err(fail(error.trim().to_string()));
                }
                Err(e) => return Err(Error::engine(format!("pull image {reference}"), e)),
            }
        }
        Ok(())
    }
}

/// Whether an image reference names a tag or a digest (`name:tag`, `name@sha256:…`); a
/// colon in the registry part (`host:5000/name`) is not a tag.
fn has_tag_or_digest(image: &str) -> bool {
    if image.contains('@') {
        return true;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    last.contains(':')
}

/// The build context: every file of `dir` in a tar archive, paths relative to `dir`.
fn tar_context(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Builder::new(Vec::new());
    archive.follow_symlinks(true);
    // Docker's tar reader rejects GNU sparse entries (type `S`), which files with holes
    // (a stripped binary, say) would otherwise become.
    archive.sparse(false);
    // Owners and times of the host mean nothing in the image; without them an unchanged
    // folder gives the same context, and the engine's layer cache holds.
    archive.mode(tar::HeaderMode::Deterministic);
    archive.append_dir_all(".", dir)?;
    archive.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_tags_are_valid_references() {
        assert_eq!(build_tag("hello", "backend"), "albless-hello-backend:local");
        assert_eq!(build_tag("My Stack", "API"), "albless-my-stack-api:local");
    }

    #[test]
    fn tags_and_digests_are_recognised() {
        assert!(has_tag_or_digest("nginx:1.27"));
        assert!(has_tag_or_digest("repo/app@sha256:abc"));
        assert!(!has_tag_or_digest("nginx"));
        assert!(!has_tag_or_digest("localhost:5000/app"));
        assert!(has_tag_or_digest("localhost:5000/app:v2"));
    }

    #[test]
    fn files_with_holes_are_plain_entries() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(dir.path().join("holey")).unwrap();
        file.set_len(1 << 20).unwrap();
        drop(file);
        let bytes = tar_context(dir.path()).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let kind = entry.header().entry_type();
            assert!(
                kind.is_file() || kind.is_dir(),
                "entry type {:?}",
                kind.as_byte() as char
            );
        }
    }

    #[test]
    fn context_holds_the_folder_relative() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/app"), "x").unwrap();
        let bytes = tar_context(dir.path()).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert!(
            names
                .iter()
                .any(|n| n.trim_start_matches("./") == "Dockerfile"),
            "{names:?}"
        );
        assert!(
            names
                .iter()
                .any(|n| n.trim_start_matches("./") == "sub/app"),
            "{names:?}"
        );
    }
}
