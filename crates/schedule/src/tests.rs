//! Next-fire tables for each expression form, DST in America/New_York, parse errors,
//! and the scaling rule and simulation.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use crate::{Schedule, ScheduleError, ScheduledAction, Target, next_after, parse_tz, simulate};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// One row: the expression, its zone, the instant to count from, the expected next fire.
fn check(rows: &[(&str, &str, &str, Option<&str>)]) {
    for (expr, tz, after, want) in rows {
        let schedule = Schedule::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let got = next_after(&schedule, parse_tz(tz).unwrap(), utc(after));
        assert_eq!(got, want.map(utc), "{expr} in {tz} after {after}");
    }
}

#[test]
fn cron_next_fire_table() {
    check(&[
        // `?` in day-of-month, names, range; Tokyo is UTC+9: Friday 21:00 JST -> Monday.
        (
            "cron(0 9 ? * MON-FRI *)",
            "Asia/Tokyo",
            "2026-01-02T12:00:00Z",
            Some("2026-01-05T00:00:00Z"),
        ),
        // Day-of-week numbers are 1-7 = SUN-SAT (2026-01-01 is a Thursday).
        (
            "cron(30 8 ? * 2 *)",
            "UTC",
            "2026-01-01T00:00:00Z",
            Some("2026-01-05T08:30:00Z"),
        ),
        (
            "cron(0 0 ? * 1 *)",
            "UTC",
            "2026-01-01T00:00:00Z",
            Some("2026-01-04T00:00:00Z"),
        ),
        (
            "cron(0 0 ? * 7 *)",
            "UTC",
            "2026-01-01T00:00:00Z",
            Some("2026-01-03T00:00:00Z"),
        ),
        (
            "cron(0 0 ? * 2-3 *)",
            "UTC",
            "2026-01-01T00:00:00Z",
            Some("2026-01-05T00:00:00Z"),
        ),
        (
            "cron(0 0 ? * sun,sat *)",
            "UTC",
            "2026-01-01T00:00:00Z",
            Some("2026-01-03T00:00:00Z"),
        ),
        // `?` in day-of-week, `*` day-of-month: every day.
        (
            "cron(15 12 * * ? *)",
            "UTC",
            "2026-01-01T12:15:00Z",
            Some("2026-01-02T12:15:00Z"),
        ),
        // Steps and ranges, AWS `a/n` form included.
        (
            "cron(0/15 10-12 * * ? *)",
            "UTC",
            "2026-01-01T10:07:00Z",
            Some("2026-01-01T10:15:00Z"),
        ),
        (
            "cron(0/15 10-12 * * ? *)",
            "UTC",
            "2026-01-01T12:50:00Z",
            Some("2026-01-02T10:00:00Z"),
        ),
        (
            "cron(5/20 * * * ? *)",
            "UTC",
            "2026-01-01T00:06:00Z",
            Some("2026-01-01T00:25:00Z"),
        ),
        (
            "cron(*/30 * * * ? *)",
            "UTC",
            "2026-01-01T00:31:00Z",
            Some("2026-01-01T01:00:00Z"),
        ),
        (
            "cron(0 0 1-10/3 * ? *)",
            "UTC",
            "2026-01-02T00:00:00Z",
            Some("2026-01-04T00:00:00Z"),
        ),
        // L: last day of the month, leap year included.
        (
            "cron(0 12 L * ? *)",
            "UTC",
            "2026-02-01T00:00:00Z",
            Some("2026-02-28T12:00:00Z"),
        ),
        (
            "cron(0 12 L * ? *)",
            "UTC",
            "2028-02-01T00:00:00Z",
            Some("2028-02-29T12:00:00Z"),
        ),
        // W: 2026-02-15 is a Sunday, the nearest weekday is Monday the 16th.
        (
            "cron(0 12 15W * ? *)",
            "UTC",
            "2026-02-01T00:00:00Z",
            Some("2026-02-16T12:00:00Z"),
        ),
        // LW: 2026-01-31 is a Saturday, the last weekday is Friday the 30th.
        (
            "cron(0 12 LW * ? *)",
            "UTC",
            "2026-01-01T00:00:00Z",
            Some("2026-01-30T12:00:00Z"),
        ),
        // #: third Friday (6) of January 2026 is the 16th.
        (
            "cron(0 10 ? * 6#3 *)",
            "UTC",
            "2026-01-01T00:00:00Z",
            Some("2026-01-16T10:00:00Z"),
        ),
        (
            "cron(0 10 ? * FRI#1 *)",
            "UTC",
            "2026-01-03T00:00:00Z",
            Some("2026-02-06T10:00:00Z"),
        ),
        // xL: last Monday (2) of January 2026; L alone is SAT.
        (
            "cron(0 10 ? * 2L *)",
            "UTC",
            "2026-01-01T00:00:00Z",
            Some("2026-01-26T10:00:00Z"),
        ),
        (
            "cron(0 10 ? * L *)",
            "UTC",
            "2026-01-01T00:00:00Z",
            Some("2026-01-03T10:00:00Z"),
        ),
        // Month names.
        (
            "cron(0 0 1 JAN,JUL ? *)",
            "UTC",
            "2026-02-01T00:00:00Z",
            Some("2026-07-01T00:00:00Z"),
        ),
        (
            "cron(0 0 1 mar-may ? *)",
            "UTC",
            "2026-05-02T00:00:00Z",
            Some("2027-03-01T00:00:00Z"),
        ),
        // Year: single, stepped range, and never again.
        (
            "cron(0 0 1 1 ? 2028)",
            "UTC",
            "2026-01-01T00:00:00Z",
            Some("2028-01-01T00:00:00Z"),
        ),
        (
            "cron(0 0 1 1 ? 2027-2031/2)",
            "UTC",
            "2027-06-01T00:00:00Z",
            Some("2029-01-01T00:00:00Z"),
        ),
        (
            "cron(0 0 1 1 ? 2027-2031/2)",
            "UTC",
            "2031-06-01T00:00:00Z",
            None,
        ),
        (
            "cron(0 0 1 1 ? 2026,2030)",
            "UTC",
            "2026-01-01T00:00:00Z",
            Some("2030-01-01T00:00:00Z"),
        ),
        // A year boundary read in the zone: 2027-01-01 00:00 JST is 2026-12-31 15:00 UTC.
        (
            "cron(0 0 1 1 ? 2027)",
            "Asia/Tokyo",
            "2026-06-01T00:00:00Z",
            Some("2026-12-31T15:00:00Z"),
        ),
    ]);
}

