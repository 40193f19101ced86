//! One request's way through the gateway: route, pick an instance from the registry
//! snapshot, rewrite the headers, forward over the pooled client, stream the answer back.
//!
//! The hot path takes no lock (the snapshot is an `arc-swap` load), makes no system call
//! beyond the proxied I/O (the id and the pick use thread-local or atomic state; the
//! clock is read through the vDSO), and allocates little: the upstream authority, the
//! `Forwarded` value and, for routes with parameters, the parameter list. Bodies stream
//! both ways frame by frame; neither is buffered whole.
//!
//! Known limits: the integration timeout covers the time to the response head only (a
//! body that stalls later is not cut off); discovery results are not cached, so a
//! deregistered instance stops receiving requests at once, unlike AWS (§2.2, §6.2);
//! upgrades (WebSocket) are not proxied, as HTTP APIs do not proxy them either; client
//! `X-Forwarded-*` headers pass through untouched (§6.9 leaves synthesizing them to a
//! flag that does not exist yet).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use albless_registry::Registry;
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme, Uri};
use http::{Request, Response, Version};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use rand::Rng;
use tokio::time::Instant;
use tracing::{Instrument, Span, field};

use crate::error::GatewayError;
use crate::request_id::RequestId;
use crate::routes::RouteTable;

/// The body of a response to a client: an instance's, streamed, or a gateway error's.
pub(crate) type ResponseBody = Either<Incoming, Full<Bytes>>;

/// The pooled HTTP/1.1 client to instances.
pub(crate) type UpstreamClient = Client<HttpConnector, Incoming>;

/// Everything a request needs, built once and shared by every connection.
pub(crate) struct Proxy {
    pub(crate) routes: RouteTable,
    pub(crate) registry: Registry,
    pub(crate) namespace: String,
    pub(crate) client: UpstreamClient,
    pub(crate) timeout: Duration,
}

/// The two ends of a client's connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnInfo {
    /// The client (`$context.identity.sourceIp`, `Forwarded: for=`).
    pub(crate) client: SocketAddr,
    /// The gateway's address on this connection (`Forwarded: by=`).
    pub(crate) local: IpAddr,
}

/// `apigw-requestid`, on every response (aws-behavior.md §1.3, §6.10).
static APIGW_REQUESTID: HeaderName = HeaderName::from_static("apigw-requestid");

/// Headers that concern one connection only (RFC 9110 §7.6.1, plus the non-standard
/// `Keep-Alive` and `Proxy-Connection`), never forwarded in either direction. §1.3 lists
/// them among HTTP API's reserved headers; not forwarding them is our reading [INF].
static HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    header::PROXY_AUTHENTICATE,
];

impl Proxy {
    /// Answers one request: the instance's response, or the gateway's own error
    /// response; either way with an `apigw-requestid`.
    pub(crate) async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        conn: ConnInfo,
    ) -> Response<ResponseBody> {
        let id = RequestId::new();
        let start = Instant::now();
        let span = tracing::debug_span!(
            "request",
            request_id = %id,
            method = %req.method(),
            path = req.uri().path(),
            route_key = field::Empty,
            status = field::Empty,
            instance = field::Empty,
            latency_ms = field::Empty,
        );

        let result = self
            .forward(req, conn, &span)
            .instrument(span.clone())
            .await;
        let mut response = match result {
            Ok(response) => response.map(Either::Left),
            Err(err) => {
                tracing::debug!(parent: &span, error = %Chain(&err), "gateway error");
                err.to_response().map(Either::Right)
            }
        };

        // The id is 16 base64 characters, always a valid header value.
        if let Ok(value) = HeaderValue::from_bytes(id.as_bytes()) {
            response
                .headers_mut()
                .insert(APIGW_REQUESTID.clone(), value);
        }
        span.record("status", response.status().as_u16());
        span.record(
            "latency_ms",
            u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        );
        tracing::debug!(parent: &span, "request answered");
        response
    }

    /// Routes `req`, picks an instance and forwards to it.
    async fn forward(
        &self,
        req: Request<Incoming>,
        conn: ConnInfo,
        span: &Span,
    ) -> Result<Response<Incoming>, GatewayError> {
        let target = self
            .routes
            .find(req.method(), req.uri().path())
            .ok_or(GatewayError::NoRoute)?
            .target;
        span.record("route_key", target.key.as_str());

        // A lock-free load; the snapshot is dropped before any await.
        let instance = {
            let snapshot = self.registry.snapshot();
            let service = snapshot
                .service(&self.namespace, &target.service)
                .ok_or_else(|| GatewayError::ServiceNotFound {
                    namespace: self.namespace.clone(),
                    service: target.service.clone(),
                })?;
            pick(&service.routable).ok_or_else(|| GatewayError::NoInstance {
                service: target.service.clone(),
            })?
        };
        span.record("instance", field::display(instance));

        let req = upstream_request(req, instance, conn)
            .map_err(|source| GatewayError::Internal { instance, source })?;

        // §1.5, §6.8: the integration timeout ends in 503, like a refused connection
        // (§6.3); there is no retry on another instance (§2.2).
        match tokio::time::timeout(self.timeout, self.client.request(req)).await {
            Err(_) => Err(GatewayError::Timeout {
                instance,
                timeout: self.timeout,
            }),
            Ok(Err(source)) => Err(GatewayError::Upstream { instance, source }),
            Ok(Ok(response)) => Ok(downstream_response(response)),
        }
    }
}

