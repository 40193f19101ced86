//! Cloud Map (`Route53AutoNaming_v20170314`) over AWS JSON 1.1: the 20 operations
//! albless serves, each a conversion from the request to a registry call and from its
//! result to AWS's response shape (aws-behavior.md §3).
//!
//! Reads (Get, List, Discover) answer from the registry's lock-free snapshot; writes go
//! through the registry, which commits them before this module answers. Every registry
//! error becomes an AWS error in [`aws_error`], and only there.
//!
//! Known limits: public DNS namespaces, namespace updates, tags, service attributes and
//! resource-owner fields are not served (UnknownOperationException / ignored); NextToken
//! is a plain offset; operations are SUCCESS as soon as they are returned.

mod input;
mod output;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use albless_registry::{
    DiscoverQuery, DnsConfig, DnsRecord, HealthCheckConfig, HealthFilter, HealthStatus,
    NamespaceKind, NamespaceSpec, OperationFilter, OperationKind, OperationStatus, RecordKind,
    Registry, RegistryError, RoutingPolicy, ServiceChange, ServiceSpec,
};
use http::StatusCode;
use serde_json::{Value, json};

use crate::AwsError;
use input::{Input, invalid, invalid_input};

/// Handles Cloud Map operation `operation` with request body `body`.
pub fn handle(registry: &Registry, operation: &str, body: &[u8]) -> Result<Value, AwsError> {
    let input = Input::parse(body)?;
    let result = match operation {
        "CreateHttpNamespace" => create_namespace(registry, &input, NamespaceKind::Http),
        "CreatePrivateDnsNamespace" => {
            create_namespace(registry, &input, NamespaceKind::DnsPrivate)
        }
        "GetNamespace" => get_namespace(registry, &input),
        "ListNamespaces" => list_namespaces(registry, &input),
        "DeleteNamespace" => delete_namespace(registry, &input),
        "CreateService" => create_service(registry, &input),
        "GetService" => get_service(registry, &input),
        "ListServices" => list_services(registry, &input),
        "UpdateService" => update_service(registry, &input),
        "DeleteService" => delete_service(registry, &input),
        "RegisterInstance" => register_instance(registry, &input),
        "DeregisterInstance" => deregister_instance(registry, &input),
        "GetInstance" => get_instance(registry, &input),
        "ListInstances" => list_instances(registry, &input),
        "DiscoverInstances" => discover_instances(registry, &input, false),
        "DiscoverInstancesRevision" => discover_instances(registry, &input, true),
        "GetInstancesHealthStatus" => get_instances_health_status(registry, &input),
        "UpdateInstanceCustomHealthStatus" => update_custom_health(registry, &input),
        "GetOperation" => get_operation(registry, &input),
        "ListOperations" => list_operations(registry, &input),
        _ => return Err(AwsError::unknown_operation(operation)),
    };
    result.map_err(|e| match e {
        Failure::Aws(e) => e,
        Failure::Registry(e) => aws_error(e, operation),
    })
}

/// A handler's failure: already an AWS error, or a registry error to map.
enum Failure {
    Aws(AwsError),
    Registry(RegistryError),
}

impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Self {
        Failure::Aws(e)
    }
}

impl From<RegistryError> for Failure {
    fn from(e: RegistryError) -> Self {
        Failure::Registry(e)
    }
}

type Handled = Result<Value, Failure>;

/// One ListNamespaces filter, as a predicate.
type NamespaceCondition = Box<dyn Fn(&albless_registry::NamespaceView) -> bool>;

