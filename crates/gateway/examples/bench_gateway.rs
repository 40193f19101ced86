//! A gateway alone, for `bench/gateway.sh`: a `$default` route to one service whose
//! instances are given on the command line, registered healthy in an in-memory registry.
//! The same `Gateway` that `albless up` runs, without the scheduler, DNS server and
//! control API, so the benchmark builds only this crate in release mode.
//!
//! ```text
//! bench_gateway --listen 127.0.0.1:8000 --workers 1 127.0.0.2:8080 127.0.0.3:8080
//! ```
//!
//! Serves with `Gateway::serve_workers`: `--workers` single-threaded workers, each with its
//! own `SO_REUSEPORT` listener (default 1, as the bench compares with one nginx worker).
//! Prints `listening <addr>` once it serves; stops on SIGTERM or Ctrl-C.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;

use albless_gateway::{Gateway, GatewayConfig};
use albless_registry::{ATTR_IPV4, ATTR_PORT, Registry, ServiceConfig};
use albless_spec::Route;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen: SocketAddr = "127.0.0.1:8000".parse()?;
    let mut workers = 1usize;
    let mut instances = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or("--listen ADDR")?.parse()?,
            "--workers" => workers = args.next().ok_or("--workers N")?.parse()?,
            addr => instances.push(addr.parse::<SocketAddr>()?),
        }
    }

    let registry = Registry::new();
    registry.create_namespace("ecs.local")?;
    let service = ServiceConfig {
        srv: true,
        a: false,
        ttl: 10,
        custom_health: true,
    };
    registry.create_service("ecs.local", "backend", service)?;
    for (i, addr) in instances.iter().enumerate() {
        let attributes = BTreeMap::from([
            (ATTR_IPV4.to_string(), addr.ip().to_string()),
            (ATTR_PORT.to_string(), addr.port().to_string()),
        ]);
        registry.register_instance("ecs.local", "backend", &format!("task-{i}"), attributes)?;
    }

    let config = GatewayConfig::new(
        "ecs.local",
        vec![Route::new("$default".parse()?, "backend")],
    );
    let gateway = Gateway::new(config, registry);
    let workers = NonZeroUsize::new(workers).ok_or("--workers must be at least 1")?;
    gateway.serve_workers(
        listen,
        workers,
        |addr| println!("listening {addr}"),
        async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        },
    )?;
    Ok(())
}