/// One of `routable`, uniformly at random: API Gateway's choice among the instances
/// DiscoverInstances returns is undocumented, and §2.1/§6.1 suggest uniform random.
fn pick(routable: &[SocketAddr]) -> Option<SocketAddr> {
    match routable {
        [] => None,
        [only] => Some(*only),
        all => Some(all[rand::rng().random_range(0..all.len())]),
    }
}

/// The request as the instance receives it (aws-behavior.md §1.3, §6.9): same method,
/// full path and query (the `$default` stage adds no prefix), HTTP/1.1, `Host` set to
/// the instance, `Forwarded` and `Via` added, hop-by-hop headers removed.
fn upstream_request(
    req: Request<Incoming>,
    instance: SocketAddr,
    conn: ConnInfo,
) -> Result<Request<Incoming>, http::Error> {
    let (mut parts, body) = req.into_parts();

    // The client's host: HTTP/2's `:authority` (or an absolute-form target) wins over
    // `Host`, as RFC 9112 §3.2.2 says for the latter.
    let original_host = match parts.uri.authority() {
        Some(authority) => Some(authority.as_str()),
        None => parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok()),
    };
    let forwarded = forwarded_value(conn, original_host);

    remove_hop_by_hop(&mut parts.headers);

    // One buffer serves as URI authority and `Host` value: `<ip>:<port>` [INF, §1.3].
    let authority = Bytes::from(instance.to_string());
    let path_and_query = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    parts.uri = Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(Authority::from_maybe_shared(authority.clone())?)
        .path_and_query(path_and_query)
        .build()?;
    // §1.3: the integration is always called with HTTP/1.1, whatever the client spoke.
    parts.version = Version::HTTP_11;
    parts.extensions.clear();

    let headers = &mut parts.headers;
    headers.insert(header::HOST, HeaderValue::from_maybe_shared(authority)?);
    // Client-sent `Forwarded` and `Via` are reserved names in HTTP API (§1.3) and are
    // replaced rather than appended to [INF].
    headers.insert(
        header::FORWARDED,
        HeaderValue::from_maybe_shared(forwarded.freeze())?,
    );
    headers.insert(
        header::VIA,
        HeaderValue::from_static("HTTP/1.1 AmazonAPIGateway"),
    );
    Ok(Request::from_parts(parts, body))
}

/// The instance's response as the client receives it: unchanged but for hop-by-hop
/// headers (§1.6: backend statuses and bodies are proxied as they are).
fn downstream_response(mut response: Response<Incoming>) -> Response<Incoming> {
    remove_hop_by_hop(response.headers_mut());
    response
}

