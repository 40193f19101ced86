//! Test support: a moto server on loopback (the pinned `moto[server]` installed by
//! scripts/install-test-tools), SDK clients pointed at it with fake credentials, a
//! tiny HTTP server standing in for the API endpoint; and the real AWS CLI against moto.

#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use albless_aws::Clients;

/// A running moto server, killed on drop.
pub struct Moto {
    child: Child,
    /// Its base URL.
    pub url: String,
}

impl Moto {
    /// Starts moto on a free loopback port; `env` is extra environment (moto reads
    /// `MOTO_ECS_SERVICE_RUNNING` for the running count of new ECS services).
    pub fn start(env: &[(&str, &str)]) -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(albless_testkit::python_tool("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child, url }
    }

    /// Clients pointed at this server.
    pub async fn clients(&self) -> Clients {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_ecs::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .endpoint_url(&self.url)
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .load()
            .await;
        Clients::from_config(&config)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP server on a free loopback port answering every request with `status`; the
/// stand-in for the API endpoint that `wake` probes.
pub fn answering(status: u16) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 2048];
            let _ = conn.read(&mut buf);
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
            );
        }
    });
    url
}

/// A stack file for `name` with one service `backend` running `image`.
pub fn stack_file(dir: &std::path::Path, name: &str, extra: &str) -> albless_spec::Stack {
    let path = dir.join("albless.toml");
    std::fs::write(
        &path,
        format!(
            r#"version = 1
[stack]
name = "{name}"
region = "us-east-1"
[api.routes]
"$default" = {{ service = "backend" }}
[services.backend]
command = ["albless-whoami"]
image = "public.ecr.aws/nginx/nginx:latest"
port = 8080
desired_count = 2
{extra}
"#
        ),
    )
    .unwrap();
    albless_spec::load(&path)
        .map_err(|e| e.render())
        .expect("valid stack file")
}

/// The real AWS CLI against `moto`, with fake credentials and no config files; its JSON
/// output (`Null` when it prints nothing). Fails the test when the CLI fails.
pub fn aws_cli(moto: &Moto, args: &[&str]) -> serde_json::Value {
    let out = Command::new(albless_testkit::python_tool("aws"))
        .args(["--endpoint-url", &moto.url, "--output", "json"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .output()
        .expect("the AWS CLI runs");
    assert!(
        out.status.success(),
        "aws {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(&out.stdout).expect("the AWS CLI prints JSON")
}
