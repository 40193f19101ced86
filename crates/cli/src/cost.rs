//! `albless cost`: what the stack in albless.toml costs a month on AWS, line by line,
//! next to the same service behind an ALB, with the saving and the biggest levers.
//!
//! Reads the stack (region, task sizes, architecture, desired counts, capacity provider
//! strategy, scheduled actions and `assign_public_ip`); the rest (traffic, logs, image
//! size) are assumptions given as flags. Running hours come from the scheduled actions
//! simulated over the calendar month (`--month`, default the current one) in their own
//! time zone; without actions a task runs the 730 h of a pricing month. The model and the
//! prices are `albless-cost`'s; this module only gathers inputs and prints.
//!
//! Known limits: a service's month is read in the time zone of its first scheduled
//! action (UTC when it has none); services with different zones are each priced over
//! their own month.

use std::path::PathBuf;
use std::process::ExitCode;

use albless_cost::{
    Arch, Assumptions, CapacityItem, Estimate, Inputs, Mode, PriceBook, Provider, ServiceUsage,
};
use albless_schedule::{CapacityProfile, Schedule, ScheduledAction, Tz, simulate};
use albless_spec::{CapacityProvider, ScheduleExpr, Service, Stack};
use anyhow::{Context, bail};
use chrono::{Datelike, Months, NaiveDate, TimeZone, Utc};
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tables for a person.
    Table,
    /// One JSON document.
    Json,
}

/// `albless cost` arguments.
#[derive(clap::Args, Debug)]
pub struct CostArgs {
    /// The stack file.
    #[arg(default_value = "albless.toml")]
    file: PathBuf,
    /// Price in this region instead of the stack's.
    #[arg(long)]
    region: Option<String>,
    /// Requests a month through the API.
    #[arg(long, default_value_t = 0.0)]
    requests: f64,
    /// Average response size, KB (API Gateway meters in 512 KB steps).
    #[arg(long = "response-kb", default_value_t = 1.0)]
    response_kb: f64,
    /// Logs sent to CloudWatch Logs a month, GB.
    #[arg(long = "log-gb", default_value_t = 0.0)]
    log_gb: f64,
    /// Images stored in ECR, GB (default: the article's 1.08 USD, about 10.8 GB of
    /// images kept without a lifecycle policy).
    #[arg(long = "image-gb", default_value_t = 10.8)]
    image_gb: f64,
    /// Hours each task runs in the month, instead of the schedule (or 730).
    #[arg(long)]
    hours: Option<f64>,
    /// The month to read schedules over, YYYY-MM (default: the current month).
    #[arg(long)]
    month: Option<String>,
    /// Fargate Spot discount assumed, percent (default 70).
    #[arg(long = "spot-discount")]
    spot_discount: Option<f64>,
    /// Put every task on FARGATE_SPOT, whatever the file's capacity strategy says.
    #[arg(long)]
    spot: bool,
    /// Count only the lines the original article counted, rounded as it did.
    #[arg(long)]
    article: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// The JSON document: the estimate, with the file and month it was made for.
#[derive(serde::Serialize)]
struct Report<'a> {
    file: String,
    month: String,
    #[serde(flatten)]
    estimate: &'a Estimate,
}

