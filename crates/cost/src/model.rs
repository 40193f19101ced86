//! The cost model: inputs in, line items out, for the ALB-less stack (HTTP API + VPC
//! link + Cloud Map + Fargate) and for the same service behind an ALB, plus the saving
//! and the three biggest levers. Pure: prices and usage come in, nothing is read.
//!
//! What each line counts, and why (figures and sources in `data/prices.toml`):
//! - Fargate bills the vCPU and memory a task requests for every second it runs, so
//!   task-hours come from the capacity profile; Spot is the on-demand rate less the
//!   discount assumed (AWS promises only "up to 70 %").
//! - Every task with `assignPublicIp` holds a public IPv4 address, billed per hour
//!   whether used or not (since 2024-02-01), and released when the task stops.
//! - Cloud Map bills each registered instance a month: the peak task count, not
//!   pro-rated (whether AWS pro-rates it was not verified).
//! - A private DNS namespace creates a Route 53 hosted zone; the VPC link has no fee.
//! - The ALB runs all month whatever the tasks do, and holds at least two public IPv4
//!   addresses (two AZs).
//!
//! Known limits: traffic is an even monthly average (ALB LCUs bill each hour's peak, so
//! bursty traffic costs more than shown); API Gateway metering uses the average response
//! size; no free tiers (they depend on the account's age) and no Savings Plans; one
//! month of log storage.

use serde::Serialize;

use albless_schedule::CapacityProfile;

use crate::CostError;
use crate::prices::{Item, PriceBook, RegionPrices};

/// Running hours pricing.md uses for "weekdays, 8 h a day": 21.75 weekdays × 8.
pub const OFFICE_HOURS_PER_MONTH: f64 = 174.0;

/// CPU architecture of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// x86_64.
    X86_64,
    /// arm64 (Graviton), about 20 % cheaper.
    Arm64,
}

/// A Fargate capacity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Provider {
    /// `FARGATE`: on-demand.
    #[serde(rename = "FARGATE")]
    Fargate,
    /// `FARGATE_SPOT`: interruptible, discounted.
    #[serde(rename = "FARGATE_SPOT")]
    FargateSpot,
}

/// One item of a capacity provider strategy (aws-behavior.md §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CapacityItem {
    /// The provider.
    pub provider: Provider,
    /// Tasks placed on this provider first (only one item may set it).
    pub base: u32,
    /// Share of the tasks past the bases.
    pub weight: u32,
}

/// One ECS service to price.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceUsage {
    /// Service name.
    pub name: String,
    /// CPU units (1024 = 1 vCPU).
    pub cpu_units: u32,
    /// Memory, MiB.
    pub memory_mib: u32,
    /// Architecture.
    pub arch: Arch,
    /// The desired count when no schedule acts (the always-on case).
    pub desired_count: u32,
    /// Capacity provider strategy; empty means every task on `FARGATE`.
    pub strategy: Vec<CapacityItem>,
    /// How many tasks run for how long over the month.
    pub profile: CapacityProfile,
    /// Whether the service runs part-time by choice (`profile` comes from scheduled
    /// actions or from running hours given): the schedule lever then says what that
    /// saves rather than what a schedule would.
    pub scheduled: bool,
    /// Whether each task gets a public IPv4 address (ECS `assignPublicIp`).
    pub public_ip: bool,
}

/// Assumptions about use, given on the command line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assumptions {
    /// Requests a month through the API (and the ALB in the comparison).
    pub requests_per_month: f64,
    /// Average response size, KB.
    pub response_kb: f64,
    /// Log volume a month sent to CloudWatch Logs, GB.
    pub log_gb: f64,
    /// Container images stored in ECR, GB.
    pub image_gb: f64,
    /// Spot discount, fraction (0.70 = 70 % off).
    pub spot_discount: f64,
    /// Whether the namespace is a DNS namespace (which creates a Route 53 hosted zone).
    pub hosted_zone: bool,
}

/// Which lines count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Every line the model knows.
    Full,
    /// Only the lines the original article counted (Fargate, ALB hours, ECR, API
    /// Gateway requests, Route 53 zone), rounded as it rounded them, to compare with it.
    Article,
}

