//! The conformance table: one row per behaviour of HTTP API the gateway emulates
//! (issue #3, aws-behavior.md §1, §2, §6), each run through [`check`] against a real
//! gateway on port 0 and a real backend on a loopback address.
//!
//! A row is a configuration (routes and settings), a request, and what the client must
//! see: status, headers (or their absence), body, and for proxied requests what the
//! backend received. Every row also checks `apigw-requestid`.
//!
//! Behaviours that need several requests or time (throttling over time, the access log,
//! discovery lag, retries, ejection) have their own tests after the table.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use albless_gateway::GatewayConfig;
use albless_spec::{
    AccessLog, Cors, Outlier, ParamAction, ParamMapping, ParamTarget, Route, Stage, Throttle,
};
use bytes::Bytes;
use http::{Request, StatusCode, Version};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;

use support::{Answer, Backend, Body, Harness, NS, empty, full, route};

const NOT_FOUND: &str = r#"{"message":"Not Found"}"#;
const UNAVAILABLE: &str = r#"{"message":"Service Unavailable"}"#;
const TOO_MANY: &str = r#"{"message":"Too Many Requests"}"#;

/// One row of the table.
struct Row {
    /// What the row shows.
    name: &'static str,
    /// Route keys, all to the test service.
    routes: &'static [&'static str],
    /// Changes to the default configuration (mappings, stage, CORS, ...).
    setup: fn(&mut GatewayConfig),
    /// Whether a backend instance is registered.
    instance: bool,
    /// `METHOD /path?query`.
    request: &'static str,
    /// Request headers.
    headers: &'static [(&'static str, &'static str)],
    /// Request body size in bytes (a body of `x`).
    body: usize,
    /// Send over HTTP/2 with prior knowledge instead of HTTP/1.1.
    h2: bool,
    /// Expected status.
    status: u16,
    /// Expected response headers; `None` means absent.
    want_headers: &'static [(&'static str, Option<&'static str>)],
    /// Expected body, exactly (gateway answers).
    want_body: Option<&'static str>,
    /// Expected request line at the backend (`METHOD path?query`).
    backend_line: Option<&'static str>,
    /// Expected headers at the backend; `None` means absent.
    backend_headers: &'static [(&'static str, Option<&'static str>)],
}

const ROW: Row = Row {
    name: "",
    routes: &["$default"],
    setup: |_| {},
    instance: true,
    request: "GET /",
    headers: &[],
    body: 0,
    h2: false,
    status: 200,
    want_headers: &[],
    want_body: None,
    backend_line: None,
    backend_headers: &[],
};

/// Tags every route's 200 responses with `x-route-key: $context.routeKey`, so a row can
/// read which route a request selected.
fn tag_routes(config: &mut GatewayConfig) {
    for route in &mut config.routes {
        route.response_parameters.insert(
            200,
            vec![mapping(
                ParamAction::Overwrite,
                ParamTarget::Header("x-route-key".into()),
                "$context.routeKey",
            )],
        );
    }
}

fn mapping(action: ParamAction, target: ParamTarget, value: &str) -> ParamMapping {
    ParamMapping {
        action,
        target,
        value: value.into(),
    }
}

fn route_mut<'c>(config: &'c mut GatewayConfig, key: &str) -> &'c mut Route {
    config
        .routes
        .iter_mut()
        .find(|r| r.key.to_string() == key)
        .unwrap()
}

fn cors() -> Cors {
    Cors {
        allow_origins: vec!["https://app.example".into()],
        allow_methods: vec!["GET".into(), "POST".into()],
        allow_headers: vec!["content-type".into(), "x-api-key".into()],
        expose_headers: vec!["x-backend".into()],
        allow_credentials: true,
        max_age: Some(300),
    }
}

const AWS_EXAMPLE: &[&str] = &[
    "GET /pets/dog/1",
    "GET /pets/dog/{id}",
    "GET /pets/{proxy+}",
    "ANY /{proxy+}",
    "$default",
];

