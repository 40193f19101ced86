//! The figures of pricing.md §12 (the article's tables recomputed), within 0.02 USD, and
//! the model's parts: price data, capacity split, metering, levers.

use albless_schedule::{CapacityProfile, Schedule, ScheduledAction, parse_tz, simulate};
use chrono::{Datelike, NaiveDate, TimeZone, Utc, Weekday};

use crate::{
    Arch, Assumptions, CapacityItem, CostError, Estimate, Inputs, Item, Mode, PriceBook, Provider,
    ServiceUsage, estimate, split,
};

const SPOT: [CapacityItem; 1] = [CapacityItem {
    provider: Provider::FargateSpot,
    base: 0,
    weight: 1,
}];

fn service(arch: Arch, strategy: &[CapacityItem], profile: CapacityProfile) -> ServiceUsage {
    ServiceUsage {
        name: "backend".into(),
        cpu_units: 256,
        memory_mib: 512,
        arch,
        desired_count: 1,
        strategy: strategy.to_vec(),
        profile,
        scheduled: false,
        public_ip: true,
    }
}

/// The article's setting: Osaka, one 0.25 vCPU / 0.5 GB task, 10.8 GB in ECR (its
/// 1.08 USD), a DNS namespace, no traffic.
fn osaka(services: Vec<ServiceUsage>, mode: Mode) -> Estimate {
    let inputs = Inputs {
        region: "ap-northeast-3".into(),
        services,
        assumptions: Assumptions {
            requests_per_month: 0.0,
            response_kb: 1.0,
            log_gb: 0.0,
            image_gb: 10.8,
            spot_discount: 0.70,
            hosted_zone: true,
        },
        mode,
    };
    estimate(PriceBook::builtin(), &inputs).unwrap()
}

fn always_on(arch: Arch, strategy: &[CapacityItem], mode: Mode) -> Estimate {
    osaka(
        vec![service(arch, strategy, CapacityProfile::constant(1, 730.0))],
        mode,
    )
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 0.02,
        "{what}: got {got:.4}, want {want:.2}"
    );
}

fn line(e: &Estimate, alb: bool, prefix: &str) -> f64 {
    let bill = if alb { &e.with_alb } else { &e.albless };
    bill.lines
        .iter()
        .find(|l| l.name.starts_with(prefix))
        .unwrap_or_else(|| panic!("{prefix}"))
        .monthly_usd
}

#[test]
fn article_mode_reproduces_the_article_tables() {
    let x86 = always_on(Arch::X86_64, &[], Mode::Article);
    let arm = always_on(Arch::Arm64, &[], Mode::Article);
    close(x86.with_alb.total, 30.08, "with ALB");
    close(x86.albless.total, 12.83, "ALB-less x86");
    close(arm.albless.total, 10.57, "ALB-less ARM");
    // The article's 11.25 and 8.99 exactly: its vCPU and memory parts rounded apart.
    assert_eq!(line(&x86, false, "Fargate"), 9.23 + 2.02);
    assert_eq!(line(&arm, false, "Fargate"), 7.38 + 1.61);
    assert!(line(&arm, false, "Fargate") < 9.0);
    // Only the article's lines: no IPv4, no Cloud Map fee.
    assert!(
        arm.albless
            .lines
            .iter()
            .all(|l| !l.name.contains("IPv4") && !l.name.contains("Cloud Map"))
    );
    assert!(
        arm.notes.iter().any(|n| n.contains("14.33")),
        "{:?}",
        arm.notes
    );
}

#[test]
fn full_model_adds_what_the_article_left_out() {
    let x86 = always_on(Arch::X86_64, &[], Mode::Full);
    let arm = always_on(Arch::Arm64, &[], Mode::Full);
    close(x86.with_alb.total, 41.01, "with ALB");
    close(x86.albless.total, 16.58, "ALB-less x86");
    close(arm.albless.total, 14.33, "ALB-less ARM");
    close(x86.saving, 24.43, "saving");
    close(line(&x86, true, "Public IPv4 on the ALB"), 7.30, "ALB IPv4");
    close(
        line(&arm, false, "Public IPv4 on each task"),
        3.65,
        "task IPv4",
    );
    close(line(&arm, false, "Cloud Map registered"), 0.10, "Cloud Map");
    close(line(&arm, false, "Fargate"), 9.00, "Fargate ARM, exact");
}

