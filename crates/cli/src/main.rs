//! The `albless` binary: parses the command line, runs one command, maps failures to
//! exit codes. Each command lives in its own module; this file only dispatches.

mod aws;
mod control;
mod cost;
mod deploy;
mod logs;
mod scale;
mod sleep;
mod spot_interrupt;
mod status;
mod synth;
mod up;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for bad input (a malformed albless.toml): nothing was started.
pub const EXIT_BAD_INPUT: u8 = 2;

/// API Gateway HTTP API + Cloud Map + ECS, on this machine, without a load balancer.
#[derive(Parser)]
#[command(name = "albless", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the stack locally: gateway, registry with DNS, and the services' tasks.
    Up(up::UpArgs),
    /// What the stack costs a month on AWS, line by line, next to the same service
    /// behind an ALB.
    Cost(cost::CostArgs),
    /// The running stack's services, deployments and tasks (state, health, IP, age).
    Status(status::StatusArgs),
    /// Set a service's desired count and wait for it.
    Scale(scale::ScaleArgs),
    /// Roll out what changed in albless.toml as new task definition revisions.
    Deploy(deploy::DeployArgs),
    /// Show a service's task output from the state folder's log files.
    Logs(logs::LogsArgs),
    /// Scale every service to zero, remembering the desired counts.
    Sleep(sleep::SleepArgs),
    /// Bring every service back to the counts `sleep` remembered.
    Wake(sleep::SleepArgs),
    /// Simulate a Fargate Spot interruption of a FARGATE_SPOT task.
    SpotInterrupt(spot_interrupt::SpotInterruptArgs),
    /// Write the CloudFormation template that deploys the stack on AWS.
    Synth(synth::SynthArgs),
    /// The same commands against the stack deployed on AWS (deploy, status, scale,
    /// sleep, wake, logs, destroy).
    Aws(aws::AwsArgs),
    /// Check an albless.toml and report every problem with its line and column.
    Validate {
        /// The stack file.
        #[arg(default_value = "albless.toml")]
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::Up(args) => up::run(args),
        Command::Aws(args) => aws::run(args),
        Command::Cost(args) => cost::run(args),
        Command::Status(args) => status::run(args),
        Command::Scale(args) => scale::run(args),
        Command::Deploy(args) => deploy::run(args),
        Command::Logs(args) => logs::run(args),
        Command::Sleep(args) => sleep::sleep(args),
        Command::Wake(args) => sleep::wake(args),
        Command::SpotInterrupt(args) => spot_interrupt::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Validate { file } => validate::run(&file),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; `ALBLESS_LOG` (tracing's filter syntax) sets the level, WARN by
/// default so that stdout stays the readable account of what happens.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ALBLESS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // The AWS SDK logs signed requests and bodies at DEBUG/TRACE: keep them out.
    let filter = albless_aws::log_directives()
        .iter()
        .filter_map(|d| d.parse().ok())
        .fold(filter, |f, d| f.add_directive(d));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

/// Writes a command's output to stdout in one write; a reader that went away (`| head`)
/// is not an error.
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Loads a stack file, printing a spec error in full. `Err(code)` is the exit code.
pub fn load_stack(file: &std::path::Path) -> Result<albless_spec::Stack, ExitCode> {
    albless_spec::load(file).map_err(|error| {
        eprintln!("{}", error.render());
        ExitCode::from(EXIT_BAD_INPUT)
    })
}
