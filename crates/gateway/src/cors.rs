//! CORS as HTTP API applies a `corsConfiguration` (aws-behavior.md §1.7, §6.11).
//!
//! - A preflight is an `OPTIONS` request carrying both `Origin` and
//!   `Access-Control-Request-Method`; the gateway answers it itself, before route
//!   selection, whether or not an `OPTIONS` route exists. The status is 204 [INF, §6.11:
//!   AWS documents no status; emulators use 204].
//! - Every other response, the backend's and the gateway's own errors alike, loses the
//!   backend's `Access-Control-*` headers ("API Gateway ignores CORS headers returned
//!   from your backend integration") and, when the request carried an allowed `Origin`,
//!   gets the configured ones. Adding them to gateway errors too is our reading [INF]: it
//!   lets a browser show the 404 or 503 instead of a CORS failure.
//! - CORS headers are sent only to requests that carry `Origin`.
//!
//! Choices where AWS is silent [INF, §1.7]: `*` in `allowOrigins` answers `*`; any other
//! origin is compared case-insensitively and echoed back; `*` in `allowMethods` or
//! `allowHeaders` is sent as `*`; a preflight from an origin that is not allowed gets
//! 204 with no CORS headers, and the browser then refuses the request.
//!
//! Known limits: no wildcard subdomains in origins (`https://*.example.com`).

use albless_spec::Cors;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};

/// A CORS configuration with its header values built once.
#[derive(Debug)]
pub(crate) struct CorsPolicy {
    any_origin: bool,
    origins: Vec<String>,
    allow_methods: Option<HeaderValue>,
    allow_headers: Option<HeaderValue>,
    expose_headers: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
    credentials: bool,
}

/// The CORS response headers HTTP API owns.
static CORS_HEADERS: [HeaderName; 6] = [
    header::ACCESS_CONTROL_ALLOW_ORIGIN,
    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
    header::ACCESS_CONTROL_EXPOSE_HEADERS,
    header::ACCESS_CONTROL_ALLOW_METHODS,
    header::ACCESS_CONTROL_ALLOW_HEADERS,
    header::ACCESS_CONTROL_MAX_AGE,
];

impl CorsPolicy {
    /// Compiles `cors`. A value that cannot be a header value (the spec rejects those)
    /// leaves its header out, with a warning.
    pub(crate) fn new(cors: &Cors) -> CorsPolicy {
        CorsPolicy {
            any_origin: cors.allow_origins.iter().any(|o| o == "*"),
            origins: cors.allow_origins.clone(),
            allow_methods: joined("allow_methods", &cors.allow_methods),
            allow_headers: joined("allow_headers", &cors.allow_headers),
            expose_headers: joined("expose_headers", &cors.expose_headers),
            max_age: cors.max_age.map(HeaderValue::from),
            credentials: cors.allow_credentials,
        }
    }

    /// Whether `req` is a preflight the gateway answers itself.
    pub(crate) fn is_preflight<B>(req: &Request<B>) -> bool {
        req.method() == Method::OPTIONS
            && req.headers().contains_key(header::ORIGIN)
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The answer to a preflight from `origin`: 204, with the configured headers when the
    /// origin is allowed. The body type is the caller's.
    pub(crate) fn preflight<B: Default>(&self, origin: Option<&HeaderValue>) -> Response<B> {
        let mut response = Response::new(B::default());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        if self.allow_origin(headers, origin) {
            for (name, value) in [
                (header::ACCESS_CONTROL_ALLOW_METHODS, &self.allow_methods),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, &self.allow_headers),
                (header::ACCESS_CONTROL_MAX_AGE, &self.max_age),
            ] {
                if let Some(value) = value {
                    headers.insert(name, value.clone());
                }
            }
        }
        response
    }

    /// Replaces the CORS headers of a response to a request from `origin`.
    pub(crate) fn apply(&self, headers: &mut HeaderMap, origin: Option<&HeaderValue>) {
        for name in &CORS_HEADERS {
            headers.remove(name);
        }
        if self.allow_origin(headers, origin)
            && let Some(expose) = &self.expose_headers
        {
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
        }
    }

    /// Adds `Access-Control-Allow-Origin` (and `-Credentials`) when `origin` is allowed;
    /// returns whether it was.
    fn allow_origin(&self, headers: &mut HeaderMap, origin: Option<&HeaderValue>) -> bool {
        let Some(origin) = origin else {
            return false;
        };
        let value = if self.any_origin {
            HeaderValue::from_static("*")
        } else {
            let sent = origin.as_bytes();
            if !self
                .origins
                .iter()
                .any(|o| o.as_bytes().eq_ignore_ascii_case(sent))
            {
                return false;
            }
            origin.clone()
        };
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        if self.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        true
    }
}

/// `values` joined with `,` as one header value; `None` when empty or invalid.
fn joined(field: &str, values: &[String]) -> Option<HeaderValue> {
    if values.is_empty() {
        return None;
    }
    match HeaderValue::try_from(values.join(",")) {
        Ok(value) => Some(value),
        Err(_) => {
            tracing::warn!(field, "cors value is not a valid header value, left out");
            None
        }
    }
}