#[test]
fn at_and_rate_next_fire_table() {
    check(&[
        (
            "at(2026-03-01T10:00:00)",
            "Asia/Tokyo",
            "2026-01-01T00:00:00Z",
            Some("2026-03-01T01:00:00Z"),
        ),
        (
            "at(2026-03-01T10:00:00)",
            "UTC",
            "2026-03-01T10:00:00Z",
            None,
        ),
        (
            "at(2026-03-01T10:00:00)",
            "Etc/GMT+9",
            "2026-03-01T00:00:00Z",
            Some("2026-03-01T19:00:00Z"),
        ),
        (
            "rate(5 minutes)",
            "UTC",
            "2026-01-01T00:07:00Z",
            Some("2026-01-01T00:12:00Z"),
        ),
        (
            "rate(1 hour)",
            "UTC",
            "2026-01-01T00:07:00Z",
            Some("2026-01-01T01:07:00Z"),
        ),
        (
            "rate(2 days)",
            "Asia/Tokyo",
            "2026-01-01T00:00:00Z",
            Some("2026-01-03T00:00:00Z"),
        ),
    ]);

    let rate = Schedule::parse("rate(10 minutes)").unwrap();
    let anchor = utc("2026-01-01T00:00:00Z");
    let rows = [
        ("2026-01-01T00:07:00Z", "2026-01-01T00:10:00Z"),
        ("2026-01-01T00:10:00Z", "2026-01-01T00:20:00Z"),
        ("2025-12-31T23:00:00Z", "2026-01-01T00:00:00Z"),
    ];
    for (after, want) in rows {
        let got = rate.next_after_anchored(Tz::UTC, anchor, utc(after));
        assert_eq!(
            got,
            Some(utc(want)),
            "rate(10 minutes) from {anchor} after {after}"
        );
    }
    assert_eq!(
        rate.prev_before(Tz::UTC, Some(anchor), utc("2026-01-01T00:20:00Z")),
        Some(utc("2026-01-01T00:10:00Z"))
    );
    assert_eq!(
        rate.prev_before(Tz::UTC, None, utc("2026-01-01T00:20:00Z")),
        None
    );
}

