//! A service's `build` folder built on the real Docker engine and pushed to a real
//! registry (Debian's `docker-registry`, the CNCF Distribution server, installed pinned by
//! scripts/install-test-tools) with the token of ECR GetAuthorizationToken from moto.
//!
//! The registry is started on 127.0.0.1 port 0 (it logs the address it bound), and only
//! accepts the user and password of that token, as ECR would: a push that did not carry
//! the token fails. The engine treats 127.0.0.0/8 registries as insecure by default, so
//! plain HTTP works. What arrived is read back through the registry's HTTP API (tags,
//! manifest, image config with its architecture). The build folder is a `FROM scratch`
//! image of one file, so nothing is pulled and no emulation is needed for either
//! architecture.
//!
//! This test needs a reachable Docker engine and FAILS (not skips) without one; it removes
//! the images it made from the engine.

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use albless_aws::Console;
use albless_aws::image::{architecture, build_and_push};
use albless_spec::Arch;
use base64::Engine as _;
use serde_json::Value;

/// A `docker-registry serve` on a loopback port, with htpasswd authentication; killed on
/// drop.
struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    addr: String,
    /// `Authorization` header value of the one user.
    authorization: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start(user: &str, password: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash(password, 4).unwrap();
        std::fs::write(dir.path().join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\n\
                 log:\n  level: info\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {root}\n\
                 http:\n  addr: 127.0.0.1:0\n\
                 auth:\n  htpasswd:\n    realm: albless-test\n    path: {htpasswd}\n",
                root = dir.path().join("data").display(),
                htpasswd = dir.path().join("htpasswd").display(),
            ),
        )
        .unwrap();
        let mut child = match Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => panic!(
                "cannot run docker-registry ({e}): install it with scripts/install-test-tools"
            ),
        };

        // It logs `listening on 127.0.0.1:PORT` once bound; the rest of its log is drained.
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                        .collect();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("docker-registry logs the address it listens on");
        let authorization = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        Registry {
            child,
            addr,
            authorization,
            _dir: dir,
        }
    }

    /// GET `path` of the registry's HTTP API; `(status, body)`.
    fn get(&self, path: &str, authorized: bool) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut request = agent
            .get(&format!("http://{}{path}", self.addr))
            .header(
                "Accept",
                "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
            );
        if authorized {
            request = request.header("Authorization", &self.authorization);
        }
        let mut response = request.call().expect("the registry answers");
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().unwrap())
    }

    /// GET `path`, authorized, as JSON; fails the test on any status but 200.
    fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path, true);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// The architecture and OS in the config of `name:tag`, and the config's digest.
    fn image_config(&self, name: &str, tag: &str) -> (String, String, String) {
        let manifest = self.json(&format!("/v2/{name}/manifests/{tag}"));
        let digest = manifest["config"]["digest"]
            .as_str()
            .unwrap_or_else(|| panic!("manifest without config: {manifest}"))
            .to_string();
        let config = self.json(&format!("/v2/{name}/blobs/{digest}"));
        (
            config["architecture"].as_str().unwrap_or_default().into(),
            config["os"].as_str().unwrap_or_default().into(),
            digest,
        )
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Image references the test made, removed from the engine on drop (pass or fail).
struct Made(Vec<String>);

impl Drop for Made {
    fn drop(&mut self) {
        let references = std::mem::take(&mut self.0);
        // Drop may run inside the test's runtime: clean up on a runtime of its own.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let Ok(engine) = albless_docker::Engine::connect().await else {
                    return;
                };
                for reference in references {
                    let _ = engine
                        .client()
                        .remove_image(
                            &reference,
                            Some(
                                bollard::query_parameters::RemoveImageOptionsBuilder::new()
                                    .force(true)
                                    .build(),
                            ),
                            None,
                        )
                        .await;
                }
            });
        })
        .join()
        .unwrap();
    }
}

/// The user and password of moto's ECR token, as the AWS CLI gets them.
fn ecr_login(moto: &support::Moto) -> (String, String) {
    let data = support::aws_cli(moto, &["ecr", "get-authorization-token"]);
    let token = data["authorizationData"][0]["authorizationToken"]
        .as_str()
        .expect("a token");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .unwrap();
    let (user, password) = std::str::from_utf8(&decoded)
        .unwrap()
        .split_once(':')
        .expect("user:password");
    (user.to_string(), password.to_string())
}

/// This machine's architecture in albless.toml's words, and the other one.
fn native_and_foreign() -> (Arch, Arch) {
    match std::env::consts::ARCH {
        "x86_64" => (Arch::X86_64, Arch::Arm64),
        "aarch64" => (Arch::Arm64, Arch::X86_64),
        other => panic!("no ECS architecture for this machine's {other}"),
    }
}

