//! What survives a restart of `albless up`: task definition revisions, each service's
//! desired count, deployment history and recent events, in `scheduler.json` in the
//! state folder (written atomically, a moment after each change).
//!
//! On start albless.toml still rules: a service whose definition in the file differs
//! from its family's latest revision gets a new revision; a desired count edited in the
//! file since the last run wins over the saved one; deployment settings come from the
//! file. Tasks themselves never survive (they die with albless).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use albless_spec::{HealthCheck, HealthCheckKind, Stack};
use serde_json::{Value, json};

use crate::Shared;
use crate::clock::Clock;
use crate::model::{RolloutState, ServiceEvent, TaskDefinition, TaskDefinitionSpec};
use crate::state::{Deployment, State};

/// Format version of the file.
const VERSION: u64 = 1;
/// Events kept in the file per service.
const EVENTS_KEPT: usize = 50;

/// Writes the state whenever it changed, at most every 200 ms.
pub(crate) async fn writer(sh: Arc<Shared>) {
    loop {
        sh.persist.notified().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        save_now(&sh);
    }
}

/// Writes the state now if it changed.
pub(crate) fn save_now(sh: &Shared) {
    let Some(path) = sh.options.state_file.as_deref() else {
        return;
    };
    let doc = {
        let mut st = sh.lock();
        if !st.dirty {
            return;
        }
        st.dirty = false;
        to_json(&st)
    };
    let tmp = path.with_extension("json.tmp");
    let result = std::fs::write(&tmp, serde_json::to_vec_pretty(&doc).unwrap_or_default())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(error) = result {
        tracing::warn!(path = %path.display(), %error, "cannot write the scheduler state");
    }
}

fn to_json(st: &State) -> Value {
    let families: BTreeMap<&String, Vec<Value>> = st
        .families
        .iter()
        .map(|(f, revs)| (f, revs.iter().map(td_to_json).collect()))
        .collect();
    let services: BTreeMap<&String, Value> = st
        .services
        .iter()
        .map(|(name, s)| {
            let deployments: Vec<Value> = s
                .deployments
                .iter()
                .chain(s.history.iter())
                .map(dep_to_json)
                .collect();
            let events: Vec<Value> = s
                .events
                .iter()
                .take(EVENTS_KEPT)
                .map(|e| json!({"id": e.id, "created_at": e.created_at, "message": e.message}))
                .collect();
            (
                name,
                json!({
                    "desired": s.desired,
                    "spec_desired": s.spec_desired,
                    "created_at": s.created_at,
                    "deployments": deployments,
                    "events": events,
                }),
            )
        })
        .collect();
    json!({"version": VERSION, "families": families, "services": services})
}

