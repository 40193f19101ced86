//! The gateway end to end: real backends on loopback addresses, a real registry, real
//! HTTP/1.1 and h2c clients.

mod support;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

use support::{Answer, Backend, Body, Harness, NS, SERVICE, empty, full};

const NOT_FOUND: &str = r#"{"message":"Not Found"}"#;
const UNAVAILABLE: &str = r#"{"message":"Service Unavailable"}"#;

/// Asserts `answer` is the gateway's own `status` error with `body`.
fn assert_gateway_error(answer: &Answer, status: u16, body: &str) {
    assert_eq!(answer.status.as_u16(), status, "{answer:?}");
    assert_eq!(answer.body, body);
    assert_eq!(answer.header("content-type"), "application/json");
    assert_eq!(answer.header("content-length"), body.len().to_string());
    assert_eq!(answer.header("apigw-requestid").len(), 16);
}

#[tokio::test]
async fn requests_spread_over_both_instances() {
    let a = Backend::start("127.0.0.1", "a").await;
    let b = Backend::start("127.0.0.2", "b").await;
    let gw = Harness::default_route().await;
    gw.register("a", a.addr);
    gw.register("b", b.addr);

    let mut counts: HashMap<String, u32> = HashMap::new();
    for _ in 0..200 {
        let answer = gw.get("/").await;
        assert_eq!(answer.status, StatusCode::OK);
        *counts
            .entry(answer.header("x-backend").to_string())
            .or_default() += 1;
    }
    // Uniform random: each expects 100; below 50 is 7 standard deviations away.
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert!(counts.values().all(|&n| n >= 50), "{counts:?}");
}

#[tokio::test]
async fn no_route_is_404_not_found() {
    let a = Backend::start("127.0.0.1", "a").await;
    let gw = Harness::start(&["GET /pets/{id}"], Duration::from_secs(30)).await;
    gw.register("a", a.addr);

    assert_eq!(gw.get("/pets/1").await.status, StatusCode::OK);
    for path in ["/", "/pets", "/pets/1/2", "/cats/1"] {
        assert_gateway_error(&gw.get(path).await, 404, NOT_FOUND);
    }
    let post = Request::post("/pets/1").body(empty()).unwrap();
    assert_gateway_error(&Answer::read(gw.send(post).await).await, 404, NOT_FOUND);
}

#[tokio::test]
async fn no_instance_is_503() {
    let gw = Harness::default_route().await;
    assert_gateway_error(&gw.get("/").await, 503, UNAVAILABLE);

    // An unhealthy instance is not routable either.
    let a = Backend::start("127.0.0.1", "a").await;
    gw.register("a", a.addr);
    assert_eq!(gw.get("/").await.status, StatusCode::OK);
    let unhealthy = albless_registry::HealthStatus::Unhealthy;
    gw.registry.set_health(NS, SERVICE, "a", unhealthy).unwrap();
    assert_gateway_error(&gw.get("/").await, 503, UNAVAILABLE);
}

#[tokio::test]
async fn missing_service_is_503() {
    let a = Backend::start("127.0.0.1", "a").await;
    let gw = Harness::default_route().await;
    gw.register("a", a.addr);
    // A gateway over a namespace the registry does not have.
    let config =
        albless_gateway::GatewayConfig::new("other.local", vec![support::route("$default")]);
    let other = albless_gateway::Gateway::new(config, gw.registry.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(other.serve(listener, std::future::pending()));
    let req = Request::get(format!("http://{addr}/"))
        .body(empty())
        .unwrap();
    let answer = Answer::read(gw.client.request(req).await.unwrap()).await;
    assert_gateway_error(&answer, 503, UNAVAILABLE);
}

#[tokio::test]
async fn closed_port_is_503_not_502() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.3:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let gw = Harness::default_route().await;
    gw.register("gone", closed);
    assert_gateway_error(&gw.get("/").await, 503, UNAVAILABLE);
}

#[tokio::test]
async fn every_response_has_a_unique_request_id() {
    let a = Backend::start("127.0.0.1", "a").await;
    let gw = Harness::start(&["GET /up"], Duration::from_secs(30)).await;

    let mut seen = HashSet::new();
    let mut statuses = HashSet::new();
    for round in 0..90 {
        // 503 before the instance is registered, then 200 and 404.
        if round == 30 {
            gw.register("a", a.addr);
        }
        let path = if round % 2 == 0 { "/up" } else { "/down" };
        let answer = gw.get(path).await;
        statuses.insert(answer.status.as_u16());
        let id = answer.header("apigw-requestid").to_string();
        assert_eq!(id.len(), 16, "{id}");
        assert!(id.ends_with('=') && !id.ends_with("=="), "{id}");
        assert!(
            id[..15]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/'),
            "{id}"
        );
        assert!(seen.insert(id.clone()), "{id} repeated");
    }
    assert_eq!(statuses, HashSet::from([200, 404, 503]));
}

