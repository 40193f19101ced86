//! The writable registry: validates changes, applies them under one lock, and
//! publishes a fresh [`Snapshot`] after each one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::snapshot::{InstanceView, NamespaceView, ServiceView, Snapshot};
use crate::{ATTR_INIT_HEALTH, ATTR_IPV4, ATTR_PORT};

/// Health of an instance, as Cloud Map reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// Settings of a Cloud Map service that discovery depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// The service publishes SRV records.
    pub srv: bool,
    /// The service publishes A records.
    pub a: bool,
    /// TTL of its DNS records, seconds.
    pub ttl: u32,
    /// The service has a custom health check (`HealthCheckCustomConfig`): only healthy
    /// instances are discovered. Without one, every instance is, with health UNKNOWN.
    pub custom_health: bool,
}

/// Why a registry change was refused. Names follow Cloud Map's error types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// A namespace with this name exists already.
    #[error("namespace `{0}` already exists")]
    NamespaceAlreadyExists(String),
    /// No namespace with this name.
    #[error("namespace `{0}` not found")]
    NamespaceNotFound(String),
    /// A service with this name exists already in the namespace.
    #[error("service `{0}` already exists")]
    ServiceAlreadyExists(String),
    /// No service with this name in the namespace.
    #[error("service `{0}` not found")]
    ServiceNotFound(String),
    /// No instance with this id in the service.
    #[error("instance `{0}` not found")]
    InstanceNotFound(String),
    /// A request field is malformed.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// The registry: cheap to clone, shared by every component of a running stack.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    current: ArcSwap<Snapshot>,
    changes: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    version: u64,
    namespaces: BTreeMap<String, NamespaceView>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        let (changes, _) = watch::channel(0);
        Registry {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                current: ArcSwap::from_pointee(Snapshot::default()),
                changes,
            }),
        }
    }

    /// The current snapshot: a lock-free load, safe on any hot path.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.current.load_full()
    }

    /// A receiver that sees the version of every published snapshot.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Creates a private DNS namespace named `name` (lower-cased).
    pub fn create_namespace(&self, name: &str) -> Result<(), RegistryError> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() {
            return Err(RegistryError::InvalidInput(
                "namespace name is empty".into(),
            ));
        }
        self.change(|state| {
            if state.namespaces.contains_key(&name) {
                return Err(RegistryError::NamespaceAlreadyExists(name.clone()));
            }
            let view = NamespaceView {
                name: name.clone(),
                services: BTreeMap::new(),
            };
            state.namespaces.insert(name.clone(), view);
            Ok(())
        })
    }

    /// Creates service `service` in `namespace`.
    pub fn create_service(
        &self,
        namespace: &str,
        service: &str,
        config: ServiceConfig,
    ) -> Result<(), RegistryError> {
        self.change(|state| {
            let ns = namespace_mut(state, namespace)?;
            if ns.services.contains_key(service) {
                return Err(RegistryError::ServiceAlreadyExists(service.to_string()));
            }
            let view = ServiceView {
                namespace: ns.name.clone(),
                name: service.to_string(),
                config,
                instances: Vec::new(),
                routable: Vec::new(),
                instances_revision: 0,
            };
            ns.services.insert(service.to_string(), view);
            Ok(())
        })
    }

    /// Registers (or re-registers, replacing) instance `id` with `attributes`.
    ///
    /// Its health starts as `AWS_INIT_HEALTH_STATUS` (default HEALTHY) when the service
    /// has a custom health check, UNKNOWN otherwise (aws-behavior.md §3.3).
    pub fn register_instance(
        &self,
        namespace: &str,
        service: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
    ) -> Result<(), RegistryError> {
        validate_instance_id(id)?;
        let ipv4 = match attributes.get(ATTR_IPV4) {
            Some(v) => Some(v.parse().map_err(|_| {
                RegistryError::InvalidInput(format!("{ATTR_IPV4} `{v}` is not an IPv4 address"))
            })?),
            None => None,
        };
        let port = match attributes.get(ATTR_PORT) {
            Some(v) => Some(v.parse().map_err(|_| {
                RegistryError::InvalidInput(format!("{ATTR_PORT} `{v}` is not a port"))
            })?),
            None => None,
        };
        self.change(|state| {
            let svc = service_mut(state, namespace, service)?;
            let health = if !svc.config.custom_health {
                HealthStatus::Unknown
            } else if attributes.get(ATTR_INIT_HEALTH).map(String::as_str) == Some("UNHEALTHY") {
                HealthStatus::Unhealthy
            } else {
                HealthStatus::Healthy
            };
            let view = InstanceView {
                id: id.to_string(),
                attributes,
                health,
                ipv4,
                port,
            };
            match svc.instances.iter_mut().find(|i| i.id == id) {
                Some(existing) => *existing = view,
                None => svc.instances.push(view),
            }
            svc.instances_revision += 1;
            Ok(())
        })
    }

    /// Deregisters instance `id`.
    pub fn deregister_instance(
        &self,
        namespace: &str,
        service: &str,
        id: &str,
    ) -> Result<(), RegistryError> {
        self.change(|state| {
            let svc = service_mut(state, namespace, service)?;
            let before = svc.instances.len();
            svc.instances.retain(|i| i.id != id);
            if svc.instances.len() == before {
                return Err(RegistryError::InstanceNotFound(id.to_string()));
            }
            svc.instances_revision += 1;
            Ok(())
        })
    }

    /// Sets the health of instance `id` (ignored, as in Cloud Map, for UNKNOWN health
    /// services: they have no check to report to).
    pub fn set_health(
        &self,
        namespace: &str,
        service: &str,
        id: &str,
        health: HealthStatus,
    ) -> Result<(), RegistryError> {
        self.change(|state| {
            let svc = service_mut(state, namespace, service)?;
            let custom = svc.config.custom_health;
            let inst = svc
                .instances
                .iter_mut()
                .find(|i| i.id == id)
                .ok_or_else(|| RegistryError::InstanceNotFound(id.to_string()))?;
            if custom {
                inst.health = health;
            }
            Ok(())
        })
    }

    /// Applies `f` to the state and, when it succeeds, publishes a new snapshot.
    fn change<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        let out = f(&mut state)?;
        state.version += 1;
        for ns in state.namespaces.values_mut() {
            for svc in ns.services.values_mut() {
                svc.routable = svc
                    .instances
                    .iter()
                    .filter(|i| i.serves(&svc.config))
                    .filter_map(InstanceView::socket_addr)
                    .collect();
            }
        }
        let snapshot = Snapshot {
            version: state.version,
            namespaces: state.namespaces.clone(),
        };
        self.inner.current.store(Arc::new(snapshot));
        self.inner.changes.send_replace(state.version);
        Ok(out)
    }
}

fn namespace_mut<'a>(
    state: &'a mut State,
    name: &str,
) -> Result<&'a mut NamespaceView, RegistryError> {
    state
        .namespaces
        .get_mut(name)
        .ok_or_else(|| RegistryError::NamespaceNotFound(name.to_string()))
}

fn service_mut<'a>(
    state: &'a mut State,
    namespace: &str,
    service: &str,
) -> Result<&'a mut ServiceView, RegistryError> {
    namespace_mut(state, namespace)?
        .services
        .get_mut(service)
        .ok_or_else(|| RegistryError::ServiceNotFound(service.to_string()))
}

/// Cloud Map's InstanceId rule: at most 64 characters of `[0-9a-zA-Z_/:.@-]`
/// (aws-behavior.md §3.3).
fn validate_instance_id(id: &str) -> Result<(), RegistryError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_/:.@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(RegistryError::InvalidInput(format!(
            "instance id `{id}` is not valid"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(svc.instances_revision, 1);
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
        assert_eq!(
            svc.instances_revision, 1,
            "health changes do not raise the revision"
        );
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
}
