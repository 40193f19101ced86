//! AWS's JSON error shape: `{"__type": "...", "Message": "..."}` with the status code
//! the service model assigns to the error type (aws-behavior.md §3.1, §4.1). Every
//! handler failure is mapped here, and only here.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error as an AWS service returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// HTTP status.
    pub status: StatusCode,
    /// The error type, e.g. `ServiceNotFound`, `InvalidInput`.
    pub kind: &'static str,
    /// The message.
    pub message: String,
}

impl AwsError {
    /// An error of type `kind` with status `status`.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> AwsError {
        AwsError {
            status,
            kind,
            message: message.into(),
        }
    }

    /// The target names no operation this control address knows.
    pub fn unknown_operation(target: &str) -> AwsError {
        AwsError::new(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            format!("unknown operation `{target}`"),
        )
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "__type": self.kind, "Message": self.message });
        (
            self.status,
            [(
                axum::http::header::CONTENT_TYPE,
                "application/x-amz-json-1.1",
            )],
            serde_json::to_vec(&body).unwrap_or_default(),
        )
            .into_response()
    }
}
