//! The price data: `data/prices.toml`, built into the binary, parsed once. Every figure
//! has its source, a URL to re-check it and the date of the reading; a region may borrow
//! another's figures whole (`same_as`, Osaka = Tokyo) and says so in its `note`.
//!
//! Known limits: one price per figure (no tiers except the API Gateway 300 M step), no
//! Savings Plans, no free tiers (they depend on the account's age; see the notes the
//! model prints).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::CostError;

/// The price file shipped with albless.
const BUILTIN: &str = include_str!("../data/prices.toml");

/// One figure of the price list.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// USD per unit (the unit is in the figure's name: per hour, per GB-month, ...).
    pub usd: f64,
    /// Where the figure was read.
    pub source: String,
    /// Where to re-check it.
    pub url: String,
    /// When it was read or published (`undated` when the copy had no date).
    pub date: String,
    /// Set when the figure is inferred or stands in for one not found.
    #[serde(default)]
    pub note: Option<String>,
}

/// The figures the model needs, one per key of a region in `prices.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Item {
    /// Fargate Linux/x86 per vCPU-hour.
    FargateX86VcpuHour,
    /// Fargate Linux/x86 per GB-hour.
    FargateX86GbHour,
    /// Fargate Linux/ARM per vCPU-hour.
    FargateArmVcpuHour,
    /// Fargate Linux/ARM per GB-hour.
    FargateArmGbHour,
    /// Application Load Balancer per hour.
    AlbHour,
    /// ALB per LCU-hour.
    AlbLcuHour,
    /// Public IPv4 per address-hour, in use or idle.
    PublicIpv4Hour,
    /// API Gateway HTTP API per million requests, first 300 M a month.
    ApiGatewayHttpPerMillion,
    /// API Gateway HTTP API per million requests beyond 300 M.
    ApiGatewayHttpPerMillionBeyond300m,
    /// Cloud Map per registered instance-month.
    CloudMapInstanceMonth,
    /// Cloud Map per million DiscoverInstances calls.
    CloudMapDiscoveryPerMillion,
    /// Route 53 per hosted zone-month (first 25).
    Route53HostedZoneMonth,
    /// ECR private storage per GB-month.
    EcrGbMonth,
    /// CloudWatch Logs ingestion per GB (Standard class).
    LogsIngestGb,
    /// CloudWatch Logs storage per GB-month.
    LogsStorageGbMonth,
    /// Data transfer out to the internet per GB, past the free 100 GB.
    DtoGb,
}

impl Item {
    /// Every figure, in file order.
    pub const ALL: [Item; 16] = [
        Item::FargateX86VcpuHour,
        Item::FargateX86GbHour,
        Item::FargateArmVcpuHour,
        Item::FargateArmGbHour,
        Item::AlbHour,
        Item::AlbLcuHour,
        Item::PublicIpv4Hour,
        Item::ApiGatewayHttpPerMillion,
        Item::ApiGatewayHttpPerMillionBeyond300m,
        Item::CloudMapInstanceMonth,
        Item::CloudMapDiscoveryPerMillion,
        Item::Route53HostedZoneMonth,
        Item::EcrGbMonth,
        Item::LogsIngestGb,
        Item::LogsStorageGbMonth,
        Item::DtoGb,
    ];

    /// The figure's key in `prices.toml`.
    pub fn key(self) -> &'static str {
        match self {
            Item::FargateX86VcpuHour => "fargate_x86_vcpu_hour",
            Item::FargateX86GbHour => "fargate_x86_gb_hour",
            Item::FargateArmVcpuHour => "fargate_arm_vcpu_hour",
            Item::FargateArmGbHour => "fargate_arm_gb_hour",
            Item::AlbHour => "alb_hour",
            Item::AlbLcuHour => "alb_lcu_hour",
            Item::PublicIpv4Hour => "public_ipv4_hour",
            Item::ApiGatewayHttpPerMillion => "api_gateway_http_per_million",
            Item::ApiGatewayHttpPerMillionBeyond300m => "api_gateway_http_per_million_beyond_300m",
            Item::CloudMapInstanceMonth => "cloud_map_instance_month",
            Item::CloudMapDiscoveryPerMillion => "cloud_map_discovery_per_million",
            Item::Route53HostedZoneMonth => "route53_hosted_zone_month",
            Item::EcrGbMonth => "ecr_gb_month",
            Item::LogsIngestGb => "logs_ingest_gb",
            Item::LogsStorageGbMonth => "logs_storage_gb_month",
            Item::DtoGb => "dto_gb",
        }
    }
}

/// The Fargate Spot discount assumed, with its source.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpotAssumption {
    /// Fraction off the on-demand price (0.70 = 70 % off).
    pub discount: f64,
    /// The cautious case (0.65).
    pub conservative_discount: f64,
    /// Where the figure comes from.
    pub source: String,
    /// Where to re-check it.
    pub url: String,
    /// When.
    pub date: String,
}

