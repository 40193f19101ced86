//! One request's way through the gateway: size limits, stage, CORS preflight, route,
//! throttle, parameter mapping, pick an instance from the discovery view, rewrite the
//! headers, forward over a pooled connection (retrying elsewhere when asked to), map the
//! response, CORS headers, request id, access log.
//!
//! The hot path takes no lock (the snapshot is an `arc-swap` load, a token bucket one
//! compare-and-swap), makes no system call beyond the proxied I/O (the id and the pick
//! use thread-local or atomic state; the clock is read through the vDSO), and allocates
//! little: the upstream authority and the `Forwarded` value, plus the parameter list for
//! routes with parameters; mappings and the access log allocate only when configured.
//! Bodies stream both ways frame by frame; neither is buffered whole.
//!
//! Known limits: the integration timeout covers the time to the response head only (a
//! body that stalls later is not cut off); a request body without `Content-Length` that
//! grows past 10 MB is cut off when it does, so an instance that already answered sends
//! its answer, while AWS would have buffered and refused the whole request; upgrades
//! (WebSocket) are not proxied, as HTTP APIs do not proxy them either; client
//! `X-Forwarded-*` headers pass through untouched (§6.9 leaves synthesizing them to a
//! flag that does not exist yet); a retry (opt-in) is made only for a request without a
//! body.

use std::convert::Infallible;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use albless_spec::Stage;
use bytes::BytesMut;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::uri::{PathAndQuery, Uri};
use http::{Method, Request, Response, Version};
use hyper::body::{Body as _, Incoming};
use tokio::time::Instant;
use tracing::{Instrument, Span, field};

use crate::access_log::{AccessLogger, PendingLine};
use crate::body::{MAX_PAYLOAD, PayloadTooLarge, ResponseBody, UpstreamBody};
use crate::context::Record;
use crate::cors::CorsPolicy;
use crate::discovery::{Discovery, Outliers, pick};
use crate::error::GatewayError;
use crate::mapping::RequestView;
use crate::pool::Pool;
use crate::request_id::RequestId;
use crate::routes::RouteTable;

/// HTTP API's limit on the request line and header values together (§1.5, R-QUOTAS).
pub(crate) const MAX_HEAD: usize = 10_240;

/// Everything a request needs, built once and shared by every connection.
pub(crate) struct Proxy {
    pub(crate) routes: RouteTable,
    pub(crate) discovery: Discovery,
    pub(crate) namespace: String,
    /// Keep-alive connections to instances.
    pub(crate) pool: Arc<Pool>,
    pub(crate) stage: Stage,
    /// `$context.stage`.
    pub(crate) stage_name: Arc<str>,
    pub(crate) cors: Option<CorsPolicy>,
    pub(crate) access_log: Option<Arc<AccessLogger>>,
    /// Retry idempotent requests on another instance when the connection fails.
    pub(crate) retry: bool,
    pub(crate) outliers: Option<Outliers>,
    /// Wake on request (`wake.rs`), when the scheduler offers it.
    pub(crate) wake: Option<Arc<dyn crate::Wake>>,
    /// Live traffic counters (`metrics.rs`), bumped once per answered request.
    pub(crate) metrics: Arc<crate::Metrics>,
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

/// `Via`, as HTTP API sends it (§1.3); a static, so cloning it copies no bytes.
static VIA: HeaderValue = HeaderValue::from_static("HTTP/1.1 AmazonAPIGateway");

/// What answering a request produced besides the response.
#[derive(Default)]
struct Outcome {
    /// The gateway answered a CORS preflight itself.
    preflight: bool,
    /// The matched route's metrics index.
    route: Option<usize>,
    /// The instance the request was sent to (the last one, after retries).
    instance: Option<SocketAddr>,
}

impl Proxy {
    /// Answers one request: the instance's response, or the gateway's own answer;
    /// either way with an `apigw-requestid`. Never fails (the `Result` is hyper's service
    /// shape).
    pub(crate) async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        conn: ConnInfo,
    ) -> Result<Response<ResponseBody>, Infallible> {
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
        let mut record = self
            .access_log
            .as_ref()
            .map(|_| self.record(&req, id, conn));
        let origin = match &self.cors {
            Some(_) => req.headers().get(header::ORIGIN).cloned(),
            None => None,
        };

        let mut outcome = Outcome::default();
        // Pinned where it is made, so that the span wrapper holds a pointer rather than
        // taking the (large) future by value: one move of it less per request.
        let result =
            std::pin::pin!(self.answer(req, conn, id, &span, record.as_mut(), &mut outcome))
                .instrument(span.clone())
                .await;
        let mut response = match result {
            Ok(response) => response,
            Err(err) => {
                tracing::debug!(parent: &span, error = %Chain(&err), "gateway error");
                if let Some(record) = record.as_mut() {
                    record.error = Some(err.log_fields());
                }
                err.to_response()
            }
        };

        if let Some(cors) = &self.cors
            && !outcome.preflight
        {
            cors.apply(response.headers_mut(), origin.as_ref());
        }
        // The id is 16 base64 characters, always a valid header value.
        if let Ok(value) = HeaderValue::from_bytes(id.as_bytes()) {
            response
                .headers_mut()
                .insert(APIGW_REQUESTID.clone(), value);
        }
        span.record("status", response.status().as_u16());
        let latency = start.elapsed();
        span.record(
            "latency_ms",
            u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        );
        self.metrics.record(
            outcome.route,
            outcome.instance,
            response.status().as_u16(),
            latency,
        );
        tracing::debug!(parent: &span, "request answered");

        if let (Some(mut record), Some(logger)) = (record, &self.access_log) {
            record.status = Some(response.status().as_u16());
            response.body_mut().log_on_end(Box::new(PendingLine {
                record,
                logger: logger.clone(),
                start,
            }));
        }
        Ok(response)
    }

