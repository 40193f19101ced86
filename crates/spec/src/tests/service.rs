//! `[services.NAME]`: each new check, located.

use super::*;

/// Lines 1-7: a valid header and service `web`, then what follows on line 8; the routes
/// come last so they never shift a line number.
macro_rules! svc {
    ($extra:expr) => {
        concat!(head!(), web!(), $extra, routes!())
    };
}

#[rustfmt::skip]
const BAD: &[Row] = &[
    // Driver, image and build.
    (svc!("driver = \"podman\"\n"), 8, 10, "services.web.driver", "unknown driver `podman`"),
    (concat!(head!(), "[services.web]\ndriver = \"process\"\nimage = \"x\"\nport = 1\n", routes!()),
        5, 1, "services.web.command", "missing required field `command`"),
    (concat!(head!(), "[services.web]\ncommand = [\"web\"]\ndriver = \"docker\"\nport = 1\n", routes!()),
        5, 1, "services.web.image", "missing required field `image`"),
    (svc!("build = \"nope\"\n"), 8, 9, "services.web.build", "no folder `dir/nope`"),
    (svc!("build = \"\"\n"), 8, 9, "services.web.build", "must not be empty"),
    (svc!("image = \"x\"\nbuild = \"nope\"\n"), 9, 9, "services.web.build", "either `image` or `build`"),
    // Health and deployment.
    (svc!("healthy_after = 601\n"), 8, 17, "services.web.healthy_after", "between 0 and 600"),
    (svc!("min_healthy_percent = 101\n"), 8, 23, "services.web.min_healthy_percent", "between 0 and 100"),
    (svc!("max_percent = 99\n"), 8, 15, "services.web.max_percent", "between 100 and 200"),
    (svc!("desired_count = 1\nmin_healthy_percent = 50\nmax_percent = 150\n"),
        10, 15, "services.web.max_percent", "no deployment can complete"),
    (svc!("desired_count = 4\nmin_healthy_percent = 100\nmax_percent = 100\n"),
        10, 15, "services.web.max_percent", "keeps ceil(4 x 100 %) = 4 task(s) running"),
    (svc!("drain_ms = -1\n"), 8, 12, "services.web.drain_ms", "between 0 and 600000"),
    (svc!("[services.web.circuit_breaker]\nthreshold = 0\n"),
        9, 13, "services.web.circuit_breaker.threshold", "between 1 and 200"),
    (svc!("[services.web.circuit_breaker]\nenable = 1\n"),
        9, 10, "services.web.circuit_breaker.enable", "expected a boolean, found an integer"),
    (svc!("[services.web.circuit_breaker]\nrollbak = true\n"),
        9, 1, "services.web.circuit_breaker.rollbak", "unknown key"),
    // Capacity providers.
    (svc!("[[services.web.capacity]]\nprovider = \"FARGATE\"\n[[services.web.capacity]]\nprovider = \"FARGATE\"\n"),
        11, 12, "services.web.capacity[1].provider", "`FARGATE` is listed twice"),
    (svc!("[[services.web.capacity]]\nprovider = \"FARGATE\"\nbase = 1\n[[services.web.capacity]]\nprovider = \"FARGATE_SPOT\"\nbase = 2\n"),
        13, 8, "services.web.capacity[1].base", "only one capacity provider may set a base"),
    (svc!("[[services.web.capacity]]\nprovider = \"FARGATE\"\nweight = 0\n[[services.web.capacity]]\nprovider = \"FARGATE_SPOT\"\nweight = 0\n"),
        13, 10, "services.web.capacity", "every weight is 0"),
    (svc!("[[services.web.capacity]]\nprovider = \"EC2\"\n"),
        9, 12, "services.web.capacity[0].provider", "unknown capacity provider `EC2`"),
    (svc!("[[services.web.capacity]]\nprovider = \"FARGATE\"\nbase = 100001\n"),
        10, 8, "services.web.capacity[0].base", "between 0 and 100000"),
    (svc!("[[services.web.capacity]]\nprovider = \"FARGATE\"\nweight = 1001\n"),
        10, 10, "services.web.capacity[0].weight", "between 0 and 1000"),
    (svc!("[[services.web.capacity]]\nweight = 1\n"),
        8, 1, "services.web.capacity[0].provider", "missing required field `provider`"),
    (svc!("capacity = []\n"), 8, 12, "services.web.capacity", "must not be empty"),
    (svc!("capacity = \"FARGATE\"\n"), 8, 12, "services.web.capacity", "expected an array of tables"),
    // Schedules: the expression.
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"cron(0 8 * * ?)\"\nmax_capacity = 1\n"),
        10, 18, "services.web.schedule[0].schedule", "cron takes 6 fields"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"cron(0 8 * * MON *)\"\nmax_capacity = 1\n"),
        10, 26, "services.web.schedule[0].schedule", "one of day-of-month and day-of-week must be `?`"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"cron(0 8 ? * ? *)\"\nmax_capacity = 1\n"),
        10, 26, "services.web.schedule[0].schedule", "cannot both be `?`"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"cron(60 8 * * ? *)\"\nmax_capacity = 1\n"),
        10, 18, "services.web.schedule[0].schedule", "minutes `60`: 60 is outside 0 to 59"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"cron(? 8 * * ? *)\"\nmax_capacity = 1\n"),
        10, 18, "services.web.schedule[0].schedule", "`?` is only for day-of-month and day-of-week"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"cron(0 8 ? * 3#6 *)\"\nmax_capacity = 1\n"),
        10, 26, "services.web.schedule[0].schedule", "the week in the month is 1 to 5"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"cron(0 8 ? * FRI-MON *)\"\nmax_capacity = 1\n"),
        10, 26, "services.web.schedule[0].schedule", "runs backwards"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"cron(0 8 ? JAN-FOO MON 2300)\"\nmax_capacity = 1\n"),
        10, 24, "services.web.schedule[0].schedule", "`FOO` is not a number from 1 to 12 or one of JAN"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"cron(0 8 ? * MON 2300)\"\nmax_capacity = 1\n"),
        10, 30, "services.web.schedule[0].schedule", "year `2300`: 2300 is outside 1970 to 2199"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"cron(0/0 8 ? * MON *)\"\nmax_capacity = 1\n"),
        10, 18, "services.web.schedule[0].schedule", "`/0` is not a step"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"at(2030-02-30T00:00:00)\"\nmax_capacity = 1\n"),
        10, 16, "services.web.schedule[0].schedule", "not a valid date and time"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"at(2030-02-03 00:00:00)\"\nmax_capacity = 1\n"),
        10, 16, "services.web.schedule[0].schedule", "is not `yyyy-mm-ddThh:mm:ss`"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"rate(1 hours)\"\nmax_capacity = 1\n"),
        10, 20, "services.web.schedule[0].schedule", "with 1, write `hour`, not `hours`"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"rate(5 minute)\"\nmax_capacity = 1\n"),
        10, 20, "services.web.schedule[0].schedule", "with 5, write `minutes`"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"rate(0 minutes)\"\nmax_capacity = 1\n"),
        10, 18, "services.web.schedule[0].schedule", "`0` is not a positive integer"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"rate(5 weeks)\"\nmax_capacity = 1\n"),
        10, 20, "services.web.schedule[0].schedule", "unknown unit `weeks`"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"every(5 minutes)\"\nmax_capacity = 1\n"),
        10, 13, "services.web.schedule[0].schedule", "unknown schedule kind `every`"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"daily\"\nmax_capacity = 1\n"),
        10, 13, "services.web.schedule[0].schedule", "`daily` is not a schedule expression"),
    // Schedules: the rest of the action.
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"rate(1 day)\"\ntimezone = \"Asia/Tokio\"\nmax_capacity = 1\n"),
        11, 12, "services.web.schedule[0].timezone", "unknown time zone `Asia/Tokio`"),
    (svc!("[[services.web.schedule]]\nname = \"a b\"\nschedule = \"rate(1 day)\"\nmax_capacity = 1\n"),
        9, 8, "services.web.schedule[0].name", "invalid action name `a b`"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"rate(1 day)\"\nmax_capacity = 1\n[[services.web.schedule]]\nname = \"a\"\nschedule = \"rate(2 days)\"\nmax_capacity = 1\n"),
        13, 8, "services.web.schedule[1].name", "two schedules are named `a`"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"rate(1 day)\"\n"),
        8, 1, "services.web.schedule[0]", "missing `min_capacity` or `max_capacity`"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"rate(1 day)\"\nmin_capacity = 3\nmax_capacity = 2\n"),
        12, 16, "services.web.schedule[0].max_capacity", "max_capacity 2 is below min_capacity 3"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"rate(1 day)\"\nmin_capacity = -1\n"),
        11, 16, "services.web.schedule[0].min_capacity", "between 0 and 1000"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nmax_capacity = 1\n"),
        8, 1, "services.web.schedule[0].schedule", "missing required field `schedule`"),
    (svc!("[[services.web.schedule]]\nname = \"a\"\nschedule = \"rate(1 day)\"\ntimezon = \"UTC\"\n"),
        11, 1, "services.web.schedule[0].timezon", "unknown key"),
    // Scale to zero and logging.
    (svc!("[services.web.scale_to_zero]\nidle_after = 5\n"),
        9, 14, "services.web.scale_to_zero.idle_after", "between 10 and 86400"),
    (svc!("[services.web.scale_to_zero]\nwake_timeout = 301\n"),
        9, 16, "services.web.scale_to_zero.wake_timeout", "between 1 and 300"),
    (svc!("[services.web.logging]\nretention_days = 10\n"),
        9, 18, "services.web.logging.retention_days", "10 days is not a CloudWatch Logs retention period"),
    (svc!("[services.web.logging]\nretention = 7\n"), 9, 1, "services.web.logging.retention", "unknown key"),
];

