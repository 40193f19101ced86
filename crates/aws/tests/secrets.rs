//! No secret reaches the logs: with recognizable fake credentials (key id, secret key,
//! session token) and a secret environment value in the template, a deploy, status and
//! scale against moto with every log target at TRACE, filtered as the binary filters
//! (`albless_aws::log_directives`), leave none of them in the captured log, which does hold
//! the run's own events and errors (so the capture is known to work).

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use albless_aws::ops::{self, Waits};
use albless_aws::{Clients, Console, DeployOptions};
use serde_json::json;

const KEY_ID: &str = "AKIAALBLESSFAKEKEY01";
const SECRET_KEY: &str = "albless/fake+secret/key0000000000000000";
const TOKEN: &str = "albless-fake-session-token-0123456789";
const SECRET_ENV: &str = "albless-db-password-do-not-print";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn clients(moto: &support::Moto) -> Clients {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new(
            KEY_ID,
            SECRET_KEY,
            Some(TOKEN.to_string()),
            None,
            "tests",
        ))
        .endpoint_url(&moto.url)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .load()
        .await;
    Clients::from_config(&config)
}

/// Runs deploy, status and scale with logs captured under `filter`; returns the log.
async fn run_logged(filter: tracing_subscriber::EnvFilter) -> String {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let moto = support::Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "1")]);
    let clients = clients(&moto).await;
    let dir = tempfile::tempdir().unwrap();
    let stack = support::stack_file(
        dir.path(),
        "hello",
        &format!("environment = {{ DB_PASSWORD = \"{SECRET_ENV}\" }}"),
    );
    let template = json!({
        "Parameters": {"BackendImage": {"Type": "String"}},
        "Resources": {
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "hello"}},
            "BackendTaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                "Family": "hello-backend",
                "ContainerDefinitions": [{"Name": "backend", "Image": {"Ref": "BackendImage"}, "Memory": 512,
                    "Environment": [{"Name": "DB_PASSWORD", "Value": SECRET_ENV}]}]
            }},
            "BackendService": {"Type": "AWS::ECS::Service", "Properties": {
                "Cluster": {"Ref": "Cluster"}, "TaskDefinition": {"Ref": "BackendTaskDefinition"}, "DesiredCount": 1
            }}
        }
    });
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
    albless_aws::deploy(&clients, &stack, &template, &options, &console)
        .await
        .expect("deploy");
    let status = ops::status(&clients, "hello").await.expect("status");
    let service = status.services[0].name.clone();
    ops::scale(&clients, "hello", &service, 2, waits, &console)
        .await
        .expect("scale");
    // Errors are shown to people too: one from AWS must not carry a secret either.
    let err = ops::scale(&clients, "nope", &service, 1, waits, &console)
        .await
        .unwrap_err();
    tracing::error!(error = %err, "expected failure");
    String::from_utf8(capture.0.lock().unwrap().clone()).unwrap()
}

#[tokio::test]
async fn no_secret_reaches_a_verbose_log() {
    let mut filter = tracing_subscriber::EnvFilter::new("trace");
    for d in albless_aws::log_directives() {
        filter = filter.add_directive(d.parse().unwrap());
    }
    let log = run_logged(filter).await;
    assert!(
        log.contains("change set created"),
        "the log was captured:\n{log}"
    );
    assert!(log.contains("expected failure"), "{log}");
    for secret in [KEY_ID, SECRET_KEY, TOKEN, SECRET_ENV] {
        assert!(!log.contains(secret), "{secret} appears in the log");
    }
}
