//! `albless up`: wires registry, DNS, gateway and scheduler for one stack, prints what
//! a user needs (the gateway URL, the DNS address, each task as it becomes healthy) and
//! stops everything cleanly on Ctrl-C or SIGTERM.
//!
//! The addresses are also written to `run.json` in the state folder, so that other
//! commands (and tests) find a running stack.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use albless_gateway::{Gateway, GatewayConfig};
use albless_registry::dns::DnsServer;
use albless_registry::{Registry, RegistryOptions, ServiceConfig};
use albless_scheduler::{Scheduler, SchedulerOptions, TaskEvent};
use albless_spec::{RecordType, Stack};
use anyhow::Context as _;
use tokio::sync::watch;

/// Options of `albless up`.
#[derive(clap::Args)]
pub struct UpArgs {
    /// The stack file.
    #[arg(default_value = "albless.toml")]
    file: PathBuf,
    /// Gateway address, overriding `[api] listen` (port 0 picks a free port).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// DNS server address, overriding `[discovery] dns_listen` (port 0 picks a free port).
    #[arg(long)]
    dns_listen: Option<SocketAddr>,
    /// Control address: the AWS-compatible APIs (Cloud Map, ECS) that the CLI, the AWS
    /// CLI and the AWS SDKs talk to (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8001")]
    control_listen: SocketAddr,
    /// State folder (task logs, run file). Default: `.albless` beside the stack file.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Do not echo task output on stdout (it is still kept in the task log files).
    #[arg(long)]
    quiet_tasks: bool,
}

/// Runs the command.
pub fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    let stack = match crate::load_stack(&args.file) {
        Ok(stack) => stack,
        Err(code) => return Ok(code),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(Arc::new(stack), args))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(stack: Arc<Stack>, args: UpArgs) -> anyhow::Result<()> {
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| stack.dir.join(".albless"));
    let log_dir = state_dir.join("logs");
    std::fs::create_dir_all(&log_dir)
        .with_context(|| format!("cannot create the state folder {}", log_dir.display()))?;

    let registry = registry_for(&stack, &state_dir)?;

    let dns_addr = args.dns_listen.unwrap_or(stack.discovery.dns_listen);
    let dns = DnsServer::bind(registry.clone(), dns_addr)
        .await
        .with_context(|| format!("cannot listen for DNS on {dns_addr}"))?;
    let dns_addr = dns.local_addr();

    let listen = args.listen.unwrap_or(stack.api.listen);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen for HTTP on {listen}"))?;
    let gateway_addr = listener.local_addr()?;

    let control = tokio::net::TcpListener::bind(args.control_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen for the control API on {}",
                args.control_listen
            )
        })?;
    let control_addr = control.local_addr()?;

    let run_file = state_dir.join("run.json");
    let run_info = serde_json::json!({
        "pid": std::process::id(),
        "stack": stack.name,
        "region": stack.region,
        "gateway": format!("http://{gateway_addr}"),
        "dns": dns_addr.to_string(),
        "control": format!("http://{control_addr}"),
    });
    std::fs::write(&run_file, serde_json::to_vec_pretty(&run_info)?)
        .with_context(|| format!("cannot write {}", run_file.display()))?;

    println!(
        "albless: stack `{}` from {}",
        stack.name,
        stack.path.display()
    );
    println!("gateway: http://{gateway_addr}");
    println!("dns: {dns_addr} (namespace {})", stack.discovery.namespace);
    println!("control: http://{control_addr}");
    println!("dashboard: http://{control_addr}/");
    for (name, svc) in &stack.services {
        println!(
            "service {name}: {} task(s), discovered as {name}.{}",
            svc.desired_count, stack.discovery.namespace
        );
    }

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let options = SchedulerOptions {
        log_dir,
        exe_dir: std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(PathBuf::from)),
        echo_output: !args.quiet_tasks,
        state_file: Some(state_dir.join("scheduler.json")),
    };
    let scheduler = Scheduler::new(stack.clone(), registry.clone(), options);
    let events = scheduler.events();
    let printer = tokio::spawn(print_events(events, stack.discovery.namespace.clone()));

    let dns_task = tokio::spawn(dns.run());
    let gateway = Gateway::new(GatewayConfig::from_stack(&stack), registry.clone())
        .with_wake(Arc::new(SchedulerWake(scheduler.handle())));
    let metrics = gateway.metrics();
    let mut gw_shutdown = shutdown_rx.clone();
    let gateway_task = tokio::spawn(gateway.serve(listener, async move {
        let _ = gw_shutdown.wait_for(|s| *s).await;
    }));
    let scheduler_handle = scheduler.handle();
    let api = albless_api::router(albless_api::ApiState {
        registry: registry.clone(),
        scheduler: Some(scheduler_handle.clone()),
    })
    // The dashboard (`GET /`, `/dashboard/...`) beside the AWS API (`POST /`).
    .merge(albless_dashboard::router(albless_dashboard::Dashboard {
        scheduler: scheduler_handle.clone(),
        metrics,
        log_dir: state_dir.join("logs"),
        gateway_url: Some(format!("http://{gateway_addr}")),
    }));
    let mut api_shutdown = shutdown_rx.clone();
    let control_task = tokio::spawn(async move {
        axum::serve(control, api)
            .with_graceful_shutdown(async move {
                let _ = api_shutdown.wait_for(|s| *s).await;
            })
            .await
    });
    let scheduler_task = tokio::spawn(scheduler.run(shutdown_rx));

    wait_for_signal().await;
    println!("albless: stopping");
    let _ = shutdown_tx.send(true);
    let _ = scheduler_task.await;
    let _ = gateway_task.await;
    let _ = control_task.await;
    dns_task.abort();
    printer.abort();
    let _ = std::fs::remove_file(&run_file);
    println!("albless: stopped");
    Ok(())
}

