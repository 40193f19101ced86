//! `[[services.NAME.schedule]]`: scheduled scaling actions, with the schedule syntax of
//! Application Auto Scaling's `PutScheduledAction` (aws-behavior.md section 4.7):
//! `cron(6 fields)`, `at(yyyy-mm-ddThh:mm:ss)` and `rate(N unit)`.
//!
//! Only syntax is checked here; when an action fires is another crate's business. Known
//! limits: cron ranges must not wrap (`FRI-MON` is refused, write `FRI-SAT,SUN-MON`), and
//! only the wildcards the AWS guide lists are taken (`L`, `NW` in day-of-month; `L`, `NL`,
//! `N#K` in day-of-week), not Quartz extensions such as `LW` or `L-3`.

mod cron;

use std::ops::Range;
use std::str::FromStr;
use std::time::Duration;

use chrono::NaiveDateTime;
use chrono_tz::{TZ_VARIANTS, Tz};

use crate::error::Kind;
use crate::model::{ScheduleExpr, ScheduledAction};
use crate::walk::{Result, Table, closest};

/// A schedule syntax error: the byte range inside the schedule string, and why.
struct Bad {
    at: Range<usize>,
    message: String,
}

type Parsed<T> = std::result::Result<T, Bad>;

fn bad<T>(at: Range<usize>, message: impl Into<String>) -> Parsed<T> {
    Err(Bad {
        at,
        message: message.into(),
    })
}

/// `[[services.NAME.schedule]]`, in file order; none when absent.
pub(super) fn actions(t: &Table<'_, '_>) -> Result<Vec<ScheduledAction>> {
    let Some(array) = t.array("schedule", "an array of tables")? else {
        return Ok(Vec::new());
    };
    let mut actions: Vec<ScheduledAction> = Vec::new();
    for (i, value) in array.as_ref().iter().enumerate() {
        let path = format!("{}[{i}]", t.field("schedule"));
        let item = t.as_table(value, &path)?;
        item.deny_unknown(&[
            "name",
            "schedule",
            "timezone",
            "min_capacity",
            "max_capacity",
        ])?;

        // ScheduledActionName: 1 to 256 characters, unique per scalable target.
        let name = item.string("name")?.ok_or_else(|| item.missing("name"))?;
        let n: &str = name.as_ref();
        let valid = (1..=256).contains(&n.len())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(item
                .error(
                    Kind::Invalid,
                    name.span(),
                    "name",
                    format!("invalid action name `{n}`"),
                )
                .with_help("an action name is 1 to 256 letters, digits, `_` and `-`"));
        }
        if actions.iter().any(|a| a.name == n) {
            return Err(item.error(
                Kind::Conflict,
                name.span(),
                "name",
                format!("two schedules are named `{n}`"),
            ));
        }

        let text = item
            .string("schedule")?
            .ok_or_else(|| item.missing("schedule"))?;
        let schedule = expr(text.as_ref()).map_err(|bad| {
            let span = inner_span(item.ctx.text, text.span(), text.as_ref(), bad.at);
            item.error(Kind::Invalid, span, "schedule", bad.message)
                .with_help("expected `cron(m h dom mon dow year)`, `at(yyyy-mm-ddThh:mm:ss)` or `rate(N unit)`")
        })?;

        let timezone = match item.string("timezone")? {
            None => Tz::UTC,
            Some(tz) => Tz::from_str(tz.as_ref()).map_err(|_| {
                let names: Vec<&str> = TZ_VARIANTS.iter().map(|z| z.name()).collect();
                let err = item.error(
                    Kind::Invalid,
                    tz.span(),
                    "timezone",
                    format!("unknown time zone `{}`", tz.as_ref()),
                );
                match closest(tz.as_ref(), &names) {
                    Some(near) => err.with_help(format!("did you mean `{near}`?")),
                    None => err.with_help("expected an IANA time zone name such as `Asia/Tokyo`"),
                }
            })?,
        };

        // Not an AWS limit: the same local cap as `desired_count`.
        let min = item.int("min_capacity", 0, 1000)?;
        let max = item.int("max_capacity", 0, 1000)?;
        if let (Some(lo), Some(hi)) = (&min, &max)
            && hi.as_ref() < lo.as_ref()
        {
            return Err(item.error(
                Kind::Conflict,
                hi.span(),
                "max_capacity",
                format!(
                    "max_capacity {} is below min_capacity {}",
                    hi.as_ref(),
                    lo.as_ref()
                ),
            ));
        }
        if min.is_none() && max.is_none() {
            return Err(item
                .ctx
                .error(
                    Kind::Missing,
                    item.span.clone(),
                    item.path,
                    "missing `min_capacity` or `max_capacity`",
                )
                .with_help("a scheduled action sets a new minimum, maximum or both"));
        }
        actions.push(ScheduledAction {
            name: n.to_owned(),
            schedule,
            timezone,
            min_capacity: min.map(|v| *v.as_ref() as u32),
            max_capacity: max.map(|v| *v.as_ref() as u32),
        });
    }
    Ok(actions)
}