    /// What the access log and mappings know of `req` before it is answered.
    fn record(&self, req: &Request<Incoming>, id: RequestId, conn: ConnInfo) -> Record {
        let domain = match req.uri().authority() {
            Some(authority) => HeaderValue::from_str(authority.as_str()).ok(),
            None => req.headers().get(header::HOST).cloned(),
        };
        Record {
            request_id: id,
            method: req.method().clone(),
            path: req.uri().path().to_string(),
            source_ip: conn.client.ip(),
            user_agent: req.headers().get(header::USER_AGENT).cloned(),
            domain,
            stage: self.stage_name.clone(),
            request_time: std::time::SystemTime::now(),
            route_key: None,
            status: None,
            response_length: None,
            response_latency: None,
            integration_latency: None,
            integration_status: None,
            integration_error: None,
            error: None,
        }
    }

    /// Everything between the request arriving and the response head leaving.
    async fn answer(
        &self,
        req: Request<Incoming>,
        conn: ConnInfo,
        id: RequestId,
        span: &Span,
        mut record: Option<&mut Record>,
        outcome: &mut Outcome,
    ) -> Result<Response<ResponseBody>, GatewayError> {
        // §1.5, §6.14: the request line and header values, at most 10,240 bytes.
        let size = head_size(&req);
        if size > MAX_HEAD {
            return Err(GatewayError::HeadersTooLarge { size });
        }

        // §1.1: a named stage is the first path segment; anything else is not found.
        // The URI is cloned (a reference count) so the route can borrow its path while
        // the request moves on.
        let uri = req.uri().clone();
        let route_path = self.route_path(uri.path()).ok_or(GatewayError::NoRoute)?;

        // §1.7: preflights are answered before routing, with or without an OPTIONS route.
        if let Some(cors) = &self.cors
            && CorsPolicy::is_preflight(&req)
        {
            outcome.preflight = true;
            return Ok(cors.preflight(req.headers().get(header::ORIGIN)));
        }

        let matched = self
            .routes
            .find(req.method(), route_path)
            .ok_or(GatewayError::NoRoute)?;
        let target = matched.target;
        span.record("route_key", &*target.key);
        outcome.route = Some(target.metrics);
        if let Some(record) = record.as_mut() {
            record.route_key = Some(target.key.clone());
        }

        // §1.5: the route's bucket; 429 when empty.
        if let Some(bucket) = &target.bucket
            && !bucket.try_acquire()
        {
            return Err(GatewayError::Throttled {
                route_key: target.key.to_string(),
            });
        }

        // §1.5: a declared body over 10 MB is refused before anything is sent.
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_PAYLOAD) {
            return Err(GatewayError::PayloadTooLarge);
        }

        let (mut parts, body) = req.into_parts();

