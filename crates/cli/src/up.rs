//! `albless up`: wires registry, DNS, gateway and scheduler for one stack, prints what
//! a user needs (the gateway URL, the DNS address, each task as it becomes healthy) and
//! stops everything cleanly on Ctrl-C or SIGTERM.
//!
//! With a Docker-driven service, the containers a killed albless left behind are removed
//! before anything starts (issue #9), and an unreachable engine stops `up` right there.
//!
//! The gateway serves from its own OS threads (`Gateway::serve_workers`: one
//! single-threaded runtime per worker, `--gateway-workers`, default one per core), the
//! rest (scheduler, registry, DNS, control API) on the main multi-thread runtime; the
//! wake-on-request hook hands its work from a gateway worker to the main runtime.
//!
//! The addresses are also written to `run.json` in the state folder, so that other
//! commands (and tests) find a running stack.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use albless_gateway::{Gateway, GatewayConfig};
use albless_registry::dns::DnsServer;
use albless_registry::{Registry, RegistryOptions, ServiceConfig};
use albless_scheduler::{Scheduler, SchedulerOptions, TaskEvent};
use albless_spec::{RecordType, Stack};
use anyhow::Context as _;
use tokio::sync::{oneshot, watch};

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
    /// Gateway worker threads, each a single-threaded runtime with its own listening
    /// socket (SO_REUSEPORT). Default: the number of available cores.
    #[arg(long, value_name = "N")]
    gateway_workers: Option<NonZeroUsize>,
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

    // Before anything else: a second `up` must not touch the first one's containers.
    refuse_second_run(&state_dir)?;
    remove_leftovers(&stack).await?;

    let registry = registry_for(&stack, &state_dir)?;

    let dns_addr = args.dns_listen.unwrap_or(stack.discovery.dns_listen);
    let dns = DnsServer::bind(registry.clone(), dns_addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen for DNS on {dns_addr} (set `[discovery] dns_listen`, or \
                 `--dns-listen 127.0.0.1:0` for a free port)"
            )
        })?;
    let dns_addr = dns.local_addr();

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

    let listen = args.listen.unwrap_or(stack.api.listen);
    let gateway = Gateway::new(GatewayConfig::from_stack(&stack), registry.clone()).with_wake(
        Arc::new(SchedulerWake {
            scheduler: scheduler.handle(),
            runtime: tokio::runtime::Handle::current(),
        }),
    );
    let metrics = gateway.metrics();
    let workers = args
        .gateway_workers
        .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN));
    let (gateway_addr, mut gateway_done) =
        start_gateway(gateway, listen, workers, shutdown_rx.clone())
            .await
            .with_context(|| {
                format!(
                    "cannot listen for HTTP on {listen} (set `[api] listen`, or \
                     `--listen 127.0.0.1:0` for a free port)"
                )
            })?;

    let control = tokio::net::TcpListener::bind(args.control_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen for the control API on {} (`--control-listen 127.0.0.1:0` \
                 for a free port)",
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
    // The desired count the scheduler holds: the file's, or the one a `scale` before the
    // last stop left in the state folder.
    let counts = scheduler.handle();
    for (name, svc) in &stack.services {
        let desired = counts
            .describe_service(name)
            .map_or(svc.desired_count, |v| v.desired_count);
        let note = if desired == svc.desired_count {
            String::new()
        } else {
            format!(
                " (kept from the last run; the file says {})",
                svc.desired_count
            )
        };
        println!(
            "service {name}: {desired} task(s){note}, discovered as {name}.{}",
            stack.discovery.namespace
        );
    }

    let events = scheduler.events();
    let printer = tokio::spawn(print_events(events, stack.discovery.namespace.clone()));

    let dns_task = tokio::spawn(dns.run());
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

    // A gateway that stops by itself (its access log cannot be opened, a panic) stops
    // the stack rather than leaving it running without its entry point.
    let gateway_ended = tokio::select! {
        () = wait_for_signal() => None,
        ended = &mut gateway_done => Some(ended),
    };
    println!("albless: stopping");
    let _ = shutdown_tx.send(true);
    let _ = scheduler_task.await;
    let gateway_result = match gateway_ended {
        Some(ended) => ended,
        None => gateway_done.await,
    };
    let _ = control_task.await;
    dns_task.abort();
    printer.abort();
    let _ = std::fs::remove_file(&run_file);
    match gateway_result {
        Ok(Ok(())) => {}
        Ok(Err(err)) => return Err(err).context("the gateway stopped"),
        Err(_) => anyhow::bail!("the gateway thread panicked"),
    }
    println!("albless: stopped");
    Ok(())
}