#[test]
fn spot_arm_always_on_and_on_weekdays() {
    let e = always_on(Arch::Arm64, &SPOT, Mode::Full);
    close(e.albless.total, 8.03, "Spot ARM always on");
    close(line(&e, false, "Fargate"), 2.70, "Spot Fargate");

    let office = osaka(
        vec![service(
            Arch::Arm64,
            &SPOT,
            CapacityProfile::constant(1, 174.0),
        )],
        Mode::Full,
    );
    close(office.albless.total, 3.19, "Spot ARM 174 h");
    close(line(&office, false, "Fargate"), 0.64, "Spot Fargate 174 h");
    close(line(&office, false, "Public IPv4"), 0.87, "IPv4 174 h");
}

#[test]
fn a_tokyo_office_hours_schedule_prices_its_own_hours() {
    let tokyo = parse_tz("Asia/Tokyo").unwrap();
    let actions = [
        ScheduledAction::new(
            "start",
            Schedule::parse("cron(0 9 ? * MON-FRI *)").unwrap(),
            tokyo,
            Some(1),
            Some(1),
        ),
        ScheduledAction::new(
            "stop",
            Schedule::parse("cron(0 17 ? * MON-FRI *)").unwrap(),
            tokyo,
            Some(0),
            Some(0),
        ),
    ];
    let first = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    let next = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
    let weekdays = first
        .iter_days()
        .take_while(|d| *d < next)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .count() as f64;
    let from = tokyo
        .from_local_datetime(&first.into())
        .unwrap()
        .with_timezone(&Utc);
    let to = tokyo
        .from_local_datetime(&next.into())
        .unwrap()
        .with_timezone(&Utc);
    let mut s = service(Arch::Arm64, &SPOT, simulate(&actions, 1, from, to));
    s.scheduled = true;
    let e = osaka(vec![s], Mode::Full);

    let task_rate = 0.25 * 0.04045 + 0.5 * 0.00442;
    close(
        line(&e, false, "Fargate"),
        weekdays * 8.0 * task_rate * 0.30,
        "Fargate",
    );
    close(
        line(&e, false, "Public IPv4"),
        weekdays * 8.0 * 0.005,
        "IPv4",
    );
    let schedule = e.levers.iter().find(|l| l.name == "schedule").unwrap();
    let per_hour = task_rate * 0.30 + 0.005;
    close(
        schedule.monthly_usd,
        (730.0 - weekdays * 8.0) * per_hour,
        "schedule lever",
    );
    assert!(
        schedule.text.contains(&format!(
            "Running part-time ({} task-h instead of 730",
            weekdays * 8.0
        )),
        "{}",
        schedule.text
    );
}

#[test]
fn levers_are_the_three_largest_first() {
    let e = always_on(Arch::Arm64, &[], Mode::Full);
    let names: Vec<&str> = e.levers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names.len(), 3);
    assert!(
        e.levers
            .windows(2)
            .all(|w| w[0].monthly_usd >= w[1].monthly_usd)
    );
    let get = |n: &str| e.levers.iter().find(|l| l.name == n).unwrap();
    // On-demand: Spot would save 70 % of 9.00; a 174-h schedule saves 556 h of compute
    // and IPv4; the IPv4 is 3.65.
    close(get("spot").monthly_usd, 8.9954 * 0.70, "spot lever");
    close(
        get("schedule").monthly_usd,
        556.0 * (0.0123225 + 0.005),
        "schedule lever",
    );
    close(get("public_ipv4").monthly_usd, 3.65, "ipv4 lever");
    assert!(
        get("spot").text.contains("would save 6.30"),
        "{}",
        get("spot").text
    );

    let spot = always_on(Arch::Arm64, &SPOT, Mode::Full);
    let lever = spot.levers.iter().find(|l| l.name == "spot").unwrap();
    assert!(lever.text.contains("already saves 6.30"), "{}", lever.text);
    let ipv4 = spot
        .levers
        .iter()
        .find(|l| l.name == "public_ipv4")
        .unwrap();
    assert!(ipv4.text.contains("more than the compute"), "{}", ipv4.text);
}

