//! The writable registry: validates changes, applies them under one lock, commits them
//! to the durable store, and only then publishes a fresh [`Snapshot`].
//!
//! Two kinds of writer share it: the scheduler, which registers its running tasks by
//! namespace and service *name* ([`Registry::register_instance`] and friends; those
//! instances are never stored), and the Cloud Map API, which works by *id* and whose
//! every change is durable before it is acknowledged ([`Registry::register`] and
//! friends). Operations run synchronously: they are SUCCESS when their id is returned.
//!
//! Known limits: public DNS namespaces and namespace updates are not modelled; Route 53
//! health checks are kept but never probed; CreatorRequestId is stored, not used to
//! deduplicate retries.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rand::Rng;
use tokio::sync::watch;

use crate::discover::{DiscoverQuery, Discovery};
use crate::snapshot::{InstanceView, NamespaceView, ServiceView, Snapshot};
use crate::store::{InstanceRecord, Store, Write};
use crate::types::{
    DnsConfig, DnsRecord, HealthStatus, NamespaceInfo, NamespaceKind, NamespaceSpec, Operation,
    OperationFilter, OperationKind, OperationStatus, Origin, RecordKind, RoutingPolicy,
    ServiceChange, ServiceInfo, ServiceSpec,
};
use crate::{ATTR_INIT_HEALTH, ATTR_IPV4, ATTR_IPV6, ATTR_PORT};

/// Cloud Map's quota of instances per service (aws-behavior.md §3.3).
pub const MAX_INSTANCES_PER_SERVICE: usize = 1000;
/// Cloud Map's quota of custom attributes per instance (aws-behavior.md §3.3).
pub const MAX_CUSTOM_ATTRIBUTES: usize = 30;

/// Settings of the DNS and health side of a service as the scheduler, the gateway and
/// the DNS server see it (the API's richer view is [`ServiceInfo`]).
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
    /// No namespace with this name or id.
    #[error("namespace `{0}` not found")]
    NamespaceNotFound(String),
    /// A service with this name exists already in the namespace.
    #[error("service `{0}` already exists")]
    ServiceAlreadyExists(String),
    /// No service with this name or id.
    #[error("service `{0}` not found")]
    ServiceNotFound(String),
    /// No instance with this id in the service.
    #[error("instance `{0}` not found")]
    InstanceNotFound(String),
    /// No operation with this id.
    #[error("operation `{0}` not found")]
    OperationNotFound(String),
    /// The service has no custom health check.
    #[error("service `{0}` has no custom health check")]
    CustomHealthNotFound(String),
    /// The resource still holds others (a namespace its services, a service its
    /// instances).
    #[error("{0}")]
    ResourceInUse(String),
    /// A quota would be exceeded.
    #[error("{0}")]
    ResourceLimitExceeded(String),
    /// A request field is malformed.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The durable store failed; nothing was changed.
    #[error("store failure: {0}")]
    Store(String),
}

/// Settings of a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryOptions {
    /// Region written into ARNs.
    pub region: String,
    /// Account id written into ARNs.
    pub account: String,
    /// How long an UpdateInstanceCustomHealthStatus takes to apply: about 30 s on AWS
    /// (aws-behavior.md §3.2, §6.6); zero (the default) applies it at once.
    pub health_propagation: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            region: "us-east-1".into(),
            account: "000000000000".into(),
            health_propagation: Duration::ZERO,
        }
    }
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
    store: Option<Store>,
}

struct State {
    data: Data,
    operations: BTreeMap<String, Operation>,
    /// Custom health changes waiting for the propagation delay, by (service id, instance
    /// id): the status and the generation of the timer that will apply it.
    pending: HashMap<(String, String), (HealthStatus, u64)>,
    generation: u64,
    options: RegistryOptions,
}

/// The part of the state a change may touch; cloned per change so a failed commit
/// leaves nothing behind.
#[derive(Clone, Default)]
struct Data {
    version: u64,
    namespaces: BTreeMap<String, NamespaceView>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// An empty in-memory registry with default options.
    pub fn new() -> Self {
        Self::with_options(RegistryOptions::default())
    }

    /// An empty in-memory registry.
    pub fn with_options(options: RegistryOptions) -> Self {
        Self::build(options, None, Data::default(), BTreeMap::new())
    }

