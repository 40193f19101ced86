//! The synthesized templates: snapshots, cfn-lint with no error or warning, the reference
//! stack's shape, our own invariants, determinism and stable logical ids.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use albless_synth::{Format, synthesize};
use serde_json::Value;

/// Every stack file the tests synthesize: name and path from the workspace root.
const CASES: &[(&str, &str)] = &[
    ("hello", "examples/hello/albless.toml"),
    ("rich", "examples/rich/albless.toml"),
    ("multi", "crates/synth/tests/data/multi.toml"),
    ("existing_vpc", "crates/synth/tests/data/existing-vpc.toml"),
    ("build", "crates/synth/tests/data/build.toml"),
];

fn root() -> PathBuf {
    albless_testkit::workspace_root()
}

fn load(path: &str) -> albless_spec::Stack {
    albless_spec::load(&root().join(path)).unwrap_or_else(|e| panic!("{path}: {}", e.render()))
}

fn template(path: &str) -> Value {
    let text = synthesize(&load(path)).render(Format::Json).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The resources of `t` of CloudFormation type `kind`, with their ids.
fn of_type<'a>(t: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id.as_str(), &r["Properties"]))
        .collect()
}

/// The resource id a `{"Fn::GetAtt": [id, attr]}` names, if `v` is one with `attr`.
fn get_att<'a>(v: &'a Value, attr: &str) -> Option<&'a str> {
    let pair = v.get("Fn::GetAtt")?.as_array()?;
    (pair.get(1)? == attr).then(|| pair[0].as_str())?
}

#[test]
fn templates_match_their_snapshots() {
    for (name, path) in CASES {
        let template = synthesize(&load(path));
        insta::assert_snapshot!(
            format!("{name}.json"),
            template.render(Format::Json).unwrap()
        );
    }
    let hello = synthesize(&load(CASES[0].1));
    insta::assert_snapshot!("hello.yaml", hello.render(Format::Yaml).unwrap());
}

#[test]
fn every_template_passes_cfn_lint_without_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (name, path) in CASES {
        let template = synthesize(&load(path));
        for (format, ext) in [(Format::Json, "json"), (Format::Yaml, "yaml")] {
            let file = dir.path().join(format!("{name}.{ext}"));
            std::fs::write(&file, template.render(format).unwrap()).unwrap();
            files.push(file);
        }
    }
    let out = std::process::Command::new(albless_testkit::python_tool("cfn-lint"))
        .args(&files)
        .output()
        .expect("cfn-lint runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "cfn-lint:\n{report}"
    );
}