/// `by=<gateway ip>;for=<client ip>;host=<client's host>;proto=http`, the shape HTTP API
/// sends (§1.3, with `proto=https` there; locally the listener is plain HTTP). Values
/// that are not RFC 7239 tokens (IPv6 addresses, a host with a port) are quoted.
fn forwarded_value(conn: ConnInfo, host: Option<&str>) -> BytesMut {
    use std::fmt::Write;

    let mut out = BytesMut::with_capacity(96);
    let mut w = BytesWriter(&mut out);
    let _ = write!(
        w,
        "by={};for={}",
        NodeIp(conn.local),
        NodeIp(conn.client.ip())
    );
    if let Some(host) = host {
        if host.bytes().all(is_tchar) {
            let _ = write!(w, ";host={host}");
        } else {
            let _ = w.write_str(";host=\"");
            for c in host.chars() {
                if c == '"' || c == '\\' {
                    let _ = w.write_char('\\');
                }
                let _ = w.write_char(c);
            }
            let _ = w.write_char('"');
        }
    }
    let _ = w.write_str(";proto=http");
    out
}

/// Removes hop-by-hop headers, and every header the `Connection` header names.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    if let header::Entry::Occupied(entry) = headers.entry(header::CONNECTION) {
        // Only a request or response that has a `Connection` header pays for this list.
        let named: Vec<HeaderValue> = entry.remove_entry_mult().1.collect();
        for value in &named {
            for name in value.to_str().unwrap_or_default().split(',') {
                let name = name.trim();
                if !name.is_empty() {
                    headers.remove(name);
                }
            }
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An address as an RFC 7239 node: IPv4 bare, IPv6 bracketed and quoted.
struct NodeIp(IpAddr);

impl fmt::Display for NodeIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(ip) => write!(f, "{ip}"),
            IpAddr::V6(ip) => write!(f, "\"[{ip}]\""),
        }
    }
}

/// Lets `write!` fill a `BytesMut` that then becomes a header value without a copy.
struct BytesWriter<'a>(&'a mut BytesMut);

impl fmt::Write for BytesWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// An error and its sources, printed once: `a: b: c`.
struct Chain<'a>(&'a dyn std::error::Error);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(client: &str, local: &str) -> ConnInfo {
        ConnInfo {
            client: client.parse().unwrap(),
            local: local.parse().unwrap(),
        }
    }

    #[test]
    fn forwarded_quotes_what_is_not_a_token() {
        let cases = [
            (
                conn("127.0.0.9:5000", "127.0.0.1"),
                Some("api.example.com"),
                "by=127.0.0.1;for=127.0.0.9;host=api.example.com;proto=http",
            ),
            (
                conn("127.0.0.9:5000", "127.0.0.1"),
                Some("127.0.0.1:8000"),
                "by=127.0.0.1;for=127.0.0.9;host=\"127.0.0.1:8000\";proto=http",
            ),
            (
                conn("[::1]:5000", "::1"),
                None,
                "by=\"[::1]\";for=\"[::1]\";proto=http",
            ),
        ];
        for (conn, host, want) in cases {
            assert_eq!(forwarded_value(conn, host), want.as_bytes());
        }
    }

    #[test]
    fn hop_by_hop_headers_and_the_ones_connection_names_go() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, X-Hop"),
            ("connection", "x-other-hop"),
            ("x-hop", "1"),
            ("x-other-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-t"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("proxy-authorization", "Basic eA=="),
            ("proxy-authenticate", "Basic"),
            ("x-end-to-end", "kept"),
            ("authorization", "kept"),
        ] {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        remove_hop_by_hop(&mut headers);
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["authorization", "x-end-to-end"]);
    }

    #[test]
    fn pick_spreads_over_every_instance() {
        let all: Vec<SocketAddr> = (1..=3)
            .map(|i| SocketAddr::from(([127, 0, 0, i], 80)))
            .collect();
        assert_eq!(pick(&[]), None);
        assert_eq!(pick(&all[..1]), Some(all[0]));
        let mut counts = [0u32; 3];
        for _ in 0..3000 {
            let got = pick(&all).unwrap();
            counts[all.iter().position(|a| *a == got).unwrap()] += 1;
        }
        // Each expects 1000; below 800 is over 7 standard deviations away.
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }
}