/// The one mapping from registry errors to AWS error types and statuses (the service
/// model's `httpError` values, aws-behavior.md §3.1).
fn aws_error(error: RegistryError, operation: &str) -> AwsError {
    let (status, kind) = match &error {
        // Recorded on real AWS: DiscoverInstances answers 400 for a missing namespace,
        // although the model says 404 (§3.1, external-dns #5180).
        RegistryError::NamespaceNotFound(_) if operation.starts_with("DiscoverInstances") => {
            (StatusCode::BAD_REQUEST, "NamespaceNotFound")
        }
        RegistryError::NamespaceNotFound(_) => (StatusCode::NOT_FOUND, "NamespaceNotFound"),
        RegistryError::ServiceNotFound(_) => (StatusCode::NOT_FOUND, "ServiceNotFound"),
        RegistryError::InstanceNotFound(_) => (StatusCode::NOT_FOUND, "InstanceNotFound"),
        RegistryError::OperationNotFound(_) => (StatusCode::NOT_FOUND, "OperationNotFound"),
        RegistryError::CustomHealthNotFound(_) => (StatusCode::NOT_FOUND, "CustomHealthNotFound"),
        RegistryError::NamespaceAlreadyExists(_) => {
            (StatusCode::BAD_REQUEST, "NamespaceAlreadyExists")
        }
        RegistryError::ServiceAlreadyExists(_) => (StatusCode::BAD_REQUEST, "ServiceAlreadyExists"),
        RegistryError::ResourceInUse(_) => (StatusCode::CONFLICT, "ResourceInUse"),
        RegistryError::ResourceLimitExceeded(_) => {
            (StatusCode::BAD_REQUEST, "ResourceLimitExceeded")
        }
        RegistryError::InvalidInput(_) => (StatusCode::BAD_REQUEST, "InvalidInput"),
        RegistryError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure"),
    };
    if status.is_server_error() {
        tracing::error!(%error, operation, "cloud map call failed");
    }
    AwsError::new(status, kind, error.to_string())
}

// ---- Namespaces.

fn create_namespace(registry: &Registry, input: &Input, kind: NamespaceKind) -> Handled {
    let name = input.string("Name", 1024, input::printable)?;
    let creator_request_id = input.opt_string("CreatorRequestId", 64, input::any)?;
    let description = input.opt_string("Description", 1024, input::any)?;
    let (vpc, soa_ttl) = match kind {
        NamespaceKind::Http => (None, None),
        NamespaceKind::DnsPrivate => {
            let vpc = input.string("Vpc", 64, input::non_empty)?;
            let soa = input
                .object("Properties")?
                .map(|p| p.object("DnsProperties"))
                .transpose()?;
            let soa = soa
                .flatten()
                .map(|d| d.object("SOA"))
                .transpose()?
                .flatten();
            let ttl = soa
                .map(|s| s.opt_int("TTL", 0, 2_147_483_647))
                .transpose()?
                .flatten();
            (Some(vpc), ttl.map(|t| t as u32))
        }
    };
    let spec = NamespaceSpec {
        name,
        kind,
        description,
        vpc,
        soa_ttl,
        creator_request_id,
    };
    let op = registry.create_namespace_with(spec)?;
    Ok(json!({ "OperationId": op }))
}

fn get_namespace(registry: &Registry, input: &Input) -> Handled {
    let id = input.string("Id", 64, input::non_empty)?;
    let snapshot = registry.snapshot();
    let ns = snapshot
        .namespace_by_id(&id)
        .ok_or(RegistryError::NamespaceNotFound(id))?;
    Ok(json!({ "Namespace": output::namespace(ns, true) }))
}

