//! Unit tests of parsing, defaults, validation and error locations.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use super::*;

/// Lines 1-4: a valid header.
macro_rules! head {
    () => {
        "version = 1\n[stack]\nname = \"s\"\nregion = \"us-east-1\"\n"
    };
}
/// Lines 5-7 (after `head!`): a minimal service `web`.
macro_rules! web {
    () => {
        "[services.web]\ncommand = [\"web\"]\nport = 8080\n"
    };
}
/// Two lines: a `$default` route to `web`.
macro_rules! routes {
    () => {
        "[api.routes]\n\"$default\" = { service = \"web\" }\n"
    };
}

fn file() -> &'static Path {
    Path::new("dir/albless.toml")
}

/// Parses `text`, expects an error at `line`:`column` on `field` whose message contains
/// `message`, checks the rendered first line, and returns the error for further checks.
#[track_caller]
fn check(text: &str, line: usize, column: usize, field: &str, message: &str) -> SpecError {
    let err = match parse(file(), text) {
        Ok(stack) => panic!("expected an error for\n{text}\ngot {stack:#?}"),
        Err(err) => err,
    };
    let located = err.location().expect("a located error");
    assert_eq!(
        (err.line(), err.column(), err.field()),
        (Some(line), Some(column), Some(field)),
        "{}",
        err.render()
    );
    assert!(
        located.message().contains(message),
        "message {:?} lacks {message:?}",
        located.message()
    );
    let first = err.render().lines().next().unwrap().to_owned();
    assert_eq!(
        first,
        format!(
            "error: dir/albless.toml:{line}:{column}: {field}: {}",
            located.message()
        )
    );
    err
}

#[track_caller]
fn help(err: &SpecError) -> &str {
    err.location().and_then(Located::help).expect("a hint")
}

#[test]
fn omitted_fields_take_their_defaults() {
    let text = concat!(head!(), web!(), routes!());
    let stack = parse(Path::new("albless.toml"), text).unwrap();
    assert_eq!(stack.dir, Path::new("."));
    assert_eq!(stack.api.listen, "127.0.0.1:8000".parse().unwrap());
    assert_eq!(
        stack.discovery,
        Discovery {
            namespace: "ecs.local".to_owned(),
            record_type: RecordType::Srv,
            ttl: 10,
            dns_listen: "127.0.0.1:8053".parse().unwrap(),
            health_propagation: Duration::ZERO,
            custom_health_check: true,
        }
    );
    let web = &stack.services["web"];
    assert_eq!(
        (web.cpu, web.memory, web.arch, web.desired_count),
        (256, 512, Arch::X86_64, 1)
    );
    assert_eq!(
        (web.image.as_deref(), web.health_check.as_ref()),
        (None, None)
    );
    assert_eq!(web.stop_timeout, Duration::from_secs(30));
    assert!(web.environment.is_empty());
}

#[test]
fn set_fields_are_read() {
    let text = concat!(
        head!(),
        "[services.web]\nimage = \"web:1\"\nport = 80\ncpu = 16384\nmemory = 40960\n",
        "stop_timeout = 120\ndesired_count = 0\n",
        "[services.web.health_check]\ncommand = [\"CMD-SHELL\", \"curl -f localhost\"]\n",
        "start_period = 300\n",
        "[api]\nlisten = \"[::1]:0\"\n",
        "[api.routes]\n\"GET /b/{id}\" = { service = \"web\" }\n",
        "\"ANY /\" = { service = \"web\" }\n",
        "\"POST /a/{proxy+}\" = { service = \"web\" }\n",
        "[discovery]\nnamespace = \"svc.internal\"\nrecord_type = \"SRV+A\"\nttl = 0\n",
        "dns_listen = \"0.0.0.0:53\"\n",
    );
    let stack = parse(file(), text).unwrap();
    let web = &stack.services["web"];
    assert_eq!(
        (web.command.as_ref(), web.image.as_deref()),
        (None, Some("web:1"))
    );
    assert_eq!((web.cpu, web.memory, web.desired_count), (16384, 40960, 0));
    assert_eq!(web.stop_timeout, Duration::from_secs(120));
    let hc = web.health_check.as_ref().unwrap();
    let cmd = vec!["CMD-SHELL".to_owned(), "curl -f localhost".to_owned()];
    assert_eq!(hc.kind, HealthCheckKind::Command(cmd));
    assert_eq!(
        (hc.interval, hc.timeout, hc.retries),
        (Duration::from_secs(30), Duration::from_secs(5), 3)
    );
    assert_eq!(hc.start_period, Duration::from_secs(300));
    assert_eq!(stack.api.listen, "[::1]:0".parse().unwrap());
    // Routes keep file order, not the sorted order of the TOML table.
    let keys: Vec<String> = stack.api.routes.iter().map(|r| r.key.to_string()).collect();
    assert_eq!(keys, ["GET /b/{id}", "ANY /", "POST /a/{proxy+}"]);
    assert_eq!(stack.discovery.namespace, "svc.internal");
    assert_eq!(
        (stack.discovery.record_type, stack.discovery.ttl),
        (RecordType::SrvAndA, 0)
    );
}

