//! The scripted run deploy -> status -> scale -> sleep -> wake -> destroy against a moto
//! server, through the same library calls the `albless aws` commands make.
//!
//! moto's CloudFormation creates ECR repositories, ECS clusters, task definitions and
//! services, but not Cloud Map services or API Gateway v2 resources, so the template here
//! keeps the synthesized template's shape for the parts moto creates (an image parameter
//! `Ref`ed by the task definition, the repository, the cluster, the service) and gives
//! a local HTTP server as the endpoint `wake` probes: its "the endpoint answers" is then
//! checked for real. moto does not compute a stack's outputs when a change set is
//! executed (its `ChangeSet.apply` updates resources only), so the outputs, the endpoint
//! first, are checked in tests/mocked.rs, and `wake` is given the probe URL here. Cloud Map health during `wake` and `status`
//! is covered by the mocked tests (tests/mocked.rs), since moto's ECS does not register
//! tasks in Cloud Map.

mod support;

use std::time::Duration;

use albless_aws::ops::{self, Waits, WakeOptions};
use albless_aws::{Console, DeployOptions, locate};
use serde_json::json;

fn template() -> serde_json::Value {
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            "BackendImage": {"Type": "String"}
        },
        "Resources": {
            "BackendRepository": {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": "hello-backend"}},
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "hello"}},
            "BackendTaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                "Family": "hello-backend",
                "ContainerDefinitions": [{"Name": "backend", "Image": {"Ref": "BackendImage"}, "Memory": 512}]
            }},
            "BackendService": {"Type": "AWS::ECS::Service", "Properties": {
                "Cluster": {"Ref": "Cluster"},
                "TaskDefinition": {"Ref": "BackendTaskDefinition"},
                "DesiredCount": 2
            }}
        },
        "Outputs": {
            "ClusterName": {"Value": {"Ref": "Cluster"}}
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_status_scale_sleep_wake_destroy() {
    // moto starts new services with this many running tasks, as if ECS had started them.
    let moto = support::Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
    let clients = moto.clients().await;
    let dir = tempfile::tempdir().unwrap();
    let stack = support::stack_file(dir.path(), "hello", "");
    let endpoint = support::answering(200);
    let template = template();
    let console = Console::new(true);
    let waits = Waits {
        poll: Duration::from_millis(50),
        timeout: Duration::from_secs(20),
    };
    let options = DeployOptions {
        poll: waits.poll,
        timeout: waits.timeout,
        ..DeployOptions::new("hello")
    };

    // deploy: a change set creates the stack; outputs come back, the endpoint first.
    let report = albless_aws::deploy(&clients, &stack, &template, &options, &console)
        .await
        .expect("deploy");
    assert!(report.changed);
    assert_eq!(
        report.images["backend"],
        "public.ecr.aws/nginx/nginx:latest"
    );

    // status: stack, service counts and rollout, endpoint.
    let status = ops::status(&clients, "hello").await.expect("status");
    assert_eq!(status.status, "CREATE_COMPLETE");
    assert_eq!(status.services.len(), 1, "{status:?}");
    let service = status.services[0].name.clone();
    assert_eq!(
        (status.services[0].desired, status.services[0].running),
        (2, 2)
    );
    assert_eq!(
        status.services[0].deployments[0].rollout.as_deref(),
        Some("COMPLETED")
    );
    assert!(status.warnings.is_empty(), "{:?}", status.warnings);

    // scale
    ops::scale(&clients, "hello", &service, 3, waits, &console)
        .await
        .expect("scale");
    let status = ops::status(&clients, "hello").await.unwrap();
    assert_eq!(
        (status.services[0].desired, status.services[0].running),
        (3, 3)
    );

    // sleep: desired 0, the count kept in a tag on the service.
    let kept = ops::sleep(&clients, "hello", waits, &console)
        .await
        .expect("sleep");
    assert_eq!(kept[&service], 3);
    let status = ops::status(&clients, "hello").await.unwrap();
    assert_eq!(status.services[0].desired, 0);
    assert_eq!(status.services[0].asleep_from, Some(3));
    // A second sleep keeps the remembered count rather than today's zero.
    let kept = ops::sleep(&clients, "hello", waits, &console)
        .await
        .unwrap();
    assert_eq!(kept[&service], 3);

    // wake: the remembered count, then the endpoint must answer.
    let wake = WakeOptions {
        probe: Some(endpoint),
        ..WakeOptions::default()
    };
    let restored = ops::wake(&clients, "hello", &wake, waits, &console)
        .await
        .expect("wake");
    assert_eq!(restored[&service], 3);
    let status = ops::status(&clients, "hello").await.unwrap();
    assert_eq!(
        (status.services[0].desired, status.services[0].running),
        (3, 3)
    );
    assert_eq!(
        status.services[0].asleep_from, None,
        "the tag is removed once awake"
    );

    // destroy: empties the repository, then deletes the stack.
    clients
        .ecr
        .put_image()
        .repository_name("hello-backend")
        .image_manifest(r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"digest":"sha256:1"},"layers":[]}"#)
        .image_tag("abc")
        .send()
        .await
        .expect("an image in the repository");
    ops::destroy(&clients, "hello", waits, &console)
        .await
        .expect("destroy");
    assert!(locate::describe(&clients, "hello").await.unwrap().is_none());
    // moto keeps a repository after its stack is gone; it must be empty.
    let left = clients
        .ecr
        .list_images()
        .repository_name("hello-backend")
        .send()
        .await;
    assert!(left.map(|l| l.image_ids().is_empty()).unwrap_or(true));
    let err = ops::status(&clients, "hello").await.unwrap_err();
    assert!(matches!(err, albless_aws::Error::NoStack(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn wake_fails_when_the_endpoint_keeps_answering_503() {
    let moto = support::Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
    let clients = moto.clients().await;
    let dir = tempfile::tempdir().unwrap();
    let stack = support::stack_file(dir.path(), "hello", "");
    let template = template();
    let console = Console::new(true);
    let waits = Waits {
        poll: Duration::from_millis(50),
        timeout: Duration::from_millis(600),
    };
    let options = DeployOptions {
        poll: waits.poll,
        timeout: Duration::from_secs(20),
        ..DeployOptions::new("hello")
    };
    albless_aws::deploy(&clients, &stack, &template, &options, &console)
        .await
        .unwrap();
    ops::sleep(&clients, "hello", waits, &console)
        .await
        .unwrap();
    let wake = WakeOptions {
        probe: Some(support::answering(503)),
        ..WakeOptions::default()
    };
    let err = ops::wake(&clients, "hello", &wake, waits, &console)
        .await
        .unwrap_err();
    assert!(matches!(err, albless_aws::Error::TimedOut { .. }), "{err}");
    assert!(err.to_string().contains("to answer"), "{err}");
}
