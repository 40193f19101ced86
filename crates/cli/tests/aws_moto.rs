//! `albless aws` end to end through the real binary, against a moto server on loopback:
//! deploy -> status -> scale -> sleep -> wake -> logs -> destroy, each command's exit code
//! and output checked, and its effect checked with the real AWS CLI (`aws` from the
//! test tools, `--endpoint-url` to moto). The binary finds moto and its credentials
//! through the standard configuration chain only: `AWS_ENDPOINT_URL`, `AWS_REGION` and
//! fake keys with a session token in the environment, no shared config files.
//!
//! What moto's CloudFormation (moto 5.2.5) does with the synthesized template: it creates
//! the EC2, IAM, ECS and CloudWatch Logs resources and skips, with a warning, the types it
//! does not implement (API Gateway v2 API, VPC link, integration, route and stage; Cloud
//! Map namespace and service; ECS ClusterCapacityProviderAssociations; EC2
//! SecurityGroupEgress; Application Auto Scaling), listing each as a resource with no
//! logical or physical id. Two things break the stack as synthesized:
//!
//! - a `Fn::GetAtt` on a skipped resource fails ExecuteChangeSet ("Template error:
//!   instance of Fn::GetAtt references undefined resource BackendDiscoveryService"): the
//!   ECS service's `ServiceRegistries` names the Cloud Map service;
//! - a new VPC cannot be deleted (moto never detaches the internet gateway, so
//!   DeleteStack fails with DependencyViolation).
//!
//! So the stack deploys into an existing VPC (`[network] vpc_id`, made here with the AWS
//! CLI as a user's VPC would be), and the binary deploys, with `albless aws deploy
//! --template FILE` (the product's way to deploy a reviewed or edited template), what
//! `albless synth` wrote with one edit: `ServiceRegistries` removed from the ECS service.
//! The last step deploys the template as synthesized and checks that it still fails, and
//! that the binary says so: when moto learns Cloud Map, the test tells to drop the edit.
//!
//! Other moto limits the run works within, each covered by tests/mocked.rs in
//! `albless-aws`: executing a change set computes no stack outputs, so the stack has no
//! API endpoint and `wake --url` waits for a local HTTP server instead (it answers 503
//! twice, as API Gateway does while no instance is healthy, then 200); ECS runs no task
//! (`MOTO_ECS_SERVICE_RUNNING` and UpdateService make each service report its desired
//! count as running), so Cloud Map health is not exercised; moto ignores
//! `logStreamNamePrefix` (albless checks the prefix itself) and deletes no ECS resource
//! with its stack, so destroy is checked by the stack and its security groups being gone.
//!
//! Every output of the binary, run with `ALBLESS_LOG=trace`, is searched for the fake
//! credentials and a secret environment value of the service: none may appear.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

