//! The `albless.toml` format, version 1: reads the spanned TOML tree into a [`Stack`],
//! applying defaults and checking every value against the AWS limit it stands for.
//!
//! Checks run in a fixed order (top-level keys, `version`, `[stack]`, `[discovery]`,
//! `[services]`, `[api]`), so the first problem reported is not always the first in the
//! file. Known limits: one problem per run; `image` is only checked to be non-empty (no
//! registry reference grammar); the health check `command` is kept as written.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::error::{Kind, SpecError};
use crate::model::{
    Api, Arch, Discovery, HealthCheck, HealthCheckKind, RecordType, Route, RouteKey, Service, Stack,
};
use crate::walk::{Ctx, Result, Table, closest, field_at, list};

const DEFAULT_API_LISTEN: &str = "127.0.0.1:8000";
const DEFAULT_DNS_LISTEN: &str = "127.0.0.1:8053";
const DEFAULT_NAMESPACE: &str = "ecs.local";

/// Fargate CPU sizes, in CPU units. ECS developer guide, "Task CPU and memory" for Fargate
/// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size).
const CPU_SIZES: [i64; 7] = [256, 512, 1024, 2048, 4096, 8192, 16384];

/// Parses `text` (read from `path`) into a validated [`Stack`].
pub(crate) fn stack(path: &Path, text: &str) -> Result<Stack> {
    let ctx = Ctx { path, text };
    let root = DeTable::parse(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        ctx.error(
            Kind::Syntax,
            span.clone(),
            syntax_field(text, span.start),
            e.message().trim(),
        )
    })?;
    let root = Table {
        ctx: &ctx,
        path: "",
        span: 0..0,
        map: root.as_ref(),
    };
    root.deny_unknown(&["version", "stack", "api", "discovery", "services"])?;

    // Version first: a file of another version may be valid in ways this parser cannot see.
    let version = root
        .int("version", i64::MIN, i64::MAX)?
        .ok_or_else(|| root.missing("version"))?;
    if *version.as_ref() != 1 {
        return Err(ctx
            .error(
                Kind::Invalid,
                version.span(),
                "version",
                format!(
                    "unsupported version {}: this albless reads version 1",
                    version.as_ref()
                ),
            )
            .with_help("set `version = 1`"));
    }

    let stack = root
        .table("stack", "stack")?
        .ok_or_else(|| root.missing("stack"))?;
    let (name, region) = stack_section(&stack)?;
    let discovery = match root.table("discovery", "discovery")? {
        Some(t) => discovery(&t)?,
        None => discovery(&Table {
            map: &DeTable::new(),
            ..root.clone()
        })?,
    };
    let services = services(&root)?;
    let api = api(&root, &services)?;

    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(Stack {
        path: path.to_path_buf(),
        dir,
        version: 1,
        name,
        region,
        api,
        discovery,
        services,
    })
}

/// The field path of a syntax error (no tree exists): the header and key around it.
fn syntax_field(text: &str, offset: usize) -> String {
    let field = field_at(text, offset);
    if field.is_empty() {
        "(top level)".to_owned()
    } else {
        field
    }
}

/// `[stack]`: name and region.
fn stack_section(t: &Table<'_, '_>) -> Result<(String, String)> {
    t.deny_unknown(&["name", "region"])?;
    let name = t.string("name")?.ok_or_else(|| t.missing("name"))?;
    // CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128.
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-using-console-create-stack-parameters.html
    let n: &str = name.as_ref();
    let valid = (1..=128).contains(&n.len())
        && n.starts_with(|c: char| c.is_ascii_alphabetic())
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid {
        return Err(
            invalid(t, &name, "name", format!("invalid stack name `{n}`")).with_help(
                "a stack name is 1 to 128 letters, digits and `-`, starting with a letter",
            ),
        );
    }

    let region = t.string("region")?.ok_or_else(|| t.missing("region"))?;
    if !is_region(region.as_ref()) {
        return Err(invalid(
            t,
            &region,
            "region",
            format!("`{}` is not an AWS region", region.as_ref()),
        )
        .with_help("a region looks like `us-east-1` or `ap-northeast-3`"));
    }
    Ok((n.to_owned(), region.as_ref().to_string()))
}

