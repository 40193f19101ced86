//! How the operating commands (`status`, `scale`, `deploy`, `logs`, `sleep`, `wake`,
//! `spot-interrupt`) find a running stack and talk to it: `<state dir>/run.json` gives
//! the control address, and an `aws-sdk-ecs` client is pointed at it, so that the same
//! commands can later be pointed at AWS.
//!
//! Known limit: the client speaks plain HTTP only (no TLS stack is compiled in), which is
//! all a local control address needs.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use aws_sdk_ecs as ecs;

/// Where the stack is: the options every operating command shares.
#[derive(clap::Args, Clone)]
pub struct StackArgs {
    /// The stack file.
    #[arg(long, short = 'f', default_value = "albless.toml")]
    pub file: PathBuf,
    /// State folder of the running stack (as given to `up`). Default: `.albless` beside
    /// the stack file.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
}

/// A running local stack.
pub struct Running {
    /// The ECS client pointed at its control address.
    pub ecs: ecs::Client,
    /// Its control address (`http://...`).
    pub control: String,
    /// Cluster name (the stack's name).
    pub cluster: String,
    /// Its state folder.
    pub state_dir: PathBuf,
}

impl StackArgs {
    /// The state folder these options name.
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(|| {
            let dir = self
                .file
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            dir.join(".albless")
        })
    }

    /// Finds the running stack through its run file.
    pub fn connect(&self) -> anyhow::Result<Running> {
        let state_dir = self.state_dir();
        let run_file = state_dir.join("run.json");
        let text = std::fs::read(&run_file).with_context(|| {
            format!(
                "no running stack: cannot read {} (is `albless up` running for this stack \
                 file? Other stack files are named with -f FILE; the default is ./albless.toml)",
                run_file.display()
            )
        })?;
        let run: serde_json::Value = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not valid JSON", run_file.display()))?;
        let control = run["control"]
            .as_str()
            .context("run.json has no `control` address")?
            .to_string();
        let cluster = run["stack"]
            .as_str()
            .context("run.json has no `stack` name")?
            .to_string();
        // A run file left by an albless that was killed names a dead process.
        let proc_fs = Path::new("/proc/self").exists();
        if let Some(pid) = run["pid"].as_u64()
            && proc_fs
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            anyhow::bail!(
                "no running stack: {} names albless process {pid}, which is not running \
                 (it did not stop cleanly; start it again with `albless up`)",
                run_file.display()
            );
        }
        let region = run["region"].as_str().unwrap_or("us-east-1").to_string();
        Ok(Running {
            ecs: client(&control, &region),
            control,
            cluster,
            state_dir,
        })
    }
}

/// An ECS client for `endpoint`. Local stacks ignore signatures, so fixed credentials do.
pub fn client(endpoint: &str, region: &str) -> ecs::Client {
    let config = ecs::Config::builder()
        .behavior_version(ecs::config::BehaviorVersion::latest())
        .region(ecs::config::Region::new(region.to_string()))
        .credentials_provider(ecs::config::Credentials::new(
            "local", "local", None, None, "albless",
        ))
        .endpoint_url(endpoint)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    ecs::Client::from_conf(config)
}

/// A current-thread runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// An SDK error with its whole chain (the SDK's `Display` alone says only "service error").
pub fn sdk_error<E: std::error::Error>(e: E) -> anyhow::Error {
    anyhow::anyhow!("{}", ecs::error::DisplayErrorContext(e))
}
