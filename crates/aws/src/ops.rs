//! The operating commands on a deployed stack: status, scale, sleep, wake, logs, destroy.
//! Each starts from the stack's resources ([`crate::locate`]) and talks to ECS, Cloud Map,
//! API Gateway v2, CloudWatch Logs and ECR.
//!
//! `sleep` keeps each service's desired count in a tag on the ECS service
//! ([`SLEEP_TAG`]), so that `wake` restores it from any machine; the tag is removed once
//! the service is awake, or once `scale` gives it a count above 0.
//!
//! Known limits: a scheduled scaling action (Application Auto Scaling) may scale a
//! sleeping service out again at its next run, and the next `deploy` sets desired counts
//! from albless.toml, as CloudFormation owns them; `logs` reads CloudWatch Logs only when
//! the service's task definition uses the `awslogs` driver, and, like
//! `aws logs tail --follow`, a follow ([`LogCursor`]) misses an event that CloudWatch
//! ingests after a newer one was shown.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

use aws_sdk_ecs::types::{ServiceField, Tag};
use serde::Serialize;

use crate::locate::{self, Deployed};
use crate::{Clients, Console, Error};

/// The ECS service tag holding the desired count a service had before `sleep`.
pub const SLEEP_TAG: &str = "albless:sleep-desired-count";

/// How long waits last and how often they poll.
#[derive(Debug, Clone, Copy)]
pub struct Waits {
    /// Time between two polls.
    pub poll: Duration,
    /// Longest wait.
    pub timeout: Duration,
}

impl Default for Waits {
    /// Poll every 5 s, wait up to 10 minutes.
    fn default() -> Waits {
        Waits {
            poll: Duration::from_secs(5),
            timeout: Duration::from_secs(600),
        }
    }
}

/// What `status` shows (also its `--json` output).
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Stack name.
    pub stack: String,
    /// Stack status.
    pub status: String,
    /// The API endpoint.
    pub endpoint: Option<String>,
    /// Each ECS service.
    pub services: Vec<ServiceStatus>,
    /// Each VPC link.
    pub vpc_links: Vec<VpcLinkStatus>,
    /// What needs attention (an INACTIVE VPC link, a failed rollout, ...).
    pub warnings: Vec<String>,
}

/// One ECS service in `status`.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    /// Service name.
    pub name: String,
    /// Desired count.
    pub desired: i32,
    /// Running count.
    pub running: i32,
    /// Pending count.
    pub pending: i32,
    /// The count `sleep` kept, when asleep.
    pub asleep_from: Option<i32>,
    /// Deployments, primary first as ECS lists them.
    pub deployments: Vec<DeploymentStatus>,
    /// Cloud Map instances and their health.
    pub instances: Vec<InstanceHealth>,
}

/// One ECS deployment.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentStatus {
    /// Deployment id.
    pub id: String,
    /// PRIMARY or ACTIVE.
    pub status: String,
    /// `family:revision`.
    pub task_definition: String,
    /// Desired, running, pending and failed task counts.
    pub desired: i32,
    /// Running tasks.
    pub running: i32,
    /// Pending tasks.
    pub pending: i32,
    /// Failed tasks (the circuit breaker's count).
    pub failed: i32,
    /// IN_PROGRESS, COMPLETED or FAILED.
    pub rollout: Option<String>,
    /// ECS's reason for the rollout state.
    pub reason: Option<String>,
}

/// One Cloud Map instance.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InstanceHealth {
    /// Instance id (the task id, when ECS registered it).
    pub id: String,
    /// HEALTHY, UNHEALTHY or UNKNOWN.
    pub health: String,
}

/// One VPC link.
#[derive(Debug, Clone, Serialize)]
pub struct VpcLinkStatus {
    /// VPC link id.
    pub id: String,
    /// PENDING, AVAILABLE, DELETING, FAILED or INACTIVE.
    pub status: String,
    /// API Gateway's explanation.
    pub message: Option<String>,
}

/// The stack's ECS cluster and services, described with their tags.
async fn describe_services(
    clients: &Clients,
    deployed: &Deployed,
) -> Result<(String, Vec<aws_sdk_ecs::types::Service>), Error> {
    let Some((cluster, arns)) = crate::rollout::services(deployed) else {
        return Ok((String::new(), Vec::new()));
    };
    if arns.is_empty() {
        return Ok((cluster, Vec::new()));
    }
    let out = clients
        .ecs
        .describe_services()
        .cluster(&cluster)
        .set_services(Some(arns))
        .include(ServiceField::Tags)
        .send()
        .await
        .map_err(|e| Error::api("ecs", "DescribeServices", e))?;
    Ok((cluster, out.services().to_vec()))
}

