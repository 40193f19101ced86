//! Test harness for black-box tests: runs the real `albless` binary on port 0, reads
//! the addresses it prints, and offers small clients (HTTP via ureq, DNS via `dig`) and
//! process checks. No fixed ports, nothing outside this machine.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A running `albless up`, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Up {
    child: Child,
    /// Gateway base URL, e.g. `http://127.0.0.1:43121`.
    pub gateway: String,
    /// DNS server address.
    pub dns: SocketAddr,
    /// Control address base URL (the AWS-compatible APIs).
    pub control: String,
    /// The state folder given to albless (a temporary folder).
    pub state_dir: PathBuf,
    output: Arc<(Mutex<Vec<String>>, Condvar)>,
    _temp: Option<tempfile::TempDir>,
}

/// One task as `albless up` reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLine {
    /// Service name.
    pub service: String,
    /// 32-hex task id.
    pub task_id: String,
    /// Address and port.
    pub addr: SocketAddr,
    /// OS process id.
    pub pid: u32,
}

impl Up {
    /// Starts `albless up FILE` with the gateway and DNS on port 0 and a temporary state
    /// folder; returns once both addresses are printed.
    pub fn start(albless: &Path, file: &Path, extra: &[&str]) -> Up {
        let temp = tempfile::tempdir().expect("temp dir");
        let state_dir = temp.path().join("state");
        Self::spawn(albless, file, state_dir, Some(temp), extra)
    }

    /// Like [`Up::start`], with the state folder `state_dir`, which outlives this `Up`
    /// (to restart albless on the same state).
    pub fn start_in(albless: &Path, file: &Path, state_dir: &Path, extra: &[&str]) -> Up {
        Self::spawn(albless, file, state_dir.to_path_buf(), None, extra)
    }

    fn spawn(
        albless: &Path,
        file: &Path,
        state_dir: PathBuf,
        temp: Option<tempfile::TempDir>,
        extra: &[&str],
    ) -> Up {
        let mut child = Command::new(albless)
            .arg("up")
            .arg(file)
            .args(["--listen", "127.0.0.1:0", "--dns-listen", "127.0.0.1:0"])
            .args(["--control-listen", "127.0.0.1:0"])
            .arg("--state-dir")
            .arg(&state_dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("albless starts");
        let output = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let stdout = child.stdout.take().expect("stdout");
        let sink = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("[albless] {line}");
                let (lines, cv) = &*sink;
                lines.lock().unwrap().push(line);
                cv.notify_all();
            }
        });
        let mut up = Up {
            child,
            gateway: String::new(),
            control: String::new(),
            dns: "0.0.0.0:0".parse().unwrap(),
            state_dir,
            output,
            _temp: temp,
        };
        let gw = up.wait_line(Duration::from_secs(30), |l| {
            l.strip_prefix("gateway: ").map(String::from)
        });
        let dns = up.wait_line(Duration::from_secs(30), |l| {
            l.strip_prefix("dns: ")
                .and_then(|r| r.split_whitespace().next()?.parse().ok())
        });
        let control = up.wait_line(Duration::from_secs(30), |l| {
            l.strip_prefix("control: ").map(String::from)
        });
        up.control = control.expect("albless printed its control address");
        up.gateway = gw.expect("albless printed its gateway address");
        up.dns = dns.expect("albless printed its DNS address");
        up
    }

    /// The process id of albless itself.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every stdout line so far.
    pub fn lines(&self) -> Vec<String> {
        self.output.0.lock().unwrap().clone()
    }

    /// Waits until some stdout line (seen before or after the call) gives `Some`.
    pub fn wait_line<T>(&self, timeout: Duration, f: impl Fn(&str) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let (lines, cv) = &*self.output;
        let mut guard = lines.lock().unwrap();
        loop {
            if let Some(found) = guard.iter().find_map(|l| f(l)) {
                return Some(found);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            guard = cv.wait_timeout(guard, deadline - now).unwrap().0;
        }
    }

    /// Tasks reported healthy so far, in order.
    pub fn healthy_tasks(&self) -> Vec<TaskLine> {
        self.lines()
            .iter()
            .filter_map(|l| parse_task_line(l, "healthy"))
            .collect()
    }

    /// Tasks reported started so far, in order.
    pub fn started_tasks(&self) -> Vec<TaskLine> {
        self.lines()
            .iter()
            .filter_map(|l| parse_task_line(l, "started"))
            .collect()
    }

    /// Waits until at least `n` tasks have been reported healthy.
    pub fn wait_healthy(&self, n: usize, timeout: Duration) -> Vec<TaskLine> {
        let deadline = Instant::now() + timeout;
        loop {
            let tasks = self.healthy_tasks();
            if tasks.len() >= n || Instant::now() >= deadline {
                return tasks;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` to albless.
    pub fn signal(&self, signal: &str) {
        send_signal(self.child.id(), signal);
    }

    /// Waits for albless to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal("TERM");
            if self.wait_exit(Duration::from_secs(15)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// Parses `task SERVICE/ID <word> at ADDR (pid PID)...`.
fn parse_task_line(line: &str, word: &str) -> Option<TaskLine> {
    let rest = line.strip_prefix("task ")?;
    let mut parts = rest.split_whitespace();
    let (service, task_id) = parts.next()?.split_once('/')?;
    if parts.next()? != word || parts.next()? != "at" {
        return None;
    }
    let addr = parts.next()?.trim_end_matches(',').parse().ok()?;
    if parts.next()? != "(pid" {
        return None;
    }
    let pid = parts.next()?.trim_end_matches([')', ',']).parse().ok()?;
    Some(TaskLine {
        service: service.into(),
        task_id: task_id.into(),
        addr,
        pid,
    })
}

/// Sends a signal (`TERM`, `KILL`, `INT`) to a process with the `kill` command.
pub fn send_signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status();
}

/// Whether a process is alive (zombies, which only wait to be reaped, count as gone).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state follows the parenthesised command name.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X") | None)
        }
        Err(_) => false,
    }
}

/// An HTTP agent that returns 4xx/5xx responses instead of errors.
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(35)))
        .build()
        .into()
}

/// Runs `dig @dns -p PORT NAME TYPE +short` and returns its answer lines. Panics with a
/// clear message when `dig` is not installed (the README's test command installs it).
pub fn dig(dns: SocketAddr, name: &str, rtype: &str) -> Vec<String> {
    let out = Command::new("dig")
        .arg(format!("@{}", dns.ip()))
        .args([
            "-p",
            &dns.port().to_string(),
            name,
            rtype,
            "+short",
            "+time=2",
            "+tries=1",
        ])
        .output()
        .expect("`dig` is installed (scripts/test installs it: apt package bind9-dnsutils)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

/// The workspace's root folder.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// A Python tool installed by `scripts/install-test-tools` (`aws`, `cfn-lint`,
/// `moto_server`), in `$ALBLESS_TOOLS_DIR/venv/bin` (default
/// `~/.cache/albless-tools`). Panics with the fix when it is missing: the tests that
/// need a tool fail rather than pass without it.
pub fn python_tool(name: &str) -> PathBuf {
    let dir = std::env::var_os("ALBLESS_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/albless-tools")
        });
    let path = dir.join("venv/bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/install-test-tools",
        path.display()
    );
    path
}
