//! ECS (`AmazonEC2ContainerServiceV20141113`) over AWS JSON 1.1: the operations albless
//! serves, each a conversion from the request to a scheduler call and from its result to
//! ECS's response shape (aws-behavior.md §4.1). Every scheduler error becomes an ECS
//! error in [`ecs_error`], and only there.
//!
//! One cluster exists, named after the stack; a request naming another cluster gets
//! `ClusterNotFoundException`, and one naming none is taken as that cluster (locally
//! there is no `default` cluster to fall back to).
//!
//! Beyond ECS, target `AlblessLocal_v1` serves `SpotInterruptTask`
//! (`{cluster, task, withholdSeconds}`), since AWS offers no API to interrupt a Spot
//! task on demand.
//!
//! Known limits: no pagination (`nextToken` is never returned; lists are small), no tags,
//! no CreateService/DeleteService (services come from albless.toml), one container per
//! task definition.

mod shapes;

use albless_scheduler::{SchedulerError, SchedulerHandle, ServiceUpdate, TaskFilter};
use http::StatusCode;
use serde_json::{Value, json};

use crate::AwsError;

pub use shapes::{LABEL_COMMAND, LABEL_HEALTH_PATH};

/// The `X-Amz-Target` prefix of albless's own local operations.
pub const ALBLESS_TARGET: &str = "AlblessLocal_v1";

/// Handles ECS operation `operation` with request body `body`.
pub fn handle(
    scheduler: Option<&SchedulerHandle>,
    operation: &str,
    body: &[u8],
) -> Result<Value, AwsError> {
    let s = scheduler.ok_or_else(|| server_error("the scheduler is not running"))?;
    let input = parse(body)?;
    match operation {
        "DescribeClusters" => describe_clusters(s, &input),
        "ListServices" => list_services(s, &input),
        "DescribeServices" => describe_services(s, &input),
        "UpdateService" => update_service(s, &input),
        "ListTasks" => list_tasks(s, &input),
        "DescribeTasks" => describe_tasks(s, &input),
        "StopTask" => stop_task(s, &input),
        "RunTask" => run_task(s, &input),
        "ListTaskDefinitions" => list_task_definitions(s, &input),
        "DescribeTaskDefinition" => describe_task_definition(s, &input),
        "RegisterTaskDefinition" => register_task_definition(s, &input),
        _ => Err(AwsError::unknown_operation(operation)),
    }
}

/// Handles albless's own operation `operation` (target [`ALBLESS_TARGET`]).
pub fn handle_local(
    scheduler: Option<&SchedulerHandle>,
    operation: &str,
    body: &[u8],
) -> Result<Value, AwsError> {
    let s = scheduler.ok_or_else(|| server_error("the scheduler is not running"))?;
    let input = parse(body)?;
    match operation {
        "SpotInterruptTask" => {
            check_cluster(s, &input)?;
            let task = required_str(&input, "task")?;
            let withhold = input["withholdSeconds"]
                .as_u64()
                .map(std::time::Duration::from_secs);
            let view = s.spot_interrupt(task, withhold).map_err(ecs_error)?;
            Ok(json!({"task": shapes::task(s, &view)}))
        }
        _ => Err(AwsError::unknown_operation(operation)),
    }
}

fn parse(body: &[u8]) -> Result<Value, AwsError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        AwsError::new(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            e.to_string(),
        )
    })?;
    if !v.is_object() {
        return Err(AwsError::new(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            "the request body is not a JSON object",
        ));
    }
    Ok(v)
}

/// The error ECS answers for a scheduler error (§4.1: all client errors are 400).
fn ecs_error(e: SchedulerError) -> AwsError {
    let kind = match e {
        SchedulerError::ServiceNotFound => "ServiceNotFoundException",
        SchedulerError::TaskNotFound | SchedulerError::InvalidParameter(_) => {
            "InvalidParameterException"
        }
        SchedulerError::TaskDefinitionNotFound => "ClientException",
    };
    AwsError::new(StatusCode::BAD_REQUEST, kind, e.to_string())
}