/// `status`: the stack, its services with deployments and Cloud Map health, its VPC links
/// (a warning when one is INACTIVE: aws-behavior.md section 2.3) and its endpoint.
pub async fn status(clients: &Clients, stack_name: &str) -> Result<StatusReport, Error> {
    let deployed = locate::require(clients, stack_name).await?;
    let mut warnings = Vec::new();
    if !deployed.is_created() {
        warnings.push(Error::NotDeployed(deployed.name.clone()).to_string());
    }
    if deployed.status.contains("ROLLBACK") || deployed.status.ends_with("_FAILED") {
        warnings.push(format!(
            "stack is {}{}",
            deployed.status,
            deployed
                .status_reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ));
    }

    let (_, described) = describe_services(clients, &deployed).await?;
    let mut services = Vec::new();
    for svc in &described {
        let name = svc.service_name().unwrap_or_default().to_string();
        let deployments: Vec<DeploymentStatus> = svc
            .deployments()
            .iter()
            .map(|d| DeploymentStatus {
                id: d.id().unwrap_or_default().to_string(),
                status: d.status().unwrap_or_default().to_string(),
                task_definition: d
                    .task_definition()
                    .map(|t| t.rsplit('/').next().unwrap_or(t).to_string())
                    .unwrap_or_default(),
                desired: d.desired_count(),
                running: d.running_count(),
                pending: d.pending_count(),
                failed: d.failed_tasks(),
                rollout: d.rollout_state().map(|r| r.as_str().to_string()),
                reason: d.rollout_state_reason().map(str::to_string),
            })
            .collect();
        if let Some(d) = deployments
            .iter()
            .find(|d| d.rollout.as_deref() == Some("FAILED"))
        {
            warnings.push(format!(
                "service {name}: deployment {} FAILED: {}",
                d.id,
                d.reason.as_deref().unwrap_or("-")
            ));
        }
        let mut instances = Vec::new();
        for registry in svc.service_registries() {
            if let Some(id) = registry.registry_arn().and_then(cloud_map_id) {
                instances.extend(instance_health(clients, id).await?);
            }
        }
        services.push(ServiceStatus {
            asleep_from: sleep_count(svc),
            desired: svc.desired_count(),
            running: svc.running_count(),
            pending: svc.pending_count(),
            deployments,
            instances,
            name,
        });
    }

    let mut vpc_links = Vec::new();
    for id in deployed.physical_ids("AWS::ApiGatewayV2::VpcLink") {
        let out = clients
            .apigw
            .get_vpc_link()
            .vpc_link_id(id)
            .send()
            .await
            .map_err(|e| Error::api("apigatewayv2", "GetVpcLink", e))?;
        let status = out
            .vpc_link_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if status == "INACTIVE" || status == "FAILED" {
            warnings.push(format!(
                "VPC link {id} is {status}: requests through it fail until traffic \
                 re-provisions it (a few minutes){}",
                out.vpc_link_status_message()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ));
        }
        vpc_links.push(VpcLinkStatus {
            id: id.to_string(),
            status,
            message: out.vpc_link_status_message().map(str::to_string),
        });
    }

    let endpoint = endpoint(clients, &deployed).await?;
    Ok(StatusReport {
        stack: deployed.name,
        status: deployed.status,
        endpoint,
        services,
        vpc_links,
        warnings,
    })
}

/// The endpoint: the stack's output, else the API's own `ApiEndpoint`.
pub async fn endpoint(clients: &Clients, deployed: &Deployed) -> Result<Option<String>, Error> {
    if let Some(e) = deployed.endpoint() {
        return Ok(Some(e.to_string()));
    }
    if let Some(api) = deployed.physical_ids("AWS::ApiGatewayV2::Api").next() {
        let out = clients
            .apigw
            .get_api()
            .api_id(api)
            .send()
            .await
            .map_err(|e| Error::api("apigatewayv2", "GetApi", e))?;
        return Ok(out.api_endpoint().map(str::to_string));
    }
    Ok(None)
}

