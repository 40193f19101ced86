//! Schedule expressions as Application Auto Scaling takes them in `PutScheduledAction`
//! (aws-behavior.md §4.7): `cron(...)`, `at(yyyy-mm-ddThh:mm:ss)` and
//! `rate(<n> minute(s)|hour(s)|day(s))`, read on the wall clock of an IANA time zone.
//!
//! Known limits: `rate` accepts the singular and plural unit whatever `n` is (EventBridge
//! insists on `rate(1 hour)` / `rate(2 hours)`; the Application Auto Scaling reference
//! lists both units without that rule). Fire times have one-second precision.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::ScheduleError;
use crate::cron::AwsCron;

/// One schedule expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// `cron(Minutes Hours Day-of-month Month Day-of-week Year)`: recurring.
    Cron(Box<AwsCron>),
    /// `at(yyyy-mm-ddThh:mm:ss)`: once, at that wall-clock time.
    At(NaiveDateTime),
    /// `rate(n unit)`: every `period`, counted from the action's start time.
    Rate {
        /// The time between two fires.
        period: TimeDelta,
        /// The expression as written inside `rate(...)`.
        source: String,
    },
}

impl Schedule {
    /// Parses `cron(...)`, `at(...)` or `rate(...)`; surrounding blanks are ignored.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let text = text.trim();
        let inner = |prefix: &str| {
            text.strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(')'))
                .map(str::trim)
        };
        if let Some(fields) = inner("cron(") {
            return AwsCron::parse(fields).map(|c| Schedule::Cron(Box::new(c)));
        }
        if let Some(at) = inner("at(") {
            return NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S")
                .map(Schedule::At)
                .map_err(|_| ScheduleError::At(at.to_string()));
        }
        if let Some(rate) = inner("rate(") {
            return parse_rate(rate);
        }
        Err(ScheduleError::UnknownForm(text.to_string()))
    }

    /// A `rate` of `period` (whole minutes, at least one), as a caller holding a
    /// parsed duration (the spec's `rate(N unit)`) builds it.
    pub fn every(period: std::time::Duration) -> Result<Self, ScheduleError> {
        let secs = period.as_secs();
        if secs < 60 || !secs.is_multiple_of(60) || period.subsec_nanos() != 0 {
            return Err(ScheduleError::Rate(format!("{period:?}")));
        }
        let source = match secs {
            s if s.is_multiple_of(86_400) => plural(s / 86_400, "day"),
            s if s.is_multiple_of(3_600) => plural(s / 3_600, "hour"),
            s => plural(s / 60, "minute"),
        };
        let period = TimeDelta::try_seconds(secs as i64)
            .ok_or_else(|| ScheduleError::Rate(source.clone()))?;
        Ok(Schedule::Rate { period, source })
    }

    /// The first fire strictly after `after`, with `at` and `cron` read in `tz`.
    ///
    /// A `rate` has no phase of its own (Application Auto Scaling counts it from the
    /// action's start time): here it fires one period after `after`, so that chaining
    /// calls walks the series. Use [`Schedule::next_after_anchored`] to give the phase.
    /// `None` when the schedule never fires again.
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Rate { period, .. } => after.checked_add_signed(*period),
            _ => self.next_from(tz, None, after, false),
        }
    }

    /// Like [`Schedule::next_after`], with a `rate` firing at `anchor + k × period`
    /// (k ≥ 0). `at` and `cron` ignore the anchor.
    pub fn next_after_anchored(
        &self,
        tz: Tz,
        anchor: DateTime<Utc>,
        after: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.next_from(tz, Some(anchor), after, false)
    }

    /// The first fire at or after `t` (`inclusive`) or strictly after it, a `rate`
    /// counted from `anchor` (or from `t` itself when `None`).
    pub fn next_from(
        &self,
        tz: Tz,
        anchor: Option<DateTime<Utc>>,
        t: DateTime<Utc>,
        inclusive: bool,
    ) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Cron(cron) => cron
                .next_from(tz, t.with_timezone(&tz), inclusive)
                .map(|d| d.with_timezone(&Utc)),
            Schedule::At(local) => {
                let when = local_to_utc(tz, *local);
                (when > t || (inclusive && when == t)).then_some(when)
            }
            Schedule::Rate { period, .. } => {
                let anchor = anchor.unwrap_or(t);
                if anchor > t || (inclusive && anchor == t) {
                    return Some(anchor);
                }
                let step = period.num_milliseconds();
                let elapsed = (t - anchor).num_milliseconds();
                let mut k = elapsed / step;
                if anchor + TimeDelta::milliseconds(k * step) < t
                    || (!inclusive && anchor + TimeDelta::milliseconds(k * step) == t)
                {
                    k += 1;
                }
                anchor.checked_add_signed(TimeDelta::milliseconds(k * step))
            }
        }
    }

    /// The last fire strictly before `before`, a `rate` counted from `anchor` (a rate
    /// with no anchor has no past: `None`).
    pub fn prev_before(
        &self,
        tz: Tz,
        anchor: Option<DateTime<Utc>>,
        before: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Cron(cron) => cron
                .prev_before(tz, before.with_timezone(&tz))
                .map(|d| d.with_timezone(&Utc)),
            Schedule::At(local) => Some(local_to_utc(tz, *local)).filter(|w| *w < before),
            Schedule::Rate { period, .. } => {
                let anchor = anchor?;
                if anchor >= before {
                    return None;
                }
                let step = period.num_milliseconds();
                let k = ((before - anchor).num_milliseconds() - 1) / step;
                Some(anchor + TimeDelta::milliseconds(k * step))
            }
        }
    }
}