fn server_error(message: &str) -> AwsError {
    AwsError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "ServerException",
        message,
    )
}

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(
        StatusCode::BAD_REQUEST,
        "InvalidParameterException",
        message,
    )
}

fn required_str<'a>(input: &'a Value, field: &str) -> Result<&'a str, AwsError> {
    input[field]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(format!("{field} is required.")))
}

/// Whether a cluster name or ARN names the stack's cluster.
fn is_our_cluster(s: &SchedulerHandle, name: &str) -> bool {
    name.rsplit('/').next() == Some(s.stack().name.as_str())
}

/// `cluster` must be absent or name the stack's cluster.
fn check_cluster(s: &SchedulerHandle, input: &Value) -> Result<(), AwsError> {
    match input["cluster"].as_str() {
        None => Ok(()),
        Some(c) if is_our_cluster(s, c) => Ok(()),
        Some(_) => Err(AwsError::new(
            StatusCode::BAD_REQUEST,
            "ClusterNotFoundException",
            "Cluster not found.",
        )),
    }
}

fn strings(input: &Value, field: &str) -> Vec<String> {
    input[field].as_array().map_or_else(Vec::new, |a| {
        a.iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    })
}

fn describe_clusters(s: &SchedulerHandle, input: &Value) -> Result<Value, AwsError> {
    let mut names = strings(input, "clusters");
    if names.is_empty() {
        names.push(s.stack().name.clone());
    }
    let (mut clusters, mut failures) = (Vec::new(), Vec::new());
    for name in names {
        if is_our_cluster(s, &name) {
            clusters.push(shapes::cluster(&s.cluster()));
        } else {
            failures.push(json!({"arn": name, "reason": "MISSING"}));
        }
    }
    Ok(json!({"clusters": clusters, "failures": failures}))
}

fn list_services(s: &SchedulerHandle, input: &Value) -> Result<Value, AwsError> {
    check_cluster(s, input)?;
    let arns: Vec<String> = s
        .service_names()
        .iter()
        .filter_map(|n| s.describe_service(n))
        .map(|v| v.arn)
        .collect();
    Ok(json!({"serviceArns": arns}))
}

fn describe_services(s: &SchedulerHandle, input: &Value) -> Result<Value, AwsError> {
    check_cluster(s, input)?;
    let names = strings(input, "services");
    if names.is_empty() {
        return Err(invalid("Services cannot be empty."));
    }
    let (mut services, mut failures) = (Vec::new(), Vec::new());
    for name in names {
        match s.describe_service(&name) {
            Some(view) => services.push(shapes::service(s, &view)),
            None => failures.push(json!({"arn": service_arn(s, &name), "reason": "MISSING"})),
        }
    }
    Ok(json!({"services": services, "failures": failures}))
}

fn service_arn(s: &SchedulerHandle, name: &str) -> String {
    if name.starts_with("arn:") {
        return name.to_string();
    }
    let stack = s.stack();
    format!(
        "arn:aws:ecs:{}:000000000000:service/{}/{name}",
        stack.region, stack.name
    )
}

fn update_service(s: &SchedulerHandle, input: &Value) -> Result<Value, AwsError> {
    check_cluster(s, input)?;
    let service = required_str(input, "service")?;
    let config = &input["deploymentConfiguration"];
    let breaker = &config["deploymentCircuitBreaker"];
    let desired_count = match input["desiredCount"].as_i64() {
        Some(n) if n < 0 => return Err(invalid("desiredCount can't be less than 0.")),
        Some(n) => Some(n as u32),
        None => None,
    };
    let update = ServiceUpdate {
        desired_count,
        task_definition: input["taskDefinition"].as_str().map(str::to_string),
        force_new_deployment: input["forceNewDeployment"].as_bool().unwrap_or(false),
        min_healthy_percent: config["minimumHealthyPercent"].as_u64().map(|n| n as u32),
        max_percent: config["maximumPercent"].as_u64().map(|n| n as u32),
        circuit_breaker: match (breaker["enable"].as_bool(), breaker["rollback"].as_bool()) {
            (Some(e), Some(r)) => Some((e, r)),
            _ => None,
        },
    };
    let view = s.update_service(service, update).map_err(ecs_error)?;
    Ok(json!({"service": shapes::service(s, &view)}))
}