/// Metering rules and fixed counts, with their sources.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Metering {
    /// HTTP API requests are billed per this many KB of request or response.
    pub api_gateway_increment_kb: f64,
    /// Source of the increment.
    pub api_gateway_increment_source: String,
    /// URL of the increment's source.
    pub api_gateway_increment_url: String,
    /// Requests a month billed at the first HTTP API tier.
    pub api_gateway_first_tier_requests: f64,
    /// Public IPv4 addresses an internet-facing ALB holds at least (one per AZ, ≥ 2 AZs).
    pub alb_public_ipv4: u32,
    /// Source of that count.
    pub alb_public_ipv4_source: String,
    /// GB a month of data transfer out that cost nothing, account-wide.
    pub dto_free_gb: f64,
    /// Source of that allowance.
    pub dto_free_source: String,
}

/// One region's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionPrices {
    /// Region code (`ap-northeast-1`).
    pub code: String,
    /// Human name (`Asia Pacific (Tokyo)`).
    pub name: String,
    /// Set when the region's figures are borrowed or otherwise inferred.
    pub note: Option<String>,
    prices: BTreeMap<Item, Price>,
}

impl RegionPrices {
    /// The figure for `item` (every region has all of them: checked at load).
    pub fn get(&self, item: Item) -> &Price {
        &self.prices[&item]
    }

    /// The figure's USD amount.
    pub fn usd(&self, item: Item) -> f64 {
        self.get(item).usd
    }
}

/// The whole price list.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceBook {
    /// Hours in the month every monthly figure assumes (730).
    pub hours_per_month: f64,
    /// The Spot discount assumed.
    pub spot: SpotAssumption,
    /// Metering rules.
    pub metering: Metering,
    regions: BTreeMap<String, RegionPrices>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBook {
    hours_per_month: f64,
    spot: SpotAssumption,
    metering: Metering,
    regions: BTreeMap<String, RawRegion>,
}

#[derive(Deserialize)]
struct RawRegion {
    name: String,
    #[serde(default)]
    same_as: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(flatten)]
    prices: BTreeMap<String, Price>,
}

impl PriceBook {
    /// The price list built into albless (`data/prices.toml`), parsed on first use.
    pub fn builtin() -> &'static PriceBook {
        static BOOK: OnceLock<PriceBook> = OnceLock::new();
        // The file is part of the source tree; `builtin_prices_parse` proves it loads.
        BOOK.get_or_init(|| PriceBook::parse(BUILTIN).expect("data/prices.toml is valid"))
    }

    /// Parses a price file of the `prices.toml` shape; fails on a missing figure, an
    /// unknown key or a `same_as` that points nowhere.
    pub fn parse(text: &str) -> Result<PriceBook, CostError> {
        let raw: RawBook = toml::from_str(text)?;
        let mut regions = BTreeMap::new();
        for (code, region) in &raw.regions {
            let own = match &region.same_as {
                None => region,
                Some(target) => raw
                    .regions
                    .get(target)
                    .filter(|t| t.same_as.is_none())
                    .ok_or_else(|| CostError::SameAs {
                        region: code.clone(),
                        target: target.clone(),
                    })?,
            };
            let mut prices = BTreeMap::new();
            for item in Item::ALL {
                // A borrowing region may still override single figures.
                let price = region
                    .prices
                    .get(item.key())
                    .or_else(|| own.prices.get(item.key()))
                    .ok_or_else(|| CostError::MissingPrice {
                        region: code.clone(),
                        item: item.key(),
                    })?;
                prices.insert(item, price.clone());
            }
            if let Some(unknown) = region
                .prices
                .keys()
                .find(|k| !Item::ALL.iter().any(|i| i.key() == k.as_str()))
            {
                return Err(CostError::BadInput(format!(
                    "price data: region {code} has an unknown figure `{unknown}`"
                )));
            }
            regions.insert(
                code.clone(),
                RegionPrices {
                    code: code.clone(),
                    name: region.name.clone(),
                    note: region.note.clone(),
                    prices,
                },
            );
        }
        Ok(PriceBook {
            hours_per_month: raw.hours_per_month,
            spot: raw.spot,
            metering: raw.metering,
            regions,
        })
    }

    /// The figures of `code`, or [`CostError::UnknownRegion`].
    pub fn region(&self, code: &str) -> Result<&RegionPrices, CostError> {
        self.regions
            .get(code)
            .ok_or_else(|| CostError::UnknownRegion {
                region: code.to_string(),
                known: self.regions.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }

    /// The region codes the list covers.
    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.regions.keys().map(String::as_str)
    }
}