/// How the gateway's serving ended: sent by its thread when `serve_workers` returns.
type GatewayDone = oneshot::Receiver<std::io::Result<()>>;

/// Starts the gateway on a dedicated OS thread, which `Gateway::serve_workers` blocks
/// as its worker 0, with `workers` workers in all; it serves until `shutdown` turns true
/// (or its sender is dropped), then drains. Returns the bound address once every
/// worker listens (port 0 picks one), and how serving ended, later.
async fn start_gateway(
    gateway: Gateway,
    listen: SocketAddr,
    workers: NonZeroUsize,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, GatewayDone)> {
    let (ready_tx, ready_rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("albless-gateway-0".to_string())
        .spawn(move || {
            let result = gateway.serve_workers(
                listen,
                workers,
                move |addr| {
                    let _ = ready_tx.send(addr);
                },
                async move {
                    let _ = shutdown.wait_for(|s| *s).await;
                },
            );
            let _ = done_tx.send(result);
        })?;
    match ready_rx.await {
        Ok(addr) => Ok((addr, done_rx)),
        // Not ready: the sockets could not be bound; the thread says why.
        Err(_) => Err(match done_rx.await {
            Ok(Err(err)) => err,
            _ => std::io::Error::other("the gateway stopped before listening"),
        }),
    }
}

/// With a Docker-driven service: connects to the engine and removes the stack's
/// containers left by an albless that was killed, saying so. An unreachable engine is
/// an error, before anything starts.
async fn remove_leftovers(stack: &Stack) -> anyhow::Result<()> {
    if !stack
        .services
        .values()
        .any(|s| s.driver == albless_spec::Driver::Docker)
    {
        return Ok(());
    }
    let engine = albless_docker::Engine::connect().await?;
    let removed = engine.cleanup_leftovers(&stack.name).await?;
    if !removed.is_empty() {
        let names: Vec<&str> = removed.iter().map(|l| l.name.as_str()).collect();
        println!(
            "removed {} leftover container(s) of {}: {}",
            removed.len(),
            stack.name,
            names.join(", ")
        );
    }
    Ok(())
}

/// The registry of a stack, kept in `<state_dir>/registry.redb`: its namespace and one
/// Cloud Map service per service, created unless the store already holds them (what
/// API clients created survives a restart; task instances are registered again).
/// Fails when the run file in `state_dir` names a live albless process: that `up` of the
/// same stack file holds the state folder (its registry store is locked).
fn refuse_second_run(state_dir: &std::path::Path) -> anyhow::Result<()> {
    let run_file = state_dir.join("run.json");
    let Ok(text) = std::fs::read(&run_file) else {
        return Ok(());
    };
    let pid = serde_json::from_slice::<serde_json::Value>(&text)
        .ok()
        .and_then(|run| run["pid"].as_u64());
    if let Some(pid) = pid
        && pid != u64::from(std::process::id())
        && std::path::Path::new(&format!("/proc/{pid}")).exists()
    {
        anyhow::bail!(
            "this stack is already running (albless pid {pid}, {}): stop it first (Ctrl-C), \
             or give this one another --state-dir",
            run_file.display()
        );
    }
    Ok(())
}

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
struct SchedulerWake {
    /// The scheduler, whose tasks run on the main runtime.
    scheduler: albless_scheduler::SchedulerHandle,
    /// The main runtime: the gateway polls the hook on one of its worker runtimes, so
    /// the wake itself (the scheduler's notifications and timers) is run here.
    runtime: tokio::runtime::Handle,
}

impl albless_gateway::Wake for SchedulerWake {
    fn request(&self, service: &str) {
        self.scheduler.record_request(service);
    }

    fn wake<'a>(
        &'a self,
        service: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = albless_gateway::Woken> + Send + 'a>>
    {
        Box::pin(async move {
            if !self.scheduler.scales_to_zero(service) {
                return albless_gateway::Woken::NotApplicable;
            }
            let scheduler = self.scheduler.clone();
            let service = service.to_string();
            let (tx, rx) = oneshot::channel();
            self.runtime.spawn(async move {
                let _ = tx.send(scheduler.wake(&service).await);
            });
            // No answer: the main runtime is shutting down.
            if rx.await.unwrap_or(false) {
                albless_gateway::Woken::Ready
            } else {
                albless_gateway::Woken::TimedOut
            }
        })
    }
}