/// The byte range `at` of string `value` as a range of the file, when the file spells the
/// string plainly (no escapes); else the whole value.
fn inner_span(text: &str, span: Range<usize>, value: &str, at: Range<usize>) -> Range<usize> {
    let raw = text.get(span.clone()).unwrap_or("");
    let plain = raw.len() == value.len() + 2 && raw.get(1..raw.len() - 1) == Some(value);
    if plain && at.end <= value.len() {
        span.start + 1 + at.start..span.start + 1 + at.end
    } else {
        span
    }
}

/// One schedule expression.
fn expr(s: &str) -> Parsed<ScheduleExpr> {
    let whole = 0..s.len();
    let (kind, inner) = match s.split_once('(') {
        Some((kind, rest)) if rest.ends_with(')') => (kind, &rest[..rest.len() - 1]),
        _ => return bad(whole, format!("`{s}` is not a schedule expression")),
    };
    let start = kind.len() + 1;
    match kind {
        "cron" => cron::cron(inner, start).map(ScheduleExpr::Cron),
        "at" => at(inner, start..start + inner.len()).map(ScheduleExpr::At),
        "rate" => rate(inner, start..start + inner.len()).map(ScheduleExpr::Rate),
        _ => bad(0..kind.len(), format!("unknown schedule kind `{kind}`")),
    }
}

/// `at(yyyy-mm-ddThh:mm:ss)`: a real date and time, no zone.
fn at(inner: &str, span: Range<usize>) -> Parsed<NaiveDateTime> {
    let shape = inner.len() == 19
        && inner.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 => c == ':',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return bad(span, format!("`{inner}` is not `yyyy-mm-ddThh:mm:ss`"));
    }
    NaiveDateTime::parse_from_str(inner, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| bad(span, format!("`{inner}` is not a valid date and time")))
}

/// `rate(N unit)`: N a positive integer, the unit singular when N is 1, else plural.
fn rate(inner: &str, span: Range<usize>) -> Parsed<Duration> {
    let parts: Vec<&str> = inner.split(' ').collect();
    let [n, unit] = parts[..] else {
        return bad(
            span,
            format!("`{inner}` is not `N unit`, e.g. `rate(5 minutes)`"),
        );
    };
    let value: u64 = match n.parse() {
        Ok(v) if v > 0 && n.chars().all(|c| c.is_ascii_digit()) => v,
        _ => {
            return bad(
                span.start..span.start + n.len(),
                format!("`{n}` is not a positive integer"),
            );
        }
    };
    let unit_at = span.start + n.len() + 1..span.end;
    let (singular, secs) = match unit.trim_end_matches('s') {
        "minute" => ("minute", 60),
        "hour" => ("hour", 3600),
        "day" => ("day", 86_400),
        _ => {
            return bad(
                unit_at,
                format!("unknown unit `{unit}`: expected minute(s), hour(s) or day(s)"),
            );
        }
    };
    let want = if value == 1 {
        singular.to_owned()
    } else {
        format!("{singular}s")
    };
    if unit != want {
        return bad(
            unit_at,
            format!("with {value}, write `{want}`, not `{unit}`"),
        );
    }
    value
        .checked_mul(secs)
        .map(Duration::from_secs)
        .map_or_else(|| bad(span, "rate too large"), Ok)
}
