//! A file that sets every field (`tests/data/rich.toml`) is read back whole, and its copy
//! in `examples/rich` stays the same file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use albless_spec::chrono::NaiveDate;
use albless_spec::chrono_tz::Tz;
use albless_spec::*;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn load_rich() -> Stack {
    load(&data().join("rich.toml")).unwrap_or_else(|e| panic!("{}", e.render()))
}

#[test]
fn stack_wide_tables_are_read() {
    let stack = load_rich();
    assert_eq!(
        (stack.name.as_str(), stack.region.as_str()),
        ("rich", "eu-west-1")
    );
    let tags = BTreeMap::from([
        ("cost-center".to_owned(), "42".to_owned()),
        ("team".to_owned(), "platform".to_owned()),
    ]);
    assert_eq!(stack.tags, tags);

    let d = &stack.discovery;
    assert_eq!(
        (d.namespace.as_str(), d.record_type, d.ttl),
        ("rich.internal", RecordType::Srv, 30)
    );
    assert_eq!(d.dns_listen, "127.0.0.1:0".parse().unwrap());
    assert_eq!(d.health_propagation, Duration::from_secs(30));
    assert!(!d.custom_health_check);

    let vpc = Vpc::Existing {
        vpc_id: "vpc-0a1b2c3d4e5f60718".to_owned(),
        subnet_ids: vec![
            "subnet-0123456789abcdef0".to_owned(),
            "subnet-89abcdef".to_owned(),
        ],
    };
    assert_eq!(
        stack.network,
        Network {
            vpc,
            assign_public_ip: false
        }
    );
    assert_eq!(
        stack.aws,
        Aws {
            ecr_keep_images: 10,
            account_id: Some("123456789012".to_owned())
        }
    );
}

#[test]
fn api_and_routes_are_read() {
    let stack = load_rich();
    let api = &stack.api;
    assert_eq!(api.listen, "127.0.0.1:0".parse().unwrap());
    assert_eq!(api.stage, Stage::Named("prod".to_owned()));
    assert_eq!(api.stage.path_prefix(), Some("prod"));
    assert_eq!(api.integration_timeout, Duration::from_secs(10));
    assert_eq!(api.discovery_lag, Duration::from_secs(2));
    assert!(api.retry_connect_failures);
    assert_eq!(
        api.outlier,
        Some(Outlier {
            consecutive_failures: 3,
            eject: Duration::from_secs(10)
        })
    );
    let cors = Cors {
        allow_origins: vec![
            "https://app.example.com".into(),
            "http://localhost:3000".into(),
        ],
        allow_methods: vec!["GET".into(), "POST".into()],
        allow_headers: vec!["content-type".into(), "x-request-id".into()],
        expose_headers: vec!["x-backend".into()],
        allow_credentials: true,
        max_age: Some(600),
    };
    assert_eq!(api.cors, Some(cors));
    assert_eq!(
        api.throttle,
        Some(Throttle {
            rate: 100.0,
            burst: 50
        })
    );
    let log = api.access_log.as_ref().unwrap();
    assert_eq!(
        log.format,
        "$context.requestId $context.httpMethod $context.path $context.status"
    );
    assert_eq!(log.file, Some(data().join("logs/access.log")));

    let keys: Vec<String> = api.routes.iter().map(|r| r.key.to_string()).collect();
    assert_eq!(keys, ["$default", "GET /users/{id}", "POST /jobs"]);
    let [default, user, jobs] = &api.routes[..] else {
        unreachable!()
    };

    let to_path = ParamMapping {
        action: ParamAction::Overwrite,
        target: ParamTarget::Path,
        value: "$request.path".into(),
    };
    assert_eq!(default.request_parameters, [to_path]);
    assert_eq!(default.integration_timeout(api), Duration::from_secs(10));
    assert_eq!(default.effective_throttle(api), api.throttle);

    assert_eq!(
        (user.service.as_str(), jobs.service.as_str()),
        ("web", "worker")
    );
    assert_eq!(user.integration_timeout(api), Duration::from_secs(2));
    assert_eq!(
        user.effective_throttle(api),
        Some(Throttle {
            rate: 5.5,
            burst: 10
        })
    );
    let mapping = |action, target, value: &str| ParamMapping {
        action,
        target,
        value: value.into(),
    };
    let request = [
        mapping(
            ParamAction::Append,
            ParamTarget::Header("x-user-id".into()),
            "$request.path.id",
        ),
        mapping(
            ParamAction::Overwrite,
            ParamTarget::QueryString("source".into()),
            "gateway",
        ),
        mapping(
            ParamAction::Remove,
            ParamTarget::Header("x-debug".into()),
            "''",
        ),
    ];
    assert_eq!(user.request_parameters, request);
    let response = BTreeMap::from([(
        404,
        vec![
            mapping(ParamAction::Overwrite, ParamTarget::StatusCode, "410"),
            mapping(
                ParamAction::Append,
                ParamTarget::Header("x-request-id".into()),
                "${context.requestId}",
            ),
        ],
    )]);
    assert_eq!(user.response_parameters, response);
    assert!(jobs.request_parameters.is_empty() && jobs.response_parameters.is_empty());
}

