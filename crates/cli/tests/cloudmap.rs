//! The Cloud Map API of `albless up`, end to end: the real binary on the example stack,
//! driven by the real AWS CLI v1 (and by raw AWS JSON 1.1 for the crash burst), with
//! traffic through the gateway and DNS through `dig`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use albless_testkit::{Up, dig, http, python_tool, workspace_root};
use serde_json::{Value, json};

fn example() -> PathBuf {
    workspace_root().join("examples/hello/albless.toml")
}

fn albless() -> &'static std::path::Path {
    env!("CARGO_BIN_EXE_albless").as_ref()
}

/// `aws servicediscovery ARGS` against the control address: the JSON it printed, or
/// its stderr when it failed.
fn aws(up: &Up, args: &[&str]) -> Result<Value, String> {
    let out = Command::new(python_tool("aws"))
        .arg("servicediscovery")
        .args(args)
        .args(["--endpoint-url", &up.control, "--output", "json"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "ap-northeast-3")
        .env("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("the AWS CLI runs");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    })
}

/// One raw AWS JSON 1.1 call: (status, body).
fn call(agent: &ureq::Agent, control: &str, op: &str, body: Value) -> Result<(u16, Value), String> {
    let mut resp = agent
        .post(control)
        .header("X-Amz-Target", format!("Route53AutoNaming_v20170314.{op}"))
        .header("Content-Type", "application/x-amz-json-1.1")
        .send(body.to_string())
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// The id of the stack's `backend` service in `ecs.local`.
fn backend_id(up: &Up) -> String {
    let ns = aws(up, &["list-namespaces"]).unwrap();
    let ns_id = ns["Namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["Name"] == "ecs.local")
        .expect("the stack's namespace is listed")["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let filter = format!("Name=NAMESPACE_ID,Values={ns_id},Condition=EQ");
    let services = aws(up, &["list-services", "--filters", &filter]).unwrap();
    let backend = services["Services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Name"] == "backend");
    backend.expect("backend is listed")["Id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A tiny HTTP server on 127.0.0.1 answering every request with `{"task_id":"external"}`.
fn external_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let body = r#"{"task_id":"external"}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body.as_bytes());
            });
        }
    });
    addr
}