/// The Cloud Map service id of a registry ARN (`...:service/srv-xxxx`).
pub fn cloud_map_id(arn: &str) -> Option<&str> {
    arn.rsplit_once("service/")
        .map(|(_, id)| id)
        .filter(|id| !id.is_empty())
}

/// Health of every instance of Cloud Map service `id`, sorted by instance id.
pub async fn instance_health(clients: &Clients, id: &str) -> Result<Vec<InstanceHealth>, Error> {
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let out = clients
            .sd
            .get_instances_health_status()
            .service_id(id)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| Error::api("servicediscovery", "GetInstancesHealthStatus", e))?;
        if let Some(status) = out.status() {
            all.extend(status.iter().map(|(k, v)| InstanceHealth {
                id: k.clone(),
                health: v.as_str().to_string(),
            }));
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            all.sort_by(|a, b| a.id.cmp(&b.id));
            return Ok(all);
        }
    }
}

fn sleep_count(svc: &aws_sdk_ecs::types::Service) -> Option<i32> {
    svc.tags()
        .iter()
        .find(|t| t.key() == Some(SLEEP_TAG))
        .and_then(|t| t.value()?.parse().ok())
}

/// The stack, failing with [`Error::NotDeployed`] when it holds only change sets never
/// executed (a first deploy interrupted at its question): it has no service to operate.
async fn require_created(clients: &Clients, stack_name: &str) -> Result<Deployed, Error> {
    let deployed = locate::require(clients, stack_name).await?;
    if !deployed.is_created() {
        return Err(Error::NotDeployed(deployed.name));
    }
    Ok(deployed)
}

/// Finds service `name` of the stack: `(cluster, service)`.
async fn find_service(
    clients: &Clients,
    deployed: &Deployed,
    name: &str,
) -> Result<(String, aws_sdk_ecs::types::Service), Error> {
    let (cluster, services) = describe_services(clients, deployed).await?;
    services
        .into_iter()
        .find(|s| s.service_name() == Some(name))
        .map(|s| (cluster, s))
        .ok_or_else(|| Error::NoService {
            stack: deployed.name.clone(),
            service: name.to_string(),
        })
}

/// `scale`: sets service `name`'s desired count and waits until it runs that many tasks
/// of one completed deployment. Scaling a sleeping service to a count above 0 wakes it
/// at that count: the count `sleep` kept ([`SLEEP_TAG`]) is dropped, so that `status` no
/// longer calls it asleep and a later `wake` does not override the count given here.
pub async fn scale(
    clients: &Clients,
    stack_name: &str,
    name: &str,
    count: u32,
    waits: Waits,
    console: &Console,
) -> Result<(), Error> {
    let desired = i32::try_from(count).map_err(|_| Error::BadCount {
        service: name.to_string(),
        count,
    })?;
    let deployed = require_created(clients, stack_name).await?;
    let (cluster, svc) = find_service(clients, &deployed, name).await?;
    set_desired(clients, &cluster, &svc, desired).await?;
    console.line(format!("service {name}: desired count {count}"));
    if desired > 0 {
        forget_sleep(clients, &svc).await?;
    }
    wait_counts(
        clients,
        &cluster,
        svc.service_arn().unwrap_or(name),
        waits,
        console,
    )
    .await
}

async fn set_desired(
    clients: &Clients,
    cluster: &str,
    svc: &aws_sdk_ecs::types::Service,
    count: i32,
) -> Result<(), Error> {
    clients
        .ecs
        .update_service()
        .cluster(cluster)
        .service(svc.service_arn().or(svc.service_name()).unwrap_or_default())
        .desired_count(count)
        .send()
        .await
        .map_err(|e| Error::api("ecs", "UpdateService", e))?;
    tracing::info!(
        service = svc.service_name(),
        desired = count,
        "desired count set"
    );
    Ok(())
}

