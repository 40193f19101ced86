//! Black-box tests: the real binary on port 0, driven over HTTP and signals.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Conn, Whoami, command, get_json, request};

const TASK_ID: &str = "0123456789abcdef0123456789abcdef";
const TASK_ARN: &str = "arn:aws:ecs:ap-northeast-3:000000000000:task/hello/0123456789abcdef";

#[test]
fn json_answer_reports_task_and_request() {
    let whoami = Whoami::start(
        &[
            ("ALBLESS_TASK_ID", TASK_ID),
            ("ALBLESS_TASK_ARN", TASK_ARN),
            ("ALBLESS_SERVICE", "backend"),
            ("GREETING", "hello from albless"),
        ],
        &[],
    );
    let mut conn = Conn::open(whoami.addr);
    conn.send(
        "POST",
        "/a/b?x=1&y=two",
        &[("Accept", "application/json")],
        "hello",
    );
    let reply = conn.receive();

    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let answer = reply.json();
    assert_eq!(answer["task_id"], TASK_ID);
    assert_eq!(answer["task_arn"], TASK_ARN);
    assert_eq!(answer["service"], "backend");
    assert_eq!(answer["ip"], "127.0.0.1");
    assert_eq!(answer["port"], whoami.addr.port());
    assert_eq!(answer["pid"], whoami.pid());
    assert_eq!(answer["greeting"], "hello from albless");
    let hostname = answer["hostname"].as_str().unwrap();
    match std::fs::read_to_string("/proc/sys/kernel/hostname") {
        Ok(name) => assert_eq!(hostname, name.trim()),
        Err(_) => assert!(!hostname.is_empty()),
    }

    let request = &answer["request"];
    assert_eq!(request["method"], "POST");
    assert_eq!(request["path"], "/a/b");
    assert_eq!(request["query"], "x=1&y=two");
    assert_eq!(request["version"], "HTTP/1.1");
    assert_eq!(request["remote_addr"], conn.local_addr().to_string());
    assert_eq!(request["body_bytes"], 5);
}

#[test]
fn unknown_identity_is_null_or_unknown() {
    let whoami = Whoami::start(&[], &[]);
    let answer = get_json(whoami.addr, "/");
    assert_eq!(answer["task_id"], json!(null));
    assert_eq!(answer["task_arn"], json!(null));
    assert_eq!(answer["service"], "unknown");
    assert_eq!(answer["greeting"], json!(null));
    assert_eq!(answer["request"]["query"], json!(null));
    assert_eq!(answer["request"]["body_bytes"], 0);
}

#[test]
fn headers_are_echoed_in_order_with_repeats_kept() {
    let whoami = Whoami::start(&[], &[]);
    let headers = [
        ("Accept", "application/json"),
        ("X-Zeta", "first"),
        ("X-Rep", "1"),
        ("X-Alpha", "second"),
        ("X-Rep", "2"),
    ];
    let answer = request(whoami.addr, "GET", "/", &headers).json();

    // Names come lower-cased, and the second x-rep joins the first: http::HeaderMap keeps the
    // order of names and of values per name, not their interleaving (module doc of answer.rs).
    let host = whoami.addr.to_string();
    let want = json!([
        ["host", host],
        ["accept", "application/json"],
        ["x-zeta", "first"],
        ["x-rep", "1"],
        ["x-rep", "2"],
        ["x-alpha", "second"],
    ]);
    assert_eq!(answer["request"]["headers"], want);
}

