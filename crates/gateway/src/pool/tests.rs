use std::sync::atomic::{AtomicUsize, Ordering};

use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::*;

/// A raw HTTP/1.1 instance on loopback: answers every bodiless request `200 ok` and
/// keeps the connection, or closes it after one answer when `close_after_one` (without
/// saying so, as a server whose keep-alive timer fired does). Counts connections, and
/// reports each one's end on the returned channel.
async fn instance(
    close_after_one: bool,
) -> (SocketAddr, Arc<AtomicUsize>, mpsc::UnboundedReceiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let (closed_tx, closed) = mpsc::unbounded_channel();
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            let closed_tx = closed_tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        buf.clear();
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if stream.write_all(answer).await.is_err() || close_after_one {
                            break;
                        }
                    }
                }
                let _ = closed_tx.send(());
            });
        }
    });
    (addr, accepted, closed)
}

fn get() -> Request<UpstreamBody> {
    Request::builder()
        .uri("/")
        .body(UpstreamBody::empty())
        .unwrap()
}

/// Sends one request, reads the body whole and gives the connection back.
async fn round_trip(pool: &Arc<Pool>, addr: SocketAddr) -> Result<Bytes, UpstreamError> {
    let (response, lease) = pool.send(addr, get()).await?;
    let body = response.into_body().collect().await.unwrap().to_bytes();
    lease.release();
    Ok(body)
}

use bytes::Bytes;

#[tokio::test]
async fn a_released_connection_carries_the_next_requests() {
    let (addr, accepted, _closed) = instance(false).await;
    let pool = Arc::new(Pool::new(Pool::IDLE_TIMEOUT));
    for _ in 0..3 {
        assert_eq!(round_trip(&pool, addr).await.unwrap(), "ok");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_not_released_is_not_reused() {
    let (addr, accepted, mut closed) = instance(false).await;
    let pool = Arc::new(Pool::new(Pool::IDLE_TIMEOUT));
    let (response, lease) = pool.send(addr, get()).await.unwrap();
    drop((response, lease));
    assert_eq!(round_trip(&pool, addr).await.unwrap(), "ok");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    closed
        .recv()
        .await
        .expect("the dropped connection is closed");
}

#[tokio::test]
async fn a_connection_the_instance_closed_is_replaced() {
    let (addr, accepted, mut closed) = instance(true).await;
    let pool = Arc::new(Pool::new(Pool::IDLE_TIMEOUT));
    assert_eq!(round_trip(&pool, addr).await.unwrap(), "ok");
    closed.recv().await.unwrap();
    // Whether the pool has noticed the close yet or finds out when sending, the
    // request goes out on a new connection.
    assert_eq!(round_trip(&pool, addr).await.unwrap(), "ok");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_timeout() {
    let (addr, accepted, mut closed) = instance(false).await;
    let pool = Arc::new(Pool::new(Duration::from_millis(50)));
    assert_eq!(round_trip(&pool, addr).await.unwrap(), "ok");
    pool.sweep();
    assert!(
        closed.try_recv().is_err(),
        "kept while younger than the timeout"
    );
    tokio::time::sleep(Duration::from_millis(60)).await;
    pool.sweep();
    tokio::time::timeout(Duration::from_secs(5), closed.recv())
        .await
        .expect("closed by the sweep")
        .unwrap();
    // An expired connection is not taken either.
    assert_eq!(round_trip(&pool, addr).await.unwrap(), "ok");
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(round_trip(&pool, addr).await.unwrap(), "ok");
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let pool = Arc::new(Pool::new(Pool::IDLE_TIMEOUT));
    let err = pool.send(addr, get()).await.err().expect("refused");
    assert!(err.is_connect(), "{err:?}");
}
