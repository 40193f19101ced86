//! The Docker driver against the real engine (`/var/run/docker.sock`, or `DOCKER_HOST`):
//! builds the example's `FROM scratch` image with no registry, runs tasks as containers
//! on their own loopback addresses, checks health inside them, stops, kills, and removes
//! leftovers. Without a reachable engine every test here but the first fails, saying so.
//!
//! Each test uses its own stack name and image tags, and removes what it made.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use albless_docker::{Engine, Error, Obtained};
use support::{Cleanup, Task, build, context, engine, exists, get, get_when_ready, unique};

#[tokio::test]
async fn an_absent_engine_is_its_own_error_naming_the_socket() {
    let socket = Path::new("/nonexistent/albless/docker.sock");
    let err = Engine::connect_to(socket).await.unwrap_err();
    assert!(
        matches!(&err, Error::EngineUnreachable { socket: s, .. } if s == socket),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("/nonexistent/albless/docker.sock"),
        "{err}"
    );
}

#[tokio::test]
async fn the_example_builds_and_two_replicas_serve_on_their_own_addresses() {
    let engine = engine().await;
    let id = unique();
    let stack = format!("albless-test-{id}");
    let tag = format!("albless-test-example:{id}");
    let _cleanup = Cleanup {
        stacks: vec![stack.clone()],
        images: vec![tag.clone()],
    };
    support::static_whoami();

    // The example's own context, as `albless up` builds it: FROM scratch, no registry.
    let output = build(&engine, &tag, &support::example_dir().join("app")).await;
    assert!(
        output.iter().any(|l| l.contains("FROM scratch")),
        "build output: {output:?}"
    );
    // Once built, an image without a build folder is the local one.
    let obtained = engine.ensure_image(&tag, None, &mut |_| {}).await.unwrap();
    assert_eq!(obtained, Obtained::Local);

    let logs = tempfile::tempdir().unwrap();
    let tasks = [
        Task::new(&stack, &tag, logs.path()),
        Task::new(&stack, &tag, logs.path()),
    ];
    assert_ne!(tasks[0].publish.ip(), tasks[1].publish.ip());
    let mut containers = Vec::new();
    for task in &tasks {
        containers.push(task.start(&engine).await);
    }

    for (task, container) in tasks.iter().zip(&containers) {
        // Each replica answers on its own loopback address, as itself.
        let (status, body) = get_when_ready(task.publish, "/").await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains(&task.task_id),
            "{} answered {body}",
            task.publish
        );
        assert!(body.contains("hello from a container"), "{body}");

        assert_eq!(
            container.name(),
            format!("albless-{stack}-backend-{}", &task.task_id[..8])
        );
        let inspect = engine
            .client()
            .inspect_container(container.id(), None)
            .await
            .unwrap();
        let labels = inspect
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default();
        assert_eq!(labels.get("albless.stack"), Some(&stack));
        assert_eq!(
            labels.get("albless.service").map(String::as_str),
            Some("backend")
        );
        assert_eq!(labels.get("albless.task"), Some(&task.task_id));
        let env = inspect
            .config
            .as_ref()
            .and_then(|c| c.env.clone())
            .unwrap_or_default();
        assert!(env.contains(&"HOST=0.0.0.0".to_string()), "{env:?}");
        assert!(!env.contains(&"HOST=127.0.0.1".to_string()), "{env:?}");
        let host = inspect.host_config.unwrap();
        assert_eq!(
            host.nano_cpus,
            Some(250_000_000),
            "256 CPU units are a quarter CPU"
        );
        assert_eq!(host.memory, Some(512 * 1024 * 1024));
        let binding = &host.port_bindings.unwrap()["8080/tcp"].clone().unwrap()[0];
        assert_eq!(
            binding.host_ip.as_deref(),
            Some(task.publish.ip().to_string().as_str())
        );
        assert_eq!(
            binding.host_port.as_deref(),
            Some(task.publish.port().to_string().as_str())
        );
    }

    // Stop: SIGTERM (the example's STOPSIGNAL); whoami drains and exits 0 at once.
    for (task, mut container) in tasks.iter().zip(containers) {
        assert_eq!(container.stop_signal(), "SIGTERM");
        let started = Instant::now();
        assert_eq!(container.stop(Duration::from_secs(20)).await.unwrap(), 0);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "stop took {:?}",
            started.elapsed()
        );
        assert!(
            !exists(&engine, container.id()).await,
            "a stopped container is removed"
        );
        assert!(
            get(task.publish, "/").await.is_err(),
            "{} still answers",
            task.publish
        );
        // Its output went to the task's log file.
        let log = std::fs::read_to_string(&task.log_file).unwrap();
        assert!(
            log.contains("albless-whoami listening on 0.0.0.0:8080"),
            "log: {log:?}"
        );
    }
}