fn instance_ids(discovered: &Value) -> Vec<String> {
    let instances = discovered["Instances"].as_array().unwrap();
    instances
        .iter()
        .map(|i| i["InstanceId"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn aws_cli_registers_an_external_backend_that_gets_traffic() {
    let up = Up::start(albless(), &example(), &["--quiet-tasks"]);
    let tasks = up.wait_healthy(2, Duration::from_secs(30));
    assert_eq!(tasks.len(), 2, "two healthy tasks: {:?}", up.lines());
    let backend = backend_id(&up);
    let external = external_backend();

    // Register the external backend in the stack's own service; the operation resolves.
    let port = external.port().to_string();
    let attrs = format!("AWS_INSTANCE_IPV4=127.0.0.1,AWS_INSTANCE_PORT={port},stage=ext");
    let op = aws(
        &up,
        &[
            "register-instance",
            "--service-id",
            &backend,
            "--instance-id",
            "external",
        ],
    )
    .map(|_| ())
    .expect_err("Attributes is required");
    assert!(op.contains("attributes"), "{op}");
    let op = aws(
        &up,
        &[
            "register-instance",
            "--service-id",
            &backend,
            "--instance-id",
            "external",
            "--attributes",
            &attrs,
        ],
    )
    .unwrap();
    let op_id = op["OperationId"].as_str().unwrap();
    let op = aws(&up, &["get-operation", "--operation-id", op_id]).unwrap();
    assert_eq!(op["Operation"]["Status"], "SUCCESS");
    assert_eq!(op["Operation"]["Type"], "REGISTER_INSTANCE");
    assert_eq!(op["Operation"]["Targets"]["INSTANCE"], "external");

    // Discovery sees the tasks (with ECS's id and attributes) and the external backend.
    let found = aws(
        &up,
        &[
            "discover-instances",
            "--namespace-name",
            "ecs.local",
            "--service-name",
            "backend",
        ],
    )
    .unwrap();
    let ids = instance_ids(&found);
    assert_eq!(ids.len(), 3, "{found}");
    assert!(ids.contains(&"external".to_string()));
    for task in &tasks {
        let inst = found["Instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["InstanceId"] == task.task_id.as_str())
            .expect("each task is an instance");
        assert_eq!(
            inst["Attributes"]["AWS_INSTANCE_IPV4"],
            task.addr.ip().to_string()
        );
        assert_eq!(
            inst["Attributes"]["AWS_INSTANCE_PORT"],
            task.addr.port().to_string()
        );
        assert_eq!(inst["HealthStatus"], "HEALTHY");
    }
    let only_ext = aws(
        &up,
        &[
            "discover-instances",
            "--namespace-name",
            "ecs.local",
            "--service-name",
            "backend",
            "--query-parameters",
            "stage=ext",
        ],
    )
    .unwrap();
    assert_eq!(instance_ids(&only_ext), ["external"]);

    // The gateway routes to it, and DNS lists it.
    let agent = http();
    let mut external_hits = 0;
    for i in 0..60 {
        let mut resp = agent
            .get(format!("{}/hello?i={i}", up.gateway))
            .call()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let body = resp.body_mut().read_to_string().unwrap();
        external_hits += usize::from(body.contains(r#""task_id":"external""#));
    }
    assert!(
        external_hits > 5,
        "the external backend got {external_hits} of 60 requests"
    );
    let srv = dig(up.dns, "backend.ecs.local", "SRV");
    assert!(
        srv.contains(&format!("1 1 {port} external.backend.ecs.local.")),
        "{srv:?}"
    );

    // Custom health (propagation 0 in the example): unhealthy leaves discovery and
    // traffic, and comes back.
    let health = |status: &str| {
        aws(
            &up,
            &[
                "update-instance-custom-health-status",
                "--service-id",
                &backend,
                "--instance-id",
                "external",
                "--status",
                status,
            ],
        )
        .unwrap()
    };
    health("UNHEALTHY");
    let found = aws(
        &up,
        &[
            "discover-instances",
            "--namespace-name",
            "ecs.local",
            "--service-name",
            "backend",
        ],
    )
    .unwrap();
    assert!(!instance_ids(&found).contains(&"external".to_string()));
    let all = aws(
        &up,
        &[
            "discover-instances",
            "--namespace-name",
            "ecs.local",
            "--service-name",
            "backend",
            "--health-status",
            "ALL",
        ],
    )
    .unwrap();
    assert_eq!(instance_ids(&all).len(), 3);
    assert_eq!(found["InstancesRevision"], all["InstancesRevision"]);
    for i in 0..30 {
        let mut resp = agent
            .get(format!("{}/hello?j={i}", up.gateway))
            .call()
            .unwrap();
        let body = resp.body_mut().read_to_string().unwrap();
        assert!(
            !body.contains("external"),
            "an unhealthy instance got traffic"
        );
    }
    let status = aws(
        &up,
        &["get-instances-health-status", "--service-id", &backend],
    )
    .unwrap();
    assert_eq!(status["Status"]["external"], "UNHEALTHY");
    health("HEALTHY");

    // Errors in AWS's shape, as the CLI reports them.
    let err = aws(&up, &["get-service", "--id", "srv-doesnotexist0"]).unwrap_err();
    assert!(err.contains("(ServiceNotFound)"), "{err}");
    let err = aws(
        &up,
        &[
            "discover-instances",
            "--namespace-name",
            "nope.local",
            "--service-name",
            "backend",
        ],
    )
    .unwrap_err();
    assert!(err.contains("(NamespaceNotFound)"), "{err}");
    let err = aws(&up, &["delete-service", "--id", &backend]).unwrap_err();
    assert!(err.contains("(ResourceInUse)"), "{err}");

    // Deregistering resolves too and is listed by service.
    let op = aws(
        &up,
        &[
            "deregister-instance",
            "--service-id",
            &backend,
            "--instance-id",
            "external",
        ],
    )
    .unwrap();
    let filter = format!("Name=SERVICE_ID,Values={backend},Condition=EQ");
    let ops = aws(&up, &["list-operations", "--filters", &filter]).unwrap();
    let listed: Vec<_> = ops["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["Id"].clone())
        .collect();
    assert!(listed.contains(&op["OperationId"]), "{ops}");
    assert_eq!(listed.len(), 2);
}

#[test]
fn registrations_survive_a_restart_and_a_kill_9() {
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().join("state");
    let start = || Up::start_in(albless(), &example(), &state_dir, &["--quiet-tasks"]);

    // A clean restart keeps namespaces, services, instances, health and operations, and
    // `up` starts although the stack's own namespace and services are in the store.
    let (ns_op, svc_id, old_tasks) = {
        let up = start();
        let old_tasks = up.wait_healthy(2, Duration::from_secs(30));
        let ns_op = aws(&up, &["create-http-namespace", "--name", "apps"]).unwrap();
        let ns_op = ns_op["OperationId"].as_str().unwrap().to_string();
        let op = aws(&up, &["get-operation", "--operation-id", &ns_op]).unwrap();
        let ns_id = op["Operation"]["Targets"]["NAMESPACE"]
            .as_str()
            .unwrap()
            .to_string();
        let svc = aws(
            &up,
            &[
                "create-service",
                "--name",
                "web",
                "--namespace-id",
                &ns_id,
                "--health-check-custom-config",
                "FailureThreshold=1",
            ],
        )
        .unwrap();
        let svc_id = svc["Service"]["Id"].as_str().unwrap().to_string();
        let attrs = "AWS_INSTANCE_IPV4=127.0.0.1,AWS_INSTANCE_PORT=9";
        aws(
            &up,
            &[
                "register-instance",
                "--service-id",
                &svc_id,
                "--instance-id",
                "kept",
                "--attributes",
                attrs,
            ],
        )
        .unwrap();
        aws(
            &up,
            &[
                "update-instance-custom-health-status",
                "--service-id",
                &svc_id,
                "--instance-id",
                "kept",
                "--status",
                "UNHEALTHY",
            ],
        )
        .unwrap();
        (ns_op, svc_id, old_tasks)
    };
    let mut up = start();
    let op = aws(&up, &["get-operation", "--operation-id", &ns_op]).unwrap();
    assert_eq!(op["Operation"]["Status"], "SUCCESS");
    let inst = aws(
        &up,
        &[
            "get-instance",
            "--service-id",
            &svc_id,
            "--instance-id",
            "kept",
        ],
    )
    .unwrap();
    assert_eq!(inst["Instance"]["Attributes"]["AWS_INSTANCE_PORT"], "9");
    let status = aws(
        &up,
        &["get-instances-health-status", "--service-id", &svc_id],
    )
    .unwrap();
    assert_eq!(status["Status"]["kept"], "UNHEALTHY");
    // Task instances are not restored: the old tasks are gone, new ones register.
    let new_tasks = up.wait_healthy(2, Duration::from_secs(30));
    assert_eq!(new_tasks.len(), 2);
    let backend = backend_id(&up);
    let listed = aws(&up, &["list-instances", "--service-id", &backend]).unwrap();
    let listed: Vec<_> = listed["Instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Id"].clone())
        .collect();
    assert_eq!(listed.len(), 2, "only the running tasks: {listed:?}");
    for old in &old_tasks {
        assert!(
            !listed.contains(&json!(old.task_id)),
            "stale task {} restored",
            old.task_id
        );
    }

    // kill -9 in the middle of a burst of RegisterInstance calls: every acknowledged
    // instance is there after the restart.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let burst = {
        let (acked, stop, control, svc_id) = (
            acked.clone(),
            stop.clone(),
            up.control.clone(),
            svc_id.clone(),
        );
        std::thread::spawn(move || {
            let agent = http();
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let id = format!("burst-{i}");
                let body = json!({
                    "ServiceId": svc_id,
                    "InstanceId": id,
                    "Attributes": {"AWS_INSTANCE_IPV4": "127.0.0.1", "AWS_INSTANCE_PORT": "9"},
                });
                match call(&agent, &control, "RegisterInstance", body) {
                    Ok((200, _)) => acked.lock().unwrap().push(id),
                    Ok((status, body)) => panic!("RegisterInstance answered {status}: {body}"),
                    Err(_) => break,
                }
            }
        })
    };
    while acked.lock().unwrap().len() < 40 {
        std::thread::sleep(Duration::from_millis(5));
    }
    up.signal("KILL");
    assert!(up.wait_exit(Duration::from_secs(10)).is_some());
    stop.store(true, Ordering::Relaxed);
    burst.join().unwrap();
    drop(up);

    let up = start();
    let agent = http();
    let mut stored = Vec::new();
    let mut token = Value::Null;
    loop {
        let mut body = json!({ "ServiceId": svc_id, "MaxResults": 100 });
        if !token.is_null() {
            body["NextToken"] = token.clone();
        }
        let (status, page) = call(&agent, &up.control, "ListInstances", body).unwrap();
        assert_eq!(status, 200, "{page}");
        stored.extend(
            page["Instances"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["Id"].clone()),
        );
        token = page["NextToken"].clone();
        if token.is_null() {
            break;
        }
    }
    let acked = acked.lock().unwrap();
    assert!(acked.len() >= 40);
    for id in acked.iter() {
        assert!(stored.contains(&json!(id)), "acknowledged {id} lost");
    }
    assert!(stored.contains(&json!("kept")));
}