        // §1.4: request parameter mapping, evaluated against the request as it came.
        let mut mapped_path = None;
        if target.mappings.has_request() {
            let temp;
            let rec: &Record = match record.as_deref() {
                Some(r) => r,
                None => {
                    temp = self.record_from_parts(&parts, id, conn, &target.key);
                    &temp
                }
            };
            let view = RequestView {
                headers: &parts.headers,
                query: uri.query(),
                path: route_path,
                params: &matched.params,
                record: rec,
            };
            let (path, ops) = target.mappings.apply_request(&view, uri.path());
            mapped_path = path;
            for op in ops {
                op.apply(&mut parts.headers);
            }
        }
        let path_and_query = match mapped_path {
            Some(p) => PathAndQuery::try_from(p).map_err(|e| GatewayError::Internal {
                instance: None,
                source: e.into(),
            })?,
            // §1.3, §6.13: the full path, stage prefix included, and the query as sent.
            None => uri
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        };

        prepare_headers(&mut parts, conn);
        let body = UpstreamBody::new(body);
        // Only a bodiless idempotent request can be sent again (opt-in, beyond AWS).
        let retry_template = (self.retry && is_idempotent(&parts.method) && body.is_end_stream())
            .then(|| (parts.method.clone(), parts.headers.clone()));

        if let Some(hook) = &self.wake {
            hook.request(&target.service);
        }
        let started = Instant::now();
        let deadline = started + target.timeout;
        let mut tried: Vec<SocketAddr> = Vec::new();
        let mut req = Some(Request::from_parts(parts, body));
        let response = loop {
            let instance = match self.choose(&target.service, &tried) {
                // Wake on request (`wake.rs`): hold the request while a task starts.
                Err(GatewayError::NoInstance { service }) if tried.is_empty() => {
                    let woken = match &self.wake {
                        Some(hook) => hook.wake(&service).await,
                        None => crate::Woken::NotApplicable,
                    };
                    match woken {
                        crate::Woken::Ready => self.choose(&service, &tried)?,
                        crate::Woken::TimedOut => return Err(GatewayError::Asleep { service }),
                        crate::Woken::NotApplicable => {
                            return Err(GatewayError::NoInstance { service });
                        }
                    }
                }
                other => other?,
            };
            span.record("instance", field::display(instance));
            outcome.instance = Some(instance);
            let upstream = match req.take() {
                Some(mut upstream) => {
                    *upstream.uri_mut() = Uri::from(path_and_query.clone());
                    upstream
                }
                None => {
                    // A retry: only reachable with a template.
                    let Some((method, headers)) = &retry_template else {
                        return Err(GatewayError::NoInstance {
                            service: target.service.clone(),
                        });
                    };
                    let mut upstream = Request::new(UpstreamBody::empty());
                    *upstream.method_mut() = method.clone();
                    *upstream.headers_mut() = headers.clone();
                    *upstream.uri_mut() = Uri::from(path_and_query.clone());
                    upstream
                }
            };

            // §1.5, §6.8: the integration timeout ends in 503, like a refused
            // connection (§6.3).
            match tokio::time::timeout_at(deadline, self.pool.send(instance, upstream)).await {
                Err(_) => {
                    self.failed(instance);
                    return Err(GatewayError::Timeout {
                        instance,
                        timeout: target.timeout,
                    });
                }
                Ok(Ok(answered)) => {
                    if let Some(outliers) = &self.outliers {
                        outliers.success(instance);
                    }
                    break answered;
                }
                Ok(Err(source)) => {
                    if is_payload_too_large(&source) {
                        return Err(GatewayError::PayloadTooLarge);
                    }
                    // Passive health counts every failed attempt (refused, reset, closed).
                    self.failed(instance);
                    let connect = source.is_connect();
                    if let Some(record) = record.as_mut() {
                        record.integration_error = Some(Chain(&source).to_string());
                    }
                    // §2.2, §6.3: AWS does not retry; only the opt-in does, on another
                    // instance, at most twice.
                    if connect && retry_template.is_some() && tried.len() < 2 {
                        tried.push(instance);
                        tracing::debug!(instance = %instance, "connect failed, retrying elsewhere");
                        continue;
                    }
                    return Err(GatewayError::Upstream { instance, source });
                }
            }
        };

