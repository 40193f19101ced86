//! ECS response shapes built from scheduler views, and the one request shape converted
//! the other way (RegisterTaskDefinition). Member names are camelCase, timestamps epoch
//! seconds, as in ECS's AWS JSON 1.1 model (aws-behavior.md §4.1).
//!
//! What a local task needs beyond ECS's container definition travels in Docker labels:
//! [`LABEL_COMMAND`] (the process command, a JSON array) and [`LABEL_HEALTH_PATH`] (an
//! HTTP health check path; the `healthCheck.command` beside it is the curl line the
//! container would run on AWS).

use std::collections::BTreeMap;
use std::time::Duration;

use albless_scheduler::{
    ClusterView, HealthCheck, HealthCheckKind, SchedulerHandle, ServiceView, TaskDefinition,
    TaskDefinitionSpec, TaskView,
};
use serde_json::{Value, json};

use super::invalid;
use crate::AwsError;

/// Docker label holding a task's local command (a JSON array of strings).
pub const LABEL_COMMAND: &str = "albless.command";
/// Docker label holding the path of an HTTP health check.
pub const LABEL_HEALTH_PATH: &str = "albless.health-check-path";

/// A `Cluster`.
pub fn cluster(c: &ClusterView) -> Value {
    json!({
        "clusterArn": c.arn,
        "clusterName": c.name,
        "status": "ACTIVE",
        "registeredContainerInstancesCount": 0,
        "runningTasksCount": c.running_tasks,
        "pendingTasksCount": c.pending_tasks,
        "activeServicesCount": c.active_services,
        "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
        "defaultCapacityProviderStrategy": [],
        "statistics": [],
        "tags": [],
    })
}

/// A `Service`.
pub fn service(s: &SchedulerHandle, v: &ServiceView) -> Value {
    let stack = s.stack();
    let cluster_arn = format!(
        "arn:aws:ecs:{}:000000000000:cluster/{}",
        stack.region, stack.name
    );
    let strategy: Vec<Value> = v
        .capacity
        .iter()
        .map(|(p, base, weight)| json!({"capacityProvider": p, "base": base, "weight": weight}))
        .collect();
    let deployments: Vec<Value> = v
        .deployments
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "status": d.status,
                "taskDefinition": d.task_definition_arn,
                "desiredCount": d.desired_count,
                "pendingCount": d.pending_count,
                "runningCount": d.running_count,
                "failedTasks": d.failed_tasks,
                "createdAt": d.created_at,
                "updatedAt": d.updated_at,
                "capacityProviderStrategy": strategy,
                "platformVersion": "1.4.0",
                "platformFamily": "Linux",
                "rolloutState": d.rollout_state.as_str(),
                "rolloutStateReason": d.rollout_state_reason,
            })
        })
        .collect();
    let events: Vec<Value> = v
        .events
        .iter()
        .map(|e| json!({"id": e.id, "createdAt": e.created_at, "message": e.message}))
        .collect();
    json!({
        "serviceArn": v.arn,
        "serviceName": v.name,
        "clusterArn": cluster_arn,
        "status": "ACTIVE",
        "desiredCount": v.desired_count,
        "runningCount": v.running_count,
        "pendingCount": v.pending_count,
        "capacityProviderStrategy": strategy,
        "platformVersion": "LATEST",
        "platformFamily": "Linux",
        "taskDefinition": v.task_definition_arn,
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": {"enable": v.circuit_breaker_enable, "rollback": v.circuit_breaker_rollback},
            "maximumPercent": v.max_percent,
            "minimumHealthyPercent": v.min_healthy_percent,
        },
        "deployments": deployments,
        "events": events,
        "serviceRegistries": [{
            "registryArn": format!("arn:aws:servicediscovery:{}:000000000000:service/{}", stack.region, v.registry_service),
            "containerName": v.name,
            "containerPort": v.port,
        }],
        "createdAt": v.created_at,
        "schedulingStrategy": "REPLICA",
        "deploymentController": {"type": "ECS"},
        "launchType": Value::Null,
        "enableECSManagedTags": false,
        "propagateTags": "NONE",
        "enableExecuteCommand": false,
        "healthCheckGracePeriodSeconds": 0,
    })
}

