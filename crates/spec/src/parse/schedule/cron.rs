//! The `cron(...)` schedule of Application Auto Scaling: six fields (minutes, hours,
//! day-of-month, month, day-of-week, year), each checked against its values and the
//! wildcards the AWS guide lists, and the rule that exactly one day field is `?`.

use std::ops::Range;

use super::{Bad, Parsed, bad};
use crate::model::CronExpr;

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// What one cron field accepts.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const FIELDS: [Field; 6] = [
    Field {
        name: "minutes",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hours",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
    },
    Field {
        name: "day-of-week",
        min: 1,
        max: 7,
        names: &DAYS,
    },
    Field {
        name: "year",
        min: 1970,
        max: 2199,
        names: &[],
    },
];

/// The six space-separated fields of `cron(...)`; `base` is where `inner` starts in the
/// schedule string.
pub(super) fn cron(inner: &str, base: usize) -> Parsed<CronExpr> {
    let mut fields: Vec<(&str, Range<usize>)> = Vec::new();
    let mut offset = base;
    for part in inner.split(' ') {
        if !part.is_empty() {
            fields.push((part, offset..offset + part.len()));
        }
        offset += part.len() + 1;
    }
    if fields.len() != 6 {
        return bad(
            base..base + inner.len(),
            format!(
                "cron takes 6 fields (minutes hours day-of-month month day-of-week year), found {}",
                fields.len()
            ),
        );
    }
    for (i, (text, at)) in fields.iter().enumerate() {
        cron_field(&FIELDS[i], i, text, at.clone())?;
    }

    // "You can't specify the Day-of-month and Day-of-week fields in the same cron
    // expression": exactly one of them is `?`.
    let (dom, dow) = (fields[2].0, fields[4].0);
    match (dom == "?", dow == "?") {
        (true, true) => {
            return bad(
                fields[4].1.clone(),
                "day-of-month and day-of-week cannot both be `?`",
            );
        }
        (false, false) => {
            return bad(
                fields[4].1.clone(),
                "one of day-of-month and day-of-week must be `?`: AWS does not take both",
            );
        }
        _ => {}
    }
    let f = |i: usize| fields[i].0.to_owned();
    Ok(CronExpr {
        minutes: f(0),
        hours: f(1),
        day_of_month: f(2),
        month: f(3),
        day_of_week: f(4),
        year: f(5),
    })
}

/// One cron field: `*`, `?`, the `L`/`W`/`#` forms of the day fields, or a list of
/// values, ranges and `/` steps.
fn cron_field(field: &Field, index: usize, text: &str, at: Range<usize>) -> Parsed<()> {
    let (is_dom, is_dow) = (index == 2, index == 4);
    let fail = |why: String| Bad {
        at: at.clone(),
        message: format!("{} `{text}`: {why}", field.name),
    };
    match text {
        "*" => return Ok(()),
        "?" if is_dom || is_dow => return Ok(()),
        "?" => return Err(fail("`?` is only for day-of-month and day-of-week".into())),
        "L" if is_dom || is_dow => return Ok(()),
        _ => {}
    }
    // `15W`: the weekday nearest the 15th.
    if is_dom && let Some(day) = text.strip_suffix('W') {
        return value(field, day).map(drop).map_err(fail);
    }
    // `5L`: the last Thursday of the month.
    if is_dow && let Some(day) = text.strip_suffix('L') {
        return value(field, day).map(drop).map_err(fail);
    }
    // `3#2`: the second Tuesday of the month.
    if is_dow && let Some((day, nth)) = text.split_once('#') {
        value(field, day).map_err(&fail)?;
        return match nth {
            "1" | "2" | "3" | "4" | "5" => Ok(()),
            _ => Err(fail(format!("`#{nth}`: the week in the month is 1 to 5"))),
        };
    }
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            let ok = step.chars().all(|c| c.is_ascii_digit())
                && step
                    .parse::<u32>()
                    .is_ok_and(|s| (1..=field.max).contains(&s));
            if !ok {
                return Err(fail(format!(
                    "`/{step}` is not a step from 1 to {}",
                    field.max
                )));
            }
        }
        if range == "*" && step.is_some() {
            continue;
        }
        match range.split_once('-') {
            Some((lo, hi)) => {
                let lo = value(field, lo).map_err(&fail)?;
                let hi = value(field, hi).map_err(&fail)?;
                if lo > hi {
                    return Err(fail(format!(
                        "range `{range}` runs backwards; split it into two ranges"
                    )));
                }
            }
            None => {
                value(field, range).map_err(&fail)?;
            }
        }
    }
    Ok(())
}

/// One value of a field: a number within bounds, or one of its names (any case).
fn value(field: &Field, text: &str) -> std::result::Result<u32, String> {
    if let Some(i) = field
        .names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(text))
    {
        return Ok(field.min + i as u32);
    }
    match text.parse::<u32>() {
        Ok(v)
            if (field.min..=field.max).contains(&v) && text.chars().all(|c| c.is_ascii_digit()) =>
        {
            Ok(v)
        }
        Ok(v) => Err(format!("{v} is outside {} to {}", field.min, field.max)),
        Err(_) if field.names.is_empty() => Err(format!("`{text}` is not a number")),
        Err(_) => Err(format!(
            "`{text}` is not a number from {} to {} or one of {}",
            field.min,
            field.max,
            field.names.join(", ")
        )),
    }
}
