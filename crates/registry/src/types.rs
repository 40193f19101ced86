//! The plain data of the Cloud Map model: what a namespace, a service, an instance and an
//! operation are, as the registry stores and publishes them.
//!
//! These types are albless's own (the API crate converts them to and from AWS JSON); the
//! serde derives serve only the durable store's record format.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Health of an instance, as Cloud Map reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HealthStatus {
    /// Passing its health check.
    Healthy,
    /// Failing its health check.
    Unhealthy,
    /// The service has no health check.
    Unknown,
}

impl HealthStatus {
    /// The Cloud Map spelling: `HEALTHY`, `UNHEALTHY`, `UNKNOWN`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "HEALTHY",
            HealthStatus::Unhealthy => "UNHEALTHY",
            HealthStatus::Unknown => "UNKNOWN",
        }
    }
}

/// The kind of a namespace (Cloud Map `NamespaceType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NamespaceKind {
    /// API-only discovery (`HTTP`): no DNS records.
    Http,
    /// A private DNS namespace (`DNS_PRIVATE`), answered by albless's DNS server.
    DnsPrivate,
}

impl NamespaceKind {
    /// The Cloud Map spelling: `HTTP`, `DNS_PRIVATE`.
    pub fn as_str(self) -> &'static str {
        match self {
            NamespaceKind::Http => "HTTP",
            NamespaceKind::DnsPrivate => "DNS_PRIVATE",
        }
    }
}

/// A namespace's own settings (everything but its services).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamespaceInfo {
    /// `ns-` followed by 16 characters.
    pub id: String,
    /// `arn:aws:servicediscovery:<region>:<account>:namespace/<id>`.
    pub arn: String,
    /// The name (for DNS namespaces, lower case without a trailing dot).
    pub name: String,
    /// The name DiscoverInstances takes (`HttpName`); equal to the name here.
    pub http_name: String,
    /// HTTP or private DNS.
    pub kind: NamespaceKind,
    /// Free text.
    pub description: Option<String>,
    /// The VPC of a private DNS namespace (kept, not used locally).
    pub vpc: Option<String>,
    /// The SOA TTL given at creation (`Properties.DnsProperties.SOA.TTL`).
    pub soa_ttl: Option<u32>,
    /// The caller's idempotency token.
    pub creator_request_id: Option<String>,
    /// When it was created.
    pub created: SystemTime,
}

/// How DNS answers pick records (Cloud Map `RoutingPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoutingPolicy {
    /// Up to eight healthy records per answer.
    Multivalue,
    /// One record at random (kept; the DNS server answers MULTIVALUE-style).
    Weighted,
}

impl RoutingPolicy {
    /// The Cloud Map spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RoutingPolicy::Multivalue => "MULTIVALUE",
            RoutingPolicy::Weighted => "WEIGHTED",
        }
    }
}

/// A DNS record type a service publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordKind {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Service record (port and target).
    Srv,
    /// Alias (kept; not answered locally).
    Cname,
}

impl RecordKind {
    /// The Cloud Map spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::A => "A",
            RecordKind::Aaaa => "AAAA",
            RecordKind::Srv => "SRV",
            RecordKind::Cname => "CNAME",
        }
    }
}

/// One record type with its TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    /// Record type.
    pub kind: RecordKind,
    /// TTL, seconds.
    pub ttl: u32,
}

/// A service's DNS settings (Cloud Map `DnsConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsConfig {
    /// MULTIVALUE or WEIGHTED.
    pub routing_policy: RoutingPolicy,
    /// The record types, each once.
    pub records: Vec<DnsRecord>,
}

/// A Route 53 health check (`HealthCheckConfig`). Kept and reported; albless does not
/// probe: instances of such a service stay HEALTHY.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckConfig {
    /// `HTTP`, `HTTPS` or `TCP`.
    pub kind: String,
    /// The path probed.
    pub resource_path: Option<String>,
    /// Failures before a change of state, 1 to 10.
    pub failure_threshold: Option<u32>,
}

/// A service's own settings (everything but its instances).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// `srv-` followed by 16 characters.
    pub id: String,
    /// `arn:aws:servicediscovery:<region>:<account>:service/<id>`.
    pub arn: String,
    /// The namespace's id.
    pub namespace_id: String,
    /// The name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// DNS records, for services discoverable by DNS.
    pub dns: Option<DnsConfig>,
    /// A Route 53 health check.
    pub health_check: Option<HealthCheckConfig>,
    /// A custom health check (`HealthCheckCustomConfig`): health comes from
    /// UpdateInstanceCustomHealthStatus.
    pub custom_health: bool,
    /// The failure threshold given for the custom check (ignored, as by Cloud Map).
    pub custom_failure_threshold: Option<u32>,
    /// Created with `Type: HTTP` (API discovery only, even in a DNS namespace).
    pub http_only: bool,
    /// The caller's idempotency token.
    pub creator_request_id: Option<String>,
    /// When it was created.
    pub created: SystemTime,
}

