//! Malformed albless.toml files: `albless validate` and `albless up` name the file, line,
//! column and field, exit with code 2, and start nothing.

use std::process::Command;

const GOOD: &str = r#"version = 1

[stack]
name = "hello"
region = "ap-northeast-3"

[api.routes]
"$default" = { service = "backend" }

[services.backend]
command = ["albless-whoami"]
port = 8080
desired_count = 2
"#;

/// Runs `albless <cmd> FILE` on `text` and checks exit code 2 and the first stderr line
/// `error: FILE:LINE:COL: FIELD: ...` (the message containing `message`).
fn check(cmd: &str, text: &str, line: usize, column: usize, field: &str, message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("albless.toml");
    std::fs::write(&file, text).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_albless"));
    command.arg(cmd).arg(&file);
    if cmd == "up" {
        command.args(["--listen", "127.0.0.1:0", "--dns-listen", "127.0.0.1:0"]);
    }
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{cmd}: exit code 2 for:\n{text}\nstderr:\n{stderr}"
    );
    let first = stderr.lines().next().unwrap_or_default();
    let prefix = format!("error: {}:{line}:{column}: {field}: ", file.display());
    assert!(
        first.starts_with(&prefix),
        "{cmd}: want `{prefix}...`, got `{first}`"
    );
    assert!(
        first.contains(message),
        "{cmd}: want `{message}` in `{first}`"
    );
    assert!(
        !dir.path().join(".albless").exists(),
        "{cmd}: nothing started, no state written"
    );
    assert!(out.stdout.is_empty(), "{cmd}: nothing printed on stdout");
}

fn edit(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from));
    GOOD.replace(from, to)
}

#[test]
fn the_good_file_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("albless.toml");
    std::fs::write(&file, GOOD).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_albless"))
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let example = albless_testkit::workspace_root().join("examples/hello/albless.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_albless"))
        .arg("validate")
        .arg(&example)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn each_kind_of_bad_input_is_located() {
    for cmd in ["validate", "up"] {
        // Unknown key, with a hint.
        check(
            cmd,
            &edit("port = 8080", "prot = 8080"),
            12,
            1,
            "services.backend.prot",
            "unknown",
        );
        // Wrong type.
        check(
            cmd,
            &edit("port = 8080", "port = \"8080\""),
            12,
            8,
            "services.backend.port",
            "",
        );
        // Out of range.
        check(
            cmd,
            &edit("desired_count = 2", "desired_count = 5000"),
            13,
            17,
            "services.backend.desired_count",
            "",
        );
        // Route to an unknown service.
        check(
            cmd,
            &edit("service = \"backend\"", "service = \"nope\""),
            8,
            26,
            "api.routes.\"$default\".service",
            "nope",
        );
        // Not TOML at all.
        check(
            cmd,
            &edit("port = 8080", "port = = 8080"),
            12,
            8,
            "services.backend.port",
            "",
        );
    }
}

#[test]
fn the_rendered_error_shows_the_line_and_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("albless.toml");
    std::fs::write(&file, edit("port = 8080", "prot = 8080")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_albless"))
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("prot = 8080"),
        "snippet of the line: {stderr}"
    );
    assert!(
        stderr.contains("help:") && stderr.contains("port"),
        "hint: {stderr}"
    );
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_albless"))
        .args(["validate", "/nonexistent/albless.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/albless.toml"));
}

#[test]
fn aws_commands_without_credentials_say_how_to_give_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("albless.toml");
    std::fs::write(&file, GOOD).unwrap();
    // A port that was free a moment ago: nothing may be reached, and nothing is.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_albless"))
        .args(["aws", "status", "--file"])
        .arg(&file)
        .env_clear()
        .env("HOME", dir.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.path().join("no-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.path().join("no-credentials"),
        )
        .env("AWS_ENDPOINT_URL", format!("http://{closed}"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no AWS credentials found: set AWS_ACCESS_KEY_ID"),
        "{stderr}"
    );
}
