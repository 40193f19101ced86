//! The answer to every request: which task served it and what was asked, as JSON or as an HTML
//! page that shows the task's IP in large type, so reloading shows requests spread over tasks.
//!
//! Format choice ([`negotiate`]): `?format=json` or `?format=html` wins; otherwise JSON when
//! `Accept` names `application/json` and does not name `text/html` before it; HTML otherwise
//! (browsers, and curl's `*/*`). Quality values are not weighed.
//!
//! Known limits: header names come lower-cased (hyper normalizes them), and repeated headers
//! are grouped at the place of the first one, because `http::HeaderMap` keeps the order of
//! names and the order of values per name but not how they were interleaved on the wire.
//! Values that are not UTF-8 are shown with U+FFFD in place of the bad bytes. Over HTTP/2 the
//! authority travels as the `:authority` pseudo-header, so no `host` header is listed.

use std::fmt::{self, Write as _};
use std::net::SocketAddr;

use hyper::http::request::Parts;
use serde_json::{Value, json};

#[cfg(test)]
mod tests;

/// Who this task is; fixed for the life of the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// `ALBLESS_TASK_ID`, if set.
    pub(crate) task_id: Option<String>,
    /// `ALBLESS_TASK_ARN`, if set (the metadata endpoint may give a better one per request).
    pub(crate) task_arn: Option<String>,
    /// `ALBLESS_SERVICE`, or `"unknown"`.
    pub(crate) service: String,
    /// The machine's hostname, or `"unknown"`.
    pub(crate) hostname: String,
    /// This process's id.
    pub(crate) pid: u32,
    /// `GREETING`, if set.
    pub(crate) greeting: Option<String>,
}

/// What the client asked, as echoed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestInfo {
    /// Method as sent, e.g. `GET`.
    pub(crate) method: String,
    /// Path without the query, not percent-decoded.
    pub(crate) path: String,
    /// Query string without the `?`, if the target had one.
    pub(crate) query: Option<String>,
    /// `HTTP/1.0`, `HTTP/1.1` or `HTTP/2.0`.
    pub(crate) version: String,
    /// The peer of the TCP connection.
    pub(crate) remote_addr: SocketAddr,
    /// Headers as `(name, value)` pairs; see the module doc for their order.
    pub(crate) headers: Vec<(String, String)>,
    /// Length of the request body, counted as it was read.
    pub(crate) body_bytes: u64,
}

impl RequestInfo {
    /// Captures the parts of a request that the answer shows.
    pub(crate) fn new(parts: &Parts, remote_addr: SocketAddr, body_bytes: u64) -> Self {
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        Self {
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            version: format!("{:?}", parts.version),
            remote_addr,
            headers,
            body_bytes,
        }
    }
}

/// How the answer is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `application/json`, for programs and tests.
    Json,
    /// A page for people.
    Html,
}

/// Chooses the format from the request's `Accept` value(s) and query string (module doc).
pub(crate) fn negotiate(accept: Option<&str>, query: Option<&str>) -> Format {
    match query_param(query, "format") {
        Some("json") => return Format::Json,
        Some("html") => return Format::Html,
        _ => {}
    }

    // Media types are case-insensitive (RFC 9110, section 8.3.1).
    let accept = accept.unwrap_or_default().to_ascii_lowercase();
    let Some(json_at) = accept.find("application/json") else {
        return Format::Html;
    };
    match accept.find("text/html") {
        Some(html_at) if html_at < json_at => Format::Html,
        _ => Format::Json,
    }
}

/// The value of the first `name=value` pair named `name` in a query string, not decoded.
pub(crate) fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?
        .split('&')
        .find_map(|pair| match pair.split_once('=') {
            Some((key, value)) if key == name => Some(value),
            None if pair == name => Some(""),
            _ => None,
        })
}

/// One answer: the task, the address the request reached, and the request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answer<'a> {
    /// The task's fixed identity.
    pub(crate) identity: &'a Identity,
    /// The task ARN to show: from the metadata endpoint if it answered, else the identity's.
    pub(crate) task_arn: Option<&'a str>,
    /// The local end of the connection: the task's IP and port, even when bound to `0.0.0.0`.
    pub(crate) local_addr: SocketAddr,
    /// What was asked.
    pub(crate) request: &'a RequestInfo,
}

