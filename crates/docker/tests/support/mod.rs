//! Shared by the engine tests: the engine (a missing one fails the test, saying so), the
//! example's build context, unique names, loopback addresses, a tiny HTTP client, and a
//! guard that removes every container and image a test made, even when it panics.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use albless_docker::{Engine, TaskContainer, TaskSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The example stack's folder.
pub fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/docker")
}

/// The engine at the default socket; without one the test fails and says why.
pub async fn engine() -> Engine {
    match Engine::connect().await {
        Ok(engine) => engine,
        Err(e) => panic!(
            "these tests need a Docker engine and none is reachable: {e}\n\
             (start dockerd, or set DOCKER_HOST=unix:///path/to/docker.sock)"
        ),
    }
}

/// A short random id for names and tags of one test.
pub fn unique() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// The statically linked sample app in the example's build context, built by the
/// example's `build.sh` when it is not there yet.
pub fn static_whoami() -> PathBuf {
    let bin = example_dir().join("app/albless-whoami");
    if !bin.is_file() {
        let status = std::process::Command::new(example_dir().join("build.sh"))
            .stdout(std::process::Stdio::null())
            .status()
            .expect("cannot run examples/docker/build.sh");
        assert!(
            status.success(),
            "examples/docker/build.sh failed: {status}"
        );
    }
    assert!(
        bin.is_file(),
        "examples/docker/build.sh did not produce {}",
        bin.display()
    );
    bin
}

/// A build context in a temporary folder: the example's Dockerfile, the lines in
/// `extra` appended (a unique label among them, so each test builds its own image), and
/// the files in `files` (name, source path) beside the app.
pub fn context(extra: &[String], files: &[(&str, &Path)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut dockerfile = std::fs::read_to_string(example_dir().join("app/Dockerfile")).unwrap();
    dockerfile.push_str(&format!("LABEL albless.test-run={}\n", unique()));
    for line in extra {
        dockerfile.push_str(line);
        dockerfile.push('\n');
    }
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    std::fs::copy(static_whoami(), dir.path().join("albless-whoami")).unwrap();
    for (name, source) in files {
        std::fs::copy(source, dir.path().join(name)).unwrap();
    }
    dir
}

/// Builds `dir` as `tag`, returning the build's output lines.
pub async fn build(engine: &Engine, tag: &str, dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    let obtained = engine
        .ensure_image(tag, Some(dir), &mut |line: &str| {
            lines.push(line.to_string())
        })
        .await
        .unwrap_or_else(|e| panic!("build of {tag} failed: {e}"));
    assert_eq!(obtained, albless_docker::Obtained::Built);
    lines
}

/// A free loopback address other than 127.0.0.1, with a port free on it.
pub fn loopback() -> SocketAddrV4 {
    loop {
        let ip = Ipv4Addr::new(
            127,
            16 + rand::random::<u8>() % 200,
            rand::random(),
            2 + rand::random::<u8>() % 250,
        );
        if let Ok(listener) = TcpListener::bind((ip, 0)) {
            let port = listener.local_addr().unwrap().port();
            return SocketAddrV4::new(ip, port);
        }
    }
}

/// What a test task needs, with the usual size (256 CPU units, 512 MiB).
pub struct Task {
    pub stack: String,
    pub service: String,
    pub task_id: String,
    pub image: String,
    pub env: Vec<(String, String)>,
    pub publish: SocketAddrV4,
    pub log_file: PathBuf,
}

impl Task {
    pub fn new(stack: &str, image: &str, log_dir: &Path) -> Task {
        let task_id = format!("{:032x}", rand::random::<u128>());
        let log_file = log_dir.join(format!("backend-{task_id}.log"));
        Task {
            stack: stack.to_string(),
            service: "backend".to_string(),
            env: vec![
                ("ALBLESS_TASK_ID".into(), task_id.clone()),
                ("GREETING".into(), "hello from a container".into()),
                // The process driver's HOST; the container must not get it.
                ("HOST".into(), "127.0.0.1".into()),
            ],
            task_id,
            image: image.to_string(),
            publish: loopback(),
            log_file,
        }
    }

    pub async fn start(&self, engine: &Engine) -> TaskContainer {
        engine
            .start(self.spec())
            .await
            .unwrap_or_else(|e| panic!("cannot start a container of {}: {e}", self.image))
    }

    pub fn spec(&self) -> TaskSpec<'_> {
        TaskSpec {
            stack: &self.stack,
            service: &self.service,
            task_id: &self.task_id,
            image: &self.image,
            env: &self.env,
            cpu_units: 256,
            memory_mib: 512,
            container_port: 8080,
            publish: self.publish,
            log_file: self.log_file.clone(),
            echo_prefix: None,
        }
    }
}

/// `GET path` with `Accept: application/json`; returns status and body.
pub async fn get(addr: SocketAddrV4, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {text:?}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// [`get`], retried until the app answers (it needs a moment to start), at most 15 s.
pub async fn get_when_ready(addr: SocketAddrV4, path: &str) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match get(addr, path).await {
            Ok(answer) => return answer,
            Err(e) if tokio::time::Instant::now() >= deadline => {
                panic!("nothing answered on {addr} within 15 s: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Whether the engine still knows container `id`.
pub async fn exists(engine: &Engine, id: &str) -> bool {
    match engine.client().inspect_container(id, None).await {
        Ok(_) => true,
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => false,
        Err(e) => panic!("cannot inspect container {id}: {e}"),
    }
}

/// Removes, when dropped (also on panic), the containers of `stacks` and the images in
/// `images` (last first: later images may be built on earlier ones).
#[derive(Default)]
pub struct Cleanup {
    pub stacks: Vec<String>,
    pub images: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let stacks = std::mem::take(&mut self.stacks);
        let images = std::mem::take(&mut self.images);
        // A thread of its own: Drop cannot await, and may run inside a runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let Ok(engine) = Engine::connect().await else {
                    return;
                };
                for stack in &stacks {
                    if let Err(e) = engine.cleanup_leftovers(stack).await {
                        eprintln!("cleanup: containers of {stack}: {e}");
                    }
                }
                for image in images.iter().rev() {
                    if let Err(e) = engine.remove_image(image).await {
                        eprintln!("cleanup: image {image}: {e}");
                    }
                }
            });
        })
        .join();
    }
}
