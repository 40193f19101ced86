//! Reads the task ARN from the ECS task metadata endpoint (version 4), when
//! `ECS_CONTAINER_METADATA_URI_V4` is set.
//!
//! On Fargate the agent sets that variable and serves `${ECS_CONTAINER_METADATA_URI_V4}/task`
//! as JSON with a `TaskARN` field ("Amazon ECS task metadata endpoint version 4", Amazon ECS
//! Developer Guide). albless may emulate it later; until then the variable is unset locally.
//!
//! A task's ARN does not change while it runs, so the first good answer is kept and the
//! endpoint is not asked again; until one arrives each request asks (so an endpoint that
//! starts late is still found).
//!
//! Known limits: plain `http://` only (the endpoint is link-local HTTP on AWS too); while
//! the endpoint does not answer well, it adds up to [`TIMEOUT`] to each answer; any failure
//! (timeout, status, bad JSON) just yields `None` and the caller falls back.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Longest wait for the endpoint; it is local, so anything slower is treated as down.
pub(crate) const TIMEOUT: Duration = Duration::from_millis(500);

/// Largest task document read; real ones are a few KB.
const MAX_BODY: usize = 1 << 20;

/// A client for one task's metadata endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Metadata {
    client: Client<HttpConnector, Empty<Bytes>>,
    task_uri: Uri,
    /// The ARN, once the endpoint gave it.
    task_arn: tokio::sync::OnceCell<String>,
}

impl Metadata {
    /// Prepares to ask `${base}/task`; `None` when that is not a valid URI.
    pub(crate) fn new(base: &str) -> Option<Self> {
        let task_uri = format!("{}/task", base.trim_end_matches('/'))
            .parse()
            .ok()?;
        let client = Client::builder(TokioExecutor::new()).build_http();
        Some(Self {
            client,
            task_uri,
            task_arn: tokio::sync::OnceCell::new(),
        })
    }

    /// The `TaskARN` the endpoint reported, or `None` if it has not answered well in time
    /// yet.
    pub(crate) async fn task_arn(&self) -> Option<String> {
        if let Some(arn) = self.task_arn.get() {
            return Some(arn.clone());
        }
        let arn = tokio::time::timeout(TIMEOUT, self.fetch())
            .await
            .ok()
            .flatten()?;
        // Another request may have set it meanwhile: the same task, the same ARN.
        let _ = self.task_arn.set(arn.clone());
        Some(arn)
    }

    async fn fetch(&self) -> Option<String> {
        let response = self.client.get(self.task_uri.clone()).await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .ok()?;
        let task: serde_json::Value = serde_json::from_slice(&body.to_bytes()).ok()?;
        task.get("TaskARN")?.as_str().map(str::to_owned)
    }
}
