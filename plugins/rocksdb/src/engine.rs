//! The open database: a writing instance (optimistic transactions) or a read-only one, its
//! tables as column families, and what every call needs of it.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use kgdb_plugin_api::sdk::{locks, DataDir, Logger, TableRegistry};
use kgdb_plugin_api::{BatchEntry, ErrorCode, PluginError, SyncMode, TableId};
use rocksdb::{
    BoundColumnFamily, Cache, DBWithThreadMode, MultiThreaded, OptimisticTransactionDB, Options,
    ReadOptions,
};

use crate::error::rocks_error;

/// The writing instance's database.
pub(crate) type Db = OptimisticTransactionDB<MultiThreaded>;
/// A read-only instance's database.
pub(crate) type ReadOnlyDb = DBWithThreadMode<MultiThreaded>;

/// Column families of tables carry this prefix, so the `default` family is never a table.
pub(crate) const TABLE_PREFIX: &str = "t:";

const TABLES: &str = "table registry";

/// The database of an instance.
pub(crate) enum Handle {
    /// The writing instance: optimistic transactions, conflict detection.
    Primary(Db),
    /// A read-only instance: the data as it was when the instance opened (another process
    /// may be writing meanwhile); every file it needs is kept open.
    ReadOnly(ReadOnlyDb),
}

/// Runs `$body` with `$db` bound to the database of `$handle`, whichever kind it is.
macro_rules! with_db {
    ($handle:expr, $db:ident => $body:expr) => {
        match $handle {
            $crate::engine::Handle::Primary($db) => $body,
            $crate::engine::Handle::ReadOnly($db) => $body,
        }
    };
}
pub(crate) use with_db;

/// The open database and what it needs. Fields drop in order: the database closes before the
/// data directory's claim is released.
pub struct Engine {
    pub(crate) db: Handle,
    /// Table names, ids and column family names.
    pub(crate) tables: RwLock<TableRegistry<String>>,
    pub(crate) cache: Cache,
    /// The block cache's capacity in bytes (RocksDB's C API cannot read it back).
    pub(crate) cache_capacity: Mutex<u64>,
    pub(crate) cf_options: Options,
    pub(crate) sync_default: bool,
    pub(crate) path: PathBuf,
    pub(crate) ingest_sequence: AtomicU64,
    pub(crate) logger: Logger,
    pub(crate) _dir: DataDir,
}

impl Engine {
    pub(crate) fn registry(
        &self,
    ) -> Result<RwLockReadGuard<'_, TableRegistry<String>>, PluginError> {
        locks::read(&self.tables, TABLES)
    }

    pub(crate) fn registry_mut(
        &self,
    ) -> Result<RwLockWriteGuard<'_, TableRegistry<String>>, PluginError> {
        locks::write(&self.tables, TABLES)
    }

    /// The writing instance's database; `READ_ONLY` for a read-only instance.
    pub(crate) fn primary(&self) -> Result<&Db, PluginError> {
        match &self.db {
            Handle::Primary(db) => Ok(db),
            Handle::ReadOnly(_) => Err(PluginError::new(
                ErrorCode::READ_ONLY,
                format!("{} is open read-only", self.path.display()),
            )),
        }
    }

    /// The column family of `table`.
    pub(crate) fn family(&self, table: TableId) -> Result<Arc<BoundColumnFamily<'_>>, PluginError> {
        let name = self.registry()?.get(table)?.clone();
        with_db!(&self.db, db => db.cf_handle(&name))
            .ok_or_else(|| kgdb_plugin_api::sdk::unknown_table(table))
    }

    /// Whether a write with `mode` is synced.
    pub(crate) fn sync_for(&self, mode: SyncMode) -> bool {
        match mode {
            SyncMode::SYNC => true,
            SyncMode::NO_SYNC => false,
            _ => self.sync_default,
        }
    }

    /// Every key from `start` on that `iterator` (bounded by its read options) yields.
    pub(crate) fn keys_in_range<'a>(
        &'a self,
        mut iterator: rocksdb::DBRawIteratorWithThreadMode<'a, impl rocksdb::DBAccess>,
        start: &[u8],
    ) -> Result<Vec<Vec<u8>>, PluginError> {
        let mut keys = Vec::new();
        iterator.seek(start);
        while let Some(key) = iterator.key() {
            keys.push(key.to_vec());
            iterator.next();
        }
        iterator
            .status()
            .map_err(|e| rocks_error("scanning a range to delete", &e))?;
        Ok(keys)
    }
}

/// The (table, key) a batch entry writes first, for ordering a batch.
pub(crate) fn entry_position<'b>(entry: &BatchEntry<'b>) -> (u32, &'b [u8]) {
    match entry {
        BatchEntry::Put { table, key, .. } | BatchEntry::Delete { table, key } => (table.0, key),
        BatchEntry::DeleteRange { table, start, .. } => (table.0, start),
    }
}

/// Column family handles of one call, looked up once per table instead of once per write
/// (a store writes to a dozen tables at most: a short list beats a map).
pub(crate) struct Families<'e> {
    pub(crate) engine: &'e Engine,
    handles: Vec<(TableId, Arc<BoundColumnFamily<'e>>)>,
}

impl<'e> Families<'e> {
    pub(crate) fn new(engine: &'e Engine) -> Self {
        Self {
            engine,
            handles: Vec::new(),
        }
    }

    pub(crate) fn get(
        &mut self,
        table: TableId,
    ) -> Result<&Arc<BoundColumnFamily<'e>>, PluginError> {
        let index = match self.handles.iter().position(|(id, _)| *id == table) {
            Some(index) => index,
            None => {
                self.handles.push((table, self.engine.family(table)?));
                self.handles.len() - 1
            }
        };
        Ok(&self.handles[index].1)
    }
}

/// Read options bounding an iterator to `[start, end)`.
pub(crate) fn range_read_options(start: &[u8], end: &[u8]) -> ReadOptions {
    let mut read = ReadOptions::default();
    read.set_iterate_lower_bound(start.to_vec());
    read.set_iterate_upper_bound(end.to_vec());
    read
}