#[test]
fn capacity_strategy_split_table() {
    let od = |base, weight| CapacityItem {
        provider: Provider::Fargate,
        base,
        weight,
    };
    let spot = |base, weight| CapacityItem {
        provider: Provider::FargateSpot,
        base,
        weight,
    };
    // (tasks, strategy, on-demand, spot)
    let rows: [(u32, Vec<CapacityItem>, f64, f64); 6] = [
        (3, vec![], 3.0, 0.0),
        (3, vec![spot(0, 1)], 0.0, 3.0),
        (4, vec![od(1, 0), spot(0, 1)], 1.0, 3.0),
        (4, vec![od(0, 1), spot(0, 3)], 1.0, 3.0),
        (5, vec![od(1, 1), spot(0, 1)], 3.0, 2.0),
        (1, vec![od(2, 1), spot(0, 1)], 1.0, 0.0),
    ];
    for (n, strategy, want_od, want_spot) in rows {
        assert_eq!(
            split(n, &strategy),
            (want_od, want_spot),
            "{n} tasks on {strategy:?}"
        );
    }
}

fn traffic(region: &str, requests: f64, response_kb: f64) -> Estimate {
    let inputs = Inputs {
        region: region.into(),
        services: vec![service(
            Arch::Arm64,
            &[],
            CapacityProfile::constant(1, 730.0),
        )],
        assumptions: Assumptions {
            requests_per_month: requests,
            response_kb,
            log_gb: 2.0,
            image_gb: 0.3,
            spot_discount: 0.70,
            hosted_zone: false,
        },
        mode: Mode::Full,
    };
    estimate(PriceBook::builtin(), &inputs).unwrap()
}

#[test]
fn traffic_lines_follow_the_metering_rules() {
    // 1 M requests of 1.2 MB: three 512 KB units each, at 1.29/M in Tokyo.
    let e = traffic("ap-northeast-1", 1e6, 1200.0);
    close(
        line(&e, false, "API Gateway"),
        3.0 * 1.29,
        "API GW 512 KB steps",
    );
    close(
        line(&e, false, "Cloud Map DiscoverInstances"),
        1.00,
        "discovery",
    );
    // 1e6 × 1200 KB = 1144.4 GB out, 100 GB free, 0.114/GB.
    let gb = 1e6 * 1200.0 / 1024.0 / 1024.0;
    close(
        line(&e, false, "Data transfer"),
        (gb - 100.0) * 0.114,
        "DTO",
    );
    close(
        line(&e, true, "Data transfer"),
        (gb - 100.0) * 0.114,
        "DTO behind an ALB",
    );
    close(
        line(&e, false, "CloudWatch Logs"),
        2.0 * (0.76 + 0.033),
        "logs",
    );
    // LCU by bytes: 1144.4 GB / 730 h = 1.57 LCU all month.
    close(line(&e, true, "ALB LCU"), gb / 730.0 * 730.0 * 0.008, "LCU");
    assert!(e.albless.lines.iter().all(|l| !l.name.contains("Route 53")));

    // us-east-1's second tier: 400 M small requests = 300 M × 1.00 + 100 M × 0.90.
    let e = traffic("us-east-1", 4e8, 1.0);
    close(line(&e, false, "API Gateway"), 300.0 + 90.0, "API GW tiers");

    // Under 100 GB out, transfer is free.
    let e = traffic("eu-west-1", 1e5, 10.0);
    assert_eq!(line(&e, false, "Data transfer"), 0.0);
    assert!(
        e.notes
            .iter()
            .any(|n| n.contains("eu-west-1 HTTP API price not found")),
        "{:?}",
        e.notes
    );
}

