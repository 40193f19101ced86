//! `albless-whoami`: the sample app albless runs as the example service's tasks. It answers
//! every request with who served it (task id, ARN, service, IP and port, hostname, pid,
//! `GREETING`) and what was asked (method, path, query, version, peer, headers, body length),
//! as JSON or as an HTML page that shows the task's IP in large type.
//!
//! Settings: `--listen ADDR:PORT`, else `HOST` and `PORT` (default `0.0.0.0:8080`; port 0
//! picks a free port). Identity comes from `ALBLESS_TASK_ID`, `ALBLESS_TASK_ARN`,
//! `ALBLESS_SERVICE`, and from `${ECS_CONTAINER_METADATA_URI_V4}/task` when that is set. The
//! start line `albless-whoami listening on IP:PORT` on stderr gives the bound address;
//! `WHOAMI_LOG=1` adds one stderr line per request.
//!
//! Test aids:
//! - `GET /health` answers 200 `{"status":"ok"}`, or 503 `{"status":"unhealthy"}` while the
//!   file named by `WHOAMI_UNHEALTHY_FILE` exists (only when that variable is set), so a test
//!   can make one task fail its health check and heal it again.
//! - `/delay?ms=N` (N at most 60000) waits N ms, then answers as usual; other N give 400.
//!
//! SIGTERM or SIGINT: stop accepting, let in-flight requests finish (at most 10 s), exit 0.
//! Exit status 2 for bad settings, 1 when the server cannot start.

mod answer;
mod config;
mod metadata;
mod server;

use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;

/// Command line; everything else comes from the environment (see the crate doc).
#[derive(Debug, Parser)]
#[command(
    version,
    about = "albless's sample app: answers with who served the request"
)]
struct Args {
    /// Address to listen on; overrides HOST and PORT.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match config::Config::from_env(args.listen, |name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(error) => return fail(&error, 2),
    };

    // One thread is plenty for a sample app and keeps the resident set to a few MB.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error, 1),
    };
    match runtime.block_on(server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error, 1),
    }
}

/// Prints the error with its causes on one stderr line and returns `code`.
fn fail(error: &dyn Error, code: u8) -> ExitCode {
    let mut line = format!("albless-whoami: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    eprintln!("{line}");
    ExitCode::from(code)
}