    /// A registry kept in the store at `path` (created if missing), loaded whole.
    ///
    /// Custom health changes still waiting for their propagation delay when the last
    /// process stopped are applied at once. Fails when the store cannot be opened or read.
    pub fn open(path: &Path, options: RegistryOptions) -> Result<Self, RegistryError> {
        let (store, loaded) = Store::open(path)?;
        let mut data = Data::default();
        for info in loaded.namespaces {
            let view = NamespaceView {
                name: info.name.clone(),
                info,
                services: BTreeMap::new(),
            };
            data.namespaces.insert(view.name.clone(), view);
        }
        let mut by_id: HashMap<String, (String, String)> = HashMap::new();
        for info in loaded.services {
            let Some(ns) = data
                .namespaces
                .values_mut()
                .find(|n| n.info.id == info.namespace_id)
            else {
                tracing::warn!(service = %info.id, "stored service without namespace");
                continue;
            };
            by_id.insert(info.id.clone(), (ns.name.clone(), info.name.clone()));
            ns.services
                .insert(info.name.clone(), service_view(&ns.name, info));
        }
        for record in loaded.instances {
            let Some((ns, svc)) = by_id.get(&record.service_id) else {
                continue;
            };
            let Some(svc) = data
                .namespaces
                .get_mut(ns)
                .and_then(|n| n.services.get_mut(svc))
            else {
                continue;
            };
            let health = record.pending_health.unwrap_or(record.health);
            if let Ok(view) = instance_view(
                &record.id,
                record.attributes,
                health,
                Origin::Api,
                record.creator_request_id,
            ) {
                svc.instances.push(view);
            }
            svc.instances_revision = next_revision(svc.instances_revision);
        }
        let operations = loaded
            .operations
            .into_iter()
            .map(|op| (op.id.clone(), op))
            .collect();
        Ok(Self::build(options, Some(store), data, operations))
    }