/// Everything an estimate needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// Region code.
    pub region: String,
    /// The services.
    pub services: Vec<ServiceUsage>,
    /// Use assumptions.
    pub assumptions: Assumptions,
    /// Full model or the article's lines.
    pub mode: Mode,
}

/// One line of a bill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineItem {
    /// What is billed.
    pub name: String,
    /// USD a month.
    #[serde(serialize_with = "four_places")]
    pub monthly_usd: f64,
    /// How the figure was reached, with the unit prices.
    pub formula: String,
}

/// A bill: its lines and their sum.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bill {
    /// The lines, in a stable order.
    pub lines: Vec<LineItem>,
    /// Their sum, USD a month.
    #[serde(serialize_with = "four_places")]
    pub total: f64,
}

/// A way to pay less (or what a choice already saves), in plain words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lever {
    /// Short name: `spot`, `schedule`, `public_ipv4`.
    pub name: String,
    /// The USD a month at stake.
    #[serde(serialize_with = "four_places")]
    pub monthly_usd: f64,
    /// One or two sentences for a person.
    pub text: String,
}

/// What one service runs over the month, as priced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceReport {
    /// Service name.
    pub name: String,
    /// Task-hours on `FARGATE`.
    #[serde(serialize_with = "four_places")]
    pub on_demand_task_hours: f64,
    /// Task-hours on `FARGATE_SPOT`.
    #[serde(serialize_with = "four_places")]
    pub spot_task_hours: f64,
    /// Hours with at least one task running.
    #[serde(serialize_with = "four_places")]
    pub running_hours: f64,
    /// The most tasks at once.
    pub peak_tasks: u32,
    /// Whether the hours come from scheduled actions or given running hours.
    pub scheduled: bool,
}

/// The result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Region code.
    pub region: String,
    /// Region name.
    pub region_name: String,
    /// The mode the bills were made in.
    pub mode: Mode,
    /// The assumptions used.
    pub assumptions: Assumptions,
    /// The ALB-less stack.
    pub albless: Bill,
    /// The same service behind an Application Load Balancer.
    pub with_alb: Bill,
    /// `with_alb.total - albless.total`.
    #[serde(serialize_with = "four_places")]
    pub saving: f64,
    /// What each service runs over the month.
    pub services: Vec<ServiceReport>,
    /// The three biggest levers, largest first (always from the full model).
    pub levers: Vec<Lever>,
    /// Caveats: inferred prices, unverified figures, what the article left out.
    pub notes: Vec<String>,
}

fn four_places<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((v * 10_000.0).round() / 10_000.0)
}