/// Waits until the service is steady (see [`crate::rollout::steady`]), failing on a
/// failed deployment.
async fn wait_counts(
    clients: &Clients,
    cluster: &str,
    service: &str,
    waits: Waits,
    console: &Console,
) -> Result<(), Error> {
    let since = SystemTime::now();
    let started = tokio::time::Instant::now();
    loop {
        let out = clients
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| Error::api("ecs", "DescribeServices", e))?;
        let Some(svc) = out.services().first() else {
            return Err(Error::NoService {
                stack: cluster.to_string(),
                service: service.to_string(),
            });
        };
        crate::rollout::check(svc, since)?;
        let name = svc.service_name().unwrap_or_default();
        if crate::rollout::steady(svc) {
            console.stop();
            console.line(format!(
                "service {name}: {} running of {}",
                svc.running_count(),
                svc.desired_count()
            ));
            return Ok(());
        }
        console.spin(format!(
            "service {name}: running {}, pending {}, desired {}",
            svc.running_count(),
            svc.pending_count(),
            svc.desired_count()
        ));
        if started.elapsed() > waits.timeout {
            return Err(Error::TimedOut {
                what: format!("service {name}"),
                elapsed: started.elapsed(),
            });
        }
        tokio::time::sleep(waits.poll).await;
    }
}

/// `sleep`: every service to desired 0, its count kept in [`SLEEP_TAG`] (an earlier
/// sleep's tag is kept when the service is already at 0). Returns the kept counts.
pub async fn sleep(
    clients: &Clients,
    stack_name: &str,
    waits: Waits,
    console: &Console,
) -> Result<BTreeMap<String, i32>, Error> {
    let deployed = require_created(clients, stack_name).await?;
    let (cluster, services) = describe_services(clients, &deployed).await?;
    let mut kept = BTreeMap::new();
    for svc in &services {
        let name = svc.service_name().unwrap_or_default().to_string();
        let arn = svc.service_arn().unwrap_or_default();
        let count = if svc.desired_count() > 0 {
            svc.desired_count()
        } else {
            sleep_count(svc).unwrap_or(0)
        };
        if count > 0 {
            clients
                .ecs
                .tag_resource()
                .resource_arn(arn)
                .tags(
                    Tag::builder()
                        .key(SLEEP_TAG)
                        .value(count.to_string())
                        .build(),
                )
                .send()
                .await
                .map_err(|e| Error::api("ecs", "TagResource", e))?;
        }
        kept.insert(name.clone(), count);
        set_desired(clients, &cluster, svc, 0).await?;
        console.line(format!("service {name}: asleep (was {count})"));
    }
    for svc in &services {
        wait_counts(
            clients,
            &cluster,
            svc.service_arn().unwrap_or_default(),
            waits,
            console,
        )
        .await?;
    }
    Ok(kept)
}

/// What `wake` waits for beyond the ECS counts.
#[derive(Debug, Clone, Default)]
pub struct WakeOptions {
    /// Count for a service with no [`SLEEP_TAG`] (from albless.toml); 1 when absent.
    pub defaults: BTreeMap<String, u32>,
    /// URL that must answer (any status below 500) before wake returns; the stack's
    /// endpoint when `None`.
    pub probe: Option<String>,
    /// Skip the endpoint probe.
    pub no_probe: bool,
}

/// `wake`: restores each service's count, waits until ECS runs it, until Cloud Map has a
/// healthy instance of each registered service, and until the endpoint answers.
pub async fn wake(
    clients: &Clients,
    stack_name: &str,
    options: &WakeOptions,
    waits: Waits,
    console: &Console,
) -> Result<BTreeMap<String, i32>, Error> {
    let deployed = require_created(clients, stack_name).await?;
    let (cluster, services) = describe_services(clients, &deployed).await?;
    let mut restored = BTreeMap::new();
    for svc in &services {
        let name = svc.service_name().unwrap_or_default().to_string();
        let desired = svc.desired_count();
        // A service that `sleep` never put to sleep and that runs keeps its count (a
        // `scale` made it, not the file); one at zero gets the file's count.
        let count = match sleep_count(svc) {
            Some(count) => count.max(desired),
            None if desired > 0 => desired,
            None => options
                .defaults
                .get(&name)
                .map_or(1, |c| i32::try_from(*c).unwrap_or(i32::MAX)),
        };
        if count == desired {
            console.line(format!("service {name}: awake at {count}"));
        } else {
            set_desired(clients, &cluster, svc, count).await?;
            console.line(format!("service {name}: waking to {count}"));
        }
        restored.insert(name, count);
    }
    let started = tokio::time::Instant::now();
    for svc in &services {
        let arn = svc.service_arn().unwrap_or_default();
        wait_counts(clients, &cluster, arn, waits, console).await?;
        for registry in svc.service_registries() {
            if let Some(id) = registry.registry_arn().and_then(cloud_map_id) {
                wait_healthy(
                    clients,
                    svc.service_name().unwrap_or_default(),
                    id,
                    waits,
                    console,
                )
                .await?;
            }
        }
    }
    if !options.no_probe {
        let url = match &options.probe {
            Some(url) => Some(url.clone()),
            None => endpoint(clients, &deployed).await?,
        };
        match url {
            Some(url) => {
                wait_answers(&url, waits, console).await?;
            }
            None => console.line(format!(
                "stack {stack_name} has no API endpoint: not waiting for one to answer"
            )),
        }
    }
    for svc in &services {
        forget_sleep(clients, svc).await?;
    }
    console.line(format!("awake after {}s", started.elapsed().as_secs()));
    Ok(restored)
}