    fn build(
        options: RegistryOptions,
        store: Option<Store>,
        data: Data,
        operations: BTreeMap<String, Operation>,
    ) -> Self {
        let (changes, _) = watch::channel(0);
        let registry = Registry {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    data: Data::default(),
                    operations,
                    pending: HashMap::new(),
                    generation: 0,
                    options,
                }),
                current: ArcSwap::from_pointee(Snapshot::default()),
                changes,
                store,
            }),
        };
        let mut state = registry.lock();
        state.data = data;
        registry.publish(&mut state);
        drop(state);
        registry
    }

    /// The current snapshot: a lock-free load, safe on any hot path.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.current.load_full()
    }

    /// A receiver that sees the version of every published snapshot.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// The options in force.
    pub fn options(&self) -> RegistryOptions {
        self.lock().options.clone()
    }

    /// Changes the custom health propagation delay for later updates.
    pub fn set_health_propagation(&self, delay: Duration) {
        self.lock().options.health_propagation = delay;
    }

    // ---- The stack's own resources, by name (used by `albless up` and the scheduler).

    /// Creates a private DNS namespace named `name` (lower-cased).
    ///
    /// Fails with `NamespaceAlreadyExists` when it exists.
    pub fn create_namespace(&self, name: &str) -> Result<(), RegistryError> {
        let spec = NamespaceSpec {
            name: name.to_string(),
            kind: NamespaceKind::DnsPrivate,
            description: None,
            vpc: None,
            soa_ttl: None,
            creator_request_id: None,
        };
        self.create_namespace_with(spec).map(|_| ())
    }

    /// Creates private DNS namespace `name` unless a namespace of that name exists
    /// (e.g. loaded from the store).
    pub fn ensure_namespace(&self, name: &str) -> Result<(), RegistryError> {
        match self.create_namespace(name) {
            Err(RegistryError::NamespaceAlreadyExists(_)) => Ok(()),
            other => other,
        }
    }

    /// Creates service `service` in `namespace`.
    ///
    /// Fails with `NamespaceNotFound` or `ServiceAlreadyExists`.
    pub fn create_service(
        &self,
        namespace: &str,
        service: &str,
        config: ServiceConfig,
    ) -> Result<(), RegistryError> {
        let namespace_id = self
            .snapshot()
            .namespaces
            .get(namespace)
            .map(|n| n.info.id.clone())
            .ok_or_else(|| RegistryError::NamespaceNotFound(namespace.to_string()))?;
        self.create_service_with(spec_from_config(namespace_id, service, &config))
            .map(|_| ())
    }

    /// Creates service `service` in `namespace`, or, when it exists (e.g. loaded from the
    /// store), gives it `config`'s DNS and health settings.
    pub fn ensure_service(
        &self,
        namespace: &str,
        service: &str,
        config: ServiceConfig,
    ) -> Result<(), RegistryError> {
        match self.create_service(namespace, service, config.clone()) {
            Err(RegistryError::ServiceAlreadyExists(_)) => {}
            other => return other,
        }
        self.change(|data, writes| {
            let svc = service_mut(data, namespace, service)?;
            let wanted = spec_from_config(svc.info.namespace_id.clone(), service, &config);
            if svc.info.dns != wanted.dns || svc.info.custom_health != config.custom_health {
                svc.info.dns = wanted.dns;
                svc.info.custom_health = config.custom_health;
                svc.config = config;
                writes.push(Write::Service(svc.info.clone()));
            }
            Ok(())
        })
    }

    /// Registers (or re-registers, replacing) instance `id` of a running task.
    ///
    /// Task instances are not stored: after a restart the scheduler registers them again.
    /// Health starts as `AWS_INIT_HEALTH_STATUS` (default HEALTHY) when the service has a
    /// custom health check, UNKNOWN otherwise (aws-behavior.md §3.3).
    pub fn register_instance(
        &self,
        namespace: &str,
        service: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
    ) -> Result<(), RegistryError> {
        self.change(|data, writes| {
            let svc = service_mut(data, namespace, service)?;
            put_instance(svc, id, attributes, Origin::Task, None, writes)
        })
    }

    /// Deregisters instance `id`, whoever registered it.
    ///
    /// Fails with `InstanceNotFound` when it is not registered.
    pub fn deregister_instance(
        &self,
        namespace: &str,
        service: &str,
        id: &str,
    ) -> Result<(), RegistryError> {
        let mut state = self.lock();
        let service_id = service_ref(&state.data, namespace, service)?
            .info
            .id
            .clone();
        state.pending.remove(&(service_id, id.to_string()));
        self.change_locked(&mut state, |data, writes| {
            remove_instance(service_mut(data, namespace, service)?, id, writes)
        })
    }

    /// Sets the health of instance `id` at once (ignored, as in Cloud Map, for services
    /// without a custom health check: they have no check to report to). A pending
    /// delayed change to the same instance is dropped.
    pub fn set_health(
        &self,
        namespace: &str,
        service: &str,
        id: &str,
        health: HealthStatus,
    ) -> Result<(), RegistryError> {
        let mut state = self.lock();
        let service_id = service_ref(&state.data, namespace, service)?
            .info
            .id
            .clone();
        state.pending.remove(&(service_id, id.to_string()));
        self.change_locked(&mut state, |data, writes| {
            apply_health(service_mut(data, namespace, service)?, id, health, writes)
        })
    }

    // ---- The Cloud Map API, by id.

    /// Creates a namespace; returns the CREATE_NAMESPACE operation's id.
    ///
    /// Fails with `InvalidInput` for an empty name, `NamespaceAlreadyExists` when a
    /// namespace of that name exists (DNS names compare without case).
    pub fn create_namespace_with(&self, spec: NamespaceSpec) -> Result<String, RegistryError> {
        let name = match spec.kind {
            NamespaceKind::DnsPrivate => spec.name.trim_end_matches('.').to_ascii_lowercase(),
            NamespaceKind::Http => spec.name.clone(),
        };
        if name.is_empty() {
            return Err(RegistryError::InvalidInput(
                "namespace name is empty".into(),
            ));
        }
        let options = self.options();
        self.change(|data, writes| {
            let taken = data
                .namespaces
                .values()
                .any(|n| n.name.eq_ignore_ascii_case(&name));
            if taken {
                return Err(RegistryError::NamespaceAlreadyExists(name.clone()));
            }
            let id = new_id("ns-");
            let info = NamespaceInfo {
                arn: arn(&options, "namespace", &id),
                id,
                name: name.clone(),
                http_name: name.clone(),
                kind: spec.kind,
                description: spec.description,
                vpc: spec.vpc,
                soa_ttl: spec.soa_ttl,
                creator_request_id: spec.creator_request_id,
                created: SystemTime::now(),
            };
            let op = operation(
                OperationKind::CreateNamespace,
                [("NAMESPACE", info.id.as_str())],
            );
            writes.push(Write::Namespace(info.clone()));
            data.namespaces.insert(
                name.clone(),
                NamespaceView {
                    name,
                    info,
                    services: BTreeMap::new(),
                },
            );
            Ok(push_op(writes, op))
        })
    }

    /// Deletes a namespace; returns the DELETE_NAMESPACE operation's id.
    ///
    /// Fails with `NamespaceNotFound`, or `ResourceInUse` while it holds services.
    pub fn delete_namespace(&self, id: &str) -> Result<String, RegistryError> {
        self.change(|data, writes| {
            let name = namespace_name(data, id)?;
            let ns = &data.namespaces[&name];
            if !ns.services.is_empty() {
                return Err(RegistryError::ResourceInUse(format!(
                    "namespace `{id}` still has {} service(s)",
                    ns.services.len()
                )));
            }
            data.namespaces.remove(&name);
            writes.push(Write::DeleteNamespace(id.to_string()));
            Ok(push_op(
                writes,
                operation(OperationKind::DeleteNamespace, [("NAMESPACE", id)]),
            ))
        })
    }

    /// Creates a service; returns its settings.
    ///
    /// Fails with `NamespaceNotFound`, `ServiceAlreadyExists`, or `InvalidInput` for DNS
    /// records in an HTTP namespace, a bad record combination, or both kinds of health
    /// check.
    pub fn create_service_with(&self, spec: ServiceSpec) -> Result<ServiceInfo, RegistryError> {
        if spec.health_check.is_some() && spec.custom_health.is_some() {
            return Err(RegistryError::InvalidInput(
                "HealthCheckConfig and HealthCheckCustomConfig cannot both be set".into(),
            ));
        }
        if let Some(dns) = &spec.dns {
            validate_records(&dns.records)?;
        }
        let options = self.options();
        self.change(|data, writes| {
            let ns_name = namespace_name(data, &spec.namespace_id)?;
            let ns = data
                .namespaces
                .get_mut(&ns_name)
                .expect("namespace looked up above");
            if ns.info.kind == NamespaceKind::Http && spec.dns.is_some() {
                return Err(RegistryError::InvalidInput(
                    "DnsConfig is not allowed in an HTTP namespace".into(),
                ));
            }
            // Names differing only by case clash when DNS-discoverable (§3.2).
            let clash = |s: &ServiceView| {
                s.name == spec.name
                    || (spec.dns.is_some() && s.name.eq_ignore_ascii_case(&spec.name))
            };
            if ns.services.values().any(clash) {
                return Err(RegistryError::ServiceAlreadyExists(spec.name.clone()));
            }
            let id = new_id("srv-");
            let info = ServiceInfo {
                arn: arn(&options, "service", &id),
                id,
                namespace_id: spec.namespace_id.clone(),
                name: spec.name.clone(),
                description: spec.description,
                dns: spec.dns,
                health_check: spec.health_check,
                custom_health: spec.custom_health.is_some(),
                custom_failure_threshold: spec.custom_health.flatten(),
                http_only: spec.http_only,
                creator_request_id: spec.creator_request_id,
                created: SystemTime::now(),
            };
            writes.push(Write::Service(info.clone()));
            ns.services
                .insert(spec.name.clone(), service_view(&ns_name, info.clone()));
            Ok(info)
        })
    }

    /// Changes a service's description, record TTLs or Route 53 health check; returns the
    /// UPDATE_SERVICE operation's id.
    ///
    /// Fails with `ServiceNotFound`, or `InvalidInput` when the record types differ from
    /// the service's (they cannot change, §3.2).
    pub fn update_service(&self, id: &str, change: ServiceChange) -> Result<String, RegistryError> {
        self.change(|data, writes| {
            let svc = service_by_id_mut(data, id)?;
            if let Some(records) = &change.ttls {
                let dns = svc.info.dns.as_mut().ok_or_else(|| {
                    RegistryError::InvalidInput("the service has no DNS records".into())
                })?;
                let mut old: Vec<_> = dns.records.iter().map(|r| r.kind.as_str()).collect();
                let mut new: Vec<_> = records.iter().map(|r| r.kind.as_str()).collect();
                old.sort_unstable();
                new.sort_unstable();
                if old != new {
                    return Err(RegistryError::InvalidInput(
                        "the DNS record types of a service cannot be changed".into(),
                    ));
                }
                dns.records = records.clone();
            }
            if change.health_check.is_some() {
                if svc.info.custom_health {
                    return Err(RegistryError::InvalidInput(
                        "a service with a custom health check cannot get a HealthCheckConfig"
                            .into(),
                    ));
                }
                svc.info.health_check = change.health_check;
            }
            if change.description.is_some() {
                svc.info.description = change.description;
            }
            svc.config = config_of(&svc.info);
            writes.push(Write::Service(svc.info.clone()));
            Ok(push_op(
                writes,
                operation(OperationKind::UpdateService, [("SERVICE", id)]),
            ))
        })
    }

    /// Deletes a service.
    ///
    /// Fails with `ServiceNotFound`, or `ResourceInUse` while instances are registered.
    pub fn delete_service(&self, id: &str) -> Result<(), RegistryError> {
        self.change(|data, writes| {
            let svc = service_by_id_mut(data, id)?;
            if !svc.instances.is_empty() {
                return Err(RegistryError::ResourceInUse(format!(
                    "service `{id}` still has {} registered instance(s)",
                    svc.instances.len()
                )));
            }
            let (ns, name) = (svc.namespace.clone(), svc.name.clone());
            data.namespaces
                .get_mut(&ns)
                .map(|n| n.services.remove(&name));
            writes.push(Write::DeleteService(id.to_string()));
            Ok(())
        })
    }

    /// Registers (or updates) instance `id` of service `service_id` for an API client,
    /// durably; returns the REGISTER_INSTANCE operation's id.
    ///
    /// Fails with `ServiceNotFound`, `ResourceLimitExceeded` past 1,000 instances, or
    /// `InvalidInput` for a bad id or reserved attribute, or one the service's DNS records
    /// need and that is missing.
    pub fn register(
        &self,
        service_id: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
        creator_request_id: Option<String>,
    ) -> Result<String, RegistryError> {
        let mut state = self.lock();
        state
            .pending
            .remove(&(service_id.to_string(), id.to_string()));
        self.change_locked(&mut state, |data, writes| {
            let svc = service_by_id_mut(data, service_id)?;
            check_dns_attributes(&svc.info, &attributes)?;
            put_instance(svc, id, attributes, Origin::Api, creator_request_id, writes)?;
            let targets = [("SERVICE", service_id), ("INSTANCE", id)];
            Ok(push_op(
                writes,
                operation(OperationKind::RegisterInstance, targets),
            ))
        })
    }

    /// Deregisters instance `id` of service `service_id`; returns the DEREGISTER_INSTANCE
    /// operation's id.
    ///
    /// Fails with `ServiceNotFound` or `InstanceNotFound`.
    pub fn deregister(&self, service_id: &str, id: &str) -> Result<String, RegistryError> {
        let mut state = self.lock();
        state
            .pending
            .remove(&(service_id.to_string(), id.to_string()));
        self.change_locked(&mut state, |data, writes| {
            remove_instance(service_by_id_mut(data, service_id)?, id, writes)?;
            let targets = [("SERVICE", service_id), ("INSTANCE", id)];
            Ok(push_op(
                writes,
                operation(OperationKind::DeregisterInstance, targets),
            ))
        })
    }

    /// UpdateInstanceCustomHealthStatus: sets the health of instance `id` after the
    /// propagation delay (at once when it is zero).
    ///
    /// As on AWS (aws-behavior.md §3.2): repeating a request inside the window does not
    /// speed it up, and a request that reverses a pending change cancels it. The delay
    /// runs on Tokio's clock, so it needs a Tokio runtime when it is not zero. Fails with
    /// `ServiceNotFound`, `InstanceNotFound`, or `CustomHealthNotFound` for a service
    /// without a custom health check.
    pub fn update_custom_health(
        &self,
        service_id: &str,
        id: &str,
        status: HealthStatus,
    ) -> Result<(), RegistryError> {
        let mut state = self.lock();
        let svc = service_by_id(&state.data, service_id)?;
        if !svc.info.custom_health {
            return Err(RegistryError::CustomHealthNotFound(service_id.to_string()));
        }
        let inst = svc
            .instances
            .iter()
            .find(|i| i.id == id)
            .ok_or_else(|| RegistryError::InstanceNotFound(id.to_string()))?;
        let (current, origin) = (inst.health, inst.origin);
        let delay = state.options.health_propagation;
        let key = (service_id.to_string(), id.to_string());

        if delay.is_zero() {
            state.pending.remove(&key);
            return self.change_locked(&mut state, |data, writes| {
                apply_health(service_by_id_mut(data, service_id)?, id, status, writes)
            });
        }
        let pending = state.pending.get(&key).map(|(s, _)| *s);
        if pending == Some(status) {
            return Ok(());
        }
        if status == current {
            // A reversal inside the window: the pending change never happens.
            state.pending.remove(&key);
        } else {
            state.generation += 1;
            let generation = state.generation;
            state.pending.insert(key.clone(), (status, generation));
            let weak = Arc::downgrade(&self.inner);
            tokio::spawn(apply_later(weak, key, generation, delay));
        }
        // Stored instances remember the pending change, so a restart does not lose it.
        if origin == Origin::Api {
            let wanted = (status != current).then_some(status);
            self.change_locked(&mut state, |data, writes| {
                let svc = service_by_id_mut(data, service_id)?;
                if let Some(inst) = svc.instances.iter().find(|i| i.id == id) {
                    writes.push(Write::Instance(record_of(&svc.info.id, inst, wanted)));
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// DiscoverInstances on the current snapshot.
    ///
    /// Fails with `NamespaceNotFound` or `ServiceNotFound`.
    pub fn discover(&self, query: &DiscoverQuery) -> Result<Discovery, RegistryError> {
        crate::discover::discover(&self.snapshot(), query, &mut rand::rng())
    }

    /// The operation with id `id`.
    ///
    /// Fails with `OperationNotFound`.
    pub fn operation(&self, id: &str) -> Result<Operation, RegistryError> {
        self.lock()
            .operations
            .get(id)
            .cloned()
            .ok_or_else(|| RegistryError::OperationNotFound(id.to_string()))
    }

    /// Every operation passing all `filters`, oldest first.
    pub fn operations(&self, filters: &[OperationFilter]) -> Vec<Operation> {
        let state = self.lock();
        let mut ops: Vec<Operation> = state
            .operations
            .values()
            .filter(|op| filters.iter().all(|f| f.matches(op)))
            .cloned()
            .collect();
        ops.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        ops
    }

    // ---- Internals.

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `f` to a copy of the data, commits its writes, and only then makes the
    /// copy current and publishes it: a refused change or a failed commit leaves nothing.
    fn change<T>(
        &self,
        f: impl FnOnce(&mut Data, &mut Vec<Write>) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        let mut state = self.lock();
        self.change_locked(&mut state, f)
    }

    fn change_locked<T>(
        &self,
        state: &mut State,
        f: impl FnOnce(&mut Data, &mut Vec<Write>) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        let mut next = state.data.clone();
        let mut writes = Vec::new();
        let out = f(&mut next, &mut writes)?;
        if let Some(store) = &self.inner.store {
            store.commit(&writes).inspect_err(|error| {
                tracing::error!(%error, "registry change not committed");
            })?;
        }
        for write in writes {
            if let Write::Operation(op) = write {
                state.operations.insert(op.id.clone(), op);
            }
        }
        state.data = next;
        self.publish(state);
        Ok(out)
    }

    fn publish(&self, state: &mut State) {
        let data = &mut state.data;
        data.version += 1;
        let mut namespace_ids = BTreeMap::new();
        let mut service_ids = BTreeMap::new();
        for ns in data.namespaces.values_mut() {
            namespace_ids.insert(ns.info.id.clone(), ns.name.clone());
            for svc in ns.services.values_mut() {
                service_ids.insert(svc.info.id.clone(), (ns.name.clone(), svc.name.clone()));
                svc.routable = svc
                    .instances
                    .iter()
                    .filter(|i| i.serves(&svc.config))
                    .filter_map(InstanceView::socket_addr)
                    .collect();
            }
        }
        let snapshot = Snapshot {
            version: data.version,
            namespaces: data.namespaces.clone(),
            namespace_ids,
            service_ids,
        };
        self.inner.current.store(Arc::new(snapshot));
        self.inner.changes.send_replace(data.version);
    }
}

/// Applies a delayed custom health change once its delay is over, unless it was
/// cancelled or replaced meanwhile (another generation).
async fn apply_later(inner: Weak<Inner>, key: (String, String), generation: u64, delay: Duration) {
    tokio::time::sleep(delay).await;
    let Some(inner) = inner.upgrade() else { return };
    let registry = Registry { inner };
    let mut state = registry.lock();
    let Some((status, g)) = state.pending.get(&key).copied() else {
        return;
    };
    if g != generation {
        return;
    }
    state.pending.remove(&key);
    let (service_id, id) = key;
    let result = registry.change_locked(&mut state, |data, writes| {
        apply_health(service_by_id_mut(data, &service_id)?, &id, status, writes)
    });
    if let Err(error) = result {
        tracing::warn!(%error, service = %service_id, instance = %id, "custom health not applied");
    }
}

fn namespace_name(data: &Data, id: &str) -> Result<String, RegistryError> {
    data.namespaces
        .values()
        .find(|n| n.info.id == id)
        .map(|n| n.name.clone())
        .ok_or_else(|| RegistryError::NamespaceNotFound(id.to_string()))
}

fn service_ref<'a>(
    data: &'a Data,
    namespace: &str,
    service: &str,
) -> Result<&'a ServiceView, RegistryError> {
    data.namespaces
        .get(namespace)
        .ok_or_else(|| RegistryError::NamespaceNotFound(namespace.to_string()))?
        .services
        .get(service)
        .ok_or_else(|| RegistryError::ServiceNotFound(service.to_string()))
}

fn service_mut<'a>(
    data: &'a mut Data,
    namespace: &str,
    service: &str,
) -> Result<&'a mut ServiceView, RegistryError> {
    data.namespaces
        .get_mut(namespace)
        .ok_or_else(|| RegistryError::NamespaceNotFound(namespace.to_string()))?
        .services
        .get_mut(service)
        .ok_or_else(|| RegistryError::ServiceNotFound(service.to_string()))
}