/// One bad file: text, expected line, column, field, and a substring of the message.
type Row = (&'static str, usize, usize, &'static str, &'static str);

/// Bad files and where their error must point. `head!()` is lines 1-4, `web!()` 5-7.
#[rustfmt::skip]
const BAD: &[Row] = &[
    // TOML syntax.
    ("version = 1\n[stack\n", 2, 7, "stack", "unclosed table"),
    ("version = 1\n[stack]\nname = \"a\"\nname = \"b\"\n", 4, 1, "stack.name", "duplicate key"),
    ("version = = 1\n", 1, 11, "version", "extra `=`"),
    (concat!(head!(), "[services.'web']\nport 80\n"), 6, 6, "services.web.port", "expected `=`"),
    (concat!(head!(), web!(), "[api.routes]\n\"GET /x\" = { service = \"web\"\n"),
        9, 29, "api.routes.\"GET /x\"", "unclosed inline table"),
    // Unknown keys.
    ("versoin = 1\n", 1, 1, "versoin", "unknown key `versoin`"),
    (concat!(head!(), "[services.web]\ncommand = [\"web\"]\nprot = 8080\n"),
        7, 1, "services.web.prot", "unknown key"),
    (concat!(head!(), web!(), "[services.web.health_check]\npath = \"/\"\nintreval = 5\n",
        routes!()),
        10, 1, "services.web.health_check.intreval", "unknown key"),
    (concat!(head!(), web!(), "[api.routes]\n",
        "\"$default\" = { service = \"web\", stage = \"x\" }\n"),
        9, 33, "api.routes.\"$default\".stage", "unknown key `stage`"),
    // Wrong types.
    (concat!(head!(), "[services.web]\ncommand = [\"web\"]\nport = \"80\"\n"),
        7, 8, "services.web.port", "expected an integer, found a string"),
    (concat!(head!(), "[services.web]\ncommand = \"web\"\n"),
        6, 11, "services.web.command", "expected an array of strings"),
    (concat!(head!(), "[services.web]\ncommand = [\"web\", 1]\n"),
        6, 19, "services.web.command[1]", "expected a string, found an integer"),
    (concat!(head!(), "[[services]]\n"), 5, 1, "services", "expected a table, found an array"),
    (concat!(head!(), web!(), "environment = { A = 1 }\n", routes!()),
        8, 21, "services.web.environment.A", "expected a string"),
    // Out of range.
    (concat!(head!(), "[services.web]\ncommand = [\"web\"]\nport = 0\n"),
        7, 8, "services.web.port", "between 1 and 65535, found 0"),
    (concat!(head!(), web!(), "desired_count = 5000\n", routes!()),
        8, 17, "services.web.desired_count", "between 0 and 1000"),
    (concat!(head!(), web!(), "[services.web.health_check]\npath = \"/\"\ninterval = 1\n",
        routes!()),
        10, 12, "services.web.health_check.interval", "between 5 and 300"),
    (concat!(head!(), web!(), "stop_timeout = 1\n", routes!()),
        8, 16, "services.web.stop_timeout", "between 2 and 120"),
    (concat!(head!(), web!(), "cpu = 300\n", routes!()),
        8, 7, "services.web.cpu", "300 is not a Fargate CPU size"),
    (concat!(head!(), web!(), "cpu = 512\nmemory = 512\n", routes!()),
        9, 10, "services.web.memory", "not valid with cpu 512"),
    (concat!(head!(), web!(), "cpu = 1024\n", routes!()),
        8, 7, "services.web.cpu", "default memory (512 MiB)"),
    (concat!(head!(), web!(), "[discovery]\nttl = -1\n", routes!()),
        9, 7, "discovery.ttl", "between 0 and 2147483647"),
    // Missing required fields.
    (concat!(head!(), "[services.web]\ncommand = [\"web\"]\n", routes!()),
        5, 1, "services.web.port", "missing required field `port`"),
    ("version = 1\n[stack]\nregion = \"us-east-1\"\n",
        2, 1, "stack.name", "missing required field `name`"),
    ("[stack]\n", 1, 1, "version", "missing required field `version`"),
    ("version = 1\n", 1, 1, "stack", "missing required field `stack`"),
    (concat!(head!(), "[services.web]\nport = 1\n", routes!()),
        5, 1, "services.web.command", "missing required field `command`"),
    (concat!(head!(), web!(), "[api.routes]\n\"$default\" = {}\n"),
        9, 14, "api.routes.\"$default\".service", "missing required field `service`"),
    // Routes.
    (concat!(head!(), web!(), "[api.routes]\n\"GET /x\" = { service = \"db\" }\n"),
        9, 24, "api.routes.\"GET /x\".service", "no service named `db`"),
    (concat!(head!(), web!(), "[api.routes]\n\"get /x\" = { service = \"web\" }\n"),
        9, 1, "api.routes.\"get /x\"", "unknown method `get`"),
    (concat!(head!(), web!(), "[api.routes]\n\"GET x\" = { service = \"web\" }\n"),
        9, 1, "api.routes.\"GET x\"", "must start with `/`"),
    (concat!(head!(), web!(), "[api.routes]\n\"GET /{p+}/x\" = { service = \"web\" }\n"),
        9, 1, "api.routes.\"GET /{p+}/x\"", "`{p+}` must be the last segment"),
    (concat!(head!(), web!(), "[api.routes]\n\"ANY /{proxy+}/{proxy+}\" = { service = \"web\" }\n"),
        9, 1, "api.routes.\"ANY /{proxy+}/{proxy+}\"", "must be the last segment"),
    (concat!(head!(), web!(), "[api.routes]\n\"GET /{id}/{id}\" = { service = \"web\" }\n"),
        9, 1, "api.routes.\"GET /{id}/{id}\"", "`id` is used twice"),
    (concat!(head!(), web!(), "[api.routes]\n\"GET /p/{id}\" = { service = \"web\" }\n",
        "\"GET /p/{pid}\" = { service = \"web\" }\n"),
        10, 1, "api.routes.\"GET /p/{pid}\"", "duplicates `GET /p/{id}` (line 9)"),
    (concat!(head!(), web!()), 1, 1, "api.routes", "no routes"),
    (concat!(head!(), web!(), "[api]\nlisten = \"127.0.0.1:0\"\n"),
        8, 1, "api.routes", "no routes"),
    (concat!(head!(), web!(), "[api.routes]\n"), 8, 1, "api.routes", "no routes"),
    (concat!(head!(), web!(), "[api]\nlisten = \"localhost:80\"\n", routes!()),
        9, 10, "api.listen", "not a socket address"),
    // Services.
    (concat!(head!(), routes!()), 1, 1, "services", "missing required field `services`"),
    (concat!(head!(), "[services]\n", routes!()), 5, 1, "services", "no services defined"),
    (concat!(head!(), "[services.Web]\ncommand = [\"web\"]\nport = 1\n"),
        5, 11, "services.Web", "invalid service name `Web`"),
    (concat!(head!(), "[services.web]\ncommand = [\"\"]\n"),
        6, 11, "services.web.command", "program name is empty"),
    (concat!(head!(), "[services.web]\ncommand = []\n"),
        6, 11, "services.web.command", "must not be empty"),
    (concat!(head!(), web!(), "arch = \"amd64\"\n", routes!()),
        8, 8, "services.web.arch", "unknown architecture `amd64`"),
    (concat!(head!(), web!(), "environment = { 1A = \"x\" }\n", routes!()),
        8, 17, "services.web.environment.1A", "invalid variable name"),
    // Health checks.
    (concat!(head!(), web!(), "[services.web.health_check]\npath = \"/\"\ncommand = [\"true\"]\n",
        routes!()),
        10, 11, "services.web.health_check.command", "not both"),
    (concat!(head!(), web!(), "[services.web.health_check]\nretries = 2\n", routes!()),
        8, 1, "services.web.health_check", "missing `path` or `command`"),
    (concat!(head!(), web!(), "[services.web.health_check]\npath = \"health\"\n", routes!()),
        9, 8, "services.web.health_check.path", "must start with `/`"),
    (concat!(head!(), web!(), "[services.web.health_check]\ncommand = [\"CMD\"]\n", routes!()),
        9, 11, "services.web.health_check.command", "nothing to run"),
    // Top level, stack and discovery.
    ("version = 2\n", 1, 11, "version", "unsupported version 2"),
    ("version = 1\n[stack]\nname = \"1a\"\nregion = \"us-east-1\"\n",
        3, 8, "stack.name", "invalid stack name"),
    ("version = 1\n[stack]\nname = \"a\"\nregion = \"us-east\"\n",
        4, 10, "stack.region", "not an AWS region"),
    (concat!(head!(), web!(), routes!(), "[discovery]\nnamespace = \"ECS.local\"\n"),
        11, 13, "discovery.namespace", "invalid namespace `ECS.local`"),
    (concat!(head!(), web!(), routes!(), "[discovery]\nnamespace = \"a..b\"\n"),
        11, 13, "discovery.namespace", "label ``: must be 1 to 63"),
    (concat!(head!(), web!(), routes!(), "[discovery]\nrecord_type = \"CNAME\"\n"),
        11, 15, "discovery.record_type", "unknown record type `CNAME`"),
];

#[test]
fn bad_input_is_located() {
    for (text, line, column, field, message) in BAD {
        check(text, *line, *column, field, message);
    }
}

#[test]
fn hints_point_at_the_fix() {
    let err = check("versoin = 1\n", 1, 1, "versoin", "unknown key");
    assert_eq!(help(&err), "did you mean `version`?");

    let text = concat!(
        head!(),
        web!(),
        "[services.web.health_check]\npath = \"/\"\nintreval = 5\n",
        routes!()
    );
    let err = check(
        text,
        10,
        1,
        "services.web.health_check.intreval",
        "unknown key",
    );
    assert_eq!(help(&err), "did you mean `interval`?");

    let err = check("version = 1\nzzz = 1\n", 2, 1, "zzz", "unknown key");
    assert!(
        help(&err).starts_with("expected one of `version`, `stack`"),
        "{}",
        help(&err)
    );

    let text = concat!(
        head!(),
        web!(),
        "[api.routes]\n\"GET /x\" = { service = \"db\" }\n"
    );
    let err = check(
        text,
        9,
        24,
        "api.routes.\"GET /x\".service",
        "no service named",
    );
    assert_eq!(help(&err), "known services: `web`");

    let text = concat!(head!(), web!(), "cpu = 512\nmemory = 512\n", routes!());
    let err = check(text, 9, 10, "services.web.memory", "not valid");
    assert_eq!(
        help(&err),
        "with cpu = 512, memory must be one of 1024, 2048, 3072, 4096"
    );

    let text = concat!(head!(), web!(), "cpu = 4096\nmemory = 512\n", routes!());
    let err = check(text, 9, 10, "services.web.memory", "not valid");
    assert_eq!(
        help(&err),
        "with cpu = 4096, memory must be 8192 to 30720 in steps of 1024"
    );

    let text = concat!(
        head!(),
        web!(),
        "[api.routes]\n\"get /x\" = { service = \"web\" }\n"
    );
    let err = check(text, 9, 1, "api.routes.\"get /x\"", "unknown method");
    assert_eq!(help(&err), "methods are upper case: `GET`");
}

#[test]
fn render_shows_the_line_a_label_and_the_hint() {
    let text = concat!(
        head!(),
        "[services.web]\ncommand = [\"web\"]\nprot = 8080\n"
    );
    let rendered = check(text, 7, 1, "services.web.prot", "unknown key").render();
    let lines: Vec<&str> = rendered.lines().collect();
    assert_eq!(
        lines[0],
        "error: dir/albless.toml:7:1: services.web.prot: unknown key `prot`"
    );
    assert!(
        lines.iter().any(|l| l.ends_with("| prot = 8080")),
        "{rendered}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("unknown key") && l.contains("`--")),
        "{rendered}"
    );
    assert_eq!(lines.last().unwrap().trim(), "help: did you mean `port`?");
    assert!(rendered.is_ascii(), "{rendered}");
    assert!(!rendered.contains('\u{1b}'), "{rendered}");
}

#[test]
fn columns_count_characters_not_bytes() {
    let text = concat!(head!(), "[services.web]\ncommand = [\"é\"]\nport = 0\n");
    check(text, 7, 8, "services.web.port", "between 1 and 65535");
    let text = "version = 1\n[stack]\nname = \"é\"\n";
    check(text, 3, 8, "stack.name", "invalid stack name");
}

mod api;
mod example;
mod service;
mod stack;
