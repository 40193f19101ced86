//! `[services.NAME]`: what a service runs (command, image or build, driver), its size,
//! environment and health check. Deployment settings and the other sub-tables are read by
//! the `deploy` and `schedule` modules.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;
use toml::de::DeValue;

use super::{deploy, dns_label, invalid, schedule, seconds};
use crate::error::Kind;
use crate::model::{Arch, Driver, Service};
use crate::walk::{Result, Table, list};

/// Fargate CPU sizes, in CPU units. ECS developer guide, "Task CPU and memory" for Fargate
/// (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size>).
const CPU_SIZES: [i64; 7] = [256, 512, 1024, 2048, 4096, 8192, 16384];

/// `[services.NAME]`: at least one.
pub(super) fn services(root: &Table<'_, '_>) -> Result<BTreeMap<String, Service>> {
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
        "build",
        "driver",
        "port",
        "cpu",
        "memory",
        "arch",
        "desired_count",
        "environment",
        "stop_timeout",
        "health_check",
        "healthy_after",
        "min_healthy_percent",
        "max_percent",
        "circuit_breaker",
        "drain_ms",
        "capacity",
        "schedule",
        "scale_to_zero",
        "logging",
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
    if let (Some(_), Some(b)) = (&image, t.value("build")) {
        return Err(t
            .error(
                Kind::Conflict,
                b.span(),
                "build",
                "set either `image` or `build`, not both",
            )
            .with_help("`image` names an image to pull; `build` builds one from a Dockerfile"));
    }
    let build = build(t)?;
    let driver = driver(t, command.is_some(), image.is_some() || build.is_some())?;
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
        Some(h) => Some(deploy::health_check(&h)?),
        None => None,
    };

    let deployment = deploy::deployment(t, desired_count)?;

    Ok(Service {
        name: name.to_owned(),
        command: command.map(Spanned::into_inner),
        image: image.map(|i| i.as_ref().to_string()),
        driver,
        build: build.map(Spanned::into_inner),
        port: *port.as_ref() as u16,
        cpu,
        memory,
        arch,
        desired_count,
        environment,
        health_check,
        stop_timeout: Duration::from_secs(stop_timeout),
        healthy_after: seconds(t, "healthy_after", 0, 600, 40)?,
        min_healthy_percent: deployment.min_healthy_percent,
        max_percent: deployment.max_percent,
        circuit_breaker: deploy::circuit_breaker(t)?,
        drain: t
            .int("drain_ms", 0, 600_000)?
            .map(|ms| Duration::from_millis(*ms.as_ref() as u64)),
        capacity: deploy::capacity(t)?,
        schedule: schedule::actions(t)?,
        scale_to_zero: deploy::scale_to_zero(t)?,
        logging: deploy::logging(t)?,
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

/// `driver`: `process` or `docker`; by default `process` when `command` is set, else
/// `docker`. Each driver needs what it runs.
fn driver(t: &Table<'_, '_>, has_command: bool, has_image: bool) -> Result<Driver> {
    let written = t.string("driver")?;
    let driver = match &written {
        None if has_command => Driver::Process,
        None => Driver::Docker,
        Some(d) => match *d.as_ref() {
            "process" => Driver::Process,
            "docker" => Driver::Docker,
            other => {
                return Err(invalid(t, d, "driver", format!("unknown driver `{other}`"))
                    .with_help("expected `process` or `docker`"));
            }
        },
    };
    match driver {
        Driver::Process if !has_command => Err(t
            .missing("command")
            .with_help("the `process` driver runs `command`")),
        Driver::Docker if !has_image && written.is_some() => Err(t
            .missing("image")
            .with_help("the `docker` driver runs `image`, or the image built from `build`")),
        Driver::Docker if !has_image => Err(t.missing("command").with_help(
            "a service needs `command` (what runs locally), or `image` or `build` (a container)",
        )),
        _ => Ok(driver),
    }
}

/// `build`: a folder, relative to the stack's folder, that holds a `Dockerfile`.
fn build(t: &Table<'_, '_>) -> Result<Option<Spanned<PathBuf>>> {
    let Some(folder) = t.string("build")? else {
        return Ok(None);
    };
    if folder.as_ref().is_empty() {
        return Err(invalid(t, &folder, "build", "must not be empty"));
    }
    let path = t.ctx.dir.join(folder.as_ref());
    if !path.is_dir() {
        return Err(invalid(
            t,
            &folder,
            "build",
            format!("no folder `{}`", path.display()),
        )
        .with_help("`build` is a folder relative to the folder of albless.toml"));
    }
    if !path.join("Dockerfile").is_file() {
        return Err(invalid(
            t,
            &folder,
            "build",
            format!("no `Dockerfile` in `{}`", path.display()),
        ));
    }
    Ok(Some(Spanned::new(folder.span(), path)))
}
