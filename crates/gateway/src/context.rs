//! `$context` variables: what one request's access-log line and parameter mappings can
//! refer to (aws-behavior.md §1.4, §1.8), and the small template language both use:
//! static text with `$name.path` or `${name.path}` references.
//!
//! A variable AWS defines but the gateway has no value for (`$context.apiId`,
//! `$context.integration.error` on success, ...) renders as `-` in the access log, as on
//! AWS (§1.8, C-LOG-DASH); an unknown name does too.
//!
//! Known limits: `$context.requestTime` is in UTC; `$context.dataProcessed` and the
//! authorizer variables are never set.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderValue, Method};

use crate::request_id::RequestId;

/// A `$context` variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContextVar {
    RequestId,
    DomainName,
    DomainPrefix,
    HttpMethod,
    Path,
    RouteKey,
    Stage,
    Status,
    Protocol,
    SourceIp,
    UserAgent,
    RequestTime,
    RequestTimeEpoch,
    ResponseLength,
    ResponseLatency,
    IntegrationLatency,
    IntegrationStatus,
    IntegrationError,
    ErrorMessage,
    ErrorMessageString,
    ErrorResponseType,
    /// A variable with no value locally (`apiId`, `accountId`, authorizer fields, ...).
    Unset,
}

impl ContextVar {
    /// The variable called `name` (what follows `$context.`).
    pub(crate) fn parse(name: &str) -> ContextVar {
        match name {
            "requestId" | "extendedRequestId" => ContextVar::RequestId,
            "domainName" => ContextVar::DomainName,
            "domainPrefix" => ContextVar::DomainPrefix,
            "httpMethod" => ContextVar::HttpMethod,
            "path" => ContextVar::Path,
            "routeKey" => ContextVar::RouteKey,
            "stage" => ContextVar::Stage,
            "status" => ContextVar::Status,
            "protocol" => ContextVar::Protocol,
            "identity.sourceIp" => ContextVar::SourceIp,
            "identity.userAgent" => ContextVar::UserAgent,
            "requestTime" => ContextVar::RequestTime,
            "requestTimeEpoch" => ContextVar::RequestTimeEpoch,
            "responseLength" => ContextVar::ResponseLength,
            "responseLatency" => ContextVar::ResponseLatency,
            "integrationLatency" | "integration.latency" => ContextVar::IntegrationLatency,
            "integrationStatus" | "integration.status" | "integration.integrationStatus" => {
                ContextVar::IntegrationStatus
            }
            "integration.error" | "integrationErrorMessage" => ContextVar::IntegrationError,
            "error.message" => ContextVar::ErrorMessage,
            "error.messageString" => ContextVar::ErrorMessageString,
            "error.responseType" => ContextVar::ErrorResponseType,
            _ => ContextVar::Unset,
        }
    }
}

/// What is known about one request, filled in as it goes.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) request_id: RequestId,
    pub(crate) method: Method,
    /// The path as requested, stage prefix included (`$context.path`).
    pub(crate) path: String,
    pub(crate) source_ip: IpAddr,
    pub(crate) user_agent: Option<HeaderValue>,
    /// The client's host (`Host` or `:authority`).
    pub(crate) domain: Option<HeaderValue>,
    pub(crate) stage: Arc<str>,
    pub(crate) request_time: SystemTime,
    pub(crate) route_key: Option<Arc<str>>,
    pub(crate) status: Option<u16>,
    pub(crate) response_length: Option<u64>,
    pub(crate) response_latency: Option<Duration>,
    pub(crate) integration_latency: Option<Duration>,
    pub(crate) integration_status: Option<u16>,
    pub(crate) integration_error: Option<String>,
    /// The gateway error's message and response type, when the gateway answered.
    pub(crate) error: Option<(&'static str, &'static str)>,
}

