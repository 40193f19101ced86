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
//! Everything the HTTP API's stage and routes configure is applied (see the module docs
//! for each): named stages (`proxy`), parameter mapping (`mapping`), CORS (`cors`),
//! throttling (`throttle`), the 10 MB payload and 10,240-byte header limits (`body`,
//! `error`), the access log (`access_log`), the discovery lag of §2.2 and, beyond AWS
//! and opt-in, retries and passive health (`discovery`). Gateway errors are mapped to
//! responses in one place, `error`.
//!
//! Known limits: the listener is plain HTTP, not TLS; stage variables, authorizers and
//! custom domains do not exist.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use albless_registry::Registry;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};

mod access_log;
mod body;
mod config;
mod context;
mod cors;
mod discovery;
mod error;
mod mapping;
pub mod metrics;
mod pool;
mod proxy;
mod request_id;
mod routes;
mod throttle;
mod wake;

pub use config::GatewayConfig;
pub use metrics::Metrics;
pub use wake::{RETRY_AFTER_SECS, Wake, Woken};

use access_log::{AccessLogger, LogReceiver};
use cors::CorsPolicy;
use discovery::{Discovery, Outliers};
use mapping::Mappings;
use pool::Pool;
use proxy::{ConnInfo, Proxy};
use routes::{RouteTable, RouteTarget};
use throttle::Bucket;

/// The gateway: a compiled route table, a registry handle and a pooled HTTP client,
/// ready to serve a listener. Building one does no I/O.
pub struct Gateway {
    proxy: Arc<Proxy>,
    /// The access log's lines and file, until `serve` starts the writer.
    access_log: Option<(LogReceiver, Option<std::path::PathBuf>)>,
}

impl Gateway {
    /// Compiles `config` (routes, throttles, mappings, CORS, log format) and sets up the
    /// client to instances. Does no I/O: the access log file is opened by `serve`.
    ///
    /// The namespace name is compared as Cloud Map stores it (lower case, no trailing
    /// dot). An integration timeout outside 50 ms..=30 s, the API's or a route's, is
    /// clamped into that range, with a warning, as HTTP API would reject it (§1.5).
    pub fn new(config: GatewayConfig, registry: Registry) -> Gateway {
        let default_timeout = clamp_timeout(config.integration_timeout);
        let base = tokio::time::Instant::now();
        let routes = RouteTable::new(&config.routes, |route| {
            let key = route.key.to_string();
            // §1.5: a route's own limits, else the stage's default route settings.
            let bucket = route
                .throttle
                .or(config.throttle)
                .map(|limit| Bucket::new(limit, base));
            let mappings =
                Mappings::new(&key, &route.request_parameters, &route.response_parameters);
            RouteTarget {
                key: key.into(),
                service: route.service.clone(),
                timeout: route.timeout.map_or(default_timeout, clamp_timeout),
                bucket,
                mappings,
                metrics: config
                    .routes
                    .iter()
                    .position(|r| std::ptr::eq(r, route))
                    .unwrap_or(0),
            }
        });
        let metrics = Arc::new(Metrics::new(
            config.routes.iter().map(|r| r.key.to_string()),
        ));

        let (access_log, log_receiver) = match &config.access_log {
            Some(log) => {
                let (logger, receiver) = AccessLogger::new(&log.format);
                (Some(Arc::new(logger)), Some((receiver, log.file.clone())))
            }
            None => (None, None),
        };

        let proxy = Proxy {
            routes,
            discovery: Discovery::new(registry, config.discovery_lag),
            namespace: config.namespace.trim_end_matches('.').to_ascii_lowercase(),
            pool: Arc::new(Pool::new(Pool::IDLE_TIMEOUT)),
            stage_name: config.stage.name().into(),
            stage: config.stage,
            cors: config.cors.as_ref().map(CorsPolicy::new),
            access_log,
            retry: config.retry_connect_failures,
            outliers: config.outlier.map(Outliers::new),
            metrics,
            wake: None,
        };
        Gateway {
            proxy: Arc::new(proxy),
            access_log: log_receiver,
        }
    }

    /// Wakes sleeping services on request through `hook` (see [`Wake`]): a request for
    /// a service with no instance waits for one instead of getting 503 at once.
    pub fn with_wake(mut self, hook: Arc<dyn Wake>) -> Gateway {
        if let Some(proxy) = Arc::get_mut(&mut self.proxy) {
            proxy.wake = Some(hook);
        }
        self
    }

