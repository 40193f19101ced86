//! `albless cost` run as a user runs it, on stack files, read back as JSON: the figures
//! of pricing.md §12 (the article's tables recomputed) within 0.02 USD, hours from a
//! schedule, and bad flags.

use std::path::Path;
use std::process::{Command, Output};

use chrono::{Datelike, NaiveDate, Weekday};
use serde_json::Value;

/// One always-on 0.25 vCPU / 0.5 GB task in Osaka, as in the article; `extra` is appended.
fn stack(arch: &str, extra: &str) -> String {
    format!(
        r#"version = 1

[stack]
name = "article"
region = "ap-northeast-3"

[api.routes]
"$default" = {{ service = "backend" }}

[services.backend]
command = ["albless-whoami"]
port = 8080
cpu = 256
memory = 512
arch = "{arch}"
desired_count = 1
{extra}"#
    )
}

fn run(file: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albless"))
        .arg("cost")
        .arg(file)
        .args(args)
        .output()
        .unwrap()
}

/// Runs `albless cost` on `text` with `--format json` and `args`; the parsed report.
fn cost(text: &str, args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("albless.toml");
    std::fs::write(&file, text).unwrap();
    let mut all = vec!["--format", "json", "--image-gb", "10.8"];
    all.extend_from_slice(args);
    let out = run(&file, &all);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "albless cost {args:?} failed:\n{stderr}"
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn close(got: &Value, want: f64, what: &str) {
    let got = got
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {got}"));
    assert!(
        (got - want).abs() <= 0.02,
        "{what}: got {got:.4}, want {want:.2}"
    );
}

fn line<'a>(report: &'a Value, bill: &str, prefix: &str) -> &'a Value {
    let lines = report[bill]["lines"].as_array().unwrap();
    &lines
        .iter()
        .find(|l| l["name"].as_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in {bill}"))["monthly_usd"]
}

#[test]
fn article_mode_gives_the_article_totals() {
    let x86 = cost(&stack("x86_64", ""), &["--article"]);
    close(&x86["with_alb"]["total"], 30.08, "with ALB");
    close(&x86["albless"]["total"], 12.83, "ALB-less x86");
    let arm = cost(&stack("arm64", ""), &["--article"]);
    close(&arm["albless"]["total"], 10.57, "ALB-less ARM");
    // The article's 8.99: its vCPU and memory parts rounded to the cent apart.
    assert_eq!(line(&arm, "albless", "Fargate").as_f64(), Some(8.99));
    assert_eq!(arm["mode"], "article");
}

#[test]
fn full_model_adds_the_missing_lines() {
    let x86 = cost(&stack("x86_64", ""), &[]);
    close(&x86["with_alb"]["total"], 41.01, "with ALB");
    close(&x86["albless"]["total"], 16.58, "ALB-less x86");
    close(&x86["saving"], 24.43, "saving");
    let arm = cost(&stack("arm64", ""), &[]);
    close(&arm["albless"]["total"], 14.33, "ALB-less ARM");
    close(
        line(&arm, "albless", "Public IPv4 on each task"),
        3.65,
        "task IPv4",
    );
    close(
        line(&arm, "with_alb", "Public IPv4 on the ALB"),
        7.30,
        "ALB IPv4",
    );
    let levers = arm["levers"].as_array().unwrap();
    let names: Vec<&str> = levers.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3);
    for name in ["spot", "schedule", "public_ipv4"] {
        assert!(names.contains(&name), "{names:?}");
    }
    assert!(
        arm["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("equal to Tokyo"))
    );
}

#[test]
fn spot_always_on_and_on_weekdays() {
    let spot_capacity =
        "\n[[services.backend.capacity]]\nprovider = \"FARGATE_SPOT\"\nweight = 1\n";
    let always = cost(&stack("arm64", spot_capacity), &[]);
    close(&always["albless"]["total"], 8.03, "Spot ARM always on");
    // The same from the flag, whatever the file says.
    let flag = cost(&stack("arm64", ""), &["--spot"]);
    close(&flag["albless"]["total"], 8.03, "--spot");
    let cautious = cost(&stack("arm64", ""), &["--spot", "--spot-discount", "65"]);
    close(&cautious["albless"]["total"], 8.48, "Spot at 65 % off");
    let office = cost(&stack("arm64", ""), &["--spot", "--hours", "174"]);
    close(&office["albless"]["total"], 3.19, "Spot ARM 174 h");
}