/// Reads the state file and merges albless.toml into it; `None` when there is no file
/// or it cannot be used (then the caller starts fresh).
pub(crate) fn load(path: &Path, stack: &Stack, clock: &Clock) -> Option<State> {
    let text = std::fs::read(path).ok()?;
    let doc: Value = match serde_json::from_slice(&text) {
        Ok(v) => v,
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "ignoring an unreadable scheduler state file");
            return None;
        }
    };
    if doc["version"].as_u64() != Some(VERSION) {
        return None;
    }
    let mut st = State::new_empty(stack);
    for (family, revs) in doc["families"].as_object()?.iter() {
        let revs: Vec<TaskDefinition> = revs
            .as_array()?
            .iter()
            .filter_map(|v| td_from_json(v, family, &stack.region))
            .collect();
        st.families.insert(family.to_string(), revs);
    }
    for service in stack.services.values() {
        let saved = &doc["services"][&service.name];
        if !saved.is_object() {
            st.add_service(stack, service, clock);
            continue;
        }
        let spec = TaskDefinitionSpec::from_service(stack, service);
        let history: Vec<Deployment> = saved["deployments"]
            .as_array()
            .map_or_else(Vec::new, |d| d.iter().filter_map(dep_from_json).collect());
        let latest = st
            .families
            .get(&spec.family)
            .and_then(|r| r.last())
            .cloned();
        // The primary: the saved one while the file is unchanged, else a new revision.
        let primary_td = match (latest, history.first()) {
            (Some(latest), Some(first)) if latest.spec == spec => st
                .find_definition(&format!("{}:{}", first.family, first.revision))
                .cloned()
                .unwrap_or(latest),
            _ => st.register(spec, clock),
        };
        st.insert_service(stack, service, &primary_td, clock);
        let svc = st.services.get_mut(&service.name).expect("just added");
        svc.history = history;
        let spec_desired = saved["spec_desired"].as_u64().map(|n| n as u32);
        if spec_desired == Some(service.desired_count) {
            svc.desired = saved["desired"]
                .as_u64()
                .map_or(service.desired_count, |n| n as u32);
        }
        svc.wake_count = svc.desired.max(1);
        svc.created_at = saved["created_at"].as_f64().unwrap_or(svc.created_at);
        svc.events = saved["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .filter_map(|e| {
                        Some(ServiceEvent {
                            id: e["id"].as_str()?.to_string(),
                            created_at: e["created_at"].as_f64()?,
                            message: e["message"].as_str()?.to_string(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
    }
    tracing::info!(path = %path.display(), "scheduler state restored");
    Some(st)
}

fn td_to_json(td: &TaskDefinition) -> Value {
    let s = &td.spec;
    json!({
        "revision": td.revision,
        "registered_at": td.registered_at,
        "command": s.command,
        "image": s.image,
        "port": s.port,
        "cpu": s.cpu,
        "memory": s.memory,
        "cpu_architecture": s.cpu_architecture,
        "environment": s.environment,
        "health_check": s.health_check.as_ref().map(health_to_json),
        "stop_timeout_ms": s.stop_timeout.as_millis() as u64,
    })
}

fn td_from_json(v: &Value, family: &str, region: &str) -> Option<TaskDefinition> {
    let revision = v["revision"].as_u64()? as u32;
    let spec = TaskDefinitionSpec {
        family: family.to_string(),
        command: serde_json::from_value(v["command"].clone()).ok()?,
        image: v["image"].as_str().map(str::to_string),
        port: v["port"].as_u64()? as u16,
        cpu: v["cpu"].as_u64()? as u32,
        memory: v["memory"].as_u64()? as u32,
        cpu_architecture: v["cpu_architecture"].as_str()?.to_string(),
        environment: serde_json::from_value(v["environment"].clone()).ok()?,
        health_check: if v["health_check"].is_null() {
            None
        } else {
            Some(health_from_json(&v["health_check"])?)
        },
        stop_timeout: Duration::from_millis(v["stop_timeout_ms"].as_u64()?),
    };
    Some(TaskDefinition {
        arn: crate::state::td_arn(region, family, revision),
        revision,
        spec,
        registered_at: v["registered_at"].as_f64().unwrap_or(0.0),
    })
}

fn health_to_json(h: &HealthCheck) -> Value {
    let (path, command) = match &h.kind {
        HealthCheckKind::Http { path } => (Some(path.clone()), None),
        HealthCheckKind::Command(argv) => (None, Some(argv.clone())),
    };
    json!({
        "path": path,
        "command": command,
        "interval_ms": h.interval.as_millis() as u64,
        "timeout_ms": h.timeout.as_millis() as u64,
        "retries": h.retries,
        "start_period_ms": h.start_period.as_millis() as u64,
    })
}

fn health_from_json(v: &Value) -> Option<HealthCheck> {
    let kind = match (v["path"].as_str(), v["command"].as_array()) {
        (Some(path), _) => HealthCheckKind::Http {
            path: path.to_string(),
        },
        (None, Some(argv)) => HealthCheckKind::Command(
            argv.iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
        ),
        _ => return None,
    };
    Some(HealthCheck {
        kind,
        interval: Duration::from_millis(v["interval_ms"].as_u64()?),
        timeout: Duration::from_millis(v["timeout_ms"].as_u64()?),
        retries: v["retries"].as_u64()? as u32,
        start_period: Duration::from_millis(v["start_period_ms"].as_u64()?),
    })
}

fn dep_to_json(d: &Deployment) -> Value {
    json!({
        "id": d.id,
        "family": d.family,
        "revision": d.revision,
        "failed_tasks": d.failed_tasks,
        "rollout": d.rollout.as_str(),
        "reason": d.reason,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
    })
}

fn dep_from_json(v: &Value) -> Option<Deployment> {
    Some(Deployment {
        id: v["id"].as_str()?.to_string(),
        family: v["family"].as_str()?.to_string(),
        revision: v["revision"].as_u64()? as u32,
        failed_tasks: v["failed_tasks"].as_u64().unwrap_or(0) as u32,
        // A deployment cut short by the restart is over: only COMPLETED ones matter
        // for rollback.
        rollout: match v["rollout"].as_str()? {
            "COMPLETED" => RolloutState::Completed,
            _ => RolloutState::Failed,
        },
        reason: v["reason"].as_str().unwrap_or_default().to_string(),
        created_at: v["created_at"].as_f64().unwrap_or(0.0),
        updated_at: v["updated_at"].as_f64().unwrap_or(0.0),
    })
}