fn list_namespaces(registry: &Registry, input: &Input) -> Handled {
    let page = Page::read(input, 100)?;
    let mut conditions: Vec<NamespaceCondition> = Vec::new();
    for filter in input.opt_objects("Filters")?.unwrap_or_default() {
        let name = filter.string("Name", 64, input::any)?;
        let values = filter
            .opt_strings("Values", input::any)?
            .unwrap_or_default();
        let condition = filter.opt_enum("Condition", &["EQ", "IN", "BEGINS_WITH"])?;
        let condition = condition.unwrap_or_else(|| "EQ".into());
        check_values(&condition, &values)?;
        match (name.as_str(), condition.as_str()) {
            ("TYPE", "EQ" | "IN") => conditions.push(Box::new(move |ns| {
                values.iter().any(|v| v == ns.info.kind.as_str())
            })),
            ("NAME", "EQ") => conditions.push(Box::new(move |ns| values.contains(&ns.name))),
            ("NAME", "BEGINS_WITH") => conditions.push(Box::new(move |ns| {
                values.iter().any(|v| ns.name.starts_with(v))
            })),
            ("HTTP_NAME", "EQ") => {
                conditions.push(Box::new(move |ns| values.contains(&ns.info.http_name)))
            }
            _ => {
                return Err(invalid_input(format!(
                    "filter {name} does not support condition {condition}"
                ))
                .into());
            }
        }
    }
    let snapshot = registry.snapshot();
    let all: Vec<_> = snapshot
        .namespaces
        .values()
        .filter(|ns| conditions.iter().all(|c| c(ns)))
        .collect();
    page.list_by_creation(
        "Namespaces",
        all,
        |ns| (ns.info.created, ns.info.id.as_str()),
        |ns| output::namespace(ns, false),
    )
}

fn delete_namespace(registry: &Registry, input: &Input) -> Handled {
    let id = input.string("Id", 64, input::non_empty)?;
    Ok(json!({ "OperationId": registry.delete_namespace(&id)? }))
}

// ---- Services.

fn create_service(registry: &Registry, input: &Input) -> Handled {
    let name = input.string("Name", 127, input::service_name)?;
    let creator_request_id = input.opt_string("CreatorRequestId", 64, input::any)?;
    let description = input.opt_string("Description", 1024, input::any)?;
    let dns_input = input.object("DnsConfig")?;
    let namespace_id = match input.opt_string("NamespaceId", 64, input::non_empty)? {
        Some(id) => id,
        // The deprecated DnsConfig.NamespaceId still names the namespace.
        None => dns_input
            .as_ref()
            .map(|d| d.opt_string("NamespaceId", 64, input::non_empty))
            .transpose()?
            .flatten()
            .ok_or_else(|| invalid_input("NamespaceId is required"))?,
    };
    let dns = dns_input.map(|d| dns_config(&d)).transpose()?;
    let health_check = input
        .object("HealthCheckConfig")?
        .map(|h| health_check(&h))
        .transpose()?;
    let custom_health = input
        .object("HealthCheckCustomConfig")?
        .map(|c| {
            c.opt_int("FailureThreshold", 1, 10)
                .map(|t| t.map(|t| t as u32))
        })
        .transpose()?;
    let http_only = input.opt_enum("Type", &["HTTP"])?.is_some();
    let spec = ServiceSpec {
        name,
        namespace_id,
        description,
        dns,
        health_check,
        custom_health,
        http_only,
        creator_request_id,
    };
    let info = registry.create_service_with(spec)?;
    let snapshot = registry.snapshot();
    let svc = snapshot
        .service_by_id(&info.id)
        .ok_or(RegistryError::ServiceNotFound(info.id))?;
    Ok(json!({ "Service": output::service(svc, true) }))
}

fn dns_config(input: &Input) -> Result<DnsConfig, Failure> {
    let policy = input.opt_enum("RoutingPolicy", &["MULTIVALUE", "WEIGHTED"])?;
    let routing_policy = match policy.as_deref() {
        Some("WEIGHTED") => RoutingPolicy::Weighted,
        _ => RoutingPolicy::Multivalue,
    };
    Ok(DnsConfig {
        routing_policy,
        records: dns_records(input)?,
    })
}