fn rows() -> Vec<Row> {
    vec![
        // --- Routes (§1.2): the worked example of "Create routes for HTTP APIs".
        Row {
            name: "aws example: exact route",
            routes: AWS_EXAMPLE,
            setup: tag_routes,
            request: "GET /pets/dog/1",
            want_headers: &[("x-route-key", Some("GET /pets/dog/1"))],
            backend_line: Some("GET /pets/dog/1"),
            ..ROW
        },
        Row {
            name: "aws example: {id} route",
            routes: AWS_EXAMPLE,
            setup: tag_routes,
            request: "GET /pets/dog/2",
            want_headers: &[("x-route-key", Some("GET /pets/dog/{id}"))],
            ..ROW
        },
        Row {
            name: "aws example: greedy route",
            routes: AWS_EXAMPLE,
            setup: tag_routes,
            request: "GET /pets/cat/1",
            want_headers: &[("x-route-key", Some("GET /pets/{proxy+}"))],
            ..ROW
        },
        Row {
            name: "aws example: ANY greedy beats $default",
            routes: AWS_EXAMPLE,
            setup: tag_routes,
            request: "POST /test/5",
            want_headers: &[("x-route-key", Some("ANY /{proxy+}"))],
            ..ROW
        },
        Row {
            name: "aws example: $default catches the rest",
            routes: AWS_EXAMPLE,
            setup: tag_routes,
            request: "GET /",
            want_headers: &[("x-route-key", Some("$default"))],
            ..ROW
        },
        Row {
            name: "explicit method beats ANY",
            routes: &["ANY /a", "GET /a"],
            setup: tag_routes,
            request: "GET /a",
            want_headers: &[("x-route-key", Some("GET /a"))],
            ..ROW
        },
        Row {
            name: "literal beats {param} at the same depth",
            routes: &["GET /a/{x}", "GET /a/b"],
            setup: tag_routes,
            request: "GET /a/b",
            want_headers: &[("x-route-key", Some("GET /a/b"))],
            ..ROW
        },
        Row {
            name: "no route: 404",
            routes: &["GET /pets/{id}"],
            request: "GET /cats/1",
            status: 404,
            want_headers: &[("content-type", Some("application/json"))],
            want_body: Some(NOT_FOUND),
            ..ROW
        },
        Row {
            name: "path parameters are parsed",
            routes: &["GET /pets/{id}/{rest+}"],
            setup: |c| {
                route_mut(c, "GET /pets/{id}/{rest+}").request_parameters = vec![mapping(
                    ParamAction::Overwrite,
                    ParamTarget::Header("x-pet".into()),
                    "id=$request.path.id rest=$request.path.rest",
                )];
            },
            request: "GET /pets/7/toys/ball",
            backend_headers: &[("x-pet", Some("id=7 rest=toys/ball"))],
            ..ROW
        },
        // --- Stages (§1.1, §1.3, §6.13).
        Row {
            name: "named stage: prefix required, and sent to the backend",
            routes: &["GET /pets/{id}"],
            setup: |c| c.stage = Stage::Named("prod".into()),
            request: "GET /prod/pets/1?x=1",
            backend_line: Some("GET /prod/pets/1?x=1"),
            ..ROW
        },
        Row {
            name: "named stage: a path without it is not found",
            routes: &["$default"],
            setup: |c| c.stage = Stage::Named("prod".into()),
            request: "GET /pets/1",
            status: 404,
            want_body: Some(NOT_FOUND),
            ..ROW
        },
        Row {
            name: "named stage: a longer first segment is another stage",
            routes: &["$default"],
            setup: |c| c.stage = Stage::Named("prod".into()),
            request: "GET /production/x",
            status: 404,
            want_body: Some(NOT_FOUND),
            ..ROW
        },
        Row {
            name: "named stage: overwrite:path $request.path drops the prefix",
            routes: &["ANY /{proxy+}"],
            setup: |c| {
                c.stage = Stage::Named("prod".into());
                route_mut(c, "ANY /{proxy+}").request_parameters = vec![mapping(
                    ParamAction::Overwrite,
                    ParamTarget::Path,
                    "$request.path",
                )];
            },
            request: "POST /prod/webhook/telegram?a=1",
            backend_line: Some("POST /webhook/telegram?a=1"),
            ..ROW
        },
        Row {
            name: "$default stage: no prefix, $context.stage is $default",
            routes: &["$default"],
            setup: |c| {
                route_mut(c, "$default").request_parameters = vec![mapping(
                    ParamAction::Append,
                    ParamTarget::Header("x-stage".into()),
                    "$context.stage",
                )];
            },
            request: "GET /store/checkout",
            backend_line: Some("GET /store/checkout"),
            backend_headers: &[("x-stage", Some("$default"))],
            ..ROW
        },
        // --- Request parameter mapping (§1.4).
        Row {
            name: "request headers: append, overwrite, remove",
            setup: |c| {
                route_mut(c, "$default").request_parameters = vec![
                    mapping(
                        ParamAction::Append,
                        ParamTarget::Header("x-added".into()),
                        "from $request.header.x-in",
                    ),
                    mapping(
                        ParamAction::Overwrite,
                        ParamTarget::Header("x-replaced".into()),
                        "new",
                    ),
                    mapping(
                        ParamAction::Remove,
                        ParamTarget::Header("x-secret".into()),
                        "''",
                    ),
                    mapping(
                        ParamAction::Append,
                        ParamTarget::Header("x-request-id".into()),
                        "$context.requestId",
                    ),
                ];
            },
            headers: &[("x-in", "client"), ("x-replaced", "old"), ("x-secret", "s")],
            backend_headers: &[
                ("x-added", Some("from client")),
                ("x-replaced", Some("new")),
                ("x-secret", None),
            ],
            ..ROW
        },
        Row {
            name: "query string: append, overwrite, remove",
            setup: |c| {
                route_mut(c, "$default").request_parameters = vec![
                    mapping(
                        ParamAction::Append,
                        ParamTarget::QueryString("added".into()),
                        "a b",
                    ),
                    mapping(
                        ParamAction::Overwrite,
                        ParamTarget::QueryString("mode".into()),
                        "$request.querystring.old",
                    ),
                    mapping(
                        ParamAction::Remove,
                        ParamTarget::QueryString("old".into()),
                        "",
                    ),
                ];
            },
            request: "GET /q?mode=x&old=v%201&keep=1",
            backend_line: Some("GET /q?keep=1&added=a%20b&mode=v%201"),
            ..ROW
        },
        Row {
            name: "overwrite:path with a path parameter",
            routes: &["GET /api/{proxy+}"],
            setup: |c| {
                route_mut(c, "GET /api/{proxy+}").request_parameters = vec![mapping(
                    ParamAction::Overwrite,
                    ParamTarget::Path,
                    "/v2/$request.path.proxy",
                )];
            },
            request: "GET /api/users/1?x=y",
            backend_line: Some("GET /v2/users/1?x=y"),
            ..ROW
        },
        // --- Response parameter mapping (§1.4), by the backend's status.
        Row {
            name: "response: status code and headers for 200",
            setup: |c| {
                route_mut(c, "$default").response_parameters = BTreeMap::from([
                    (
                        200,
                        vec![
                            mapping(ParamAction::Overwrite, ParamTarget::StatusCode, "201"),
                            mapping(
                                ParamAction::Append,
                                ParamTarget::Header("x-copied".into()),
                                "$response.header.x-backend",
                            ),
                            mapping(
                                ParamAction::Remove,
                                ParamTarget::Header("x-internal".into()),
                                "",
                            ),
                        ],
                    ),
                    (
                        404,
                        vec![mapping(
                            ParamAction::Overwrite,
                            ParamTarget::StatusCode,
                            "410",
                        )],
                    ),
                ]);
            },
            headers: &[("x-respond", "x-internal=1")],
            status: 201,
            want_headers: &[("x-copied", Some("a")), ("x-internal", None)],
            ..ROW
        },
        // --- CORS (§1.7, §6.11).
        Row {
            name: "cors: preflight answered by the gateway, even with no OPTIONS route",
            routes: &["GET /pets"],
            setup: |c| c.cors = Some(cors()),
            instance: false,
            request: "OPTIONS /pets",
            headers: &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "POST"),
            ],
            status: 204,
            want_headers: &[
                ("access-control-allow-origin", Some("https://app.example")),
                ("access-control-allow-methods", Some("GET,POST")),
                (
                    "access-control-allow-headers",
                    Some("content-type,x-api-key"),
                ),
                ("access-control-allow-credentials", Some("true")),
                ("access-control-max-age", Some("300")),
                ("access-control-expose-headers", None),
            ],
            want_body: Some(""),
            ..ROW
        },
        Row {
            name: "cors: preflight from an origin not allowed gets no CORS headers",
            setup: |c| c.cors = Some(cors()),
            request: "OPTIONS /",
            headers: &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "GET"),
            ],
            status: 204,
            want_headers: &[
                ("access-control-allow-origin", None),
                ("access-control-allow-methods", None),
            ],
            ..ROW
        },
        Row {
            name: "cors: OPTIONS without Access-Control-Request-Method is proxied",
            setup: |c| c.cors = Some(cors()),
            request: "OPTIONS /",
            headers: &[("origin", "https://app.example")],
            backend_line: Some("OPTIONS /"),
            ..ROW
        },
        Row {
            name: "cors: actual request gets the headers, the backend's are overridden",
            setup: |c| c.cors = Some(cors()),
            headers: &[
                ("origin", "https://app.example"),
                (
                    "x-respond",
                    "access-control-allow-origin=https://evil.example",
                ),
                ("x-respond", "access-control-allow-methods=DELETE"),
            ],
            want_headers: &[
                ("access-control-allow-origin", Some("https://app.example")),
                ("access-control-expose-headers", Some("x-backend")),
                ("access-control-allow-credentials", Some("true")),
                ("access-control-allow-methods", None),
            ],
            ..ROW
        },
        Row {
            name: "cors: no Origin, no CORS headers",
            setup: |c| c.cors = Some(cors()),
            headers: &[("x-respond", "access-control-allow-origin=*")],
            want_headers: &[
                ("access-control-allow-origin", None),
                ("access-control-expose-headers", None),
            ],
            ..ROW
        },
        Row {
            name: "cors: allowOrigins * answers *",
            setup: |c| {
                c.cors = Some(Cors {
                    allow_origins: vec!["*".into()],
                    ..Cors::default()
                })
            },
            headers: &[("origin", "https://any.example")],
            want_headers: &[
                ("access-control-allow-origin", Some("*")),
                ("access-control-allow-credentials", None),
            ],
            ..ROW
        },
        Row {
            name: "cors: gateway errors get the headers too",
            routes: &["GET /only"],
            setup: |c| c.cors = Some(cors()),
            headers: &[("origin", "https://app.example")],
            status: 404,
            want_headers: &[("access-control-allow-origin", Some("https://app.example"))],
            want_body: Some(NOT_FOUND),
            ..ROW
        },
        // --- Headers to the backend (§1.3, §6.9).
        Row {
            name: "forwarded, via, host rewritten, hop-by-hop removed",
            headers: &[
                ("host", "api.example.test"),
                ("connection", "x-hop"),
                ("x-hop", "1"),
                ("te", "trailers"),
            ],
            backend_headers: &[
                (
                    "forwarded",
                    Some("by=127.0.0.1;for=127.0.0.1;host=api.example.test;proto=http"),
                ),
                ("via", Some("HTTP/1.1 AmazonAPIGateway")),
                ("x-hop", None),
                ("te", None),
                ("connection", None),
            ],
            ..ROW
        },
        Row {
            name: "h2c client, HTTP/1.1 to the instance",
            h2: true,
            request: "GET /h2?x=1",
            backend_line: Some("GET /h2?x=1"),
            backend_headers: &[("via", Some("HTTP/1.1 AmazonAPIGateway"))],
            ..ROW
        },
        // --- Limits and errors (§1.5, §1.6, §6.8, §6.14, §6.15).
        Row {
            name: "payload over 10 MB (declared): 413",
            request: "POST /drain",
            body: 10 * 1024 * 1024 + 1,
            status: 413,
            want_body: Some("HTTP content length exceeded 10485760 bytes."),
            ..ROW
        },
        Row {
            name: "payload of exactly 10 MB passes",
            request: "POST /drain",
            body: 10 * 1024 * 1024,
            ..ROW
        },
        Row {
            name: "request line + header values of 10,240 bytes pass",
            request: "GET /big",
            // "GET /big HTTP/1.1" (17) + host (1) + 10,222.
            headers: &[("host", "h"), ("x-big", BIG_10222)],
            ..ROW
        },
        Row {
            name: "request line + header values of 10,241 bytes: 431",
            request: "GET /big",
            headers: &[("host", "h"), ("x-big", BIG_10223)],
            status: 431,
            want_body: Some("HTTP header is larger than 10240 bytes."),
            ..ROW
        },
        Row {
            name: "integration timeout (route timeout_ms): 503",
            setup: |c| route_mut(c, "$default").timeout = Some(Duration::from_millis(100)),
            request: "GET /hold",
            status: 503,
            want_body: Some(UNAVAILABLE),
            ..ROW
        },
        Row {
            name: "route throttle with an empty bucket: 429",
            routes: &["GET /a"],
            setup: |c| {
                route_mut(c, "GET /a").throttle = Some(Throttle {
                    rate: 1.0,
                    burst: 0,
                })
            },
            request: "GET /a",
            status: 429,
            want_headers: &[("content-type", Some("application/json"))],
            want_body: Some(TOO_MANY),
            ..ROW
        },
        Row {
            name: "default throttle applies to routes without their own",
            routes: &["GET /a", "GET /b"],
            setup: |c| {
                c.throttle = Some(Throttle {
                    rate: 1.0,
                    burst: 0,
                });
                route_mut(c, "GET /b").throttle = Some(Throttle {
                    rate: 100.0,
                    burst: 10,
                });
            },
            request: "GET /a",
            status: 429,
            want_body: Some(TOO_MANY),
            ..ROW
        },
        Row {
            name: "a route's own throttle overrides the default",
            routes: &["GET /a", "GET /b"],
            setup: |c| {
                c.throttle = Some(Throttle {
                    rate: 1.0,
                    burst: 0,
                });
                route_mut(c, "GET /b").throttle = Some(Throttle {
                    rate: 100.0,
                    burst: 10,
                });
            },
            request: "GET /b",
            ..ROW
        },
        Row {
            name: "no healthy instance: 503",
            instance: false,
            status: 503,
            want_body: Some(UNAVAILABLE),
            ..ROW
        },
    ]
}

