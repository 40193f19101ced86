//! The shipped example reads back as the exact stack, every default spelled out.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

const EXAMPLE: &str = include_str!("../../../../examples/hello/albless.toml");

#[test]
fn example_parses_to_the_expected_stack() {
    let stack = parse(Path::new("examples/hello/albless.toml"), EXAMPLE).unwrap();
    let backend = Service {
        name: "backend".to_owned(),
        command: Some(vec!["albless-whoami".to_owned()]),
        image: Some("albless-whoami:latest".to_owned()),
        port: 8080,
        cpu: 256,
        memory: 512,
        arch: Arch::Arm64,
        desired_count: 2,
        environment: BTreeMap::from([("GREETING".to_owned(), "hello from albless".to_owned())]),
        health_check: Some(HealthCheck {
            kind: HealthCheckKind::Http {
                path: "/health".to_owned(),
            },
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            retries: 2,
            start_period: Duration::ZERO,
        }),
        stop_timeout: Duration::from_secs(30),
        driver: Driver::Process,
        build: None,
        healthy_after: Duration::from_secs(40),
        min_healthy_percent: 100,
        max_percent: 200,
        circuit_breaker: CircuitBreaker {
            enable: true,
            rollback: true,
            threshold: None,
        },
        drain: None,
        capacity: vec![CapacityItem {
            provider: CapacityProvider::Fargate,
            base: 0,
            weight: 1,
        }],
        schedule: Vec::new(),
        scale_to_zero: None,
        logging: None,
    };
    let want = Stack {
        path: PathBuf::from("examples/hello/albless.toml"),
        dir: PathBuf::from("examples/hello"),
        version: 1,
        name: "hello".to_owned(),
        region: "ap-northeast-3".to_owned(),
        tags: BTreeMap::new(),
        api: Api {
            listen: "127.0.0.1:8000".parse().unwrap(),
            routes: vec![Route {
                key: RouteKey::Default,
                service: "backend".to_owned(),
                throttle: None,
                request_parameters: Vec::new(),
                response_parameters: BTreeMap::new(),
                timeout: None,
            }],
            stage: Stage::Default,
            integration_timeout: Duration::from_secs(30),
            discovery_lag: Duration::ZERO,
            retry_connect_failures: false,
            outlier: None,
            cors: None,
            throttle: None,
            access_log: None,
        },
        discovery: Discovery {
            namespace: "ecs.local".to_owned(),
            record_type: RecordType::Srv,
            ttl: 10,
            dns_listen: "127.0.0.1:8053".parse().unwrap(),
            health_propagation: Duration::ZERO,
            custom_health_check: true,
        },
        services: BTreeMap::from([("backend".to_owned(), backend)]),
        network: Network {
            vpc: Vpc::New {
                cidr: Ipv4Cidr {
                    addr: Ipv4Addr::new(10, 0, 0, 0),
                    prefix: 16,
                },
                azs: 1,
            },
            assign_public_ip: true,
        },
        aws: Aws {
            ecr_keep_images: 5,
            account_id: None,
        },
    };
    assert_eq!(stack, want);
}

#[test]
fn load_reads_the_example_and_reports_unreadable_files() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello/albless.toml");
    let stack = load(&path).unwrap();
    assert_eq!(stack.dir, path.parent().unwrap());
    assert_eq!(stack.name, "hello");

    let missing = Path::new(env!("CARGO_MANIFEST_DIR")).join("no-such-albless.toml");
    let err = load(&missing).unwrap_err();
    assert!(matches!(err, SpecError::Read { .. }));
    assert_eq!((err.line(), err.column(), err.field()), (None, None, None));
    assert!(
        err.render()
            .starts_with(&format!("error: cannot read {}: ", missing.display()))
    );
}
