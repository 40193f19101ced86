//! `albless status`: the services of the running stack, their deployments and tasks
//! (state, health, IP, age), as tables or as JSON, read through the ECS API
//! (ListServices, DescribeServices, ListTasks, DescribeTasks).

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_ecs as ecs;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::{Value, json};

use crate::control::{Running, StackArgs, runtime, sdk_error};

/// Service events shown (newest first), as the ECS console's list starts.
const EVENTS: usize = 20;

/// Options of `albless status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let running = args.stack.connect()?;
    let report = runtime()?.block_on(collect(&running))?;
    let out = if args.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        tables(&report)
    };
    crate::write_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// Everything `status` shows, as JSON (the `--json` output).
pub async fn collect(running: &Running) -> anyhow::Result<Value> {
    let client = &running.ecs;
    let cluster = running.cluster.as_str();
    let arns = client
        .list_services()
        .cluster(cluster)
        .send()
        .await
        .map_err(sdk_error)?
        .service_arns
        .unwrap_or_default();
    let mut services = Vec::new();
    if !arns.is_empty() {
        let described = client
            .describe_services()
            .cluster(cluster)
            .set_services(Some(arns))
            .send()
            .await
            .map_err(sdk_error)?;
        for svc in described.services() {
            let name = svc.service_name().unwrap_or_default();
            let task_arns = client
                .list_tasks()
                .cluster(cluster)
                .service_name(name)
                .send()
                .await
                .map_err(sdk_error)?
                .task_arns
                .unwrap_or_default();
            let tasks = if task_arns.is_empty() {
                Vec::new()
            } else {
                let d = client
                    .describe_tasks()
                    .cluster(cluster)
                    .set_tasks(Some(task_arns))
                    .send()
                    .await
                    .map_err(sdk_error)?;
                d.tasks().iter().map(task_json).collect()
            };
            services.push(json!({
                "name": name,
                "desired": svc.desired_count(),
                "running": svc.running_count(),
                "pending": svc.pending_count(),
                "task_definition": svc.task_definition().map(short_td),
                "deployments": svc.deployments().iter().map(|d| json!({
                    "id": d.id(),
                    "status": d.status(),
                    "task_definition": d.task_definition().map(short_td),
                    "desired": d.desired_count(),
                    "running": d.running_count(),
                    "pending": d.pending_count(),
                    "failed": d.failed_tasks(),
                    "rollout": d.rollout_state().map(|r| r.as_str().to_string()),
                    "reason": d.rollout_state_reason(),
                })).collect::<Vec<_>>(),
                "events": svc.events().iter().take(EVENTS).map(|e| e.message().unwrap_or_default().to_string()).collect::<Vec<_>>(),
                "tasks": tasks,
            }));
        }
    }
    Ok(json!({"cluster": cluster, "services": services}))
}

fn task_json(t: &ecs::types::Task) -> Value {
    let id = t
        .task_arn()
        .and_then(|a| a.rsplit('/').next())
        .unwrap_or_default();
    let ip = t
        .containers()
        .first()
        .and_then(|c| c.network_interfaces().first())
        .and_then(|n| n.private_ipv4_address());
    let age = t
        .created_at()
        .map(|c| now_secs() - c.as_secs_f64())
        .map(|s| s.max(0.0).round() as u64);
    json!({
        "id": id,
        "state": t.last_status(),
        "desired": t.desired_status(),
        "health": t.health_status().map(|h| h.as_str().to_string()),
        "ip": ip,
        "capacity": t.capacity_provider_name(),
        "task_definition": t.task_definition_arn().map(short_td),
        "age_seconds": age,
    })
}

/// `family:revision` from a task definition ARN.
fn short_td(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_string()
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A duration in the style of `kubectl`: `42s`, `3m`, `2h`, `4d`.
pub fn age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// The tables `status` prints: per service a summary line, its deployments, its tasks
/// and its latest events.
fn tables(report: &Value) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let text = |v: &Value| v.as_str().unwrap_or("-").to_string();
    for svc in report["services"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "service {}: desired {}, running {}, pending {} ({})",
            text(&svc["name"]),
            svc["desired"],
            svc["running"],
            svc["pending"],
            text(&svc["task_definition"])
        );
        let mut deployments = Table::new();
        deployments.load_style(UTF8_FULL_CONDENSED);
        deployments.set_header([
            "deployment",
            "status",
            "task definition",
            "rollout",
            "running/desired",
            "failed",
        ]);
        for d in svc["deployments"].as_array().into_iter().flatten() {
            deployments.add_row([
                text(&d["id"]),
                text(&d["status"]),
                text(&d["task_definition"]),
                text(&d["rollout"]),
                format!("{}/{}", d["running"], d["desired"]),
                d["failed"].to_string(),
            ]);
        }
        let _ = writeln!(out, "{deployments}");
        let mut tasks = Table::new();
        tasks.load_style(UTF8_FULL_CONDENSED);
        tasks.set_header([
            "task", "state", "health", "ip", "capacity", "revision", "age",
        ]);
        for t in svc["tasks"].as_array().into_iter().flatten() {
            tasks.add_row([
                text(&t["id"]),
                text(&t["state"]),
                text(&t["health"]),
                text(&t["ip"]),
                text(&t["capacity"]),
                text(&t["task_definition"]),
                t["age_seconds"]
                    .as_u64()
                    .map(age)
                    .unwrap_or_else(|| "-".into()),
            ]);
        }
        let _ = writeln!(out, "{tasks}");
        for event in svc["events"].as_array().into_iter().flatten().take(3) {
            let _ = writeln!(out, "  {}", text(event));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(super::age(42), "42s");
        assert_eq!(super::age(600), "10m");
        assert_eq!(super::age(3 * 3600), "3h");
        assert_eq!(super::age(5 * 86_400), "5d");
    }
}
