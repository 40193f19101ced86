//! The traffic endpoint's JSON: the gateway's metrics snapshot, with each instance
//! address resolved to the task that has it and each route to its service.
//!
//! Every series carries `requests` (in the window), `lastMinute` (in the last 60 whole
//! seconds), `rps` (per second by status class, oldest first; the last entry is the
//! current, partial second) and `latency` (per window: `count`, `p50Ms`, `p99Ms`).
//!
//! Known limits: the gateway counts by address, and the scheduler may give a stopped
//! task's address to a new task, so a task shown can inherit the counts of the task
//! that had its address before it within the window.

use albless_gateway::metrics::{
    LATENCY_SLOT_SECS, MetricsSnapshot, STATUS_CLASSES, SeriesSnapshot, WINDOW_SECS,
};
use albless_scheduler::{TaskStatus, TaskView};
use albless_spec::Stack;
use serde_json::{Value, json};

/// Seconds in the "last minute" figure.
const MINUTE: usize = 60;

/// The JSON of `snapshot`, with instances matched to `tasks` and routes to `stack`.
pub fn to_json(snapshot: &MetricsSnapshot, stack: &Stack, tasks: &[TaskView]) -> Value {
    let routes: Vec<Value> = snapshot
        .routes
        .iter()
        .enumerate()
        .map(|(i, (key, series))| {
            let mut v = series_json(series);
            v["key"] = json!(key);
            v["service"] = json!(stack.api.routes.get(i).map(|r| r.service.as_str()));
            v
        })
        .collect();
    let instances: Vec<Value> = snapshot
        .instances
        .iter()
        .map(|(addr, series)| {
            let task = owner(tasks, *addr);
            let mut v = series_json(series);
            v["addr"] = json!(addr.to_string());
            v["taskId"] = json!(task.map(|t| t.id.as_str()));
            v["service"] = json!(task.and_then(|t| t.service.as_deref()));
            v
        })
        .collect();
    json!({
        "nowSecs": snapshot.now_secs,
        "windowSecs": WINDOW_SECS,
        "latencySlotSecs": LATENCY_SLOT_SECS,
        "classes": ["1xx", "2xx", "3xx", "4xx", "5xx"],
        "total": series_json(&snapshot.total),
        "routes": routes,
        "tasks": instances,
    })
}

/// The task that has `addr`: a live one if any, else the one created last.
fn owner(tasks: &[TaskView], addr: std::net::SocketAddr) -> Option<&TaskView> {
    tasks
        .iter()
        .filter(|t| t.addr == Some(addr))
        .max_by(|a, b| {
            let live = |t: &TaskView| t.last_status != TaskStatus::Stopped;
            live(a)
                .cmp(&live(b))
                .then(a.created_at.total_cmp(&b.created_at))
        })
}

fn series_json(series: &SeriesSnapshot) -> Value {
    let sum = |counts: &[[u64; STATUS_CLASSES]]| -> u64 { counts.iter().flatten().sum() };
    let complete = &series.per_second[..series.per_second.len().saturating_sub(1)];
    let last_minute = &complete[complete.len().saturating_sub(MINUTE)..];
    let ms = |d: Option<std::time::Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
    let latency: Vec<Value> = series
        .latency
        .iter()
        .map(|w| json!({"count": w.count, "p50Ms": ms(w.p50), "p99Ms": ms(w.p99)}))
        .collect();
    json!({
        "requests": sum(&series.per_second),
        "lastMinute": sum(last_minute),
        "rps": series.per_second,
        "latency": latency,
    })
}

#[cfg(test)]
mod tests;