#[test]
fn bad_service_input_is_located() {
    for (text, line, column, field, message) in BAD {
        check(text, *line, *column, field, message);
    }
}

#[test]
fn service_hints_point_at_the_fix() {
    let text = svc!("desired_count = 1\nmin_healthy_percent = 50\nmax_percent = 150\n");
    let err = check(text, 10, 15, "services.web.max_percent", "no deployment");
    assert_eq!(
        help(&err),
        "raise `max_percent` to 200, or lower `min_healthy_percent` to 0"
    );

    let text = svc!(
        "[[services.web.schedule]]\nname = \"a\"\nschedule = \"rate(1 day)\"\n\
         timezone = \"Asia/Tokio\"\nmax_capacity = 1\n"
    );
    let err = check(
        text,
        11,
        12,
        "services.web.schedule[0].timezone",
        "unknown time zone",
    );
    assert_eq!(help(&err), "did you mean `Asia/Tokyo`?");

    let text = svc!("[services.web.logging]\nretention_days = 10\n");
    let err = check(
        text,
        9,
        18,
        "services.web.logging.retention_days",
        "retention",
    );
    assert!(help(&err).starts_with("expected one of `1`, `3`, `5`, `7`, `14`"));
}

#[test]
fn the_driver_follows_command_image_and_build() {
    let text = concat!(
        head!(),
        "[services.web]\nimage = \"web:1\"\nport = 80\n",
        routes!()
    );
    let web = &parse(file(), text).unwrap().services["web"];
    assert_eq!((web.driver, web.command.as_ref()), (Driver::Docker, None));

    let text = concat!(
        head!(),
        web!(),
        "image = \"web:1\"\ndriver = \"docker\"\n",
        routes!()
    );
    assert_eq!(
        parse(file(), text).unwrap().services["web"].driver,
        Driver::Docker
    );

    // `build` resolves against the stack's folder and needs a Dockerfile there.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let stack_file = data.join("albless.toml");
    let text = concat!(
        head!(),
        "[services.web]\nbuild = \"app\"\nport = 80\n",
        routes!()
    );
    let web = &parse(&stack_file, text).unwrap().services["web"];
    assert_eq!(
        (web.driver, web.build.clone()),
        (Driver::Docker, Some(data.join("app")))
    );

    let text = concat!(
        head!(),
        "[services.web]\nbuild = \".\"\nport = 80\n",
        routes!()
    );
    let err = parse(&stack_file, text).unwrap_err();
    assert_eq!(
        (err.line(), err.column(), err.field()),
        (Some(6), Some(9), Some("services.web.build"))
    );
    let message = err.location().unwrap().message();
    assert!(message.starts_with("no `Dockerfile` in "), "{message}");
}

