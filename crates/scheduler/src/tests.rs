//! Scheduler tests on a paused tokio clock: services whose tasks cannot start exercise
//! the circuit breaker, the restart backoff and the hour stopped tasks stay visible,
//! without any real wait; persistence is checked by a save and load round trip.

use std::sync::Arc;
use std::time::Duration;

use albless_registry::{Registry, ServiceConfig};
use tokio::sync::watch;

use crate::*;

fn stack(extra: &str) -> Arc<albless_spec::Stack> {
    let text = format!(
        r#"
version = 1
[stack]
name = "t"
region = "ap-northeast-3"
[api.routes]
"$default" = {{ service = "web" }}
[services.web]
# The process driver with a program that does not exist: every task fails to start,
# with no Docker engine involved.
command = ["/nonexistent/albless-test-app"]
port = 8080
desired_count = 1
{extra}
"#
    );
    Arc::new(albless_spec::parse(std::path::Path::new("albless.toml"), &text).expect("valid stack"))
}

fn scheduler(stack: Arc<albless_spec::Stack>, state_file: Option<std::path::PathBuf>) -> Scheduler {
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
        state_file,
    };
    Scheduler::new(stack, registry, options)
}

#[tokio::test(start_paused = true)]
async fn the_circuit_breaker_trips_after_three_failed_starts() {
    // A command that cannot run: every task fails to start, as a broken image would.
    let s = scheduler(stack(""), None);
    let handle = s.handle();
    let (stop, rx) = watch::channel(false);
    let run = tokio::spawn(s.run(rx));

    // The backoff between failed starts is 1 s, then 2 s: the third failure comes
    // after about 3 s of (paused, auto-advancing) time.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let svc = handle.describe_service("web").unwrap();
    let d = &svc.deployments[0];
    assert_eq!(d.rollout_state, RolloutState::Failed, "{svc:#?}");
    assert_eq!(d.failed_tasks, 3, "ECS's threshold for desired 1 is 3");
    assert!(svc.events.iter().any(|e| {
        e.message
            .contains("deployment failed: tasks failed to start")
    }));
    // A failed deployment launches nothing more.
    tokio::time::sleep(Duration::from_secs(120)).await;
    let stopped = handle.list_tasks(&TaskFilter {
        desired_status: Some("STOPPED".into()),
        ..Default::default()
    });
    assert_eq!(stopped.len(), 3);
    let task = handle.describe_task(&stopped[0]).unwrap();
    assert_eq!(task.stop_code, Some(StopCode::TaskFailedToStart));
    assert_eq!(task.last_status, TaskStatus::Stopped);

    // Stopped tasks stay visible for an hour, then are forgotten.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    handle
        .update_service("web", ServiceUpdate::default())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(handle.describe_task(&stopped[0]).is_none());

    let _ = stop.send(true);
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn update_service_starts_a_deployment_of_the_new_revision() {
    let s = scheduler(
        stack("[services.web.circuit_breaker]\nthreshold = 1\nrollback = false"),
        None,
    );
    let handle = s.handle();
    let mut spec = handle.describe_task_definition("t-web").unwrap().spec;
    spec.environment.insert("V".into(), "2".into());
    let td = handle.register_task_definition(spec).unwrap();
    assert_eq!(td.revision, 2);
    let svc = handle
        .update_service(
            "web",
            ServiceUpdate {
                task_definition: Some("t-web".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(svc.deployments.len(), 2);
    assert_eq!(svc.deployments[0].status, "PRIMARY");
    assert!(
        svc.deployments[0]
            .task_definition_arn
            .ends_with("task-definition/t-web:2")
    );
    assert_eq!(
        handle
            .update_service("nope", ServiceUpdate::default())
            .unwrap_err(),
        SchedulerError::ServiceNotFound
    );
    assert_eq!(
        handle
            .update_service(
                "web",
                ServiceUpdate {
                    task_definition: Some("t-web:9".into()),
                    ..Default::default()
                }
            )
            .unwrap_err(),
        SchedulerError::TaskDefinitionNotFound
    );
}

#[tokio::test(start_paused = true)]
async fn desired_counts_revisions_and_history_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scheduler.json");
    let s = scheduler(stack(""), Some(file.clone()));
    let handle = s.handle();
    let mut spec = handle.describe_task_definition("t-web").unwrap().spec;
    spec.environment.insert("V".into(), "2".into());
    handle.register_task_definition(spec).unwrap();
    handle
        .update_service(
            "web",
            ServiceUpdate {
                desired_count: Some(3),
                task_definition: Some("t-web:2".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let (stop, rx) = watch::channel(false);
    let run = tokio::spawn(s.run(rx));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = stop.send(true);
    run.await.unwrap();

    // As after `albless deploy`: the file now says what revision 2 says.
    let deployed = "[services.web.environment]\nV = \"2\"";
    let again = scheduler(stack(deployed), Some(file.clone()));
    let h = again.handle();
    let svc = h.describe_service("web").unwrap();
    assert_eq!(svc.desired_count, 3, "the scaled count, not the file's 1");
    assert!(
        svc.task_definition_arn.ends_with("t-web:2"),
        "{}",
        svc.task_definition_arn
    );
    assert_eq!(h.list_task_definitions(None).len(), 2);
    assert!(
        svc.events.iter().any(|e| e.message.contains("has started")),
        "events kept"
    );

    // A desired count edited in the file since wins.
    let edited = scheduler(
        stack(deployed).as_ref().clone().into_with_desired(5),
        Some(file.clone()),
    );
    assert_eq!(
        edited
            .handle()
            .describe_service("web")
            .unwrap()
            .desired_count,
        5
    );

    // A definition edited in the file since becomes the next revision.
    let changed = scheduler(stack(""), Some(file));
    let svc = changed.handle().describe_service("web").unwrap();
    assert!(
        svc.task_definition_arn.ends_with("t-web:3"),
        "{}",
        svc.task_definition_arn
    );
}

trait WithDesired {
    fn into_with_desired(self, n: u32) -> Arc<albless_spec::Stack>;
}

impl WithDesired for albless_spec::Stack {
    fn into_with_desired(mut self, n: u32) -> Arc<albless_spec::Stack> {
        self.services.get_mut("web").unwrap().desired_count = n;
        Arc::new(self)
    }
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_action_raises_the_desired_count_to_its_minimum() {
    let extra = r#"
[[services.web.schedule]]
name = "busy"
schedule = "rate(5 minutes)"
min_capacity = 3
[[services.web.schedule]]
name = "quiet"
schedule = "rate(10 minutes)"
max_capacity = 2
"#;
    let s = scheduler(stack(extra), None);
    let handle = s.handle();
    let (stop, rx) = watch::channel(false);
    let run = tokio::spawn(s.run(rx));

    tokio::time::sleep(Duration::from_secs(299)).await;
    assert_eq!(
        handle.describe_service("web").unwrap().desired_count,
        1,
        "nothing fired yet"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        handle.describe_service("web").unwrap().desired_count,
        3,
        "below the new min: raised"
    );
    // At 10 min both fire: `busy` keeps min 3, then `quiet` caps at max 2 (and lowers
    // the minimum with it, as a crossing bound gives way to the action's).
    tokio::time::sleep(Duration::from_secs(300)).await;
    let svc = handle.describe_service("web").unwrap();
    assert_eq!(svc.desired_count, 2, "{:#?}", svc.events);
    assert!(
        svc.events
            .iter()
            .any(|e| e.message.contains("scheduled action quiet"))
    );

    let _ = stop.send(true);
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_idle_scale_to_zero_service_goes_to_zero_and_a_request_wakes_it() {
    let s = scheduler(
        stack("[services.web.scale_to_zero]\nidle_after = 30\nwake_timeout = 2"),
        None,
    );
    let handle = s.handle();
    let (stop, rx) = watch::channel(false);
    let run = tokio::spawn(s.run(rx));

    tokio::time::sleep(Duration::from_secs(20)).await;
    handle.record_request("web");
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(
        handle.describe_service("web").unwrap().desired_count,
        1,
        "a request 20 s ago keeps it up"
    );
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(
        handle.describe_service("web").unwrap().desired_count,
        0,
        "idle for 30 s: asleep"
    );

    // No task can start here (no such program), so the wake times out after 2 s.
    assert!(handle.scales_to_zero("web"));
    let started = tokio::time::Instant::now();
    assert!(!handle.wake("web").await);
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!(
        handle.describe_service("web").unwrap().desired_count,
        1,
        "woken to its old count"
    );

    let _ = stop.send(true);
    run.await.unwrap();
}
