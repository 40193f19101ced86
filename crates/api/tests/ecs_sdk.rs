//! The ECS API driven by the real AWS SDK for Rust (`aws-sdk-ecs`) against the control
//! router on 127.0.0.1, port 0, in this process, with a real scheduler behind it. The
//! service has no local command, so its tasks fail to start: that exercises stopped
//! tasks, stop codes and the circuit breaker without running any process.

use std::sync::Arc;
use std::time::Duration;

use albless_api::{ApiState, router};
use albless_registry::{Registry, ServiceConfig};
use albless_scheduler::{Scheduler, SchedulerOptions};
use aws_sdk_ecs as ecs;
use ecs::types::{ContainerDefinition, DesiredStatus, KeyValuePair, PortMapping};

const STACK: &str = r#"
version = 1
[stack]
name = "sdk"
region = "ap-northeast-3"
[api.routes]
"$default" = { service = "web" }
[services.web]
image = "web:1"
port = 8080
desired_count = 1
[services.web.circuit_breaker]
threshold = 1
rollback = false
"#;

async fn start() -> ecs::Client {
    let stack = Arc::new(albless_spec::parse("albless.toml".as_ref(), STACK).unwrap());
    let registry = Registry::new();
    registry.create_namespace("ecs.local").unwrap();
    let config = ServiceConfig {
        srv: true,
        a: false,
        ttl: 10,
        custom_health: true,
    };
    registry.create_service("ecs.local", "web", config).unwrap();
    let options = SchedulerOptions {
        log_dir: std::env::temp_dir(),
        exe_dir: None,
        echo_output: false,
        state_file: None,
    };
    let scheduler = Scheduler::new(stack, registry.clone(), options);
    let handle = scheduler.handle();
    let (_stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _keep = _stop;
        scheduler.run(rx).await
    });

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(ApiState {
        registry,
        scheduler: Some(handle),
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = ecs::Config::builder()
        .behavior_version(ecs::config::BehaviorVersion::latest())
        .region(ecs::config::Region::new("ap-northeast-3"))
        .credentials_provider(ecs::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .endpoint_url(format!("http://{addr}"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    ecs::Client::from_conf(config)
}

#[tokio::test]
async fn sdk_describes_updates_and_sees_failed_tasks() {
    let client = start().await;

    // The first task fails to start; with threshold 1 the deployment fails at once.
    let mut failed = None;
    for _ in 0..100 {
        let out = client
            .describe_services()
            .cluster("sdk")
            .services("web")
            .send()
            .await
            .unwrap();
        let svc = &out.services()[0];
        if svc.deployments()[0].rollout_state().map(|r| r.as_str()) == Some("FAILED") {
            failed = Some(svc.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let svc = failed.expect("the deployment failed");
    assert_eq!(svc.service_name(), Some("web"));
    assert_eq!(svc.deployments()[0].failed_tasks(), 1);
    assert_eq!(
        svc.deployments()[0].rollout_state_reason(),
        Some("ECS deployment circuit breaker: tasks failed to start.")
    );
    assert!(svc.events().iter().any(|e| {
        e.message()
            .unwrap_or_default()
            .contains("deployment failed")
    }));

    let stopped = client
        .list_tasks()
        .cluster("sdk")
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.task_arns().len(), 1);
    let tasks = client
        .describe_tasks()
        .cluster("sdk")
        .tasks(&stopped.task_arns()[0])
        .send()
        .await
        .unwrap();
    let task = &tasks.tasks()[0];
    assert_eq!(task.last_status(), Some("STOPPED"));
    assert_eq!(
        task.stop_code().map(|c| c.as_str()),
        Some("TaskFailedToStart")
    );
    assert!(task.created_at().is_some() && task.stopped_at().is_some());

    // A new revision through RegisterTaskDefinition, then UpdateService.
    let container = ContainerDefinition::builder()
        .name("web")
        .image("web:2")
        .port_mappings(PortMapping::builder().container_port(8080).build())
        .environment(KeyValuePair::builder().name("V").value("2").build())
        .build();
    let registered = client
        .register_task_definition()
        .family("sdk-web")
        .container_definitions(container)
        .cpu("512")
        .memory("1024")
        .send()
        .await
        .unwrap();
    let td = registered.task_definition().unwrap();
    assert_eq!(td.revision(), 2);
    assert_eq!(td.container_definitions()[0].image(), Some("web:2"));
    let updated = client
        .update_service()
        .cluster("sdk")
        .service("web")
        .task_definition("sdk-web:2")
        .desired_count(2)
        .send()
        .await
        .unwrap();
    let svc = updated.service().unwrap();
    assert_eq!(svc.desired_count(), 2);
    assert_eq!(svc.deployments()[0].status(), Some("PRIMARY"));
    assert!(
        svc.task_definition()
            .unwrap()
            .ends_with(":task-definition/sdk-web:2")
    );
    let defs = client
        .list_task_definitions()
        .family_prefix("sdk-web")
        .send()
        .await
        .unwrap();
    assert_eq!(defs.task_definition_arns().len(), 2);
    let described = client
        .describe_task_definition()
        .task_definition("sdk-web:2")
        .send()
        .await
        .unwrap();
    assert_eq!(described.task_definition().unwrap().cpu(), Some("512"));

    // Typed errors.
    let err = client
        .update_service()
        .cluster("sdk")
        .service("nope")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_service_not_found_exception());
    let err = client
        .list_services()
        .cluster("other")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_cluster_not_found_exception());
    let err = client
        .describe_task_definition()
        .task_definition("sdk-web:7")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_client_exception());
    let err = client
        .stop_task()
        .cluster("sdk")
        .task("0123456789abcdef0123456789abcdef")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_invalid_parameter_exception());
}