/// Prices `inputs` with `book`.
pub fn estimate(book: &PriceBook, inputs: &Inputs) -> Result<Estimate, CostError> {
    let a = &inputs.assumptions;
    check_inputs(a)?;
    let p = book.region(&inputs.region)?;
    let article = inputs.mode == Mode::Article;

    let compute: Vec<Compute> = inputs
        .services
        .iter()
        .map(|s| Compute::of(s, p, a.spot_discount))
        .collect();
    let shared = Shared::of(book, p, a);

    let mut albless = Vec::new();
    let mut with_alb = Vec::new();
    for c in &compute {
        albless.push(c.fargate_line(article));
        with_alb.push(c.fargate_line(article));
    }
    let mut alb_hours = shared.alb_hours();
    if article {
        // The article's 17.75 is 0.0243 × 730.5 h (or 730 h plus cents of LCU): 1¢ more.
        alb_hours
            .formula
            .push_str("; the article shows 17.75, i.e. 730.5 h or a few cents of LCU");
    }
    with_alb.push(alb_hours);
    if !article {
        with_alb.push(shared.alb_lcu());
        with_alb.push(shared.alb_ipv4());
        for c in &compute {
            albless.push(c.ipv4_line(p));
            with_alb.push(c.ipv4_line(p));
        }
    }
    albless.push(shared.api_gateway());
    if !article {
        albless.push(LineItem {
            name: "VPC link (V2)".into(),
            monthly_usd: 0.0,
            formula: "no charge found for HTTP API VPC links".into(),
        });
        for c in &compute {
            albless.push(c.cloud_map_line(p));
        }
        albless.push(shared.discovery());
    }
    if a.hosted_zone {
        albless.push(shared.hosted_zone());
    }
    for bill in [&mut albless, &mut with_alb] {
        bill.push(shared.ecr());
        if !article {
            bill.push(shared.logs());
            bill.push(shared.dto());
        }
    }

    let albless = bill(albless);
    let with_alb = bill(with_alb);
    let mut notes = notes(book, p, inputs);
    if article {
        let full = estimate(
            book,
            &Inputs {
                mode: Mode::Full,
                ..inputs.clone()
            },
        )?;
        notes.push(format!(
            "The article leaves out lines the full model counts (public IPv4 on each task and \
             on the ALB, the Cloud Map instance fee, LCUs, logs, transfer): the full model \
             gives {:.2} without an ALB and {:.2} with one.",
            full.albless.total, full.with_alb.total
        ));
    }
    Ok(Estimate {
        region: p.code.clone(),
        region_name: p.name.clone(),
        mode: inputs.mode,
        assumptions: a.clone(),
        saving: with_alb.total - albless.total,
        albless,
        with_alb,
        services: compute.iter().map(Compute::report).collect(),
        levers: levers(book, p, &compute, &shared),
        notes,
    })
}

fn check_inputs(a: &Assumptions) -> Result<(), CostError> {
    for (name, v) in [
        ("requests a month", a.requests_per_month),
        ("response size", a.response_kb),
        ("log volume", a.log_gb),
        ("image size", a.image_gb),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(CostError::BadInput(format!(
                "{name} must be a number >= 0, got {v}"
            )));
        }
    }
    if !(0.0..=1.0).contains(&a.spot_discount) {
        return Err(CostError::BadInput(format!(
            "the Spot discount must be within 0-100 %, got {} %",
            a.spot_discount * 100.0
        )));
    }
    Ok(())
}

fn bill(lines: Vec<LineItem>) -> Bill {
    let total = lines.iter().map(|l| l.monthly_usd).sum();
    Bill { lines, total }
}

/// One service's compute: its rates and task-hours by provider.
struct Compute<'a> {
    service: &'a ServiceUsage,
    vcpu: f64,
    gb: f64,
    vcpu_rate: f64,
    gb_rate: f64,
    spot_discount: f64,
    on_demand_hours: f64,
    spot_hours: f64,
}

impl<'a> Compute<'a> {
    fn of(service: &'a ServiceUsage, p: &RegionPrices, spot_discount: f64) -> Self {
        let (vcpu_item, gb_item) = match service.arch {
            Arch::X86_64 => (Item::FargateX86VcpuHour, Item::FargateX86GbHour),
            Arch::Arm64 => (Item::FargateArmVcpuHour, Item::FargateArmGbHour),
        };
        let (mut on_demand_hours, mut spot_hours) = (0.0, 0.0);
        for (count, hours) in &service.profile.hours_at {
            let (od, spot) = split(*count, &service.strategy);
            on_demand_hours += od * hours;
            spot_hours += spot * hours;
        }
        Compute {
            service,
            vcpu: f64::from(service.cpu_units) / 1024.0,
            gb: f64::from(service.memory_mib) / 1024.0,
            vcpu_rate: p.usd(vcpu_item),
            gb_rate: p.usd(gb_item),
            spot_discount,
            on_demand_hours,
            spot_hours,
        }
    }

    /// USD per on-demand task-hour.
    fn task_rate(&self) -> f64 {
        self.vcpu * self.vcpu_rate + self.gb * self.gb_rate
    }

    fn task_hours(&self) -> f64 {
        self.on_demand_hours + self.spot_hours
    }

    /// On-demand-equivalent task-hours: Spot hours count at their discounted share.
    fn billed_hours(&self) -> f64 {
        self.on_demand_hours + self.spot_hours * (1.0 - self.spot_discount)
    }