#[tokio::test]
async fn backend_sees_host_forwarded_via_path_and_query() {
    let a = Backend::start("127.0.0.2", "a").await;
    let gw = Harness::default_route().await;
    gw.register("a", a.addr);

    let req = Request::get("/store/checkout?b=2&a=x%20y&a=z")
        .header("host", "api.example.test")
        .header("x-custom", "kept")
        .body(empty())
        .unwrap();
    let answer = Answer::read(gw.send(req).await).await;
    assert_eq!(answer.status, StatusCode::OK);
    // $default stage: the full path and the query as sent, no stage prefix (§1.3).
    assert_eq!(answer.request_line(), "GET /store/checkout?b=2&a=x%20y&a=z");
    assert_eq!(answer.seen("host"), Some(a.addr.to_string().as_str()));
    assert_eq!(
        answer.seen("forwarded"),
        Some("by=127.0.0.1;for=127.0.0.1;host=api.example.test;proto=http")
    );
    assert_eq!(answer.seen("via"), Some("HTTP/1.1 AmazonAPIGateway"));
    assert_eq!(answer.seen("x-custom"), Some("kept"));

    // Without a Host of its own choosing the client's host is the gateway's address,
    // which is quoted: `:` is not a token character (RFC 7239).
    let answer = gw.get("/").await;
    let want = format!("by=127.0.0.1;for=127.0.0.1;host=\"{}\";proto=http", gw.addr);
    assert_eq!(answer.seen("forwarded"), Some(want.as_str()));
}

#[tokio::test]
async fn hop_by_hop_headers_are_removed_both_ways() {
    // A raw backend, so the response can carry hop-by-hop headers hyper would not send.
    let backend = TcpListener::bind("127.0.0.4:0").await.unwrap();
    let backend_addr = backend.local_addr().unwrap();
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let (mut stream, _) = backend.accept().await.unwrap();
        let head = read_head(&mut stream).await;
        let _ = seen_tx.send(head);
        let body = "ok";
        let response = format!(
            "HTTP/1.1 200 OK\r\nConnection: x-backend-hop, close\r\nX-Backend-Hop: 1\r\n\
             Keep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nTrailer: x-t\r\n\
             Upgrade: foo\r\nX-Backend-End: kept\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).await.unwrap();
    });
    let gw = Harness::default_route().await;
    gw.register("raw", backend_addr);

    let mut client = TcpStream::connect(gw.addr).await.unwrap();
    let request = "GET /hop HTTP/1.1\r\nHost: api.example.test\r\n\
                   Connection: x-client-hop, close\r\nX-Client-Hop: 1\r\nKeep-Alive: 300\r\n\
                   Proxy-Connection: keep-alive\r\nTE: trailers\r\n\
                   Proxy-Authorization: Basic eDp5\r\nX-Client-End: kept\r\n\r\n";
    client.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    timeout(Duration::from_secs(5), client.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    let response = response.to_ascii_lowercase();

    let upstream = seen_rx.recv().await.unwrap().to_ascii_lowercase();
    assert!(upstream.contains("x-client-end: kept"), "{upstream}");
    for gone in [
        "x-client-hop",
        "keep-alive",
        "proxy-connection",
        "te:",
        "proxy-authorization",
        "connection:",
    ] {
        assert!(
            !upstream.contains(gone),
            "`{gone}` reached the backend:\n{upstream}"
        );
    }

    assert!(response.starts_with("http/1.1 200"), "{response}");
    assert!(response.contains("x-backend-end: kept"), "{response}");
    assert!(response.contains("apigw-requestid: "), "{response}");
    for gone in [
        "x-backend-hop",
        "keep-alive",
        "proxy-authenticate",
        "trailer",
        "upgrade",
    ] {
        assert!(
            !response.contains(gone),
            "`{gone}` reached the client:\n{response}"
        );
    }
}