/// A `Task`.
pub fn task(s: &SchedulerHandle, t: &TaskView) -> Value {
    let stack = s.stack();
    let cluster_arn = format!(
        "arn:aws:ecs:{}:000000000000:cluster/{}",
        stack.region, stack.name
    );
    let ip = t.addr.map(|a| a.ip().to_string());
    let attachment_id = format!("{}-eni", &t.id[..8]);
    let mut container = json!({
        "containerArn": format!("arn:aws:ecs:{}:000000000000:container/{}/{}/{}", stack.region, stack.name, t.id, t.container_name),
        "taskArn": t.arn,
        "name": t.container_name,
        "image": t.image,
        "lastStatus": container_status(t),
        "healthStatus": t.health.as_str(),
        "cpu": t.cpu.to_string(),
        "memory": t.memory.to_string(),
        "networkInterfaces": ip.iter().map(|ip| json!({"attachmentId": attachment_id, "privateIpv4Address": ip})).collect::<Vec<_>>(),
    });
    if let Some(code) = t.exit_code {
        container["exitCode"] = json!(code);
    }
    if let Some(pid) = t.pid {
        container["runtimeId"] = json!(format!("pid-{pid}"));
    }
    let mut task = json!({
        "taskArn": t.arn,
        "clusterArn": cluster_arn,
        "taskDefinitionArn": t.task_definition_arn,
        "lastStatus": t.last_status.as_str(),
        "desiredStatus": t.desired_status.as_str(),
        "healthStatus": t.health.as_str(),
        "containers": [container],
        "capacityProviderName": t.capacity_provider,
        "availabilityZone": format!("{}a", stack.region),
        "attachments": [{
            "id": attachment_id,
            "type": "ElasticNetworkInterface",
            "status": if t.last_status.as_str() == "STOPPED" { "DELETED" } else { "ATTACHED" },
            "details": ip.iter().map(|ip| json!({"name": "privateIPv4Address", "value": ip})).collect::<Vec<_>>(),
        }],
        "group": t.group,
        "cpu": t.cpu.to_string(),
        "memory": t.memory.to_string(),
        "createdAt": t.created_at,
        "platformVersion": "1.4.0",
        "platformFamily": "Linux",
        "version": t.version,
        "connectivity": "CONNECTED",
        "enableExecuteCommand": false,
        "tags": [],
    });
    let optional = [
        ("startedBy", t.started_by.clone().map(Value::from)),
        ("startedAt", t.started_at.map(Value::from)),
        (
            "pullStartedAt",
            t.started_at.map(|_| Value::from(t.created_at)),
        ),
        ("pullStoppedAt", t.started_at.map(Value::from)),
        ("stoppingAt", t.stopping_at.map(Value::from)),
        ("stoppedAt", t.stopped_at.map(Value::from)),
        ("executionStoppedAt", t.stopped_at.map(Value::from)),
        ("stopCode", t.stop_code.map(|c| Value::from(c.as_str()))),
        ("stoppedReason", t.stopped_reason.clone().map(Value::from)),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            task[k] = v;
        }
    }
    task
}

/// A container's `lastStatus`: ECS reports containers as PENDING, RUNNING or STOPPED.
fn container_status(t: &TaskView) -> &'static str {
    match t.last_status.as_str() {
        "PROVISIONING" | "PENDING" | "ACTIVATING" => "PENDING",
        "STOPPED" | "DEPROVISIONING" => "STOPPED",
        _ => "RUNNING",
    }
}

