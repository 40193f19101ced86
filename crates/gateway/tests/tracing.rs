//! The per-request span: its fields as a log reader sees them.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use http::StatusCode;
use support::{Backend, Harness};
use tracing_subscriber::fmt::MakeWriter;

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

// A current-thread runtime, so the gateway's tasks run where the subscriber is set.
#[tokio::test]
async fn each_request_logs_one_span_with_its_fields() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let a = Backend::start("127.0.0.1", "a").await;
    let gw = Harness::start(&["GET /pets/{id}"], std::time::Duration::from_secs(30)).await;
    gw.register("a", a.addr);
    let ok = gw.get("/pets/7").await;
    assert_eq!(ok.status, StatusCode::OK);
    let missing = gw.get("/cats").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let answered: Vec<&str> = log
        .lines()
        .filter(|l| l.ends_with("request answered"))
        .collect();
    assert_eq!(answered.len(), 2, "{log}");

    // The fmt subscriber prints fields in the order they were recorded, text quoted.
    let id = ok.header("apigw-requestid");
    let instance = a.addr.to_string();
    for field in [
        format!("request{{request_id={id} method=GET path=\"/pets/7\""),
        "route_key=\"GET /pets/{id}\"".to_string(),
        format!("instance={instance}"),
        "status=200".to_string(),
        "latency_ms=".to_string(),
    ] {
        assert!(
            answered[0].contains(&field),
            "{}\nwanted {field}",
            answered[0]
        );
    }

    let id = missing.header("apigw-requestid");
    let want = format!("request{{request_id={id} method=GET path=\"/cats\" status=404 latency_ms=");
    assert!(
        answered[1].contains(&want),
        "{}\nwanted {want}",
        answered[1]
    );
    assert!(
        log.contains("gateway error error=no route matches the request"),
        "{log}"
    );
}
