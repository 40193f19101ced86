//! The Cloud Map model: namespaces, services and instances with their attributes and
//! health, operations, the DiscoverInstances rules, the durable store, and the DNS
//! server that answers for them.
//!
//! Writers (the scheduler, the Cloud Map API) change the model through [`Registry`];
//! every change is committed to the store (when the registry has one) and then publishes
//! a new immutable [`Snapshot`]. Readers on hot paths (the gateway, the DNS server, the
//! API's Get/List/Discover calls) load the current snapshot without taking a lock that a
//! writer holds, so a request never waits on a registration.
//!
//! Known limits: public DNS namespaces are not modelled; Route 53 health checks are kept
//! but not probed; no throttling.

pub mod discover;
pub mod dns;
mod model;
mod snapshot;
mod store;
mod types;

pub use discover::{DiscoverQuery, Discovery, HealthFilter};
pub use model::{
    MAX_CUSTOM_ATTRIBUTES, MAX_INSTANCES_PER_SERVICE, Registry, RegistryError, RegistryOptions,
    ServiceConfig,
};
pub use snapshot::{InstanceView, NamespaceView, ServiceView, Snapshot};
pub use types::{
    DnsConfig, DnsRecord, HealthCheckConfig, HealthStatus, NamespaceInfo, NamespaceKind,
    NamespaceSpec, Operation, OperationFilter, OperationKind, OperationStatus, Origin, RecordKind,
    RoutingPolicy, ServiceChange, ServiceInfo, ServiceSpec,
};

/// Reserved attribute: the instance's IPv4 address (Cloud Map `AWS_INSTANCE_IPV4`).
pub const ATTR_IPV4: &str = "AWS_INSTANCE_IPV4";
/// Reserved attribute: the instance's IPv6 address (Cloud Map `AWS_INSTANCE_IPV6`).
pub const ATTR_IPV6: &str = "AWS_INSTANCE_IPV6";
/// Reserved attribute: the instance's port (Cloud Map `AWS_INSTANCE_PORT`).
pub const ATTR_PORT: &str = "AWS_INSTANCE_PORT";
/// Reserved attribute: initial health of an instance of a service with a custom health
/// check, `HEALTHY` (the default) or `UNHEALTHY` (Cloud Map `AWS_INIT_HEALTH_STATUS`).
pub const ATTR_INIT_HEALTH: &str = "AWS_INIT_HEALTH_STATUS";