/// Removes the count `sleep` kept on `svc`, if it kept one: the service is awake.
async fn forget_sleep(clients: &Clients, svc: &aws_sdk_ecs::types::Service) -> Result<(), Error> {
    if sleep_count(svc).is_none() {
        return Ok(());
    }
    clients
        .ecs
        .untag_resource()
        .resource_arn(svc.service_arn().unwrap_or_default())
        .tag_keys(SLEEP_TAG)
        .send()
        .await
        .map_err(|e| Error::api("ecs", "UntagResource", e))?;
    Ok(())
}

/// Waits until Cloud Map service `id` has a HEALTHY instance.
async fn wait_healthy(
    clients: &Clients,
    service: &str,
    id: &str,
    waits: Waits,
    console: &Console,
) -> Result<(), Error> {
    let started = tokio::time::Instant::now();
    loop {
        let health = instance_health(clients, id).await?;
        if health.iter().any(|h| h.health == "HEALTHY") {
            console.line(format!("service {service}: healthy in Cloud Map"));
            return Ok(());
        }
        console.spin(format!(
            "service {service}: waiting for a healthy Cloud Map instance ({} registered)",
            health.len()
        ));
        if started.elapsed() > waits.timeout {
            return Err(Error::TimedOut {
                what: format!("a healthy Cloud Map instance of {service}"),
                elapsed: started.elapsed(),
            });
        }
        tokio::time::sleep(waits.poll).await;
    }
}

/// Waits until `url` answers with a status below 500 (API Gateway answers 503 while no
/// instance is healthy, and fails while a VPC link re-provisions: section 2.3).
pub async fn wait_answers(url: &str, waits: Waits, console: &Console) -> Result<u16, Error> {
    let started = tokio::time::Instant::now();
    loop {
        let owned = url.to_string();
        let status = tokio::task::spawn_blocking(move || probe(&owned))
            .await
            .ok()
            .flatten();
        match status {
            Some(s) if s < 500 => {
                console.stop();
                console.line(format!("{url} answers {s}"));
                return Ok(s);
            }
            other => console.spin(format!(
                "waiting for {url} to answer ({})",
                other
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "no answer".into())
            )),
        }
        if started.elapsed() > waits.timeout {
            return Err(Error::TimedOut {
                what: format!("{url} to answer"),
                elapsed: started.elapsed(),
            });
        }
        tokio::time::sleep(waits.poll).await;
    }
}

/// One GET; the status, or `None` when nothing answered.
fn probe(url: &str) -> Option<u16> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    agent.get(url).call().ok().map(|r| r.status().as_u16())
}

/// One log line of `logs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// CloudWatch's id of the event.
    pub event_id: String,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// The log stream (`prefix/container/task id`).
    pub stream: String,
    /// The message.
    pub message: String,
}

/// Which log events `logs` has shown, so that polling again (`--follow`) shows each
/// event once and loses none written in the millisecond of the newest one shown.
///
/// The next query starts at the newest timestamp shown, not after it, since more events
/// with that timestamp may be ingested later; the ids of the events shown at that
/// timestamp are kept to skip them. Known limit: an event ingested after a newer one was
/// shown, with an older timestamp, is not shown.
#[derive(Debug, Clone, Default)]
pub struct LogCursor {
    start: i64,
    shown_at_start: HashSet<String>,
}

impl LogCursor {
    /// A cursor showing events from `start_ms` (milliseconds since the epoch) on.
    pub fn new(start_ms: i64) -> LogCursor {
        LogCursor {
            start: start_ms,
            shown_at_start: HashSet::new(),
        }
    }

