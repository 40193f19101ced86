//! `albless scale SERVICE N`: sets a service's desired count (ECS UpdateService) and
//! waits, with a progress line, until the service runs that many tasks of its primary
//! deployment. Also the wait shared by `deploy`, `sleep` and `wake`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use aws_sdk_ecs as ecs;
use indicatif::{ProgressBar, ProgressStyle};

use crate::control::{StackArgs, runtime, sdk_error};

/// Options of `albless scale`.
#[derive(clap::Args)]
pub struct ScaleArgs {
    /// The service.
    service: String,
    /// The new desired count.
    count: u32,
    #[command(flatten)]
    stack: StackArgs,
    /// Return at once instead of waiting for the tasks.
    #[arg(long)]
    no_wait: bool,
    /// Longest wait, seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

/// Runs the command.
pub fn run(args: ScaleArgs) -> anyhow::Result<ExitCode> {
    let running = args.stack.connect()?;
    let rt = runtime()?;
    rt.block_on(async {
        running
            .ecs
            .update_service()
            .cluster(&running.cluster)
            .service(&args.service)
            .desired_count(args.count as i32)
            .send()
            .await
            .map_err(sdk_error)?;
        println!("service {}: desired count {}", args.service, args.count);
        if args.no_wait {
            return Ok(ExitCode::SUCCESS);
        }
        let outcome = wait_steady(
            &running.ecs,
            &running.cluster,
            &args.service,
            Duration::from_secs(args.timeout),
        )
        .await?;
        Ok(outcome.exit_code())
    })
}

/// How a wait for a service ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The primary deployment runs every desired task and no other deployment is left.
    Steady,
    /// The primary deployment failed (circuit breaker).
    Failed(String),
    /// The time ran out.
    TimedOut,
}

impl Outcome {
    /// The process exit code for this outcome.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Outcome::Steady => ExitCode::SUCCESS,
            Outcome::Failed(_) | Outcome::TimedOut => ExitCode::FAILURE,
        }
    }
}

/// Waits until `service` is steady, showing a spinner with its counts.
pub async fn wait_steady(
    client: &ecs::Client,
    cluster: &str,
    service: &str,
    timeout: Duration,
) -> anyhow::Result<Outcome> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let started = Instant::now();
    let outcome = loop {
        let described = client
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(sdk_error)?;
        let Some(svc) = described.services().first() else {
            anyhow::bail!("service `{service}` not found");
        };
        let primary = svc
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"));
        let rollout = primary
            .and_then(|d| d.rollout_state())
            .map(|r| r.as_str().to_string())
            .unwrap_or_default();
        bar.set_message(format!(
            "{service}: {} running, {} pending of {} desired; deployments {}; {}",
            svc.running_count(),
            svc.pending_count(),
            svc.desired_count(),
            svc.deployments().len(),
            rollout.to_lowercase().replace('_', " ")
        ));
        if rollout == "FAILED" {
            break Outcome::Failed(
                primary
                    .and_then(|d| d.rollout_state_reason())
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        let steady = svc.deployments().len() == 1
            && primary.is_some_and(|d| {
                d.running_count() == svc.desired_count() && d.pending_count() == 0
            })
            && (rollout == "COMPLETED" || svc.desired_count() == 0 || rollout.is_empty());
        // A rollback leaves a new primary whose predecessor failed: wait for it too.
        if steady {
            break Outcome::Steady;
        }
        if started.elapsed() >= timeout {
            break Outcome::TimedOut;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    bar.finish_and_clear();
    match &outcome {
        Outcome::Steady => println!("service {service}: steady"),
        Outcome::Failed(reason) => eprintln!("service {service}: deployment failed: {reason}"),
        Outcome::TimedOut => eprintln!(
            "service {service}: not steady after {} s",
            timeout.as_secs()
        ),
    }
    Ok(outcome)
}
