//! The `albless.toml` format, version 1: reads the spanned TOML tree into a [`Stack`],
//! applying defaults and checking every value against the AWS limit it stands for.
//!
//! One submodule per part of the file: `stack` (`[stack]`, `[discovery]`, `[network]`,
//! `[aws]`), `service` (`[services.NAME]`), `deploy` (deployment, capacity and the other
//! per-service tables), `schedule` (`[[services.NAME.schedule]]`), `api` (`[api]`) and
//! `routes` (`[api.routes]`).
//!
//! Checks run in a fixed order (top-level keys, `version`, `[stack]`, `[discovery]`,
//! `[services]`, `[api]`, `[network]`, `[aws]`), so the first problem reported is not
//! always the first in the file. Known limits: one problem per run; `image` is only
//! checked to be non-empty (no registry reference grammar); the health check `command` is
//! kept as written; the only file-system check is that a `build` folder holds a
//! `Dockerfile`.

mod api;
mod deploy;
mod routes;
mod schedule;
mod service;
mod stack;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use toml::de::DeTable;

use crate::error::{Kind, SpecError};
use crate::model::Stack;
use crate::walk::{Ctx, Result, Table, field_at};

/// Parses `text` (read from `path`) into a validated [`Stack`].
pub(crate) fn stack(path: &Path, text: &str) -> Result<Stack> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let ctx = Ctx {
        path,
        text,
        dir: &dir,
    };
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
    root.deny_unknown(&[
        "version",
        "stack",
        "api",
        "discovery",
        "services",
        "network",
        "aws",
    ])?;

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

    let stack_table = root
        .table("stack", "stack")?
        .ok_or_else(|| root.missing("stack"))?;
    let head = stack::stack_section(&stack_table)?;
    let empty = DeTable::new();
    let discovery = stack::discovery(&optional(&root, "discovery", &empty)?)?;
    let services = service::services(&root)?;
    let api = api::api(&root, &services)?;
    let network = stack::network(&optional(&root, "network", &empty)?)?;
    let aws = stack::aws(&optional(&root, "aws", &empty)?)?;

    Ok(Stack {
        path: path.to_path_buf(),
        dir,
        version: 1,
        name: head.name,
        region: head.region,
        tags: head.tags,
        api,
        discovery,
        services,
        network,
        aws,
    })
}

/// The top-level table `key`, or an empty one (so defaults apply) when it is absent.
fn optional<'a, 'i>(
    root: &Table<'a, 'i>,
    key: &'static str,
    empty: &'a DeTable<'i>,
) -> Result<Table<'a, 'i>> {
    Ok(match root.table(key, key)? {
        Some(t) => t,
        None => Table {
            path: key,
            map: empty,
            ..root.clone()
        },
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

/// Milliseconds at `key` within `min..=max`, or `default` ms when absent.
fn millis(t: &Table<'_, '_>, key: &str, min: i64, max: i64, default: u64) -> Result<Duration> {
    let ms = t
        .int(key, min, max)?
        .map_or(default, |v| *v.as_ref() as u64);
    Ok(Duration::from_millis(ms))
}

/// Seconds at `key` within `min..=max`, or `default` s when absent.
fn seconds(t: &Table<'_, '_>, key: &str, min: i64, max: i64, default: u64) -> Result<Duration> {
    let s = t
        .int(key, min, max)?
        .map_or(default, |v| *v.as_ref() as u64);
    Ok(Duration::from_secs(s))
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