/// Runs the command.
pub fn run(args: CostArgs) -> anyhow::Result<ExitCode> {
    let stack = match crate::load_stack(&args.file) {
        Ok(stack) => stack,
        Err(code) => return Ok(code),
    };
    let month = match &args.month {
        Some(text) => parse_month(text)?,
        None => {
            let now = Utc::now();
            NaiveDate::from_ymd_opt(now.year(), now.month(), 1).context("current month")?
        }
    };
    let book = PriceBook::builtin();
    let spot_discount = match args.spot_discount {
        Some(pct) if (0.0..=100.0).contains(&pct) => pct / 100.0,
        Some(pct) => bail!("--spot-discount is a percentage within 0-100, got {pct}"),
        None => book.spot.discount,
    };
    if let Some(h) = args.hours
        && !(h.is_finite() && (0.0..=744.0).contains(&h))
    {
        bail!("--hours must be within 0-744 (a month), got {h}");
    }

    let mut services = Vec::new();
    for service in stack.services.values() {
        services.push(usage(&stack, service, &args, month, book.hours_per_month)?);
    }
    let inputs = Inputs {
        region: args.region.clone().unwrap_or_else(|| stack.region.clone()),
        services,
        assumptions: Assumptions {
            requests_per_month: args.requests,
            response_kb: args.response_kb,
            log_gb: args.log_gb,
            image_gb: args.image_gb,
            spot_discount,
            // A private DNS namespace creates a Route 53 hosted zone.
            hosted_zone: true,
        },
        mode: if args.article {
            Mode::Article
        } else {
            Mode::Full
        },
    };
    let estimate = albless_cost::estimate(book, &inputs)?;
    let month = month.format("%Y-%m").to_string();
    let out = match args.format {
        Format::Json => {
            let report = Report {
                file: args.file.display().to_string(),
                month,
                estimate: &estimate,
            };
            serde_json::to_string_pretty(&report)? + "\n"
        }
        Format::Table => tables(&stack, &estimate, &month, args.hours),
    };
    crate::write_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn parse_month(text: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
        .with_context(|| format!("--month wants YYYY-MM, got `{text}`"))
}

/// One service's size, strategy and task-hours over the month.
fn usage(
    stack: &Stack,
    service: &Service,
    args: &CostArgs,
    month: NaiveDate,
    hours_per_month: f64,
) -> anyhow::Result<ServiceUsage> {
    let strategy = if args.spot {
        vec![CapacityItem {
            provider: Provider::FargateSpot,
            base: 0,
            weight: 1,
        }]
    } else {
        service
            .capacity
            .iter()
            .map(|c| CapacityItem {
                provider: match c.provider {
                    CapacityProvider::Fargate => Provider::Fargate,
                    CapacityProvider::FargateSpot => Provider::FargateSpot,
                },
                base: c.base,
                weight: c.weight,
            })
            .collect()
    };
    let (profile, scheduled) = match args.hours {
        Some(hours) => (
            CapacityProfile::constant(service.desired_count, hours),
            hours < hours_per_month,
        ),
        None if service.schedule.is_empty() => (
            CapacityProfile::constant(service.desired_count, hours_per_month),
            false,
        ),
        None => {
            let actions = service
                .schedule
                .iter()
                .map(|a| {
                    let schedule = to_schedule(&a.schedule).with_context(|| {
                        format!("service {}: schedule `{}`", service.name, a.name)
                    })?;
                    Ok(ScheduledAction::new(
                        a.name.clone(),
                        schedule,
                        a.timezone,
                        a.min_capacity,
                        a.max_capacity,
                    ))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let tz = actions.first().map_or(Tz::UTC, |a| a.timezone);
            let (from, to) = month_bounds(tz, month)?;
            (simulate(&actions, service.desired_count, from, to), true)
        }
    };
    Ok(ServiceUsage {
        name: service.name.clone(),
        cpu_units: service.cpu,
        memory_mib: service.memory,
        arch: match service.arch {
            albless_spec::Arch::X86_64 => Arch::X86_64,
            albless_spec::Arch::Arm64 => Arch::Arm64,
        },
        desired_count: service.desired_count,
        strategy,
        profile,
        scheduled,
        public_ip: stack.network.assign_public_ip,
    })
}

/// The spec's checked schedule as an evaluable one (cron through its AWS text form).
fn to_schedule(expr: &ScheduleExpr) -> anyhow::Result<Schedule> {
    Ok(match expr {
        ScheduleExpr::Cron(cron) => Schedule::parse(&cron.to_string())?,
        ScheduleExpr::At(at) => Schedule::At(*at),
        ScheduleExpr::Rate(every) => Schedule::every(*every)?,
    })
}

/// The first instant of `month` and of the month after, on the wall clock of `tz`.
fn month_bounds(
    tz: Tz,
    month: NaiveDate,
) -> anyhow::Result<(chrono::DateTime<Utc>, chrono::DateTime<Utc>)> {
    let next = month
        .checked_add_months(Months::new(1))
        .context("month out of range")?;
    let at = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .with_context(|| format!("midnight of {d} does not exist in {tz}"))
    };
    Ok((at(month)?, at(next)?))
}

/// The report for a person: usage, both bills, the saving, the levers, the notes.
fn tables(stack: &Stack, e: &Estimate, month: &str, hours: Option<f64>) -> String {
    use std::fmt::Write;
    let mode = match e.mode {
        Mode::Full => "full model",
        Mode::Article => "the article's lines only",
    };
    let mut o = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        o,
        "{}: stack `{}` in {} ({}), {month}, {mode}",
        stack.path.display(),
        stack.name,
        e.region_name,
        e.region
    );
    for s in &e.services {
        let source = match (hours, s.scheduled) {
            (Some(_), _) => "hours from --hours",
            (None, true) => "hours from its schedule",
            (None, false) => "always on",
        };
        let _ = writeln!(
            o,
            "  service {}: {:.1} task-h FARGATE + {:.1} task-h FARGATE_SPOT, {:.1} h running, \
             peak {} ({source})",
            s.name, s.on_demand_task_hours, s.spot_task_hours, s.running_hours, s.peak_tasks
        );
    }
    let _ = writeln!(
        o,
        "\nWithout a load balancer: HTTP API -> VPC link -> Cloud Map -> Fargate"
    );
    let _ = writeln!(o, "{}", bill_table(&e.albless));
    let _ = writeln!(o, "\nThe same service behind an Application Load Balancer");
    let _ = writeln!(o, "{}", bill_table(&e.with_alb));
    let pct = if e.with_alb.total > 0.0 {
        e.saving / e.with_alb.total * 100.0
    } else {
        0.0
    };
    let _ = writeln!(
        o,
        "\nSaving: {:.2} USD a month ({:.0} % of the ALB bill): {:.2} instead of {:.2}.",
        e.saving, pct, e.albless.total, e.with_alb.total
    );
    let _ = writeln!(o, "\nBiggest levers:");
    for (i, lever) in e.levers.iter().enumerate() {
        let _ = writeln!(o, "  {}. {}", i + 1, lever.text);
    }
    if !e.notes.is_empty() {
        let _ = writeln!(o, "\nNotes:");
        for note in &e.notes {
            let _ = writeln!(o, "  - {note}");
        }
    }
    o
}

fn bill_table(bill: &albless_cost::Bill) -> Table {
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(120)
        .set_header(["line", "USD/month", "formula"]);
    for line in &bill.lines {
        table.add_row([
            Cell::new(&line.name),
            Cell::new(format!("{:.2}", line.monthly_usd)).set_alignment(CellAlignment::Right),
            Cell::new(&line.formula),
        ]);
    }
    table.add_row([
        Cell::new("total"),
        Cell::new(format!("{:.2}", bill.total)).set_alignment(CellAlignment::Right),
        Cell::new(""),
    ]);
    table
}
