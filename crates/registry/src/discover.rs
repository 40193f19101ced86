//! The DiscoverInstances rules (aws-behavior.md §3.4): attribute filters, the health
//! filter, the result cap and the random order, applied to one [`Snapshot`].
//!
//! Pure apart from the shuffle, so it is tested without a server. Known limits: no
//! throttling (Cloud Map's 1,000 calls/s bucket is not emulated).

use std::collections::BTreeMap;

use rand::Rng;
use rand::seq::SliceRandom;

use crate::model::RegistryError;
use crate::snapshot::{InstanceView, Snapshot};
use crate::types::HealthStatus;

/// DiscoverInstances' default result cap.
pub const DEFAULT_MAX_RESULTS: usize = 100;
/// DiscoverInstances' largest result cap.
pub const MAX_MAX_RESULTS: usize = 1000;

/// Which instances DiscoverInstances returns by health (Cloud Map `HealthStatusFilter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HealthFilter {
    /// Healthy ones (the default).
    #[default]
    Healthy,
    /// Unhealthy ones.
    Unhealthy,
    /// All.
    All,
    /// Healthy ones, or all when none is healthy ("fail open").
    HealthyOrElseAll,
}

/// A DiscoverInstances request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DiscoverQuery {
    /// The namespace's `HttpName`.
    pub namespace: String,
    /// The service's name.
    pub service: String,
    /// At most this many instances (1..=1000, default 100).
    pub max_results: Option<usize>,
    /// Every pair must match an attribute.
    pub query: BTreeMap<String, String>,
    /// Narrows the result only when some instance matches all of these too.
    pub optional: BTreeMap<String, String>,
    /// The health filter; ignored for services without a health check.
    pub health: HealthFilter,
}

/// What DiscoverInstances found.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    /// The matching instances, in random order.
    pub instances: Vec<InstanceView>,
    /// The service's `InstancesRevision`.
    pub revision: u64,
}

/// Answers `query` from `snapshot`, shuffling with `rng`.
///
/// Fails with `NamespaceNotFound` or `ServiceNotFound`.
pub fn discover(
    snapshot: &Snapshot,
    query: &DiscoverQuery,
    rng: &mut impl Rng,
) -> Result<Discovery, RegistryError> {
    let ns = snapshot
        .namespace_by_http_name(&query.namespace)
        .ok_or_else(|| RegistryError::NamespaceNotFound(query.namespace.clone()))?;
    let svc = ns
        .services
        .get(&query.service)
        .ok_or_else(|| RegistryError::ServiceNotFound(query.service.clone()))?;
    let has_check = svc.info.custom_health || svc.info.health_check.is_some();

    let matching: Vec<&InstanceView> = svc
        .instances
        .iter()
        .filter(|i| matches_all(i, &query.query))
        .collect();

    // The health filter is ignored for services without a health check: everything is
    // returned, with health UNKNOWN (aws-behavior.md §3.2, §3.4).
    let healthy = |i: &&InstanceView| i.health == HealthStatus::Healthy;
    let mut found: Vec<&InstanceView> = if !has_check {
        matching
    } else {
        match query.health {
            HealthFilter::All => matching,
            HealthFilter::Healthy => matching.into_iter().filter(healthy).collect(),
            HealthFilter::Unhealthy => matching
                .into_iter()
                .filter(|i| i.health == HealthStatus::Unhealthy)
                .collect(),
            HealthFilter::HealthyOrElseAll => {
                let some: Vec<_> = matching.iter().copied().filter(healthy).collect();
                if some.is_empty() { matching } else { some }
            }
        }
    };

    // OptionalParameters narrow the result only when something matches them as well;
    // otherwise the QueryParameters result stands (API reference, DiscoverInstances).
    if !query.optional.is_empty() {
        let narrowed: Vec<_> = found
            .iter()
            .copied()
            .filter(|i| matches_all(i, &query.optional))
            .collect();
        if !narrowed.is_empty() {
            found = narrowed;
        }
    }

    found.shuffle(rng);
    found.truncate(query.max_results.unwrap_or(DEFAULT_MAX_RESULTS));
    Ok(Discovery {
        instances: found.into_iter().cloned().collect(),
        revision: svc.instances_revision,
    })
}

fn matches_all(inst: &InstanceView, pairs: &BTreeMap<String, String>) -> bool {
    pairs.iter().all(|(k, v)| inst.attributes.get(k) == Some(v))
}

#[cfg(test)]
mod tests;
