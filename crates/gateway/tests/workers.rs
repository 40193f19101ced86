//! `Gateway::serve_workers`: several single-threaded workers on one address, each with
//! its own `SO_REUSEPORT` listener, serving like `Gateway::serve` and stopping together.

mod support;

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::time::Duration;

use albless_gateway::{Gateway, GatewayConfig};
use albless_registry::{ATTR_IPV4, ATTR_PORT, Registry, ServiceConfig};
use http_body_util::BodyExt;
use support::{Backend, NS, SERVICE, route};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

#[tokio::test]
async fn two_workers_serve_one_address_and_stop_together() {
    let backend = Backend::start("127.0.0.2", "a").await;
    let registry = Registry::new();
    registry.create_namespace(NS).unwrap();
    let service = ServiceConfig {
        srv: true,
        a: false,
        ttl: 10,
        custom_health: true,
    };
    registry.create_service(NS, SERVICE, service).unwrap();
    let attributes = BTreeMap::from([
        (ATTR_IPV4.to_string(), backend.addr.ip().to_string()),
        (ATTR_PORT.to_string(), backend.addr.port().to_string()),
    ]);
    registry
        .register_instance(NS, SERVICE, "task-a", attributes)
        .unwrap();

    let gateway = Gateway::new(GatewayConfig::new(NS, vec![route("$default")]), registry);
    let (ready_tx, ready_rx) = oneshot::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let workers = NonZeroUsize::new(2).unwrap();
    let serving = std::thread::spawn(move || {
        gateway.serve_workers(
            "127.0.0.1:0".parse().unwrap(),
            workers,
            |addr| {
                let _ = ready_tx.send(addr);
            },
            async move {
                let _ = stop_rx.await;
            },
        )
    });
    let addr = ready_rx.await.expect("the workers listen");

    // A second gateway on the same address is refused, not let in to share the port's
    // connections through SO_REUSEPORT (two `albless up` on one port).
    let second = Gateway::new(
        GatewayConfig::new(NS, vec![route("$default")]),
        Registry::new(),
    );
    let refused =
        tokio::task::spawn_blocking(move || second.serve_workers(addr, workers, |_| {}, async {}))
            .await
            .unwrap();
    assert_eq!(
        refused.expect_err("the port is taken").kind(),
        std::io::ErrorKind::AddrInUse
    );

    // New connections each time, so the kernel spreads them over both listeners.
    for i in 0..20 {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Empty<bytes::Bytes>>();
        let response = client
            .get(format!("http://{addr}/n/{i}").parse().unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-backend"], "a");
        assert!(response.headers().contains_key("apigw-requestid"));
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(body.starts_with(format!("GET /n/{i}").as_bytes()));
    }

    let _ = stop_tx.send(());
    let result = tokio::task::spawn_blocking(move || serving.join().unwrap())
        .await
        .unwrap();
    result.expect("serve_workers ends without error");
    // Every worker closed its listener.
    let mut refused = TcpStream::connect(addr).await;
    if let Ok(stream) = refused.as_mut() {
        // A connection that slipped in is closed unanswered.
        let _ = stream.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
    }
}
