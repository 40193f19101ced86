//! The gateway's HTTP/1.1 client to instances: keep-alive connections, pooled per
//! instance address, each a `hyper::client::conn::http1` connection (§1.3: HTTP API
//! calls its integrations with HTTP/1.1).
//!
//! Why not `hyper-util`'s legacy client: profiled under `bench/gateway.sh`, its pool
//! checkout (a `Uri` key, a lock, a waiter), its connector service and the task it spawns
//! per request to return a connection once it is ready again made the gateway reach
//! about 0.7 of nginx's requests/s (bench/gateway-notes.md). This pool is a map from
//! address to a stack of idle senders behind a `std` mutex that is held only to push or
//! pop (never across an await). A connection's driver is spawned once, when it opens;
//! a request goes to it over hyper's own channel. A sender is put back when the
//! response body has been read to its end ([`Lease`], dropped by the response body), so
//! it is nearly always ready again when it is next taken; one that is not yet ready is
//! awaited (its last response is done, so it becomes ready or closed at once).
//!
//! The most recently used connection is taken first (a stack), so under light load few
//! connections stay warm and the rest age out. Idle connections are closed after
//! [`Pool::IDLE_TIMEOUT`] (by default), checked when a connection is taken and by
//! [`Pool::sweep`].
//! A request that a pooled connection could not even start to send (the instance had
//! just closed it) is sent again on another connection, as the legacy client did; one
//! that was started is not, since it may have reached the instance.
//!
//! `Host` is set here to the instance's `ip:port` [INF, §1.3], from a header value
//! built once per address.
//!
//! Known limits: there is no cap on connections per instance (nginx's `keepalive`
//! caps idle ones only, too); a connection that fails while idle is found out when it
//! is next taken or swept.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::body::UpstreamBody;