fn dns_records(input: &Input) -> Result<Vec<DnsRecord>, Failure> {
    let records = input
        .opt_objects("DnsRecords")?
        .ok_or_else(|| invalid("DnsRecords", "null", "Member must not be null"))?;
    let mut out = Vec::new();
    for record in records {
        let kind = match record
            .opt_enum("Type", &["SRV", "A", "AAAA", "CNAME"])?
            .as_deref()
        {
            Some("SRV") => RecordKind::Srv,
            Some("A") => RecordKind::A,
            Some("AAAA") => RecordKind::Aaaa,
            Some(_) => RecordKind::Cname,
            None => return Err(invalid("Type", "null", "Member must not be null").into()),
        };
        let ttl = record
            .opt_int("TTL", 0, 2_147_483_647)?
            .ok_or_else(|| invalid("TTL", "null", "Member must not be null"))?;
        out.push(DnsRecord {
            kind,
            ttl: ttl as u32,
        });
    }
    Ok(out)
}

fn health_check(input: &Input) -> Result<HealthCheckConfig, Failure> {
    let kind = input
        .opt_enum("Type", &["HTTP", "HTTPS", "TCP"])?
        .ok_or_else(|| invalid("Type", "null", "Member must not be null"))?;
    Ok(HealthCheckConfig {
        resource_path: input.opt_string("ResourcePath", 255, input::any)?,
        failure_threshold: input.opt_int("FailureThreshold", 1, 10)?.map(|t| t as u32),
        kind,
    })
}

fn get_service(registry: &Registry, input: &Input) -> Handled {
    let id = input.string("Id", 64, input::non_empty)?;
    let snapshot = registry.snapshot();
    let svc = snapshot
        .service_by_id(&id)
        .ok_or(RegistryError::ServiceNotFound(id))?;
    Ok(json!({ "Service": output::service(svc, true) }))
}

fn list_services(registry: &Registry, input: &Input) -> Handled {
    let page = Page::read(input, 100)?;
    let mut namespaces: Option<Vec<String>> = None;
    for filter in input.opt_objects("Filters")?.unwrap_or_default() {
        let name = filter.opt_enum("Name", &["NAMESPACE_ID"])?;
        if name.is_none() {
            return Err(invalid("Name", "null", "Member must not be null").into());
        }
        let values = filter
            .opt_strings("Values", input::any)?
            .unwrap_or_default();
        let condition = filter
            .opt_enum("Condition", &["EQ", "IN"])?
            .unwrap_or_else(|| "EQ".into());
        check_values(&condition, &values)?;
        namespaces = Some(values);
    }
    let snapshot = registry.snapshot();
    let all: Vec<_> = snapshot
        .namespaces
        .values()
        .filter(|ns| {
            namespaces
                .as_ref()
                .is_none_or(|ids| ids.contains(&ns.info.id))
        })
        .flat_map(|ns| ns.services.values())
        .collect();
    page.list_by_creation(
        "Services",
        all,
        |s| (s.info.created, s.info.id.as_str()),
        |s| output::service(s, false),
    )
}

fn update_service(registry: &Registry, input: &Input) -> Handled {
    let id = input.string("Id", 64, input::non_empty)?;
    let service = input
        .object("Service")?
        .ok_or_else(|| invalid("Service", "null", "Member must not be null"))?;
    let change = ServiceChange {
        description: service.opt_string("Description", 1024, input::any)?,
        ttls: service
            .object("DnsConfig")?
            .map(|d| dns_records(&d))
            .transpose()?,
        health_check: service
            .object("HealthCheckConfig")?
            .map(|h| health_check(&h))
            .transpose()?,
    };
    Ok(json!({ "OperationId": registry.update_service(&id, change)? }))
}

fn delete_service(registry: &Registry, input: &Input) -> Handled {
    let id = input.string("Id", 64, input::non_empty)?;
    registry.delete_service(&id)?;
    Ok(json!({}))
}

// ---- Instances.