#[test]
fn builtin_prices_parse_and_cite_every_figure() {
    let book = PriceBook::builtin();
    let regions: Vec<&str> = book.regions().collect();
    assert_eq!(
        regions,
        ["ap-northeast-1", "ap-northeast-3", "eu-west-1", "us-east-1"]
    );
    for code in regions {
        let r = book.region(code).unwrap();
        for item in Item::ALL {
            let p = r.get(item);
            assert!(p.usd > 0.0, "{code} {}", item.key());
            assert!(
                !p.source.is_empty() && !p.date.is_empty(),
                "{code} {}",
                item.key()
            );
            assert!(
                p.url.starts_with("https://aws.amazon.com/")
                    || p.url.starts_with("https://docs.aws.amazon.com/"),
                "{code} {}",
                item.key()
            );
        }
    }
    let tokyo = book.region("ap-northeast-1").unwrap();
    let osaka = book.region("ap-northeast-3").unwrap();
    for item in Item::ALL {
        assert_eq!(tokyo.get(item), osaka.get(item), "{}", item.key());
    }
    assert!(osaka.note.as_deref().unwrap().contains("equal to Tokyo"));
    assert_eq!(book.hours_per_month, 730.0);
    assert_eq!(book.spot.discount, 0.70);
    assert_eq!(tokyo.usd(Item::FargateArmVcpuHour), 0.04045);
    assert_eq!(book.region("us-east-1").unwrap().usd(Item::AlbHour), 0.0225);
}

#[test]
fn bad_price_data_and_inputs_are_refused() {
    let book = PriceBook::builtin();
    let text = include_str!("../data/prices.toml");
    let missing = text.replace(
        "[regions.us-east-1.dto_gb]",
        "[regions.us-east-1.dto_gb_typo]",
    );
    assert!(matches!(
        PriceBook::parse(&missing),
        Err(CostError::MissingPrice { item: "dto_gb", .. })
    ));
    let dangling = text.replace(
        "same_as = \"ap-northeast-1\"",
        "same_as = \"ap-northeast-9\"",
    );
    assert!(matches!(
        PriceBook::parse(&dangling),
        Err(CostError::SameAs { .. })
    ));
    assert!(matches!(
        PriceBook::parse("hours_per_month = 'x'"),
        Err(CostError::Prices(_))
    ));

    let mut inputs = Inputs {
        region: "sa-east-1".into(),
        services: vec![],
        assumptions: Assumptions {
            requests_per_month: 0.0,
            response_kb: 1.0,
            log_gb: 0.0,
            image_gb: 0.0,
            spot_discount: 0.7,
            hosted_zone: true,
        },
        mode: Mode::Full,
    };
    let err = estimate(book, &inputs).unwrap_err();
    assert!(
        err.to_string().contains("ap-northeast-1, ap-northeast-3"),
        "{err}"
    );
    inputs.region = "us-east-1".into();
    inputs.assumptions.log_gb = -1.0;
    assert!(matches!(
        estimate(book, &inputs),
        Err(CostError::BadInput(_))
    ));
    inputs.assumptions.log_gb = 0.0;
    inputs.assumptions.spot_discount = 70.0;
    assert!(matches!(
        estimate(book, &inputs),
        Err(CostError::BadInput(_))
    ));
}

#[test]
fn tasks_without_a_public_ip_pay_no_ipv4() {
    let mut s = service(Arch::Arm64, &[], CapacityProfile::constant(1, 730.0));
    s.public_ip = false;
    let e = osaka(vec![s], Mode::Full);
    assert_eq!(line(&e, false, "Public IPv4 on each task"), 0.0);
    assert_eq!(line(&e, true, "Public IPv4 on each task"), 0.0);
    close(
        line(&e, true, "Public IPv4 on the ALB"),
        7.30,
        "the ALB keeps its own",
    );
    let lever = e.levers.iter().find(|l| l.name == "public_ipv4").unwrap();
    assert_eq!(lever.monthly_usd, 0.0);
    close(
        e.albless.total,
        14.33 - 3.65,
        "ALB-less ARM without task IPv4",
    );
}
