//! `[api]` and route tables: each new check, located.

use super::*;

/// Lines 1-9: a valid file with a `$default` route; what follows starts on line 10.
macro_rules! base {
    () => {
        concat!(head!(), web!(), routes!())
    };
}
/// Lines 1-9: a valid file whose only route is `GET /u/{id}` (its table on lines 8-9).
macro_rules! user {
    () => {
        concat!(
            head!(),
            web!(),
            "[api.routes.\"GET /u/{id}\"]\nservice = \"web\"\n"
        )
    };
}

#[rustfmt::skip]
const BAD: &[Row] = &[
    // Stage, timeouts, retries.
    (concat!(base!(), "[api]\nstage = \"my stage\"\n"), 11, 9, "api.stage", "invalid stage name"),
    (concat!(base!(), "[api]\nintegration_timeout_ms = 40\n"),
        11, 26, "api.integration_timeout_ms", "between 50 and 30000, found 40"),
    (concat!(base!(), "[api]\ndiscovery_lag_ms = 600001\n"),
        11, 20, "api.discovery_lag_ms", "between 0 and 600000"),
    (concat!(base!(), "[api]\nretry_connect_failures = \"yes\"\n"),
        11, 26, "api.retry_connect_failures", "expected a boolean, found a string"),
    (concat!(base!(), "[api]\nstagee = \"x\"\n"), 11, 1, "api.stagee", "unknown key `stagee`"),
    // Outlier detection.
    (concat!(base!(), "[api.outlier]\nconsecutive_failures = 0\n"),
        11, 24, "api.outlier.consecutive_failures", "between 1 and 100"),
    (concat!(base!(), "[api.outlier]\neject_ms = 999\n"),
        11, 12, "api.outlier.eject_ms", "between 1000 and 3600000"),
    (concat!(base!(), "[api.outlier]\neject = 1000\n"), 11, 1, "api.outlier.eject", "unknown key"),
    // CORS.
    (concat!(base!(), "[api.cors]\nallow_origins = [\"*\"]\nallow_credentials = true\n"),
        12, 21, "api.cors.allow_credentials", "not supported when allow_origins has `*`"),
    (concat!(base!(), "[api.cors]\nallow_origins = [\"example.com\"]\n"),
        11, 18, "api.cors.allow_origins[0]", "not `*` or an origin"),
    (concat!(base!(), "[api.cors]\nallow_methods = [\"GET\", \"get\"]\n"),
        11, 25, "api.cors.allow_methods[1]", "an HTTP method in upper case"),
    (concat!(base!(), "[api.cors]\nallow_headers = [\"x y\"]\n"),
        11, 18, "api.cors.allow_headers[0]", "not `*` or a header name"),
    (concat!(base!(), "[api.cors]\nexpose_headers = \"x\"\n"),
        11, 18, "api.cors.expose_headers", "expected an array of strings"),
    (concat!(base!(), "[api.cors]\nmax_age = 86401\n"), 11, 11, "api.cors.max_age", "between -1 and 86400"),
    (concat!(base!(), "[api.cors]\nallow_origin = [\"*\"]\n"),
        11, 1, "api.cors.allow_origin", "unknown key"),
    // Default throttling.
    (concat!(base!(), "[api.throttle]\nrate = 0\nburst = 1\n"),
        11, 8, "api.throttle.rate", "must be greater than 0"),
    (concat!(base!(), "[api.throttle]\nrate = 1\nburst = -1\n"),
        12, 9, "api.throttle.burst", "between 0 and 2147483647"),
    (concat!(base!(), "[api.throttle]\nrate = 1.5\n"),
        10, 1, "api.throttle.burst", "missing required field `burst`"),
    (concat!(base!(), "[api.throttle]\nrate = \"fast\"\nburst = 1\n"),
        11, 8, "api.throttle.rate", "expected a number, found a string"),
    (concat!(base!(), "[api.throttle]\nrate = nan\nburst = 1\n"),
        11, 8, "api.throttle.rate", "must be a finite number"),
    // Access log.
    (concat!(base!(), "[api.access_log]\nformat = \"$context.status\"\n"),
        11, 10, "api.access_log.format", "must contain `$context.requestId`"),
    (concat!(base!(), "[api.access_log]\nfile = \"\"\n"), 11, 8, "api.access_log.file", "must not be empty"),
    (concat!(base!(), "[api.access_log]\npath = \"x\"\n"), 11, 1, "api.access_log.path", "unknown key"),
    // Route timeout and throttle.
    (concat!(user!(), "timeout_ms = 20\n"),
        10, 14, "api.routes.\"GET /u/{id}\".timeout_ms", "between 50 and 30000"),
    (concat!(user!(), "throttle = { rate = -1, burst = 1 }\n"),
        10, 21, "api.routes.\"GET /u/{id}\".throttle.rate", "greater than 0"),
    (concat!(user!(), "timeout = 5\n"), 10, 1, "api.routes.\"GET /u/{id}\".timeout", "unknown key"),
    // Request parameters.
    (concat!(user!(), "request_parameters = { \"overwrite:header.Authorization\" = \"x\" }\n"),
        10, 24, "api.routes.\"GET /u/{id}\".request_parameters.\"overwrite:header.Authorization\"",
        "`Authorization` is a reserved header"),
    (concat!(user!(), "request_parameters = { \"append:header.x-amzn-trace-id\" = \"x\" }\n"),
        10, 24, "api.routes.\"GET /u/{id}\".request_parameters.\"append:header.x-amzn-trace-id\"",
        "is a reserved header"),
    (concat!(user!(), "request_parameters = { \"append:path\" = \"/x\" }\n"),
        10, 24, "api.routes.\"GET /u/{id}\".request_parameters.\"append:path\"",
        "`path` can only be overwritten"),
    (concat!(user!(), "request_parameters = { \"overwrite:statuscode\" = \"200\" }\n"),
        10, 24, "api.routes.\"GET /u/{id}\".request_parameters.\"overwrite:statuscode\"",
        "cannot be changed by a request mapping"),
    (concat!(user!(), "request_parameters = { \"set:header.x\" = \"1\" }\n"),
        10, 24, "api.routes.\"GET /u/{id}\".request_parameters.\"set:header.x\"", "unknown action `set`"),
    (concat!(user!(), "request_parameters = { \"overwrite\" = \"1\" }\n"),
        10, 24, "api.routes.\"GET /u/{id}\".request_parameters.overwrite", "not `ACTION:TARGET`"),
    (concat!(user!(), "request_parameters = { \"append:querystring.a&b\" = \"1\" }\n"),
        10, 24, "api.routes.\"GET /u/{id}\".request_parameters.\"append:querystring.a&b\"",
        "not a query string name"),
    (concat!(user!(), "request_parameters = { \"overwrite:header.x\" = \"$request.path.name\" }\n"),
        10, 47, "api.routes.\"GET /u/{id}\".request_parameters.\"overwrite:header.x\"",
        "route `GET /u/{id}` has no path variable `name`"),
    (concat!(user!(), "request_parameters = { \"overwrite:header.x\" = \"$response.header.y\" }\n"),
        10, 47, "api.routes.\"GET /u/{id}\".request_parameters.\"overwrite:header.x\"",
        "not available in a request mapping"),
    (concat!(user!(), "request_parameters = { \"overwrite:header.x\" = \"a ${stageVariables.v}\" }\n"),
        10, 47, "api.routes.\"GET /u/{id}\".request_parameters.\"overwrite:header.x\"",
        "albless has no stage variables"),
    (concat!(user!(), "request_parameters = { \"overwrite:header.x\" = \"${request.path\" }\n"),
        10, 47, "api.routes.\"GET /u/{id}\".request_parameters.\"overwrite:header.x\"", "unclosed `${`"),
    (concat!(user!(), "request_parameters = { \"overwrite:header.x\" = \"\" }\n"),
        10, 47, "api.routes.\"GET /u/{id}\".request_parameters.\"overwrite:header.x\"",
        "a mapping needs a value"),
    (concat!(user!(), "request_parameters = { \"overwrite:path\" = 1 }\n"),
        10, 43, "api.routes.\"GET /u/{id}\".request_parameters.\"overwrite:path\"",
        "expected a string, found an integer"),
    (concat!(user!(), "[api.routes.\"GET /u/{id}\".request_parameters]\n",
        "\"overwrite:header.X\" = \"a\"\n\"overwrite:header.x\" = \"b\"\n"),
        12, 1, "api.routes.\"GET /u/{id}\".request_parameters.\"overwrite:header.x\"",
        "repeats a mapping"),
    // Response parameters.
    (concat!(user!(), "response_parameters = { \"600\" = { \"overwrite:statuscode\" = \"204\" } }\n"),
        10, 25, "api.routes.\"GET /u/{id}\".response_parameters.600",
        "`600` is not a status code from 200 to 599"),
    (concat!(user!(), "[api.routes.\"GET /u/{id}\".response_parameters.\"500\"]\n",
        "\"overwrite:querystring.a\" = \"b\"\n"),
        11, 1, "api.routes.\"GET /u/{id}\".response_parameters.500.\"overwrite:querystring.a\"",
        "cannot be changed by a response mapping"),
    (concat!(user!(), "[api.routes.\"GET /u/{id}\".response_parameters.\"500\"]\n",
        "\"overwrite:statuscode\" = \"99\"\n"),
        11, 26, "api.routes.\"GET /u/{id}\".response_parameters.500.\"overwrite:statuscode\"",
        "`99` is not a status code from 100 to 599"),
    (concat!(user!(), "[api.routes.\"GET /u/{id}\".response_parameters.\"500\"]\n",
        "\"append:header.x\" = \"$request.header.y\"\n"),
        11, 21, "api.routes.\"GET /u/{id}\".response_parameters.500.\"append:header.x\"",
        "not available in a response mapping"),
    (concat!(user!(), "[api.routes.\"GET /u/{id}\".response_parameters.\"500\"]\n",
        "\"remove:header.Content-Length\" = \"''\"\n"),
        11, 1, "api.routes.\"GET /u/{id}\".response_parameters.500.\"remove:header.Content-Length\"",
        "is a reserved header"),
];