/// `[discovery]`: the Cloud Map private DNS namespace and its records.
fn discovery(t: &Table<'_, '_>) -> Result<Discovery> {
    t.deny_unknown(&["namespace", "record_type", "ttl", "dns_listen"])?;

    let namespace = match t.string("namespace")? {
        Some(ns) => {
            if let Err(why) = dns_name(ns.as_ref()) {
                return Err(invalid(
                    t,
                    &ns,
                    "namespace",
                    format!("invalid namespace `{}`: {why}", ns.as_ref()),
                )
                .with_help("a namespace is a lower-case DNS name such as `ecs.local`"));
            }
            ns.as_ref().to_string()
        }
        None => DEFAULT_NAMESPACE.to_owned(),
    };

    // The DnsRecords types ECS service discovery can register for a Fargate task.
    let record_type = match t.string("record_type")? {
        None => RecordType::Srv,
        Some(rt) => match *rt.as_ref() {
            "SRV" => RecordType::Srv,
            "A" => RecordType::A,
            "SRV+A" => RecordType::SrvAndA,
            other => {
                return Err(invalid(
                    t,
                    &rt,
                    "record_type",
                    format!("unknown record type `{other}`"),
                )
                .with_help("expected one of `SRV`, `A`, `SRV+A`"));
            }
        },
    };

    // Cloud Map DnsRecord TTL: 0 to 2147483647 seconds.
    let ttl = t
        .int("ttl", 0, 2_147_483_647)?
        .map_or(10, |v| *v.as_ref() as u32);
    let dns_listen = socket_addr(t, "dns_listen", DEFAULT_DNS_LISTEN)?;
    Ok(Discovery {
        namespace,
        record_type,
        ttl,
        dns_listen,
    })
}

/// `[services.NAME]`: at least one.
fn services(root: &Table<'_, '_>) -> Result<BTreeMap<String, Service>> {
    let Some(value) = root.value("services") else {
        return Err(root
            .missing("services")
            .with_help("add a `[services.NAME]` table"));
    };
    let table = root.as_table(value, "services")?;
    if table.map.is_empty() {
        return Err(table
            .ctx
            .error(
                Kind::Missing,
                table.span.clone(),
                "services",
                "no services defined",
            )
            .with_help("add a `[services.NAME]` table"));
    }

    let mut services = BTreeMap::new();
    for (key, value) in table.entries() {
        let name: &str = key.get_ref();
        let path = table.field(name);
        if let Err(why) = dns_label(name) {
            return Err(table
                .ctx
                .error(
                    Kind::Invalid,
                    key.span(),
                    path,
                    format!("invalid service name `{name}`: {why}"),
                )
                .with_help("a service name is a DNS label: lower-case letters, digits and `-`"));
        }
        let service = service(name, &table.as_table(value, &path)?)?;
        services.insert(name.to_owned(), service);
    }
    Ok(services)
}

/// One `[services.NAME]` table.
fn service(name: &str, t: &Table<'_, '_>) -> Result<Service> {
    t.deny_unknown(&[
        "command",
        "image",
        "port",
        "cpu",
        "memory",
        "arch",
        "desired_count",
        "environment",
        "stop_timeout",
        "health_check",
    ])?;

    let command = t.strings("command")?;
    if let Some(cmd) = &command
        && cmd.as_ref()[0].is_empty()
    {
        return Err(t.ctx.error(
            Kind::Invalid,
            cmd.span(),
            t.field("command"),
            "the program name is empty",
        ));
    }
    let image = t.string("image")?;
    if let Some(img) = &image
        && img.as_ref().is_empty()
    {
        return Err(invalid(t, img, "image", "must not be empty"));
    }
    if command.is_none() && image.is_none() {
        return Err(t.missing("command").with_help(
            "a service needs `command` (what runs locally) or `image` (what runs on AWS), or both",
        ));
    }

    let port = t.int("port", 1, 65535)?.ok_or_else(|| t.missing("port"))?;
    let (cpu, memory) = cpu_memory(t)?;

    let arch = match t.string("arch")? {
        None => Arch::X86_64,
        Some(a) => match *a.as_ref() {
            "x86_64" => Arch::X86_64,
            "arm64" => Arch::Arm64,
            other => {
                return Err(
                    invalid(t, &a, "arch", format!("unknown architecture `{other}`"))
                        .with_help("expected `x86_64` or `arm64`"),
                );
            }
        },
    };

    // Not an AWS limit: a cap on how many local processes one service may ask for.
    let desired_count = t
        .int("desired_count", 0, 1000)?
        .map_or(1, |v| *v.as_ref() as u32);
    let environment = environment(t)?;
    // ECS ContainerDefinition stopTimeout on Fargate: 2 to 120 s, default 30 s.
    let stop_timeout = t
        .int("stop_timeout", 2, 120)?
        .map_or(30, |v| *v.as_ref() as u64);
    let health_path = t.field("health_check");
    let health_check = match t.table("health_check", &health_path)? {
        Some(h) => Some(health_check(&h)?),
        None => None,
    };

    Ok(Service {
        name: name.to_owned(),
        command: command.map(Spanned::into_inner),
        image: image.map(|i| i.as_ref().to_string()),
        port: *port.as_ref() as u16,
        cpu,
        memory,
        arch,
        desired_count,
        environment,
        health_check,
        stop_timeout: Duration::from_secs(stop_timeout),
    })
}

