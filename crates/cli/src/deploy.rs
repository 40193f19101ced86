//! `albless deploy`: re-reads albless.toml and, for each service whose task definition
//! changed (command, environment, port, health check, size, image, stop timeout),
//! registers a new revision (RegisterTaskDefinition) and rolls it out (UpdateService),
//! then waits until the rollout completes, fails or is rolled back. A changed desired
//! count or deployment setting is applied too.
//!
//! What the local process driver needs beyond ECS's container definition travels in
//! Docker labels (`albless.command`, `albless.health-check-path`), as the API expects.

use std::process::ExitCode;
use std::time::Duration;

use albless_spec::{HealthCheckKind, Service, Stack};
use anyhow::Context as _;
use aws_sdk_ecs as ecs;
use ecs::types::{
    ContainerDefinition, CpuArchitecture, DeploymentCircuitBreaker, DeploymentConfiguration,
    HealthCheck, KeyValuePair, OsFamily, PortMapping, RuntimePlatform, TransportProtocol,
};

use crate::control::{StackArgs, runtime, sdk_error};
use crate::scale::{Outcome, wait_steady};

/// Docker label holding the local command (as the API reads it).
const LABEL_COMMAND: &str = "albless.command";
/// Docker label holding an HTTP health check's path.
const LABEL_HEALTH_PATH: &str = "albless.health-check-path";

/// Options of `albless deploy`.
#[derive(clap::Args)]
pub struct DeployArgs {
    /// Only these services (default: every service).
    services: Vec<String>,
    #[command(flatten)]
    stack: StackArgs,
    /// Start a new deployment even where nothing changed.
    #[arg(long)]
    force: bool,
    /// Return once the deployments are started.
    #[arg(long)]
    no_wait: bool,
    /// Longest wait per service, seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

/// Runs the command.
pub fn run(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let stack = match crate::load_stack(&args.stack.file) {
        Ok(stack) => stack,
        Err(code) => return Ok(code),
    };
    let running = args.stack.connect()?;
    for name in &args.services {
        anyhow::ensure!(
            stack.services.contains_key(name),
            "no service `{name}` in {}",
            args.stack.file.display()
        );
    }
    runtime()?.block_on(async {
        let mut code = ExitCode::SUCCESS;
        for service in stack.services.values() {
            if !args.services.is_empty() && !args.services.contains(&service.name) {
                continue;
            }
            let client = &running.ecs;
            let cluster = &running.cluster;
            let Some(target) = deploy_service(client, cluster, &stack, service, args.force).await?
            else {
                println!("service {}: unchanged", service.name);
                continue;
            };
            if args.no_wait {
                continue;
            }
            let outcome = wait_steady(
                client,
                cluster,
                &service.name,
                Duration::from_secs(args.timeout),
            )
            .await?;
            // A rollback ends steady, but on another revision than the one deployed.
            let now = client
                .describe_services()
                .cluster(cluster)
                .services(&service.name)
                .send()
                .await
                .map_err(sdk_error)?;
            let described = now.services().first();
            let current = described
                .and_then(|s| s.task_definition())
                .unwrap_or_default()
                .to_string();
            if outcome == Outcome::Steady && current != target {
                // Why: the failed deployment's rollout reason while ECS still lists it,
                // else the newest service event that tells of a failure.
                let reason = described.and_then(|s| {
                    s.deployments()
                        .iter()
                        .find(|d| d.task_definition() == Some(target.as_str()))
                        .and_then(|d| d.rollout_state_reason())
                        .or_else(|| {
                            s.events()
                                .iter()
                                .filter_map(|e| e.message())
                                .find(|m| m.contains("fail"))
                        })
                });
                match reason {
                    Some(reason) => eprintln!(
                        "service {}: rolled back to {current}: {reason}",
                        service.name
                    ),
                    None => eprintln!("service {}: rolled back to {current}", service.name),
                }
                code = ExitCode::FAILURE;
            } else if outcome != Outcome::Steady {
                code = outcome.exit_code();
            }
        }
        Ok(code)
    })
}

/// Registers a new revision of `service` when its definition changed and starts its
/// deployment. Returns the task definition ARN rolled out, or `None` when nothing
/// changed.
async fn deploy_service(
    client: &ecs::Client,
    cluster: &str,
    stack: &Stack,
    service: &Service,
    force: bool,
) -> anyhow::Result<Option<String>> {
    let described = client
        .describe_services()
        .cluster(cluster)
        .services(&service.name)
        .send()
        .await
        .map_err(sdk_error)?;
    let svc = described
        .services()
        .first()
        .with_context(|| format!("service `{}` is not running", service.name))?;
    // The local ECS API takes no capacity strategy in UpdateService: say so rather than
    // report a rollout that did not change it.
    let running: Vec<(String, i32, i32)> = svc
        .capacity_provider_strategy()
        .iter()
        .map(|c| (c.capacity_provider().to_string(), c.base(), c.weight()))
        .collect();
    let wanted: Vec<(String, i32, i32)> = service
        .capacity
        .iter()
        .map(|c| {
            (
                c.provider.name().to_string(),
                c.base as i32,
                c.weight as i32,
            )
        })
        .collect();
    if !running.is_empty() && !wanted.is_empty() && running != wanted {
        eprintln!(
            "service {}: warning: the capacity provider strategy changed in {}; it takes \
             effect at the next `albless up`, not with `deploy`",
            service.name,
            stack.path.display()
        );
    }
    let current_arn = svc.task_definition().unwrap_or_default().to_string();
    let current = client
        .describe_task_definition()
        .task_definition(&current_arn)
        .send()
        .await
        .map_err(sdk_error)?;
    let current = current
        .task_definition()
        .context("DescribeTaskDefinition returned nothing")?;

    let wanted = container_definition(service);
    let cpu = service.cpu.to_string();
    let memory = service.memory.to_string();
    let arch = match service.arch {
        albless_spec::Arch::Arm64 => CpuArchitecture::Arm64,
        albless_spec::Arch::X86_64 => CpuArchitecture::X8664,
    };
    let same = current
        .container_definitions()
        .first()
        .is_some_and(|c| fingerprint(c) == fingerprint(&wanted))
        && current.cpu() == Some(cpu.as_str())
        && current.memory() == Some(memory.as_str())
        && current
            .runtime_platform()
            .and_then(|p| p.cpu_architecture())
            == Some(&arch);

    let settings_changed = svc.desired_count() != service.desired_count as i32
        || svc.deployment_configuration().is_some_and(|c| {
            c.minimum_healthy_percent() != Some(service.min_healthy_percent as i32)
                || c.maximum_percent() != Some(service.max_percent as i32)
        });
    if same && !force && !settings_changed {
        return Ok(None);
    }

    let mut update = client
        .update_service()
        .cluster(cluster)
        .service(&service.name)
        .desired_count(service.desired_count as i32)
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .minimum_healthy_percent(service.min_healthy_percent as i32)
                .maximum_percent(service.max_percent as i32)
                .deployment_circuit_breaker(
                    DeploymentCircuitBreaker::builder()
                        .enable(service.circuit_breaker.enable)
                        .rollback(service.circuit_breaker.rollback)
                        .build(),
                )
                .build(),
        );
    let mut target = current_arn.clone();
    if !same {
        let registered = client
            .register_task_definition()
            .family(format!("{}-{}", stack.name, service.name))
            .container_definitions(wanted)
            .cpu(cpu)
            .memory(memory)
            .network_mode(ecs::types::NetworkMode::Awsvpc)
            .requires_compatibilities(ecs::types::Compatibility::Fargate)
            .runtime_platform(
                RuntimePlatform::builder()
                    .cpu_architecture(arch)
                    .operating_system_family(OsFamily::Linux)
                    .build(),
            )
            .send()
            .await
            .map_err(sdk_error)?;
        target = registered
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .context("RegisterTaskDefinition returned no ARN")?
            .to_string();
        println!(
            "service {}: registered {}",
            service.name,
            target.rsplit('/').next().unwrap_or(&target)
        );
        update = update.task_definition(&target);
    }
    if force {
        update = update.force_new_deployment(true);
    }
    update.send().await.map_err(sdk_error)?;
    println!("service {}: deployment started", service.name);
    Ok(Some(target))
}

