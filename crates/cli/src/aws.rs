//! `albless aws <command>`: the operating commands against the stack deployed on AWS
//! (deploy, status, scale, sleep, wake, logs, destroy), through `albless-aws`. The local
//! commands keep their meaning; this group is the `--aws` target of each of them.
//!
//! `deploy --template FILE` deploys a template written by `albless synth -o` and edited
//! by hand instead of synthesizing one; the stack file still gives the services' images
//! and build folders. `wake --url URL` waits for another URL than the stack's endpoint
//! (a custom domain in front of the API). `logs --follow` polls every `--poll` seconds
//! and, like `aws logs tail --follow`, does not show an event that CloudWatch ingests
//! after a newer one was shown.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use albless_aws::ops::{self, Waits, WakeOptions};
use albless_aws::{Clients, Console, DeployOptions, Target};
use anyhow::Context as _;

/// Options every `albless aws` command shares.
#[derive(clap::Args, Clone)]
pub struct AwsArgs {
    /// The stack file.
    #[arg(long, short = 'f', default_value = "albless.toml", global = true)]
    file: std::path::PathBuf,
    /// CloudFormation stack name (default: `[stack] name`).
    #[arg(long, global = true)]
    stack_name: Option<String>,
    /// Region (default: `[stack] region`).
    #[arg(long, global = true)]
    region: Option<String>,
    /// Named profile of the AWS config files.
    #[arg(long, global = true)]
    profile: Option<String>,
    /// One endpoint for every AWS service (tests against moto); `AWS_ENDPOINT_URL` works too.
    #[arg(long, global = true)]
    endpoint_url: Option<String>,
    /// Answer yes to questions (needed without a terminal).
    #[arg(long, short = 'y', global = true)]
    yes: bool,
    /// Longest wait, seconds.
    #[arg(long, default_value_t = 1800, global = true)]
    timeout: u64,
    /// Seconds between two polls (at least 1).
    #[arg(long, default_value_t = 5, global = true, value_parser = clap::value_parser!(u64).range(1..))]
    poll: u64,
    #[command(subcommand)]
    command: AwsCommand,
}

#[derive(clap::Subcommand, Clone)]
enum AwsCommand {
    /// Build and push images, create or update the stack through a change set.
    Deploy {
        /// Use the file's `image` even where a `build` folder and Docker are present.
        #[arg(long)]
        no_build: bool,
        /// Deploy this CloudFormation template (JSON, as `albless synth -o` writes it,
        /// possibly edited) instead of the one synthesized from the stack file.
        #[arg(long, value_name = "FILE")]
        template: Option<std::path::PathBuf>,
    },
    /// Stack, services, deployments, Cloud Map health, VPC links, endpoint.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a service's desired count and wait for it.
    Scale {
        /// The service (its ECS name).
        service: String,
        /// The new desired count (ECS takes a 32-bit signed count).
        #[arg(value_parser = clap::value_parser!(u32).range(0..=i64::from(i32::MAX)))]
        count: u32,
    },
    /// Every service to zero, remembering the counts on the services.
    Sleep,
    /// Restore the remembered counts; wait for healthy instances and the endpoint.
    Wake {
        /// Do not wait for the endpoint to answer.
        #[arg(long)]
        no_probe: bool,
        /// Wait for this URL to answer instead of the stack's API endpoint (a custom
        /// domain in front of the API, for example).
        #[arg(long, value_name = "URL", conflicts_with = "no_probe")]
        url: Option<String>,
    },
    /// A service's CloudWatch Logs.
    Logs {
        /// The service.
        service: String,
        /// How far back, minutes.
        #[arg(long, default_value_t = 60)]
        since: u64,
        /// Keep printing new lines.
        #[arg(long)]
        follow: bool,
    },
    /// Empty the stack's ECR repositories and delete the stack.
    Destroy,
}