impl Record {
    /// Writes the value of `var` to `out`; `-` when it has none. `dash` false writes
    /// nothing instead (parameter mappings want an empty value, not `-`).
    pub(crate) fn render(&self, var: ContextVar, out: &mut String, dash: bool) {
        let before = out.len();
        let _ = match var {
            ContextVar::RequestId => write!(out, "{}", self.request_id),
            ContextVar::DomainName => write_header(out, self.domain.as_ref()),
            ContextVar::DomainPrefix => {
                let host = self.domain.as_ref().and_then(|h| h.to_str().ok());
                match host.and_then(|h| h.split(['.', ':']).next()) {
                    Some(prefix) => write!(out, "{prefix}"),
                    None => Ok(()),
                }
            }
            ContextVar::HttpMethod => write!(out, "{}", self.method),
            ContextVar::Path => write!(out, "{}", self.path),
            ContextVar::RouteKey => match &self.route_key {
                Some(key) => write!(out, "{key}"),
                None => Ok(()),
            },
            ContextVar::Stage => write!(out, "{}", self.stage),
            ContextVar::Status => write_opt(out, self.status),
            // R-LOGVARS: logged as HTTP/1.1 even for HTTP/2 clients (§1.8).
            ContextVar::Protocol => write!(out, "HTTP/1.1"),
            ContextVar::SourceIp => write!(out, "{}", self.source_ip),
            ContextVar::UserAgent => write_header(out, self.user_agent.as_ref()),
            ContextVar::RequestTime => write_clf_time(out, self.request_time),
            ContextVar::RequestTimeEpoch => write!(out, "{}", epoch_ms(self.request_time)),
            ContextVar::ResponseLength => write_opt(out, self.response_length),
            ContextVar::ResponseLatency => write_opt(out, self.response_latency.map(millis)),
            ContextVar::IntegrationLatency => write_opt(out, self.integration_latency.map(millis)),
            ContextVar::IntegrationStatus => write_opt(out, self.integration_status),
            ContextVar::IntegrationError => match &self.integration_error {
                Some(e) => write!(out, "{e}"),
                None => Ok(()),
            },
            ContextVar::ErrorMessage => match self.error {
                Some((message, _)) => write!(out, "{message}"),
                None => Ok(()),
            },
            ContextVar::ErrorMessageString => match self.error {
                Some((message, _)) => write!(out, "\"{message}\""),
                None => Ok(()),
            },
            ContextVar::ErrorResponseType => match self.error {
                Some((_, kind)) => write!(out, "{kind}"),
                None => Ok(()),
            },
            ContextVar::Unset => Ok(()),
        };
        if dash && out.len() == before {
            out.push('-');
        }
    }
}

fn millis(d: Duration) -> u128 {
    d.as_millis()
}

fn write_opt(out: &mut String, value: Option<impl std::fmt::Display>) -> std::fmt::Result {
    match value {
        Some(v) => write!(out, "{v}"),
        None => Ok(()),
    }
}

fn write_header(out: &mut String, value: Option<&HeaderValue>) -> std::fmt::Result {
    match value.and_then(|v| v.to_str().ok()) {
        Some(v) => write!(out, "{v}"),
        None => Ok(()),
    }
}

fn epoch_ms(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()
}

/// `dd/MMM/yyyy:HH:mm:ss +0000`, the CLF time AWS logs as `$context.requestTime`.
fn write_clf_time(out: &mut String, t: SystemTime) -> std::fmt::Result {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    write!(
        out,
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days` algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// One piece of a template: text, or a reference resolved per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece<V> {
    /// Static text.
    Text(String),
    /// A reference.
    Var(V),
}

/// Splits `template` into text and references. `resolve` gets each reference's name
/// without the `$` (`context.requestId`, `request.header.x`) and says what it means;
/// `None` keeps the `$name` as text. A bare name is letters, digits and `_ . -`, without
/// a trailing `.`; `${...}` delimits one explicitly.
pub(crate) fn parse_template<V>(
    template: &str,
    resolve: impl Fn(&str) -> Option<V>,
) -> Vec<Piece<V>> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        text.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
                .unwrap_or(after.len());
            let name = after[..len].trim_end_matches('.');
            (name, name.len())
        };
        match (!name.is_empty()).then(|| resolve(name)).flatten() {
            Some(var) => {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Var(var));
                rest = &after[consumed..];
            }
            None => {
                text.push('$');
                rest = after;
            }
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_text_and_references() {
        let resolve = |name: &str| name.strip_prefix("context.").map(ContextVar::parse);
        let got = parse_template(
            "$context.identity.sourceIp - [${context.status}]. $x $",
            resolve,
        );
        assert_eq!(
            got,
            [
                Piece::Var(ContextVar::SourceIp),
                Piece::Text(" - [".into()),
                Piece::Var(ContextVar::Status),
                Piece::Text("]. $x $".into()),
            ]
        );
        // A trailing dot ends a sentence, not a name.
        let got = parse_template("id $context.requestId.", resolve);
        assert_eq!(got[1], Piece::Var(ContextVar::RequestId));
        assert_eq!(got[2], Piece::Text(".".into()));
    }

    #[test]
    fn clf_time_is_utc() {
        let mut out = String::new();
        // 2021-03-09T00:31:42Z
        write_clf_time(&mut out, UNIX_EPOCH + Duration::from_secs(1_615_249_902)).unwrap();
        assert_eq!(out, "09/Mar/2021:00:31:42 +0000");
        let mut out = String::new();
        write_clf_time(&mut out, UNIX_EPOCH + Duration::from_secs(951_782_400)).unwrap();
        assert_eq!(out, "29/Feb/2000:00:00:00 +0000");
    }
}