/// `cpu` and `memory`, checked against the Fargate task size table.
fn cpu_memory(t: &Table<'_, '_>) -> Result<(u32, u32)> {
    let cpu_value = t.int("cpu", i64::MIN, i64::MAX)?;
    let cpu = cpu_value.as_ref().map_or(256, |v| *v.as_ref());
    if let Some(v) = &cpu_value
        && !CPU_SIZES.contains(&cpu)
    {
        return Err(t
            .ctx
            .error(
                Kind::OutOfRange,
                v.span(),
                t.field("cpu"),
                format!("{cpu} is not a Fargate CPU size"),
            )
            .with_help(format!(
                "expected one of {}",
                list(&CPU_SIZES.map(|c| c.to_string()))
            )));
    }

    let memory_value = t.int("memory", i64::MIN, i64::MAX)?;
    let memory = memory_value.as_ref().map_or(512, |v| *v.as_ref());
    let options = memory_options(cpu);
    if !options.contains(&memory) {
        let help = format!(
            "with cpu = {cpu}, memory must be {}",
            describe_options(&options)
        );
        let err = match &memory_value {
            Some(v) => t.ctx.error(
                Kind::OutOfRange,
                v.span(),
                t.field("memory"),
                format!("memory {memory} MiB is not valid with cpu {cpu}"),
            ),
            // Default memory with a bigger CPU: point at the CPU that made it invalid.
            None => t.ctx.error(
                Kind::OutOfRange,
                cpu_value.as_ref().map_or(t.span.clone(), |v| v.span()),
                t.field("cpu"),
                format!(
                    "the default memory ({memory} MiB) is not valid with cpu {cpu}: set `memory`"
                ),
            ),
        };
        return Err(err.with_help(help));
    }
    Ok((cpu as u32, memory as u32))
}

/// Valid memory sizes (MiB) for a Fargate CPU size, per the ECS task size table.
fn memory_options(cpu: i64) -> Vec<i64> {
    let (low, high, step) = match cpu {
        256 => return vec![512, 1024, 2048],
        512 => (1024, 4096, 1024),
        1024 => (2048, 8192, 1024),
        2048 => (4096, 16384, 1024),
        4096 => (8192, 30720, 1024),
        8192 => (16384, 61440, 4096),
        16384 => (32768, 122880, 8192),
        _ => return Vec::new(),
    };
    (low..=high).step_by(step).collect()
}