/// A `TaskDefinition`.
pub fn task_definition(s: &SchedulerHandle, td: &TaskDefinition) -> Value {
    let spec = &td.spec;
    let stack = s.stack();
    let name = spec
        .family
        .strip_prefix(&format!("{}-", stack.name))
        .unwrap_or(&spec.family)
        .to_string();
    let mut labels = serde_json::Map::new();
    if let Some(command) = &spec.command {
        labels.insert(
            LABEL_COMMAND.into(),
            json!(serde_json::to_string(command).unwrap_or_default()),
        );
    }
    let environment: Vec<Value> = spec
        .environment
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    let mut container = json!({
        "name": name,
        "image": spec.image.clone().unwrap_or_default(),
        "essential": true,
        "portMappings": [{"containerPort": spec.port, "hostPort": spec.port, "protocol": "tcp"}],
        "environment": environment,
        "stopTimeout": spec.stop_timeout.as_secs(),
        "cpu": 0,
        "mountPoints": [],
        "volumesFrom": [],
    });
    if let Some(h) = &spec.health_check {
        let command = match &h.kind {
            HealthCheckKind::Http { path } => {
                labels.insert(LABEL_HEALTH_PATH.into(), json!(path));
                vec![
                    "CMD-SHELL".to_string(),
                    format!("curl -f http://localhost:{}{path} || exit 1", spec.port),
                ]
            }
            HealthCheckKind::Command(argv) => argv.clone(),
        };
        container["healthCheck"] = json!({
            "command": command,
            "interval": h.interval.as_secs(),
            "timeout": h.timeout.as_secs(),
            "retries": h.retries,
            "startPeriod": h.start_period.as_secs(),
        });
    }
    container["dockerLabels"] = Value::Object(labels);
    json!({
        "taskDefinitionArn": td.arn,
        "family": spec.family,
        "revision": td.revision,
        "status": "ACTIVE",
        "containerDefinitions": [container],
        "cpu": spec.cpu.to_string(),
        "memory": spec.memory.to_string(),
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "compatibilities": ["EC2", "FARGATE"],
        "runtimePlatform": {"cpuArchitecture": spec.cpu_architecture, "operatingSystemFamily": "LINUX"},
        "registeredAt": td.registered_at,
        "registeredBy": "arn:aws:iam::000000000000:root",
        "volumes": [],
        "placementConstraints": [],
    })
}

/// The definition a RegisterTaskDefinition request describes (its first container).
pub fn spec_from_register(input: &Value) -> Result<TaskDefinitionSpec, AwsError> {
    let family = input["family"]
        .as_str()
        .filter(|f| !f.is_empty())
        .ok_or_else(|| invalid("family is required."))?;
    let container = input["containerDefinitions"]
        .as_array()
        .and_then(|c| c.first())
        .ok_or_else(|| invalid("Container definitions cannot be empty."))?;
    let labels = &container["dockerLabels"];
    let command = match labels[LABEL_COMMAND].as_str() {
        Some(text) => Some(serde_json::from_str::<Vec<String>>(text).map_err(|_| {
            invalid(format!(
                "dockerLabels.{LABEL_COMMAND} must be a JSON array of strings."
            ))
        })?),
        None => None,
    };
    let port = container["portMappings"][0]["containerPort"]
        .as_u64()
        .unwrap_or(80) as u16;
    let environment: BTreeMap<String, String> = container["environment"]
        .as_array()
        .map(|env| {
            env.iter()
                .filter_map(|e| {
                    Some((
                        e["name"].as_str()?.to_string(),
                        e["value"].as_str().unwrap_or("").to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let health_check = match container["healthCheck"].as_object() {
        None => None,
        Some(h) => {
            let secs = |k: &str, d: u64| {
                Duration::from_secs(h.get(k).and_then(Value::as_u64).unwrap_or(d))
            };
            let kind = match labels[LABEL_HEALTH_PATH].as_str() {
                Some(path) => HealthCheckKind::Http {
                    path: path.to_string(),
                },
                None => HealthCheckKind::Command(
                    h.get("command")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .ok_or_else(|| invalid("healthCheck.command is required."))?,
                ),
            };
            // ECS defaults (§4.5): interval 30 s, timeout 5 s, retries 3, no start period.
            Some(HealthCheck {
                kind,
                interval: secs("interval", 30),
                timeout: secs("timeout", 5),
                retries: h.get("retries").and_then(Value::as_u64).unwrap_or(3) as u32,
                start_period: secs("startPeriod", 0),
            })
        }
    };
    let number = |v: &Value, d: u32| match v {
        Value::String(s) => s.parse().unwrap_or(d),
        Value::Number(n) => n.as_u64().map_or(d, |n| n as u32),
        _ => d,
    };
    Ok(TaskDefinitionSpec {
        family: family.to_string(),
        command,
        image: container["image"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        port,
        cpu: number(&input["cpu"], 256),
        memory: number(&input["memory"], 512),
        cpu_architecture: input["runtimePlatform"]["cpuArchitecture"]
            .as_str()
            .unwrap_or("X86_64")
            .to_string(),
        environment,
        health_check,
        stop_timeout: Duration::from_secs(container["stopTimeout"].as_u64().unwrap_or(30)),
    })
}
