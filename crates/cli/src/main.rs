//! The `albless` binary: parses the command line, runs one command, maps failures to
//! exit codes. Each command lives in its own module; this file only dispatches.

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
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

/// Loads a stack file, printing a spec error in full. `Err(code)` is the exit code.
pub fn load_stack(file: &std::path::Path) -> Result<albless_spec::Stack, ExitCode> {
    albless_spec::load(file).map_err(|error| {
        eprintln!("{}", error.render());
        ExitCode::from(EXIT_BAD_INPUT)
    })
}
