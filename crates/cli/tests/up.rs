//! `albless up` on the example stack, end to end: the real binary, the real sample app,
//! HTTP through the gateway and DNS through `dig`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use albless_testkit::{Up, dig, http, process_alive, send_signal, workspace_root};

fn example() -> PathBuf {
    workspace_root().join("examples/hello/albless.toml")
}

fn start() -> Up {
    let up = Up::start(
        env!("CARGO_BIN_EXE_albless").as_ref(),
        &example(),
        &["--quiet-tasks"],
    );
    let tasks = up.wait_healthy(2, Duration::from_secs(30));
    assert_eq!(tasks.len(), 2, "two healthy tasks: {:?}", up.lines());
    up
}

/// One request through the gateway: (status, task id from the JSON answer, request id).
fn call(agent: &ureq::Agent, up: &Up, path: &str) -> (u16, Option<String>, Option<String>) {
    let mut resp = agent
        .get(format!("{}{path}", up.gateway))
        .header("Accept", "application/json")
        .call()
        .expect("the gateway answers");
    let status = resp.status().as_u16();
    let request_id = resp
        .headers()
        .get("apigw-requestid")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    let task = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["task_id"].as_str().map(String::from));
    (status, task, request_id)
}

#[test]
fn requests_spread_over_both_replicas() {
    let up = start();
    let agent = http();
    let mut per_task: HashMap<String, usize> = HashMap::new();
    for i in 0..200 {
        let (status, task, request_id) = call(&agent, &up, &format!("/hello?i={i}"));
        assert_eq!(status, 200);
        assert!(request_id.is_some(), "apigw-requestid on every response");
        *per_task
            .entry(task.expect("the sample app names its task"))
            .or_default() += 1;
    }
    assert_eq!(per_task.len(), 2, "both replicas answered: {per_task:?}");
    for (task, n) in &per_task {
        assert!(*n > 40, "task {task} got {n} of 200 requests (want > 20 %)");
    }
    // The article's demo: two different task IP addresses in the answers.
    let ips: std::collections::HashSet<_> =
        up.healthy_tasks().iter().map(|t| t.addr.ip()).collect();
    assert_eq!(ips.len(), 2);
}

#[test]
fn a_second_up_of_the_same_stack_is_refused_and_leaves_the_first_serving() {
    let up = start();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_albless"))
        .arg("up")
        .arg(example())
        .args(["--listen", "127.0.0.1:0", "--dns-listen", "127.0.0.1:0"])
        .args(["--control-listen", "127.0.0.1:0", "--state-dir"])
        .arg(&up.state_dir)
        .output()
        .expect("albless runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("already running (albless pid {}", up.pid())),
        "{stderr}"
    );
    let (status, _, _) = call(&http(), &up, "/still-there");
    assert_eq!(status, 200);
    assert_eq!(up.healthy_tasks().len(), 2, "{:?}", up.lines());
}

#[test]
fn every_path_reaches_the_default_route() {
    let up = start();
    let (status, _, request_id) = call(&http(), &up, "/any/path/at/all");
    // The example routes everything through `$default`.
    assert_eq!(status, 200);
    assert!(request_id.is_some());
}

#[test]
fn dns_answers_srv_and_a_for_the_service() {
    let up = start();
    let tasks = up.healthy_tasks();
    let srv = dig(up.dns, "backend.ecs.local", "SRV");
    assert_eq!(srv.len(), 2, "two SRV records: {srv:?}");
    for task in &tasks {
        let expected = format!(
            "1 1 {} {}.backend.ecs.local.",
            task.addr.port(),
            task.task_id
        );
        assert!(srv.contains(&expected), "SRV {expected} in {srv:?}");
    }
    let mut a = dig(up.dns, "backend.ecs.local", "A");
    a.sort();
    let mut ips: Vec<String> = tasks.iter().map(|t| t.addr.ip().to_string()).collect();
    ips.sort();
    assert_eq!(a, ips);
}

#[test]
fn a_killed_task_is_deregistered_and_replaced_without_502() {
    let up = start();
    let tasks = up.healthy_tasks();
    let victim = tasks[0].clone();

    // Keep traffic flowing through the gateway while the task dies.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gateway = up.gateway.clone();
    let flag = stop.clone();
    let traffic = std::thread::spawn(move || {
        let agent = http();
        let mut statuses: HashMap<u16, usize> = HashMap::new();
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let status = agent
                .get(format!("{gateway}/load"))
                .call()
                .map(|r| r.status().as_u16());
            *statuses.entry(status.unwrap_or(0)).or_default() += 1;
        }
        statuses
    });

    std::thread::sleep(Duration::from_millis(300));
    send_signal(victim.pid, "KILL");
    let killed_at = Instant::now();

    // Deregistered within 2 s: its address leaves the DNS answer.
    let victim_ip = victim.addr.ip().to_string();
    loop {
        if !dig(up.dns, "backend.ecs.local", "A").contains(&victim_ip) {
            break;
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(2),
            "still registered after 2 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // A replacement is healthy and registered within 10 s.
    let replacement = up
        .wait_line(Duration::from_secs(10), |l| {
            (l.starts_with("task backend/")
                && l.contains(" healthy at ")
                && !l.contains(&tasks[0].task_id)
                && !l.contains(&tasks[1].task_id))
            .then(|| l.to_string())
        })
        .expect("a replacement task got healthy within 10 s");
    assert!(
        killed_at.elapsed() < Duration::from_secs(10),
        "{replacement}"
    );
    let a = dig(up.dns, "backend.ecs.local", "A");
    assert_eq!(a.len(), 2, "two tasks registered again: {a:?}");

    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let statuses = traffic.join().unwrap();
    assert!(!statuses.contains_key(&502), "no 502 ever: {statuses:?}");
    assert!(
        !statuses.contains_key(&0),
        "every request got an answer: {statuses:?}"
    );
    assert!(
        statuses.get(&200).copied().unwrap_or(0) > 10,
        "{statuses:?}"
    );
}

#[test]
fn sigkill_of_albless_leaves_no_task_process() {
    let mut up = start();
    let pids: Vec<u32> = up.started_tasks().iter().map(|t| t.pid).collect();
    assert!(pids.iter().all(|p| process_alive(*p)));
    up.signal("KILL");
    up.wait_exit(Duration::from_secs(5)).expect("albless died");
    std::thread::sleep(Duration::from_secs(2));
    for pid in pids {
        assert!(!process_alive(pid), "task process {pid} outlived albless");
    }
}

#[test]
fn sigterm_stops_everything_cleanly() {
    let mut up = start();
    let pids: Vec<u32> = up.started_tasks().iter().map(|t| t.pid).collect();
    up.signal("TERM");
    let status = up
        .wait_exit(Duration::from_secs(40))
        .expect("albless exits after SIGTERM");
    assert!(status.success(), "exit status {status}");
    for pid in pids {
        assert!(!process_alive(pid), "task process {pid} outlived albless");
    }
    assert!(up.lines().iter().any(|l| l == "albless: stopped"));
    assert!(!up.state_dir.join("run.json").exists(), "run file removed");
}