    /// Where the next query starts, milliseconds since the epoch.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// The lines of `lines` (oldest first, as [`log_events`] returns them) not shown yet;
    /// they count as shown from now on.
    pub fn unseen(&mut self, lines: Vec<LogLine>) -> Vec<LogLine> {
        let fresh: Vec<LogLine> = lines
            .into_iter()
            .filter(|l| {
                l.timestamp > self.start
                    || (l.timestamp == self.start && !self.shown_at_start.contains(&key(l)))
            })
            .collect();
        if let Some(newest) = fresh.iter().map(|l| l.timestamp).max() {
            if newest > self.start {
                self.start = newest;
                self.shown_at_start.clear();
            }
            self.shown_at_start
                .extend(fresh.iter().filter(|l| l.timestamp == newest).map(key));
        }
        fresh
    }
}

/// What tells two events apart: CloudWatch's id, or stream and message without one.
fn key(line: &LogLine) -> String {
    if line.event_id.is_empty() {
        format!("{}\n{}", line.stream, line.message)
    } else {
        line.event_id.clone()
    }
}

/// Where a service's containers log: `(log group, stream prefix)` from its task
/// definition's `awslogs` configuration; `None` when logging is off. The prefix ends
/// with `/`: the `awslogs` driver names streams `prefix/container/task id` (Amazon ECS
/// Developer Guide, "Using the awslogs log driver"), so `web/web/` does not also match
/// the streams of a container `web2`.
pub async fn log_target(
    clients: &Clients,
    stack_name: &str,
    service: &str,
) -> Result<Option<(String, String)>, Error> {
    let deployed = require_created(clients, stack_name).await?;
    let (_, svc) = find_service(clients, &deployed, service).await?;
    let Some(td) = svc.task_definition() else {
        return Ok(None);
    };
    let out = clients
        .ecs
        .describe_task_definition()
        .task_definition(td)
        .send()
        .await
        .map_err(|e| Error::api("ecs", "DescribeTaskDefinition", e))?;
    let target = out.task_definition().and_then(|td| {
        td.container_definitions().iter().find_map(|c| {
            let cfg = c.log_configuration()?;
            if cfg.log_driver().as_str() != "awslogs" {
                return None;
            }
            let options = cfg.options()?;
            let group = options.get("awslogs-group")?.clone();
            let prefix = options
                .get("awslogs-stream-prefix")
                .map(|p| format!("{p}/{}/", c.name().unwrap_or_default()))
                .unwrap_or_default();
            Some((group, prefix))
        })
    });
    Ok(target)
}

/// Log events of `group` under `prefix` from `start_ms` on, oldest first (all pages).
/// The prefix is also checked on each event: CloudWatch applies it, but an emulator
/// that ignores `logStreamNamePrefix` (moto) would otherwise mix in other streams.
pub async fn log_events(
    clients: &Clients,
    group: &str,
    prefix: &str,
    start_ms: i64,
) -> Result<Vec<LogLine>, Error> {
    let mut lines = Vec::new();
    let mut token = None;
    loop {
        let mut call = clients
            .logs
            .filter_log_events()
            .log_group_name(group)
            .start_time(start_ms)
            .set_next_token(token);
        if !prefix.is_empty() {
            call = call.log_stream_name_prefix(prefix);
        }
        let out = call
            .send()
            .await
            .map_err(|e| Error::api("logs", "FilterLogEvents", e))?;
        lines.extend(out.events().iter().map(|e| LogLine {
            event_id: e.event_id().unwrap_or_default().to_string(),
            timestamp: e.timestamp().unwrap_or_default(),
            stream: e.log_stream_name().unwrap_or_default().to_string(),
            message: e.message().unwrap_or_default().trim_end().to_string(),
        }));
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            lines.retain(|l| l.stream.starts_with(prefix));
            lines.sort_by_key(|l| l.timestamp);
            return Ok(lines);
        }
    }
}

