//! A service's image on AWS: built from its `build` folder for the task's architecture
//! (`linux/arm64` or `linux/amd64`, whatever this machine is) on the local Docker engine,
//! tagged with the image id, and pushed to the stack's ECR repository with a token from
//! ECR GetAuthorizationToken. The tag changes only when the image does, so an unchanged
//! folder makes no new task definition revision.
//!
//! The built image's architecture is checked before it is pushed: on engines before
//! Docker 25.0.2 the classic builder's cache ignores the requested platform (25.0.2's fix
//! for CVE-2024-24557 made the cache compare it, see moby/moby#49947), so a folder built
//! once for `linux/amd64` comes back from the cache as that amd64 image when
//! `linux/arm64` is asked for (seen with Debian bookworm's engine, 20.10.24). Such an
//! image is built again without the cache, and one that still has the wrong
//! architecture is an error, never pushed.
//!
//! Known limits: a foreign architecture needs the engine's emulation (binfmt/QEMU) for
//! `RUN` steps; `.dockerignore` is not read; the classic builder is used (no BuildKit-only
//! syntax); a folder built for both architectures in turn may lose its cached image and
//! get a new tag. The registry password is passed to the engine only, never formatted or
//! logged.

use std::path::Path;

use albless_spec::{Arch, Service};
use base64::Engine as _;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, PushImageOptionsBuilder, TagImageOptionsBuilder,
};
use futures_util::StreamExt as _;

use crate::{Clients, Console, Error};

/// The engine platform ECS runs a task of `arch` on.
pub fn platform(arch: Arch) -> &'static str {
    match arch {
        Arch::Arm64 => "linux/arm64",
        Arch::X86_64 => "linux/amd64",
    }
}

/// Builds `service`'s image from `dir` and pushes it to `repository_uri`; returns the
/// pushed reference (`<uri>:<12 hex digits of the image id>`).
pub async fn build_and_push(
    engine: &albless_docker::Engine,
    clients: &Clients,
    service: &Service,
    dir: &Path,
    repository_uri: &str,
    console: &Console,
) -> Result<String, Error> {
    let fail = |message: String| Error::Image {
        service: service.name.clone(),
        message,
    };
    let docker = engine.client();
    let platform = platform(service.arch);
    let latest = format!("{repository_uri}:latest");

    // Build for the task's platform, streaming the build output to the console; once more
    // without the cache when the cache answered with another architecture's image.
    console.spin(format!("building {} for {platform}", service.name));
    let owned = dir.to_path_buf();
    let context = tokio::task::spawn_blocking(move || tar_folder(&owned))
        .await
        .map_err(|e| fail(e.to_string()))?
        .map_err(|e| fail(format!("cannot read build folder {}: {e}", dir.display())))?;
    let wanted = architecture(service.arch);
    let mut built = build(docker, context.clone(), platform, &latest, false, console)
        .await
        .map_err(&fail)?;
    if built.architecture.as_deref() != Some(wanted) {
        tracing::info!(
            service = %service.name,
            wanted,
            got = built.architecture.as_deref().unwrap_or("?"),
            "cached image of another architecture, building without the cache"
        );
        console.line(format!(
            "  the build cache gave a {} image: building again for {platform} without it",
            built.architecture.as_deref().unwrap_or("?")
        ));
        built = build(docker, context, platform, &latest, true, console)
            .await
            .map_err(&fail)?;
        if built.architecture.as_deref() != Some(wanted) {
            return Err(fail(format!(
                "the engine built a {} image where {platform} was asked for",
                built.architecture.as_deref().unwrap_or("?")
            )));
        }
    }
    let id = built.id;

    // Tag by content, so the task definition changes exactly when the image does.
    let tag: String = id.trim_start_matches("sha256:").chars().take(12).collect();
    docker
        .tag_image(
            &latest,
            Some(
                TagImageOptionsBuilder::new()
                    .repo(repository_uri)
                    .tag(&tag)
                    .build(),
            ),
        )
        .await
        .map_err(|e| fail(format!("cannot tag the image: {e}")))?;

    // Push with a registry token (valid 12 hours) from ECR.
    let credentials = ecr_credentials(clients).await?;
    console.spin(format!("pushing {repository_uri}:{tag}"));
    let mut push = docker.push_image(
        repository_uri,
        Some(PushImageOptionsBuilder::new().tag(&tag).build()),
        Some(credentials),
    );
    while let Some(item) = push.next().await {
        let info = item.map_err(|e| fail(format!("push failed: {e}")))?;
        if let Some(detail) = info.error_detail {
            return Err(fail(format!(
                "push failed: {}",
                detail.message.unwrap_or_default()
            )));
        }
    }
    let reference = format!("{repository_uri}:{tag}");
    tracing::info!(service = %service.name, image = %reference, "image pushed");
    console.line(format!("pushed {reference}"));
    Ok(reference)
}

/// The architecture an image config names for `arch` (OCI image spec, `architecture`:
/// Go's GOARCH values).
pub fn architecture(arch: Arch) -> &'static str {
    match arch {
        Arch::Arm64 => "arm64",
        Arch::X86_64 => "amd64",
    }
}

/// What one build left on the engine.
struct Built {
    /// The image id (`sha256:...`).
    id: String,
    /// The architecture its config names.
    architecture: Option<String>,
}

/// Builds `context` for `platform` as `reference` (with or without the build cache) and
/// inspects the result.
async fn build(
    docker: &bollard::Docker,
    context: Vec<u8>,
    platform: &str,
    reference: &str,
    nocache: bool,
    console: &Console,
) -> Result<Built, String> {
    let options = BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(reference)
        .rm(true)
        .forcerm(true)
        .nocache(nocache)
        .platform(platform)
        .build();
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| format!("build failed: {e}"))?;
        if let Some(detail) = info.error_detail {
            return Err(format!(
                "build failed: {}",
                detail.message.unwrap_or_default()
            ));
        }
        if let Some(text) = info.stream {
            for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
                console.line(format!("  {line}"));
            }
        }
    }
    let image = docker
        .inspect_image(reference)
        .await
        .map_err(|e| format!("cannot inspect the built image: {e}"))?;
    Ok(Built {
        id: image.id.unwrap_or_default(),
        architecture: image.architecture,
    })
}

/// Registry credentials from ECR GetAuthorizationToken (`AWS:<password>`, base64).
async fn ecr_credentials(clients: &Clients) -> Result<DockerCredentials, Error> {
    let out = clients
        .ecr
        .get_authorization_token()
        .send()
        .await
        .map_err(|e| Error::api("ecr", "GetAuthorizationToken", e))?;
    let data = out
        .authorization_data()
        .first()
        .ok_or_else(|| Error::Template("ECR returned no authorization data".into()))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data.authorization_token().unwrap_or_default())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| Error::Template("ECR's authorization token is not base64 text".into()))?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or_else(|| Error::Template("ECR's authorization token has no user".into()))?;
    Ok(DockerCredentials {
        username: Some(user.to_string()),
        password: Some(password.to_string()),
        serveraddress: data.proxy_endpoint().map(str::to_string),
        ..DockerCredentials::default()
    })
}

/// The build folder as a tar archive (the build context).
fn tar_folder(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Builder::new(Vec::new());
    archive.follow_symlinks(false);
    archive.append_dir_all(".", dir)?;
    archive.into_inner()
}
