//! Logical ids: derived from names only, so they are the same on every run and do not
//! move when a service or route is added or removed (CloudFormation replaces a resource
//! whose logical id changes).
//!
//! - Stack-wide resources have fixed ids (`Vpc`, `Cluster`, `HttpApi`, ...).
//! - A service's resources are its name in PascalCase plus a kind (`BackendTaskDefinition`).
//!   The encoding is injective (see [`service`]), and no kind is a suffix of another kind or
//!   of a fixed id, so two services never share an id.
//! - A route's resources are `Route` plus a readable form of the key plus 8 hex digits of
//!   the key's FNV-1a hash: readable, and distinct for keys the readable form merges
//!   (`GET /a-b` and `GET /ab`). Service ids end in a lower-case kind, route ids in the
//!   upper-case hash, so the two families never meet.

use albless_spec::RouteKey;

/// PascalCase of a service name (`[a-z0-9-]`, a DNS label), reversible: the first character
/// is upper-cased; `-` and a letter become the letter upper-cased; `-` and a digit become
/// `Z` and the digit; `-z` becomes `ZZ`; `--` becomes `ZH`. Since the name itself has no
/// upper-case letter, every upper-case letter after the first marks a hyphen.
pub(crate) fn service(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    if let Some(first) = chars.next() {
        out.push(first.to_ascii_uppercase());
    }
    while let Some(c) = chars.next() {
        if c != '-' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('z') => out.push_str("ZZ"),
            Some('-') => out.push_str("ZH"),
            Some(d) if d.is_ascii_digit() => {
                out.push('Z');
                out.push(d);
            }
            Some(l) => out.push(l.to_ascii_uppercase()),
            // A DNS label does not end with `-`; keep the encoding total anyway.
            None => out.push_str("ZH"),
        }
    }
    out
}

/// The id stem of a route: `Route`, the key's letters and digits in PascalCase (at most 64
/// of them), and the key's hash.
pub(crate) fn route(key: &RouteKey) -> String {
    let text = key.to_string();
    let mut readable = String::new();
    let mut upper = true;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                readable.push(c.to_ascii_uppercase());
            } else {
                readable.push(c.to_ascii_lowercase());
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    readable.truncate(64);
    format!("Route{readable}{:08X}", fnv1a(&text))
}

/// 32-bit FNV-1a: a fixed, documented hash, unlike std's `DefaultHasher`, whose output
/// may change between Rust releases.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_ids_read_well_and_never_merge() {
        assert_eq!(service("backend"), "Backend");
        assert_eq!(service("my-api"), "MyApi");
        assert_eq!(service("api-v2"), "ApiV2");
        let names = [
            "a-1", "a1", "a-z", "az", "a--b", "a-b", "ab", "a-zz", "azz", "a-h",
        ];
        let ids: std::collections::BTreeSet<_> = names.iter().map(|n| service(n)).collect();
        assert_eq!(ids.len(), names.len(), "{ids:?}");
    }

    #[test]
    fn route_ids_are_readable_and_hashed() {
        let key = |s: &str| {
            let (method, path) = s.split_once(' ').unwrap();
            let segments = path
                .split('/')
                .filter(|p| !p.is_empty())
                .map(|p| albless_spec::Segment::Literal(p.to_owned()))
                .collect();
            RouteKey::Path {
                method: Some(method.to_owned()),
                segments,
            }
        };
        let a = route(&key("GET /a-b"));
        let b = route(&key("GET /ab"));
        assert!(a.starts_with("RouteGetAB"), "{a}");
        assert_ne!(a, b);
        assert_eq!(route(&RouteKey::Default), route(&RouteKey::Default));
        assert!(route(&RouteKey::Default).starts_with("RouteDefault"));
        // The FNV-1a test vector.
        assert_eq!(fnv1a("a"), 0xe40c_292c);
    }
}
