//! Following a stack operation: DescribeStackEvents polled until the stack reaches a
//! status that does not end in `_IN_PROGRESS`, each new event printed once with the
//! elapsed time, and the first resource failure kept as the reason the operation failed.
//!
//! CloudFormation lists events newest first; events seen before the operation started
//! (the baseline) are skipped, which needs no agreement between local and AWS clocks.
//! "Resource creation cancelled" and the stack's own events are consequences of a failure,
//! not its cause, so they are never taken as the reason.

use std::collections::HashSet;
use std::time::Duration;

use crate::{Clients, Console, Error};

/// The first failed resource of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Logical id.
    pub resource: String,
    /// Resource type.
    pub resource_type: String,
    /// CloudFormation's reason.
    pub reason: String,
}

/// How a followed operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct End {
    /// The stack's final status (`DELETE_COMPLETE` when it is gone).
    pub status: String,
    /// The stack's status reason.
    pub status_reason: Option<String>,
    /// The first resource that failed, if any did.
    pub failure: Option<Failure>,
}

impl End {
    /// `Ok` when the final status is one of `success`, else [`Error::Rollback`] naming the
    /// first failed resource (or the stack's own reason).
    pub fn into_result(self, stack: &str, success: &[&str]) -> Result<(), Error> {
        if success.contains(&self.status.as_str()) {
            return Ok(());
        }
        let failure = self.failure.unwrap_or_else(|| Failure {
            resource: stack.to_string(),
            resource_type: "AWS::CloudFormation::Stack".into(),
            reason: self
                .status_reason
                .unwrap_or_else(|| "no reason given".into()),
        });
        Err(Error::Rollback {
            stack: stack.to_string(),
            status: self.status,
            resource: failure.resource,
            resource_type: failure.resource_type,
            reason: failure.reason,
        })
    }
}

/// Ids of the events the stack already has (none when it does not exist).
pub async fn seen(clients: &Clients, stack: &str) -> Result<HashSet<String>, Error> {
    match clients
        .cfn
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .stack_events()
            .iter()
            .filter_map(|e| e.event_id().map(str::to_string))
            .collect()),
        Err(e) => {
            let (code, message) = crate::error::sdk_parts(&e);
            if code == "ValidationError" && message.contains("does not exist") {
                Ok(HashSet::new())
            } else {
                Err(Error::api("cloudformation", "DescribeStackEvents", e))
            }
        }
    }
}

/// Follows `stack` until its status is final, printing new events. A stack that
/// disappears (deleted) ends as `DELETE_COMPLETE`.
pub async fn follow(
    clients: &Clients,
    stack: &str,
    mut seen: HashSet<String>,
    console: &Console,
    poll: Duration,
    timeout: Duration,
) -> Result<End, Error> {
    let started = tokio::time::Instant::now();
    let mut failure: Option<Failure> = None;
    loop {
        // New events, oldest first.
        let events = new_events(clients, stack, &seen).await?;
        for e in events.iter().rev() {
            let Some(id) = e.event_id() else { continue };
            if !seen.insert(id.to_string()) {
                continue;
            }
            let status = e.resource_status().map(|s| s.as_str()).unwrap_or_default();
            let logical = e.logical_resource_id().unwrap_or_default();
            let kind = e.resource_type().unwrap_or_default();
            let reason = e.resource_status_reason().unwrap_or_default();
            let secs = console.elapsed().as_secs();
            console.line(format!(
                "{:>4}:{:02}  {status:<28} {logical:<36} {kind}{}",
                secs / 60,
                secs % 60,
                if reason.is_empty() {
                    String::new()
                } else {
                    format!("  {reason}")
                }
            ));
            tracing::debug!(stack, resource = logical, status, "stack event");
            let is_cause = status.ends_with("_FAILED")
                && kind != "AWS::CloudFormation::Stack"
                && !reason.contains("cancelled");
            if is_cause && failure.is_none() {
                failure = Some(Failure {
                    resource: logical.to_string(),
                    resource_type: kind.to_string(),
                    reason: reason.to_string(),
                });
            }
        }

        // The stack's status decides whether to go on.
        let (status, status_reason) =
            match clients.cfn.describe_stacks().stack_name(stack).send().await {
                Ok(out) => {
                    let s = out.stacks().first();
                    (
                        s.and_then(|s| s.stack_status())
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_else(|| "DELETE_COMPLETE".into()),
                        s.and_then(|s| s.stack_status_reason()).map(str::to_string),
                    )
                }
                Err(e) if crate::locate::is_missing(&e) => ("DELETE_COMPLETE".into(), None),
                Err(e) => return Err(Error::api("cloudformation", "DescribeStacks", e)),
            };
        if !status.ends_with("_IN_PROGRESS") {
            console.stop();
            tracing::info!(stack, status = %status, "stack operation ended");
            return Ok(End {
                status,
                status_reason,
                failure,
            });
        }
        console.spin(format!("stack {stack}: {status}"));
        if started.elapsed() > timeout {
            return Err(Error::TimedOut {
                what: format!("stack {stack} ({status})"),
                elapsed: started.elapsed(),
            });
        }
        tokio::time::sleep(poll).await;
    }
}

/// The stack's events newer than any in `seen`, newest first: pages of DescribeStackEvents
/// are read until one holds an event already seen (or there are no more), so a burst of
/// more events than one page between two polls is shown whole. At most
/// [`MAX_EVENT_PAGES`] pages per poll; the rest of a longer burst is not shown.
async fn new_events(
    clients: &Clients,
    stack: &str,
    seen: &HashSet<String>,
) -> Result<Vec<aws_sdk_cloudformation::types::StackEvent>, Error> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_EVENT_PAGES {
        let out = match clients
            .cfn
            .describe_stack_events()
            .stack_name(stack)
            .set_next_token(token.take())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if is_gone(&e) => break,
            Err(e) => return Err(Error::api("cloudformation", "DescribeStackEvents", e)),
        };
        let page = out.stack_events();
        let reached_seen = page
            .iter()
            .any(|e| e.event_id().is_some_and(|id| seen.contains(id)));
        events.extend(page.iter().cloned());
        token = out.next_token().map(str::to_string);
        if reached_seen || token.is_none() {
            break;
        }
    }
    Ok(events)
}

/// Pages of stack events read per poll at most (100 events each on CloudFormation).
const MAX_EVENT_PAGES: usize = 20;

fn is_gone<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> bool
where
    R: std::fmt::Debug,
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    let (code, message) = crate::error::sdk_parts(e);
    code == "ValidationError" && message.contains("does not exist")
}
