//! Application Auto Scaling schedules, evaluated on any clock: the `cron(...)`, `at(...)`
//! and `rate(...)` expressions of `PutScheduledAction` read in an IANA time zone with its
//! DST changes, and the desired count those actions produce over an interval
//! (aws-behavior.md §4.7).
//!
//! Pure: nothing here reads the system clock; every call takes the instant to count
//! from. `croner` does the calendar search and `chrono-tz` the zones; this crate owns
//! the AWS dialect (day-of-week 1-7 = SUN-SAT, the year field, the `?` rule) and the
//! scaling rule.
//!
//! ```
//! use albless_schedule::{Schedule, next_after, parse_tz};
//! use chrono::{TimeZone, Utc};
//!
//! let weekdays_9am = Schedule::parse("cron(0 9 ? * MON-FRI *)").unwrap();
//! let tokyo = parse_tz("Asia/Tokyo").unwrap();
//! // Friday 2026-01-02 12:00 UTC is 21:00 in Tokyo: next is Monday 09:00 JST.
//! let after = Utc.with_ymd_and_hms(2026, 1, 2, 12, 0, 0).unwrap();
//! let next = next_after(&weekdays_9am, tokyo, after).unwrap();
//! assert_eq!(next, Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap());
//! ```

mod capacity;
mod cron;
mod error;
mod expr;

#[cfg(test)]
mod tests;

pub use capacity::{CapacityChange, CapacityProfile, ScheduledAction, Target, simulate};
pub use chrono_tz::Tz;
pub use cron::AwsCron;
pub use error::ScheduleError;
pub use expr::{Schedule, next_after, parse_tz};