fn register_instance(registry: &Registry, input: &Input) -> Handled {
    let service_id = input.string("ServiceId", 64, input::non_empty)?;
    let instance_id = input.string("InstanceId", 64, input::instance_id)?;
    let creator_request_id = input.opt_string("CreatorRequestId", 64, input::any)?;
    let attributes = input
        .opt_map("Attributes", input::attribute_key, input::attribute_value)?
        .ok_or_else(|| invalid("Attributes", "null", "Member must not be null"))?;
    // API reference, RegisterInstance: all keys and values together at most 5,000 chars.
    let total: usize = attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > 5000 {
        return Err(invalid_input("attribute keys and values exceed 5,000 characters").into());
    }
    let op = registry.register(&service_id, &instance_id, attributes, creator_request_id)?;
    Ok(json!({ "OperationId": op }))
}

fn deregister_instance(registry: &Registry, input: &Input) -> Handled {
    let service_id = input.string("ServiceId", 64, input::non_empty)?;
    let instance_id = input.string("InstanceId", 64, input::instance_id)?;
    Ok(json!({ "OperationId": registry.deregister(&service_id, &instance_id)? }))
}

fn get_instance(registry: &Registry, input: &Input) -> Handled {
    let service_id = input.string("ServiceId", 64, input::non_empty)?;
    let instance_id = input.string("InstanceId", 64, input::instance_id)?;
    let snapshot = registry.snapshot();
    let svc = snapshot
        .service_by_id(&service_id)
        .ok_or(RegistryError::ServiceNotFound(service_id))?;
    let inst = svc
        .instances
        .iter()
        .find(|i| i.id == instance_id)
        .ok_or(RegistryError::InstanceNotFound(instance_id))?;
    let mut out = json!({ "Id": inst.id, "Attributes": inst.attributes });
    if let Some(token) = &inst.creator_request_id {
        out["CreatorRequestId"] = json!(token);
    }
    Ok(json!({ "Instance": out }))
}

fn list_instances(registry: &Registry, input: &Input) -> Handled {
    let service_id = input.string("ServiceId", 64, input::non_empty)?;
    let page = Page::read(input, 100)?;
    let snapshot = registry.snapshot();
    let svc = snapshot
        .service_by_id(&service_id)
        .ok_or(RegistryError::ServiceNotFound(service_id))?;
    let (items, next) = page.cut(svc.instances.iter().collect())?;
    let items: Vec<Value> = items
        .into_iter()
        .map(|i| json!({ "Id": i.id, "Attributes": i.attributes }))
        .collect();
    Ok(page.answer("Instances", items, next))
}

fn discover_instances(registry: &Registry, input: &Input, revision_only: bool) -> Handled {
    let namespace = input.string("NamespaceName", 1024, input::non_empty)?;
    let service = input.string("ServiceName", 127, input::service_name)?;
    let mut query = DiscoverQuery {
        namespace,
        service,
        ..DiscoverQuery::default()
    };
    if !revision_only {
        query.max_results = input.opt_int("MaxResults", 1, 1000)?.map(|n| n as usize);
        let attrs = |name| input.opt_map(name, input::attribute_key, input::attribute_value);
        query.query = attrs("QueryParameters")?.unwrap_or_default();
        query.optional = attrs("OptionalParameters")?.unwrap_or_default();
        let health = input.opt_enum(
            "HealthStatus",
            &["HEALTHY", "UNHEALTHY", "ALL", "HEALTHY_OR_ELSE_ALL"],
        )?;
        query.health = match health.as_deref() {
            Some("UNHEALTHY") => HealthFilter::Unhealthy,
            Some("ALL") => HealthFilter::All,
            Some("HEALTHY_OR_ELSE_ALL") => HealthFilter::HealthyOrElseAll,
            _ => HealthFilter::Healthy,
        };
    }
    let found = registry.discover(&query)?;
    if revision_only {
        return Ok(json!({ "InstancesRevision": found.revision }));
    }
    let instances: Vec<Value> = found
        .instances
        .iter()
        .map(|i| {
            json!({
                "InstanceId": i.id,
                "NamespaceName": query.namespace,
                "ServiceName": query.service,
                "HealthStatus": i.health.as_str(),
                "Attributes": i.attributes,
            })
        })
        .collect();
    Ok(json!({ "Instances": instances, "InstancesRevision": found.revision }))
}