/// A stack file whose service `backend` builds `app/` for `arch`.
fn stack(dir: &Path, arch: Arch) -> albless_spec::Stack {
    let app = dir.join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("Dockerfile"),
        "FROM scratch\nCOPY hello.txt /hello.txt\n",
    )
    .unwrap();
    // Content of this run only, so that no image of an earlier run is in the build cache.
    std::fs::write(
        app.join("hello.txt"),
        format!("hello from {}\n", dir.display()),
    )
    .unwrap();
    let arch = match arch {
        Arch::X86_64 => "x86_64",
        Arch::Arm64 => "arm64",
    };
    let path = dir.join("albless.toml");
    std::fs::write(
        &path,
        format!(
            r#"version = 1
[stack]
name = "pushed"
region = "us-east-1"
[api.routes]
"$default" = {{ service = "backend" }}
[services.backend]
build = "app"
arch = "{arch}"
port = 8080
"#
        ),
    )
    .unwrap();
    albless_spec::load(&path)
        .map_err(|e| e.render())
        .expect("valid stack file")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_build_folder_is_built_for_its_architecture_and_pushed_with_the_ecr_token() {
    let engine = albless_docker::Engine::connect().await.unwrap_or_else(|e| {
        panic!("this test needs a Docker engine and none answers: {e} (start dockerd, or set DOCKER_HOST=unix://PATH)")
    });
    let moto = support::Moto::start(&[]);
    let clients = moto.clients().await;
    let (user, password) = ecr_login(&moto);
    let registry = Registry::start(&user, &password);
    // The registry refuses a client without the token.
    assert_eq!(registry.get("/v2/", false).0, 401);

    let dir = tempfile::tempdir().unwrap();
    let (native, foreign) = native_and_foreign();
    let stack = stack(dir.path(), native);
    let service = &stack.services["backend"];
    let build = stack.dir.join(service.build.as_ref().unwrap());
    let console = Console::new(true);
    let name = "pushed-backend";
    let uri = format!("{}/{name}", registry.addr);
    let mut made = Made(vec![format!("{uri}:latest")]);

    // Built for this machine's architecture, pushed, tagged with the image id's start.
    let reference = build_and_push(&engine, &clients, service, &build, &uri, &console)
        .await
        .expect("build and push");
    let tag = reference
        .strip_prefix(&format!("{uri}:"))
        .unwrap_or_else(|| panic!("{reference} is not in {uri}"))
        .to_string();
    made.0.push(reference.clone());
    assert_eq!(tag.len(), 12, "{tag}");
    assert!(tag.chars().all(|c| c.is_ascii_hexdigit()), "{tag}");
    let tags = registry.json(&format!("/v2/{name}/tags/list"));
    assert_eq!(tags["tags"], serde_json::json!([tag]), "{tags}");
    let (arch, os, digest) = registry.image_config(name, &tag);
    assert_eq!(
        (arch.as_str(), os.as_str()),
        (architecture(native), "linux")
    );
    // The config's digest is the image id, which the tag abbreviates.
    assert!(
        digest.starts_with(&format!("sha256:{tag}")),
        "{digest} vs {tag}"
    );

    // The same folder again: the same image, the same tag, nothing new in the registry.
    let again = build_and_push(&engine, &clients, service, &build, &uri, &console)
        .await
        .expect("second build and push");
    assert_eq!(again, reference);
    let tags = registry.json(&format!("/v2/{name}/tags/list"));
    assert_eq!(tags["tags"], serde_json::json!([tag]), "{tags}");

    // The same folder for the other architecture: the engine's cache holds this machine's
    // image for it, which must not be what is pushed.
    let mut other = service.clone();
    other.arch = foreign;
    let foreign_name = "pushed-foreign";
    let foreign_uri = format!("{}/{foreign_name}", registry.addr);
    made.0.push(format!("{foreign_uri}:latest"));
    let foreign_reference =
        build_and_push(&engine, &clients, &other, &build, &foreign_uri, &console)
            .await
            .expect("build and push for the other architecture");
    made.0.push(foreign_reference.clone());
    let foreign_tag = foreign_reference.rsplit_once(':').unwrap().1;
    assert_ne!(foreign_tag, tag);
    let (arch, os, _) = registry.image_config(foreign_name, foreign_tag);
    assert_eq!(
        (arch.as_str(), os.as_str()),
        (architecture(foreign), "linux")
    );
}
