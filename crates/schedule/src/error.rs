//! Errors of this crate: one enum, one variant per way an expression can be wrong.

/// Why a schedule expression or time zone was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleError {
    /// The expression is none of `cron(...)`, `at(...)` or `rate(...)`.
    #[error("`{0}` is not a schedule: expected cron(...), at(...) or rate(...)")]
    UnknownForm(String),
    /// A `cron(...)` expression does not have its six fields.
    #[error(
        "cron expression has {0} fields; Application Auto Scaling wants 6: Minutes Hours Day-of-month Month Day-of-week Year"
    )]
    FieldCount(usize),
    /// One cron field holds a value or character that field does not allow.
    #[error("cron field {field} `{value}`: {reason}")]
    Field {
        /// The field's name (`Day-of-week`, `Year`, ...).
        field: &'static str,
        /// The field as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Day-of-month and day-of-week were both given, or both left open (`?`).
    #[error(
        "cron: exactly one of Day-of-month and Day-of-week must be `?` (got `{dom}` and `{dow}`)"
    )]
    DayFields {
        /// The day-of-month field as written.
        dom: String,
        /// The day-of-week field as written.
        dow: String,
    },
    /// The cron library refused the translated pattern.
    #[error("cron expression `{expr}` refused: {reason}")]
    Cron {
        /// The expression as written.
        expr: String,
        /// The library's message.
        reason: String,
    },
    /// An `at(...)` time is not `yyyy-mm-ddThh:mm:ss`.
    #[error("at(...) wants yyyy-mm-ddThh:mm:ss, got `{0}`")]
    At(String),
    /// A `rate(...)` is not `<positive number> minute(s)|hour(s)|day(s)`.
    #[error("rate(...) wants `<n> minute(s)|hour(s)|day(s)` with n >= 1, got `{0}`")]
    Rate(String),
    /// The time zone is not an IANA name known to the tz database.
    #[error("unknown time zone `{0}` (want an IANA name such as Asia/Tokyo)")]
    TimeZone(String),
}