fn list_tasks(s: &SchedulerHandle, input: &Value) -> Result<Value, AwsError> {
    check_cluster(s, input)?;
    let service = input["serviceName"].as_str().map(str::to_string);
    if let Some(name) = &service
        && s.describe_service(name).is_none()
    {
        return Err(ecs_error(SchedulerError::ServiceNotFound));
    }
    let filter = TaskFilter {
        service,
        family: input["family"].as_str().map(str::to_string),
        started_by: input["startedBy"].as_str().map(str::to_string),
        desired_status: input["desiredStatus"].as_str().map(str::to_string),
    };
    let mut arns = s.list_tasks(&filter);
    if let Some(max) = input["maxResults"].as_u64() {
        arns.truncate(max as usize);
    }
    Ok(json!({"taskArns": arns}))
}

fn describe_tasks(s: &SchedulerHandle, input: &Value) -> Result<Value, AwsError> {
    check_cluster(s, input)?;
    let ids = strings(input, "tasks");
    if ids.is_empty() {
        return Err(invalid("Tasks cannot be empty."));
    }
    let (mut tasks, mut failures) = (Vec::new(), Vec::new());
    for id in ids {
        match s.describe_task(&id) {
            Some(view) => tasks.push(shapes::task(s, &view)),
            None => failures.push(json!({"arn": id, "reason": "MISSING"})),
        }
    }
    Ok(json!({"tasks": tasks, "failures": failures}))
}

fn stop_task(s: &SchedulerHandle, input: &Value) -> Result<Value, AwsError> {
    check_cluster(s, input)?;
    let task = required_str(input, "task")?;
    let view = s
        .stop_task(task, input["reason"].as_str().map(str::to_string))
        .map_err(ecs_error)?;
    Ok(json!({"task": shapes::task(s, &view)}))
}

fn run_task(s: &SchedulerHandle, input: &Value) -> Result<Value, AwsError> {
    check_cluster(s, input)?;
    let td = required_str(input, "taskDefinition")?;
    let count = input["count"].as_u64().unwrap_or(1) as u32;
    let views = s
        .run_task(td, count, input["startedBy"].as_str().map(str::to_string))
        .map_err(ecs_error)?;
    let tasks: Vec<Value> = views.iter().map(|v| shapes::task(s, v)).collect();
    Ok(json!({"tasks": tasks, "failures": []}))
}

fn list_task_definitions(s: &SchedulerHandle, input: &Value) -> Result<Value, AwsError> {
    let status = input["status"].as_str().unwrap_or("ACTIVE");
    // Every revision is ACTIVE locally (no DeregisterTaskDefinition).
    let mut arns = if status == "ACTIVE" {
        s.list_task_definitions(input["familyPrefix"].as_str())
    } else {
        Vec::new()
    };
    if input["sort"].as_str() == Some("DESC") {
        arns.reverse();
    }
    if let Some(max) = input["maxResults"].as_u64() {
        arns.truncate(max as usize);
    }
    Ok(json!({"taskDefinitionArns": arns}))
}

fn describe_task_definition(s: &SchedulerHandle, input: &Value) -> Result<Value, AwsError> {
    let name = required_str(input, "taskDefinition")?;
    let td = s
        .describe_task_definition(name)
        .ok_or_else(|| ecs_error(SchedulerError::TaskDefinitionNotFound))?;
    Ok(json!({"taskDefinition": shapes::task_definition(s, &td), "tags": []}))
}

fn register_task_definition(s: &SchedulerHandle, input: &Value) -> Result<Value, AwsError> {
    let spec = shapes::spec_from_register(input)?;
    let td = s.register_task_definition(spec).map_err(ecs_error)?;
    Ok(json!({"taskDefinition": shapes::task_definition(s, &td), "tags": []}))
}