impl Answer<'_> {
    /// The JSON document; absent values are `null` so the keys are always there.
    pub(crate) fn json(&self) -> Value {
        let request = self.request;
        let headers: Vec<[&str; 2]> = request
            .headers
            .iter()
            .map(|(name, value)| [name.as_str(), value.as_str()])
            .collect();
        json!({
            "task_id": self.identity.task_id,
            "task_arn": self.task_arn,
            "service": self.identity.service,
            "ip": self.local_addr.ip().to_string(),
            "port": self.local_addr.port(),
            "hostname": self.identity.hostname,
            "pid": self.identity.pid,
            "greeting": self.identity.greeting,
            "request": {
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "version": request.version,
                "remote_addr": request.remote_addr.to_string(),
                "headers": headers,
                "body_bytes": request.body_bytes,
            },
        })
    }

    /// The HTML page; every value from outside is escaped. Unknown task id and ARN are left out.
    pub(crate) fn html(&self) -> String {
        let (identity, request) = (self.identity, self.request);
        let ip = self.local_addr.ip().to_string();
        let mut page = String::with_capacity(4096);

        // Writing to a String cannot fail, hence the ignored results below.
        let _ = write!(
            page,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{ip} &middot; albless-whoami</title>\n<style>{STYLE}</style>\n</head>\n\
             <body style=\"--hue: {hue}\">\n<main>\n<p class=\"label\">served by the task at</p>\n\
             <h1>{ip}<span class=\"port\">:{port}</span></h1>\n",
            ip = Escaped(&ip),
            hue = hue(self.local_addr),
            port = self.local_addr.port(),
        );
        if let Some(greeting) = &identity.greeting {
            let _ = writeln!(page, "<p class=\"greeting\">{}</p>", Escaped(greeting));
        }

        page.push_str("<h2>Task</h2>\n<table>\n");
        if let Some(task_id) = &identity.task_id {
            row(&mut page, "task id", task_id);
        }
        if let Some(task_arn) = self.task_arn {
            row(&mut page, "task ARN", task_arn);
        }
        row(&mut page, "service", &identity.service);
        row(&mut page, "hostname", &identity.hostname);
        row(&mut page, "pid", &identity.pid.to_string());
        page.push_str("</table>\n");

        page.push_str("<h2>Request</h2>\n<table>\n");
        row(&mut page, "method", &request.method);
        row(&mut page, "path", &request.path);
        if let Some(query) = &request.query {
            row(&mut page, "query", query);
        }
        row(&mut page, "version", &request.version);
        row(
            &mut page,
            "remote address",
            &request.remote_addr.to_string(),
        );
        row(&mut page, "body bytes", &request.body_bytes.to_string());
        page.push_str("</table>\n");

        page.push_str("<h2>Headers</h2>\n<table>\n");
        for (name, value) in &request.headers {
            row(&mut page, name, value);
        }
        page.push_str(
            "</table>\n<p class=\"hint\">Reload to see requests spread over the service's \
             tasks. Same answer as <a href=\"?format=json\">JSON</a>.</p>\n</main>\n</body>\n\
             </html>\n",
        );
        page
    }
}

/// Page style; the background hue comes from the task's address so each task has its colour.
const STYLE: &str = "body{margin:0;font-family:system-ui,sans-serif;color:#1d1d1f;\
background:hsl(var(--hue),70%,93%)}main{max-width:60rem;margin:0 auto;padding:2rem}\
h1{font:700 clamp(2.5rem,10vw,6rem)/1.1 ui-monospace,monospace;margin:0;\
color:hsl(var(--hue),60%,30%);overflow-wrap:anywhere}.port{font-size:.4em;opacity:.6}\
.label{margin:0;text-transform:uppercase;letter-spacing:.1em;font-size:.8rem;opacity:.7}\
.greeting{font-size:1.6rem}table{border-collapse:collapse;width:100%}\
th,td{text-align:left;vertical-align:top;padding:.25rem .75rem .25rem 0;\
border-bottom:1px solid hsl(var(--hue),30%,80%);font-family:ui-monospace,monospace}\
th{width:12rem;font-weight:600}td{overflow-wrap:anywhere}.hint{opacity:.7}";

/// Appends one table row, escaping both cells.
fn row(page: &mut String, name: &str, value: &str) {
    let _ = writeln!(
        page,
        "<tr><th>{}</th><td>{}</td></tr>",
        Escaped(name),
        Escaped(value)
    );
}

/// A hue (0-359) that differs between tasks: FNV-1a over the address text.
fn hue(addr: SocketAddr) -> u32 {
    let hash = addr
        .to_string()
        .bytes()
        .fold(0x811c_9dc5_u32, |hash, byte| {
            (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
        });
    hash % 360
}

/// Text made safe for HTML element content and quoted attribute values.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}
