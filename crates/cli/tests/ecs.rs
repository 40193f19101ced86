//! The ECS side of `albless up`, end to end: the ECS API through the AWS CLI v1, and the
//! operating commands (`scale`, `status`, `deploy`, `logs`) through the real binary,
//! with a rolling deploy under steady load through the gateway.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use albless_testkit::{Up, http, python_tool, workspace_root};
use serde_json::Value;

fn albless() -> &'static Path {
    env!("CARGO_BIN_EXE_albless").as_ref()
}

/// Runs `aws ecs ARGS` against the control address; returns (success, JSON or error text).
fn aws(up: &Up, args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(python_tool("aws"))
        .args(["--endpoint-url", &up.control, "--output", "json", "ecs"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "ap-northeast-3")
        .output()
        .expect("the AWS CLI runs");
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        json,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn the_aws_cli_drives_the_ecs_api() {
    let file = workspace_root().join("examples/hello/albless.toml");
    let up = Up::start(albless(), &file, &["--quiet-tasks"]);
    assert_eq!(
        up.wait_healthy(2, Duration::from_secs(30)).len(),
        2,
        "{:?}",
        up.lines()
    );

    let (ok, clusters, _) = aws(&up, &["describe-clusters", "--clusters", "hello"]);
    assert!(ok);
    assert_eq!(clusters["clusters"][0]["clusterName"], "hello");
    assert_eq!(clusters["clusters"][0]["runningTasksCount"], 2);

    let (_, services, _) = aws(&up, &["list-services", "--cluster", "hello"]);
    assert_eq!(
        services["serviceArns"][0],
        "arn:aws:ecs:ap-northeast-3:000000000000:service/hello/backend"
    );

    let (_, described, _) = aws(
        &up,
        &[
            "describe-services",
            "--cluster",
            "hello",
            "--services",
            "backend",
        ],
    );
    let svc = &described["services"][0];
    assert_eq!(svc["desiredCount"], 2);
    assert_eq!(svc["runningCount"], 2);
    assert_eq!(svc["deployments"][0]["status"], "PRIMARY");
    assert_eq!(svc["deployments"][0]["rolloutState"], "COMPLETED");
    assert!(
        svc["taskDefinition"]
            .as_str()
            .unwrap()
            .ends_with("task-definition/hello-backend:1")
    );

    let (_, tasks, _) = aws(
        &up,
        &[
            "list-tasks",
            "--cluster",
            "hello",
            "--service-name",
            "backend",
        ],
    );
    let arns: Vec<String> = tasks["taskArns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(arns.len(), 2);
    let (_, described, _) = aws(
        &up,
        &["describe-tasks", "--cluster", "hello", "--tasks", &arns[0]],
    );
    let task = &described["tasks"][0];
    assert_eq!(task["lastStatus"], "RUNNING");
    assert_eq!(task["healthStatus"], "HEALTHY");
    assert_eq!(task["group"], "service:backend");
    assert_eq!(task["capacityProviderName"], "FARGATE");
    let ip = task["containers"][0]["networkInterfaces"][0]["privateIpv4Address"]
        .as_str()
        .unwrap();
    assert!(
        up.healthy_tasks()
            .iter()
            .any(|t| t.addr.ip().to_string() == ip)
    );

    // The task metadata endpoint v4, as the task sees it in its environment.
    let line = up
        .healthy_tasks()
        .into_iter()
        .find(|t| arns[0].ends_with(&t.task_id))
        .unwrap();
    let environ = std::fs::read(format!("/proc/{}/environ", line.pid)).unwrap();
    let uri = String::from_utf8_lossy(&environ)
        .split('\0')
        .find_map(|kv| {
            kv.strip_prefix("ECS_CONTAINER_METADATA_URI_V4=")
                .map(String::from)
        })
        .expect("the task has ECS_CONTAINER_METADATA_URI_V4");
    let doc: Value = http()
        .get(format!("{uri}/task"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(doc["TaskARN"], arns[0].as_str());
    assert_eq!(doc["Family"], "hello-backend");
    assert_eq!(doc["KnownStatus"], "RUNNING");
    assert_eq!(doc["Containers"][0]["Networks"][0]["IPv4Addresses"][0], ip);
    let container: Value = http()
        .get(&uri)
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(container["Name"], "backend");

    // StopTask: the task stops as UserInitiated, stays visible, and is replaced.
    let (ok, stopped, err) = aws(
        &up,
        &[
            "stop-task",
            "--cluster",
            "hello",
            "--task",
            &arns[0],
            "--reason",
            "test",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(stopped["task"]["desiredStatus"], "STOPPED");
    assert_eq!(
        up.wait_healthy(3, Duration::from_secs(20)).len(),
        3,
        "a replacement got healthy"
    );
    let (_, gone, _) = aws(
        &up,
        &[
            "list-tasks",
            "--cluster",
            "hello",
            "--desired-status",
            "STOPPED",
        ],
    );
    assert_eq!(gone["taskArns"][0], arns[0].as_str());
    let (_, described, _) = aws(
        &up,
        &["describe-tasks", "--cluster", "hello", "--tasks", &arns[0]],
    );
    let task = &described["tasks"][0];
    assert_eq!(task["stopCode"], "UserInitiated");
    assert_eq!(task["stoppedReason"], "test");
    for _ in 0..100 {
        let (_, d, _) = aws(
            &up,
            &["describe-tasks", "--cluster", "hello", "--tasks", &arns[0]],
        );
        if d["tasks"][0]["lastStatus"] == "STOPPED" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    // Task definitions.
    let (_, defs, _) = aws(&up, &["list-task-definitions"]);
    assert_eq!(defs["taskDefinitionArns"].as_array().unwrap().len(), 1);
    let (_, td, _) = aws(
        &up,
        &[
            "describe-task-definition",
            "--task-definition",
            "hello-backend",
        ],
    );
    let td = &td["taskDefinition"];
    assert_eq!(td["revision"], 1);
    assert_eq!(td["cpu"], "256");
    assert_eq!(
        td["containerDefinitions"][0]["portMappings"][0]["containerPort"],
        8080
    );
    assert_eq!(td["containerDefinitions"][0]["healthCheck"]["interval"], 5);

    // RunTask: a stand-alone task of the family, not part of the service.
    let (ok, run, err) = aws(
        &up,
        &[
            "run-task",
            "--cluster",
            "hello",
            "--task-definition",
            "hello-backend",
            "--started-by",
            "cli-test",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(run["tasks"][0]["group"], "family:hello-backend");
    let (_, mine, _) = aws(
        &up,
        &[
            "list-tasks",
            "--cluster",
            "hello",
            "--started-by",
            "cli-test",
        ],
    );
    assert_eq!(mine["taskArns"].as_array().unwrap().len(), 1);
    let (_, svc_tasks, _) = aws(
        &up,
        &[
            "list-tasks",
            "--cluster",
            "hello",
            "--service-name",
            "backend",
        ],
    );
    assert_eq!(
        svc_tasks["taskArns"].as_array().unwrap().len(),
        2,
        "not counted in the service"
    );

    // AWS's error shapes.
    let (ok, _, err) = aws(
        &up,
        &[
            "update-service",
            "--cluster",
            "hello",
            "--service",
            "nope",
            "--desired-count",
            "1",
        ],
    );
    assert!(!ok && err.contains("ServiceNotFoundException"), "{err}");
    let (ok, _, err) = aws(&up, &["list-tasks", "--cluster", "other"]);
    assert!(!ok && err.contains("ClusterNotFoundException"), "{err}");
    let (ok, _, err) = aws(
        &up,
        &[
            "describe-task-definition",
            "--task-definition",
            "hello-backend:9",
        ],
    );
    assert!(!ok && err.contains("ClientException"), "{err}");
    let (ok, _, err) = aws(
        &up,
        &[
            "stop-task",
            "--cluster",
            "hello",
            "--task",
            "0123456789abcdef0123456789abcdef",
        ],
    );
    assert!(!ok && err.contains("InvalidParameterException"), "{err}");
}

const STACK: &str = r#"
version = 1
[stack]
name = "ops"
region = "ap-northeast-3"
[api]
listen = "127.0.0.1:0"
[api.routes]
"$default" = { service = "web" }
[discovery]
dns_listen = "127.0.0.1:0"
[services.web]
command = ["albless-whoami"]
port = 8080
desired_count = 2
stop_timeout = 5
environment = { GREETING = "GREETING_VALUE" }
[services.web.health_check]
path = "/health"
interval = 5
timeout = 2
retries = 2
"#;

fn write_stack(dir: &Path, greeting: &str) -> PathBuf {
    let file = dir.join("albless.toml");
    std::fs::write(&file, STACK.replace("GREETING_VALUE", greeting)).unwrap();
    file
}

/// Runs an operating command against the running stack.
fn cli(up: &Up, file: &Path, args: &[&str]) -> Output {
    let out = Command::new(albless())
        .args(args)
        .arg("--file")
        .arg(file)
        .arg("--state-dir")
        .arg(&up.state_dir)
        .output()
        .expect("albless runs");
    eprintln!(
        "[{}] {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn status(up: &Up, file: &Path) -> Value {
    let out = cli(up, file, &["status", "--json"]);
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("status --json prints JSON")
}

#[test]
fn scale_status_logs_and_a_rolling_deploy_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_stack(dir.path(), "v1");
    let up = Up::start(albless(), &file, &["--quiet-tasks"]);
    assert_eq!(
        up.wait_healthy(2, Duration::from_secs(30)).len(),
        2,
        "{:?}",
        up.lines()
    );

    // scale out and back in, each waiting until steady.
    assert!(cli(&up, &file, &["scale", "web", "3"]).status.success());
    let report = status(&up, &file);
    let tasks = report["services"][0]["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 3, "{report}");
    assert!(
        tasks
            .iter()
            .all(|t| t["state"] == "RUNNING" && t["health"] == "HEALTHY"),
        "{report}"
    );
    assert!(cli(&up, &file, &["scale", "web", "2"]).status.success());
    assert_eq!(status(&up, &file)["services"][0]["running"], 2);

    // Steady load through the gateway while `deploy` rolls out a changed environment.
    let stop = Arc::new(AtomicBool::new(false));
    let (gateway, flag) = (up.gateway.clone(), stop.clone());
    let load = std::thread::spawn(move || {
        let agent = http();
        let mut seen: HashMap<String, usize> = HashMap::new();
        while !flag.load(Ordering::Relaxed) {
            let answer = match agent
                .get(format!("{gateway}/load"))
                .header("Accept", "application/json")
                .call()
            {
                Ok(mut r) => {
                    let status = r.status().as_u16();
                    let body: Value = r.body_mut().read_json().unwrap_or_default();
                    format!("{status} {}", body["greeting"].as_str().unwrap_or(""))
                }
                Err(e) => format!("error {e}"),
            };
            *seen.entry(answer).or_default() += 1;
        }
        seen
    });
    std::thread::sleep(Duration::from_millis(300));
    write_stack(dir.path(), "v2");
    let out = cli(&up, &file, &["deploy"]);
    assert!(out.status.success(), "deploy succeeded");
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let seen = load.join().unwrap();
    assert!(
        seen.keys().all(|k| k.starts_with("200 ")),
        "every request answered 200: {seen:?}"
    );
    assert!(seen.get("200 v2").copied().unwrap_or(0) > 0, "{seen:?}");

    let report = status(&up, &file);
    let svc = &report["services"][0];
    assert_eq!(svc["task_definition"], "ops-web:2");
    assert_eq!(svc["deployments"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(svc["deployments"][0]["rollout"], "COMPLETED");
    assert!(
        svc["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["task_definition"] == "ops-web:2")
    );

    // A second deploy with nothing changed does nothing.
    let out = cli(&up, &file, &["deploy"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("unchanged"));

    // A revision whose tasks exit at once trips the circuit breaker (threshold 3 for
    // 2 tasks) and rolls back to revision 2; `deploy` says so and fails.
    std::fs::write(
        &file,
        STACK
            .replace("GREETING_VALUE", "v2")
            .replace("[\"albless-whoami\"]", "[\"false\"]"),
    )
    .unwrap();
    let out = cli(&up, &file, &["deploy"]);
    assert!(!out.status.success(), "a rolled-back deploy fails");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rolled back"), "{stderr}");
    assert!(
        stderr.contains("deployment failed: tasks failed to start"),
        "the reason is given: {stderr}"
    );
    let report = status(&up, &file);
    let svc = &report["services"][0];
    assert_eq!(svc["task_definition"], "ops-web:2", "{report}");
    assert_eq!(svc["running"], 2);
    let events = svc["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.as_str().unwrap().contains("rolling back")),
        "{report}"
    );

    // logs: the tasks' output, prefixed with their short ids.
    let out = cli(&up, &file, &["logs", "web"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && !text.is_empty());
    assert!(
        text.lines().all(|l| l.len() > 11 && &l[8..11] == " | "),
        "{text}"
    );
    // A capacity change is not rolled out by deploy, and deploy says so.
    std::fs::write(
        &file,
        format!(
            "{}\n[[services.web.capacity]]\nprovider = \"FARGATE_SPOT\"\n",
            STACK.replace("GREETING_VALUE", "v2")
        ),
    )
    .unwrap();
    let out = cli(&up, &file, &["deploy"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("capacity provider strategy changed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A name that is neither a service nor a task family with logs is an error.
    let out = cli(&up, &file, &["logs", "wbe"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no service `wbe`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const SPOT_STACK: &str = r#"
version = 1
[stack]
name = "spot"
region = "ap-northeast-3"
[api.routes]
"$default" = { service = "web" }
"GET /broken" = { service = "broken" }
[services.web]
command = ["albless-whoami"]
port = 8080
desired_count = 1
stop_timeout = 5
[[services.web.capacity]]
provider = "FARGATE_SPOT"
weight = 1
[services.web.health_check]
path = "/health"
interval = 5
timeout = 2
retries = 2
[services.web.scale_to_zero]
idle_after = 300
wake_timeout = 20
[services.broken]
command = ["false"]
port = 8080
desired_count = 0
[services.broken.scale_to_zero]
idle_after = 300
wake_timeout = 1
"#;

#[test]
fn spot_interruption_sleep_and_wake_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("albless.toml");
    std::fs::write(&file, SPOT_STACK).unwrap();
    let up = Up::start(albless(), &file, &["--quiet-tasks"]);
    let first = up.wait_healthy(1, Duration::from_secs(30));
    assert_eq!(first.len(), 1, "{:?}", up.lines());
    let report = status(&up, &file);
    let web = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "web")
        .unwrap()
        .clone();
    assert_eq!(web["tasks"][0]["capacity"], "FARGATE_SPOT");

    // A Spot interruption with Spot capacity withheld for 2 s: the task stops with
    // TerminationNotice and its replacement comes only after the capacity returns.
    let id = &first[0].task_id;
    let out = cli(
        &up,
        &file,
        &["spot-interrupt", &id[..12], "--withhold", "2"],
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("TerminationNotice"));
    let interrupted = std::time::Instant::now();
    let stopped = up.wait_line(Duration::from_secs(10), |l| {
        (l.starts_with(&format!("task web/{id} stopped (TerminationNotice)"))).then_some(())
    });
    assert!(stopped.is_some(), "{:?}", up.lines());
    assert_eq!(
        up.wait_healthy(2, Duration::from_secs(20)).len(),
        2,
        "replaced"
    );
    assert!(
        interrupted.elapsed() >= Duration::from_secs(2),
        "not before Spot capacity returned"
    );

    // `sleep` scales to zero; a request then wakes the service and is answered.
    assert!(cli(&up, &file, &["sleep"]).status.success());
    assert_eq!(
        status(&up, &file)["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["running"].as_i64().unwrap())
            .sum::<i64>(),
        0
    );
    let agent = http();
    let mut resp = agent.get(format!("{}/hello", up.gateway)).call().unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "held while a task started, then served"
    );
    assert!(!resp.body_mut().read_to_string().unwrap().is_empty());

    // A service whose task never gets healthy: 503 with Retry-After after its wake
    // timeout, never 502.
    let resp = agent.get(format!("{}/broken", up.gateway)).call().unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert!(resp.headers().get("retry-after").is_some());

    // `wake` restores the remembered counts.
    assert!(cli(&up, &file, &["wake"]).status.success());
    let report = status(&up, &file);
    let web = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "web")
        .unwrap()
        .clone();
    assert_eq!(web["desired"], 1);
}