const BIG_10222: &str = {
    const B: [u8; 10_222] = [b'x'; 10_222];
    match std::str::from_utf8(&B) {
        Ok(s) => s,
        Err(_) => panic!(),
    }
};
const BIG_10223: &str = {
    const B: [u8; 10_223] = [b'x'; 10_223];
    match std::str::from_utf8(&B) {
        Ok(s) => s,
        Err(_) => panic!(),
    }
};

#[tokio::test]
async fn conformance_table() {
    let backend = Backend::start("127.0.0.2", "a").await;
    let mut ids = HashSet::new();
    for row in rows() {
        let id = check(&row, backend.addr).await;
        assert!(ids.insert(id), "{}: request id repeated", row.name);
    }
}

/// Runs one row against a fresh gateway; returns the response's request id.
async fn check(row: &Row, backend: SocketAddr) -> String {
    let name = row.name;
    let mut config = GatewayConfig::new(NS, row.routes.iter().map(|r| route(r)).collect());
    (row.setup)(&mut config);
    let gw = Harness::with_config(config).await;
    if row.instance {
        gw.register("a", backend);
    }

    let (method, path) = row.request.split_once(' ').unwrap();
    let body: Body = if row.body == 0 {
        empty()
    } else {
        full(Bytes::from(vec![b'x'; row.body]))
    };
    let mut req = Request::builder().method(method).uri(gw.url(path));
    for (k, v) in row.headers {
        req = req.header(*k, *v);
    }
    let req = req.body(body).unwrap();
    let response = if row.h2 {
        let client: Client<_, Body> = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http();
        let response = client.request(req).await.unwrap();
        assert_eq!(response.version(), Version::HTTP_2, "{name}");
        response
    } else {
        gw.send(req).await
    };
    let answer = Answer::read(response).await;

    assert_eq!(answer.status.as_u16(), row.status, "{name}: {answer:?}");
    let id = answer.header("apigw-requestid").to_string();
    assert_eq!(id.len(), 16, "{name}: apigw-requestid");
    for (k, want) in row.want_headers {
        let got = answer.headers.get(*k).map(|v| v.to_str().unwrap());
        assert_eq!(got, *want, "{name}: response header {k}");
    }
    if let Some(body) = row.want_body {
        assert_eq!(answer.body, body, "{name}: body");
        if !body.is_empty() {
            assert_eq!(
                answer.header("content-length"),
                body.len().to_string(),
                "{name}"
            );
        }
    }
    if let Some(line) = row.backend_line {
        assert_eq!(answer.request_line(), line, "{name}: backend request line");
    }
    for (k, want) in row.backend_headers {
        assert_eq!(answer.seen(k), *want, "{name}: backend header {k}");
    }
    if row.body > 0 && row.status == 200 {
        assert_eq!(
            answer.body,
            row.body.to_string(),
            "{name}: bytes the backend read"
        );
    }
    id
}

