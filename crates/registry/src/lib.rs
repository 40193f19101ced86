//! The Cloud Map model: namespaces, services and instances with their attributes and
//! health, and the DNS server that answers for them.
//!
//! Writers (the scheduler, later the Cloud Map API) change the model through
//! [`Registry`]; every change publishes a new immutable [`Snapshot`]. Readers on hot
//! paths (the gateway, the DNS server) load the current snapshot without taking a lock
//! that a writer holds, so a request never waits on a registration.
//!
//! Known limits: the model is in memory only (persistence is issue #4), and the only
//! namespace kind is the private DNS namespace that ECS service discovery uses.

pub mod dns;
mod model;
mod snapshot;

pub use model::{HealthStatus, Registry, RegistryError, ServiceConfig};
pub use snapshot::{InstanceView, NamespaceView, ServiceView, Snapshot};

/// Reserved attribute: the instance's IPv4 address (Cloud Map `AWS_INSTANCE_IPV4`).
pub const ATTR_IPV4: &str = "AWS_INSTANCE_IPV4";
/// Reserved attribute: the instance's port (Cloud Map `AWS_INSTANCE_PORT`).
pub const ATTR_PORT: &str = "AWS_INSTANCE_PORT";
/// Reserved attribute: initial health of an instance of a service with a custom health
/// check, `HEALTHY` (the default) or `UNHEALTHY` (Cloud Map `AWS_INIT_HEALTH_STATUS`).
pub const ATTR_INIT_HEALTH: &str = "AWS_INIT_HEALTH_STATUS";
