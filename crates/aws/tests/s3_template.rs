//! Templates over CloudFormation's inline limit (51,200 bytes) go through albless's S3
//! bucket, against a moto server: a padded template deploys through an object in
//! `albless-templates-<account>-<region>`, a small one goes inline and leaves no object,
//! and destroy deletes the stack's objects (only its own) and keeps the bucket. What is
//! in S3 and what CloudFormation received are read back with the real AWS CLI.

mod support;

use std::time::Duration;

use albless_aws::ops::{self, Waits};
use albless_aws::{Console, DeployOptions};
use serde_json::{Value, json};

/// A template of the shape moto deploys (as in tests/moto.rs), its resources named after
/// `stack`, with `padding` bytes of template metadata.
fn template(stack: &str, padding: usize) -> Value {
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Metadata": {"Padding": "p".repeat(padding)},
        "Parameters": {"BackendImage": {"Type": "String"}},
        "Resources": {
            "BackendRepository": {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": format!("{stack}-backend")}},
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": stack}},
            "BackendTaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                "Family": format!("{stack}-backend"),
                "ContainerDefinitions": [{"Name": "backend", "Image": {"Ref": "BackendImage"}, "Memory": 512}]
            }},
            "BackendService": {"Type": "AWS::ECS::Service", "Properties": {
                "Cluster": {"Ref": "Cluster"},
                "TaskDefinition": {"Ref": "BackendTaskDefinition"},
                "DesiredCount": 1
            }}
        }
    })
}

/// Runs the AWS CLI against moto; returns its JSON output (Null when it printed none).
fn aws(moto: &support::Moto, args: &[&str]) -> Value {
    support::aws_cli(moto, args)
}

/// The keys under `prefix` in `bucket`, with their sizes.
fn objects(moto: &support::Moto, bucket: &str, prefix: &str) -> Vec<(String, u64)> {
    let listed = aws(
        moto,
        &[
            "s3api",
            "list-objects-v2",
            "--bucket",
            bucket,
            "--prefix",
            prefix,
        ],
    );
    listed["Contents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            (
                o["Key"].as_str().unwrap().to_string(),
                o["Size"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The template CloudFormation holds for `stack`.
fn deployed_template(moto: &support::Moto, stack: &str) -> Value {
    let out = aws(
        moto,
        &["cloudformation", "get-template", "--stack-name", stack],
    );
    match &out["TemplateBody"] {
        Value::String(text) => serde_json::from_str(text).expect("a JSON template"),
        other => other.clone(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_over_the_inline_limit_deploys_through_s3_and_destroy_removes_it() {
    let moto = support::Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "1")]);
    let clients = moto.clients().await;
    let dir = tempfile::tempdir().unwrap();
    let stack = support::stack_file(dir.path(), "large", "");
    let console = Console::new(true);
    let waits = Waits {
        poll: Duration::from_millis(50),
        timeout: Duration::from_secs(20),
    };
    let options = |name: &str| DeployOptions {
        poll: waits.poll,
        timeout: waits.timeout,
        ..DeployOptions::new(name)
    };
    let account = aws(&moto, &["sts", "get-caller-identity"])["Account"]
        .as_str()
        .expect("an account id")
        .to_string();
    let bucket = format!("albless-templates-{account}-us-east-1");

    // Over the limit: the body CreateChangeSet would carry is larger than 51,200 bytes.
    let large = template("large", 60_000);
    let body = serde_json::to_string(&large).unwrap();
    assert!(body.len() > 51_200, "{}", body.len());
    let report = albless_aws::deploy(&clients, &stack, &large, &options("large"), &console)
        .await
        .expect("deploy of the large template");
    assert!(report.changed);

    // It is in S3, once, byte for byte, under the stack's name, and CloudFormation has it.
    let staged = objects(&moto, &bucket, "large/");
    assert_eq!(staged.len(), 1, "{staged:?}");
    let (key, size) = &staged[0];
    assert!(key.ends_with(".json"), "{key}");
    assert_eq!(*size, body.len() as u64);
    let copy = dir.path().join("copy.json");
    aws(
        &moto,
        &[
            "s3api",
            "get-object",
            "--bucket",
            &bucket,
            "--key",
            key,
            copy.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), body);
    assert_eq!(deployed_template(&moto, "large"), large);
    // albless leaves versioning off: the bucket has never had a versioning status.
    let versioning = aws(
        &moto,
        &["s3api", "get-bucket-versioning", "--bucket", &bucket],
    );
    assert!(versioning.get("Status").is_none(), "{versioning}");

    // Within the limit: inline, no object for that stack.
    let small = template("small", 1_000);
    let small_stack = support::stack_file(dir.path(), "small", "");
    albless_aws::deploy(&clients, &small_stack, &small, &options("small"), &console)
        .await
        .expect("deploy of the small template");
    assert_eq!(deployed_template(&moto, "small"), small);
    assert_eq!(objects(&moto, &bucket, "small/"), []);
    assert_eq!(objects(&moto, &bucket, "").len(), 1);

    // A changed large template is a second object of the same stack.
    let larger = template("large", 70_000);
    albless_aws::deploy(&clients, &stack, &larger, &options("large"), &console)
        .await
        .expect("second deploy of the large template");
    assert_eq!(objects(&moto, &bucket, "large/").len(), 2);

    // Destroying the small stack leaves the large one's objects alone.
    ops::destroy(&clients, "small", waits, &console)
        .await
        .expect("destroy small");
    assert_eq!(objects(&moto, &bucket, "large/").len(), 2);

    // Destroying the large stack deletes its objects and keeps the (shared) bucket.
    ops::destroy(&clients, "large", waits, &console)
        .await
        .expect("destroy large");
    assert_eq!(objects(&moto, &bucket, "").len(), 0);
    aws(&moto, &["s3api", "head-bucket", "--bucket", &bucket]);
}