#[test]
fn dst_in_new_york() {
    // 2026-03-08 02:00 EST jumps to 03:00 EDT; 2026-11-01 02:00 EDT falls back to 01:00 EST.
    let ny = "America/New_York";
    check(&[
        // 09:00 local is 14:00Z before the change and 13:00Z after it.
        (
            "cron(0 9 ? * MON-FRI *)",
            ny,
            "2026-03-05T15:00:00Z",
            Some("2026-03-06T14:00:00Z"),
        ),
        (
            "cron(0 9 ? * MON-FRI *)",
            ny,
            "2026-03-06T15:00:00Z",
            Some("2026-03-09T13:00:00Z"),
        ),
        // 02:30 does not exist on 2026-03-08: it fires at the first instant after the gap.
        (
            "cron(30 2 * * ? *)",
            ny,
            "2026-03-07T12:00:00Z",
            Some("2026-03-08T07:00:00Z"),
        ),
        (
            "cron(30 2 * * ? *)",
            ny,
            "2026-03-08T07:00:00Z",
            Some("2026-03-09T06:30:00Z"),
        ),
        (
            "at(2026-03-08T02:30:00)",
            ny,
            "2026-03-01T00:00:00Z",
            Some("2026-03-08T07:00:00Z"),
        ),
        // 01:30 happens twice on 2026-11-01: it fires once, at the earlier (EDT) instant.
        (
            "cron(30 1 * * ? *)",
            ny,
            "2026-10-31T12:00:00Z",
            Some("2026-11-01T05:30:00Z"),
        ),
        (
            "cron(30 1 * * ? *)",
            ny,
            "2026-11-01T05:30:00Z",
            Some("2026-11-02T06:30:00Z"),
        ),
        (
            "at(2026-11-01T01:30:00)",
            ny,
            "2026-10-01T00:00:00Z",
            Some("2026-11-01T05:30:00Z"),
        ),
    ]);
}

#[test]
fn previous_fire_of_cron_honours_the_year_field() {
    let rows = [
        (
            "cron(0 17 ? * MON-FRI *)",
            "2026-01-05T00:00:00Z",
            Some("2026-01-02T17:00:00Z"),
        ),
        (
            "cron(0 0 1 1 ? 2024,2028)",
            "2027-06-01T00:00:00Z",
            Some("2024-01-01T00:00:00Z"),
        ),
        ("cron(0 0 1 1 ? 2028)", "2027-06-01T00:00:00Z", None),
    ];
    for (expr, before, want) in rows {
        let s = Schedule::parse(expr).unwrap();
        assert_eq!(
            s.prev_before(Tz::UTC, None, utc(before)),
            want.map(utc),
            "{expr}"
        );
    }
}

#[test]
fn bad_expressions_are_refused_with_the_reason() {
    type IsExpected = fn(&ScheduleError) -> bool;
    let rows: [(&str, IsExpected); 12] = [
        ("cron(0 9 * * MON *)", |e| {
            matches!(e, ScheduleError::DayFields { .. })
        }),
        ("cron(0 9 ? * ? *)", |e| {
            matches!(e, ScheduleError::DayFields { .. })
        }),
        ("cron(0 9 * * ?)", |e| {
            matches!(e, ScheduleError::FieldCount(5))
        }),
        ("cron(0 9 ? * 0 *)", |e| {
            matches!(
                e,
                ScheduleError::Field {
                    field: "Day-of-week",
                    ..
                }
            )
        }),
        ("cron(0 9 ? * 8 *)", |e| {
            matches!(
                e,
                ScheduleError::Field {
                    field: "Day-of-week",
                    ..
                }
            )
        }),
        ("cron(0 9 ? * */2 *)", |e| {
            matches!(
                e,
                ScheduleError::Field {
                    field: "Day-of-week",
                    ..
                }
            )
        }),
        ("cron(0 9 * * ? 2200)", |e| {
            matches!(e, ScheduleError::Field { field: "Year", .. })
        }),
        ("cron(0 9 * FOO ? *)", |e| {
            matches!(e, ScheduleError::Field { field: "Month", .. })
        }),
        ("cron(61 9 * * ? *)", |e| {
            matches!(e, ScheduleError::Cron { .. })
        }),
        ("rate(0 minutes)", |e| matches!(e, ScheduleError::Rate(_))),
        ("rate(5 weeks)", |e| matches!(e, ScheduleError::Rate(_))),
        ("at(2026-01-01 10:00)", |e| {
            matches!(e, ScheduleError::At(_))
        }),
    ];
    for (expr, is_expected) in rows {
        let err = Schedule::parse(expr).expect_err(expr);
        assert!(is_expected(&err), "{expr}: got {err:?}");
    }
    assert!(matches!(
        Schedule::parse("every day"),
        Err(ScheduleError::UnknownForm(_))
    ));
    assert!(matches!(
        parse_tz("Mars/Olympus"),
        Err(ScheduleError::TimeZone(_))
    ));
}