/// "one of 512, 1024, 2048" or, for long lists, "8192 to 30720 in steps of 1024".
fn describe_options(options: &[i64]) -> String {
    match options {
        [first, second, .., last] if options.len() > 6 => {
            format!("{first} to {last} in steps of {}", second - first)
        }
        _ => format!(
            "one of {}",
            options
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `environment = { NAME = "value" }`.
fn environment(t: &Table<'_, '_>) -> Result<BTreeMap<String, String>> {
    let path = t.field("environment");
    let Some(env) = t.table("environment", &path)? else {
        return Ok(BTreeMap::new());
    };
    let mut out = BTreeMap::new();
    for (key, value) in env.entries() {
        let name: &str = key.get_ref();
        let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(t
                .ctx
                .error(
                    Kind::Invalid,
                    key.span(),
                    env.field(name),
                    format!("invalid variable name `{name}`"),
                )
                .with_help(
                    "a variable name is letters, digits and `_`, not starting with a digit",
                ));
        }
        let DeValue::String(v) = value.as_ref() else {
            return Err(env.wrong_type(env.field(name), value, "a string"));
        };
        out.insert(name.to_owned(), v.to_string());
    }
    Ok(out)
}

/// `[services.NAME.health_check]`. Ranges and defaults are those of the ECS HealthCheck
/// type (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_HealthCheck.html).
fn health_check(t: &Table<'_, '_>) -> Result<HealthCheck> {
    t.deny_unknown(&[
        "path",
        "command",
        "interval",
        "timeout",
        "retries",
        "start_period",
    ])?;

    let path = t.string("path")?;
    let command = t.strings("command")?;
    let kind = match (path, command) {
        (Some(_), Some(cmd)) => {
            return Err(t
                .ctx
                .error(
                    Kind::Invalid,
                    cmd.span(),
                    t.field("command"),
                    "set either `path` or `command`, not both",
                )
                .with_help("`path` is an HTTP check; `command` runs a program"));
        }
        (None, None) => {
            return Err(t
                .ctx
                .error(
                    Kind::Missing,
                    t.span.clone(),
                    t.path,
                    "missing `path` or `command`",
                )
                .with_help("set `path = \"/health\"` for an HTTP check, or `command = [...]`"));
        }
        (Some(p), None) => {
            if !p.as_ref().starts_with('/') {
                return Err(invalid(t, &p, "path", "must start with `/`"));
            }
            HealthCheckKind::Http {
                path: p.as_ref().to_string(),
            }
        }
        (None, Some(cmd)) => {
            let args = cmd.as_ref();
            // ECS form: `CMD` / `CMD-SHELL` then what to run; anything else is run as given.
            let bare_marker = matches!(args[0].as_str(), "CMD" | "CMD-SHELL") && args.len() == 1;
            if args[0].is_empty() || bare_marker {
                return Err(t.ctx.error(
                    Kind::Invalid,
                    cmd.span(),
                    t.field("command"),
                    "nothing to run",
                ));
            }
            HealthCheckKind::Command(cmd.into_inner())
        }
    };

    let secs = |key, min, max, default| -> Result<u64> {
        Ok(t.int(key, min, max)?
            .map_or(default, |v| *v.as_ref() as u64))
    };
    Ok(HealthCheck {
        kind,
        interval: Duration::from_secs(secs("interval", 5, 300, 30)?),
        timeout: Duration::from_secs(secs("timeout", 2, 60, 5)?),
        retries: secs("retries", 1, 10, 3)? as u32,
        start_period: Duration::from_secs(secs("start_period", 0, 300, 0)?),
    })
}

/// `[api]` and `[api.routes]`; routes must name services in `services`.
fn api(root: &Table<'_, '_>, services: &BTreeMap<String, Service>) -> Result<Api> {
    let empty = DeTable::new();
    let api = match root.table("api", "api")? {
        Some(t) => t,
        None => Table {
            path: "api",
            map: &empty,
            ..root.clone()
        },
    };
    api.deny_unknown(&["listen", "routes"])?;
    let listen = socket_addr(&api, "listen", DEFAULT_API_LISTEN)?;

    let no_routes = |span| {
        root.ctx
            .error(
                Kind::Missing,
                span,
                "api.routes",
                "no routes: the HTTP API needs at least one",
            )
            .with_help("add `[api.routes]` with `\"$default\" = { service = \"NAME\" }`")
    };
    let routes_table = api
        .table("routes", "api.routes")?
        .ok_or_else(|| no_routes(api.span.clone()))?;
    if routes_table.map.is_empty() {
        return Err(no_routes(routes_table.span.clone()));
    }

    let mut routes: Vec<(Route, &Spanned<DeString<'_>>)> = Vec::new();
    for (key, value) in routes_table.entries() {
        let written: &str = key.get_ref();
        let path = routes_table.field(written);
        let parsed: RouteKey = written.parse().map_err(|e| {
            let err = root.ctx.error(
                Kind::InvalidRouteKey,
                key.span(),
                path.clone(),
                format!("invalid route key `{written}`: {e}"),
            );
            match written.split_once(' ') {
                Some((m, _)) if m != m.to_ascii_uppercase() => err.with_help(format!(
                    "methods are upper case: `{}`",
                    m.to_ascii_uppercase()
                )),
                _ => err.with_help(
                    "a route key is `$default` or `METHOD /path`, e.g. `GET /pets/{id}`",
                ),
            }
        })?;
        if let Some((_, first)) = routes.iter().find(|(r, _)| r.key.same_shape(&parsed)) {
            let (line, _) = crate::error::line_column(root.ctx.text, first.span().start);
            return Err(root
                .ctx
                .error(
                    Kind::Invalid,
                    key.span(),
                    path,
                    format!(
                        "route `{written}` duplicates `{}` (line {line})",
                        first.get_ref()
                    ),
                )
                .with_help("two routes with the same method and path shape cannot be told apart"));
        }

        let route = routes_table.as_table(value, &path)?;
        let service = route_service(&route, services)?;
        routes.push((
            Route {
                key: parsed,
                service,
            },
            key,
        ));
    }
    Ok(Api {
        listen,
        routes: routes.into_iter().map(|(r, _)| r).collect(),
    })
}

/// The `service` of one route's table, which must exist.
fn route_service(route: &Table<'_, '_>, services: &BTreeMap<String, Service>) -> Result<String> {
    route.deny_unknown(&["service"])?;
    let name = route
        .string("service")?
        .ok_or_else(|| route.missing("service"))?;
    let n: &str = name.as_ref();
    if services.contains_key(n) {
        return Ok(n.to_owned());
    }
    let known: Vec<&str> = services.keys().map(String::as_str).collect();
    let help = match closest(n, &known) {
        Some(near) => format!("did you mean `{near}`? known services: {}", list(&known)),
        None => format!("known services: {}", list(&known)),
    };
    Err(route
        .ctx
        .error(
            Kind::UnknownService,
            name.span(),
            route.field("service"),
            format!("no service named `{n}`"),
        )
        .with_help(help))
}

/// A socket address at `key`, or `default`.
fn socket_addr(t: &Table<'_, '_>, key: &str, default: &str) -> Result<SocketAddr> {
    let Some(addr) = t.string(key)? else {
        return Ok(default.parse().expect("default address parses"));
    };
    addr.as_ref().parse().map_err(|_| {
        invalid(
            t,
            &addr,
            key,
            format!("`{}` is not a socket address", addr.as_ref()),
        )
        .with_help(format!(
            "expected `host:port` with an IP address, e.g. `{default}`"
        ))
    })
}

/// An [`Kind::Invalid`] error at a string value of `t`.
fn invalid(
    t: &Table<'_, '_>,
    value: &Spanned<&str>,
    key: &str,
    message: impl Into<String>,
) -> SpecError {
    t.ctx
        .error(Kind::Invalid, value.span(), t.field(key), message)
}

/// AWS region shape: `^[a-z]{2}(-[a-z]+)+-\d$` (`us-east-1`, `us-gov-west-1`).
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let lower = |p: &&str| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase());
    parts.len() >= 3
        && parts[0].len() == 2
        && lower(&parts[0])
        && parts[1..parts.len() - 1].iter().all(lower)
        && parts[parts.len() - 1].len() == 1
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
}

/// A lower-case DNS name: labels per [`dns_label`], at most 253 characters in all
/// (RFC 1035 section 2.3.4, RFC 1123 section 2.1).
fn dns_name(s: &str) -> std::result::Result<(), String> {
    if s.len() > 253 {
        return Err(format!("{} characters, at most 253", s.len()));
    }
    s.split('.')
        .try_for_each(|label| dns_label(label).map_err(|why| format!("label `{label}`: {why}")))
}

/// One DNS label: 1 to 63 of `[a-z0-9-]`, not starting or ending with `-`.
fn dns_label(s: &str) -> std::result::Result<(), String> {
    if s.is_empty() || s.len() > 63 {
        return Err("must be 1 to 63 characters".to_owned());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "`{c}` is not allowed (lower-case letters, digits and `-` only)"
        ));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("must not start or end with `-`".to_owned());
    }
    Ok(())
}
