//! The local API Gateway HTTP API data plane: a listener that matches each request to a
//! route, picks an instance of the route's Cloud Map service from the registry's current
//! snapshot, and proxies the request to it, answering the way HTTP API does
//! (aws-behavior.md §1, §2, §6).
//!
//! Clients may speak HTTP/1.1 or HTTP/2 with prior knowledge (h2c); instances are always
//! called with HTTP/1.1 over pooled keep-alive connections (§1.3). Every response,
//! the gateway's own errors included, carries an `apigw-requestid`.
//!
//! Each request runs in a DEBUG span `request` with the fields `request_id`, `method`,
//! `path`, `route_key`, `status`, `instance` and `latency_ms` (time to the response head).
//!
//! Known limits: only the `$default` stage exists (no stage prefix in paths, §1.1); CORS,
//! throttling, parameter mapping, payload limits, access logs and the discovery cache of
//! §2.2 are not implemented yet; the listener is plain HTTP, not TLS.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use albless_registry::Registry;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};

mod error;
mod proxy;
mod request_id;
mod routes;

use proxy::{ConnInfo, Proxy};
use routes::RouteTable;

/// What the gateway serves: the routes of the HTTP API and where their services live.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayConfig {
    /// Cloud Map namespace the routes' services live in.
    pub namespace: String,
    /// Routes: key -> service name.
    pub routes: Vec<albless_spec::Route>,
    /// Integration timeout (HTTP API default 30 s, range 50 ms..=30 s).
    pub integration_timeout: Duration,
}

impl GatewayConfig {
    /// HTTP API's default integration timeout, which is also its maximum (§1.5).
    pub const DEFAULT_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);
    /// The shortest integration timeout HTTP API accepts (`TimeoutInMillis` 50, §1.5).
    pub const MIN_INTEGRATION_TIMEOUT: Duration = Duration::from_millis(50);

    /// The gateway configuration of `stack`: its routes, its discovery namespace and the
    /// default integration timeout (albless.toml has no setting for it yet).
    pub fn from_stack(stack: &albless_spec::Stack) -> GatewayConfig {
        GatewayConfig {
            namespace: stack.discovery.namespace.clone(),
            routes: stack.api.routes.clone(),
            integration_timeout: Self::DEFAULT_INTEGRATION_TIMEOUT,
        }
    }
}

/// The gateway: a compiled route table, a registry handle and a pooled HTTP client,
/// ready to serve a listener. Building one does no I/O.
pub struct Gateway {
    proxy: Arc<Proxy>,
}

/// How long an idle pooled connection to an instance is kept. Below Node.js's default
/// `server.keepAliveTimeout` (5 s), the shortest common server default, so the gateway
/// rarely sends a request on a connection the instance is closing (which would fail as
/// a 503, since nothing is retried on another connection, §2.2).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

impl Gateway {
    /// Compiles `config.routes` and sets up the client to instances.
    ///
    /// The namespace name is compared as Cloud Map stores it (lower case, no trailing
    /// dot). An integration timeout outside 50 ms..=30 s is clamped into that range, with
    /// a warning, as HTTP API would reject it (§1.5).
    pub fn new(config: GatewayConfig, registry: Registry) -> Gateway {
        let timeout = config.integration_timeout.clamp(
            GatewayConfig::MIN_INTEGRATION_TIMEOUT,
            GatewayConfig::DEFAULT_INTEGRATION_TIMEOUT,
        );
        if timeout != config.integration_timeout {
            tracing::warn!(
                requested_ms = config.integration_timeout.as_millis(),
                used_ms = timeout.as_millis(),
                "integration timeout out of range, clamped"
            );
        }

        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            // The gateway sets `Host` itself (§1.3).
            .set_host(false)
            .build(connector);

        let proxy = Proxy {
            routes: RouteTable::new(&config.routes),
            registry,
            namespace: config.namespace.trim_end_matches('.').to_ascii_lowercase(),
            client,
            timeout,
        };
        Gateway {
            proxy: Arc::new(proxy),
        }
    }

    /// Serves connections from `listener` until `shutdown` resolves, then finishes
    /// in-flight requests (graceful).
    ///
    /// After `shutdown` the listener is closed, idle connections are closed, and the call
    /// returns once every in-flight request has been answered; bound that wait with a
    /// timeout if it matters, since a streaming response may last long. Accept errors are
    /// logged and do not end serving; the only error returned is failing to read the
    /// listener's own address.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let local = listener.local_addr()?;
        tracing::info!(listen = %local, "gateway listening");

        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new());
        builder.http2().timer(TokioTimer::new());
        let graceful = GracefulShutdown::new();

        tokio::pin!(shutdown);
        loop {
            let (stream, client) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        accept_failed(err).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let Some(conn) = conn_info(&stream, local, client) else {
                continue;
            };
            let _ = stream.set_nodelay(true);

            let proxy = self.proxy.clone();
            let service = service_fn(move |req| {
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(proxy.handle(req, conn).await) }
            });
            let connection = builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::debug!(client = %client, error = %err, "connection ended with error");
                }
            });
        }

        drop(listener);
        tracing::info!(listen = %local, connections = graceful.count(), "gateway draining");
        graceful.shutdown().await;
        tracing::info!(listen = %local, "gateway stopped");
        Ok(())
    }
}

/// The addresses of one accepted connection. The gateway's own address is the
/// listener's, unless that is a wildcard, which costs one `getsockname` per connection.
fn conn_info(stream: &TcpStream, listen: SocketAddr, client: SocketAddr) -> Option<ConnInfo> {
    let local = if listen.ip().is_unspecified() {
        match stream.local_addr() {
            Ok(addr) => addr.ip(),
            Err(err) => {
                tracing::debug!(client = %client, error = %err, "connection lost before serving");
                return None;
            }
        }
    } else {
        listen.ip()
    };
    Some(ConnInfo { client, local })
}

/// Logs a failed accept. A connection aborted before it was accepted concerns that
/// client only; anything else (out of file descriptors, say) would fail again at once, so
/// the loop pauses briefly instead of spinning.
async fn accept_failed(err: io::Error) {
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        tracing::debug!(error = %err, "accept failed");
    } else {
        tracing::warn!(error = %err, "accept failed, pausing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
