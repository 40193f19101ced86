use super::*;

fn identity() -> Identity {
    Identity {
        task_id: Some("0123456789abcdef0123456789abcdef".to_owned()),
        task_arn: Some("arn:aws:ecs:ap-northeast-3:000000000000:task/hello/0123".to_owned()),
        service: "backend".to_owned(),
        hostname: "box".to_owned(),
        pid: 42,
        greeting: Some("hello & <welcome>".to_owned()),
    }
}

fn request() -> RequestInfo {
    RequestInfo {
        method: "POST".to_owned(),
        path: "/a/b".to_owned(),
        query: Some("x=1&format=html".to_owned()),
        version: "HTTP/1.1".to_owned(),
        remote_addr: "127.0.0.1:5000".parse().unwrap(),
        headers: vec![
            ("host".to_owned(), "example".to_owned()),
            (
                "x-evil".to_owned(),
                "<script>alert('x')</script>".to_owned(),
            ),
            ("x-evil".to_owned(), "\"quoted\"".to_owned()),
        ],
        body_bytes: 7,
    }
}

#[test]
fn negotiate_by_accept_and_query() {
    #[track_caller]
    fn check(accept: Option<&str>, query: Option<&str>, want: Format) {
        assert_eq!(
            negotiate(accept, query),
            want,
            "accept={accept:?} query={query:?}"
        );
    }
    use Format::{Html, Json};

    check(None, None, Html);
    check(Some("*/*"), None, Html);
    check(Some("application/json"), None, Json);
    check(Some("Application/JSON; charset=utf-8"), None, Json);
    check(Some("application/json, text/html"), None, Json);
    check(Some("text/html, application/json"), None, Html);
    check(
        Some("text/html,application/xhtml+xml,*/*;q=0.8"),
        None,
        Html,
    );
    check(Some("text/html"), Some("format=json"), Json);
    check(None, Some("a=1&format=json"), Json);
    check(Some("application/json"), Some("format=html"), Html);
    // An unknown format falls back to the Accept header.
    check(Some("application/json"), Some("format=xml"), Json);
}

#[test]
fn query_param_finds_the_first_pair() {
    assert_eq!(query_param(Some("a=1&ms=250&ms=3"), "ms"), Some("250"));
    assert_eq!(query_param(Some("flag&b=2"), "flag"), Some(""));
    assert_eq!(query_param(Some("xms=1"), "ms"), None);
    assert_eq!(query_param(None, "ms"), None);
}

#[test]
fn escaped_replaces_the_five_special_characters() {
    let text = Escaped(r#"a&b<c>d"e'f"#).to_string();
    assert_eq!(text, "a&amp;b&lt;c&gt;d&quot;e&#39;f");
    assert_eq!(Escaped("plain é").to_string(), "plain é");
    assert_eq!(Escaped("").to_string(), "");
}

#[test]
fn json_has_every_key() {
    let (identity, request) = (identity(), request());
    let answer = Answer {
        identity: &identity,
        task_arn: Some("arn:from-metadata"),
        local_addr: "127.42.0.7:8080".parse().unwrap(),
        request: &request,
    };
    let want = json!({
        "task_id": "0123456789abcdef0123456789abcdef",
        "task_arn": "arn:from-metadata",
        "service": "backend",
        "ip": "127.42.0.7",
        "port": 8080,
        "hostname": "box",
        "pid": 42,
        "greeting": "hello & <welcome>",
        "request": {
            "method": "POST",
            "path": "/a/b",
            "query": "x=1&format=html",
            "version": "HTTP/1.1",
            "remote_addr": "127.0.0.1:5000",
            "headers": [
                ["host", "example"],
                ["x-evil", "<script>alert('x')</script>"],
                ["x-evil", "\"quoted\""],
            ],
            "body_bytes": 7,
        },
    });
    assert_eq!(answer.json(), want);
}

#[test]
fn json_uses_null_for_unknown_values() {
    let identity = Identity {
        task_id: None,
        task_arn: None,
        greeting: None,
        ..identity()
    };
    let request = RequestInfo {
        query: None,
        ..request()
    };
    let answer = Answer {
        identity: &identity,
        task_arn: None,
        local_addr: "127.0.0.1:1".parse().unwrap(),
        request: &request,
    };
    let json = answer.json();
    assert_eq!(json["task_id"], Value::Null);
    assert_eq!(json["task_arn"], Value::Null);
    assert_eq!(json["greeting"], Value::Null);
    assert_eq!(json["request"]["query"], Value::Null);
}

#[test]
fn html_escapes_everything_from_outside() {
    let (identity, request) = (identity(), request());
    let answer = Answer {
        identity: &identity,
        task_arn: identity.task_arn.as_deref(),
        local_addr: "127.42.0.7:8080".parse().unwrap(),
        request: &request,
    };
    let page = answer.html();

    assert!(
        page.contains("<h1>127.42.0.7<span class=\"port\">:8080</span></h1>"),
        "{page}"
    );
    assert!(page.contains("hello &amp; &lt;welcome&gt;"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
        "{page}"
    );
    assert!(page.contains("&quot;quoted&quot;"), "{page}");
    assert!(!page.contains("<script"), "{page}");
    assert!(page.contains("<tr><th>task id</th><td>0123456789abcdef0123456789abcdef</td></tr>"));
    assert!(
        page.contains("<tr><th>query</th><td>x=1&amp;format=html</td></tr>"),
        "{page}"
    );
    assert!(
        page.contains("<tr><th>body bytes</th><td>7</td></tr>"),
        "{page}"
    );
}

#[test]
fn html_leaves_out_unknown_task_id_arn_and_greeting() {
    let identity = Identity {
        task_id: None,
        task_arn: None,
        greeting: None,
        ..identity()
    };
    let request = request();
    let answer = Answer {
        identity: &identity,
        task_arn: None,
        local_addr: "127.0.0.1:1".parse().unwrap(),
        request: &request,
    };
    let page = answer.html();
    assert!(!page.contains("task id"), "{page}");
    assert!(!page.contains("task ARN"), "{page}");
    assert!(!page.contains("class=\"greeting\""), "{page}");
    assert!(
        page.contains("<tr><th>service</th><td>backend</td></tr>"),
        "{page}"
    );
}

#[test]
fn hue_differs_between_tasks() {
    let a = hue("127.42.0.7:8080".parse().unwrap());
    let b = hue("127.42.0.8:8080".parse().unwrap());
    assert!(a < 360 && b < 360);
    assert_ne!(a, b);
}
