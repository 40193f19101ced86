//! The local dashboard that `albless up` serves on its control address: one page, built
//! into the binary (HTML, CSS and JavaScript embedded at compile time; no framework,
//! nothing fetched at run time), showing the stack as a diagram, its services, tasks,
//! registry and live traffic.
//!
//! The page reads and acts through the same AWS JSON API as the CLI: it POSTs to `/`
//! with `X-Amz-Target` (ECS DescribeServices, ListTasks, DescribeTasks, UpdateService,
//! StopTask; Cloud Map ListNamespaces, ListServices, ListInstances,
//! GetInstancesHealthStatus). Only what those APIs do not carry comes from this crate's
//! small JSON endpoints under `/dashboard/api/`:
//!
//! - `GET /dashboard/api/stack`: the stack's name, region, namespace, stage, gateway URL,
//!   routes (route key → service) and each service's configured count;
//! - `GET /dashboard/api/traffic`: the gateway's metrics ([`albless_gateway::metrics`])
//!   per route and per task ([`traffic`]);
//! - `GET /dashboard/api/tasks/{id}/log?from=N`: a task's log file, its tail or what was
//!   written since byte `N` ([`logs`]).
//!
//! The page polls these (every second or two) rather than holding a stream open, which
//! keeps the server side stateless.
//!
//! Known limits: no authentication, like the rest of the control address (it listens on
//! loopback by default); the page's "sleep" remembers the count to wake to in the
//! browser's storage, falling back to the count in albless.toml.

pub mod logs;
pub mod traffic;

use std::path::PathBuf;
use std::sync::Arc;

use albless_gateway::Metrics;
use albless_scheduler::SchedulerHandle;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// What the dashboard reads.
#[derive(Clone)]
pub struct Dashboard {
    /// The stack's scheduler (tasks, for the per-task traffic and the log files).
    pub scheduler: SchedulerHandle,
    /// The gateway's traffic counters.
    pub metrics: Arc<Metrics>,
    /// The folder of the per-task log files (`<service>-<task id>.log`).
    pub log_dir: PathBuf,
    /// The gateway's base URL, shown on the page.
    pub gateway_url: Option<String>,
}

/// Why a dashboard endpoint failed; each maps to a status in [`DashboardError::into_response`].
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// No task of that id (or it was forgotten an hour after it stopped).
    #[error("no task {0}")]
    TaskNotFound(String),
    /// The task has no log file yet, or it cannot be read.
    #[error("cannot read the log of task {task}")]
    Log {
        /// The task id.
        task: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        let status = match &self {
            DashboardError::TaskNotFound(_) => StatusCode::NOT_FOUND,
            DashboardError::Log { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                StatusCode::NOT_FOUND
            }
            DashboardError::Log { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &self {
            DashboardError::Log { source, .. } => format!("{self}: {source}"),
            DashboardError::TaskNotFound(_) => self.to_string(),
        };
        (status, axum::Json(json!({ "message": message }))).into_response()
    }
}

/// The page and its assets, embedded in the binary.
const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const ICON_SVG: &str = include_str!("../assets/icon.svg");

/// The dashboard's routes: `GET /` and `GET /ui/` (the page), `/dashboard/*` (assets
/// and the JSON endpoints). Meant to be merged with the AWS API's router, which owns
/// `POST /`.
pub fn router(dashboard: Dashboard) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/ui/", get(index))
        .route("/dashboard/app.js", get(app_js))
        .route("/dashboard/app.css", get(app_css))
        .route("/dashboard/icon.svg", get(icon))
        .route("/dashboard/api/stack", get(stack))
        .route("/dashboard/api/traffic", get(traffic_json))
        .route("/dashboard/api/tasks/{id}/log", get(task_log))
        .with_state(Arc::new(dashboard))
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn app_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

async fn icon() -> Response {
    asset("image/svg+xml", ICON_SVG)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // The assets change with the binary only; no-cache makes a browser revalidate
            // after an upgrade instead of running an old script against a new API.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn stack(State(d): State<Arc<Dashboard>>) -> axum::Json<Value> {
    axum::Json(stack_json(&d))
}

/// The stack as the page's diagram needs it.
fn stack_json(d: &Dashboard) -> Value {
    let stack = d.scheduler.stack();
    let routes: Vec<Value> = stack
        .api
        .routes
        .iter()
        .map(|r| json!({"key": r.key.to_string(), "service": r.service}))
        .collect();
    let services: Vec<Value> = stack
        .services
        .values()
        .map(|s| {
            json!({
                "name": s.name,
                "configuredCount": s.desired_count,
                "port": s.port,
                "scaleToZero": s.scale_to_zero.is_some(),
            })
        })
        .collect();
    json!({
        "name": stack.name,
        "region": stack.region,
        "namespace": stack.discovery.namespace,
        "stage": stack.api.stage.name(),
        "gateway": d.gateway_url,
        "routes": routes,
        "services": services,
    })
}

async fn traffic_json(State(d): State<Arc<Dashboard>>) -> axum::Json<Value> {
    let snapshot = d.metrics.snapshot();
    let tasks = d.scheduler.tasks();
    axum::Json(traffic::to_json(&snapshot, d.scheduler.stack(), &tasks))
}

/// `?from=N`: bytes of the log from offset `N` on.
#[derive(serde::Deserialize)]
struct LogQuery {
    from: Option<u64>,
}

async fn task_log(
    State(d): State<Arc<Dashboard>>,
    Path(id): Path<String>,
    Query(query): Query<LogQuery>,
) -> Result<axum::Json<Value>, DashboardError> {
    let task = d
        .scheduler
        .describe_task(&id)
        .ok_or_else(|| DashboardError::TaskNotFound(id.clone()))?;
    // The scheduler's naming: `<service or family>-<task id>.log`.
    let path = d
        .log_dir
        .join(format!("{}-{}.log", task.container_name, task.id));
    let chunk = tokio::task::spawn_blocking(move || logs::read(&path, query.from))
        .await
        .map_err(|e| DashboardError::Log {
            task: task.id.clone(),
            source: std::io::Error::other(e),
        })?
        .map_err(|source| DashboardError::Log {
            task: task.id.clone(),
            source,
        })?;
    Ok(axum::Json(json!({
        "task": task.id,
        "from": chunk.from,
        "next": chunk.next,
        "truncated": chunk.truncated,
        "text": chunk.text,
    })))
}