fn get_instances_health_status(registry: &Registry, input: &Input) -> Handled {
    let service_id = input.string("ServiceId", 64, input::non_empty)?;
    let wanted = input.opt_strings("Instances", input::instance_id)?;
    let page = Page::read(input, 100)?;
    let snapshot = registry.snapshot();
    let svc = snapshot
        .service_by_id(&service_id)
        .ok_or(RegistryError::ServiceNotFound(service_id))?;
    let instances: Vec<_> = match &wanted {
        Some(ids) => ids
            .iter()
            .map(|id| {
                svc.instances
                    .iter()
                    .find(|i| &i.id == id)
                    .ok_or_else(|| RegistryError::InstanceNotFound(id.clone()))
            })
            .collect::<Result<_, _>>()?,
        None => svc.instances.iter().collect(),
    };
    let (items, next) = page.cut(instances)?;
    let status: BTreeMap<&str, &str> = items
        .iter()
        .map(|i| (i.id.as_str(), i.health.as_str()))
        .collect();
    let mut out = json!({ "Status": status });
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}

fn update_custom_health(registry: &Registry, input: &Input) -> Handled {
    let service_id = input.string("ServiceId", 64, input::non_empty)?;
    let instance_id = input.string("InstanceId", 64, input::instance_id)?;
    let status = match input
        .opt_enum("Status", &["HEALTHY", "UNHEALTHY"])?
        .as_deref()
    {
        Some("HEALTHY") => HealthStatus::Healthy,
        Some(_) => HealthStatus::Unhealthy,
        None => return Err(invalid("Status", "null", "Member must not be null").into()),
    };
    registry.update_custom_health(&service_id, &instance_id, status)?;
    Ok(json!({}))
}

// ---- Operations.

fn get_operation(registry: &Registry, input: &Input) -> Handled {
    let id = input.string("OperationId", 255, input::non_empty)?;
    Ok(json!({ "Operation": output::operation(&registry.operation(&id)?) }))
}

fn list_operations(registry: &Registry, input: &Input) -> Handled {
    let page = Page::read(input, 100)?;
    let mut filters = Vec::new();
    for filter in input.opt_objects("Filters")?.unwrap_or_default() {
        let name = filter.opt_enum(
            "Name",
            &[
                "NAMESPACE_ID",
                "SERVICE_ID",
                "STATUS",
                "TYPE",
                "UPDATE_DATE",
            ],
        )?;
        let name = name.ok_or_else(|| invalid("Name", "null", "Member must not be null"))?;
        let values = filter
            .opt_strings("Values", input::any)?
            .ok_or_else(|| invalid("Values", "null", "Member must not be null"))?;
        let condition = filter
            .opt_enum("Condition", &["EQ", "IN", "BETWEEN"])?
            .unwrap_or_else(|| "EQ".into());
        check_values(&condition, &values)?;
        let allowed = match name.as_str() {
            "NAMESPACE_ID" | "SERVICE_ID" => condition == "EQ",
            "STATUS" | "TYPE" => condition != "BETWEEN",
            _ => condition == "BETWEEN",
        };
        if !allowed {
            return Err(invalid_input(format!(
                "filter {name} does not support condition {condition}"
            ))
            .into());
        }
        filters.push(match name.as_str() {
            "NAMESPACE_ID" => OperationFilter::Namespace(values[0].clone()),
            "SERVICE_ID" => OperationFilter::Service(values[0].clone()),
            "STATUS" => OperationFilter::Status(
                values
                    .iter()
                    .map(|v| op_status(v))
                    .collect::<Result<_, _>>()?,
            ),
            "TYPE" => OperationFilter::Kind(
                values
                    .iter()
                    .map(|v| op_kind(v))
                    .collect::<Result<_, _>>()?,
            ),
            _ => OperationFilter::UpdatedBetween(epoch(&values[0])?, epoch(&values[1])?),
        });
    }
    let ops = registry.operations(&filters);
    let (items, next) = page.cut(ops.iter().collect())?;
    let items: Vec<Value> = items
        .into_iter()
        .map(|op| json!({ "Id": op.id, "Status": op.status.as_str() }))
        .collect();
    Ok(page.answer("Operations", items, next))
}