/// Runs one `albless aws` command.
pub fn run(args: AwsArgs) -> anyhow::Result<ExitCode> {
    let stack = match crate::load_stack(&args.file) {
        Ok(stack) => stack,
        Err(code) => return Ok(code),
    };
    let name = args
        .stack_name
        .clone()
        .unwrap_or_else(|| stack.name.clone());
    let target = Target {
        region: Some(args.region.clone().unwrap_or_else(|| stack.region.clone())),
        profile: args.profile.clone(),
        endpoint_url: args.endpoint_url.clone(),
    };
    let waits = Waits {
        poll: Duration::from_secs(args.poll),
        timeout: Duration::from_secs(args.timeout),
    };
    let console = Console::new(args.yes);
    let rt = crate::control::runtime()?;
    let profile = args.profile.clone();
    let result = rt.block_on(async {
        let clients = Clients::connect(&target).await;
        match args.command {
            AwsCommand::Deploy { no_build, template } => {
                let template = match template {
                    // Bad input, like a bad albless.toml: exit 2, nothing was sent.
                    Some(path) => match read_template(&path) {
                        Ok(template) => template,
                        Err(e) => {
                            eprintln!("error: {e:#}");
                            return Ok(ExitCode::from(crate::EXIT_BAD_INPUT));
                        }
                    },
                    None => albless_synth::synthesize(&stack).to_value(),
                };
                let options = DeployOptions {
                    build: !no_build,
                    poll: waits.poll,
                    timeout: waits.timeout,
                    ..DeployOptions::new(&name)
                };
                let report = albless_aws::deploy(&clients, &stack, &template, &options, &console)
                    .await?;
                for (key, value) in &report.outputs {
                    println!("{key}: {value}");
                }
            }
            AwsCommand::Status { json } => {
                let report = ops::status(&clients, &name).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    print_status(&report);
                }
            }
            AwsCommand::Scale { service, count } => {
                ops::scale(&clients, &name, &service, count, waits, &console).await?;
            }
            AwsCommand::Sleep => {
                ops::sleep(&clients, &name, waits, &console).await?;
            }
            AwsCommand::Wake { no_probe, url } => {
                let options = WakeOptions {
                    defaults: stack
                        .services
                        .iter()
                        .map(|(k, s)| (k.clone(), s.desired_count))
                        .collect(),
                    probe: url,
                    no_probe,
                };
                ops::wake(&clients, &name, &options, waits, &console).await?;
            }
            AwsCommand::Logs {
                service,
                since,
                follow,
            } => {
                let (group, prefix) = ops::log_target(&clients, &name, &service)
                    .await?
                    .with_context(|| {
                        format!("service {service} does not log to CloudWatch: set [services.{service}.logging]")
                    })?;
                let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
                // A huge --since means "from the start": CloudWatch takes no negative time.
                let back_ms = i64::try_from(since)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(60_000);
                let mut cursor = ops::LogCursor::new(now_ms.saturating_sub(back_ms).max(0));
                loop {
                    let lines = ops::log_events(&clients, &group, &prefix, cursor.start()).await?;
                    let mut out = String::new();
                    for line in cursor.unseen(lines) {
                        let task = line.stream.rsplit('/').next().unwrap_or("");
                        out.push_str(&format!("{task} {}\n", line.message));
                    }
                    // A reader that went away (`| head`) ends the command, --follow too.
                    match std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes()) {
                        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
                        other => other?,
                    }
                    if !follow {
                        break;
                    }
                    tokio::time::sleep(waits.poll).await;
                }
            }
            AwsCommand::Destroy => {
                ops::destroy(&clients, &name, waits, &console).await?;
            }
        }
        Ok(ExitCode::SUCCESS)
    });
    result.map_err(|e| with_credentials_hint(e, profile.as_deref()))
}

/// Adds what to do to an error of the SDK's credential chain, which names its providers
/// but not the remedy.
fn with_credentials_hint(error: anyhow::Error, profile: Option<&str>) -> anyhow::Error {
    let text = format!("{error:#}");
    if !text.contains("no credentials found") && !text.contains("credential provider") {
        return error;
    }
    let hint = match profile {
        Some(profile) => format!(
            "no usable credentials for profile `{profile}`: check that ~/.aws/config or \
             ~/.aws/credentials defines it (or run `aws sso login --profile {profile}`)"
        ),
        None => "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
                 configure ~/.aws (then `--profile NAME`), or run `aws sso login`"
            .to_string(),
    };
    error.context(hint)
}

/// Reads a template given with `--template`; a JSON error names the file, line and column.
fn read_template(path: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read template {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a JSON CloudFormation template (write one with `albless synth -o FILE`)",
            path.display()
        )
    })?;
    if !value["Resources"].is_object() {
        anyhow::bail!(
            "{}: a CloudFormation template needs a `Resources` object",
            path.display()
        );
    }
    Ok(value)
}

fn print_status(r: &ops::StatusReport) {
    println!("stack {}: {}", r.stack, r.status);
    println!("endpoint: {}", r.endpoint.as_deref().unwrap_or("-"));
    for s in &r.services {
        println!(
            "service {}: desired {}, running {}, pending {}{}",
            s.name,
            s.desired,
            s.running,
            s.pending,
            s.asleep_from
                .map(|c| format!(" (asleep, wakes to {c})"))
                .unwrap_or_default()
        );
        for d in &s.deployments {
            println!(
                "  deployment {} {} {} rollout {} ({}/{} running, {} failed){}",
                d.id,
                d.status,
                d.task_definition,
                d.rollout.as_deref().unwrap_or("-"),
                d.running,
                d.desired,
                d.failed,
                d.reason
                    .as_deref()
                    .map(|x| format!(": {x}"))
                    .unwrap_or_default()
            );
        }
        for i in &s.instances {
            println!("  instance {} {}", i.id, i.health);
        }
    }
    for l in &r.vpc_links {
        println!("vpc link {}: {}", l.id, l.status);
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
}
