//! `albless up` on the Docker example (`examples/docker`), end to end with the real
//! binary and the real Docker engine (issue #9): the image built from `app/`, two
//! container tasks sharing the requests, a killed container replaced, the containers of
//! a SIGKILLed albless removed by the next `up`, a command health check run inside the
//! container.
//!
//! These tests need a reachable Docker engine and FAIL (not skip) without one. They run
//! one at a time (one stack name, and `up` removes that stack's leftovers), and remove
//! every container and the image they make.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

use albless_testkit::{Up, http, send_signal, workspace_root};

const STACK: &str = "hello-docker";
const SERVICE: &str = "backend";
/// The second service of the health check test, whose check fails.
const BROKEN: &str = "broken";
/// A first build of the image and two container starts take a while on a busy machine.
const HEALTHY_WITHIN: Duration = Duration::from_secs(120);

static SERIAL: Mutex<()> = Mutex::new(());
static BUILD: Once = Once::new();

fn example() -> PathBuf {
    workspace_root().join("examples/docker/albless.toml")
}

/// Fails the test, saying so, when no Docker engine answers.
fn require_engine() {
    let out = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "no Docker engine reachable (these tests need one): {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("no Docker engine reachable (cannot run `docker`: {e})"),
    }
}

/// One test at a time, with the engine checked and the build context prepared once per
/// test run (`build.sh` builds the static sample app in release mode).
fn setup() -> (MutexGuard<'static, ()>, Cleanup) {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_engine();
    BUILD.call_once(|| {
        let script = workspace_root().join("examples/docker/build.sh");
        let out = Command::new("sh")
            .arg(&script)
            .output()
            .expect("build.sh runs");
        assert!(
            out.status.success(),
            "build.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    remove_containers();
    (guard, Cleanup)
}

/// Removes the stack's containers and the example's image when a test ends, passed or
/// not (declared after the `Up`, so albless has stopped by then).
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        remove_containers();
        let _ = Command::new("docker")
            .args(["rmi", "-f"])
            .arg(albless_docker::build_tag(STACK, SERVICE))
            .arg(albless_docker::build_tag(STACK, BROKEN))
            .output();
    }
}

/// Names of the running or stopped containers labelled with the example's stack.
fn containers() -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}}", "--filter"])
        .arg(format!("label={}={STACK}", albless_docker::LABEL_STACK))
        .output()
        .expect("docker ps runs");
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    names
}

fn remove_containers() {
    let names = containers();
    if !names.is_empty() {
        let _ = Command::new("docker")
            .args(["rm", "-f"])
            .args(&names)
            .output();
    }
}

fn start() -> Up {
    let up = Up::start(
        env!("CARGO_BIN_EXE_albless").as_ref(),
        &example(),
        &["--quiet-tasks"],
    );
    let tasks = up.wait_healthy(2, HEALTHY_WITHIN);
    assert_eq!(tasks.len(), 2, "two healthy containers: {:?}", up.lines());
    up
}

/// Task id and answer of `GET path` through the gateway.
fn call(agent: &ureq::Agent, up: &Up, path: &str) -> (u16, serde_json::Value) {
    let mut resp = agent
        .get(format!("{}{path}", up.gateway))
        .header("Accept", "application/json")
        .call()
        .expect("the gateway answers");
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or_default())
}

#[test]
fn containers_share_requests_and_a_killed_one_is_replaced() {
    let (_serial, _cleanup) = setup();
    let up = start();
    let tasks = up.healthy_tasks();
    let expected: Vec<String> = {
        let mut v: Vec<String> = tasks
            .iter()
            .map(|t| albless_docker::container_name(STACK, SERVICE, &t.task_id))
            .collect();
        v.sort();
        v
    };
    assert_eq!(containers(), expected, "one container per task");

    // The health check path answers from inside the container, through the gateway.
    let agent = http();
    let (status, _) = call(&agent, &up, "/health");
    assert_eq!(status, 200);

    let mut per_task: HashMap<String, usize> = HashMap::new();
    for i in 0..200 {
        let (status, body) = call(&agent, &up, &format!("/hello?i={i}"));
        assert_eq!(status, 200, "{body}");
        let task = body["task_id"].as_str().expect("the app names its task");
        *per_task.entry(task.to_string()).or_default() += 1;
    }
    assert_eq!(per_task.len(), 2, "both containers answered: {per_task:?}");
    for (task, n) in &per_task {
        assert!(*n > 40, "task {task} got {n} of 200 requests (want > 20 %)");
    }
    // The container sees the service's environment.
    let (_, body) = call(&agent, &up, "/");
    assert!(
        body.to_string().contains("hello from a container"),
        "GREETING reaches the container: {body}"
    );

    // Killed behind albless's back: the task stops and a new container replaces it.
    let victim = &tasks[0];
    let out = Command::new("docker")
        .args(["kill", &expected_name(victim)])
        .output()
        .expect("docker kill runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stopped = up.wait_line(Duration::from_secs(30), |l| {
        (l.starts_with(&format!("task {SERVICE}/{} stopped", victim.task_id)))
            .then(|| l.to_string())
    });
    let stopped = stopped.unwrap_or_else(|| panic!("the killed task stopped: {:?}", up.lines()));
    assert!(
        stopped.contains("EssentialContainerExited") && stopped.contains("exit code 137"),
        "{stopped}"
    );
    let tasks = up.wait_healthy(3, HEALTHY_WITHIN);
    assert_eq!(
        tasks.len(),
        3,
        "a replacement got healthy: {:?}",
        up.lines()
    );
    let replacement = &tasks[2];
    assert_ne!(replacement.task_id, victim.task_id);
    let deadline = Instant::now() + Duration::from_secs(10);
    while containers().contains(&expected_name(victim)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let names = containers();
    assert_eq!(names.len(), 2, "the dead container is removed: {names:?}");
    assert!(names.contains(&expected_name(replacement)), "{names:?}");

    drop(up);
    assert_eq!(
        containers(),
        Vec::<String>::new(),
        "a normal stop removes them"
    );
}