#[test]
fn a_rate_from_a_duration() {
    use std::time::Duration;
    let rows = [
        (60, "rate(1 minute)"),
        (300, "rate(5 minutes)"),
        (7_200, "rate(2 hours)"),
        (86_400, "rate(1 day)"),
    ];
    for (secs, want) in rows {
        let s = Schedule::every(Duration::from_secs(secs)).unwrap();
        assert_eq!(s.to_string(), want);
        assert_eq!(s, Schedule::parse(want).unwrap());
    }
    assert!(Schedule::every(Duration::from_secs(30)).is_err());
    assert!(Schedule::every(Duration::from_secs(90)).is_err());
}

#[test]
fn display_gives_back_the_expression() {
    for expr in [
        "cron(0 9 ? * MON-FRI *)",
        "at(2026-03-01T10:00:00)",
        "rate(5 minutes)",
    ] {
        assert_eq!(Schedule::parse(expr).unwrap().to_string(), expr);
    }
}

#[test]
fn scaling_rule_clamps_into_the_new_bounds() {
    let action = |min, max| {
        ScheduledAction::new(
            "a",
            Schedule::parse("rate(1 hour)").unwrap(),
            Tz::UTC,
            min,
            max,
        )
    };
    // (desired before, action min, action max, desired after)
    let rows = [
        (3, Some(1), Some(5), 3), // inside: unchanged
        (3, None, Some(2), 2),    // above the new max: scale in
        (3, Some(4), None, 4),    // below the new min: scale out
        (0, Some(1), Some(1), 1),
        (1, Some(0), Some(0), 0),
    ];
    for (before, min, max, after) in rows {
        let mut target = Target::new(before);
        target.apply(&action(min, max));
        assert_eq!(
            target.desired, after,
            "{before} with min {min:?} max {max:?}"
        );
    }
}

fn office_hours(tz: &str) -> Vec<ScheduledAction> {
    let tz = parse_tz(tz).unwrap();
    vec![
        ScheduledAction::new(
            "start",
            Schedule::parse("cron(0 9 ? * MON-FRI *)").unwrap(),
            tz,
            Some(1),
            Some(1),
        ),
        ScheduledAction::new(
            "stop",
            Schedule::parse("cron(0 17 ? * MON-FRI *)").unwrap(),
            tz,
            Some(0),
            Some(0),
        ),
    ]
}

#[test]
fn weekday_office_hours_in_tokyo_give_eight_hours_a_weekday() {
    let tokyo = parse_tz("Asia/Tokyo").unwrap();
    for (year, month) in [(2026, 1), (2026, 2), (2026, 3), (2027, 5)] {
        let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap();
        let next = first.checked_add_months(chrono::Months::new(1)).unwrap();
        // Expected, counted independently: weekdays of the month × 8 h.
        let weekdays = first
            .iter_days()
            .take_while(|d| *d < next)
            .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
            .count() as f64;
        let from = tokyo
            .from_local_datetime(&first.into())
            .unwrap()
            .with_timezone(&Utc);
        let to = tokyo
            .from_local_datetime(&next.into())
            .unwrap()
            .with_timezone(&Utc);

        let profile = simulate(&office_hours("Asia/Tokyo"), 1, from, to);
        assert!(
            (profile.task_hours() - weekdays * 8.0).abs() < 1e-9,
            "{year}-{month}"
        );
        assert!((profile.running_hours() - weekdays * 8.0).abs() < 1e-9);
        assert_eq!(profile.peak(), 1);
        assert_eq!(profile.changes.len() as f64, weekdays * 2.0);
        assert!((profile.total_hours() - (to - from).num_hours() as f64).abs() < 1e-9);
    }
}