/// The container definition of `service` as albless deploys it.
fn container_definition(service: &Service) -> ContainerDefinition {
    let mut c = ContainerDefinition::builder()
        .name(&service.name)
        .image(service.image.clone().unwrap_or_default())
        .essential(true)
        .port_mappings(
            PortMapping::builder()
                .container_port(service.port as i32)
                .host_port(service.port as i32)
                .protocol(TransportProtocol::Tcp)
                .build(),
        )
        .stop_timeout(service.stop_timeout.as_secs() as i32);
    for (k, v) in &service.environment {
        c = c.environment(KeyValuePair::builder().name(k).value(v).build());
    }
    if let Some(command) = &service.command {
        c = c.docker_labels(
            LABEL_COMMAND,
            serde_json::to_string(command).unwrap_or_default(),
        );
    }
    if let Some(h) = &service.health_check {
        let command = match &h.kind {
            HealthCheckKind::Http { path } => {
                c = c.docker_labels(LABEL_HEALTH_PATH, path);
                vec![
                    "CMD-SHELL".to_string(),
                    format!("curl -f http://localhost:{}{path} || exit 1", service.port),
                ]
            }
            HealthCheckKind::Command(argv) => argv.clone(),
        };
        let check = HealthCheck::builder()
            .set_command(Some(command))
            .interval(h.interval.as_secs() as i32)
            .timeout(h.timeout.as_secs() as i32)
            .retries(h.retries as i32)
            .start_period(h.start_period.as_secs() as i32)
            .build();
        if let Ok(check) = check {
            c = c.health_check(check);
        }
    }
    c.build()
}

/// What of a container definition makes a deployment: compared between albless.toml
/// and the running revision.
fn fingerprint(c: &ContainerDefinition) -> String {
    let mut env: Vec<(String, String)> = c
        .environment()
        .iter()
        .map(|kv| {
            (
                kv.name().unwrap_or_default().to_string(),
                kv.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    env.sort();
    let mut labels: Vec<(String, String)> = c
        .docker_labels()
        .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    labels.sort();
    let port = c.port_mappings().first().and_then(|p| p.container_port());
    let health = c.health_check().map(|h| {
        (
            h.command().to_vec(),
            h.interval(),
            h.timeout(),
            h.retries(),
            h.start_period(),
        )
    });
    format!(
        "{:?}",
        (
            c.image().filter(|i| !i.is_empty()),
            port,
            env,
            labels,
            health,
            c.stop_timeout()
        )
    )
}
