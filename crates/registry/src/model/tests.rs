use std::time::Duration;

use super::*;
use crate::types::*;

fn attrs(ip: &str, port: u16) -> BTreeMap<String, String> {
    BTreeMap::from([
        (ATTR_IPV4.to_string(), ip.to_string()),
        (ATTR_PORT.to_string(), port.to_string()),
    ])
}

fn registry(custom_health: bool) -> Registry {
    let r = Registry::new();
    r.create_namespace("ecs.local").unwrap();
    let config = ServiceConfig {
        srv: true,
        a: false,
        ttl: 10,
        custom_health,
    };
    r.create_service("ecs.local", "backend", config).unwrap();
    r
}

#[test]
fn register_publishes_routable_addresses() {
    let r = registry(true);
    let changes = r.changes();
    r.register_instance("ecs.local", "backend", "a1", attrs("127.0.0.2", 8080))
        .unwrap();
    assert!(changes.has_changed().unwrap());
    let snap = r.snapshot();
    let svc = snap.service("ecs.local", "backend").unwrap();
    assert_eq!(svc.routable, vec!["127.0.0.2:8080".parse().unwrap()]);
    assert!(svc.instances_revision > 0);
}

#[test]
fn unhealthy_instances_leave_routable_but_keep_revision() {
    let r = registry(true);
    r.register_instance("ecs.local", "backend", "a1", attrs("127.0.0.2", 8080))
        .unwrap();
    r.set_health("ecs.local", "backend", "a1", HealthStatus::Unhealthy)
        .unwrap();
    let snap = r.snapshot();
    let svc = snap.service("ecs.local", "backend").unwrap();
    assert!(svc.routable.is_empty());
    let before = svc.instances_revision;
    r.set_health("ecs.local", "backend", "a1", HealthStatus::Healthy)
        .unwrap();
    let after = r
        .snapshot()
        .service("ecs.local", "backend")
        .unwrap()
        .instances_revision;
    assert_eq!(before, after, "health changes do not raise the revision");
}

#[test]
fn without_health_check_instances_are_unknown_and_routable() {
    let r = registry(false);
    r.register_instance("ecs.local", "backend", "a1", attrs("127.0.0.2", 8080))
        .unwrap();
    r.set_health("ecs.local", "backend", "a1", HealthStatus::Unhealthy)
        .unwrap();
    let snap = r.snapshot();
    let svc = snap.service("ecs.local", "backend").unwrap();
    assert_eq!(svc.instances[0].health, HealthStatus::Unknown);
    assert_eq!(svc.routable.len(), 1);
}

#[test]
fn init_health_attribute_is_honoured() {
    let r = registry(true);
    let mut a = attrs("127.0.0.2", 8080);
    a.insert(ATTR_INIT_HEALTH.into(), "UNHEALTHY".into());
    r.register_instance("ecs.local", "backend", "a1", a)
        .unwrap();
    assert!(
        r.snapshot()
            .service("ecs.local", "backend")
            .unwrap()
            .routable
            .is_empty()
    );
}

#[test]
fn errors_name_what_is_missing() {
    let r = registry(true);
    assert_eq!(
        r.deregister_instance("ecs.local", "backend", "nope"),
        Err(RegistryError::InstanceNotFound("nope".into()))
    );
    assert_eq!(
        r.register_instance("x.local", "backend", "a", attrs("127.0.0.2", 1)),
        Err(RegistryError::NamespaceNotFound("x.local".into()))
    );
    assert!(matches!(
        r.register_instance("ecs.local", "backend", "a b", attrs("127.0.0.2", 1)),
        Err(RegistryError::InvalidInput(_))
    ));
    assert!(matches!(
        r.register_instance("ecs.local", "backend", "a", attrs("not-ip", 1)),
        Err(RegistryError::InvalidInput(_))
    ));
    assert_eq!(
        r.create_namespace("ecs.local"),
        Err(RegistryError::NamespaceAlreadyExists("ecs.local".into()))
    );
}