#[test]
fn html_answer_escapes_what_the_client_sent() {
    let whoami = Whoami::start(&[("GREETING", "hi & bye")], &[]);
    let evil = "<script>alert('owned')</script>";
    let reply = request(whoami.addr, "GET", "/page?q=%3Cb%3E", &[("X-Evil", evil)]);

    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = &reply.body;
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.contains("<h1>127.0.0.1<span"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script"), "{page}");
    assert!(page.contains("hi &amp; bye"), "{page}");
}

#[test]
fn accept_and_format_choose_the_format() {
    let whoami = Whoami::start(&[], &[]);
    let cases = [
        (None, "/", "text/html; charset=utf-8"),
        (Some("*/*"), "/", "text/html; charset=utf-8"),
        (Some("application/json"), "/", "application/json"),
        (Some("application/json, text/html"), "/", "application/json"),
        (
            Some("text/html, application/json"),
            "/",
            "text/html; charset=utf-8",
        ),
        (Some("text/html"), "/?format=json", "application/json"),
        (None, "/x?a=1&format=json", "application/json"),
        (
            Some("application/json"),
            "/?format=html",
            "text/html; charset=utf-8",
        ),
    ];
    for (accept, target, want) in cases {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        let reply = request(whoami.addr, "GET", target, &headers);
        assert_eq!(
            reply.header("content-type"),
            Some(want),
            "Accept {accept:?} {target}"
        );
    }
}

#[test]
fn health_follows_the_unhealthy_file() {
    let file = std::env::temp_dir().join(format!("whoami-unhealthy-{}", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let whoami = Whoami::start(&[("WHOAMI_UNHEALTHY_FILE", file.to_str().unwrap())], &[]);
    let health = || request(whoami.addr, "GET", "/health", &[]);

    let reply = health();
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, r#"{"status":"ok"}"#)
    );
    assert_eq!(reply.header("content-type"), Some("application/json"));

    std::fs::write(&file, "").unwrap();
    let reply = health();
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (503, r#"{"status":"unhealthy"}"#)
    );

    std::fs::remove_file(&file).unwrap();
    assert_eq!(health().status, 200);

    // Other methods on /health are ordinary requests.
    assert_eq!(request(whoami.addr, "POST", "/health", &[]).status, 200);
    let reply = request(whoami.addr, "POST", "/health?format=json", &[]);
    assert_eq!(reply.json()["request"]["method"], "POST");
}

#[test]
fn delay_waits_then_answers() {
    let whoami = Whoami::start(&[], &[]);
    let started = Instant::now();
    let answer = get_json(whoami.addr, "/delay?ms=300");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(answer["request"]["path"], "/delay");

    for bad in [
        "/delay",
        "/delay?ms=60001",
        "/delay?ms=-1",
        "/delay?ms=soon",
    ] {
        assert_eq!(request(whoami.addr, "GET", bad, &[]).status, 400, "{bad}");
    }
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let whoami = Whoami::start(&[], &[]);
    let mut conn = Conn::open(whoami.addr);
    for path in ["/one", "/two", "/three"] {
        conn.send("GET", path, &[("Accept", "application/json")], "");
        let answer = conn.receive().json();
        assert_eq!(answer["request"]["path"], path);
        assert_eq!(
            answer["request"]["remote_addr"],
            conn.local_addr().to_string()
        );
    }
}

#[tokio::test]
async fn h2c_with_prior_knowledge_is_served() {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let whoami = Whoami::start(&[], &[]);
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Empty<bytes::Bytes>>();
    let uri = format!("http://{}/h2?format=json", whoami.addr)
        .parse()
        .unwrap();
    let response = client.get(uri).await.expect("h2c request");
    assert_eq!(response.version(), hyper::Version::HTTP_2);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["request"]["version"], "HTTP/2.0");
    assert_eq!(answer["request"]["path"], "/h2");
}

#[test]
fn listen_flag_overrides_host_and_port() {
    let whoami = Whoami::start(
        &[("HOST", "127.0.0.1"), ("PORT", "1")],
        &["--listen", "127.0.0.3:0"],
    );
    assert_eq!(whoami.addr.ip().to_string(), "127.0.0.3");
    let answer = get_json(whoami.addr, "/");
    assert_eq!(answer["ip"], "127.0.0.3");
    assert_eq!(answer["port"], whoami.addr.port());
}

#[test]
fn bad_settings_exit_with_status_2() {
    let output = command(&[("PORT", "http")], &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(r#"PORT="http""#), "{stderr}");

    let output = command(&[], &["--listen", "nowhere"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn busy_address_exits_with_status_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = command(&[("PORT", &port)], &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}: ")),
        "{stderr}"
    );
}

#[test]
fn sigterm_finishes_in_flight_requests_then_exits_0() {
    let mut whoami = Whoami::start(&[], &[]);
    let addr = whoami.addr;

    // A first request makes sure the connection is accepted; the second one is the in-flight one.
    let (done_tx, done_rx) = mpsc::channel();
    let mut conn = Conn::open(addr);
    conn.send("GET", "/", &[], "");
    assert_eq!(conn.receive().status, 200);
    conn.send(
        "GET",
        "/delay?ms=1000",
        &[("Accept", "application/json")],
        "",
    );
    std::thread::spawn(move || {
        let reply = conn.receive();
        let _ = done_tx.send(reply);
    });
    // Long enough for the server to read the request line that was just written.
    std::thread::sleep(Duration::from_millis(200));
    whoami.signal("TERM");

    // The listener closes at once, while the delayed request is still running.
    let deadline = Instant::now() + Duration::from_secs(2);
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        done_rx.try_recv().is_err(),
        "delayed request ended before the listener closed"
    );

    let reply = done_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("in-flight reply");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["request"]["path"], "/delay");
    assert_eq!(whoami.wait_exit(Duration::from_secs(5)).code(), Some(0));
    // Without WHOAMI_LOG nothing is logged per request.
    assert_eq!(whoami.rest_of_stderr(), "");
}

#[test]
fn sigint_with_an_idle_keep_alive_connection_exits_0_at_once() {
    let mut whoami = Whoami::start(&[], &[]);
    let mut conn = Conn::open(whoami.addr);
    conn.send("GET", "/", &[], "");
    assert_eq!(conn.receive().status, 200);

    whoami.signal("INT");
    // Idle connections are closed, not waited on for the whole 10 s grace period.
    assert_eq!(whoami.wait_exit(Duration::from_secs(5)).code(), Some(0));
    assert!(conn.is_closed());
}

#[test]
fn whoami_log_writes_one_line_per_request() {
    let mut whoami = Whoami::start(&[("WHOAMI_LOG", "1")], &[]);
    let mut conn = Conn::open(whoami.addr);
    conn.send("PUT", "/logged?secret=1", &[], "abc");
    assert_eq!(conn.receive().status, 200);
    let line = whoami.next_log_line();
    let want = format!("albless-whoami {} PUT /logged 200 ", conn.local_addr());
    assert!(line.starts_with(&want), "{line:?}");
    assert!(line.ends_with("ms"), "{line:?}");

    assert_eq!(request(whoami.addr, "GET", "/health", &[]).status, 200);
    assert!(whoami.next_log_line().contains(" GET /health 200 "));
}

/// A one-shot stand-in for the ECS task metadata endpoint; sends back the request line it saw.
fn fake_metadata(task: serde_json::Value) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v4/abc", listener.local_addr().unwrap());
    let (seen_tx, seen_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 2 {
            line.clear();
        }
        let body = task.to_string();
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        reader.get_mut().write_all(response.as_bytes()).unwrap();
        let _ = seen_tx.send(request_line.trim_end().to_owned());
    });
    (base, seen_rx)
}