#[test]
fn services_are_read() {
    let stack = load_rich();
    let web = &stack.services["web"];
    assert_eq!(web.driver, Driver::Process);
    assert_eq!(web.build, Some(data().join("app")));
    assert_eq!(
        (web.cpu, web.memory, web.arch, web.desired_count),
        (512, 1024, Arch::Arm64, 2)
    );
    assert_eq!(web.stop_timeout, Duration::from_secs(10));
    assert_eq!(web.healthy_after, Duration::from_secs(5));
    assert_eq!((web.min_healthy_percent, web.max_percent), (50, 150));
    assert_eq!(
        web.circuit_breaker,
        CircuitBreaker {
            enable: true,
            rollback: false,
            threshold: Some(3)
        }
    );
    assert_eq!(web.drain(&stack.api), Duration::from_secs(3));
    assert_eq!(
        web.capacity,
        [
            CapacityItem {
                provider: CapacityProvider::Fargate,
                base: 1,
                weight: 1
            },
            CapacityItem {
                provider: CapacityProvider::FargateSpot,
                base: 0,
                weight: 3
            },
        ]
    );
    let names: Vec<&str> = web.schedule.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["office-hours", "night", "launch-day"]);
    let office = &web.schedule[0];
    assert_eq!(office.timezone, Tz::Asia__Tokyo);
    assert_eq!(
        (office.min_capacity, office.max_capacity),
        (Some(2), Some(4))
    );
    let ScheduleExpr::Cron(cron) = &office.schedule else {
        panic!("{office:?}")
    };
    assert_eq!(cron.to_string(), "cron(0 8 ? * MON-FRI *)");
    assert_eq!(cron.day_of_week, "MON-FRI");
    let launch = &web.schedule[2];
    let at = NaiveDate::from_ymd_opt(2030, 1, 15)
        .unwrap()
        .and_hms_opt(9, 0, 0)
        .unwrap();
    assert_eq!(launch.schedule, ScheduleExpr::At(at));
    assert_eq!(
        (launch.timezone, launch.min_capacity, launch.max_capacity),
        (Tz::UTC, Some(3), None)
    );
    assert_eq!(web.logging, Some(Logging { retention_days: 14 }));
    assert_eq!(web.scale_to_zero, None);
    let hc = web.health_check.as_ref().unwrap();
    assert_eq!(hc.start_period, Duration::from_secs(10));

    let worker = &stack.services["worker"];
    assert_eq!(
        worker.image.as_deref(),
        Some("public.ecr.aws/example/worker:1.0")
    );
    assert_eq!(
        (worker.driver, worker.build.as_ref()),
        (Driver::Process, None)
    );
    assert_eq!((worker.min_healthy_percent, worker.max_percent), (0, 200));
    // No `drain_ms`: the API's discovery lag.
    assert_eq!(worker.drain, None);
    assert_eq!(worker.drain(&stack.api), Duration::from_secs(2));
    assert_eq!(
        worker.schedule[0].schedule,
        ScheduleExpr::Rate(Duration::from_secs(3600))
    );
    assert_eq!(
        worker.scale_to_zero,
        Some(ScaleToZero {
            idle_after: Duration::from_secs(600),
            wake_timeout: Duration::from_secs(20)
        })
    );
    assert_eq!(worker.logging, None);
}

#[test]
fn the_example_copy_is_the_same_file_and_loads() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/rich/albless.toml");
    let copy = std::fs::read_to_string(&example).unwrap();
    let original = std::fs::read_to_string(data().join("rich.toml")).unwrap();
    assert!(
        copy == original,
        "examples/rich/albless.toml differs from tests/data/rich.toml"
    );
    let stack = load(&example).unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(
        stack.services["web"].build,
        Some(example.parent().unwrap().join("app"))
    );
}

#[test]
fn the_reference_example_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join("docs/albless-toml.md")).unwrap();
    let start = doc.rfind("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + doc[start..].find("```").expect("a closed block");
    // Read as if it sat beside the example, so `build = "app"` finds its folder.
    let stack = parse(&root.join("examples/rich/albless.toml"), &doc[start..end])
        .unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(stack.services.len(), 2);
}