fn api_spec(namespace_id: &str, custom_health: bool) -> ServiceSpec {
    ServiceSpec {
        name: "api".into(),
        namespace_id: namespace_id.into(),
        description: None,
        dns: Some(DnsConfig {
            routing_policy: RoutingPolicy::Multivalue,
            records: vec![DnsRecord {
                kind: RecordKind::Srv,
                ttl: 10,
            }],
        }),
        health_check: None,
        custom_health: custom_health.then_some(None),
        http_only: false,
        creator_request_id: None,
    }
}

/// A registry with namespace `ecs.local` and service `api` made through the API calls;
/// returns the registry and the service id.
fn api_registry(r: Registry) -> (Registry, String) {
    r.ensure_namespace("ecs.local").unwrap();
    let ns_id = r.snapshot().namespaces["ecs.local"].info.id.clone();
    let svc = r.create_service_with(api_spec(&ns_id, true)).unwrap();
    (r, svc.id)
}

fn health_of(r: &Registry, service_id: &str, id: &str) -> HealthStatus {
    let snap = r.snapshot();
    let svc = snap.service_by_id(service_id).unwrap();
    svc.instances.iter().find(|i| i.id == id).unwrap().health
}

#[test]
fn api_changes_survive_a_reopen_and_task_instances_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.redb");
    let (ns_id, svc_id, op);
    {
        let (r, id) = api_registry(Registry::open(&path, RegistryOptions::default()).unwrap());
        svc_id = id;
        ns_id = r.snapshot().namespaces["ecs.local"].info.id.clone();
        op = r
            .register(
                &svc_id,
                "ext-1",
                attrs("127.0.0.9", 9000),
                Some("tok".into()),
            )
            .unwrap();
        r.register_instance("ecs.local", "api", "task1", attrs("127.0.0.8", 80))
            .unwrap();
        r.update_custom_health(&svc_id, "ext-1", HealthStatus::Unhealthy)
            .unwrap();
    }
    let r = Registry::open(&path, RegistryOptions::default()).unwrap();
    let snap = r.snapshot();
    assert_eq!(snap.namespaces["ecs.local"].info.id, ns_id);
    let svc = snap.service_by_id(&svc_id).unwrap();
    let ids: Vec<_> = svc.instances.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["ext-1"], "the task instance is not stored");
    assert_eq!(svc.instances[0].health, HealthStatus::Unhealthy);
    assert_eq!(svc.instances[0].creator_request_id.as_deref(), Some("tok"));
    assert!(svc.instances_revision > 0);
    assert_eq!(r.operation(&op).unwrap().status, OperationStatus::Success);
    // The stack's own resources exist already: ensuring them again is not an error.
    r.ensure_namespace("ecs.local").unwrap();
    let config = ServiceConfig {
        srv: true,
        a: true,
        ttl: 30,
        custom_health: true,
    };
    r.ensure_service("ecs.local", "api", config.clone())
        .unwrap();
    assert_eq!(r.snapshot().service_by_id(&svc_id).unwrap().config, config);
    // Deregistering removes it from the store too.
    r.deregister(&svc_id, "ext-1").unwrap();
    drop(r);
    let r = Registry::open(&path, RegistryOptions::default()).unwrap();
    assert!(
        r.snapshot()
            .service_by_id(&svc_id)
            .unwrap()
            .instances
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn custom_health_waits_for_the_propagation_delay() {
    let options = RegistryOptions {
        health_propagation: Duration::from_secs(30),
        ..RegistryOptions::default()
    };
    let (r, svc) = api_registry(Registry::with_options(options));
    r.register(&svc, "i1", attrs("127.0.0.9", 9000), None)
        .unwrap();
    r.update_custom_health(&svc, "i1", HealthStatus::Unhealthy)
        .unwrap();
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(health_of(&r, &svc, "i1"), HealthStatus::Healthy);
    // Repeating the request does not speed it up, nor delay it.
    r.update_custom_health(&svc, "i1", HealthStatus::Unhealthy)
        .unwrap();
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(health_of(&r, &svc, "i1"), HealthStatus::Unhealthy);
    assert!(
        r.snapshot()
            .service_by_id(&svc)
            .unwrap()
            .routable
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn a_reversal_inside_the_window_cancels_the_change() {
    let options = RegistryOptions {
        health_propagation: Duration::from_secs(30),
        ..RegistryOptions::default()
    };
    let (r, svc) = api_registry(Registry::with_options(options));
    r.register(&svc, "i1", attrs("127.0.0.9", 9000), None)
        .unwrap();
    r.update_custom_health(&svc, "i1", HealthStatus::Unhealthy)
        .unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    r.update_custom_health(&svc, "i1", HealthStatus::Healthy)
        .unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(health_of(&r, &svc, "i1"), HealthStatus::Healthy);
}

#[test]
fn custom_health_needs_a_custom_check() {
    let r = Registry::new();
    r.ensure_namespace("ecs.local").unwrap();
    let ns_id = r.snapshot().namespaces["ecs.local"].info.id.clone();
    let svc = r.create_service_with(api_spec(&ns_id, false)).unwrap().id;
    r.register(&svc, "i1", attrs("127.0.0.9", 9000), None)
        .unwrap();
    assert_eq!(
        r.update_custom_health(&svc, "i1", HealthStatus::Unhealthy),
        Err(RegistryError::CustomHealthNotFound(svc.clone()))
    );
    assert_eq!(health_of(&r, &svc, "i1"), HealthStatus::Unknown);
}

#[test]
fn deletes_refuse_resources_in_use_and_operations_filter() {
    let (r, svc) = api_registry(Registry::new());
    let ns_id = r.snapshot().namespaces["ecs.local"].info.id.clone();
    let reg = r
        .register(&svc, "i1", attrs("127.0.0.9", 9000), None)
        .unwrap();
    assert!(matches!(
        r.delete_service(&svc),
        Err(RegistryError::ResourceInUse(_))
    ));
    assert!(matches!(
        r.delete_namespace(&ns_id),
        Err(RegistryError::ResourceInUse(_))
    ));
    let dereg = r.deregister(&svc, "i1").unwrap();
    r.delete_service(&svc).unwrap();
    r.delete_namespace(&ns_id).unwrap();
    let by_service = r.operations(&[OperationFilter::Service(svc.clone())]);
    let ids: Vec<_> = by_service.iter().map(|o| o.id.clone()).collect();
    assert_eq!(ids, [reg, dereg.clone()]);
    let kinds = OperationFilter::Kind(vec![OperationKind::DeregisterInstance]);
    assert_eq!(r.operations(&[kinds])[0].id, dereg);
    assert_eq!(r.operations(&[OperationFilter::Namespace(ns_id)]).len(), 2);
    assert!(matches!(
        r.operation("nope"),
        Err(RegistryError::OperationNotFound(_))
    ));
}

#[test]
fn register_checks_what_dns_records_need_and_the_quota() {
    let (r, svc) = api_registry(Registry::new());
    let no_port = BTreeMap::from([(ATTR_IPV4.to_string(), "127.0.0.9".to_string())]);
    assert!(matches!(
        r.register(&svc, "i1", no_port, None),
        Err(RegistryError::InvalidInput(_))
    ));
    for i in 0..MAX_INSTANCES_PER_SERVICE {
        r.register_instance("ecs.local", "api", &format!("t{i}"), attrs("127.0.0.9", 1))
            .unwrap();
    }
    assert!(matches!(
        r.register(&svc, "one-more", attrs("127.0.0.9", 1), None),
        Err(RegistryError::ResourceLimitExceeded(_))
    ));
    // Re-registering an existing id is an update, not one more.
    r.register(&svc, "t0", attrs("127.0.0.10", 2), None)
        .unwrap();
}