#[test]
fn task_arn_comes_from_the_metadata_endpoint_when_set() {
    let live_arn = "arn:aws:ecs:ap-northeast-3:000000000000:task/hello/live";
    let (base, seen) = fake_metadata(json!({ "Cluster": "hello", "TaskARN": live_arn }));
    let whoami = Whoami::start(
        &[
            ("ECS_CONTAINER_METADATA_URI_V4", &base),
            ("ALBLESS_TASK_ARN", TASK_ARN),
        ],
        &[],
    );
    let answer = get_json(whoami.addr, "/");
    assert_eq!(answer["task_arn"], live_arn);
    assert_eq!(
        seen.recv_timeout(Duration::from_secs(5)).unwrap(),
        "GET /v4/abc/task HTTP/1.1"
    );
    // The endpoint answered once and is gone now: the ARN it gave is kept, a task's ARN
    // does not change.
    assert_eq!(get_json(whoami.addr, "/")["task_arn"], live_arn);
}

#[test]
fn task_arn_falls_back_when_the_metadata_endpoint_fails() {
    // A port that was free a moment ago: connections are refused.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let base = format!("http://{closed}/v4/abc");
    let whoami = Whoami::start(
        &[
            ("ECS_CONTAINER_METADATA_URI_V4", &base),
            ("ALBLESS_TASK_ARN", TASK_ARN),
        ],
        &[],
    );
    assert_eq!(get_json(whoami.addr, "/")["task_arn"], TASK_ARN);

    // An endpoint that answers without a TaskARN counts as failing too.
    let (base, _seen) = fake_metadata(json!({ "Cluster": "hello" }));
    let whoami = Whoami::start(
        &[
            ("ECS_CONTAINER_METADATA_URI_V4", &base),
            ("ALBLESS_TASK_ARN", TASK_ARN),
        ],
        &[],
    );
    assert_eq!(get_json(whoami.addr, "/")["task_arn"], TASK_ARN);
}
