//! The registry benchmark's server (run by `bench/registry.sh`, not a test): a registry
//! holding namespace `ecs.local` and service `backend` with `N` instances, served on the
//! control router (Cloud Map API) and the DNS server, as `albless up` serves them.
//!
//! Usage: `bench_registry N` (N instances, default 10). Prints `control: http://ADDR`
//! and `dns: ADDR`, then serves until killed. `WORKERS` sets the tokio worker threads
//! (default 1).

use std::collections::BTreeMap;

use albless_api::{ApiState, router};
use albless_registry::dns::DnsServer;
use albless_registry::{ATTR_IPV4, ATTR_PORT, Registry, ServiceConfig};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let workers = std::env::var("WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(serve(n));
}

async fn serve(n: usize) {
    let registry = Registry::new();
    registry.create_namespace("ecs.local").expect("namespace");
    let config = ServiceConfig {
        srv: true,
        a: false,
        ttl: 10,
        custom_health: true,
    };
    registry
        .create_service("ecs.local", "backend", config)
        .expect("service");
    let service_id = registry
        .snapshot()
        .service("ecs.local", "backend")
        .expect("service")
        .info
        .id
        .clone();
    for i in 0..n {
        let attributes = BTreeMap::from([
            (
                ATTR_IPV4.to_string(),
                format!("10.0.{}.{}", i / 250, i % 250 + 1),
            ),
            (ATTR_PORT.to_string(), "8080".to_string()),
            ("ECS_SERVICE_NAME".to_string(), "backend".to_string()),
        ]);
        // Task ids like ECS's: 32 hex digits.
        let id = format!("{:032x}", i + 1);
        registry
            .register(&service_id, &id, attributes, None)
            .expect("register");
    }

    let dns = DnsServer::bind(registry.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("dns");
    println!("dns: {}", dns.local_addr());
    let control = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("control");
    println!("control: http://{}", control.local_addr().expect("addr"));
    tokio::spawn(dns.run());
    let app = router(ApiState {
        registry,
        scheduler: None,
    });
    axum::serve(control, app).await.expect("serve");
}
