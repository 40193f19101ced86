//! `albless sleep` and `albless wake`: scale every service of the running stack to zero
//! and back, through ECS UpdateService. `sleep` keeps the desired counts in
//! `<state dir>/sleep.json`, and `wake` restores them (1 for a service it has no count
//! for), then both wait until the services are steady.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use aws_sdk_ecs::types::Service;

use crate::control::{Running, StackArgs, runtime, sdk_error};
use crate::scale::wait_steady;

/// Options of `albless sleep` and `albless wake`.
#[derive(clap::Args)]
pub struct SleepArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Longest wait per service, seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

/// `albless sleep`.
pub fn sleep(args: SleepArgs) -> anyhow::Result<ExitCode> {
    let running = args.stack.connect()?;
    let file = running.state_dir.join("sleep.json");
    runtime()?.block_on(async {
        let services = describe_all(&running).await?;
        // Counts already saved by an earlier `sleep` win over today's zeros.
        let mut saved = read_saved(&file);
        for svc in &services {
            let name = svc.service_name().unwrap_or_default().to_string();
            if svc.desired_count() > 0 {
                saved.insert(name, svc.desired_count());
            }
        }
        std::fs::write(&file, serde_json::to_vec_pretty(&saved)?)
            .with_context(|| format!("cannot write {}", file.display()))?;
        let mut code = ExitCode::SUCCESS;
        for svc in &services {
            let name = svc.service_name().unwrap_or_default();
            set_and_wait(&running, name, 0, args.timeout, &mut code).await?;
        }
        Ok(code)
    })
}

/// `albless wake`.
pub fn wake(args: SleepArgs) -> anyhow::Result<ExitCode> {
    let running = args.stack.connect()?;
    let file = running.state_dir.join("sleep.json");
    let saved = read_saved(&file);
    runtime()?.block_on(async {
        let services = describe_all(&running).await?;
        let mut code = ExitCode::SUCCESS;
        for svc in &services {
            let name = svc.service_name().unwrap_or_default();
            if svc.desired_count() > 0 && !saved.contains_key(name) {
                continue;
            }
            let count = saved.get(name).copied().unwrap_or(1).max(1);
            set_and_wait(&running, name, count, args.timeout, &mut code).await?;
        }
        let _ = std::fs::remove_file(&file);
        Ok(code)
    })
}

/// The counts an earlier `sleep` saved (none when the file is missing or unreadable).
fn read_saved(file: &std::path::Path) -> BTreeMap<String, i32> {
    std::fs::read(file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Every service of the running stack's cluster (ListServices, then DescribeServices).
async fn describe_all(running: &Running) -> anyhow::Result<Vec<Service>> {
    let client = &running.ecs;
    let arns = client
        .list_services()
        .cluster(&running.cluster)
        .send()
        .await
        .map_err(sdk_error)?
        .service_arns
        .unwrap_or_default();
    let described = client
        .describe_services()
        .cluster(&running.cluster)
        .set_services(Some(arns))
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(described.services().to_vec())
}

/// Sets `name`'s desired count and waits until it is steady; a service that does not
/// get there sets `code` to the wait's exit code.
async fn set_and_wait(
    running: &Running,
    name: &str,
    count: i32,
    timeout_secs: u64,
    code: &mut ExitCode,
) -> anyhow::Result<()> {
    running
        .ecs
        .update_service()
        .cluster(&running.cluster)
        .service(name)
        .desired_count(count)
        .send()
        .await
        .map_err(sdk_error)?;
    let outcome = wait_steady(
        &running.ecs,
        &running.cluster,
        name,
        Duration::from_secs(timeout_secs),
    )
    .await?;
    if outcome != crate::scale::Outcome::Steady {
        *code = outcome.exit_code();
    }
    Ok(())
}
