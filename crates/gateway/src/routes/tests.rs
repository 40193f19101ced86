//! Route selection, table-driven through [`check`].

use super::*;

/// Builds a route from a key written as in albless.toml, parsed by the spec crate; the
/// service is the key itself, so a test can read which route won from the target.
fn route(key: &str) -> Route {
    let key: RouteKey = key
        .parse()
        .unwrap_or_else(|e| panic!("route key `{key}`: {e}"));
    Route::new(key.clone(), key.to_string())
}

/// Asserts that `request` ("METHOD /path") selects `want` ("" for no route) with
/// `params`, in a table of `routes`.
fn check(routes: &[&str], request: &str, want: &str, params: &[(&str, &str)]) {
    let routes: Vec<Route> = routes.iter().map(|r| route(r)).collect();
    let table = RouteTable::new(&routes, RouteTarget::plain);
    let (method, path) = request.split_once(' ').unwrap();
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let got = table.find(&method, path);
    match got {
        None => assert_eq!(want, "", "{request}: no route matched"),
        Some(m) => {
            assert_eq!(&*m.target.key, want, "{request}");
            assert_eq!(
                m.target.service, want,
                "{request}: the service follows the route"
            );
            assert_eq!(m.params, params, "{request}: parameters");
        }
    }
}

/// Expected path parameters, by name.
type Params = &'static [(&'static str, &'static str)];

/// The worked example of "Create routes for HTTP APIs" (aws-behavior.md §1.2).
const AWS_EXAMPLE: &[&str] = &[
    "GET /pets/dog/1",
    "GET /pets/dog/{id}",
    "GET /pets/{proxy+}",
    "ANY /{proxy+}",
    "$default",
];

#[test]
fn aws_docs_worked_example() {
    let cases: &[(&str, &str, Params)] = &[
        ("GET /pets/dog/1", "GET /pets/dog/1", &[]),
        ("GET /pets/dog/2", "GET /pets/dog/{id}", &[("id", "2")]),
        (
            "GET /pets/cat/1",
            "GET /pets/{proxy+}",
            &[("proxy", "cat/1")],
        ),
        ("POST /test/5", "ANY /{proxy+}", &[("proxy", "test/5")]),
        ("GET /", "$default", &[]),
    ];
    for (request, want, params) in cases {
        check(AWS_EXAMPLE, request, want, params);
    }
}

#[test]
fn precedence_rules() {
    let cases: &[(&[&str], &str, &str, Params)] = &[
        // A literal segment beats a parameter at the first depth where they differ,
        // whatever the file order.
        (&["GET /a/{x}", "GET /a/b"], "GET /a/b", "GET /a/b", &[]),
        (
            &["GET /{k}/b/c", "GET /a/{x}/{y}"],
            "GET /a/b/c",
            "GET /a/{x}/{y}",
            &[("x", "b"), ("y", "c")],
        ),
        // A full match beats a greedy one, even a longer-prefixed greedy one.
        (
            &["GET /a/{proxy+}", "GET /{x}/{y}"],
            "GET /a/b",
            "GET /{x}/{y}",
            &[("x", "a"), ("y", "b")],
        ),
        // Among greedy routes the longer literal prefix wins.
        (
            &["ANY /{proxy+}", "GET /a/{p+}", "GET /a/b/{p+}"],
            "GET /a/b/c",
            "GET /a/b/{p+}",
            &[("p", "c")],
        ),
        (
            &["ANY /{proxy+}", "GET /{x}/{p+}"],
            "GET /a/b",
            "GET /{x}/{p+}",
            &[("x", "a"), ("p", "b")],
        ),
        // An explicit method beats ANY on the same path; ANY takes the other methods.
        (&["ANY /a", "GET /a"], "GET /a", "GET /a", &[]),
        (&["GET /a", "ANY /a"], "DELETE /a", "ANY /a", &[]),
        // Path specificity comes before the method.
        (&["GET /{x}", "ANY /a"], "GET /a", "ANY /a", &[]),
        // Greedy beats $default.
        (
            &["$default", "ANY /{proxy+}"],
            "PATCH /x",
            "ANY /{proxy+}",
            &[("proxy", "x")],
        ),
        // The root has no segments.
        (&["GET /", "GET /{x}"], "GET /", "GET /", &[]),
    ];
    for (routes, request, want, params) in cases {
        check(routes, request, want, params);
    }
}

#[test]
fn what_does_not_match() {
    let cases: &[(&[&str], &str, &str)] = &[
        // Nothing and no $default: 404.
        (&["GET /a"], "GET /b", ""),
        (&[], "GET /", ""),
        // Methods match exactly: HEAD does not select a GET route.
        (&["GET /a"], "HEAD /a", ""),
        // `{proxy+}` needs at least one segment [INF].
        (&["ANY /{proxy+}"], "GET /", ""),
        (&["GET /a/{proxy+}"], "GET /a", ""),
        (&["GET /a/{proxy+}"], "GET /a/", ""),
        // A full route must use up the path; `{x}` is one non-empty segment.
        (&["GET /a"], "GET /a/b", ""),
        (&["GET /a/b"], "GET /a", ""),
        (&["GET /a/{x}"], "GET /a/", ""),
        (&["GET /{x}"], "GET /a/b", ""),
        // Literals are case-sensitive, as HTTP API paths are.
        (&["GET /Pets"], "GET /pets", ""),
        // A request path that is not origin-form (`OPTIONS *`) selects nothing, not even
        // $default.
        (&["$default"], "OPTIONS *", ""),
    ];
    for (routes, request, want) in cases {
        check(routes, request, want, &[]);
    }
}

#[test]
fn default_alone_catches_everything() {
    for request in ["GET /", "POST /a/b?c", "DELETE /x/", "HEAD /"] {
        check(&["$default"], request, "$default", &[]);
    }
}
