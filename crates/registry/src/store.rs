//! The durable store: one redb file holding namespaces, services, instances registered
//! through the API, and operations, as JSON records keyed by id.
//!
//! Every change is one write transaction, committed (and so fsynced: redb's default
//! durability) before the registry answers; a crash loses nothing acknowledged. Task
//! instances are never written: the scheduler registers them again from running tasks.
//!
//! Known limits: operations are kept forever (Cloud Map keeps them for a while, then
//! forgets them); the file is not compacted.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::model::RegistryError;
use crate::types::{HealthStatus, NamespaceInfo, Operation, ServiceInfo};

const NAMESPACES: TableDefinition<&str, &[u8]> = TableDefinition::new("namespaces");
const SERVICES: TableDefinition<&str, &[u8]> = TableDefinition::new("services");
/// Keyed `<service id>/<instance id>`.
const INSTANCES: TableDefinition<&str, &[u8]> = TableDefinition::new("instances");
const OPERATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("operations");

/// An instance registered through the API, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct InstanceRecord {
    pub service_id: String,
    pub id: String,
    pub attributes: std::collections::BTreeMap<String, String>,
    pub health: HealthStatus,
    /// A custom health change accepted but not yet applied (applied at load).
    pub pending_health: Option<HealthStatus>,
    pub creator_request_id: Option<String>,
}

/// One write of a change.
#[derive(Debug, Clone)]
pub(crate) enum Write {
    Namespace(NamespaceInfo),
    DeleteNamespace(String),
    Service(ServiceInfo),
    DeleteService(String),
    Instance(InstanceRecord),
    DeleteInstance { service_id: String, id: String },
    Operation(Operation),
}

/// Everything in the store, as read at startup.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub namespaces: Vec<NamespaceInfo>,
    pub services: Vec<ServiceInfo>,
    pub instances: Vec<InstanceRecord>,
    pub operations: Vec<Operation>,
}

/// The open store.
pub(crate) struct Store {
    db: Database,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and reads it whole.
    pub fn open(path: &Path) -> Result<(Store, Loaded), RegistryError> {
        let db = Database::create(path).map_err(store_error)?;
        // Create every table once, so that reads never meet a missing one.
        let txn = db.begin_write().map_err(store_error)?;
        for table in [NAMESPACES, SERVICES, INSTANCES, OPERATIONS] {
            txn.open_table(table).map_err(store_error)?;
        }
        txn.commit().map_err(store_error)?;

        let read = db.begin_read().map_err(store_error)?;
        let loaded = Loaded {
            namespaces: read_all(&read, NAMESPACES)?,
            services: read_all(&read, SERVICES)?,
            instances: read_all(&read, INSTANCES)?,
            operations: read_all(&read, OPERATIONS)?,
        };
        Ok((Store { db }, loaded))
    }

    /// Applies `writes` in one transaction and returns once it is durable.
    pub fn commit(&self, writes: &[Write]) -> Result<(), RegistryError> {
        if writes.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(store_error)?;
        for write in writes {
            match write {
                Write::Namespace(ns) => put(&txn, NAMESPACES, &ns.id, ns)?,
                Write::DeleteNamespace(id) => delete(&txn, NAMESPACES, id)?,
                Write::Service(svc) => put(&txn, SERVICES, &svc.id, svc)?,
                Write::DeleteService(id) => delete(&txn, SERVICES, id)?,
                Write::Instance(inst) => put(
                    &txn,
                    INSTANCES,
                    &instance_key(&inst.service_id, &inst.id),
                    inst,
                )?,
                Write::DeleteInstance { service_id, id } => {
                    delete(&txn, INSTANCES, &instance_key(service_id, id))?
                }
                Write::Operation(op) => put(&txn, OPERATIONS, &op.id, op)?,
            }
        }
        txn.commit().map_err(store_error)
    }
}

fn instance_key(service_id: &str, id: &str) -> String {
    format!("{service_id}/{id}")
}

fn put<T: Serialize>(
    txn: &redb::WriteTransaction,
    table: TableDefinition<&str, &[u8]>,
    key: &str,
    value: &T,
) -> Result<(), RegistryError> {
    let bytes = serde_json::to_vec(value).map_err(store_error)?;
    let mut table = txn.open_table(table).map_err(store_error)?;
    table.insert(key, bytes.as_slice()).map_err(store_error)?;
    Ok(())
}

fn delete(
    txn: &redb::WriteTransaction,
    table: TableDefinition<&str, &[u8]>,
    key: &str,
) -> Result<(), RegistryError> {
    let mut table = txn.open_table(table).map_err(store_error)?;
    table.remove(key).map_err(store_error)?;
    Ok(())
}

fn read_all<T: for<'de> Deserialize<'de>>(
    read: &redb::ReadTransaction,
    table: TableDefinition<&str, &[u8]>,
) -> Result<Vec<T>, RegistryError> {
    let table = read.open_table(table).map_err(store_error)?;
    let mut out = Vec::new();
    for entry in table.iter().map_err(store_error)? {
        let (_, value) = entry.map_err(store_error)?;
        out.push(serde_json::from_slice(value.value()).map_err(store_error)?);
    }
    Ok(out)
}

fn store_error(e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Store(e.to_string())
}