    fn fargate_usd(&self) -> f64 {
        self.task_rate() * self.billed_hours()
    }

    fn fargate_line(&self, article: bool) -> LineItem {
        let arch = match self.service.arch {
            Arch::X86_64 => "x86",
            Arch::Arm64 => "ARM",
        };
        let mut formula = format!(
            "({} vCPU × ${} + {} GB × ${}) = ${}/task-h × ",
            num(self.vcpu),
            num(self.vcpu_rate),
            num(self.gb),
            num(self.gb_rate),
            num(self.task_rate())
        );
        formula.push_str(&match (self.on_demand_hours > 0.0, self.spot_hours > 0.0) {
            (_, false) => format!("{} task-h", num(self.on_demand_hours)),
            (false, true) => format!(
                "{} task-h on FARGATE_SPOT × {} ({} % off assumed)",
                num(self.spot_hours),
                num(1.0 - self.spot_discount),
                num(self.spot_discount * 100.0)
            ),
            (true, true) => format!(
                "({} task-h FARGATE + {} task-h FARGATE_SPOT × {})",
                num(self.on_demand_hours),
                num(self.spot_hours),
                num(1.0 - self.spot_discount)
            ),
        });
        let mut usd = self.fargate_usd();
        if article {
            // The article's 11.25 and 8.99 are its vCPU and memory parts each rounded to
            // the cent (ARM: 7.38 + 1.61 = 8.99, where the exact sum is 8.9954 → 9.00;
            // x86: 9.23 + 2.02 = 11.25). Rounding the parts reproduces both figures.
            let cents = |v: f64| (v * 100.0).round() / 100.0;
            let hours = self.billed_hours();
            let (cpu, mem) = (
                cents(self.vcpu * self.vcpu_rate * hours),
                cents(self.gb * self.gb_rate * hours),
            );
            formula.push_str(&format!(
                "; as the article: vCPU and memory parts rounded to the cent, {cpu:.2} + {mem:.2} (exact {usd:.4})"
            ));
            usd = cpu + mem;
        }
        LineItem {
            name: format!(
                "Fargate {arch}, {} ({} vCPU / {} GB)",
                self.service.name,
                num(self.vcpu),
                num(self.gb)
            ),
            monthly_usd: usd,
            formula,
        }
    }

    fn report(&self) -> ServiceReport {
        ServiceReport {
            name: self.service.name.clone(),
            on_demand_task_hours: self.on_demand_hours,
            spot_task_hours: self.spot_hours,
            running_hours: self.service.profile.running_hours(),
            peak_tasks: self.service.profile.peak(),
            scheduled: self.service.scheduled,
        }
    }

    /// Task-hours that hold a public IPv4 address.
    fn ipv4_hours(&self) -> f64 {
        if self.service.public_ip {
            self.task_hours()
        } else {
            0.0
        }
    }

    fn ipv4_line(&self, p: &RegionPrices) -> LineItem {
        let rate = p.usd(Item::PublicIpv4Hour);
        let formula = if self.service.public_ip {
            format!(
                "{} task-h × ${}/address-h",
                num(self.task_hours()),
                num(rate)
            )
        } else {
            "assign_public_ip = false: no address (the task then needs a NAT gateway or VPC \
             endpoints to pull its image, not priced here)"
                .into()
        };
        LineItem {
            name: format!("Public IPv4 on each task, {}", self.service.name),
            monthly_usd: self.ipv4_hours() * rate,
            formula,
        }
    }

    fn cloud_map_line(&self, p: &RegionPrices) -> LineItem {
        let rate = p.usd(Item::CloudMapInstanceMonth);
        let peak = self.service.profile.peak();
        LineItem {
            name: format!("Cloud Map registered instances, {}", self.service.name),
            monthly_usd: f64::from(peak) * rate,
            formula: format!(
                "{peak} instance(s) at peak × ${}/instance-month (not pro-rated)",
                num(rate)
            ),
        }
    }
}