#[tokio::test]
async fn cmd_checks_exec_in_the_container_and_cmd_shell_needs_a_shell() {
    let engine = engine().await;
    let id = unique();
    let stack = format!("albless-test-{id}");
    let tag = format!("albless-test-cmd:{id}");
    let _cleanup = Cleanup {
        stacks: vec![stack.clone()],
        images: vec![tag.clone()],
    };
    let ctx = context(&[], &[]);
    build(&engine, &tag, ctx.path()).await;
    let logs = tempfile::tempdir().unwrap();
    let task = Task::new(&stack, &tag, logs.path());
    let mut container = task.start(&engine).await;
    get_when_ready(task.publish, "/health").await;

    let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let limit = Duration::from_secs(5);
    container
        .exec_check(&argv(&["CMD", "/albless-whoami", "--version"]), limit)
        .await
        .unwrap();
    // A bare array is taken as CMD.
    container
        .exec_check(&argv(&["/albless-whoami", "--version"]), limit)
        .await
        .unwrap();
    match container
        .exec_check(&argv(&["CMD", "/albless-whoami", "--no-such-flag"]), limit)
        .await
    {
        Err(Error::CheckFailed { exit_code: 2, .. }) => {}
        other => panic!("a bad flag exits 2, got {other:?}"),
    }
    // FROM scratch has no /bin/sh: a CMD-SHELL check fails (126/127 or an exec error).
    let err = container
        .exec_check(&argv(&["CMD-SHELL", "exit 0"]), limit)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::CheckFailed { .. } | Error::Engine { .. }),
        "CMD-SHELL without a shell: {err:?}"
    );
    assert!(matches!(
        container.exec_check(&[], limit).await,
        Err(Error::EmptyCheck)
    ));
    container.stop(Duration::from_secs(10)).await.unwrap();
}