fn service_by_id<'a>(data: &'a Data, id: &str) -> Result<&'a ServiceView, RegistryError> {
    data.namespaces
        .values()
        .flat_map(|n| n.services.values())
        .find(|s| s.info.id == id)
        .ok_or_else(|| RegistryError::ServiceNotFound(id.to_string()))
}

fn service_by_id_mut<'a>(
    data: &'a mut Data,
    id: &str,
) -> Result<&'a mut ServiceView, RegistryError> {
    data.namespaces
        .values_mut()
        .flat_map(|n| n.services.values_mut())
        .find(|s| s.info.id == id)
        .ok_or_else(|| RegistryError::ServiceNotFound(id.to_string()))
}

/// Adds or replaces an instance; stored unless it is a task's.
fn put_instance(
    svc: &mut ServiceView,
    id: &str,
    attributes: BTreeMap<String, String>,
    origin: Origin,
    creator_request_id: Option<String>,
    writes: &mut Vec<Write>,
) -> Result<(), RegistryError> {
    let existing = svc.instances.iter().position(|i| i.id == id);
    if existing.is_none() && svc.instances.len() >= MAX_INSTANCES_PER_SERVICE {
        return Err(RegistryError::ResourceLimitExceeded(format!(
            "service `{}` has {MAX_INSTANCES_PER_SERVICE} instances already",
            svc.info.id
        )));
    }
    let has_check = svc.info.custom_health || svc.info.health_check.is_some();
    // Route 53 checks are not probed locally: such instances stay HEALTHY.
    let health = if !has_check {
        HealthStatus::Unknown
    } else if svc.info.custom_health
        && attributes.get(ATTR_INIT_HEALTH).map(String::as_str) == Some("UNHEALTHY")
    {
        HealthStatus::Unhealthy
    } else {
        HealthStatus::Healthy
    };
    let view = instance_view(id, attributes, health, origin, creator_request_id)?;
    if origin == Origin::Api {
        writes.push(Write::Instance(record_of(&svc.info.id, &view, None)));
    } else if existing.is_some_and(|i| svc.instances[i].origin == Origin::Api) {
        // A task took over an id stored for an API client: the stored one goes.
        writes.push(Write::DeleteInstance {
            service_id: svc.info.id.clone(),
            id: id.into(),
        });
    }
    match existing {
        Some(i) => svc.instances[i] = view,
        None => svc.instances.push(view),
    }
    svc.instances_revision = next_revision(svc.instances_revision);
    Ok(())
}