/// A chunked body (no `Content-Length`) is cut off once it passes 10 MB: 413 if the
/// backend had not answered yet.
#[tokio::test]
async fn streamed_payload_over_10_mb_is_413() {
    use futures_util::stream;
    use http_body_util::StreamBody;
    use hyper::body::Frame;

    let backend = Backend::start("127.0.0.1", "a").await;
    let gw = Harness::default_route().await;
    gw.register("a", backend.addr);
    let chunks = (0..11).map(|_| {
        Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(vec![0u8; 1024 * 1024])))
    });
    let body = Body::new(StreamBody::new(stream::iter(chunks)));
    let req = Request::post("/drain").body(body).unwrap();
    let answer = Answer::read(gw.send(req).await).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{answer:?}");
    assert_eq!(answer.body, "HTTP content length exceeded 10485760 bytes.");
}

/// A bucket admits its burst at once, then refills at its rate (§1.5).
#[tokio::test]
async fn throttle_admits_the_burst_then_429() {
    let backend = Backend::start("127.0.0.1", "a").await;
    let mut config = GatewayConfig::new(NS, vec![route("GET /a"), route("GET /b")]);
    config.throttle = Some(Throttle {
        rate: 0.001,
        burst: 3,
    });
    let gw = Harness::with_config(config).await;
    gw.register("a", backend.addr);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(gw.get("/a").await.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    // Each route has its own bucket; 404s are not throttled.
    assert_eq!(gw.get("/b").await.status, StatusCode::OK);
    assert_eq!(gw.get("/c").await.status, StatusCode::NOT_FOUND);
}

/// One line per request, unset variables as `-`, written when the response is sent.
#[tokio::test]
async fn access_log_lines_from_context_variables() {
    let dir = std::env::temp_dir().join(format!("albless-gw-log-{}", std::process::id()));
    let file = dir.join("access.log");
    let _ = std::fs::remove_file(&file);
    let backend = Backend::start("127.0.0.1", "a").await;
    let mut config = GatewayConfig::new(NS, vec![route("GET /pets/{id}")]);
    config.access_log = Some(AccessLog {
        format: "$context.requestId $context.httpMethod $context.path $context.routeKey \
                 $context.status $context.responseLength $context.integrationStatus \
                 $context.error.responseType $context.apiId $context.protocol"
            .into(),
        file: Some(file.clone()),
    });
    let gw = Harness::with_config(config).await;
    gw.register("a", backend.addr);

    let ok = gw.get("/pets/7").await;
    let missing = gw.get("/cats").await;
    let want = [
        format!(
            "{} GET /pets/7 GET /pets/{{id}} 200 {} 200 - - HTTP/1.1",
            ok.header("apigw-requestid"),
            ok.body.len()
        ),
        format!(
            "{} GET /cats - 404 23 - RESOURCE_NOT_FOUND - HTTP/1.1",
            missing.header("apigw-requestid")
        ),
    ];
    // The writer flushes as soon as its queue is empty.
    let mut lines = Vec::new();
    for _ in 0..200 {
        lines = std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        if lines.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(lines, want);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The default format is the console's CLF preset (§1.8).
#[tokio::test]
async fn access_log_default_format_is_clf() {
    let dir = std::env::temp_dir().join(format!("albless-gw-clf-{}", std::process::id()));
    let file = dir.join("access.log");
    let _ = std::fs::remove_file(&file);
    let backend = Backend::start("127.0.0.1", "a").await;
    let mut config = GatewayConfig::new(NS, vec![route("$default")]);
    config.access_log = Some(AccessLog {
        format: albless_spec::DEFAULT_ACCESS_LOG_FORMAT.into(),
        file: Some(file.clone()),
    });
    let gw = Harness::with_config(config).await;
    gw.register("a", backend.addr);
    let ok = gw.get("/x").await;
    let mut text = String::new();
    for _ in 0..200 {
        text = std::fs::read_to_string(&file).unwrap_or_default();
        if !text.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let line = text.lines().next().unwrap();
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    let want = format!(
        "] \"GET $default HTTP/1.1\" 200 {} {}",
        ok.body.len(),
        ok.header("apigw-requestid")
    );
    assert!(line.ends_with(&want), "{line}\nwanted the end {want}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// With a lag, a deregistered instance keeps getting requests until the lag has passed
/// (§2.2, I-1639); with none (the default, tested in proxy.rs) it stops at once.
#[tokio::test]
async fn discovery_lag_keeps_a_deregistered_instance_for_a_while() {
    let a = Backend::start("127.0.0.1", "a").await;
    let b = Backend::start("127.0.0.2", "b").await;
    let mut config = GatewayConfig::new(NS, vec![route("$default")]);
    let lag = Duration::from_millis(600);
    config.discovery_lag = lag;
    let gw = Harness::with_config(config).await;
    gw.register("a", a.addr);
    gw.register("b", b.addr);

    // The registrations themselves show up only after the lag.
    assert_eq!(gw.get("/").await.status, StatusCode::SERVICE_UNAVAILABLE);
    tokio::time::sleep(lag + Duration::from_millis(200)).await;
    let mut seen = HashSet::new();
    while seen.len() < 2 {
        seen.insert(gw.get("/").await.header("x-backend").to_string());
    }

    gw.registry
        .deregister_instance(NS, support::SERVICE, "a")
        .unwrap();
    let deregistered = tokio::time::Instant::now();
    let mut stale = 0;
    for _ in 0..40 {
        if gw.get("/").await.header("x-backend") == "a" {
            stale += 1;
        }
    }
    assert!(
        deregistered.elapsed() < lag,
        "the requests took longer than the lag; the check is void"
    );
    assert!(stale > 0, "no request went to the deregistered instance");
    tokio::time::sleep(lag).await;
    for _ in 0..40 {
        assert_eq!(gw.get("/").await.header("x-backend"), "b");
    }
}

/// An address where nothing listens.
async fn closed_port(ip: &str) -> SocketAddr {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    listener.local_addr().unwrap()
}

/// Opt-in: an idempotent request whose connection is refused goes to another instance;
/// without the option, or for a POST, the client gets AWS's 503 (§6.3).
#[tokio::test]
async fn retry_on_refused_connection_is_opt_in() {
    let live = Backend::start("127.0.0.1", "live").await;
    let dead = closed_port("127.0.0.3").await;
    for retry in [false, true] {
        let mut config = GatewayConfig::new(NS, vec![route("$default")]);
        config.retry_connect_failures = retry;
        let gw = Harness::with_config(config).await;
        gw.register("live", live.addr);
        gw.register("dead", dead);
        let mut gets = HashSet::new();
        let mut posts = HashSet::new();
        for _ in 0..40 {
            gets.insert(gw.get("/").await.status.as_u16());
            let post = Request::post("/").body(full("x")).unwrap();
            posts.insert(gw.send(post).await.status().as_u16());
        }
        if retry {
            assert_eq!(gets, HashSet::from([200]), "GET with retries");
        } else {
            assert_eq!(gets, HashSet::from([200, 503]), "GET without retries");
        }
        assert_eq!(posts, HashSet::from([200, 503]), "POST, retry {retry}");
    }
}

/// Opt-in: after `consecutive_failures` connection failures an instance gets no traffic
/// for `eject`.
#[tokio::test]
async fn passive_health_ejects_a_failing_instance() {
    let live = Backend::start("127.0.0.1", "live").await;
    let dead = closed_port("127.0.0.3").await;
    let mut config = GatewayConfig::new(NS, vec![route("$default")]);
    config.outlier = Some(Outlier {
        consecutive_failures: 2,
        eject: Duration::from_secs(60),
    });
    let gw = Harness::with_config(config).await;
    gw.register("live", live.addr);
    gw.register("dead", dead);

    let mut failures = 0;
    let mut after = Vec::new();
    for _ in 0..60 {
        let status = gw.get("/").await.status.as_u16();
        if failures < 2 {
            if status == 503 {
                failures += 1;
            }
        } else {
            after.push(status);
        }
    }
    assert_eq!(failures, 2, "the dead instance was never picked");
    assert!(after.iter().all(|s| *s == 200), "{after:?}");
}