impl ServiceInfo {
    /// Cloud Map's `Service.Type`: `HTTP` without DNS records, `DNS_HTTP` with them in a
    /// DNS namespace.
    pub fn service_type(&self) -> &'static str {
        if self.dns.is_some() && !self.http_only {
            "DNS_HTTP"
        } else {
            "HTTP"
        }
    }
}

/// Who registered an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origin {
    /// A client of the Cloud Map API (an external backend): kept in the durable store.
    Api,
    /// The scheduler, for a running task: derived again from the tasks after a restart,
    /// so never stored.
    Task,
}

/// Status of an asynchronous operation (Cloud Map `OperationStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationStatus {
    /// Accepted.
    Submitted,
    /// Under way.
    Pending,
    /// Done.
    Success,
    /// Failed; see the error fields.
    Fail,
}

impl OperationStatus {
    /// The Cloud Map spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationStatus::Submitted => "SUBMITTED",
            OperationStatus::Pending => "PENDING",
            OperationStatus::Success => "SUCCESS",
            OperationStatus::Fail => "FAIL",
        }
    }
}

/// What an operation did (Cloud Map `OperationType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationKind {
    /// CreateHttpNamespace, CreatePrivateDnsNamespace.
    CreateNamespace,
    /// DeleteNamespace.
    DeleteNamespace,
    /// UpdateService.
    UpdateService,
    /// RegisterInstance.
    RegisterInstance,
    /// DeregisterInstance.
    DeregisterInstance,
}

impl OperationKind {
    /// The Cloud Map spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::CreateNamespace => "CREATE_NAMESPACE",
            OperationKind::DeleteNamespace => "DELETE_NAMESPACE",
            OperationKind::UpdateService => "UPDATE_SERVICE",
            OperationKind::RegisterInstance => "REGISTER_INSTANCE",
            OperationKind::DeregisterInstance => "DEREGISTER_INSTANCE",
        }
    }
}

/// An asynchronous operation (Cloud Map `Operation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// The id returned as `OperationId`.
    pub id: String,
    /// What it did.
    pub kind: OperationKind,
    /// Where it stands.
    pub status: OperationStatus,
    /// Why it failed, with status FAIL.
    pub error_message: Option<String>,
    /// The error code, with status FAIL.
    pub error_code: Option<String>,
    /// When it was submitted.
    pub created: SystemTime,
    /// When its status last changed.
    pub updated: SystemTime,
    /// `NAMESPACE`, `SERVICE`, `INSTANCE` to the id each names.
    pub targets: BTreeMap<String, String>,
}

/// One condition of [`crate::Registry::operations`] (Cloud Map `OperationFilter`).
#[derive(Debug, Clone, PartialEq)]
pub enum OperationFilter {
    /// The namespace target is this id.
    Namespace(String),
    /// The service target is this id.
    Service(String),
    /// The status is one of these.
    Status(Vec<OperationStatus>),
    /// The kind is one of these.
    Kind(Vec<OperationKind>),
    /// Last updated between these instants, both included.
    UpdatedBetween(SystemTime, SystemTime),
}

impl OperationFilter {
    /// Whether `op` passes this condition.
    pub fn matches(&self, op: &Operation) -> bool {
        match self {
            OperationFilter::Namespace(id) => op.targets.get("NAMESPACE") == Some(id),
            OperationFilter::Service(id) => op.targets.get("SERVICE") == Some(id),
            OperationFilter::Status(s) => s.contains(&op.status),
            OperationFilter::Kind(k) => k.contains(&op.kind),
            OperationFilter::UpdatedBetween(from, to) => op.updated >= *from && op.updated <= *to,
        }
    }
}

/// What to create with [`crate::Registry::create_namespace_with`].
#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceSpec {
    /// The name.
    pub name: String,
    /// HTTP or private DNS.
    pub kind: NamespaceKind,
    /// Free text.
    pub description: Option<String>,
    /// The VPC (private DNS namespaces).
    pub vpc: Option<String>,
    /// SOA TTL (private DNS namespaces).
    pub soa_ttl: Option<u32>,
    /// Idempotency token.
    pub creator_request_id: Option<String>,
}

/// What to create with [`crate::Registry::create_service_with`].
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    /// The name.
    pub name: String,
    /// The namespace's id.
    pub namespace_id: String,
    /// Free text.
    pub description: Option<String>,
    /// DNS records (only in DNS namespaces).
    pub dns: Option<DnsConfig>,
    /// A Route 53 health check (kept only).
    pub health_check: Option<HealthCheckConfig>,
    /// A custom health check, with the (ignored) failure threshold.
    pub custom_health: Option<Option<u32>>,
    /// `Type: HTTP`.
    pub http_only: bool,
    /// Idempotency token.
    pub creator_request_id: Option<String>,
}

/// What [`crate::Registry::update_service`] changes; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceChange {
    /// A new description.
    pub description: Option<String>,
    /// New TTLs by record type (the types themselves cannot change).
    pub ttls: Option<Vec<DnsRecord>>,
    /// A new Route 53 health check.
    pub health_check: Option<HealthCheckConfig>,
}
