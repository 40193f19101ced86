//! The task metadata endpoint, version 4: each task gets
//! `ECS_CONTAINER_METADATA_URI_V4=http://127.0.0.1:<port>/v4/<task id>`, where
//! `GET ${URI}` answers the container document and `GET ${URI}/task` the task
//! document, in the shapes ECS uses ("Amazon ECS task metadata endpoint version 4",
//! Fargate variant: `TaskARN`, `Family`, `Revision`, `KnownStatus`, `Containers`...).
//!
//! Known limits: one listener for every task on 127.0.0.1 (ECS uses 169.254.170.2
//! with a path per container); no `/stats` or `/task/stats`; times are RFC 3339 in
//! UTC with second precision.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::SchedulerHandle;
use crate::model::TaskView;

/// Binds the endpoint on a free loopback port.
pub(crate) async fn bind() -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", 0)).await
}

/// Serves the endpoint forever.
pub(crate) async fn serve(listener: TcpListener, handle: SchedulerHandle) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let handle = handle.clone();
                async move { Ok::<_, Infallible>(answer(&handle, req.uri().path())) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The response for `path`.
fn answer(handle: &SchedulerHandle, path: &str) -> Response<Full<Bytes>> {
    let mut parts = path.trim_matches('/').split('/');
    let (Some("v4"), Some(id), rest) = (parts.next(), parts.next(), parts.next()) else {
        return reply(StatusCode::NOT_FOUND, json!({"error": "not found"}));
    };
    let Some(task) = handle.describe_task(id) else {
        return reply(StatusCode::NOT_FOUND, json!({"error": "task not found"}));
    };
    match rest {
        None => reply(StatusCode::OK, container_document(handle, &task)),
        Some("task") => reply(StatusCode::OK, task_document(handle, &task)),
        _ => reply(StatusCode::NOT_FOUND, json!({"error": "not found"})),
    }
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// The task document (`${ECS_CONTAINER_METADATA_URI_V4}/task`).
pub(crate) fn task_document(handle: &SchedulerHandle, task: &TaskView) -> Value {
    let stack = handle.stack();
    let revision = task.task_definition_arn.rsplit(':').next().unwrap_or("1");
    let family = handle
        .task_spec(&task.id)
        .map(|s| s.family)
        .unwrap_or_default();
    let mut doc = json!({
        "Cluster": format!("arn:aws:ecs:{}:000000000000:cluster/{}", stack.region, stack.name),
        "TaskARN": task.arn,
        "Family": family,
        "Revision": revision,
        "DesiredStatus": task.desired_status.as_str(),
        "KnownStatus": task.last_status.as_str(),
        "Limits": {"CPU": task.cpu as f64 / 1024.0, "Memory": task.memory},
        "PullStartedAt": rfc3339(task.created_at),
        "PullStoppedAt": rfc3339(task.created_at),
        "AvailabilityZone": format!("{}a", stack.region),
        "LaunchType": "FARGATE",
        "Containers": [container_document(handle, task)],
    });
    if let Some(service) = &task.service {
        doc["ServiceName"] = json!(service);
    }
    if let Some(at) = task.stopped_at {
        doc["ExecutionStoppedAt"] = json!(rfc3339(at));
    }
    doc
}

/// The container document (`${ECS_CONTAINER_METADATA_URI_V4}`).
pub(crate) fn container_document(handle: &SchedulerHandle, task: &TaskView) -> Value {
    let stack = handle.stack();
    let ip = task.addr.map(|a| a.ip().to_string()).unwrap_or_default();
    let mut doc = json!({
        "DockerId": format!("{}-{}", task.id, task.container_name),
        "Name": task.container_name,
        "DockerName": task.container_name,
        "Image": task.image.clone().unwrap_or_default(),
        "ImageID": "",
        "Labels": {
            "com.amazonaws.ecs.cluster": format!("arn:aws:ecs:{}:000000000000:cluster/{}", stack.region, stack.name),
            "com.amazonaws.ecs.container-name": task.container_name,
            "com.amazonaws.ecs.task-arn": task.arn,
            "com.amazonaws.ecs.task-definition-family": handle.task_spec(&task.id).map(|s| s.family).unwrap_or_default(),
        },
        "DesiredStatus": task.desired_status.as_str(),
        "KnownStatus": task.last_status.as_str(),
        "Limits": {"CPU": task.cpu, "Memory": task.memory},
        "CreatedAt": rfc3339(task.created_at),
        "Type": "NORMAL",
        "ContainerARN": format!("arn:aws:ecs:{}:000000000000:container/{}/{}/{}", stack.region, stack.name, task.id, task.container_name),
        "LogDriver": "awslogs",
        "Networks": [{
            "NetworkMode": "awsvpc",
            "IPv4Addresses": [ip],
        }],
    });
    if let Some(at) = task.started_at {
        doc["StartedAt"] = json!(rfc3339(at));
    }
    if let Some(code) = task.exit_code {
        doc["ExitCode"] = json!(code);
    }
    doc
}

/// Epoch seconds as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, proleptic Gregorian).
pub(crate) fn rfc3339(epoch: f64) -> String {
    let secs = epoch.max(0.0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_formats_epoch_seconds() {
        assert_eq!(super::rfc3339(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_709_251_199.5), "2024-02-29T23:59:59Z");
    }
}