fn remove_instance(
    svc: &mut ServiceView,
    id: &str,
    writes: &mut Vec<Write>,
) -> Result<(), RegistryError> {
    let pos = svc
        .instances
        .iter()
        .position(|i| i.id == id)
        .ok_or_else(|| RegistryError::InstanceNotFound(id.to_string()))?;
    let removed = svc.instances.remove(pos);
    if removed.origin == Origin::Api {
        writes.push(Write::DeleteInstance {
            service_id: svc.info.id.clone(),
            id: id.into(),
        });
    }
    svc.instances_revision = next_revision(svc.instances_revision);
    Ok(())
}

/// Sets an instance's health (only services with a custom health check have one to
/// set); health changes leave `InstancesRevision` alone (§3.4).
fn apply_health(
    svc: &mut ServiceView,
    id: &str,
    health: HealthStatus,
    writes: &mut Vec<Write>,
) -> Result<(), RegistryError> {
    let custom = svc.info.custom_health;
    let service_id = svc.info.id.clone();
    let inst = svc
        .instances
        .iter_mut()
        .find(|i| i.id == id)
        .ok_or_else(|| RegistryError::InstanceNotFound(id.to_string()))?;
    if custom {
        inst.health = health;
        if inst.origin == Origin::Api {
            writes.push(Write::Instance(record_of(&service_id, inst, None)));
        }
    }
    Ok(())
}