#[test]
fn schedules_parse_to_typed_expressions() {
    let schedule = |expr: &str| {
        let text = format!(
            "{}{}[[services.web.schedule]]\nname = \"a\"\nschedule = \"{expr}\"\n\
             max_capacity = 1\n{}",
            head!(),
            web!(),
            routes!()
        );
        let stack = parse(file(), &text).unwrap_or_else(|e| panic!("{expr}: {}", e.render()));
        stack.services["web"].schedule[0].schedule.clone()
    };
    assert_eq!(
        schedule("rate(1 minute)"),
        ScheduleExpr::Rate(Duration::from_secs(60))
    );
    assert_eq!(
        schedule("rate(3 days)"),
        ScheduleExpr::Rate(Duration::from_secs(3 * 86_400))
    );
    for ok in [
        "cron(0/15 * * * ? *)",
        "cron(*/5 8-17 ? * MON-FRI *)",
        "cron(0 0 L * ? *)",
        "cron(0 0 15W * ? 2030-2035)",
        "cron(0 0 ? jan,jul 6L *)",
        "cron(30 2 ? * 2#1 *)",
        "cron(0 12 1,15 * ? *)",
        "cron(0 0 ? * L *)",
    ] {
        let ScheduleExpr::Cron(cron) = schedule(ok) else {
            panic!("{ok}")
        };
        assert_eq!(cron.to_string(), ok);
    }
}