/// The registry of a stack, kept in `<state_dir>/registry.redb`: its namespace and one
/// Cloud Map service per service, created unless the store already holds them (what
/// API clients created survives a restart; task instances are registered again).
fn registry_for(stack: &Stack, state_dir: &std::path::Path) -> anyhow::Result<Registry> {
    let options = RegistryOptions {
        region: stack.region.clone(),
        health_propagation: stack.discovery.health_propagation,
        ..RegistryOptions::default()
    };
    let path = state_dir.join("registry.redb");
    let registry = Registry::open(&path, options)
        .with_context(|| format!("cannot open the registry store {}", path.display()))?;
    let ns = &stack.discovery.namespace;
    registry.ensure_namespace(ns)?;
    let (srv, a) = match stack.discovery.record_type {
        RecordType::Srv => (true, false),
        RecordType::A => (false, true),
        RecordType::SrvAndA => (true, true),
    };
    for name in stack.services.keys() {
        let custom_health = stack.discovery.custom_health_check;
        let config = ServiceConfig {
            srv,
            a,
            ttl: stack.discovery.ttl,
            custom_health,
        };
        registry.ensure_service(ns, name, config)?;
    }
    Ok(registry)
}

async fn print_events(mut events: tokio::sync::broadcast::Receiver<TaskEvent>, namespace: String) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(TaskEvent::Started {
                service,
                task_id,
                addr,
                pid,
            }) => {
                println!("task {service}/{task_id} started at {addr} (pid {pid})");
            }
            Ok(TaskEvent::Healthy {
                service,
                task_id,
                addr,
                pid,
            }) => {
                println!(
                    "task {service}/{task_id} healthy at {addr} (pid {pid}), registered in {service}.{namespace}"
                );
            }
            Ok(TaskEvent::Stopped {
                service,
                task_id,
                stop_code,
                reason,
            }) => {
                println!("task {service}/{task_id} stopped ({stop_code}): {reason}");
            }
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => break,
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Wake on request for the gateway: services with `scale_to_zero` are woken by the
/// scheduler; others answer as HTTP API does.
struct SchedulerWake(albless_scheduler::SchedulerHandle);

impl albless_gateway::Wake for SchedulerWake {
    fn request(&self, service: &str) {
        self.0.record_request(service);
    }

    fn wake<'a>(
        &'a self,
        service: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = albless_gateway::Woken> + Send + 'a>>
    {
        Box::pin(async move {
            if !self.0.scales_to_zero(service) {
                return albless_gateway::Woken::NotApplicable;
            }
            if self.0.wake(service).await {
                albless_gateway::Woken::Ready
            } else {
                albless_gateway::Woken::TimedOut
            }
        })
    }
}
