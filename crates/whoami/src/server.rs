//! The HTTP server: binds, serves HTTP/1.1 and cleartext HTTP/2 (h2c, prior knowledge) with
//! keep-alive, routes the few special paths, and shuts down gracefully on SIGTERM or SIGINT.
//!
//! Routes: `GET`/`HEAD /health` is the health check (503 while the unhealthy file exists);
//! `/delay?ms=N` (any method) waits N ms, then answers like any other path; every other request
//! gets the [`Answer`].
//!
//! Shutdown: on the first SIGTERM or SIGINT the listener is closed, idle connections are closed,
//! in-flight requests get up to [`GRACE`] to finish, then `run` returns. ECS sends SIGTERM and
//! waits `stopTimeout` (30 s by default) before SIGKILL ("StopTask", Amazon ECS API Reference),
//! so 10 s stays well inside it.
//!
//! Known limits: no request size limit (bodies are counted, never stored); no TLS.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use crate::answer::{Answer, Format, RequestInfo, negotiate, query_param};
use crate::config::Config;
use crate::metadata::Metadata;

/// How long in-flight requests may run after SIGTERM or SIGINT.
pub(crate) const GRACE: Duration = Duration::from_secs(10);

/// Longest `/delay` accepted, in milliseconds.
const MAX_DELAY_MS: u64 = 60_000;

/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ServeError {
    /// Binding the listening socket failed (address in use, not a local address, ...).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// Installing the SIGTERM or SIGINT handler failed.
    #[error("cannot watch for signals")]
    Signal(#[source] std::io::Error),
}

/// What every request handler shares.
#[derive(Debug)]
struct State {
    config: Config,
    metadata: Option<Metadata>,
}

/// Serves until SIGTERM or SIGINT, then drains (module doc). Prints the start line to stderr
/// once the socket is bound and the signal handlers are in place.
pub(crate) async fn run(config: Config) -> Result<(), ServeError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    let bound = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: config.listen,
        source,
    })?;

    // Handlers go in before the start line, so a signal sent right after it is not fatal.
    let mut sigterm = signal(SignalKind::terminate()).map_err(ServeError::Signal)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(ServeError::Signal)?;

    let metadata = config.metadata_uri.as_deref().and_then(|base| {
        let metadata = Metadata::new(base);
        if metadata.is_none() {
            eprintln!("albless-whoami: ignoring ECS_CONTAINER_METADATA_URI_V4={base:?}: bad URI");
        }
        metadata
    });
    let state = Arc::new(State { config, metadata });
    eprintln!("albless-whoami listening on {bound}");

    // The auto builder speaks HTTP/1.1 (keep-alive on by default) and h2c with prior knowledge;
    // the timer enables hyper's default header read timeout against idle half-open clients.
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();

    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    eprintln!("albless-whoami: accept failed: {error}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
        };
        // Small answers: send them at once rather than wait for Nagle.
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().unwrap_or(bound);

        let state = Arc::clone(&state);
        let service = service_fn(move |request| {
            let state = Arc::clone(&state);
            async move { Ok::<_, Infallible>(handle(&state, local, remote, request).await) }
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away mid-request is normal for a sample app; nothing to report.
            let _ = connection.await;
        });
    }

    drop(listener);
    let drained = tokio::time::timeout(GRACE, graceful.shutdown()).await;
    if drained.is_err() {
        eprintln!("albless-whoami: requests still running after {GRACE:?}; exiting anyway");
    }
    Ok(())
}

/// Answers one request and logs it if asked to.
async fn handle(
    state: &State,
    local: SocketAddr,
    remote: SocketAddr,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());

    let response = route(state, local, remote, request).await;

    if state.config.log_requests {
        let (status, elapsed) = (response.status().as_u16(), started.elapsed().as_millis());
        eprintln!("albless-whoami {remote} {method} {path} {status} {elapsed}ms");
    }
    response
}

async fn route(
    state: &State,
    local: SocketAddr,
    remote: SocketAddr,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let is_get = matches!(*request.method(), Method::GET | Method::HEAD);
    if is_get && request.uri().path() == "/health" {
        return health(state).await;
    }

    let (parts, body) = request.into_parts();
    let body_bytes = count_body(body).await;

    if parts.uri.path() == "/delay" {
        let ms = query_param(parts.uri.query(), "ms").and_then(|ms| ms.parse::<u64>().ok());
        match ms {
            Some(ms) if ms <= MAX_DELAY_MS => tokio::time::sleep(Duration::from_millis(ms)).await,
            _ => {
                let text = format!("/delay needs ?ms=N with N from 0 to {MAX_DELAY_MS}\n");
                return plain(StatusCode::BAD_REQUEST, "text/plain; charset=utf-8", text);
            }
        }
    }

    // The live ARN from the metadata endpoint beats the one from the environment.
    let live_arn = match &state.metadata {
        Some(metadata) => metadata.task_arn().await,
        None => None,
    };
    let identity = &state.config.identity;
    let info = RequestInfo::new(&parts, remote, body_bytes);
    let answer = Answer {
        identity,
        task_arn: live_arn.as_deref().or(identity.task_arn.as_deref()),
        local_addr: local,
        request: &info,
    };

    let accept: Vec<&str> = parts
        .headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    match negotiate(Some(&accept.join(",")), parts.uri.query()) {
        Format::Json => {
            let mut body = answer.json().to_string();
            body.push('\n');
            plain(StatusCode::OK, "application/json", body)
        }
        Format::Html => plain(StatusCode::OK, "text/html; charset=utf-8", answer.html()),
    }
}

/// 200 `{"status":"ok"}`, or 503 while the unhealthy file exists.
async fn health(state: &State) -> Response<Full<Bytes>> {
    let unhealthy = match &state.config.unhealthy_file {
        Some(file) => tokio::fs::try_exists(file).await.unwrap_or(false),
        None => false,
    };
    if unhealthy {
        plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "application/json",
            "{\"status\":\"unhealthy\"}",
        )
    } else {
        plain(StatusCode::OK, "application/json", "{\"status\":\"ok\"}")
    }
}

/// Reads the body to its end and returns its length; a broken body counts what arrived.
async fn count_body(mut body: Incoming) -> u64 {
    let mut total = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            total += data.len() as u64;
        }
    }
    total
}

/// A complete response that no cache may keep, so every reload reaches a task.
fn plain(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
