//! The Cloud Map API driven by the real AWS SDK for Rust (`aws-sdk-servicediscovery`)
//! against the control router served on 127.0.0.1, port 0, in this process.
//!
//! The SDK sends DiscoverInstances to a `data-` prefixed host and has no switch to turn
//! that off, so an interceptor strips the prefix from the URI before it is sent, as a
//! client of albless does (aws-behavior.md §3.1).

use std::collections::HashMap;

use albless_api::{ApiState, router};
use albless_registry::{ATTR_IPV4, ATTR_PORT, Registry, ServiceConfig};
use aws_sdk_servicediscovery as sd;
use sd::config::interceptors::BeforeTransmitInterceptorContextMut;
use sd::config::{ConfigBag, Intercept, RuntimeComponents};
use sd::error::BoxError;
use sd::types::{
    DnsConfig, DnsRecord, HealthCheckCustomConfig, HealthStatusFilter, OperationStatus, RecordType,
};

/// Undoes the SDK's `data-` host prefix.
#[derive(Debug)]
struct NoHostPrefix;

impl Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let uri = request.uri().replacen("://data-", "://", 1);
        request.set_uri(uri)?;
        Ok(())
    }
}

/// Serves a registry holding `ecs.local` with the stack service `backend` (as `up`
/// makes it) and returns an SDK client pointed at it.
async fn start() -> (Registry, sd::Client) {
    let registry = Registry::new();
    registry.create_namespace("ecs.local").unwrap();
    let config = ServiceConfig {
        srv: true,
        a: false,
        ttl: 10,
        custom_health: true,
    };
    registry
        .create_service("ecs.local", "backend", config)
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(ApiState {
        scheduler: None,
        registry: registry.clone(),
    });
    tokio::spawn(async move { axum::serve(listener, app).await });

    let config = sd::Config::builder()
        .behavior_version(sd::config::BehaviorVersion::latest())
        .region(sd::config::Region::new("ap-northeast-3"))
        .credentials_provider(sd::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .endpoint_url(format!("http://{addr}"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .interceptor(NoHostPrefix)
        .build();
    (registry, sd::Client::from_conf(config))
}

#[tokio::test]
async fn sdk_registers_discovers_and_resolves_operations() {
    let (registry, client) = start().await;

    // A namespace and a service of its own.
    let op = client
        .create_http_namespace()
        .name("apps")
        .send()
        .await
        .unwrap();
    let op = client
        .get_operation()
        .operation_id(op.operation_id().unwrap())
        .send()
        .await
        .unwrap();
    let op = op.operation().unwrap();
    assert_eq!(op.status(), Some(&OperationStatus::Success));
    let ns_id = op.targets().unwrap().values().next().unwrap().clone();
    let ns = client.get_namespace().id(&ns_id).send().await.unwrap();
    assert_eq!(ns.namespace().unwrap().name(), Some("apps"));

    let svc = client
        .create_service()
        .name("web")
        .namespace_id(&ns_id)
        .health_check_custom_config(HealthCheckCustomConfig::builder().build())
        .send()
        .await
        .unwrap();
    let svc_id = svc.service().unwrap().id().unwrap().to_string();
    assert!(
        svc.service()
            .unwrap()
            .arn()
            .unwrap()
            .contains(":service/srv-")
    );

    for (id, stage) in [("a", "prod"), ("b", "prod"), ("c", "dev")] {
        client
            .register_instance()
            .service_id(&svc_id)
            .instance_id(id)
            .attributes(ATTR_IPV4, "127.0.0.1")
            .attributes(ATTR_PORT, "9000")
            .attributes("stage", stage)
            .send()
            .await
            .unwrap();
    }
    client
        .update_instance_custom_health_status()
        .service_id(&svc_id)
        .instance_id("b")
        .status(sd::types::CustomHealthStatus::Unhealthy)
        .send()
        .await
        .unwrap();

    // DiscoverInstances reaches the control address through the prefix-stripping
    // interceptor; health and query parameters apply.
    let found = client
        .discover_instances()
        .namespace_name("apps")
        .service_name("web")
        .query_parameters("stage", "prod")
        .send()
        .await
        .unwrap();
    let ids: Vec<_> = found
        .instances()
        .iter()
        .filter_map(|i| i.instance_id())
        .collect();
    assert_eq!(ids, ["a"]);
    let all = client
        .discover_instances()
        .namespace_name("apps")
        .service_name("web")
        .health_status(HealthStatusFilter::All)
        .send()
        .await
        .unwrap();
    assert_eq!(all.instances().len(), 3);
    let revision = client
        .discover_instances_revision()
        .namespace_name("apps")
        .service_name("web")
        .send()
        .await
        .unwrap();
    assert_eq!(revision.instances_revision(), all.instances_revision());

    let health = client
        .get_instances_health_status()
        .service_id(&svc_id)
        .send()
        .await
        .unwrap();
    let status: HashMap<_, _> = health
        .status()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().to_string()))
        .collect();
    assert_eq!(status["b"], "UNHEALTHY");
    assert_eq!(status["a"], "HEALTHY");

    // External instances of the stack's own service are in the gateway's snapshot.
    let backend = registry
        .snapshot()
        .service("ecs.local", "backend")
        .unwrap()
        .info
        .id
        .clone();
    client
        .register_instance()
        .service_id(&backend)
        .instance_id("ext")
        .attributes(ATTR_IPV4, "127.0.0.1")
        .attributes(ATTR_PORT, "9001")
        .send()
        .await
        .unwrap();
    let snapshot = registry.snapshot();
    let routable = &snapshot.service("ecs.local", "backend").unwrap().routable;
    assert_eq!(routable, &["127.0.0.1:9001".parse().unwrap()]);

    // Typed errors come back as the SDK's modeled errors.
    let err = client
        .get_service()
        .id("srv-nope")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_service_not_found());
    let err = client
        .discover_instances()
        .namespace_name("nope")
        .service_name("web")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_namespace_not_found());
    let err = client
        .delete_service()
        .id(&svc_id)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_in_use());
}

#[tokio::test]
async fn sdk_private_dns_service_and_listing() {
    let (_registry, client) = start().await;
    let op = client
        .create_private_dns_namespace()
        .name("internal.local")
        .vpc("vpc-1")
        .send()
        .await;
    let op_id = op.unwrap().operation_id().unwrap().to_string();
    let ops = client.list_operations().send().await.unwrap();
    assert!(
        ops.operations()
            .iter()
            .any(|o| o.id() == Some(op_id.as_str()))
    );
    let list = client.list_namespaces().send().await.unwrap();
    let names: Vec<_> = list.namespaces().iter().filter_map(|n| n.name()).collect();
    assert_eq!(names, ["ecs.local", "internal.local"]);
    let ns_id = list.namespaces()[1].id().unwrap().to_string();
    let records = DnsRecord::builder()
        .r#type(RecordType::Srv)
        .ttl(10)
        .build()
        .unwrap();
    let dns = DnsConfig::builder().dns_records(records).build().unwrap();
    let svc = client
        .create_service()
        .name("api")
        .namespace_id(&ns_id)
        .dns_config(dns)
        .send()
        .await
        .unwrap();
    assert_eq!(
        svc.service().unwrap().r#type().map(|t| t.as_str()),
        Some("DNS_HTTP")
    );
    let err = client
        .create_service()
        .name("api")
        .namespace_id(&ns_id)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_service_already_exists());
    let services = client.list_services().send().await.unwrap();
    assert_eq!(services.services().len(), 2);
}
