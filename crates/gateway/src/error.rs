//! Why the gateway answered a request itself, and the one place that turns that into
//! the status and body a client of HTTP API sees (aws-behavior.md §1.6).
//!
//! HTTP API's gateway errors have fixed JSON bodies (`{"message":"Not Found"}`) and no
//! custom gateway responses (§1.5), so the bodies are static and cost no allocation.
//! `content-type: application/json` is assumed [INF, §1.6].
//!
//! The two size limits answer with the plain-text messages AWS's front end was seen
//! sending (§1.6): `HTTP content length exceeded 10485760 bytes.` with 413 (I-LGTM10,
//! seen on a REST API; unverified for HTTP API) and `HTTP header is larger than 10240
//! bytes.` (reported for API Gateway in 2021, B-NTSBLOG:
//! https://ntsblog.homedev.com.au/index.php/2021/03/09/aws-api-gateway-http-header-is-larger-than-10240-bytes/).
//! The status of the latter was not reported; 431 (RFC 6585 §5) is our choice [INF].
//!
//! Known limits: the `$context.error.responseType` names are REST API's gateway
//! response types, since HTTP API documents none [INF].

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};

use crate::body::ResponseBody;

/// A request the gateway could not pass to an instance.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GatewayError {
    /// No route matched the request's method and path, and there is no `$default` route.
    #[error("no route matches the request")]
    NoRoute,
    /// The route's Cloud Map service does not exist (yet) in the namespace.
    #[error("service `{service}` not found in namespace `{namespace}`")]
    ServiceNotFound {
        /// The namespace looked in.
        namespace: String,
        /// The route's service.
        service: String,
    },
    /// The route's service has no instance the HTTP API may send requests to.
    #[error("service `{service}` has no routable instance")]
    NoInstance {
        /// The route's service.
        service: String,
    },
    /// A service that wakes on request did not get an instance within its wake timeout
    /// (beyond AWS, `wake.rs`): 503 with `Retry-After`.
    #[error("service `{service}` is waking up")]
    Asleep {
        /// The route's service.
        service: String,
    },
    /// The request line and header values add up to more than HTTP API accepts.
    #[error("request line and headers are {size} bytes, over the 10240 byte limit")]
    HeadersTooLarge {
        /// Their size as counted (§1.5: request line plus header values).
        size: usize,
    },
    /// The request body is larger than the 10 MB payload limit.
    #[error("request body over the 10 MB payload limit")]
    PayloadTooLarge,
    /// The route's token bucket is empty.
    #[error("route `{route_key}` throttled")]
    Throttled {
        /// The throttled route.
        route_key: String,
    },
    /// The chosen instance could not be reached, or failed before sending a response
    /// head (refused, reset, closed).
    #[error("instance {instance} failed before responding")]
    Upstream {
        /// The chosen instance.
        instance: SocketAddr,
        /// What the connection to it reported.
        #[source]
        source: crate::pool::UpstreamError,
    },
    /// The chosen instance sent no response head within the integration timeout.
    #[error("instance {instance} did not respond within {timeout:?}")]
    Timeout {
        /// The chosen instance.
        instance: SocketAddr,
        /// The integration timeout that passed.
        timeout: Duration,
    },
    /// The request to the instance could not be built: a mapped path that is not a
    /// valid URI path, or a bug.
    #[error("request to the instance could not be built")]
    Internal {
        /// The chosen instance, if one was chosen.
        instance: Option<SocketAddr>,
        /// What `http` reported.
        #[source]
        source: http::Error,
    },
}

impl GatewayError {
    /// The response HTTP API sends for this error (the caller adds `apigw-requestid`).
    pub(crate) fn to_response(&self) -> Response<ResponseBody> {
        let (status, body) = self.status_and_body();
        let content_type = if body.starts_with(b"{") {
            "application/json"
        } else {
            "text/plain"
        };
        let mut response = Response::new(ResponseBody::full(body));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let GatewayError::Asleep { .. } = self {
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                HeaderValue::from(crate::RETRY_AFTER_SECS),
            );
        }
        response
    }

    /// `$context.error.message` and `$context.error.responseType` for this error.
    pub(crate) fn log_fields(&self) -> (&'static str, &'static str) {
        match self {
            GatewayError::NoRoute => ("Not Found", "RESOURCE_NOT_FOUND"),
            GatewayError::HeadersTooLarge { .. } => (
                "HTTP header is larger than 10240 bytes.",
                "REQUEST_TOO_LARGE",
            ),
            GatewayError::PayloadTooLarge => (
                "HTTP content length exceeded 10485760 bytes.",
                "REQUEST_TOO_LARGE",
            ),
            GatewayError::Throttled { .. } => ("Too Many Requests", "THROTTLED"),
            GatewayError::ServiceNotFound { .. }
            | GatewayError::NoInstance { .. }
            | GatewayError::Asleep { .. }
            | GatewayError::Upstream { .. } => ("Service Unavailable", "INTEGRATION_FAILURE"),
            GatewayError::Timeout { .. } => ("Service Unavailable", "INTEGRATION_TIMEOUT"),
            GatewayError::Internal { .. } => ("Internal Server Error", "INTEGRATION_FAILURE"),
        }
    }

    /// The status and JSON body HTTP API answers with for this error.
    fn status_and_body(&self) -> (StatusCode, Bytes) {
        match self {
            // §1.1, §1.2: no stage or no route -> 404.
            GatewayError::NoRoute => (
                StatusCode::NOT_FOUND,
                Bytes::from_static(br#"{"message":"Not Found"}"#),
            ),
            // §1.5, §6.14 (see the module docs for the bodies).
            GatewayError::HeadersTooLarge { .. } => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                Bytes::from_static(b"HTTP header is larger than 10240 bytes."),
            ),
            GatewayError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                Bytes::from_static(b"HTTP content length exceeded 10485760 bytes."),
            ),
            // §1.5, §1.6: an empty token bucket -> 429 with this body [DOC code, OBS body].
            GatewayError::Throttled { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                Bytes::from_static(br#"{"message":"Too Many Requests"}"#),
            ),
            // §1.6, §2.2, §6.3, §6.4, §6.8: no healthy instance, a connection failure and
            // an integration timeout all reach the client as 503, never 502 or 504. A
            // missing service is treated like an empty one: locally it is a start-up race
            // with the scheduler, not a broken integration.
            GatewayError::ServiceNotFound { .. }
            | GatewayError::NoInstance { .. }
            | GatewayError::Asleep { .. }
            | GatewayError::Upstream { .. }
            | GatewayError::Timeout { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                Bytes::from_static(br#"{"message":"Service Unavailable"}"#),
            ),
            // §1.6: integration and configuration failures -> 500 [OBS/INF].
            GatewayError::Internal { .. } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Bytes::from_static(br#"{"message":"Internal Server Error"}"#),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_sizes_aws_sends() {
        // §1.6: the 503 body is 33 bytes (I-CORTEX's content-length). The same text
        // without a newline makes the 404 body 23 bytes; §1.6's "24" counts one too many.
        let (status, body) = GatewayError::NoRoute.status_and_body();
        assert_eq!((status.as_u16(), body.len()), (404, 23));
        let timeout = GatewayError::Timeout {
            instance: "127.0.0.1:1".parse().unwrap(),
            timeout: Duration::from_millis(50),
        };
        let (status, body) = timeout.status_and_body();
        assert_eq!((status.as_u16(), body.len()), (503, 33));
    }
}
