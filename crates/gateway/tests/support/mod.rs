//! Test harness: real backends on loopback addresses, a registry that lists them, a
//! gateway on port 0, and an HTTP client to talk to it.

#![allow(dead_code)] // each test binary uses part of the harness

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use albless_gateway::{Gateway, GatewayConfig};
use albless_registry::{ATTR_IPV4, ATTR_PORT, Registry, ServiceConfig};
use albless_spec::Route;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

/// The namespace every test uses.
pub const NS: &str = "ecs.local";
/// The service every test's routes target.
pub const SERVICE: &str = "backend";

/// Request body type of the test client.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// An empty request body.
pub fn empty() -> Body {
    Empty::new().boxed_unsync()
}

/// A request body of `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A route to [`SERVICE`]; `key` as written in albless.toml (`$default`, `GET /pets/{id}`).
pub fn route(key: &str) -> Route {
    Route::new(key.parse().unwrap(), SERVICE)
}

/// A backend: a hyper HTTP/1.1 server on a loopback address.
///
/// - `/stream` answers with the request body, streamed back as it arrives;
/// - `/drain` reads the whole request body, then answers with its length;
/// - `/hold` reports its arrival on `arrived`, waits for `release`, answers `released`;
/// - any other path answers `200` with `x-backend: <name>` and a body describing the
///   request: `METHOD path?query`, then one `name: value` line per header.
///
/// Every answer carries the headers the request asked for with `x-respond: name=value`.
pub struct Backend {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its name, echoed in `x-backend`.
    pub name: String,
    /// One message per `/hold` request that arrived.
    pub arrived: mpsc::UnboundedReceiver<()>,
    /// Lets every waiting `/hold` request answer.
    pub release: Arc<Notify>,
}