    /// The gateway's live traffic counters (see [`metrics`]), for the dashboard.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.proxy.metrics.clone()
    }

    /// Serves connections from `listener` until `shutdown` resolves, then finishes
    /// in-flight requests (graceful).
    ///
    /// After `shutdown` the listener is closed, idle connections are closed, and the call
    /// returns once every in-flight request has been answered; bound that wait with a
    /// timeout if it matters, since a streaming response may last long. Accept errors are
    /// logged and do not end serving. Fails, before serving anything, when the
    /// listener's own address cannot be read or the access log file cannot be opened.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let local = listener.local_addr()?;
        if let Some((lines, file)) = self.access_log {
            access_log::open(file.as_deref(), lines)?;
        }
        // Aborted when serving ends, so the delayed view stops with the gateway.
        let follower = self.proxy.discovery.follower().map(tokio::spawn);
        let sweeper = tokio::spawn(sweep(self.proxy.pool.clone()));
        serve_listener(self.proxy, listener, local, shutdown).await;
        if let Some(follower) = follower {
            follower.abort();
        }
        sweeper.abort();
        tracing::info!(listen = %local, "gateway stopped");
        Ok(())
    }

    /// Serves `listen` with `workers` threads until `shutdown` resolves, then drains
    /// every worker as [`Gateway::serve`] does. Blocks the calling thread, which is
    /// worker 0; `ready` is called with the bound address (port 0 picks one) once every
    /// worker's socket listens.
    ///
    /// Each worker is a single-threaded tokio runtime with its own listening socket on
    /// the same address (`SO_REUSEPORT`: the kernel spreads new connections over them),
    /// so a connection is served start to end on one thread, like an nginx worker
    /// process. Measured with `bench/gateway.sh` at one worker, this served about 1.3
    /// times the requests/s of a one-worker multi-thread runtime, whose accept loop and
    /// connections run on two threads (bench/gateway-notes.md). Routes, buckets, the
    /// registry view and the pool of instance connections are shared by the workers.
    ///
    /// Fails when the sockets cannot be bound, a worker cannot start, or the access log
    /// cannot be opened.
    pub fn serve_workers(
        self,
        listen: SocketAddr,
        workers: NonZeroUsize,
        ready: impl FnOnce(SocketAddr),
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let mut listeners = bind_reuseport(listen, workers)?.into_iter();
        let Some(first) = listeners.next() else {
            return Ok(());
        };
        let local = first.local_addr()?;
        // Workers 1.. stop when worker 0 has seen `shutdown`, or has failed.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
        let mut threads = Vec::new();
        for (i, listener) in listeners.enumerate() {
            let proxy = self.proxy.clone();
            let mut stop = stop_rx.clone();
            let thread = std::thread::Builder::new()
                .name(format!("albless-gateway-{}", i + 1))
                .spawn(move || {
                    worker_runtime()?.block_on(async move {
                        let listener = TcpListener::from_std(listener)?;
                        let stopped = async move {
                            let _ = stop.changed().await;
                        };
                        serve_listener(proxy, listener, local, stopped).await;
                        Ok::<_, io::Error>(())
                    })
                })?;
            threads.push(thread);
        }
        ready(local);
        let result = worker_runtime()?.block_on(async move {
            let listener = TcpListener::from_std(first)?;
            self.serve(listener, async move {
                shutdown.await;
                let _ = stop_tx.send(());
            })
            .await
        });
        for thread in threads {
            match thread.join() {
                Ok(Err(err)) => tracing::warn!(error = %err, "gateway worker failed"),
                Err(_) => tracing::warn!("gateway worker panicked"),
                Ok(Ok(())) => {}
            }
        }
        result
    }
}

/// `workers` listening sockets on `listen`, all with `SO_REUSEPORT`; with port 0, the
/// first picks the port and the others bind to it.
fn bind_reuseport(
    listen: SocketAddr,
    workers: NonZeroUsize,
) -> io::Result<Vec<std::net::TcpListener>> {
    use socket2::{Domain, Protocol, Socket, Type};
    // `SO_REUSEPORT` would let these sockets join any other process's listener on the
    // same port that set it too (another `albless up`, say), and the kernel would then
    // spread connections over both. A plain bind first finds such a listener: it fails
    // with "address in use" while any socket listens there. (`SO_REUSEADDR` only lets
    // it past connections in TIME_WAIT.) Port 0 picks a fresh port, no check needed.
    if listen.port() != 0 {
        let probe = Socket::new(
            Domain::for_address(listen),
            Type::STREAM,
            Some(Protocol::TCP),
        )?;
        probe.set_reuse_address(true)?;
        probe.bind(&listen.into())?;
    }
    let mut addr = listen;
    let mut listeners = Vec::with_capacity(workers.get());
    for _ in 0..workers.get() {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        // nginx's default backlog is 511; a burst of new connections waits in it.
        socket.listen(1024)?;
        let listener = std::net::TcpListener::from(socket);
        addr = listener.local_addr()?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// One worker's runtime: a single thread for its listener, its connections and the
/// connections to instances they open.
fn worker_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Serves connections from `listener` until `shutdown` resolves, then closes the
/// listener and waits for the connections' in-flight requests (see [`Gateway::serve`]).
async fn serve_listener(
    proxy: Arc<Proxy>,
    listener: TcpListener,
    local: SocketAddr,
    shutdown: impl Future<Output = ()>,
) {
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

        let proxy = proxy.clone();
        // The request's future is `Proxy::handle`'s own, not wrapped in another async
        // block: hyper moves it into place once per request, so its size is paid per
        // request (bench/gateway.sh's profiles).
        let service = service_fn(move |req| proxy.clone().handle(req, conn));
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
}

/// Closes idle connections to instances once they pass the pool's idle timeout, also
/// those to instances no request goes to any more. Runs until aborted.
async fn sweep(pool: Arc<Pool>) {
    let mut every = tokio::time::interval(Pool::IDLE_TIMEOUT);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        pool.sweep();
    }
}

/// `timeout` clamped into HTTP API's range, 50 ms..=30 s (§1.5), with a warning.
fn clamp_timeout(timeout: Duration) -> Duration {
    let clamped = timeout.clamp(
        GatewayConfig::MIN_INTEGRATION_TIMEOUT,
        GatewayConfig::DEFAULT_INTEGRATION_TIMEOUT,
    );
    if clamped != timeout {
        tracing::warn!(
            requested_ms = timeout.as_millis(),
            used_ms = clamped.as_millis(),
            "integration timeout out of range, clamped"
        );
    }
    clamped
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
