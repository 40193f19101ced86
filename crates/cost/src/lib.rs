//! What an albless stack costs a month on AWS, line by line, next to the same service
//! behind an Application Load Balancer: the reason the ALB-less architecture exists.
//!
//! [`PriceBook::builtin`] holds the prices (`data/prices.toml`: per region, each figure
//! with its source and date); [`estimate`] turns [`Inputs`] (task sizes, capacity
//! providers, task-hours from a schedule, traffic assumptions) into an [`Estimate`]: two
//! bills, the saving, and the three biggest levers. [`Mode::Article`] counts only the
//! lines the original article counted, so its tables can be compared.
//!
//! Pure: no clock, no network, no file read at run time.

mod error;
mod model;
mod prices;

#[cfg(test)]
mod tests;

pub use error::CostError;
pub use model::{
    Arch, Assumptions, Bill, CapacityItem, Estimate, Inputs, Lever, LineItem, Mode,
    OFFICE_HOURS_PER_MONTH, Provider, ServiceReport, ServiceUsage, estimate, split,
};
pub use prices::{Item, Metering, Price, PriceBook, RegionPrices, SpotAssumption};
