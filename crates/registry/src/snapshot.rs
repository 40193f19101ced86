//! Immutable views of the registry, published on every change.
//!
//! A snapshot is built once per change and then only read: the gateway picks an
//! instance from [`ServiceView::routable`] and the DNS server builds answers from
//! [`ServiceView::instances`], both without locks; the Cloud Map API answers its Get,
//! List and Discover calls from it too.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::model::ServiceConfig;
use crate::types::{HealthStatus, NamespaceInfo, NamespaceKind, Origin, ServiceInfo};

/// The whole registry at one point in time.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Increases by one with every published change.
    pub version: u64,
    /// Namespaces by name.
    pub namespaces: BTreeMap<String, NamespaceView>,
    /// Namespace name by namespace id.
    pub namespace_ids: BTreeMap<String, String>,
    /// (namespace name, service name) by service id.
    pub service_ids: BTreeMap<String, (String, String)>,
}

impl Snapshot {
    /// The service `service` in namespace `namespace`, if both exist.
    pub fn service(&self, namespace: &str, service: &str) -> Option<&ServiceView> {
        self.namespaces.get(namespace)?.services.get(service)
    }

    /// The namespace with id `id`.
    pub fn namespace_by_id(&self, id: &str) -> Option<&NamespaceView> {
        self.namespaces.get(self.namespace_ids.get(id)?)
    }

    /// The service with id `id`.
    pub fn service_by_id(&self, id: &str) -> Option<&ServiceView> {
        let (ns, svc) = self.service_ids.get(id)?;
        self.service(ns, svc)
    }

    /// The namespace whose `HttpName` is `http_name` (the name DiscoverInstances takes).
    pub fn namespace_by_http_name(&self, http_name: &str) -> Option<&NamespaceView> {
        self.namespaces
            .values()
            .find(|ns| ns.info.http_name == http_name)
    }

    /// The namespace whose name is `name` or a parent domain of `name` (DNS names are
    /// compared case-insensitively, without a trailing dot).
    /// Only DNS namespaces count: HTTP namespaces have no DNS names.
    pub fn namespace_for(&self, name: &str) -> Option<&NamespaceView> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.namespaces
            .values()
            .filter(|ns| ns.info.kind == NamespaceKind::DnsPrivate)
            .find(|ns| name == ns.name || name.ends_with(&format!(".{}", ns.name)))
    }
}

/// One namespace and its services.
#[derive(Debug, Clone)]
pub struct NamespaceView {
    /// Namespace name, e.g. `ecs.local`.
    pub name: String,
    /// Id, ARN, kind and the other settings.
    pub info: NamespaceInfo,
    /// Services by name.
    pub services: BTreeMap<String, ServiceView>,
}

/// One service and its instances.
#[derive(Debug, Clone)]
pub struct ServiceView {
    /// The namespace's name.
    pub namespace: String,
    /// The service's name.
    pub name: String,
    /// DNS and health settings, as the DNS server and the gateway read them.
    pub config: ServiceConfig,
    /// Id, ARN and every setting as the Cloud Map API reports them.
    pub info: ServiceInfo,
    /// All registered instances, in registration order (a re-registration keeps its
    /// place).
    pub instances: Vec<InstanceView>,
    /// Addresses the HTTP API may send requests to: instances with an IPv4 address and a
    /// port whose health lets them serve (HEALTHY, or UNKNOWN for a service without a
    /// health check, as Cloud Map's DiscoverInstances returns them; aws-behavior.md §3.2).
    pub routable: Vec<SocketAddr>,
    /// Cloud Map's `InstancesRevision`: raised on register and deregister only, not on
    /// health changes (aws-behavior.md §3.4).
    pub instances_revision: u64,
}

/// One registered instance.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceView {
    /// Instance id (for ECS tasks, the 32-hex task id).
    pub id: String,
    /// All attributes, reserved ones included.
    pub attributes: BTreeMap<String, String>,
    /// Current health.
    pub health: HealthStatus,
    /// `AWS_INSTANCE_IPV4`, parsed, if present and valid.
    pub ipv4: Option<Ipv4Addr>,
    /// `AWS_INSTANCE_IPV6`, parsed, if present and valid.
    pub ipv6: Option<Ipv6Addr>,
    /// `AWS_INSTANCE_PORT`, parsed, if present and valid.
    pub port: Option<u16>,
    /// Registered through the API (stored) or by the scheduler for a task (not stored).
    pub origin: Origin,
    /// The registration's idempotency token.
    pub creator_request_id: Option<String>,
}

impl InstanceView {
    /// Whether this instance answers discovery for a service configured as `config`:
    /// healthy ones with a health check, every one without (health UNKNOWN).
    pub fn serves(&self, config: &ServiceConfig) -> bool {
        if config.custom_health {
            self.health == HealthStatus::Healthy
        } else {
            true
        }
    }

    /// The socket address, when both IPv4 address and port are known.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        Some(SocketAddr::from((self.ipv4?, self.port?)))
    }
}
