//! Container health checks, as ECS runs them: an HTTP GET or a command, with interval,
//! timeout, retries and start period (ECS `HealthCheck`, aws-behavior.md §4.5).
//!
//! Local deviation, on purpose: until a task's first check passes, albless probes it
//! every [`STARTUP_PROBE`] instead of every interval, so a task joins as soon as it is
//! ready. The verdict timing is ECS's: a task that has not passed by
//! `start_period + interval × retries` is UNHEALTHY.
//!
//! For a container task a command check runs inside the container, as the ECS agent
//! runs it through the engine (§4.5); HTTP and TCP checks go to the task's published
//! loopback address from the host, like the gateway's requests.

use std::net::SocketAddr;
use std::time::Duration;

use albless_spec::{HealthCheck, HealthCheckKind};
use bytes::Bytes;
use http_body_util::Empty;
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio::time::{Instant, sleep, timeout};

/// How often a starting task is probed until its first check passes.
pub const STARTUP_PROBE: Duration = Duration::from_millis(200);

/// Outcome of watching a task's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Checks failed `retries` times in a row (or never passed in time).
    Unhealthy(String),
}

/// What to run for one check.
pub struct Probe<'a> {
    /// The check, or `None` for a task without one (then a TCP connect is the check).
    pub check: Option<&'a HealthCheck>,
    /// The task's address.
    pub addr: SocketAddr,
    /// The task's environment, for command checks.
    pub env: &'a [(String, String)],
    /// Working directory for command checks.
    pub cwd: &'a std::path::Path,
    /// The task's container (Docker driver): command checks run inside it.
    pub container: Option<&'a albless_docker::TaskContainer>,
}

impl Probe<'_> {
    /// Waits until the task first passes. Returns `Err` with the verdict when it does
    /// not pass in time.
    pub async fn until_healthy(&self) -> Result<(), Verdict> {
        let started = Instant::now();
        let (grace, timeout_) = match self.check {
            Some(c) => (c.start_period + c.interval * c.retries, c.timeout),
            // No check: ECS would count the task after 40 s; locally it joins once its
            // port accepts connections, giving up after the same 40 s.
            None => (Duration::from_secs(40), Duration::from_secs(2)),
        };
        loop {
            let last = match self.once(timeout_).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if started.elapsed() >= grace {
                return Err(Verdict::Unhealthy(format!(
                    "never passed its health check: {last}"
                )));
            }
            sleep(STARTUP_PROBE).await;
        }
    }

    /// Checks every interval after the first pass; returns when the task turns
    /// UNHEALTHY. Runs forever for a task without a check.
    pub async fn until_unhealthy(&self) -> Verdict {
        let Some(check) = self.check else {
            return std::future::pending().await;
        };
        let mut failures = 0;
        loop {
            sleep(check.interval).await;
            match self.once(check.timeout).await {
                Ok(()) => failures = 0,
                Err(e) => {
                    failures += 1;
                    tracing::debug!(addr = %self.addr, failures, error = %e, "health check failed");
                    if failures >= check.retries {
                        return Verdict::Unhealthy(format!(
                            "failed {failures} health checks in a row: {e}"
                        ));
                    }
                }
            }
        }
    }

    /// Runs one check with `limit` as its timeout.
    async fn once(&self, limit: Duration) -> Result<(), String> {
        let fut = async {
            match self.check.map(|c| &c.kind) {
                None => TcpStream::connect(self.addr)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string()),
                Some(HealthCheckKind::Http { path }) => http_check(self.addr, path).await,
                Some(HealthCheckKind::Command(argv)) => match self.container {
                    Some(container) => container
                        .exec_check(argv, limit)
                        .await
                        .map_err(|e| e.to_string()),
                    None => self.command_check(argv).await,
                },
            }
        };
        match timeout(limit, fut).await {
            Ok(r) => r,
            Err(_) => Err(format!("timed out after {} ms", limit.as_millis())),
        }
    }

    async fn command_check(&self, argv: &[String]) -> Result<(), String> {
        // ECS forms: ["CMD-SHELL", "cmd"] runs through the shell, ["CMD", prog, args..]
        // runs directly; a bare array is taken as ["CMD", ...].
        let mut cmd = match argv.first().map(String::as_str) {
            Some("CMD-SHELL") => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c").arg(argv[1..].join(" "));
                c
            }
            Some("CMD") if argv.len() > 1 => {
                let mut c = Command::new(&argv[1]);
                c.args(&argv[2..]);
                c
            }
            Some(prog) => {
                let mut c = Command::new(prog);
                c.args(&argv[1..]);
                c
            }
            None => return Err("empty command".into()),
        };
        let status = cmd
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.cwd)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .status()
            .await
            .map_err(|e| format!("cannot run health check command: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("command exited with {status}"))
        }
    }
}

/// `GET http://addr/path`: a 2xx or 3xx status passes.
async fn http_check(addr: SocketAddr, path: &str) -> Result<(), String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::USER_AGENT, "albless-health-check")
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    if status.is_success() || status.is_redirection() {
        Ok(())
    } else {
        Err(format!("HTTP status {}", status.as_u16()))
    }
}
