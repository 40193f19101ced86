//! Traps: settings that are valid, that AWS accepts, and that still hurt once deployed.
//! [`lint`] reports them as [`Warning`]s; `albless validate` prints them and exits 0, and
//! `albless synth` writes a template that avoids each one where a template can.
//!
//! The traps (aws-behavior.md sections 2.1 to 2.3, 3.2, 4.4):
//! - a Cloud Map service without a custom health check: health is `UNKNOWN`, so API
//!   Gateway sends traffic to tasks that are not ready;
//! - A records without SRV: the private integration needs the port, which only SRV carries;
//! - `min_healthy_percent = 0` with running tasks: ECS may stop every old task before a new
//!   one is healthy, an outage at every deployment;
//! - a service that can stay at zero tasks for good (a schedule setting `max_capacity = 0`
//!   that no later action raises, or `desired_count = 0` that none raises): with no traffic
//!   for 60 days the VPC link goes `INACTIVE` and requests fail until it is re-provisioned.
//!
//! A fifth trap, an integration URI that is not a Cloud Map service ARN (rejected with
//! `BadRequestException` when the integration uses a VPC link), cannot come from the file:
//! a route names a service, and the parser rejects a route whose service the file does not
//! define, so every integration targets the ARN of a Cloud Map service the stack creates.
//! Nothing to lint; the synthesizer's tests assert it on the template.
//!
//! Known limits: the model keeps no spans, so [`Warning::locate`] re-reads the file's text
//! to find the line and column of the field; the zero-capacity check reasons about the
//! order of `at` actions only, and treats any recurring action raising the minimum as
//! raising it often enough (a yearly cron would not be).

use std::fmt;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::model::{RecordType, ScheduleExpr, ScheduledAction, Service, Stack};

