//! `albless spot-interrupt TASK`: simulates a Fargate Spot interruption of a running
//! FARGATE_SPOT task (aws-behavior.md §4.6, §6.17): the task is deregistered and told
//! with SIGTERM, stopped after its stop timeout (within the two-minute window), stop
//! code `TerminationNotice`. `--withhold SECONDS` keeps Spot capacity away for a while,
//! as when AWS has none, so a Spot-only service stays short of tasks.
//!
//! AWS has no API for this, so the command calls albless's own local operation
//! (`AlblessLocal_v1.SpotInterruptTask`) on the control address; it works locally only.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::control::StackArgs;

/// Options of `albless spot-interrupt`.
#[derive(clap::Args)]
pub struct SpotInterruptArgs {
    /// The task: its id, its ARN, or a unique prefix of its id of at least 8 characters
    /// (the short id `status` shows).
    task: String,
    #[command(flatten)]
    stack: StackArgs,
    /// Withhold Spot capacity for this many seconds.
    #[arg(long)]
    withhold: Option<u64>,
}

/// Runs the command.
pub fn run(args: SpotInterruptArgs) -> anyhow::Result<ExitCode> {
    let running = args.stack.connect()?;
    let mut body = serde_json::json!({"cluster": running.cluster, "task": args.task});
    if let Some(w) = args.withhold {
        body["withholdSeconds"] = w.into();
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .post(&running.control)
        .header("X-Amz-Target", "AlblessLocal_v1.SpotInterruptTask")
        .header("Content-Type", "application/x-amz-json-1.1")
        .send(serde_json::to_vec(&body)?)
        .with_context(|| format!("cannot reach the control address {}", running.control))?;
    let status = resp.status();
    let answer: serde_json::Value = resp.body_mut().read_json().unwrap_or_default();
    if !status.is_success() {
        let kind = answer["__type"].as_str().unwrap_or("error");
        let message = answer["Message"]
            .as_str()
            .or(answer["message"].as_str())
            .unwrap_or_default();
        anyhow::bail!("{kind}: {message}");
    }
    let task = &answer["task"];
    println!(
        "task {}: interrupted ({}), {}",
        task["taskArn"]
            .as_str()
            .and_then(|a| a.rsplit('/').next())
            .unwrap_or_default(),
        task["stopCode"].as_str().unwrap_or_default(),
        task["stoppedReason"].as_str().unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