/// Splits `count` tasks between on-demand and Spot by a strategy: bases first, the
/// rest by weight (aws-behavior.md §4.6). Fractional: the long-run share, not ECS's
/// task-by-task placement.
pub fn split(count: u32, strategy: &[CapacityItem]) -> (f64, f64) {
    if strategy.is_empty() {
        return (f64::from(count), 0.0);
    }
    let (mut od, mut spot) = (0.0, 0.0);
    let mut rest = count;
    for item in strategy {
        let base = item.base.min(rest);
        rest -= base;
        match item.provider {
            Provider::Fargate => od += f64::from(base),
            Provider::FargateSpot => spot += f64::from(base),
        }
    }
    let weights: u32 = strategy.iter().map(|i| i.weight).sum();
    for item in strategy {
        // All-zero weights fail on AWS; with a lone item, ECS uses it whatever its weight.
        let share = match (weights, strategy.len()) {
            (0, 1) => 1.0,
            (0, _) => 0.0,
            _ => f64::from(item.weight) / f64::from(weights),
        };
        let tasks = f64::from(rest) * share;
        match item.provider {
            Provider::Fargate => od += tasks,
            Provider::FargateSpot => spot += tasks,
        }
    }
    (od, spot)
}

/// The share of a service's tasks on Spot at its desired count.
fn spot_share(s: &ServiceUsage) -> f64 {
    let (od, spot) = split(s.desired_count.max(1), &s.strategy);
    spot / (od + spot)
}

/// Lines that do not depend on a service.
struct Shared<'a> {
    book: &'a PriceBook,
    p: &'a RegionPrices,
    a: &'a Assumptions,
}

impl<'a> Shared<'a> {
    fn of(book: &'a PriceBook, p: &'a RegionPrices, a: &'a Assumptions) -> Self {
        Shared { book, p, a }
    }

    fn hours(&self) -> f64 {
        self.book.hours_per_month
    }

    /// GB a month sent to clients.
    fn out_gb(&self) -> f64 {
        self.a.requests_per_month * self.a.response_kb / (1024.0 * 1024.0)
    }

    fn alb_hours(&self) -> LineItem {
        let rate = self.p.usd(Item::AlbHour);
        LineItem {
            name: "ALB hours".into(),
            monthly_usd: self.hours() * rate,
            formula: format!(
                "{} h × ${}/ALB-h (the ALB runs all month)",
                num(self.hours()),
                num(rate)
            ),
        }
    }

    fn alb_lcu(&self) -> LineItem {
        let rate = self.p.usd(Item::AlbLcuHour);
        let per_second = self.a.requests_per_month / self.hours() / 3600.0;
        // LCU dimensions (ELB pricing): 25 new connections/s, 1 GB/h processed; one new
        // connection per request is the worst case. Active connections and rule
        // evaluations (a one-rule listener is within the free 10) are left out.
        let by_connections = per_second / 25.0;
        let by_bytes = self.out_gb() / self.hours();
        let lcu = by_connections.max(by_bytes);
        LineItem {
            name: "ALB LCUs".into(),
            monthly_usd: lcu * self.hours() * rate,
            formula: format!(
                "max({} new conn/s ÷ 25, {} GB/h ÷ 1) = {} LCU × {} h × ${}/LCU-h (monthly average)",
                num(per_second),
                num(by_bytes),
                num(lcu),
                num(self.hours()),
                num(rate)
            ),
        }
    }

    fn alb_ipv4(&self) -> LineItem {
        let rate = self.p.usd(Item::PublicIpv4Hour);
        let n = self.book.metering.alb_public_ipv4;
        LineItem {
            name: "Public IPv4 on the ALB".into(),
            monthly_usd: f64::from(n) * self.hours() * rate,
            formula: format!(
                "{n} addresses (one per AZ, 2 AZs at least) × {} h × ${}/address-h",
                num(self.hours()),
                num(rate)
            ),
        }
    }