fn expected_name(task: &albless_testkit::TaskLine) -> String {
    albless_docker::container_name(STACK, SERVICE, &task.task_id)
}

#[test]
fn the_next_up_removes_what_a_killed_albless_left() {
    let (_serial, _cleanup) = setup();
    let first = start();
    let left: Vec<String> = {
        let mut v: Vec<String> = first.healthy_tasks().iter().map(expected_name).collect();
        v.sort();
        v
    };
    send_signal(first.pid(), "KILL");
    drop(first);
    // Nothing stopped them: a container outlives a SIGKILLed albless.
    assert_eq!(containers(), left);

    let second = start();
    let line = second
        .wait_line(Duration::from_secs(5), |l| {
            l.starts_with("removed ").then(|| l.to_string())
        })
        .unwrap_or_else(|| panic!("the leftovers were reported: {:?}", second.lines()));
    assert!(
        line.starts_with(&format!("removed 2 leftover container(s) of {STACK}: ")),
        "{line}"
    );
    for name in &left {
        assert!(line.contains(name.as_str()), "{line} names {name}");
    }
    let now = containers();
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(now.iter().all(|n| !left.contains(n)), "{now:?} vs {left:?}");
}

#[test]
fn up_fails_before_starting_anything_without_an_engine() {
    let (_serial, _cleanup) = setup();
    let state = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_albless"))
        .arg("up")
        .arg(example())
        .args(["--listen", "127.0.0.1:0", "--dns-listen", "127.0.0.1:0"])
        .args(["--control-listen", "127.0.0.1:0", "--state-dir"])
        .arg(state.path())
        .env(
            "DOCKER_HOST",
            format!("unix://{}/no.sock", state.path().display()),
        )
        .output()
        .expect("albless runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no Docker engine reachable"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("gateway:"), "nothing started: {stdout}");
}

#[test]
fn command_health_checks_run_inside_the_container() {
    let (_serial, _cleanup) = setup();
    // The image is `FROM scratch`: no shell, so no `CMD-SHELL`; `CMD` runs the app's own
    // binary, which exists only inside the container (`--help` exits 0, an unknown flag
    // exits 2). A check run on the host would fail for both.
    let app = workspace_root().join("examples/docker/app");
    assert!(!std::path::Path::new("/albless-whoami").exists());
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("albless.toml");
    let service = |name: &str, flag: &str| {
        format!(
            r#"
[services.{name}]
driver = "docker"
build = "{app}"
port = 8080
desired_count = 1
[services.{name}.health_check]
command = ["CMD", "/albless-whoami", "{flag}"]
interval = 5
timeout = 5
retries = 1
"#,
            app = app.display()
        )
    };
    let text = format!(
        r#"
version = 1
[stack]
name = "{STACK}"
region = "ap-northeast-3"
[api.routes]
"$default" = {{ service = "{SERVICE}" }}
{}{}"#,
        service(SERVICE, "--help"),
        service(BROKEN, "--no-such-flag")
    );
    std::fs::write(&file, text).expect("stack written");
    let up = Up::start(
        env!("CARGO_BIN_EXE_albless").as_ref(),
        &file,
        &["--quiet-tasks"],
    );

    let tasks = up.wait_healthy(1, HEALTHY_WITHIN);
    assert!(
        tasks.iter().any(|t| t.service == SERVICE),
        "the passing check made the task healthy: {:?}",
        up.lines()
    );
    let stopped = up
        .wait_line(Duration::from_secs(60), |l| {
            (l.starts_with(&format!("task {BROKEN}/")) && l.contains(" stopped "))
                .then(|| l.to_string())
        })
        .unwrap_or_else(|| panic!("the failing check stopped its task: {:?}", up.lines()));
    assert!(
        stopped.contains("Task failed container health checks"),
        "{stopped}"
    );
    assert!(
        up.healthy_tasks().iter().all(|t| t.service != BROKEN),
        "{:?}",
        up.lines()
    );
    let (status, _) = call(&http(), &up, "/");
    assert_eq!(status, 200);
}