#[tokio::test]
async fn cmd_shell_checks_run_through_the_container_shell() {
    let engine = engine().await;
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.is_file(),
        "this test needs a static busybox at /bin/busybox (Debian: apt-get install busybox-static)"
    );
    let id = unique();
    let stack = format!("albless-test-{id}");
    let tag = format!("albless-test-shell:{id}");
    let _cleanup = Cleanup {
        stacks: vec![stack.clone()],
        images: vec![tag.clone()],
    };
    // The example image plus a shell: busybox and its applets (sh, wget, sleep, test).
    let extra = [
        "COPY busybox /bin/busybox".to_string(),
        r#"RUN ["/bin/busybox", "--install", "-s", "/bin"]"#.to_string(),
    ];
    let ctx = context(&extra, &[("busybox", busybox)]);
    build(&engine, &tag, ctx.path()).await;
    let logs = tempfile::tempdir().unwrap();
    let task = Task::new(&stack, &tag, logs.path());
    let mut container = task.start(&engine).await;
    get_when_ready(task.publish, "/health").await;

    let shell = |cmd: &str| vec!["CMD-SHELL".to_string(), cmd.to_string()];
    let limit = Duration::from_secs(5);
    // The usual ECS check: the app's health endpoint from inside the container.
    container
        .exec_check(
            &shell("wget -q -O /dev/null http://127.0.0.1:$PORT/health"),
            limit,
        )
        .await
        .unwrap();
    // The check sees the container's environment.
    container
        .exec_check(
            &shell(r#"test "$GREETING" = "hello from a container""#),
            limit,
        )
        .await
        .unwrap();
    match container
        .exec_check(&shell("echo not ready; exit 3"), limit)
        .await
    {
        Err(Error::CheckFailed {
            exit_code: 3,
            output,
        }) => assert_eq!(output, "not ready"),
        other => panic!("exit 3 fails the check, got {other:?}"),
    }
    let started = Instant::now();
    match container
        .exec_check(&shell("sleep 5"), Duration::from_millis(300))
        .await
    {
        Err(Error::CheckTimedOut { timeout }) => assert_eq!(timeout, Duration::from_millis(300)),
        other => panic!("a slow check times out, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "timed out after {:?}",
        started.elapsed()
    );
    container.stop(Duration::from_secs(10)).await.unwrap();
}

#[tokio::test]
async fn a_killed_container_is_seen_exiting() {
    let engine = engine().await;
    let id = unique();
    let stack = format!("albless-test-{id}");
    let tag = format!("albless-test-kill:{id}");
    let _cleanup = Cleanup {
        stacks: vec![stack.clone()],
        images: vec![tag.clone()],
    };
    let ctx = context(&[], &[]);
    build(&engine, &tag, ctx.path()).await;
    let logs = tempfile::tempdir().unwrap();
    let task = Task::new(&stack, &tag, logs.path());
    let mut container = task.start(&engine).await;
    get_when_ready(task.publish, "/health").await;

    // Nothing exits on its own: the wait is still pending.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), container.wait())
            .await
            .is_err()
    );
    // Killed from outside albless (OOM killer, `docker kill`).
    let kill = bollard::query_parameters::KillContainerOptionsBuilder::new()
        .signal("SIGKILL")
        .build();
    engine
        .client()
        .kill_container(container.id(), Some(kill))
        .await
        .unwrap();
    let code = tokio::time::timeout(Duration::from_secs(10), container.wait())
        .await
        .expect("the exit is observed")
        .unwrap();
    assert_eq!(code, 137);
    // Waiting again gives the same answer; stopping an exited container removes it.
    assert_eq!(container.wait().await.unwrap(), 137);
    assert_eq!(container.stop(Duration::from_secs(10)).await.unwrap(), 137);
    assert!(!exists(&engine, container.id()).await);
}

#[tokio::test]
async fn stop_kills_after_the_timeout_when_the_stop_signal_is_ignored() {
    let engine = engine().await;
    let id = unique();
    let stack = format!("albless-test-{id}");
    let tag = format!("albless-test-stop:{id}");
    let _cleanup = Cleanup {
        stacks: vec![stack.clone()],
        images: vec![tag.clone()],
    };
    // As PID 1, whoami ignores any signal it has no handler for, like SIGUSR1.
    let ctx = context(&["STOPSIGNAL SIGUSR1".to_string()], &[]);
    build(&engine, &tag, ctx.path()).await;
    let logs = tempfile::tempdir().unwrap();
    let task = Task::new(&stack, &tag, logs.path());
    let mut container = task.start(&engine).await;
    get_when_ready(task.publish, "/health").await;

    assert_eq!(
        container.stop_signal(),
        "SIGUSR1",
        "the image's stop signal is used"
    );
    let started = Instant::now();
    let code = container.stop(Duration::from_millis(1500)).await.unwrap();
    let took = started.elapsed();
    assert_eq!(code, 137, "killed after the stop timeout");
    assert!(
        took >= Duration::from_millis(1500),
        "killed before the timeout: {took:?}"
    );
    assert!(took < Duration::from_secs(10), "stop took {took:?}");
    assert!(!exists(&engine, container.id()).await);
}