fn record_of(
    service_id: &str,
    inst: &InstanceView,
    pending: Option<HealthStatus>,
) -> InstanceRecord {
    InstanceRecord {
        service_id: service_id.to_string(),
        id: inst.id.clone(),
        attributes: inst.attributes.clone(),
        health: inst.health,
        pending_health: pending,
        creator_request_id: inst.creator_request_id.clone(),
    }
}

/// Builds an instance, checking its id and reserved attributes (aws-behavior.md §3.3).
fn instance_view(
    id: &str,
    attributes: BTreeMap<String, String>,
    health: HealthStatus,
    origin: Origin,
    creator_request_id: Option<String>,
) -> Result<InstanceView, RegistryError> {
    validate_instance_id(id)?;
    let ipv4 = parse_attr(&attributes, ATTR_IPV4, "an IPv4 address")?;
    let ipv6 = parse_attr(&attributes, ATTR_IPV6, "an IPv6 address")?;
    let port = parse_attr(&attributes, ATTR_PORT, "a port")?;
    if let Some(v) = attributes.get(ATTR_INIT_HEALTH)
        && v != "HEALTHY"
        && v != "UNHEALTHY"
    {
        return Err(RegistryError::InvalidInput(format!(
            "{ATTR_INIT_HEALTH} must be HEALTHY or UNHEALTHY, not `{v}`"
        )));
    }
    let custom = attributes.keys().filter(|k| !k.starts_with("AWS_")).count();
    if custom > MAX_CUSTOM_ATTRIBUTES {
        return Err(RegistryError::InvalidInput(format!(
            "{custom} custom attributes, at most {MAX_CUSTOM_ATTRIBUTES} are allowed"
        )));
    }
    Ok(InstanceView {
        id: id.to_string(),
        attributes,
        health,
        ipv4,
        ipv6,
        port,
        origin,
        creator_request_id,
    })
}

