use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::{ATTR_INIT_HEALTH, ATTR_IPV4, ATTR_PORT, Registry, ServiceConfig};

/// `ecs.local`/`api` with instances `i0..i{n}` carrying `stage` and `color` attributes:
/// even ones `stage=prod`, odd ones `stage=dev`; `i0` and `i1` `color=green`.
fn registry(n: usize, custom_health: bool) -> Registry {
    let r = Registry::new();
    r.create_namespace("ecs.local").unwrap();
    let config = ServiceConfig {
        srv: true,
        a: false,
        ttl: 10,
        custom_health,
    };
    r.create_service("ecs.local", "api", config).unwrap();
    for i in 0..n {
        let mut attrs = BTreeMap::from([
            (
                ATTR_IPV4.to_string(),
                format!("10.0.{}.{}", i / 250, i % 250 + 1),
            ),
            (ATTR_PORT.to_string(), "80".to_string()),
            (
                "stage".to_string(),
                if i % 2 == 0 { "prod" } else { "dev" }.to_string(),
            ),
        ]);
        if i < 2 {
            attrs.insert("color".into(), "green".into());
        }
        r.register_instance("ecs.local", "api", &format!("i{i}"), attrs)
            .unwrap();
    }
    r
}

fn query(f: impl FnOnce(&mut DiscoverQuery)) -> DiscoverQuery {
    let mut q = DiscoverQuery {
        namespace: "ecs.local".into(),
        service: "api".into(),
        ..DiscoverQuery::default()
    };
    f(&mut q);
    q
}

fn ids(r: &Registry, q: &DiscoverQuery) -> BTreeSet<String> {
    let found = discover(&r.snapshot(), q, &mut rand::rng()).unwrap();
    found.instances.into_iter().map(|i| i.id).collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn query_parameters_must_all_match() {
    let r = registry(6, true);
    let prod = query(|q| q.query = BTreeMap::from([("stage".into(), "prod".into())]));
    assert_eq!(ids(&r, &prod), set(&["i0", "i2", "i4"]));
    let both = query(|q| {
        q.query = BTreeMap::from([
            ("stage".into(), "dev".into()),
            ("color".into(), "green".into()),
        ])
    });
    assert_eq!(ids(&r, &both), set(&["i1"]));
}

#[test]
fn optional_parameters_narrow_only_when_something_matches() {
    let r = registry(6, true);
    let q = query(|q| {
        q.query = BTreeMap::from([("stage".into(), "prod".into())]);
        q.optional = BTreeMap::from([("color".into(), "green".into())]);
    });
    assert_eq!(ids(&r, &q), set(&["i0"]));
    let q = query(|q| {
        q.query = BTreeMap::from([("stage".into(), "prod".into())]);
        q.optional = BTreeMap::from([("color".into(), "blue".into())]);
    });
    assert_eq!(
        ids(&r, &q),
        set(&["i0", "i2", "i4"]),
        "no match: the optional set is ignored"
    );
}

#[test]
fn health_filters() {
    let r = registry(3, true);
    r.set_health("ecs.local", "api", "i1", HealthStatus::Unhealthy)
        .unwrap();
    let with = |h| query(|q| q.health = h);
    assert_eq!(ids(&r, &with(HealthFilter::Healthy)), set(&["i0", "i2"]));
    assert_eq!(ids(&r, &with(HealthFilter::Unhealthy)), set(&["i1"]));
    assert_eq!(ids(&r, &with(HealthFilter::All)), set(&["i0", "i1", "i2"]));
    assert_eq!(
        ids(&r, &with(HealthFilter::HealthyOrElseAll)),
        set(&["i0", "i2"])
    );
    for id in ["i0", "i2"] {
        r.set_health("ecs.local", "api", id, HealthStatus::Unhealthy)
            .unwrap();
    }
    assert!(ids(&r, &with(HealthFilter::Healthy)).is_empty());
    assert_eq!(
        ids(&r, &with(HealthFilter::HealthyOrElseAll)).len(),
        3,
        "fails open"
    );
}

#[test]
fn without_a_health_check_everything_is_returned_unknown() {
    let r = registry(2, false);
    let found = discover(&r.snapshot(), &query(|_| ()), &mut rand::rng()).unwrap();
    assert_eq!(found.instances.len(), 2);
    assert!(
        found
            .instances
            .iter()
            .all(|i| i.health == HealthStatus::Unknown)
    );
    // An initial UNHEALTHY means nothing without a custom check.
    let attrs = BTreeMap::from([
        (ATTR_IPV4.to_string(), "10.9.9.9".to_string()),
        (ATTR_INIT_HEALTH.to_string(), "UNHEALTHY".to_string()),
    ]);
    r.register_instance("ecs.local", "api", "x", attrs).unwrap();
    assert_eq!(
        ids(&r, &query(|q| q.health = HealthFilter::Unhealthy)).len(),
        3
    );
}

#[test]
fn max_results_defaults_to_100_and_order_is_random() {
    let r = registry(150, true);
    let found = discover(&r.snapshot(), &query(|_| ()), &mut rand::rng()).unwrap();
    assert_eq!(found.instances.len(), DEFAULT_MAX_RESULTS);
    let five = query(|q| q.max_results = Some(5));
    assert_eq!(ids(&r, &five).len(), 5);
    let orders: BTreeSet<Vec<String>> = (0..10)
        .map(|_| {
            let found = discover(&r.snapshot(), &query(|_| ()), &mut rand::rng()).unwrap();
            found.instances.into_iter().map(|i| i.id).collect()
        })
        .collect();
    assert!(orders.len() > 1, "ten calls gave one order");
}

#[test]
fn revision_moves_on_register_and_deregister_only() {
    let r = registry(2, true);
    let rev = || {
        discover(&r.snapshot(), &query(|_| ()), &mut rand::rng())
            .unwrap()
            .revision
    };
    let first = rev();
    r.set_health("ecs.local", "api", "i0", HealthStatus::Unhealthy)
        .unwrap();
    assert_eq!(rev(), first);
    r.deregister_instance("ecs.local", "api", "i0").unwrap();
    let second = rev();
    assert!(second > first);
    r.register_instance("ecs.local", "api", "i0", BTreeMap::new())
        .unwrap();
    assert!(rev() > second);
}

#[test]
fn unknown_names_are_errors() {
    let r = registry(1, true);
    let q = query(|q| q.namespace = "nope.local".into());
    assert_eq!(
        discover(&r.snapshot(), &q, &mut rand::rng()),
        Err(RegistryError::NamespaceNotFound("nope.local".into()))
    );
    let q = query(|q| q.service = "nope".into());
    assert_eq!(
        discover(&r.snapshot(), &q, &mut rand::rng()),
        Err(RegistryError::ServiceNotFound("nope".into()))
    );
}
