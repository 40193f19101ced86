//! AWS `cron(...)` expressions: the six fields Application Auto Scaling and EventBridge
//! use (`Minutes Hours Day-of-month Month Day-of-week Year`), checked field by field and
//! translated to a `croner` pattern for the calendar search. The year field is kept here
//! and filtered on top, since croner's own year field is not AWS's.
//!
//! Differences from POSIX cron, all handled in [`AwsCron::parse`] (AWS "Cron expressions
//! reference" of EventBridge, shared by Application Auto Scaling):
//! - day-of-week numbers are 1-7 = SUN-SAT (POSIX uses 0-6); `L` alone there means SAT;
//! - one of Day-of-month / Day-of-week must be `?`, the other decides the day;
//! - `a/n` steps from `a` (croner's "sloppy" ranges);
//! - the year runs 1970-2199.
//!
//! Known limits: AWS accepts `/` in Day-of-week only where its docs do not list it; we
//! refuse it there, as the docs say.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use crate::ScheduleError;
use crate::expr::local_to_utc;

/// First and last year an AWS cron year field accepts.
const YEAR_RANGE: (i32, i32) = (1970, 2199);

const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// A parsed AWS cron expression.
#[derive(Debug, Clone)]
pub struct AwsCron {
    /// The six fields as written, space separated.
    source: String,
    /// Minutes to day-of-week, as croner understands them.
    pattern: Cron,
    /// The years the year field allows.
    years: BTreeSet<i32>,
}

impl PartialEq for AwsCron {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl AwsCron {
    /// Parses the inside of `cron(...)`: six space-separated fields.
    pub fn parse(fields: &str) -> Result<Self, ScheduleError> {
        let parts: Vec<&str> = fields.split_whitespace().collect();
        let [minutes, hours, dom, month, dow, year] = parts[..] else {
            return Err(ScheduleError::FieldCount(parts.len()));
        };
        check_chars("Minutes", minutes, "")?;
        check_chars("Hours", hours, "")?;
        check_chars("Day-of-month", dom, "?LW")?;
        check_chars("Month", month, "")?;
        check_chars("Day-of-week", dow, "?L#")?;
        check_chars("Year", year, "")?;

        // AWS: "If you specify a value or a * in one of the fields, you must use a ? in
        // the other" (EventBridge cron reference).
        if (dom == "?") == (dow == "?") {
            return Err(ScheduleError::DayFields {
                dom: dom.into(),
                dow: dow.into(),
            });
        }
        let month = month_names_to_numbers(month)?;
        let dow_posix = dow_to_posix(dow)?;
        let years = parse_years(year)?;

        let pattern = format!("{minutes} {hours} {dom} {month} {dow_posix}");
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .sloppy_ranges(true)
            .build();
        let cron = parser.parse(&pattern).map_err(|e| ScheduleError::Cron {
            expr: fields.to_string(),
            reason: e.to_string(),
        })?;
        Ok(AwsCron {
            source: parts.join(" "),
            pattern: cron,
            years,
        })
    }

    /// The six fields as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The first fire strictly after (or, with `inclusive`, at or after) `t`, read on
    /// the wall clock of `tz`. DST: a wall-clock time skipped by a spring-forward change
    /// fires at the first instant after the gap; a time repeated by a fall-back change
    /// fires once, at its earlier instant (croner's rules for fixed-time patterns).
    pub fn next_from(&self, tz: Tz, t: DateTime<Tz>, inclusive: bool) -> Option<DateTime<Tz>> {
        let mut start = t;
        let mut inclusive = inclusive;
        // Each turn either returns or jumps to a later allowed year: bounded by the set.
        for _ in 0..=self.years.len() {
            let found = self.pattern.find_next_occurrence(&start, inclusive).ok()?;
            if self.years.contains(&found.year()) {
                return Some(found);
            }
            let next_year = *self.years.range(found.year() + 1..).next()?;
            let jan1 = NaiveDate::from_ymd_opt(next_year, 1, 1)?.and_hms_opt(0, 0, 0)?;
            start = local_to_utc(tz, jan1).with_timezone(&tz);
            inclusive = true;
        }
        None
    }

