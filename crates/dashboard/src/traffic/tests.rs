use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use albless_gateway::Metrics;
use albless_scheduler::{TaskHealth, TaskStatus, TaskView};
use tokio::time::Instant;

use super::*;

const STACK: &str = r#"
version = 1
[stack]
name = "shop"
region = "eu-west-1"
[api.routes]
"GET /cart" = { service = "cart" }
"$default" = { service = "web" }
[services.web]
command = ["web"]
port = 8080
[services.cart]
command = ["cart"]
port = 8080
"#;

fn task(id: &str, addr: &str, status: TaskStatus, created_at: f64) -> TaskView {
    TaskView {
        id: id.into(),
        arn: format!("arn:aws:ecs:eu-west-1:000000000000:task/shop/{id}"),
        task_definition_arn: "arn:aws:ecs:eu-west-1:000000000000:task-definition/shop-web:1".into(),
        service: Some("web".into()),
        group: "service:web".into(),
        started_by: None,
        last_status: status,
        desired_status: status,
        health: TaskHealth::Unknown,
        capacity_provider: "FARGATE".into(),
        addr: Some(addr.parse().unwrap()),
        pid: None,
        cpu: 256,
        memory: 512,
        container_name: "web".into(),
        image: None,
        exit_code: None,
        created_at,
        started_at: None,
        stopping_at: None,
        stopped_at: None,
        stop_code: None,
        stopped_reason: None,
        version: 1,
    }
}

#[test]
fn instances_resolve_to_their_live_task_and_routes_to_their_service() {
    let stack = albless_spec::parse(Path::new("albless.toml"), STACK).unwrap();
    let origin = Instant::now();
    let keys = stack.api.routes.iter().map(|r| r.key.to_string());
    let metrics = Metrics::starting_at(keys, origin);
    let addr: SocketAddr = "127.0.1.1:8080".parse().unwrap();
    let web = stack
        .api
        .routes
        .iter()
        .position(|r| r.service == "web")
        .unwrap();
    for i in 0..70u64 {
        let status = if i % 10 == 0 { 503 } else { 200 };
        let at = origin + Duration::from_secs(i);
        metrics.record_at(at, Some(web), Some(addr), status, Duration::from_millis(4));
    }
    // The same address had an older, stopped task: the live one owns the counts.
    let tasks = [
        task("old", "127.0.1.1:8080", TaskStatus::Stopped, 1.0),
        task("new", "127.0.1.1:8080", TaskStatus::Running, 2.0),
    ];
    let snapshot = metrics.snapshot_at(origin + Duration::from_secs(70));
    let v = to_json(&snapshot, &stack, &tasks);

    assert_eq!(v["windowSecs"], 300);
    assert_eq!(v["total"]["requests"], 70);
    // Seconds 10..=69 are the last 60 whole seconds.
    assert_eq!(v["total"]["lastMinute"], 60);
    let route = v["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["service"] == "web")
        .unwrap();
    assert_eq!(route["requests"], 70);
    let rps = route["rps"].as_array().unwrap();
    assert_eq!(rps.len(), 300);
    // Second 60 (the 11th from the end) had a 503.
    assert_eq!(rps[rps.len() - 11], json!([0, 0, 0, 0, 1]));
    assert_eq!(v["tasks"][0]["taskId"], "new");
    assert_eq!(v["tasks"][0]["service"], "web");
    assert_eq!(v["tasks"][0]["addr"], "127.0.1.1:8080");
    let latency = v["tasks"][0]["latency"].as_array().unwrap();
    let last_full = &latency[latency.len() - 2];
    assert_eq!(last_full["count"], 10);
    let p50 = last_full["p50Ms"].as_f64().unwrap();
    assert!(p50 > 4.0 && p50 <= 5.0, "p50 {p50}");
}