fn parse_attr<T: std::str::FromStr>(
    attributes: &BTreeMap<String, String>,
    key: &str,
    what: &str,
) -> Result<Option<T>, RegistryError> {
    match attributes.get(key) {
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| RegistryError::InvalidInput(format!("{key} `{v}` is not {what}"))),
        None => Ok(None),
    }
}

/// The attributes a service's DNS records need (API reference, RegisterInstance): an
/// address for A/AAAA/SRV, a port for SRV.
fn check_dns_attributes(
    info: &ServiceInfo,
    attributes: &BTreeMap<String, String>,
) -> Result<(), RegistryError> {
    let Some(dns) = info.dns.as_ref().filter(|_| !info.http_only) else {
        return Ok(());
    };
    let has = |k: &str| attributes.contains_key(k);
    for record in &dns.records {
        let missing = match record.kind {
            RecordKind::A if !has(ATTR_IPV4) => Some(ATTR_IPV4),
            RecordKind::Aaaa if !has(ATTR_IPV6) => Some(ATTR_IPV6),
            RecordKind::Srv if !has(ATTR_PORT) => Some(ATTR_PORT),
            RecordKind::Srv if !has(ATTR_IPV4) && !has(ATTR_IPV6) => Some(ATTR_IPV4),
            RecordKind::Cname if !has("AWS_INSTANCE_CNAME") => Some("AWS_INSTANCE_CNAME"),
            _ => None,
        };
        if let Some(key) = missing {
            return Err(RegistryError::InvalidInput(format!(
                "the service's {} records need attribute {key}",
                record.kind.as_str()
            )));
        }
    }
    Ok(())
}

