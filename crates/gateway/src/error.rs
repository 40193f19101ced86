//! Why the gateway answered a request itself, and the one place that turns that into
//! the status and body a client of HTTP API sees (aws-behavior.md §1.6).
//!
//! HTTP API's gateway errors have fixed JSON bodies (`{"message":"Not Found"}`) and no
//! custom gateway responses (§1.5), so the bodies are static and cost no allocation.
//! `content-type: application/json` is assumed [INF, §1.6].
//!
//! Known limits: 413 (payload over 10 MB) and 429 (throttling) are not produced yet.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;

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
    /// The chosen instance could not be reached, or failed before sending a response
    /// head (refused, reset, closed).
    #[error("instance {instance} failed before responding")]
    Upstream {
        /// The chosen instance.
        instance: SocketAddr,
        /// What the HTTP client reported.
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    /// The chosen instance sent no response head within the integration timeout.
    #[error("instance {instance} did not respond within {timeout:?}")]
    Timeout {
        /// The chosen instance.
        instance: SocketAddr,
        /// The integration timeout that passed.
        timeout: Duration,
    },
    /// The request to the instance could not be built (a bug, not bad input).
    #[error("request to instance {instance} could not be built")]
    Internal {
        /// The chosen instance.
        instance: SocketAddr,
        /// What `http` reported.
        #[source]
        source: http::Error,
    },
}

impl GatewayError {
    /// The response HTTP API sends for this error (the caller adds `apigw-requestid`).
    pub(crate) fn to_response(&self) -> Response<Full<Bytes>> {
        let (status, body) = self.status_and_body();
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }

    /// The status and JSON body HTTP API answers with for this error.
    fn status_and_body(&self) -> (StatusCode, Bytes) {
        match self {
            // §1.1, §1.2: no stage or no route -> 404.
            GatewayError::NoRoute => (
                StatusCode::NOT_FOUND,
                Bytes::from_static(br#"{"message":"Not Found"}"#),
            ),
            // §1.6, §2.2, §6.3, §6.4, §6.8: no healthy instance, a connection failure and
            // an integration timeout all reach the client as 503, never 502 or 504. A
            // missing service is treated like an empty one: locally it is a start-up race
            // with the scheduler, not a broken integration.
            GatewayError::ServiceNotFound { .. }
            | GatewayError::NoInstance { .. }
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
