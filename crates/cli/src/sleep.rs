//! `albless sleep` and `albless wake`: scale every service of the running stack to zero
//! and back, through ECS UpdateService. `sleep` keeps the desired counts in
//! `<state dir>/sleep.json`, and `wake` restores them (1 for a service it has no count
//! for), then both wait until the services are steady.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use crate::control::{StackArgs, runtime, sdk_error};
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
        // Counts already saved by an earlier `sleep` win over today's zeros.
        let mut saved: BTreeMap<String, i32> = std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        for svc in described.services() {
            let name = svc.service_name().unwrap_or_default().to_string();
            if svc.desired_count() > 0 {
                saved.insert(name, svc.desired_count());
            }
        }
        std::fs::write(&file, serde_json::to_vec_pretty(&saved)?)
            .with_context(|| format!("cannot write {}", file.display()))?;
        let mut code = ExitCode::SUCCESS;
        for svc in described.services() {
            let name = svc.service_name().unwrap_or_default();
            client
                .update_service()
                .cluster(&running.cluster)
                .service(name)
                .desired_count(0)
                .send()
                .await
                .map_err(sdk_error)?;
            let outcome = wait_steady(
                client,
                &running.cluster,
                name,
                Duration::from_secs(args.timeout),
            )
            .await?;
            if outcome != crate::scale::Outcome::Steady {
                code = outcome.exit_code();
            }
        }
        Ok(code)
    })
}

/// `albless wake`.
pub fn wake(args: SleepArgs) -> anyhow::Result<ExitCode> {
    let running = args.stack.connect()?;
    let file = running.state_dir.join("sleep.json");
    let saved: BTreeMap<String, i32> = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    runtime()?.block_on(async {
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
        let mut code = ExitCode::SUCCESS;
        for svc in described.services() {
            let name = svc.service_name().unwrap_or_default();
            if svc.desired_count() > 0 && !saved.contains_key(name) {
                continue;
            }
            let count = saved.get(name).copied().unwrap_or(1).max(1);
            client
                .update_service()
                .cluster(&running.cluster)
                .service(name)
                .desired_count(count)
                .send()
                .await
                .map_err(sdk_error)?;
            let outcome = wait_steady(
                client,
                &running.cluster,
                name,
                Duration::from_secs(args.timeout),
            )
            .await?;
            if outcome != crate::scale::Outcome::Steady {
                code = outcome.exit_code();
            }
        }
        let _ = std::fs::remove_file(&file);
        Ok(code)
    })
}