/// One trap found in a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The field that sets the trap, as a dotted path (`services.web.schedule[1].max_capacity`).
    pub field: String,
    /// What goes wrong on AWS.
    pub message: String,
    /// What `albless synth` does instead, or how to avoid the trap.
    pub help: String,
    /// The path split into keys and array indexes, to find the field in the text.
    keys: Vec<PathKey>,
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PathKey {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

impl Warning {
    fn new(keys: Vec<PathKey>, message: impl Into<String>, help: impl Into<String>) -> Warning {
        let mut field = String::new();
        for key in &keys {
            match key {
                PathKey::Key(k) => {
                    if !field.is_empty() {
                        field.push('.');
                    }
                    field.push_str(k);
                }
                PathKey::Index(i) => field.push_str(&format!("[{i}]")),
            }
        }
        Warning {
            field,
            message: message.into(),
            help: help.into(),
            keys,
        }
    }

    /// The 1-based line and column of the field in `text` (the stack file's content), or
    /// of its nearest enclosing table or key present there when the field itself is left
    /// to its default; `None` when `text` does not parse or holds none of the path.
    pub fn locate(&self, text: &str) -> Option<(usize, usize)> {
        let root = DeTable::parse(text).ok()?;
        let mut table: &DeTable<'_> = root.as_ref();
        let mut value: Option<&Spanned<DeValue<'_>>> = None;
        let mut found = None;
        for key in &self.keys {
            let next = match (key, value.map(Spanned::as_ref)) {
                (PathKey::Key(k), _) => table.get_key_value(k.as_str()).map(|(name, v)| {
                    found = Some(name.span().start);
                    v
                }),
                (PathKey::Index(i), Some(DeValue::Array(items))) => items.get(*i),
                (PathKey::Index(_), _) => None,
            };
            let Some(next) = next else { break };
            if let DeValue::Table(t) = next.as_ref() {
                table = t;
            }
            value = Some(next);
        }
        found.map(|offset| crate::error::line_column(text, offset))
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The traps `stack` sets, in a fixed order: discovery first, then each service in name
/// order. Empty when there is none.
pub fn lint(stack: &Stack) -> Vec<Warning> {
    let mut out = Vec::new();
    let key = |k: &str| PathKey::Key(k.to_owned());

    // aws-behavior.md section 3.2: without a health check every instance is UNKNOWN and
    // gets traffic, ready or not.
    if !stack.discovery.custom_health_check {
        out.push(Warning::new(
            vec![key("discovery"), key("custom_health_check")],
            "Cloud Map services without a custom health check report UNKNOWN health, so \
             API Gateway sends requests to tasks that are not ready yet",
            "`albless synth` gives every Cloud Map service a custom health check anyway; \
             remove the line to run the same way locally",
        ));
    }

    // Section 2.1: the private integration needs IP and port; A records carry no port.
    if stack.discovery.record_type == RecordType::A {
        out.push(Warning::new(
            vec![key("discovery"), key("record_type")],
            "A records carry no port: ECS cannot register a Cloud Map service of A \
             records for the HTTP API's private integration, which needs IP and port",
            "`albless synth` registers SRV records; set `record_type = \"SRV\"`",
        ));
    }

    for (name, service) in &stack.services {
        let svc = |field: &str| vec![key("services"), key(name), key(field)];

        // Section 4.4: min 0 lets ECS stop every old task before a new one is healthy.
        if service.min_healthy_percent == 0 && service.desired_count >= 1 {
            out.push(Warning::new(
                svc("min_healthy_percent"),
                format!(
                    "with min_healthy_percent 0 and {} task{}, ECS may stop every running \
                     task before its replacement is healthy: an outage at every deployment",
                    service.desired_count,
                    if service.desired_count == 1 { "" } else { "s" },
                ),
                "`albless synth` uses 100 (and a maximum of at least 200 for a single \
                 task); set `min_healthy_percent = 100` to run the same way locally",
            ));
        }

        if let Some(warning) = stuck_at_zero(name, service) {
            out.push(warning);
        }
    }
    out
}

/// The zero-capacity trap of one service (section 2.3): a schedule action that sets
/// `max_capacity = 0` with no action raising the minimum afterwards, or `desired_count =
/// 0` with no action raising it at all.
fn stuck_at_zero(name: &str, service: &Service) -> Option<Warning> {
    let help = "add a schedule action that sets `min_capacity` to 1 or more after it, so the \
                API gets traffic at least every 60 days";
    let message = "the service can stay at zero tasks for good: after 60 days without \
                   traffic the VPC link goes INACTIVE and requests fail until it is \
                   re-provisioned, which takes minutes";
    let raises = |a: &ScheduledAction| a.min_capacity.is_some_and(|m| m >= 1);
    let recurring = |a: &ScheduledAction| !matches!(a.schedule, ScheduleExpr::At(_));
    let key = |k: &str| PathKey::Key(k.to_owned());

    for (i, zero) in service.schedule.iter().enumerate() {
        if zero.max_capacity != Some(0) {
            continue;
        }
        let raised = service.schedule.iter().any(|other| {
            raises(other)
                && (recurring(other)
                    || match (&zero.schedule, &other.schedule) {
                        (ScheduleExpr::At(z), ScheduleExpr::At(o)) => {
                            utc(*o, other.timezone) > utc(*z, zero.timezone)
                        }
                        _ => false,
                    })
        });
        if !raised {
            let keys = vec![
                key("services"),
                key(name),
                key("schedule"),
                PathKey::Index(i),
                key("max_capacity"),
            ];
            return Some(Warning::new(keys, message, help));
        }
    }

    if service.desired_count == 0 && !service.schedule.iter().any(raises) {
        let keys = vec![key("services"), key(name), key("desired_count")];
        return Some(Warning::new(keys, message, help));
    }
    None
}

/// A local date-time in `zone`, as UTC; an instant skipped by a clock change counts as
/// the earliest possible reading.
fn utc(local: chrono::NaiveDateTime, zone: chrono_tz::Tz) -> chrono::NaiveDateTime {
    use chrono::TimeZone;
    zone.from_local_datetime(&local)
        .earliest()
        .map_or(local, |t| t.naive_utc())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const BASE: &str = r#"
version = 1
[stack]
name = "t"
region = "eu-west-1"
[api.routes]
"$default" = { service = "web" }
[services.web]
command = ["x"]
port = 8080
"#;

    /// The fields warned about in `BASE` plus `extra`.
    fn check(extra: &str) -> Vec<String> {
        let text = format!("{BASE}{extra}");
        let stack = crate::parse(Path::new("albless.toml"), &text).expect("valid");
        lint(&stack).into_iter().map(|w| w.field).collect()
    }

    #[test]
    fn a_plain_stack_has_no_warning() {
        assert!(check("").is_empty());
    }

    #[test]
    fn discovery_traps_are_reported() {
        let fields = check("[discovery]\nrecord_type = \"A\"\ncustom_health_check = false\n");
        assert_eq!(
            fields,
            ["discovery.custom_health_check", "discovery.record_type"]
        );
        assert!(check("[discovery]\nrecord_type = \"SRV+A\"\n").is_empty());
    }

    #[test]
    fn min_zero_warns_only_with_running_tasks() {
        let f = check("min_healthy_percent = 0\ndesired_count = 1\n");
        assert_eq!(f, ["services.web.min_healthy_percent"]);
        assert!(check("min_healthy_percent = 50\ndesired_count = 1\n").is_empty());
    }

    #[test]
    fn a_zero_schedule_needs_a_later_raise() {
        let night = "[[services.web.schedule]]\nname = \"night\"\n\
                     schedule = \"cron(0 20 * * ? *)\"\nmax_capacity = 0\nmin_capacity = 0\n";
        let day = "[[services.web.schedule]]\nname = \"day\"\n\
                   schedule = \"cron(0 8 * * ? *)\"\nmin_capacity = 1\n";
        assert_eq!(check(night), ["services.web.schedule[0].max_capacity"]);
        assert!(check(&format!("{night}{day}")).is_empty());

        // A one-off raise before a one-off stop does not help; one after it does.
        let stop = "[[services.web.schedule]]\nname = \"stop\"\n\
                    schedule = \"at(2030-06-01T00:00:00)\"\nmax_capacity = 0\n";
        let before = "[[services.web.schedule]]\nname = \"b\"\n\
                      schedule = \"at(2030-05-01T00:00:00)\"\nmin_capacity = 1\n";
        let after = "[[services.web.schedule]]\nname = \"a\"\n\
                     schedule = \"at(2030-07-01T00:00:00)\"\nmin_capacity = 1\n";
        assert_eq!(
            check(&format!("{before}{stop}")),
            ["services.web.schedule[1].max_capacity"]
        );
        assert!(check(&format!("{stop}{after}")).is_empty());
    }

    #[test]
    fn desired_zero_without_a_raise_is_reported() {
        assert_eq!(check("desired_count = 0\n"), ["services.web.desired_count"]);
    }

    #[test]
    fn warnings_are_located_in_the_text() {
        let extra = "min_healthy_percent = 0\n[[services.web.schedule]]\nname = \"n\"\n\
                     schedule = \"rate(1 day)\"\nmax_capacity = 0\n";
        let text = format!("{BASE}{extra}");
        let stack = crate::parse(Path::new("albless.toml"), &text).unwrap();
        let warnings = lint(&stack);
        let lines: Vec<&str> = text.lines().collect();
        let at = |w: &Warning| {
            let (line, col) = w.locate(&text).expect("located");
            lines[line - 1][col - 1..].to_owned()
        };
        assert!(at(&warnings[0]).starts_with("min_healthy_percent = 0"));
        assert!(at(&warnings[1]).starts_with("max_capacity = 0"));
        assert_eq!(
            warnings[1].to_string().split(':').next(),
            Some("services.web.schedule[0].max_capacity")
        );
    }
}