#[test]
fn bad_api_input_is_located() {
    for (text, line, column, field, message) in BAD {
        check(text, *line, *column, field, message);
    }
}

#[test]
fn api_hints_point_at_the_fix() {
    let text = concat!(base!(), "[api]\nstagee = \"x\"\n");
    assert_eq!(
        help(&check(text, 11, 1, "api.stagee", "unknown")),
        "did you mean `stage`?"
    );

    let text = concat!(
        user!(),
        "request_parameters = { \"overwite:header.x\" = \"1\" }\n"
    );
    let field = "api.routes.\"GET /u/{id}\".request_parameters.\"overwite:header.x\"";
    assert_eq!(
        help(&check(text, 10, 24, field, "unknown action")),
        "did you mean `overwrite`?"
    );
}

#[test]
fn api_defaults_and_the_default_access_log_format() {
    let text = concat!(base!(), "[api.access_log]\n[api.outlier]\n[api.cors]\n");
    let stack = parse(file(), text).unwrap();
    let log = stack.api.access_log.as_ref().unwrap();
    assert_eq!(log.format, DEFAULT_ACCESS_LOG_FORMAT);
    assert!(
        log.format
            .starts_with("$context.identity.sourceIp - - [$context.requestTime] \"")
    );
    assert!(
        log.format
            .ends_with("$context.responseLength $context.requestId")
    );
    assert_eq!(log.file, None);
    assert_eq!(
        stack.api.outlier,
        Some(Outlier {
            consecutive_failures: 5,
            eject: Duration::from_secs(30)
        })
    );
    assert_eq!(stack.api.cors, Some(Cors::default()));
    assert_eq!(stack.api.stage.name(), "$default");
    assert_eq!(stack.api.stage.path_prefix(), None);

    // `$default` written out is the default stage; an integer rate is a number.
    let text = concat!(
        base!(),
        "[api]\nstage = \"$default\"\n[api.throttle]\nrate = 2\nburst = 0\n"
    );
    let stack = parse(file(), text).unwrap();
    assert_eq!(stack.api.stage, Stage::Default);
    assert_eq!(
        stack.api.throttle,
        Some(Throttle {
            rate: 2.0,
            burst: 0
        })
    );
}