        let (response, lease) = response;
        let (mut head, body) = response.into_parts();
        remove_hop_by_hop(&mut head.headers);
        if let Some(record) = record.as_mut() {
            record.integration_latency = Some(started.elapsed());
            record.integration_status = Some(head.status.as_u16());
        }
        // §1.4: response mappings by the instance's status.
        if target.mappings.has_response() {
            let temp;
            let rec: &Record = match record.as_deref() {
                Some(r) => r,
                None => {
                    temp = self.record_from_parts_minimal(id, conn, &target.key);
                    &temp
                }
            };
            head.status = target
                .mappings
                .apply_response(head.status, &mut head.headers, rec);
        }
        Ok(Response::from_parts(
            head,
            ResponseBody::upstream(body, lease),
        ))
    }

    /// The path with the stage prefix removed (`$request.path`), or `None` when the
    /// request is not for this API's stage (§1.1).
    fn route_path<'p>(&self, path: &'p str) -> Option<&'p str> {
        let Some(stage) = self.stage.path_prefix() else {
            return Some(path);
        };
        let rest = path.strip_prefix('/')?.strip_prefix(stage)?;
        match rest {
            "" => Some("/"),
            rest if rest.starts_with('/') => Some(rest),
            _ => None,
        }
    }

    /// An instance of `service` not yet `tried` and not ejected; ejected ones are used
    /// when nothing else is left (see `discovery`).
    fn choose(&self, service: &str, tried: &[SocketAddr]) -> Result<SocketAddr, GatewayError> {
        // A lock-free load; the snapshot is dropped before any await.
        let snapshot = self.discovery.snapshot();
        let view = snapshot.service(&self.namespace, service).ok_or_else(|| {
            GatewayError::ServiceNotFound {
                namespace: self.namespace.clone(),
                service: service.to_string(),
            }
        })?;
        let routable = &view.routable;
        let fresh = |a: SocketAddr| !tried.contains(&a);
        let picked = match &self.outliers {
            None => pick(routable, fresh),
            Some(outliers) => pick(routable, |a| fresh(a) && !outliers.is_ejected(a))
                .or_else(|| pick(routable, fresh)),
        };
        picked.ok_or_else(|| GatewayError::NoInstance {
            service: service.to_string(),
        })
    }

    fn failed(&self, instance: SocketAddr) {
        if let Some(outliers) = &self.outliers {
            outliers.failure(instance);
        }
    }

    /// A record for mapping values when the access log is off.
    fn record_from_parts(
        &self,
        parts: &Parts,
        id: RequestId,
        conn: ConnInfo,
        route_key: &Arc<str>,
    ) -> Record {
        let mut record = self.record_from_parts_minimal(id, conn, route_key);
        record.method = parts.method.clone();
        record.path = parts.uri.path().to_string();
        record.user_agent = parts.headers.get(header::USER_AGENT).cloned();
        record.domain = match parts.uri.authority() {
            Some(authority) => HeaderValue::from_str(authority.as_str()).ok(),
            None => parts.headers.get(header::HOST).cloned(),
        };
        record
    }

    fn record_from_parts_minimal(
        &self,
        id: RequestId,
        conn: ConnInfo,
        route_key: &Arc<str>,
    ) -> Record {
        Record {
            request_id: id,
            method: Method::GET,
            path: String::new(),
            source_ip: conn.client.ip(),
            user_agent: None,
            domain: None,
            stage: self.stage_name.clone(),
            request_time: std::time::SystemTime::now(),
            route_key: Some(route_key.clone()),
            status: None,
            response_length: None,
            response_latency: None,
            integration_latency: None,
            integration_status: None,
            integration_error: None,
            error: None,
        }
    }
}

