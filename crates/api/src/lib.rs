//! AWS wire formats on the control address: AWS JSON 1.1 requests dispatched on their
//! `X-Amz-Target` header to the Cloud Map (`Route53AutoNaming_v20170314`) and ECS
//! (`AmazonEC2ContainerServiceV20141113`) handlers, and AWS's error shape.
//!
//! Only this crate knows AWS JSON: handlers convert requests to registry and scheduler
//! calls and their results back, and every failure leaves through [`AwsError`].
//! Requests are accepted whatever their `Host` header, since SDKs send some Cloud Map
//! calls to a `data-` prefixed host (aws-behavior.md §3.1).

pub mod ecs;
mod error;
pub mod servicediscovery;

use albless_registry::Registry;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;

pub use error::AwsError;

/// The `X-Amz-Target` prefix of Cloud Map's operations.
pub const SERVICEDISCOVERY_TARGET: &str = "Route53AutoNaming_v20170314";
/// The `X-Amz-Target` prefix of ECS's operations.
pub const ECS_TARGET: &str = "AmazonEC2ContainerServiceV20141113";

/// What the handlers act on.
#[derive(Clone)]
pub struct ApiState {
    /// The stack's registry.
    pub registry: Registry,
    /// The stack's scheduler, for the ECS operations (`None`: they answer ServerException).
    pub scheduler: Option<albless_scheduler::SchedulerHandle>,
}

/// The router serving AWS JSON 1.1 on `POST /`.
pub fn router(state: ApiState) -> Router {
    Router::new().route("/", post(dispatch)).with_state(state)
}

async fn dispatch(State(state): State<ApiState>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (service, operation) = target.split_once('.').unwrap_or((target, ""));
    tracing::debug!(service, operation, "aws api call");
    let result = match service {
        // Handlers for each service are added beside this dispatcher (issues #4, #5).
        SERVICEDISCOVERY_TARGET => servicediscovery::handle(&state.registry, operation, &body),
        ECS_TARGET => ecs::handle(state.scheduler.as_ref(), operation, &body),
        ecs::ALBLESS_TARGET => ecs::handle_local(state.scheduler.as_ref(), operation, &body),
        _ => Err(AwsError::unknown_operation(target)),
    };
    let _ = (&state, &body);
    match result {
        Ok(value) => json_response(value),
        Err(error) => error.into_response(),
    }
}

/// A successful AWS JSON 1.1 response.
pub fn json_response(value: serde_json::Value) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/x-amz-json-1.1",
        )],
        serde_json::to_vec(&value).unwrap_or_default(),
    )
        .into_response()
}