    fn api_gateway(&self) -> LineItem {
        let m = &self.book.metering;
        let first = self.p.usd(Item::ApiGatewayHttpPerMillion);
        let beyond = self.p.usd(Item::ApiGatewayHttpPerMillionBeyond300m);
        // HTTP APIs meter in 512 KB steps: a 1.2 MB response counts as 3 requests.
        let units = (self.a.response_kb / m.api_gateway_increment_kb)
            .ceil()
            .max(1.0);
        let billed = self.a.requests_per_month * units;
        let in_first = billed.min(m.api_gateway_first_tier_requests);
        let usd = in_first / 1e6 * first + (billed - in_first) / 1e6 * beyond;
        let mut formula = format!(
            "{} requests × {} (512 KB steps) = {} M × ${}/M",
            num(self.a.requests_per_month),
            num(units),
            num(billed / 1e6),
            num(first)
        );
        if billed > in_first {
            formula.push_str(&format!(" up to 300 M, ${}/M beyond", num(beyond)));
        }
        LineItem {
            name: "API Gateway HTTP API requests".into(),
            monthly_usd: usd,
            formula,
        }
    }

    fn discovery(&self) -> LineItem {
        let rate = self.p.usd(Item::CloudMapDiscoveryPerMillion);
        LineItem {
            name: "Cloud Map DiscoverInstances (worst case)".into(),
            monthly_usd: self.a.requests_per_month / 1e6 * rate,
            formula: format!(
                "{} requests × one call each (unverified; API Gateway may cache) × ${}/M",
                num(self.a.requests_per_month),
                num(rate)
            ),
        }
    }

    fn hosted_zone(&self) -> LineItem {
        let rate = self.p.usd(Item::Route53HostedZoneMonth);
        LineItem {
            name: "Route 53 private hosted zone".into(),
            monthly_usd: rate,
            formula: format!(
                "1 zone (created by the Cloud Map DNS namespace) × ${}/zone-month",
                num(rate)
            ),
        }
    }

    fn ecr(&self) -> LineItem {
        let rate = self.p.usd(Item::EcrGbMonth);
        LineItem {
            name: "ECR image storage".into(),
            monthly_usd: self.a.image_gb * rate,
            formula: format!("{} GB × ${}/GB-month", num(self.a.image_gb), num(rate)),
        }
    }

    fn logs(&self) -> LineItem {
        let ingest = self.p.usd(Item::LogsIngestGb);
        let store = self.p.usd(Item::LogsStorageGbMonth);
        LineItem {
            name: "CloudWatch Logs".into(),
            monthly_usd: self.a.log_gb * (ingest + store),
            formula: format!(
                "{} GB × (${}/GB ingested + ${}/GB-month stored, one month)",
                num(self.a.log_gb),
                num(ingest),
                num(store)
            ),
        }
    }

    fn dto(&self) -> LineItem {
        let rate = self.p.usd(Item::DtoGb);
        let free = self.book.metering.dto_free_gb;
        let billed = (self.out_gb() - free).max(0.0);
        LineItem {
            name: "Data transfer out".into(),
            monthly_usd: billed * rate,
            formula: format!(
                "max(0, {} GB − {} GB free) × ${}/GB",
                num(self.out_gb()),
                num(free),
                num(rate)
            ),
        }
    }
}