const REGION: &str = "eu-west-1";
const KEY_ID: &str = "AKIAALBLESSCLIFAKE01";
const SECRET_KEY: &str = "albless/cli+fake/secret/key0000000000000";
const TOKEN: &str = "albless-cli-fake-session-token-0123456789";
const SECRET_ENV: &str = "albless-cli-db-password-do-not-print";
const IMAGE: &str = "public.ecr.aws/nginx/nginx:1.27";
const TASK: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn albless_aws_runs_a_stack_on_moto_end_to_end() {
    let moto = Moto::start();
    let mut run = Run::new(&moto);

    // The stack file in an existing VPC, and the template moto can deploy.
    let (vpc, edited) = run.prepare_stack("10.1");

    // deploy: the change set, the events, success; the stack and its parts exist.
    let out = run.deploy(&edited);
    let text = assert_ok(&out, "deploy");
    assert!(
        text.contains("change set albless-") && text.contains("for stack hello"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("Add") && l.contains("BackendEcsService")),
        "the summary lists the service:\n{text}"
    );
    assert!(
        text.contains("CREATE_COMPLETE"),
        "events are shown:\n{text}"
    );
    let stack =
        &run.aws(&["cloudformation", "describe-stacks", "--stack-name", "hello"])["Stacks"][0];
    assert_eq!(stack["StackStatus"], "CREATE_COMPLETE");
    assert!(
        stack["Tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["Key"] == "albless:stack" && t["Value"] == "hello"),
        "{stack}"
    );
    let service = run.service();
    assert_eq!(
        (
            service["desiredCount"].as_i64(),
            service["runningCount"].as_i64()
        ),
        (Some(2), Some(2))
    );
    let td = &run.aws(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        service["taskDefinition"].as_str().unwrap(),
    ])["taskDefinition"];
    let container = &td["containerDefinitions"][0];
    assert_eq!(container["image"], IMAGE, "the file's image is deployed");
    let log_options = &container["logConfiguration"]["options"];
    assert_eq!(log_options["awslogs-stream-prefix"], "backend");
    let group = run
        .stack_resources("AWS::Logs::LogGroup")
        .pop()
        .expect("the stack has a log group");
    assert_eq!(log_options["awslogs-group"], group.as_str());
    let groups = run.aws(&["logs", "describe-log-groups"]);
    let created = groups["logGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["logGroupName"] == group.as_str())
        .expect("the log group exists");
    assert_eq!(created["retentionInDays"], 7);
    let security_groups = run.stack_resources("AWS::EC2::SecurityGroup");
    assert_eq!(security_groups.len(), 2, "the VPC link's and the service's");

    // The same deploy again changes nothing, and says so.
    let out = run.deploy(&edited);
    let text = assert_ok(&out, "second deploy");
    assert!(text.contains("stack hello: no changes"), "{text}");

    // status: stack, service counts and rollout; no endpoint on moto.
    let text = assert_ok(&run.albless(&["aws", "status"]), "status");
    assert!(text.contains("stack hello: CREATE_COMPLETE"), "{text}");
    assert!(text.contains("endpoint: -"), "{text}");
    assert!(
        text.contains("service backend: desired 2, running 2, pending 0"),
        "{text}"
    );
    let json = assert_ok(&run.albless(&["aws", "status", "--json"]), "status --json");
    let status: Value = serde_json::from_str(&json).expect("status --json is JSON");
    assert_eq!(status["services"][0]["name"], "backend");
    assert_eq!(
        status["services"][0]["deployments"][0]["rollout"],
        "COMPLETED"
    );
    assert_eq!(status["warnings"], serde_json::json!([]));

    // scale
    let text = assert_ok(
        &run.albless(&["aws", "scale", "backend", "3", "--poll", "1"]),
        "scale",
    );
    assert!(text.contains("service backend: desired count 3"), "{text}");
    assert!(text.contains("service backend: 3 running of 3"), "{text}");
    assert_eq!(run.service()["desiredCount"], 3);
    let out = run.albless(&["aws", "scale", "nope", "1"]);
    assert!(!out.status.success(), "scaling an unknown service fails");
    assert!(
        stderr(&out).contains("stack hello has no service nope"),
        "{}",
        stderr(&out)
    );

    // sleep: desired 0, the count kept in a tag on the service.
    let text = assert_ok(&run.albless(&["aws", "sleep", "--poll", "1"]), "sleep");
    assert!(text.contains("service backend: asleep (was 3)"), "{text}");
    let service = run.service();
    assert_eq!(service["desiredCount"], 0);
    assert_eq!(run.sleep_tag(&service), Some("3".to_string()));
    let text = assert_ok(&run.albless(&["aws", "status"]), "status asleep");
    assert!(text.contains("(asleep, wakes to 3)"), "{text}");

    // wake: the kept count, then the URL must answer: 503 twice, then 200.
    let endpoint = Endpoint::start(2);
    let text = assert_ok(
        &run.albless(&["aws", "wake", "--poll", "1", "--url", &endpoint.url]),
        "wake",
    );
    assert!(text.contains("service backend: waking to 3"), "{text}");
    assert!(
        text.contains(&format!("{} answers 200", endpoint.url)),
        "{text}"
    );
    assert!(
        endpoint.requests() >= 3,
        "wake kept asking through the 503s ({} requests)",
        endpoint.requests()
    );
    let service = run.service();
    assert_eq!(service["desiredCount"], 3);
    assert_eq!(
        run.sleep_tag(&service),
        None,
        "the tag is removed once awake"
    );

    // wake on an awake service scaled below the file's count (2) keeps the scaled count.
    assert_ok(
        &run.albless(&["aws", "scale", "backend", "1", "--poll", "1"]),
        "scale down",
    );
    let text = assert_ok(
        &run.albless(&["aws", "wake", "--poll", "1", "--no-probe"]),
        "wake while awake",
    );
    assert!(text.contains("service backend: awake at 1"), "{text}");
    assert_eq!(run.service()["desiredCount"], 1);

    // logs: events put with the AWS CLI into the log group the stack made.
    let now = now_ms();
    let stream = format!("backend/backend/{TASK}");
    run.aws(&[
        "logs",
        "create-log-stream",
        "--log-group-name",
        &group,
        "--log-stream-name",
        &stream,
    ]);
    run.put_log_events(&group, &stream, &[(now - 7_200_000, "two hours ago")]);
    run.put_log_events(
        &group,
        &stream,
        &[(now - 2_000, "GET / 200"), (now - 1_000, "GET /health 200")],
    );
    // A stream of another container of the same group and prefix: not this service's.
    let sidecar = format!("backend/backend-sidecar/{TASK}");
    run.aws(&[
        "logs",
        "create-log-stream",
        "--log-group-name",
        &group,
        "--log-stream-name",
        &sidecar,
    ]);
    run.put_log_events(&group, &sidecar, &[(now - 1_500, "sidecar line")]);
    let text = assert_ok(&run.albless(&["aws", "logs", "backend"]), "logs");
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            format!("{TASK} GET / 200"),
            format!("{TASK} GET /health 200")
        ],
        "the last hour of this service's streams, oldest first"
    );
    let text = assert_ok(
        &run.albless(&["aws", "logs", "backend", "--since", "180"]),
        "logs --since",
    );
    assert_eq!(
        text.lines().next(),
        Some(format!("{TASK} two hours ago").as_str())
    );
    assert_eq!(text.lines().count(), 3, "{text}");

    // logs --follow: new events appear, one written in the millisecond of the last one
    // shown too.
    let mut follow = run.spawn(&["aws", "logs", "backend", "--follow", "--poll", "1"]);
    follow.expect(&format!("{TASK} GET /health 200"));
    run.put_log_events(
        &group,
        &stream,
        &[(now - 1_000, "same millisecond"), (now, "GET /later 200")],
    );
    follow.expect(&format!("{TASK} same millisecond"));
    follow.expect(&format!("{TASK} GET /later 200"));
    run.transcript.push(follow.stop());

    // destroy: the stack and its security groups are gone (moto keeps ECS resources).
    let text = assert_ok(
        &run.albless(&["aws", "destroy", "--yes", "--poll", "1"]),
        "destroy",
    );
    assert!(text.contains("stack hello: deleted"), "{text}");
    let gone = run.aws_fails(&["cloudformation", "describe-stacks", "--stack-name", "hello"]);
    assert!(gone.contains("does not exist"), "{gone}");
    let left = run.aws(&[
        "ec2",
        "describe-security-groups",
        "--filters",
        &format!("Name=vpc-id,Values={vpc}"),
    ]);
    let left: Vec<&Value> = left["SecurityGroups"].as_array().unwrap().iter().collect();
    assert!(
        left.iter().all(|g| g["GroupName"] == "default"),
        "only the VPC's default group is left: {left:?}"
    );
    let out = run.albless(&["aws", "status"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("stack hello does not exist on AWS"),
        "{}",
        stderr(&out)
    );

    // The template as synthesized is beyond moto: the deploy fails and says why.
    let out = run.albless(&["aws", "deploy", "--yes", "--poll", "1"]);
    assert!(
        !out.status.success(),
        "moto now deploys the template as synthesized: deploy it without --template \
         and drop the edit\n{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("cloudformation ExecuteChangeSet failed")
            && err.contains("BackendDiscoveryService"),
        "{err}"
    );

    // No secret in anything the binary printed, with every log target at TRACE; the
    // log was on (its debug and info events are there).
    let all = run.transcript.join("\n");
    assert!(
        all.contains("aws configuration loaded"),
        "debug events were logged"
    );
    assert!(
        all.contains("change set created"),
        "info events were logged"
    );
    for secret in [KEY_ID, SECRET_KEY, TOKEN, SECRET_ENV] {
        assert!(
            !all.contains(secret),
            "{secret} appears in the binary's output"
        );
    }
}

