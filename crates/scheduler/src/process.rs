//! The process driver: a task is one child process of albless.
//!
//! Each task runs in its own process group, so that stopping it reaches everything it
//! started, and asks the kernel to kill it when albless dies (`PR_SET_PDEATHSIG`), so
//! that no task outlives albless however albless ends (SIGKILL included). Output lines
//! go to the task's log file and, when asked, to albless's stdout with a prefix.
#![allow(unsafe_code)]

use std::ffi::OsString;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// What a task process needs to start.
pub struct Launch<'a> {
    /// Program and arguments.
    pub command: &'a [String],
    /// Full environment added to albless's own.
    pub env: Vec<(String, String)>,
    /// Working directory (the stack's folder).
    pub cwd: &'a Path,
    /// Where bare program names are looked up first.
    pub exe_dir: Option<&'a Path>,
    /// Log file of the task.
    pub log_file: PathBuf,
    /// Prefix for echoed output lines; `None` keeps output in the log file only.
    pub echo_prefix: Option<String>,
}

/// A running task process.
pub struct TaskProcess {
    child: Child,
    pid: u32,
}

impl TaskProcess {
    /// Starts the process.
    pub fn spawn(launch: Launch<'_>) -> io::Result<TaskProcess> {
        let program = resolve_program(&launch.command[0], launch.cwd, launch.exe_dir);
        let mut cmd = Command::new(program);
        cmd.args(&launch.command[1..])
            .envs(launch.env)
            .current_dir(launch.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the closure runs in the forked child before exec and only calls
        // async-signal-safe functions (setpgid, prctl, getppid, _exit).
        unsafe {
            cmd.pre_exec(move || {
                libc::setpgid(0, 0);
                #[cfg(target_os = "linux")]
                {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                    // albless died between fork and prctl: do not start at all.
                    if libc::getppid() != parent {
                        libc::_exit(137);
                    }
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let pid = child.id().unwrap_or(0);

        let tx = albless_docker::spawn_sink(launch.log_file, launch.echo_prefix);
        if let Some(out) = child.stdout.take() {
            tokio::spawn(forward_lines(out, tx.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(forward_lines(err, tx));
        }
        Ok(TaskProcess { child, pid })
    }

    /// OS process id (also the process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits for the process to exit.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// Stops the task as `docker stop` does: SIGTERM to its process group, then SIGKILL
    /// after `timeout` if it is still running. Returns its exit status.
    pub async fn stop(&mut self, timeout: Duration) -> io::Result<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Ok(status);
        }
        signal_group(self.pid, libc::SIGTERM);
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => {
                // Anything the task left behind in its group goes too.
                signal_group(self.pid, libc::SIGKILL);
                status
            }
            Err(_) => {
                signal_group(self.pid, libc::SIGKILL);
                self.child.wait().await
            }
        }
    }
}

/// Sends `signal` to the process group `pgid`.
fn signal_group(pgid: u32, signal: libc::c_int) {
    if pgid == 0 {
        return;
    }
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is shared.
    unsafe {
        libc::kill(-(pgid as libc::pid_t), signal);
    }
}

/// Resolves a command's program: paths with a slash against the stack's folder, bare
/// names beside the albless binary when a file of that name is there, else `PATH`.
fn resolve_program(program: &str, cwd: &Path, exe_dir: Option<&Path>) -> OsString {
    if program.contains('/') {
        return cwd.join(program).into_os_string();
    }
    if let Some(dir) = exe_dir {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return candidate.into_os_string();
        }
    }
    OsString::from(program)
}

async fn forward_lines(stream: impl AsyncRead + Unpin, tx: mpsc::UnboundedSender<String>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if tx.send(line).is_err() {
            break;
        }
    }
}

/// The environment albless gives every task, beside the service's own.
pub fn task_env(
    ip: Ipv4Addr,
    port: u16,
    task_id: &str,
    task_arn: &str,
    service: &str,
    region: &str,
) -> Vec<(String, String)> {
    vec![
        ("HOST".into(), ip.to_string()),
        ("PORT".into(), port.to_string()),
        ("ALBLESS_TASK_ID".into(), task_id.into()),
        ("ALBLESS_TASK_ARN".into(), task_arn.into()),
        ("ALBLESS_SERVICE".into(), service.into()),
        ("AWS_REGION".into(), region.into()),
        ("AWS_DEFAULT_REGION".into(), region.into()),
    ]
}