/// `destroy`: asks, empties the stack's ECR repositories (CloudFormation cannot delete a
/// repository holding images), deletes the templates deploy uploaded to S3 for the stack
/// (keeping albless's bucket, see [`crate::bucket`]), deletes the stack and follows it to
/// the end.
pub async fn destroy(
    clients: &Clients,
    stack_name: &str,
    waits: Waits,
    console: &Console,
) -> Result<(), Error> {
    let deployed = locate::require(clients, stack_name).await?;
    console.line(format!(
        "stack {stack_name}: {} resources will be deleted",
        deployed.resources.len()
    ));
    console.confirm(
        "destroy",
        &format!("Delete stack {stack_name} and everything in it?"),
    )?;
    for repo in deployed.physical_ids("AWS::ECR::Repository") {
        let n = empty_repository(clients, repo).await?;
        console.line(format!("repository {repo}: {n} image(s) deleted"));
    }
    // Templates uploaded for this stack (crate::bucket); the shared bucket stays. Done
    // before the deletion, which does not need them, so that a failed deletion can be
    // retried with a later destroy, which cleans up what is left. Failing to clean them
    // (no S3 permission, say) is reported but does not keep the stack alive.
    match crate::bucket::remove_stack_objects(clients, stack_name).await {
        Ok(0) => {}
        Ok(n) => console.line(format!("templates: {n} uploaded template(s) deleted")),
        Err(e) => {
            tracing::warn!(stack = stack_name, error = %e, "uploaded templates not deleted");
            console.line(format!(
                "warning: the templates uploaded for stack {stack_name} were not deleted: {e}"
            ));
        }
    }
    let baseline = crate::events::seen(clients, stack_name).await?;
    clients
        .cfn
        .delete_stack()
        .stack_name(stack_name)
        .send()
        .await
        .map_err(|e| Error::api("cloudformation", "DeleteStack", e))?;
    let end = crate::events::follow(
        clients,
        stack_name,
        baseline,
        console,
        waits.poll,
        waits.timeout,
    )
    .await?;
    end.into_result(stack_name, &["DELETE_COMPLETE"])?;
    console.line(format!("stack {stack_name}: deleted"));
    Ok(())
}

/// Deletes every image of ECR repository `name`; returns how many. A repository that is
/// gone holds nothing: a destroy retried after a failed deletion finds the repositories
/// CloudFormation already deleted still listed among the stack's resources.
pub async fn empty_repository(clients: &Clients, name: &str) -> Result<usize, Error> {
    let mut deleted = 0;
    loop {
        let out = match clients
            .ecr
            .list_images()
            .repository_name(name)
            .max_results(100)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if crate::error::sdk_parts(&e).0 == "RepositoryNotFoundException" => {
                return Ok(deleted);
            }
            Err(e) => return Err(Error::api("ecr", "ListImages", e)),
        };
        let ids = out.image_ids().to_vec();
        if ids.is_empty() {
            return Ok(deleted);
        }
        deleted += ids.len();
        clients
            .ecr
            .batch_delete_image()
            .repository_name(name)
            .set_image_ids(Some(ids))
            .send()
            .await
            .map_err(|e| Error::api("ecr", "BatchDeleteImage", e))?;
    }
}

#[cfg(test)]
mod tests {
    use super::{LogCursor, LogLine};

    fn line(id: &str, timestamp: i64) -> LogLine {
        LogLine {
            event_id: id.into(),
            timestamp,
            stream: "backend/backend/abc".into(),
            message: format!("message {id}"),
        }
    }

    #[test]
    fn a_follow_shows_each_event_once_and_keeps_those_of_the_same_millisecond() {
        let mut cursor = LogCursor::new(100);
        let ids = |v: Vec<LogLine>| v.into_iter().map(|l| l.event_id).collect::<Vec<_>>();
        assert_eq!(
            ids(cursor.unseen(vec![line("a", 100), line("b", 200)])),
            ["a", "b"]
        );
        assert_eq!(
            cursor.start(),
            200,
            "the next query starts at the newest shown"
        );
        // The next poll returns b again, and c, ingested since in the same millisecond.
        assert_eq!(
            ids(cursor.unseen(vec![line("b", 200), line("c", 200)])),
            ["c"]
        );
        assert_eq!(
            ids(cursor.unseen(vec![line("b", 200), line("c", 200)])),
            Vec::<String>::new()
        );
        assert_eq!(
            ids(cursor.unseen(vec![line("c", 200), line("d", 300)])),
            ["d"]
        );
        assert_eq!(cursor.start(), 300);
    }

    #[test]
    fn cloud_map_ids_come_from_registry_arns() {
        let arn = "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-abc123";
        assert_eq!(super::cloud_map_id(arn), Some("srv-abc123"));
        assert_eq!(super::cloud_map_id("arn:aws:x"), None);
    }
}