    /// The last fire strictly before `t`, read on the wall clock of `tz`.
    pub fn prev_before(&self, tz: Tz, t: DateTime<Tz>) -> Option<DateTime<Tz>> {
        let mut start = t;
        for _ in 0..=self.years.len() {
            let found = self.pattern.find_previous_occurrence(&start, false).ok()?;
            if self.years.contains(&found.year()) {
                return Some(found);
            }
            // Restart from the first instant of the year after the allowed one, so the
            // search (exclusive) lands on that year's last fire.
            let prev_year = *self.years.range(..found.year()).next_back()?;
            let jan1 = NaiveDate::from_ymd_opt(prev_year + 1, 1, 1)?.and_hms_opt(0, 0, 0)?;
            start = local_to_utc(tz, jan1).with_timezone(&tz);
        }
        None
    }
}

/// Refuses characters a field does not allow: digits, `* , - /` everywhere, letters
/// only as names (month and day names, checked later), plus the field's `extra`.
fn check_chars(field: &'static str, value: &str, extra: &str) -> Result<(), ScheduleError> {
    let names = matches!(field, "Month" | "Day-of-week");
    let slash = field != "Day-of-week";
    for c in value.chars() {
        let ok = c.is_ascii_digit()
            || matches!(c, '*' | ',' | '-')
            || (c == '/' && slash)
            || extra.contains(c.to_ascii_uppercase())
            || (names && c.is_ascii_alphabetic());
        if !ok {
            return Err(field_error(
                field,
                value,
                format!("`{c}` is not allowed in this field"),
            ));
        }
    }
    Ok(())
}

fn field_error(field: &'static str, value: &str, reason: String) -> ScheduleError {
    ScheduleError::Field {
        field,
        value: value.to_string(),
        reason,
    }
}

/// JAN-DEC to 1-12, so that the pattern croner sees holds no names at all.
fn month_names_to_numbers(month: &str) -> Result<String, ScheduleError> {
    map_atoms(month, |atom| {
        if atom.chars().all(|c| c.is_ascii_digit()) {
            return Ok(atom.to_string());
        }
        MONTH_NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(atom))
            .map(|i| (i + 1).to_string())
            .ok_or_else(|| field_error("Month", month, format!("`{atom}` is not a month")))
    })
}

/// Rewrites each value in `field` (the runs of letters and digits) with `f`, keeping
/// the punctuation between them.
fn map_atoms(
    field: &str,
    mut f: impl FnMut(&str) -> Result<String, ScheduleError>,
) -> Result<String, ScheduleError> {
    let mut out = String::new();
    let mut atom = String::new();
    for c in field.chars() {
        if c.is_ascii_alphanumeric() {
            atom.push(c);
        } else {
            if !atom.is_empty() {
                out.push_str(&f(&atom)?);
                atom.clear();
            }
            out.push(c);
        }
    }
    if !atom.is_empty() {
        out.push_str(&f(&atom)?);
    }
    Ok(out)
}

/// Day-of-week from AWS (1-7 = SUN-SAT, names, `L`, `xL`, `x#n`) to POSIX numbers
/// (0-6 = SUN-SAT) in croner's syntax.
fn dow_to_posix(dow: &str) -> Result<String, ScheduleError> {
    let err = |reason: String| field_error("Day-of-week", dow, reason);
    let day = |s: &str| -> Result<u32, ScheduleError> {
        if let Ok(n) = s.parse::<u32>() {
            return if (1..=7).contains(&n) {
                Ok(n - 1)
            } else {
                Err(err(format!("`{n}` is out of 1-7 (SUN-SAT)")))
            };
        }
        DAY_NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s))
            .map(|i| i as u32)
            .ok_or_else(|| err(format!("`{s}` is not a day")))
    };
    let mut items = Vec::new();
    for item in dow.split(',') {
        let upper = item.to_ascii_uppercase();
        let translated = if upper == "?" || upper == "*" {
            "*".to_string()
        } else if upper == "L" {
            // Quartz/AWS: `L` alone in day-of-week is the last day of the week, SAT.
            "6".to_string()
        } else if let Some((d, n)) = upper.split_once('#') {
            let n: u32 = n.parse().map_err(|_| err(format!("`#{n}` wants 1-5")))?;
            if !(1..=5).contains(&n) {
                return Err(err(format!("`#{n}` wants 1-5")));
            }
            format!("{}#{n}", day(d)?)
        } else if let Some(d) = upper.strip_suffix('L') {
            format!("{}#L", day(d)?)
        } else if let Some((a, b)) = upper.split_once('-') {
            let (a, b) = (day(a)?, day(b)?);
            if a > b {
                return Err(err(format!("range {item} runs backwards")));
            }
            format!("{a}-{b}")
        } else {
            day(&upper)?.to_string()
        };
        items.push(translated);
    }
    Ok(items.join(","))
}

/// The year field: `*`, `y`, `a-b`, with `/n` steps, comma-separated, in 1970-2199.
fn parse_years(field: &str) -> Result<BTreeSet<i32>, ScheduleError> {
    let err = |reason: String| field_error("Year", field, reason);
    let year = |s: &str| -> Result<i32, ScheduleError> {
        let y: i32 = s.parse().map_err(|_| err(format!("`{s}` is not a year")))?;
        if (YEAR_RANGE.0..=YEAR_RANGE.1).contains(&y) {
            Ok(y)
        } else {
            Err(err(format!(
                "{y} is outside {}-{}",
                YEAR_RANGE.0, YEAR_RANGE.1
            )))
        }
    };
    let mut years = BTreeSet::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: i32 = s.parse().map_err(|_| err(format!("step `{s}`")))?;
                if step < 1 {
                    return Err(err(format!("step `{s}` must be at least 1")));
                }
                (r, step)
            }
            None => (item, 1),
        };
        let (from, to) = if range == "*" {
            YEAR_RANGE
        } else if let Some((a, b)) = range.split_once('-') {
            (year(a)?, year(b)?)
        } else if step > 1 {
            // `2026/2`: from 2026 on, every second year.
            (year(range)?, YEAR_RANGE.1)
        } else {
            let y = year(range)?;
            (y, y)
        };
        if from > to {
            return Err(err(format!("range {item} runs backwards")));
        }
        years.extend((from..=to).step_by(step as usize));
    }
    Ok(years)
}