/// Why a request to an instance failed before its response head arrived.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// The TCP connection could not be opened (refused, unreachable).
    #[error("connecting to the instance failed")]
    Connect(#[source] io::Error),
    /// The connection failed while the request was sent or the response head read
    /// (reset, closed, a malformed response, a request body error).
    #[error("request to the instance failed")]
    Http(#[source] hyper::Error),
}

impl UpstreamError {
    /// Whether nothing was sent: the connection was never opened.
    pub(crate) fn is_connect(&self) -> bool {
        matches!(self, UpstreamError::Connect(_))
    }
}

/// Idle keep-alive connections to instances, by address.
pub(crate) struct Pool {
    by_addr: Mutex<HashMap<SocketAddr, Upstream, foldhash::fast::FixedState>>,
    builder: http1::Builder,
    idle_timeout: Duration,
}

/// One instance's idle connections and its `Host` value.
struct Upstream {
    host: HeaderValue,
    /// Most recently returned last.
    idle: Vec<Idle>,
}

struct Idle {
    sender: SendRequest<UpstreamBody>,
    since: Instant,
}

/// A connection lent to one request: given back to the pool when dropped after its
/// response was read to the end ([`Lease::release`]), closed otherwise.
pub(crate) struct Lease {
    sender: SendRequest<UpstreamBody>,
    addr: SocketAddr,
    pool: Arc<Pool>,
}

impl Lease {
    /// Puts the connection back for the next request to this instance.
    pub(crate) fn release(self) {
        self.pool.put(self.addr, self.sender);
    }
}

impl Pool {
    /// How long an idle connection to an instance is kept. Below Node.js's default
    /// `server.keepAliveTimeout` (5 s), the shortest common server default, so the gateway
    /// rarely sends a request on a connection the instance is closing.
    pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(4);

    /// An empty pool whose connections stay idle at most `idle_timeout`.
    pub(crate) fn new(idle_timeout: Duration) -> Pool {
        let mut builder = http1::Builder::new();
        // One `writev` for head and body chunks, as nginx does; header names go out in
        // the case they arrived in (lower case from hyper's parser).
        builder.writev(true).title_case_headers(false);
        Pool {
            by_addr: Mutex::new(HashMap::default()),
            builder,
            idle_timeout,
        }
    }

    /// Sends `req` (origin-form URI, headers ready but `Host`, which is replaced) to `addr`, on an idle
    /// connection if there is one, else on a new one.
    pub(crate) async fn send(
        self: &Arc<Self>,
        addr: SocketAddr,
        mut req: Request<UpstreamBody>,
    ) -> Result<(Response<Incoming>, Lease), UpstreamError> {
        loop {
            let (idle, host) = self.take(addr);
            req.headers_mut().insert(header::HOST, host);
            let Some(mut sender) = idle else { break };
            // Put back after its last response ended, so ready at once or closing.
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(response) => return Ok((response, self.lease(sender, addr))),
                Err(mut err) => match err.take_message() {
                    // Never started: the instance had closed this connection.
                    Some(unsent) => req = unsent,
                    None => return Err(UpstreamError::Http(err.into_error())),
                },
            }
        }
        // Boxed: a new connection is the rare path, and its futures (connect, handshake)
        // would otherwise enlarge every request's future, which is moved several times
        // per request (the memcpy showed in profiles of bench/gateway.sh).
        Box::pin(self.send_on_new(addr, req)).await
    }

    /// Sends `req` on a new connection to `addr`.
    async fn send_on_new(
        self: &Arc<Self>,
        addr: SocketAddr,
        req: Request<UpstreamBody>,
    ) -> Result<(Response<Incoming>, Lease), UpstreamError> {
        let mut sender = self.connect(addr).await?;
        let response = sender
            .send_request(req)
            .await
            .map_err(UpstreamError::Http)?;
        Ok((response, self.lease(sender, addr)))
    }

    /// Closes connections idle for longer than the idle timeout, and forgets
    /// instances with none left.
    pub(crate) fn sweep(&self) {
        let now = Instant::now();
        self.lock().retain(|_, upstream| {
            upstream
                .idle
                .retain(|idle| !self.expired(idle, now) && !idle.sender.is_closed());
            !upstream.idle.is_empty()
        });
    }

    /// The most recently returned live connection to `addr`, if any, and its `Host`.
    fn take(&self, addr: SocketAddr) -> (Option<SendRequest<UpstreamBody>>, HeaderValue) {
        let now = Instant::now();
        let mut by_addr = self.lock();
        let upstream = by_addr.entry(addr).or_insert_with(|| Upstream {
            host: host_value(addr),
            idle: Vec::new(),
        });
        while let Some(idle) = upstream.idle.pop() {
            if self.expired(&idle, now) {
                // Everything below it is older still.
                upstream.idle.clear();
                break;
            }
            if !idle.sender.is_closed() {
                return (Some(idle.sender), upstream.host.clone());
            }
        }
        (None, upstream.host.clone())
    }

    fn put(&self, addr: SocketAddr, sender: SendRequest<UpstreamBody>) {
        if sender.is_closed() {
            return;
        }
        let idle = Idle {
            sender,
            since: Instant::now(),
        };
        let mut by_addr = self.lock();
        let upstream = by_addr.entry(addr).or_insert_with(|| Upstream {
            host: host_value(addr),
            idle: Vec::new(),
        });
        upstream.idle.push(idle);
    }

    fn lease(self: &Arc<Self>, sender: SendRequest<UpstreamBody>, addr: SocketAddr) -> Lease {
        Lease {
            sender,
            addr,
            pool: self.clone(),
        }
    }

    /// Opens a connection to `addr` and spawns its driver, which runs until the
    /// connection closes (the instance closes it, or its sender is dropped).
    async fn connect(&self, addr: SocketAddr) -> Result<SendRequest<UpstreamBody>, UpstreamError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(UpstreamError::Connect)?;
        // Small requests go out at once instead of waiting for Nagle's timer.
        stream.set_nodelay(true).map_err(UpstreamError::Connect)?;
        let (sender, connection) = self
            .builder
            .handshake(TokioIo::new(stream))
            .await
            .map_err(UpstreamError::Http)?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(instance = %addr, error = %err, "instance connection failed");
            }
        });
        Ok(sender)
    }

    fn expired(&self, idle: &Idle, now: Instant) -> bool {
        now.saturating_duration_since(idle.since) >= self.idle_timeout
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<SocketAddr, Upstream, foldhash::fast::FixedState>> {
        // The map stays consistent whatever panicked while holding it.
        self.by_addr.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `ip:port` as a `Host` value [INF, §1.3].
fn host_value(addr: SocketAddr) -> HeaderValue {
    HeaderValue::try_from(addr.to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("localhost"))
}

#[cfg(test)]
mod tests;