/// The first fire strictly after `after` of `expr` read in `tz` (see
/// [`Schedule::next_after`]).
pub fn next_after(expr: &Schedule, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    expr.next_after(tz, after)
}

/// Parses an IANA time zone name (`Asia/Tokyo`, `America/New_York`, `Etc/GMT+9`, `UTC`).
pub fn parse_tz(name: &str) -> Result<Tz, ScheduleError> {
    name.parse()
        .map_err(|_| ScheduleError::TimeZone(name.to_string()))
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Schedule::parse(s)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Cron(cron) => write!(f, "cron({})", cron.as_str()),
            Schedule::At(t) => write!(f, "at({})", t.format("%Y-%m-%dT%H:%M:%S")),
            Schedule::Rate { source, .. } => write!(f, "rate({source})"),
        }
    }
}

fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn parse_rate(rate: &str) -> Result<Schedule, ScheduleError> {
    let bad = || ScheduleError::Rate(rate.to_string());
    let mut words = rate.split_whitespace();
    let (Some(n), Some(unit), None) = (words.next(), words.next(), words.next()) else {
        return Err(bad());
    };
    let n: i64 = n.parse().map_err(|_| bad())?;
    if n < 1 {
        return Err(bad());
    }
    let period = match unit {
        "minute" | "minutes" => TimeDelta::try_minutes(n),
        "hour" | "hours" => TimeDelta::try_hours(n),
        "day" | "days" => TimeDelta::try_days(n),
        _ => None,
    }
    .ok_or_else(bad)?;
    Ok(Schedule::Rate {
        period,
        source: format!("{n} {unit}"),
    })
}

/// A wall-clock time in `tz` as an instant: the earlier instant of a time repeated by a
/// fall-back change, and the first instant after the gap for a time skipped by a
/// spring-forward change (the same rules croner applies to cron fires).
pub(crate) fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => {
            // Gaps start and end on whole minutes in the tz database: the first valid
            // whole minute after `local` is the first instant after the gap. A day is a
            // generous bound (real gaps are an hour or two).
            let mut probe = local.with_second(0).unwrap_or(local);
            for _ in 0..24 * 60 {
                probe += TimeDelta::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            // No zone has a day-long gap; read the time as UTC rather than fail.
            Utc.from_utc_datetime(&local)
        }
    }
}