fn op_status(v: &str) -> Result<OperationStatus, Failure> {
    Ok(match v {
        "SUBMITTED" => OperationStatus::Submitted,
        "PENDING" => OperationStatus::Pending,
        "SUCCESS" => OperationStatus::Success,
        "FAIL" => OperationStatus::Fail,
        _ => return Err(invalid_input(format!("`{v}` is not an operation status")).into()),
    })
}

fn op_kind(v: &str) -> Result<OperationKind, Failure> {
    Ok(match v {
        "CREATE_NAMESPACE" => OperationKind::CreateNamespace,
        "DELETE_NAMESPACE" => OperationKind::DeleteNamespace,
        "UPDATE_SERVICE" => OperationKind::UpdateService,
        "REGISTER_INSTANCE" => OperationKind::RegisterInstance,
        "DEREGISTER_INSTANCE" => OperationKind::DeregisterInstance,
        _ => return Err(invalid_input(format!("`{v}` is not an operation type")).into()),
    })
}

/// A date filter value: epoch seconds, as the CLI and SDKs send them.
fn epoch(v: &str) -> Result<SystemTime, Failure> {
    let secs: f64 = v
        .parse()
        .map_err(|_| invalid_input(format!("`{v}` is not a date")))?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(invalid_input(format!("`{v}` is not a date")).into());
    }
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs))
}

/// EQ takes one value, BETWEEN two, IN at least one (API reference, OperationFilter).
fn check_values(condition: &str, values: &[String]) -> Result<(), Failure> {
    let ok = match condition {
        "EQ" | "BEGINS_WITH" => values.len() == 1,
        "BETWEEN" => values.len() == 2,
        _ => !values.is_empty(),
    };
    if ok {
        Ok(())
    } else {
        Err(invalid_input(format!(
            "condition {condition} does not take {} value(s)",
            values.len()
        ))
        .into())
    }
}

/// MaxResults and NextToken of a list call; the token is the offset of the next item.
struct Page {
    max: usize,
    start: usize,
}

impl Page {
    fn read(input: &Input, max: i64) -> Result<Page, Failure> {
        let n = input.opt_int("MaxResults", 1, max)?.unwrap_or(max) as usize;
        let start = match input.opt_string("NextToken", 4096, input::any)? {
            Some(token) => token
                .parse()
                .map_err(|_| invalid_input("NextToken is not valid"))?,
            None => 0,
        };
        Ok(Page { max: n, start })
    }

    fn cut<T>(&self, items: Vec<T>) -> Result<(Vec<T>, Option<String>), Failure> {
        let len = items.len();
        let end = (self.start + self.max).min(len);
        let next = (end < len).then(|| end.to_string());
        Ok((
            items.into_iter().skip(self.start).take(self.max).collect(),
            next,
        ))
    }

    /// One page of `all` under `key`, in creation order (then id, for a stable order
    /// between pages), each item rendered by `render`.
    fn list_by_creation<T>(
        &self,
        key: &str,
        mut all: Vec<&T>,
        order: impl Fn(&T) -> (std::time::SystemTime, &str),
        render: impl Fn(&T) -> Value,
    ) -> Handled {
        all.sort_by(|a, b| order(a).cmp(&order(b)));
        let (items, next) = self.cut(all)?;
        let items = items.into_iter().map(render).collect();
        Ok(self.answer(key, items, next))
    }

    fn answer(&self, key: &str, items: Vec<Value>, next: Option<String>) -> Value {
        let mut out = json!({ key: items });
        if let Some(next) = next {
            out["NextToken"] = json!(next);
        }
        out
    }
}

#[cfg(test)]
mod tests;