/// RFC 9110 §9.2.2 idempotent methods.
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// Whether the client's request failed because its body passed the payload limit.
fn is_payload_too_large(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<PayloadTooLarge>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// The request line (as HTTP/1.1 would send it) plus every header value, in bytes: what
/// R-QUOTAS limits to 10,240 (header names are not counted, as the quota says values).
fn head_size<B>(req: &Request<B>) -> usize {
    let target = req.uri().path_and_query().map_or(1, |pq| pq.as_str().len());
    let line = req.method().as_str().len() + 1 + target + " HTTP/1.1".len();
    line + req.headers().values().map(HeaderValue::len).sum::<usize>()
}

/// The headers as the instance receives them (aws-behavior.md §1.3, §6.9): HTTP/1.1,
/// `Forwarded` and `Via` added, hop-by-hop headers removed. The URI (origin form) is
/// set per attempt, `Host` by the pool.
fn prepare_headers(parts: &mut Parts, conn: ConnInfo) {
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
    // §1.3: the integration is always called with HTTP/1.1, whatever the client spoke.
    parts.version = Version::HTTP_11;
    parts.extensions.clear();

    // Client-sent `Forwarded` and `Via` are reserved names in HTTP API (§1.3) and are
    // replaced rather than appended to [INF]. `forwarded` holds ASCII text, digits and
    // a host that was visible ASCII already (a `Host` value that `to_str` accepted, or
    // a parsed URI authority), so the check cannot fail.
    let headers = &mut parts.headers;
    if let Ok(value) = HeaderValue::from_maybe_shared(forwarded.freeze()) {
        headers.insert(header::FORWARDED, value);
    }
    headers.insert(header::VIA, VIA.clone());
}

/// `by=<gateway ip>;for=<client ip>;host=<client's host>;proto=http`, the shape HTTP API
/// sends (§1.3, with `proto=https` there; locally the listener is plain HTTP). Values
/// that are not RFC 7239 tokens (IPv6 addresses, a host with a port) are quoted.
///
/// Built byte by byte rather than with `write!`: this runs once per request, and
/// `core::fmt` (its padding logic and dynamic dispatch) made a measurable share of the
/// gateway's own instructions under `bench/gateway.sh` (BENCHMARKS.md).
fn forwarded_value(conn: ConnInfo, host: Option<&str>) -> BytesMut {
    let mut out = BytesMut::with_capacity(64 + host.map_or(0, str::len));
    out.extend_from_slice(b"by=");
    push_node(&mut out, conn.local);
    out.extend_from_slice(b";for=");
    push_node(&mut out, conn.client.ip());
    if let Some(host) = host {
        if host.bytes().all(is_tchar) {
            out.extend_from_slice(b";host=");
            out.extend_from_slice(host.as_bytes());
        } else {
            out.extend_from_slice(b";host=\"");
            // A quoted-string (RFC 9110 §5.6.4): `"` and `\` escaped, runs between
            // them copied whole.
            let mut rest = host.as_bytes();
            while let Some(i) = rest.iter().position(|&b| b == b'"' || b == b'\\') {
                out.extend_from_slice(&rest[..i]);
                out.extend_from_slice(&[b'\\', rest[i]]);
                rest = &rest[i + 1..];
            }
            out.extend_from_slice(rest);
            out.extend_from_slice(b"\"");
        }
    }
    out.extend_from_slice(b";proto=http");
    out
}

/// An address as an RFC 7239 node: IPv4 bare, IPv6 bracketed and quoted.
fn push_node(out: &mut BytesMut, ip: IpAddr) {
    match ip {
        IpAddr::V4(ip) => {
            let mut digits = itoa::Buffer::new();
            for (i, octet) in ip.octets().into_iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b".");
                }
                out.extend_from_slice(digits.format(octet).as_bytes());
            }
        }
        IpAddr::V6(ip) => out.extend_from_slice(format!("\"[{ip}]\"").as_bytes()),
    }
}

/// Removes hop-by-hop headers, and every header the `Connection` header names.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over the names (a handful, compared without
    // hashing) spares the ten hashed lookups below.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
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

/// Whether `name` is `Connection` or one of [`HOP_BY_HOP`] (a match on the lowercase
/// name, which compiles to length checks and short compares).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "proxy-authorization"
            | "proxy-authenticate"
    )
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
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
            (
                conn("10.0.0.255:1", "192.168.100.1"),
                Some("a\"b\\c:80"),
                "by=192.168.100.1;for=10.0.0.255;host=\"a\\\"b\\\\c:80\";proto=http",
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
    fn the_quick_check_knows_every_hop_by_hop_name() {
        for name in HOP_BY_HOP.iter().chain([&header::CONNECTION]) {
            assert!(is_hop_by_hop(name), "{name}");
        }
        for name in [
            header::HOST,
            header::FORWARDED,
            HeaderName::from_static("x-te"),
        ] {
            assert!(!is_hop_by_hop(&name), "{name}");
        }
        // A message with only end-to-end headers is left as it is.
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("a"));
        headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        let before = headers.clone();
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers, before);
    }
}
