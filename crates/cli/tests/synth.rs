//! `albless synth` and `albless validate` warnings, through the real binary.

use std::process::{Command, Output};

fn albless(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albless"))
        .current_dir(albless_testkit::workspace_root())
        .args(args)
        .output()
        .expect("albless runs")
}

#[test]
fn synth_writes_the_hello_template_as_yaml() {
    let out = albless(&["synth", "examples/hello/albless.toml", "--format", "yaml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    assert!(yaml.starts_with("AWSTemplateFormatVersion: "), "{yaml}");
    for needle in [
        "Type: AWS::ApiGatewayV2::VpcLink",
        "Type: AWS::ServiceDiscovery::Service",
        "IntegrationType: HTTP_PROXY",
        "Fn::GetAtt:",
        "CpuArchitecture: ARM64",
        "StageName: $default",
    ] {
        assert!(yaml.contains(needle), "missing `{needle}`");
    }
    // hello sets no trap: nothing on stderr.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn synth_writes_json_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hello.json");
    let out = albless(&[
        "synth",
        "examples/hello/albless.toml",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let template: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        template["Resources"]["HttpApi"]["Type"],
        "AWS::ApiGatewayV2::Api"
    );
}

#[test]
fn synth_rejects_a_bad_file_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("albless.toml");
    std::fs::write(&file, "version = 1\n[stack]\nname = \"x\"\n").unwrap();
    let out = albless(&["synth", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn validate_prints_traps_as_located_warnings_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("albless.toml");
    let text = "version = 1\n[stack]\nname = \"x\"\nregion = \"eu-west-1\"\n\
                [api.routes]\n\"$default\" = { service = \"web\" }\n\
                [discovery]\nrecord_type = \"A\"\n\
                [services.web]\ncommand = [\"x\"]\nport = 80\nmin_healthy_percent = 0\n";
    std::fs::write(&file, text).unwrap();
    let out = albless(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let shown = file.display();
    assert!(
        stderr.contains(&format!(
            "warning: {shown}:8:1: discovery.record_type: A records"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "warning: {shown}:12:1: services.web.min_healthy_percent:"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: `albless synth` registers SRV records"),
        "{stderr}"
    );
}