/// The hello template against the original stack's template: every resource type it has,
/// and its key properties. Differences, each on purpose:
/// - no execution role policy (`AWS::IAM::Policy`): hello pulls a public image and sends
///   no logs, so ECS needs no execution role; a stack that builds its image or logs gets
///   one (see the `build` and `rich` snapshots), limited to its repository and log group;
/// - one security group per service, and the VPC link's group has no allow-all egress,
///   only a rule per task port (the original allows all outbound traffic);
/// - `FARGATE` instead of `FARGATE_SPOT`, no CORS, two tasks, port 8080, minimum 100 %:
///   hello's albless.toml says so (the original's minimum of 0 % is a trap the linter
///   reports and the template never emits);
/// - a container health check, from the file (the original has none, so ECS reports no
///   container health to Cloud Map);
/// - no CDK bootstrap parameter or rule: the image is a parameter instead.
#[test]
fn hello_has_the_reference_stack_shape() {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("../shared/reference/seed-stack.template.json"))
            .expect("the reference template beside the repository"),
    )
    .unwrap();
    let hello = template(CASES[0].1);
    let types = |t: &Value| -> BTreeSet<String> {
        t["Resources"]
            .as_object()
            .unwrap()
            .values()
            .map(|r| r["Type"].as_str().unwrap().to_owned())
            .collect()
    };
    let justified: BTreeSet<String> = ["AWS::IAM::Policy".to_owned()].into();
    let missing: BTreeSet<String> = types(&reference)
        .difference(&types(&hello))
        .cloned()
        .collect();
    assert_eq!(
        missing, justified,
        "reference resource types missing from hello"
    );

    // Key properties, as the original sets them.
    let task = of_type(&hello, "AWS::ECS::TaskDefinition")[0].1;
    assert_eq!(task["Cpu"], "256");
    assert_eq!(task["Memory"], "512");
    assert_eq!(task["RuntimePlatform"]["CpuArchitecture"], "ARM64");
    assert_eq!(task["NetworkMode"], "awsvpc");
    let ns = of_type(&hello, "AWS::ServiceDiscovery::PrivateDnsNamespace")[0].1;
    assert_eq!(ns["Name"], "ecs.local");
    let sd = of_type(&hello, "AWS::ServiceDiscovery::Service")[0].1;
    assert_eq!(
        sd["DnsConfig"]["DnsRecords"],
        serde_json::json!([{"TTL": 10, "Type": "SRV"}])
    );
    assert_eq!(sd["DnsConfig"]["RoutingPolicy"], "MULTIVALUE");
    assert_eq!(sd["HealthCheckCustomConfig"]["FailureThreshold"], 1);
    let providers = of_type(&hello, "AWS::ECS::ClusterCapacityProviderAssociations")[0].1;
    assert_eq!(
        providers["CapacityProviders"],
        serde_json::json!(["FARGATE", "FARGATE_SPOT"])
    );
    let service = of_type(&hello, "AWS::ECS::Service")[0].1;
    assert_eq!(
        service["DeploymentConfiguration"]["DeploymentCircuitBreaker"],
        serde_json::json!({"Enable": true, "Rollback": true})
    );
    assert_eq!(
        service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"],
        "ENABLED"
    );
    let stage = of_type(&hello, "AWS::ApiGatewayV2::Stage")[0].1;
    assert_eq!(stage["StageName"], "$default");
    assert_eq!(stage["AutoDeploy"], true);
    let route = of_type(&hello, "AWS::ApiGatewayV2::Route")[0].1;
    assert_eq!(route["RouteKey"], "$default");
    assert!(of_type(&hello, "AWS::EC2::NatGateway").is_empty());
    assert_eq!(of_type(&hello, "AWS::EC2::Subnet").len(), 1);
    let outputs = hello["Outputs"].as_object().unwrap();
    assert_eq!(
        get_att(&outputs["ApiEndpoint"]["Value"], "ApiEndpoint"),
        Some("HttpApi")
    );
}