#[tokio::test]
async fn leftovers_of_a_crash_are_removed_and_only_the_stacks_own() {
    let engine = engine().await;
    let id = unique();
    let stack = format!("albless-test-{id}");
    let other = format!("albless-test-{id}-other");
    let tag = format!("albless-test-leftover:{id}");
    let _cleanup = Cleanup {
        stacks: vec![stack.clone(), other.clone()],
        images: vec![tag.clone()],
    };
    let ctx = context(&[], &[]);
    build(&engine, &tag, ctx.path()).await;
    let logs = tempfile::tempdir().unwrap();

    let task = Task::new(&stack, &tag, logs.path());
    let container = task.start(&engine).await;
    get_when_ready(task.publish, "/health").await;
    let (crashed_id, crashed_name) = (container.id().to_string(), container.name().to_string());
    // albless dies without stopping it: the handle is dropped, the container runs on.
    drop(container);
    assert!(exists(&engine, &crashed_id).await);
    get(task.publish, "/health")
        .await
        .expect("the leftover still serves");

    let neighbour = Task::new(&other, &tag, logs.path());
    let mut neighbour_container = neighbour.start(&engine).await;

    let removed = engine.cleanup_leftovers(&stack).await.unwrap();
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(removed[0].id, crashed_id);
    assert_eq!(removed[0].name, crashed_name);
    assert_eq!(removed[0].service.as_deref(), Some("backend"));
    assert_eq!(removed[0].task_id.as_deref(), Some(task.task_id.as_str()));
    assert!(!exists(&engine, &crashed_id).await);
    assert!(
        get(task.publish, "/health").await.is_err(),
        "the leftover's port is closed"
    );
    assert!(engine.cleanup_leftovers(&stack).await.unwrap().is_empty());

    // Another stack's container is not touched.
    assert!(exists(&engine, neighbour_container.id()).await);
    neighbour_container
        .stop(Duration::from_secs(10))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_taken_port_fails_the_start_and_leaves_no_container() {
    let engine = engine().await;
    let id = unique();
    let stack = format!("albless-test-{id}");
    let tag = format!("albless-test-taken:{id}");
    let _cleanup = Cleanup {
        stacks: vec![stack.clone()],
        images: vec![tag.clone()],
    };
    let ctx = context(&[], &[]);
    build(&engine, &tag, ctx.path()).await;
    let logs = tempfile::tempdir().unwrap();
    let task = Task::new(&stack, &tag, logs.path());
    let _holder = std::net::TcpListener::bind(task.publish).unwrap();

    let err = engine
        .start(task.spec())
        .await
        .err()
        .expect("the port is taken");
    assert!(matches!(err, Error::Engine { .. }), "{err:?}");
    assert!(
        engine.cleanup_leftovers(&stack).await.unwrap().is_empty(),
        "nothing is left"
    );
}

#[tokio::test]
async fn images_that_cannot_be_had_are_typed_errors() {
    let engine = engine().await;
    let id = unique();

    // Not local, and no registry is reachable (or it has no such image).
    let absent = format!("albless-test-absent-{id}:v1");
    match engine.ensure_image(&absent, None, &mut |_| {}).await {
        Err(Error::Pull { image, message }) => {
            assert_eq!(image, absent);
            assert!(!message.is_empty());
        }
        other => panic!("expected a pull error, got {other:?}"),
    }

    // A build whose base image cannot be had.
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), format!("FROM {absent}\n")).unwrap();
    let tag = format!("albless-test-badbase:{id}");
    match engine
        .ensure_image(&tag, Some(ctx.path()), &mut |_| {})
        .await
    {
        Err(Error::Build {
            tag: t, message, ..
        }) => {
            assert_eq!(t, tag);
            assert!(
                message.contains(&absent) || !message.is_empty(),
                "{message}"
            );
        }
        other => panic!("expected a build error, got {other:?}"),
    }

    // A folder without a Dockerfile.
    let empty = tempfile::tempdir().unwrap();
    match engine
        .ensure_image(&tag, Some(empty.path()), &mut |_| {})
        .await
    {
        Err(Error::NoDockerfile { dir }) => assert_eq!(dir, empty.path()),
        other => panic!("expected NoDockerfile, got {other:?}"),
    }
}