impl Backend {
    /// Starts a backend on `ip`, port 0.
    pub async fn start(ip: &str, name: &str) -> Backend {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (arrived_tx, arrived) = mpsc::unbounded_channel();
        let release = Arc::new(Notify::new());
        let name = name.to_string();
        let (n, r) = (name.clone(), release.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (n, r, a) = (n.clone(), r.clone(), arrived_tx.clone());
                let service =
                    service_fn(move |req| backend_answer(req, n.clone(), r.clone(), a.clone()));
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Backend {
            addr,
            name,
            arrived,
            release,
        }
    }
}

/// Headers a describing backend adds to its response: one `x-respond: name=value` request
/// header per response header.
fn respond_headers(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.headers()
        .get_all("x-respond")
        .iter()
        .filter_map(|v| {
            let (k, v) = v.to_str().ok()?.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

async fn backend_answer(
    req: Request<Incoming>,
    name: String,
    release: Arc<Notify>,
    arrived: mpsc::UnboundedSender<()>,
) -> Result<Response<UnsyncBoxBody<Bytes, hyper::Error>>, Infallible> {
    let extra = respond_headers(&req);
    let body = match req.uri().path() {
        "/drain" => {
            // Reads the whole body before answering with its length.
            let n = match req.into_body().collect().await {
                Ok(body) => body.to_bytes().len().to_string(),
                Err(e) => format!("body error: {e}"),
            };
            Full::new(Bytes::from(n))
                .map_err(|e| match e {})
                .boxed_unsync()
        }
        "/stream" => req.into_body().boxed_unsync(),
        "/hold" => {
            let released = release.notified();
            let _ = arrived.send(());
            released.await;
            Full::new(Bytes::from("released"))
                .map_err(|e| match e {})
                .boxed_unsync()
        }
        _ => {
            let mut text = format!("{} {}\n", req.method(), req.uri());
            for (k, v) in req.headers() {
                text.push_str(&format!("{k}: {}\n", v.to_str().unwrap()));
            }
            Full::new(Bytes::from(text))
                .map_err(|e| match e {})
                .boxed_unsync()
        }
    };
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert("x-backend", name.parse().unwrap());
    for (k, v) in extra {
        response.headers_mut().append(
            http::HeaderName::try_from(k).unwrap(),
            http::HeaderValue::try_from(v).unwrap(),
        );
    }
    Ok(response)
}

/// A gateway under test, its registry and a client for it.
pub struct Harness {
    /// Where the gateway listens.
    pub addr: SocketAddr,
    /// The registry it reads.
    pub registry: Registry,
    /// A pooled HTTP/1.1 client.
    pub client: Client<HttpConnector, Body>,
    shutdown: Option<oneshot::Sender<()>>,
    serving: Option<JoinHandle<std::io::Result<()>>>,
}

impl Harness {
    /// Starts a gateway with `routes` (all to [`SERVICE`]) and `timeout`, over a registry
    /// holding namespace [`NS`] and service [`SERVICE`] with no instances.
    pub async fn start(routes: &[&str], timeout: Duration) -> Harness {
        let mut config = GatewayConfig::new(NS, routes.iter().map(|r| route(r)).collect());
        config.integration_timeout = timeout;
        Harness::with_config(config).await
    }

    /// Starts a gateway with `config` (its namespace should be [`NS`]), over a registry
    /// holding namespace [`NS`] and service [`SERVICE`] with no instances.
    pub async fn with_config(config: GatewayConfig) -> Harness {
        let registry = Registry::new();
        registry.create_namespace(NS).unwrap();
        let service = ServiceConfig {
            srv: true,
            a: false,
            ttl: 10,
            custom_health: true,
        };
        registry.create_service(NS, SERVICE, service).unwrap();
        let gateway = Gateway::new(config, registry.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let serving = tokio::spawn(gateway.serve(listener, async move {
            let _ = rx.await;
        }));
        let client = Client::builder(TokioExecutor::new()).build_http();
        Harness {
            addr,
            registry,
            client,
            shutdown: Some(tx),
            serving: Some(serving),
        }
    }

    /// [`Harness::start`] with one `$default` route and a 30 s timeout.
    pub async fn default_route() -> Harness {
        Harness::start(&["$default"], Duration::from_secs(30)).await
    }

    /// Registers `backend` as instance `id`.
    pub fn register(&self, id: &str, addr: SocketAddr) {
        let attributes = BTreeMap::from([
            (ATTR_IPV4.to_string(), addr.ip().to_string()),
            (ATTR_PORT.to_string(), addr.port().to_string()),
        ]);
        self.registry
            .register_instance(NS, SERVICE, id, attributes)
            .unwrap();
    }

    /// The gateway URL of `path_and_query`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.addr, path_and_query)
    }

    /// Sends `req` (a path-only URI is completed with the gateway's address).
    pub async fn send(&self, mut req: Request<Body>) -> Response<Incoming> {
        if req.uri().authority().is_none() {
            *req.uri_mut() = self.url(&req.uri().to_string()).parse().unwrap();
        }
        self.client.request(req).await.unwrap()
    }

    /// `GET path_and_query`: status, headers and the whole body as text.
    pub async fn get(&self, path_and_query: &str) -> Answer {
        let req = Request::get(path_and_query).body(empty()).unwrap();
        Answer::read(self.send(req).await).await
    }

    /// Resolves the gateway's shutdown future.
    pub fn shut_down(&mut self) {
        let _ = self.shutdown.take().unwrap().send(());
    }

    /// The `serve` task, to await after [`Harness::shut_down`].
    pub fn serving(&mut self) -> JoinHandle<std::io::Result<()>> {
        self.serving.take().unwrap()
    }
}

/// A whole response.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: http::HeaderMap,
    /// Its body, as text.
    pub body: String,
}

impl Answer {
    /// Reads all of `response`.
    pub async fn read(response: Response<Incoming>) -> Answer {
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    /// The value of header `name`, or "" when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// The value of header `name` the backend reported receiving (from a describing
    /// backend's body), if it did.
    pub fn seen(&self, name: &str) -> Option<&str> {
        self.body.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(": ")?;
            (k == name).then_some(v)
        })
    }

    /// The request line the backend reported: `METHOD path?query`.
    pub fn request_line(&self) -> &str {
        self.body.lines().next().unwrap_or("")
    }
}