#[test]
fn weekday_office_hours_in_tokyo_give_the_month_s_hours() {
    let schedule = r#"
[[services.backend.capacity]]
provider = "FARGATE_SPOT"
weight = 1

[[services.backend.schedule]]
name = "start"
schedule = "cron(0 9 ? * MON-FRI *)"
timezone = "Asia/Tokyo"
min_capacity = 1
max_capacity = 1

[[services.backend.schedule]]
name = "stop"
schedule = "cron(0 17 ? * MON-FRI *)"
timezone = "Asia/Tokyo"
min_capacity = 0
max_capacity = 0
"#;
    for (month, first, next) in [
        ("2026-06", (2026, 6), (2026, 7)),
        ("2027-02", (2027, 2), (2027, 3)),
    ] {
        let first = NaiveDate::from_ymd_opt(first.0, first.1, 1).unwrap();
        let next = NaiveDate::from_ymd_opt(next.0, next.1, 1).unwrap();
        let weekdays = first
            .iter_days()
            .take_while(|d| *d < next)
            .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
            .count() as f64;

        let report = cost(&stack("arm64", schedule), &["--month", month]);
        assert_eq!(report["month"], month);
        let service = &report["services"][0];
        assert_eq!(
            service["spot_task_hours"].as_f64(),
            Some(weekdays * 8.0),
            "{month}"
        );
        assert_eq!(
            service["running_hours"].as_f64(),
            Some(weekdays * 8.0),
            "{month}"
        );
        assert_eq!(service["scheduled"], true);
        let rate = 0.25 * 0.04045 + 0.5 * 0.00442;
        close(
            line(&report, "albless", "Fargate"),
            weekdays * 8.0 * rate * 0.30,
            "Fargate",
        );
        close(
            line(&report, "albless", "Public IPv4 on each task"),
            weekdays * 8.0 * 0.005,
            "IPv4",
        );
    }
}

#[test]
fn the_hello_example_prices_every_line_with_a_formula() {
    let file = albless_testkit::workspace_root().join("examples/hello/albless.toml");
    let out = run(&file, &["--format", "json", "--month", "2026-06"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["region"], "ap-northeast-3");
    for bill in ["albless", "with_alb"] {
        let lines = report[bill]["lines"].as_array().unwrap();
        let sum: f64 = lines
            .iter()
            .map(|l| l["monthly_usd"].as_f64().unwrap())
            .sum();
        close(&report[bill]["total"], sum, "total is the sum of the lines");
        assert!(
            lines
                .iter()
                .all(|l| !l["formula"].as_str().unwrap().is_empty())
        );
    }
    let saving = report["with_alb"]["total"].as_f64().unwrap()
        - report["albless"]["total"].as_f64().unwrap();
    close(&report["saving"], saving, "saving");
    assert!(saving > 0.0, "the ALB-less stack is cheaper");
    assert_eq!(report["levers"].as_array().unwrap().len(), 3);

    // The table format says the same for a person.
    let out = run(&file, &["--month", "2026-06"]);
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "Without a load balancer",
        "ALB hours",
        "Saving:",
        "Biggest levers:",
        "formula",
    ] {
        assert!(text.contains(want), "`{want}` in:\n{text}");
    }
}

#[test]
fn bad_flags_are_refused_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("albless.toml");
    std::fs::write(&file, stack("arm64", "")).unwrap();
    let rows: [(&[&str], &str); 4] = [
        (&["--month", "2026-13"], "--month wants YYYY-MM"),
        (&["--region", "sa-east-1"], "no prices for region sa-east-1"),
        (&["--spot-discount", "170"], "within 0-100"),
        (&["--log-gb=-1"], "log volume"),
    ];
    for (args, message) in rows {
        let out = run(&file, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(
            stderr.contains(message),
            "{args:?}: want `{message}` in:\n{stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    }
}