/// Reads an HTTP/1.1 request head (the backend's requests here have no body).
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[tokio::test]
async fn a_5_mb_body_is_echoed_whole() {
    let a = Backend::start("127.0.0.1", "a").await;
    let gw = Harness::default_route().await;
    gw.register("a", a.addr);

    let sent: Vec<u8> = (0..5 * 1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    let req = Request::post("/stream").body(full(sent.clone())).unwrap();
    let response = gw.send(req).await;
    assert_eq!(response.status(), StatusCode::OK);
    let got = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(got.len(), sent.len());
    assert!(got == sent, "the echoed body differs");
}

#[tokio::test]
async fn bodies_stream_without_buffering() {
    let a = Backend::start("127.0.0.1", "a").await;
    let gw = Harness::default_route().await;
    gw.register("a", a.addr);

    // The request body is a channel: each chunk is sent only after the previous one came
    // back, which deadlocks (and times out) if either direction buffers the whole body.
    let (tx, rx) = mpsc::channel::<Bytes>(1);
    let body = StreamBody::new(stream::unfold(rx, |mut rx| async move {
        let chunk = rx.recv().await?;
        Some((Ok(Frame::data(chunk)), rx))
    }));
    let req = Request::post("/stream").body(Body::new(body)).unwrap();
    tx.send(Bytes::from("ping-0;")).await.unwrap();
    let response = timeout(Duration::from_secs(5), gw.send(req))
        .await
        .expect("response head");
    let mut body = response.into_body();

    let mut echoed = String::new();
    for i in 0..3 {
        let want = format!("ping-{i};");
        while !echoed.ends_with(&want) {
            let frame = timeout(Duration::from_secs(5), body.frame())
                .await
                .expect("echo");
            let data = frame.unwrap().unwrap().into_data().unwrap();
            echoed.push_str(std::str::from_utf8(&data).unwrap());
        }
        if i < 2 {
            tx.send(Bytes::from(format!("ping-{};", i + 1)))
                .await
                .unwrap();
        }
    }
    drop(tx);
    assert!(body.collect().await.unwrap().to_bytes().is_empty());
    assert_eq!(echoed, "ping-0;ping-1;ping-2;");
}

#[tokio::test]
async fn a_deregistered_instance_gets_no_more_requests() {
    let a = Backend::start("127.0.0.1", "a").await;
    let b = Backend::start("127.0.0.2", "b").await;
    let gw = Harness::default_route().await;
    gw.register("a", a.addr);
    gw.register("b", b.addr);

    // Warm up until both have pooled connections.
    let mut seen = HashSet::new();
    while seen.len() < 2 {
        seen.insert(gw.get("/").await.header("x-backend").to_string());
    }

    gw.registry.deregister_instance(NS, SERVICE, "a").unwrap();
    for _ in 0..50 {
        assert_eq!(gw.get("/").await.header("x-backend"), "b");
    }
}

#[tokio::test]
async fn integration_timeout_is_503() {
    let mut a = Backend::start("127.0.0.1", "a").await;
    let gw = Harness::start(&["$default"], Duration::from_millis(200)).await;
    gw.register("a", a.addr);

    let started = tokio::time::Instant::now();
    let answer = gw.get("/hold").await;
    let waited = started.elapsed();
    assert!(
        a.arrived.try_recv().is_ok(),
        "the request reached the backend"
    );
    assert_gateway_error(&answer, 503, UNAVAILABLE);
    assert!(waited >= Duration::from_millis(200), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[tokio::test]
async fn h2c_prior_knowledge_clients_work() {
    let a = Backend::start("127.0.0.1", "a").await;
    let gw = Harness::default_route().await;
    gw.register("a", a.addr);

    let client: Client<_, Body> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    for _ in 0..3 {
        let req = Request::get(gw.url("/h2?x=1")).body(empty()).unwrap();
        let response = client.request(req).await.unwrap();
        assert_eq!(response.version(), Version::HTTP_2);
        let answer = Answer::read(response).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header("apigw-requestid").len(), 16);
        // The instance is called with HTTP/1.1 and `Host` set; `:authority` becomes
        // the forwarded host.
        assert_eq!(answer.request_line(), "GET /h2?x=1");
        assert_eq!(answer.seen("host"), Some(a.addr.to_string().as_str()));
        let want = format!("by=127.0.0.1;for=127.0.0.1;host=\"{}\";proto=http", gw.addr);
        assert_eq!(answer.seen("forwarded"), Some(want.as_str()));
    }
    let req = Request::post(gw.url("/stream"))
        .body(full("over h2"))
        .unwrap();
    let answer = Answer::read(client.request(req).await.unwrap()).await;
    assert_eq!(answer.body, "over h2");
}

#[tokio::test]
async fn graceful_shutdown_finishes_an_in_flight_request() {
    let mut a = Backend::start("127.0.0.1", "a").await;
    let mut gw = Harness::default_route().await;
    gw.register("a", a.addr);

    let req = Request::get("/hold").body(empty()).unwrap();
    let client = gw.client.clone();
    let url: http::Uri = gw.url("/hold").parse().unwrap();
    let in_flight = tokio::spawn(async move {
        let mut req = req;
        *req.uri_mut() = url;
        Answer::read(client.request(req).await.unwrap()).await
    });
    a.arrived.recv().await.unwrap();

    gw.shut_down();
    let serving = gw.serving();
    // New connections are refused once the listener is closed, while the request waits.
    let gateway_addr: SocketAddr = gw.addr;
    let refused = async {
        loop {
            if TcpStream::connect(gateway_addr).await.is_err() {
                break;
            }
            tokio::task::yield_now().await;
        }
    };
    timeout(Duration::from_secs(5), refused)
        .await
        .expect("listener closed");
    assert!(
        !serving.is_finished(),
        "serve returned with a request in flight"
    );

    a.release.notify_waiters();
    let answer = timeout(Duration::from_secs(5), in_flight)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "released");
    timeout(Duration::from_secs(5), serving)
        .await
        .expect("serve returns")
        .unwrap()
        .unwrap();
}
