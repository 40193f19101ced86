//! Waiting for the stack's ECS services to finish their deployments, and telling a
//! failed one apart from a finished one (aws-behavior.md section 4.4).
//!
//! A deployment is done when its `rolloutState` is COMPLETED. It failed when any
//! deployment reads FAILED, or when a service event newer than the wait says the
//! circuit breaker fired or ECS is rolling back: after a rollback the failed deployment
//! is replaced by one that completes, so the events are the only trace left.

use std::time::{Duration, SystemTime};

use aws_sdk_ecs::types::{DeploymentRolloutState, Service};

use crate::locate::Deployed;
use crate::{Clients, Console, Error};

/// ECS services of the stack: its cluster and the services' ARNs.
pub(crate) fn services(deployed: &Deployed) -> Option<(String, Vec<String>)> {
    let cluster = deployed.cluster()?.to_string();
    let services: Vec<String> = deployed
        .physical_ids("AWS::ECS::Service")
        .map(str::to_string)
        .collect();
    Some((cluster, services))
}

/// Waits until every service's deployments are COMPLETED. Fails with
/// [`Error::RolloutFailed`] as soon as one failed, or [`Error::TimedOut`].
pub async fn wait(
    clients: &Clients,
    deployed: &Deployed,
    console: &Console,
    poll: Duration,
    timeout: Duration,
) -> Result<(), Error> {
    let Some((cluster, arns)) = services(deployed) else {
        return Ok(());
    };
    if arns.is_empty() {
        return Ok(());
    }
    // Events older than the stack operation's start do not count; a minute of slack
    // covers a late local clock.
    let since = SystemTime::now() - console.elapsed() - Duration::from_secs(60);
    let started = tokio::time::Instant::now();
    loop {
        let out = clients
            .ecs
            .describe_services()
            .cluster(&cluster)
            .set_services(Some(arns.clone()))
            .send()
            .await
            .map_err(|e| Error::api("ecs", "DescribeServices", e))?;
        let mut pending = Vec::new();
        for svc in out.services() {
            check(svc, since)?;
            if !steady(svc) {
                pending.push(format!(
                    "{} {}/{}",
                    svc.service_name().unwrap_or_default(),
                    svc.running_count(),
                    svc.desired_count()
                ));
            }
        }
        if pending.is_empty() {
            console.stop();
            return Ok(());
        }
        console.spin(format!("rolling out: {}", pending.join(", ")));
        if started.elapsed() > timeout {
            return Err(Error::TimedOut {
                what: format!("ECS rollouts ({})", pending.join(", ")),
                elapsed: started.elapsed(),
            });
        }
        tokio::time::sleep(poll).await;
    }
}

/// Fails when a deployment of `svc` failed, or an event since `since` says so.
pub(crate) fn check(svc: &Service, since: SystemTime) -> Result<(), Error> {
    let name = svc.service_name().unwrap_or_default().to_string();
    for d in svc.deployments() {
        if d.rollout_state() == Some(&DeploymentRolloutState::Failed) {
            return Err(Error::RolloutFailed {
                service: name,
                deployment: d.id().unwrap_or_default().to_string(),
                reason: d
                    .rollout_state_reason()
                    .unwrap_or("rollout FAILED")
                    .to_string(),
            });
        }
    }
    let since_secs = since
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    for e in svc.events() {
        let recent = e
            .created_at()
            .is_some_and(|t| t.as_secs_f64() >= since_secs);
        let message = e.message().unwrap_or_default();
        let lower = message.to_ascii_lowercase();
        if recent
            && (lower.contains("circuit breaker")
                || lower.contains("rolling back")
                || lower.contains("deployment failed"))
        {
            return Err(Error::RolloutFailed {
                service: name,
                deployment: svc
                    .deployments()
                    .iter()
                    .find(|d| d.status() == Some("PRIMARY"))
                    .and_then(|d| d.id())
                    .unwrap_or_default()
                    .to_string(),
                reason: message.to_string(),
            });
        }
    }
    Ok(())
}

/// One deployment left, COMPLETED (or with no rollout state, as on old controllers),
/// running what is desired.
pub(crate) fn steady(svc: &Service) -> bool {
    let deployments = svc.deployments();
    deployments.len() <= 1
        && deployments.iter().all(|d| {
            d.rollout_state()
                .is_none_or(|r| *r == DeploymentRolloutState::Completed)
        })
        && svc.running_count() == svc.desired_count()
        && svc.pending_count() == 0
}