/// What cfn-guard rules would check, on every template: integration URIs are Cloud Map
/// service ARNs, service registries name the container and its port, task groups admit
/// only the VPC link's group on that port, every Cloud Map service has SRV records and a
/// custom health check. Files that ask for the traps (`existing_vpc`) get them avoided.
#[test]
fn every_template_keeps_the_private_integration_invariants() {
    for (name, path) in CASES {
        let t = template(path);
        let discovery: BTreeSet<&str> = of_type(&t, "AWS::ServiceDiscovery::Service")
            .into_iter()
            .map(|(id, sd)| {
                assert!(sd["HealthCheckCustomConfig"].is_object(), "{name} {id}");
                let records = sd["DnsConfig"]["DnsRecords"].as_array().unwrap();
                assert!(records.iter().all(|r| r["Type"] == "SRV"), "{name} {id}");
                id
            })
            .collect();

        // An integration URI that is not a Cloud Map service ARN cannot come from the file
        // (albless_spec::lint explains why); assert it holds.
        let integrations = of_type(&t, "AWS::ApiGatewayV2::Integration");
        assert!(!integrations.is_empty(), "{name}");
        for (id, i) in integrations {
            let target = get_att(&i["IntegrationUri"], "Arn");
            assert!(target.is_some_and(|d| discovery.contains(d)), "{name} {id}");
            assert_eq!(i["ConnectionType"], "VPC_LINK", "{name} {id}");
            assert_eq!(i["IntegrationType"], "HTTP_PROXY", "{name} {id}");
            assert_eq!(i["PayloadFormatVersion"], "1.0", "{name} {id}");
        }

        let link_sg = "VpcLinkSecurityGroup";
        let ingress = of_type(&t, "AWS::EC2::SecurityGroupIngress");
        for (id, service) in of_type(&t, "AWS::ECS::Service") {
            let task_id = service["TaskDefinition"]["Ref"].as_str().unwrap();
            let task = &t["Resources"][task_id]["Properties"];
            let container = &task["ContainerDefinitions"][0];
            let port = &container["PortMappings"][0]["ContainerPort"];
            let registry = &service["ServiceRegistries"][0];
            assert_eq!(registry["ContainerName"], container["Name"], "{name} {id}");
            assert_eq!(&registry["ContainerPort"], port, "{name} {id}");
            assert!(
                get_att(&registry["RegistryArn"], "Arn").is_some_and(|d| discovery.contains(d))
            );

            let groups = service["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
                .as_array()
                .unwrap();
            for group in groups {
                let sg = get_att(group, "GroupId").unwrap();
                let props = &t["Resources"][sg]["Properties"];
                assert!(props.get("SecurityGroupIngress").is_none(), "{name} {sg}");
                let rules: Vec<_> = ingress
                    .iter()
                    .filter(|(_, r)| get_att(&r["GroupId"], "GroupId") == Some(sg))
                    .collect();
                assert_eq!(rules.len(), 1, "{name} {sg}");
                let rule = rules[0].1;
                assert_eq!(
                    get_att(&rule["SourceSecurityGroupId"], "GroupId"),
                    Some(link_sg)
                );
                assert_eq!(
                    (&rule["FromPort"], &rule["ToPort"]),
                    (port, port),
                    "{name} {sg}"
                );
                assert_eq!(rule["IpProtocol"], "tcp");
            }
        }
    }
}

#[test]
fn trap_settings_are_avoided_in_the_template() {
    let t = template("crates/synth/tests/data/existing-vpc.toml");
    let service = of_type(&t, "AWS::ECS::Service")[0].1;
    let deployment = &service["DeploymentConfiguration"];
    assert_eq!(deployment["MinimumHealthyPercent"], 100);
    assert_eq!(deployment["MaximumPercent"], 200);
    assert_eq!(
        service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"],
        "DISABLED"
    );
    assert_eq!(
        service["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(of_type(&t, "AWS::EC2::VPC").is_empty());
    // The private ECR image: the execution role may pull from that repository only.
    let policy = of_type(&t, "AWS::IAM::Policy")[0].1;
    let resource = &policy["PolicyDocument"]["Statement"][1]["Resource"]["Fn::Sub"];
    assert_eq!(
        resource,
        "arn:${AWS::Partition}:ecr:us-east-1:111122223333:repository/legacy/app"
    );
}

#[test]
fn synthesis_is_deterministic() {
    for (_, path) in CASES {
        let a = synthesize(&load(path));
        let b = synthesize(&load(path));
        for format in [Format::Json, Format::Yaml] {
            assert_eq!(
                a.render(format).unwrap(),
                b.render(format).unwrap(),
                "{path}"
            );
        }
    }
}

/// Adding a service (one that sorts first) and a route to it leaves every existing
/// resource as it was: same id, same properties.
#[test]
fn logical_ids_are_stable_when_a_service_is_added() {
    let path = root().join("crates/synth/tests/data/multi.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let before = serde_json::from_str::<Value>(
        &synthesize(&albless_spec::parse(&path, &text).unwrap())
            .render(Format::Json)
            .unwrap(),
    )
    .unwrap();
    let extra = text.replace(
        "[api.routes.\"$default\"]",
        "[api.routes.\"GET /aaa\"]\nservice = \"aaa\"\n\n[api.routes.\"$default\"]",
    ) + "\n[services.aaa]\nimage = \"nginx:1\"\nport = 81\n";
    let after = serde_json::from_str::<Value>(
        &synthesize(&albless_spec::parse(Path::new(&path), &extra).unwrap())
            .render(Format::Json)
            .unwrap(),
    )
    .unwrap();
    let after_resources = after["Resources"].as_object().unwrap();
    for (id, resource) in before["Resources"].as_object().unwrap() {
        let Some(now) = after_resources.get(id) else {
            panic!("{id} disappeared");
        };
        if id == "HttpApiStage" {
            // It waits for every route, so the new route joins its DependsOn.
            assert_eq!(now["Properties"], resource["Properties"]);
        } else {
            assert_eq!(now, resource, "{id} changed");
        }
    }
    assert!(after_resources.contains_key("AaaEcsService"));
}
