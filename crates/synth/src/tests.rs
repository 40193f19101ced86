//! Unit tests of the pieces: schedules, deployment bounds, subnet split, ECR ARNs, health
//! checks, and the template's skeleton.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use albless_spec::{HealthCheck, HealthCheckKind, Ipv4Cidr, ScheduleExpr};

use crate::ecs::{deployment_bounds, ecr_repository_arn, health_check, schedule_text};
use crate::network::split;
use crate::{Format, synthesize};

const BASE: &str = r#"
version = 1
[stack]
name = "t"
region = "eu-west-1"
[api.routes."$default"]
service = "web"
[services.web]
image = "nginx:1"
port = 8080
"#;

fn stack(extra: &str) -> albless_spec::Stack {
    albless_spec::parse(Path::new("albless.toml"), &format!("{BASE}{extra}")).expect("valid")
}

#[test]
fn rates_use_the_largest_whole_unit() {
    let rate = |secs| schedule_text(&ScheduleExpr::Rate(Duration::from_secs(secs)));
    assert_eq!(rate(60), "rate(1 minute)");
    assert_eq!(rate(90 * 60), "rate(90 minutes)");
    assert_eq!(rate(3600), "rate(1 hour)");
    assert_eq!(rate(2 * 86400), "rate(2 days)");
    let at = "2030-01-15T09:00:00".parse().unwrap();
    assert_eq!(
        schedule_text(&ScheduleExpr::At(at)),
        "at(2030-01-15T09:00:00)"
    );
}

#[test]
fn min_zero_becomes_100_with_room_for_a_new_task() {
    let bounds = |extra: &str| deployment_bounds(&stack(extra).services["web"]);
    assert_eq!(
        bounds("min_healthy_percent = 0\nmax_percent = 100\n"),
        (100, 200)
    );
    assert_eq!(
        bounds("min_healthy_percent = 0\nmax_percent = 150\ndesired_count = 2\n"),
        (100, 150)
    );
    assert_eq!(
        bounds("min_healthy_percent = 0\nmax_percent = 150\n"),
        (100, 200)
    );
    assert_eq!(
        bounds("min_healthy_percent = 50\nmax_percent = 150\ndesired_count = 2\n"),
        (50, 150)
    );
    assert_eq!(
        bounds("min_healthy_percent = 0\ndesired_count = 0\n"),
        (0, 200)
    );
}

#[test]
fn vpc_blocks_split_evenly_and_never_below_28() {
    let cidr = |a, b, c, d, prefix| Ipv4Cidr {
        addr: Ipv4Addr::new(a, b, c, d),
        prefix,
    };
    let text = |v: Vec<Ipv4Cidr>| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(text(split(cidr(10, 0, 0, 0, 16), 1)), ["10.0.0.0/16"]);
    assert_eq!(
        text(split(cidr(10, 0, 0, 0, 16), 2)),
        ["10.0.0.0/17", "10.0.128.0/17"]
    );
    assert_eq!(
        text(split(cidr(10, 1, 0, 0, 20), 3)),
        ["10.1.0.0/22", "10.1.4.0/22", "10.1.8.0/22"]
    );
    assert_eq!(text(split(cidr(10, 0, 0, 0, 28), 3)), ["10.0.0.0/28"]);
    assert_eq!(
        text(split(cidr(10, 0, 0, 0, 27), 3)),
        ["10.0.0.0/28", "10.0.0.16/28"]
    );
}

#[test]
fn only_ecr_images_get_a_repository_arn() {
    let arn = |image| ecr_repository_arn(image).map(|n| serde_json::to_value(n).unwrap());
    assert_eq!(
        arn("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1.2"),
        Some(serde_json::json!({
            "Fn::Sub": "arn:${AWS::Partition}:ecr:eu-west-1:123456789012:repository/team/app"
        }))
    );
    assert!(arn("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:ab").is_some());
    assert_eq!(arn("nginx:1"), None);
    assert_eq!(arn("public.ecr.aws/nginx/nginx:1"), None);
    assert_eq!(arn("ghcr.io/o/app:1"), None);
}

#[test]
fn health_checks_become_ecs_commands() {
    let check = |kind| HealthCheck {
        kind,
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(3),
        retries: 4,
        start_period: Duration::from_secs(20),
    };
    let http = serde_json::to_value(health_check(
        &check(HealthCheckKind::Http {
            path: "/health".into(),
        }),
        8080,
    ))
    .unwrap();
    assert_eq!(http["Command"][0], "CMD-SHELL");
    assert!(
        http["Command"][1]
            .as_str()
            .unwrap()
            .starts_with("wget -q -O /dev/null 'http://127.0.0.1:8080/health' || curl ")
    );
    assert_eq!(
        (
            &http["Interval"],
            &http["Timeout"],
            &http["Retries"],
            &http["StartPeriod"]
        ),
        (&10.into(), &3.into(), &4.into(), &20.into())
    );
    let cmd = serde_json::to_value(health_check(
        &check(HealthCheckKind::Command(vec![
            "/bin/check".into(),
            "-q".into(),
        ])),
        80,
    ))
    .unwrap();
    assert_eq!(
        cmd["Command"],
        serde_json::json!(["CMD", "/bin/check", "-q"])
    );
}

#[test]
fn json_keeps_the_cloudformation_order() {
    let text = synthesize(&stack("")).render(Format::Json).unwrap();
    let at = |key: &str| text.find(key).unwrap_or_else(|| panic!("{key}"));
    assert!(at("AWSTemplateFormatVersion") < at("\"Parameters\""));
    assert!(at("\"Parameters\"") < at("\"Resources\""));
    assert!(at("\"Resources\"") < at("\"Outputs\""));
    assert!(text.ends_with("}\n"));
    // The endpoint is the first output.
    let outputs = &text[at("\"Outputs\"")..];
    assert!(outputs.find("ApiEndpoint").unwrap() < outputs.find("ApiId").unwrap());
}

#[test]
fn image_is_a_parameter_with_the_file_s_default() {
    let t = synthesize(&stack("")).to_value();
    assert_eq!(t["Parameters"]["WebImage"]["Default"], "nginx:1");
    let container = &t["Resources"]["WebTaskDefinition"]["Properties"]["ContainerDefinitions"][0];
    assert_eq!(container["Image"], serde_json::json!({"Ref": "WebImage"}));
    // A public image and no logs: no execution role at all.
    assert!(t["Resources"].get("WebExecutionRole").is_none());
    assert!(
        t["Resources"]["WebTaskDefinition"]["Properties"]
            .get("ExecutionRoleArn")
            .is_none()
    );
}

#[test]
fn logging_adds_a_log_group_and_only_its_permissions() {
    let t = synthesize(&stack("[services.web.logging]\nretention_days = 14\n")).to_value();
    assert_eq!(
        t["Resources"]["WebLogGroup"]["Properties"]["RetentionInDays"],
        14
    );
    let statements =
        &t["Resources"]["WebExecutionPolicy"]["Properties"]["PolicyDocument"]["Statement"];
    assert_eq!(statements.as_array().unwrap().len(), 1);
    assert_eq!(
        statements[0]["Action"],
        serde_json::json!(["logs:CreateLogStream", "logs:PutLogEvents"])
    );
    let options = &t["Resources"]["WebTaskDefinition"]["Properties"]["ContainerDefinitions"][0]["LogConfiguration"]
        ["Options"];
    assert_eq!(
        options["awslogs-group"],
        serde_json::json!({"Ref": "WebLogGroup"})
    );
}