fn levers(book: &PriceBook, p: &RegionPrices, compute: &[Compute], shared: &Shared) -> Vec<Lever> {
    let ipv4_rate = p.usd(Item::PublicIpv4Hour);
    let hours = book.hours_per_month;

    // Spot: what it saves already, or what it would save on every task.
    let spot_now: f64 = compute
        .iter()
        .map(|c| c.spot_hours * c.task_rate() * c.spot_discount)
        .sum();
    let spot_more: f64 = compute
        .iter()
        .map(|c| c.on_demand_hours * c.task_rate() * c.spot_discount)
        .sum();
    let pct = num(shared.a.spot_discount * 100.0);
    let spot = if spot_more > 0.0 {
        Lever {
            name: "spot".into(),
            monthly_usd: spot_more,
            text: format!(
                "Running every task on FARGATE_SPOT ({pct} % off assumed) would save {spot_more:.2} USD \
                 a month; a Spot task can be stopped with two minutes' warning, and a one-task \
                 service is down until Spot capacity returns."
            ),
        }
    } else {
        Lever {
            name: "spot".into(),
            monthly_usd: spot_now,
            text: format!(
                "FARGATE_SPOT already saves {spot_now:.2} USD a month against on-demand ({pct} % \
                 off assumed; AWS promises only \"up to 70 %\")."
            ),
        }
    };

    // Schedule: the task-hours it removes, at the service's own blend of rates.
    let mut saved = 0.0;
    let mut hypothetical = 0.0;
    let scheduled = compute.iter().any(|c| c.service.scheduled);
    let task_hours_now: f64 = compute.iter().map(Compute::task_hours).sum();
    let always_on_hours: f64 = compute
        .iter()
        .map(|c| f64::from(c.service.desired_count) * hours)
        .sum();
    for c in compute {
        let ipv4 = if c.service.public_ip { ipv4_rate } else { 0.0 };
        let per_task_hour = if c.task_hours() > 0.0 {
            c.fargate_usd() / c.task_hours() + ipv4
        } else {
            c.task_rate() * (1.0 - c.spot_discount * spot_share(c.service)) + ipv4
        };
        let always_on = f64::from(c.service.desired_count) * hours;
        saved += (always_on - c.task_hours()).max(0.0) * per_task_hour;
        let office = f64::from(c.service.desired_count) * OFFICE_HOURS_PER_MONTH;
        hypothetical += (c.task_hours() - office).max(0.0) * per_task_hour;
    }
    let schedule = if scheduled {
        Lever {
            name: "schedule".into(),
            monthly_usd: saved,
            text: format!(
                "Running part-time ({} task-h instead of {} always on) saves {saved:.2} USD a \
                 month in Fargate and public IPv4.",
                num(task_hours_now),
                num(always_on_hours)
            ),
        }
    } else {
        Lever {
            name: "schedule".into(),
            monthly_usd: hypothetical,
            text: format!(
                "Running only on weekdays 09:00-17:00 (about {} h a month, a scheduled action \
                 pair) would save {hypothetical:.2} USD a month in Fargate and public IPv4.",
                num(OFFICE_HOURS_PER_MONTH)
            ),
        }
    };

    let ipv4: f64 = compute.iter().map(|c| c.ipv4_hours() * ipv4_rate).sum();
    let fargate: f64 = compute.iter().map(Compute::fargate_usd).sum();
    let comparison = if ipv4 > fargate {
        "more than the compute itself"
    } else {
        "less than the compute"
    };
    let public_ipv4 = Lever {
        name: "public_ipv4".into(),
        monthly_usd: ipv4,
        text: format!(
            "Each task's public IPv4 costs {:.2} USD a month when always on ({} USD an hour); here \
             {ipv4:.2} USD, {comparison}. It stays: a NAT gateway or ECR VPC endpoints to do \
             without it cost more.",
            ipv4_rate * hours,
            num(ipv4_rate)
        ),
    };

    let mut levers = vec![spot, schedule, public_ipv4];
    levers.sort_by(|a, b| b.monthly_usd.total_cmp(&a.monthly_usd));
    levers
}

fn notes(book: &PriceBook, p: &RegionPrices, inputs: &Inputs) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(note) = &p.note {
        notes.push(note.clone());
    }
    for item in Item::ALL {
        if let Some(note) = &p.get(item).note
            && !notes.contains(note)
        {
            notes.push(note.clone());
        }
    }
    if inputs.services.iter().any(|s| {
        s.strategy
            .iter()
            .any(|i| i.provider == Provider::FargateSpot)
    }) {
        notes.push(format!(
            "Spot prices float; {} % off is assumed ({} % is the cautious case).",
            num(inputs.assumptions.spot_discount * 100.0),
            num(book.spot.conservative_discount * 100.0)
        ));
    }
    notes.push(
        "No free tier applied: API Gateway's 1 M requests, ECR's 500 MB and Logs' 5 GB apply \
         only to accounts in their first 12 months under the legacy plan."
            .into(),
    );
    notes
}

/// A number without trailing zeros (`0.25`, `730`, `0.0123225`).
fn num(v: f64) -> String {
    let s = format!("{v:.7}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}