/// What users get wrong or run into, each with its exit code and message: a deploy
/// without a terminal and without `--yes` (refused, and no empty stack left behind), a
/// count ECS cannot take, a service scaled while asleep (the explicit count wins over the
/// one `sleep` kept), a `--since` far in the past, `--poll 0`, and a stack that holds only
/// a change set never executed.
#[test]
fn albless_aws_refuses_bad_input_and_keeps_state_consistent_on_moto() {
    let moto = Moto::start();
    let mut run = Run::new(&moto);
    let (_vpc, edited) = run.prepare_stack("10.2");

    // No terminal, no --yes: the summary is shown, nothing is applied, and the stack the
    // CREATE change set made is not left behind in REVIEW_IN_PROGRESS.
    let out = run.albless(&["aws", "deploy", "--poll", "1", "--template", &edited]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("BackendEcsService"),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("pass --yes"), "{}", stderr(&out));
    let gone = run.aws_fails(&["cloudformation", "describe-stacks", "--stack-name", "hello"]);
    assert!(gone.contains("does not exist"), "{gone}");

    assert_ok(&run.deploy(&edited), "deploy");

    // A count beyond ECS's 32-bit desiredCount is refused before anything is sent.
    let out = run.albless(&["aws", "scale", "backend", "3000000000"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("3000000000"), "{}", stderr(&out));
    assert_eq!(run.service()["desiredCount"], 2);
    let out = run.albless(&["aws", "status", "--poll", "0"]);
    assert_eq!(out.status.code(), Some(2), "--poll 0 is refused");
    // A template that is not JSON is bad input too: exit 2, naming the file and line.
    let bad = run.dir.path().join("bad-template.json");
    std::fs::write(&bad, "{\n  \"Resources\": oops\n}\n").unwrap();
    let out = run.albless(&[
        "aws",
        "deploy",
        "--yes",
        "--template",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("bad-template.json") && stderr(&out).contains("line 2"),
        "{}",
        stderr(&out)
    );

    // Sleep twice keeps the first count; scaling while asleep wakes at that count.
    assert_ok(
        &run.albless(&["aws", "scale", "backend", "3", "--poll", "1"]),
        "scale",
    );
    for _ in 0..2 {
        let text = assert_ok(&run.albless(&["aws", "sleep", "--poll", "1"]), "sleep");
        assert!(text.contains("service backend: asleep (was 3)"), "{text}");
    }
    assert_ok(
        &run.albless(&["aws", "scale", "backend", "1", "--poll", "1"]),
        "scale asleep",
    );
    let service = run.service();
    assert_eq!(service["desiredCount"], 1);
    assert_eq!(run.sleep_tag(&service), None, "the explicit count wins");
    let text = assert_ok(&run.albless(&["aws", "status"]), "status");
    assert!(
        text.contains("service backend: desired 1, running 1, pending 0\n"),
        "not shown asleep:\n{text}"
    );

    // A --since beyond the epoch reads from the start instead of overflowing.
    let out = run.albless(&["aws", "logs", "backend", "--since", "999999999999999"]);
    assert_ok(&out, "logs --since huge");

    // A stack holding only a change set never executed has nothing to operate.
    run.aws(&[
        "cloudformation",
        "create-change-set",
        "--stack-name",
        "review",
        "--change-set-name",
        "never",
        "--change-set-type",
        "CREATE",
        "--template-body",
        r#"{"Resources":{"Logs":{"Type":"AWS::Logs::LogGroup"}}}"#,
    ]);
    let out = run.albless(&["aws", "sleep", "--stack-name", "review"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("stack review was never deployed"),
        "{}",
        stderr(&out)
    );
    let out = run.albless(&["aws", "status", "--stack-name", "review"]);
    assert!(
        stderr(&out).contains("warning: stack review was never deployed"),
        "{}",
        stderr(&out)
    );

    let all = run.transcript.join("\n");
    for secret in [KEY_ID, SECRET_KEY, TOKEN, SECRET_ENV] {
        assert!(
            !all.contains(secret),
            "{secret} appears in the binary's output"
        );
    }
}

/// The synthesized template with the one edit moto needs: no `ServiceRegistries` on the
/// ECS services (their `Fn::GetAtt` names a Cloud Map service moto cannot create). Fails
/// when the template has no such property, so the edit cannot silently become a no-op.
fn for_moto(template: &Value) -> Value {
    let mut template = template.clone();
    let mut edited = 0;
    for resource in template["Resources"].as_object_mut().unwrap().values_mut() {
        if resource["Type"] == "AWS::ECS::Service" {
            let properties = resource["Properties"].as_object_mut().unwrap();
            edited += usize::from(properties.remove("ServiceRegistries").is_some());
        }
    }
    assert_eq!(edited, 1, "the one ECS service has ServiceRegistries");
    template
}

/// A moto server on a free loopback port, killed on drop.
struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(albless_testkit::python_tool("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // New ECS services report this many running tasks (moto runs none).
            .env("MOTO_ECS_SERVICE_RUNNING", "2")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One run: a folder with the stack file, the environment every process gets, and
/// everything the binary printed.
struct Run {
    dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
    endpoint: String,
    transcript: Vec<String>,
}

impl Run {
    fn new(moto: &Moto) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let none = dir.path().join("no-such-file");
        let none = none.to_str().unwrap().to_string();
        let env = vec![
            ("AWS_ENDPOINT_URL", moto.url.clone()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_DEFAULT_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", KEY_ID.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
            ("AWS_SESSION_TOKEN", TOKEN.to_string()),
            // Nothing from this machine's own AWS configuration.
            ("AWS_CONFIG_FILE", none.clone()),
            ("AWS_SHARED_CREDENTIALS_FILE", none),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            ("ALBLESS_LOG", "trace".to_string()),
            ("RUST_LOG", "trace".to_string()),
            ("NO_COLOR", "1".to_string()),
        ];
        Run {
            dir,
            env,
            endpoint: moto.url.clone(),
            transcript: Vec::new(),
        }
    }

    /// An existing VPC (`{net}.0.0/16`) with a subnet, made with the AWS CLI as a user's
    /// would be; the stack file naming them in its [network]; and the template the binary
    /// synthesizes from it with the one edit moto needs, written to a file (see the module
    /// docs). Returns the VPC id and that file's path.
    fn prepare_stack(&mut self, net: &str) -> (String, String) {
        let vpc = self.aws(&[
            "ec2",
            "create-vpc",
            "--cidr-block",
            &format!("{net}.0.0/16"),
        ])["Vpc"]["VpcId"]
            .as_str()
            .unwrap()
            .to_string();
        let subnet = self.aws(&[
            "ec2",
            "create-subnet",
            "--vpc-id",
            &vpc,
            "--cidr-block",
            &format!("{net}.0.0/24"),
        ])["Subnet"]["SubnetId"]
            .as_str()
            .unwrap()
            .to_string();
        self.write_stack(&vpc, &subnet);
        let full = self.dir.path().join("full.json");
        let out = self.albless(&["synth", "albless.toml", "-o", full.to_str().unwrap()]);
        assert_ok(&out, "synth");
        let template: Value = serde_json::from_slice(&std::fs::read(&full).unwrap()).unwrap();
        let edited = self.dir.path().join("moto.json");
        std::fs::write(&edited, for_moto(&template).to_string()).unwrap();
        (vpc, edited.to_str().unwrap().to_string())
    }

    fn write_stack(&self, vpc: &str, subnet: &str) {
        std::fs::write(
            self.dir.path().join("albless.toml"),
            format!(
                r#"version = 1

[stack]
name = "hello"
region = "{REGION}"

[api.routes]
"$default" = {{ service = "backend" }}

[network]
vpc_id = "{vpc}"
subnet_ids = ["{subnet}"]

[services.backend]
image = "{IMAGE}"
port = 8080
desired_count = 2
environment = {{ DB_PASSWORD = "{SECRET_ENV}" }}

[services.backend.health_check]
path = "/health"

[services.backend.logging]
retention_days = 7
"#
            ),
        )
        .unwrap();
    }

    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(self.dir.path())
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_DEFAULT_PROFILE")
            .envs(self.env.iter().map(|(k, v)| (k, v.as_str())))
            .stdin(Stdio::null());
        command
    }

    /// Runs the binary; keeps what it printed.
    /// `albless aws deploy --yes --poll 1 --template TEMPLATE`.
    fn deploy(&mut self, template: &str) -> Output {
        self.albless(&[
            "aws",
            "deploy",
            "--yes",
            "--poll",
            "1",
            "--template",
            template,
        ])
    }

    fn albless(&mut self, args: &[&str]) -> Output {
        let out = self
            .command(Path::new(env!("CARGO_BIN_EXE_albless")))
            .args(args)
            .output()
            .expect("albless runs");
        self.transcript.push(format!(
            "$ albless {}\n{}{}",
            args.join(" "),
            stdout(&out),
            stderr(&out)
        ));
        out
    }

    /// Starts the binary in the background, its stdout read line by line.
    fn spawn(&self, args: &[&str]) -> Background {
        let mut child = self
            .command(Path::new(env!("CARGO_BIN_EXE_albless")))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("albless runs");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Background {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn aws_output(&self, args: &[&str]) -> Output {
        self.command(&albless_testkit::python_tool("aws"))
            .args(["--endpoint-url", &self.endpoint, "--output", "json"])
            .args(args)
            .output()
            .expect("the AWS CLI runs")
    }

    /// Runs the AWS CLI, which must succeed; its JSON answer (null when empty).
    fn aws(&self, args: &[&str]) -> Value {
        let out = self.aws_output(args);
        assert!(
            out.status.success(),
            "aws {}: {}",
            args.join(" "),
            stderr(&out)
        );
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&out.stdout).expect("the AWS CLI answers JSON")
        }
    }

    /// Runs the AWS CLI, which must fail; its error.
    fn aws_fails(&self, args: &[&str]) -> String {
        let out = self.aws_output(args);
        assert!(!out.status.success(), "aws {} succeeded", args.join(" "));
        stderr(&out)
    }

    /// The ECS service `backend` of cluster `hello`, as the AWS CLI describes it.
    fn service(&self) -> Value {
        let out = self.aws(&[
            "ecs",
            "describe-services",
            "--cluster",
            "hello",
            "--services",
            "backend",
        ]);
        out["services"][0].clone()
    }

    /// The value of the tag `sleep` keeps on a service.
    fn sleep_tag(&self, service: &Value) -> Option<String> {
        let tags = self.aws(&[
            "ecs",
            "list-tags-for-resource",
            "--resource-arn",
            service["serviceArn"].as_str().unwrap(),
        ]);
        tags["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == "albless:sleep-desired-count")
            .map(|t| t["value"].as_str().unwrap().to_string())
    }

    /// Physical ids of the stack's resources of `kind`.
    fn stack_resources(&self, kind: &str) -> Vec<String> {
        let out = self.aws(&[
            "cloudformation",
            "list-stack-resources",
            "--stack-name",
            "hello",
        ]);
        out["StackResourceSummaries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["ResourceType"] == kind)
            .map(|r| r["PhysicalResourceId"].as_str().unwrap().to_string())
            .collect()
    }

    fn put_log_events(&self, group: &str, stream: &str, events: &[(i64, &str)]) {
        let events: Vec<Value> = events
            .iter()
            .map(|(t, m)| serde_json::json!({"timestamp": t, "message": m}))
            .collect();
        self.aws(&[
            "logs",
            "put-log-events",
            "--log-group-name",
            group,
            "--log-stream-name",
            stream,
            "--log-events",
            &Value::from(events).to_string(),
        ]);
    }
}

/// A command left running (`logs --follow`).
struct Background {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Background {
    /// Waits until `line` is printed; fails after 30 s with what was printed.
    fn expect(&mut self, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.seen.iter().any(|l| l == line) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!("`{line}` was not printed; got {:?}", self.seen),
            }
        }
    }

    /// Stops the command; everything it printed.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.seen.extend(self.lines.try_iter());
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        assert_eq!(
            self.seen
                .iter()
                .filter(|l| l.contains("same millisecond"))
                .count(),
            1,
            "each event is printed once: {:?}",
            self.seen
        );
        format!(
            "$ albless aws logs --follow\n{}\n{err}",
            self.seen.join("\n")
        )
    }
}

/// A stand-in for the API endpoint on a free loopback port: answers 503 to the first
/// `unavailable` requests, then 200.
struct Endpoint {
    url: String,
    count: Arc<AtomicUsize>,
}

impl Endpoint {
    fn start(unavailable: usize) -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let mut buf = [0u8; 2048];
                let _ = conn.read(&mut buf);
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let (status, body) = if n < unavailable {
                    (
                        "503 Service Unavailable",
                        r#"{"message":"Service Unavailable"}"#,
                    )
                } else {
                    ("200 OK", "ok")
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Endpoint { url, count }
    }

    fn requests(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Checks a command succeeded; its stdout.
fn assert_ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        stdout(out),
        stderr(out)
    );
    stdout(out)
}