/// Allowed record combinations: A, AAAA, A+AAAA, SRV, CNAME, each type once
/// (aws-behavior.md §3.2; SRV may come with A/AAAA, as ECS registers them).
fn validate_records(records: &[DnsRecord]) -> Result<(), RegistryError> {
    let count = |k: RecordKind| records.iter().filter(|r| r.kind == k).count();
    let kinds = [
        RecordKind::A,
        RecordKind::Aaaa,
        RecordKind::Srv,
        RecordKind::Cname,
    ];
    if records.is_empty() || kinds.iter().any(|k| count(*k) > 1) {
        return Err(RegistryError::InvalidInput(
            "DnsRecords must list each record type at most once, and at least one".into(),
        ));
    }
    if count(RecordKind::Cname) == 1 && records.len() > 1 {
        return Err(RegistryError::InvalidInput(
            "a CNAME record cannot be combined with other record types".into(),
        ));
    }
    Ok(())
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

fn service_view(namespace: &str, info: ServiceInfo) -> ServiceView {
    ServiceView {
        namespace: namespace.to_string(),
        name: info.name.clone(),
        config: config_of(&info),
        info,
        instances: Vec::new(),
        routable: Vec::new(),
        instances_revision: 0,
    }
}

/// The DNS server's and gateway's view of a service's settings.
fn config_of(info: &ServiceInfo) -> ServiceConfig {
    let records = info
        .dns
        .as_ref()
        .filter(|_| !info.http_only)
        .map(|d| d.records.as_slice());
    let records = records.unwrap_or_default();
    let has = |k: RecordKind| records.iter().any(|r| r.kind == k);
    ServiceConfig {
        srv: has(RecordKind::Srv),
        a: has(RecordKind::A),
        ttl: records.first().map(|r| r.ttl).unwrap_or_default(),
        custom_health: info.custom_health,
    }
}

fn spec_from_config(namespace_id: String, name: &str, config: &ServiceConfig) -> ServiceSpec {
    let mut records = Vec::new();
    if config.srv {
        records.push(DnsRecord {
            kind: RecordKind::Srv,
            ttl: config.ttl,
        });
    }
    if config.a {
        records.push(DnsRecord {
            kind: RecordKind::A,
            ttl: config.ttl,
        });
    }
    ServiceSpec {
        name: name.to_string(),
        namespace_id,
        description: None,
        dns: (!records.is_empty()).then_some(DnsConfig {
            routing_policy: RoutingPolicy::Multivalue,
            records,
        }),
        health_check: None,
        custom_health: config.custom_health.then_some(Some(1)),
        http_only: false,
        creator_request_id: None,
    }
}

/// `InstancesRevision` after a register or deregister: one more, and at least the wall
/// clock in milliseconds, so that it keeps growing across a restart (task instances are
/// registered again then, and clients compare revisions).
fn next_revision(current: u64) -> u64 {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    (current + 1).max(now)
}

fn operation<'a>(
    kind: OperationKind,
    targets: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Operation {
    let now = SystemTime::now();
    let tail: String = random_chars(8);
    Operation {
        id: format!("{}-{tail}", random_chars(32)),
        kind,
        status: OperationStatus::Success,
        error_message: None,
        error_code: None,
        created: now,
        updated: now,
        targets: targets
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn push_op(writes: &mut Vec<Write>, op: Operation) -> String {
    let id = op.id.clone();
    writes.push(Write::Operation(op));
    id
}

fn arn(options: &RegistryOptions, kind: &str, id: &str) -> String {
    format!(
        "arn:aws:servicediscovery:{}:{}:{kind}/{id}",
        options.region, options.account
    )
}

/// `prefix` and 16 random lower-case letters and digits, the shape of Cloud Map's ids.
fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", random_chars(16))
}

fn random_chars(n: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests;