#[test]
fn the_state_at_the_start_replays_the_last_fires_before_it() {
    // Desired 2, but the interval starts at night, after the 17:00 stop: no task until
    // 09:00, then two (min 1 leaves 2 alone), stop at 17:00.
    let actions = office_hours("UTC");
    let from = utc("2026-01-05T00:00:00Z"); // Monday
    let to = utc("2026-01-06T00:00:00Z");
    let profile = simulate(&actions, 2, from, to);
    assert_eq!(profile.hours_at.get(&0).copied(), Some(16.0));
    assert_eq!(profile.hours_at.get(&1).copied(), Some(8.0));
    assert_eq!(profile.task_hours(), 8.0);
    let changes: Vec<(DateTime<Utc>, u32)> =
        profile.changes.iter().map(|c| (c.at, c.desired)).collect();
    assert_eq!(
        changes,
        [
            (utc("2026-01-05T09:00:00Z"), 1),
            (utc("2026-01-05T17:00:00Z"), 0)
        ]
    );

    // With no action before the interval, the desired count holds until the first fire.
    let night = vec![ScheduledAction::new(
        "night",
        Schedule::parse("at(2026-01-05T20:00:00)").unwrap(),
        Tz::UTC,
        None,
        Some(0),
    )];
    let profile = simulate(&night, 2, from, to);
    assert_eq!(profile.task_hours(), 40.0);
    assert_eq!(profile.running_hours(), 20.0);
    assert_eq!(profile.peak(), 2);
}

#[test]
fn a_spring_forward_night_is_an_hour_shorter() {
    // Up 01:00-03:00 local each day; on 2026-03-08 02:00-03:00 does not exist.
    let ny = parse_tz("America/New_York").unwrap();
    let actions = vec![
        ScheduledAction::new(
            "up",
            Schedule::parse("cron(0 1 * * ? *)").unwrap(),
            ny,
            Some(1),
            None,
        ),
        ScheduledAction::new(
            "down",
            Schedule::parse("cron(0 3 * * ? *)").unwrap(),
            ny,
            None,
            Some(0),
        ),
    ];
    let from = utc("2026-03-07T05:00:00Z"); // 2026-03-07 00:00 EST
    let to = utc("2026-03-10T04:00:00Z"); // 2026-03-10 00:00 EDT
    let profile = simulate(&actions, 0, from, to);
    assert_eq!(profile.task_hours(), 2.0 + 1.0 + 2.0);
}

#[test]
fn start_and_end_times_bound_a_rate_action() {
    let from = utc("2026-01-01T00:00:00Z");
    let to = utc("2026-01-02T00:00:00Z");
    let mut up = ScheduledAction::new(
        "up",
        Schedule::parse("rate(6 hours)").unwrap(),
        Tz::UTC,
        Some(3),
        None,
    );
    up.start_time = Some(utc("2026-01-01T02:00:00Z"));
    up.end_time = Some(utc("2026-01-01T10:00:00Z"));
    assert_eq!(
        up.next_fire(from, true, from),
        Some(utc("2026-01-01T02:00:00Z"))
    );
    assert_eq!(
        up.next_fire(utc("2026-01-01T02:00:00Z"), false, from),
        Some(utc("2026-01-01T08:00:00Z"))
    );
    assert_eq!(up.next_fire(utc("2026-01-01T08:00:00Z"), false, from), None);
    assert_eq!(up.prev_fire(to), Some(utc("2026-01-01T08:00:00Z")));

    let mut down = up.clone();
    down.name = "down".into();
    down.min_capacity = None;
    down.max_capacity = Some(1);
    down.start_time = Some(utc("2026-01-01T05:00:00Z"));
    down.end_time = None;
    // 1 task until 02:00, 3 until 05:00, 1 after (08:00 raises min to 3 again: 3 tasks
    // until 11:00, then 1 every six hours after).
    let profile = simulate(&[up, down], 1, from, to);
    let changes: Vec<(String, u32)> = profile
        .changes
        .iter()
        .map(|c| (c.at.format("%H:%M").to_string(), c.desired))
        .collect();
    assert_eq!(
        changes,
        [
            ("02:00".into(), 3),
            ("05:00".into(), 1),
            ("08:00".into(), 3),
            ("11:00".into(), 1)
        ]
    );
    assert_eq!(profile.task_hours(), 2.0 + 9.0 + 3.0 + 9.0 + 13.0);
}
