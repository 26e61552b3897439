//! The safe SDK for backend authors: implement [`Plugin`], [`StorageBackend`], [`StorageTxn`]
//! and [`StorageCursor`] in plain Rust, then call [`export_plugin!`](crate::export_plugin) once.
//!
//! ```ignore
//! struct MyPlugin;
//! impl kgdb_plugin_api::sdk::Plugin for MyPlugin { /* … */ }
//! kgdb_plugin_api::export_plugin!(MyPlugin);
//! ```
//!
//! The generated glue checks what the contract requires before your code runs (closed
//! instances, finished transactions, clear capability bits, size limits, read-only
//! transactions) and catches every panic.

mod adapter;
mod config;
mod data_dir;
mod disk;
mod export;
pub mod locks;
mod log;
mod scan;
mod tables;

use std::path::{Path, PathBuf};

pub use bytesize::ByteSize;
/// serde, re-exported so a plugin can derive its config type without its own dependency:
/// `#[derive(Deserialize)] #[serde(crate = "kgdb_plugin_api::sdk::serde", deny_unknown_fields)]`.
pub use serde;

#[doc(hidden)]
pub use adapter::root_module as __root_module;
pub use config::{config_default, parse_config};
pub use data_dir::{Claim, DataDir, Sharing, FORMAT_FILE, LOCK_FILE};
pub use disk::{free_bytes, or_disk_full, LOW_SPACE_BYTES};
pub use log::Logger;
pub use scan::RangeScan;
pub use tables::{no_table_named, unknown_table, TableRegistry};

use crate::{
    Capabilities, KvBatch, NativeStat, PluginError, ScanSpec, SortedRun, TableId, TxnOptions,
    WriteBatch, WriteOptions,
};

/// Result type of every SDK method.
pub type Result<T, E = PluginError> = std::result::Result<T, E>;

/// A documented configuration key, listed by `kgdb-host plugins info`.
#[derive(Clone, Copy, Debug)]
pub struct ConfigKeyDoc {
    /// The key.
    pub name: &'static str,
    /// Its type in words.
    pub kind: &'static str,
    /// Default value as TOML text, or `""`.
    pub default: &'static str,
    /// What it does.
    pub doc: &'static str,
}

/// What a plugin says about itself.
#[derive(Clone, Copy, Debug)]
pub struct PluginDescription {
    /// Short unique name.
    pub name: &'static str,
    /// The plugin's version, usually `env!("CARGO_PKG_VERSION")`.
    pub version: &'static str,
    /// One line.
    pub description: &'static str,
    /// What every instance can do at most.
    pub capabilities: Capabilities,
    /// Accepted configuration keys.
    pub config_keys: &'static [ConfigKeyDoc],
}

/// Options handed to [`Plugin::open`].
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// The data directory, if the host gave one.
    pub data_dir: Option<PathBuf>,
    /// The `[plugin.config]` table as TOML text.
    pub config: String,
    /// Open without writing anything.
    pub read_only: bool,
    /// Create the data directory and files when missing.
    pub create: bool,
    /// Carries logs to the host.
    pub logger: Logger,
}

/// The plugin itself: the three entry points of the root module.
pub trait Plugin: 'static {
    /// The backend type `open` returns.
    type Backend: StorageBackend;

    /// Name, version, capabilities and config keys.
    fn describe() -> PluginDescription;

    /// Checks a config table without opening anything.
    ///
    /// # Errors
    /// `INVALID_CONFIG` with the key path (see [`parse_config`]).
    fn validate_config(config: &str) -> Result<()>;

    /// Opens an instance.
    ///
    /// # Errors
    /// Whatever stops the instance from opening, with the matching code.
    fn open(options: OpenOptions) -> Result<Self::Backend>;

    /// A config that makes an instance small enough to fill (see
    /// [`TestConfigsV1`](crate::abi::TestConfigsV1)). Returning one offers the
    /// `kgdb.test-configs.v1` extension; `None` (the default) offers nothing, like a plugin
    /// built before the extension existed.
    fn full_config_for_tests() -> Option<&'static str> {
        None
    }

    /// Any other extension interface by id; none by default.
    fn extension(_id: &str) -> Option<crate::Extension> {
        None
    }
}

/// One open backend instance.
pub trait StorageBackend: Send + Sync + 'static {
    /// The transaction type.
    type Txn: StorageTxn;

    /// What this instance can do; must be a subset of the plugin's declared capabilities.
    fn capabilities(&self) -> Capabilities;

    /// Opens (or creates) a table by name.
    ///
    /// # Errors
    /// `NOT_FOUND` when absent and `create` is false.
    fn open_table(&self, name: &str, create: bool) -> Result<TableId>;

    /// Drops a table; `false` if it did not exist.
    ///
    /// # Errors
    /// Engine failures.
    fn drop_table(&self, name: &str) -> Result<bool>;

    /// Table names, sorted.
    ///
    /// # Errors
    /// Engine failures.
    fn list_tables(&self) -> Result<Vec<String>>;

    /// Starts a transaction.
    ///
    /// # Errors
    /// Engine failures.
    fn begin(&self, options: TxnOptions) -> Result<Self::Txn>;

    /// Atomic batch outside transactions (`ATOMIC_BATCH`).
    ///
    /// # Errors
    /// `UNSUPPORTED` unless implemented.
    fn write_batch(&self, _batch: &WriteBatch, _options: WriteOptions) -> Result<()> {
        Err(PluginError::unsupported("write_batch"))
    }

    /// Bulk ingest of sorted runs (`BULK_INGEST`).
    ///
    /// # Errors
    /// `UNSUPPORTED` unless implemented.
    fn ingest_sorted(&self, _runs: &[SortedRun], _options: WriteOptions) -> Result<()> {
        Err(PluginError::unsupported("ingest_sorted"))
    }

    /// Flush to stable storage (`FLUSH`).
    ///
    /// # Errors
    /// `UNSUPPORTED` unless implemented.
    fn flush(&self) -> Result<()> {
        Err(PluginError::unsupported("flush"))
    }

    /// Compaction (`COMPACT`).
    ///
    /// # Errors
    /// `UNSUPPORTED` unless implemented.
    fn compact(&self, _table: Option<TableId>) -> Result<()> {
        Err(PluginError::unsupported("compact"))
    }

    /// Consistent copy into a new directory (`CHECKPOINT`).
    ///
    /// # Errors
    /// `UNSUPPORTED` unless implemented.
    fn checkpoint(&self, _dir: &Path) -> Result<()> {
        Err(PluginError::unsupported("checkpoint"))
    }

    /// Native statistics (`NATIVE_STATS`).
    ///
    /// # Errors
    /// `UNSUPPORTED` unless implemented.
    fn stats(&self) -> Result<Vec<NativeStat>> {
        Err(PluginError::unsupported("stats"))
    }

    /// The capacity in bytes of the instance's own cache (the `kgdb.cache-budget.v1`
    /// extension, which the SDK offers for every plugin).
    ///
    /// # Errors
    /// `UNSUPPORTED` (the default) when the instance has no cache of its own to size.
    fn cache_capacity(&self) -> Result<u64> {
        Err(PluginError::unsupported("sizing a cache"))
    }

    /// Sets the capacity of the instance's own cache to `bytes`, returning the capacity it had
    /// (the host raises it for the length of a large load, then sets it back). Must not change
    /// anything stored.
    ///
    /// # Errors
    /// `UNSUPPORTED` (the default) when the instance has no cache of its own to size.
    fn set_cache_capacity(&self, _bytes: u64) -> Result<u64> {
        Err(PluginError::unsupported("sizing a cache"))
    }

    /// The most one commit of this instance may carry (the `kgdb.write-limits.v1` extension,
    /// which the SDK offers for every plugin); `None` (the default) when commits are not
    /// bounded. A commit past these limits must fail with `FULL` before writing anything.
    fn write_limits(&self) -> Option<crate::WriteLimits> {
        None
    }

    /// Flushes and releases resources. Called at most once; later calls are refused by the SDK.
    ///
    /// # Errors
    /// Engine failures while flushing.
    fn close(&self) -> Result<()>;
}

/// A transaction. Dropping it must roll it back.
pub trait StorageTxn: Send + 'static {
    /// The cursor type.
    type Cursor: StorageCursor;

    /// Point read.
    ///
    /// # Errors
    /// Engine failures; `NOT_FOUND` for an unknown table.
    fn get(&self, table: TableId, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Many point reads of one table; the default calls [`StorageTxn::get`] for each key.
    ///
    /// # Errors
    /// As `get`.
    fn get_many(&self, table: TableId, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        keys.iter().map(|key| self.get(table, key)).collect()
    }

    /// A cursor over a range; the range's bounds are already validated.
    ///
    /// # Errors
    /// Engine failures; `NOT_FOUND` for an unknown table.
    fn scan(&self, table: TableId, range: ScanSpec) -> Result<Self::Cursor>;

    /// Insert or overwrite (sizes already checked against the capabilities). By default a
    /// one-operation [`StorageTxn::write_batch`]; override it where one write is cheaper.
    ///
    /// # Errors
    /// Engine failures.
    fn put(&mut self, table: TableId, key: &[u8], value: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.put(table, key, value);
        self.write_batch(&batch)
    }

    /// Remove one key. By default a one-operation [`StorageTxn::write_batch`].
    ///
    /// # Errors
    /// Engine failures.
    fn delete(&mut self, table: TableId, key: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.delete(table, key);
        self.write_batch(&batch)
    }

    /// Remove `[start, end)` (`DELETE_RANGE`).
    ///
    /// # Errors
    /// `UNSUPPORTED` unless implemented.
    fn delete_range(&mut self, _table: TableId, _start: &[u8], _end: &[u8]) -> Result<()> {
        Err(PluginError::unsupported("delete_range"))
    }

    /// Apply every operation of `batch`, all or none (sizes already checked).
    ///
    /// # Errors
    /// Engine failures; on error no operation of the batch may remain applied.
    fn write_batch(&mut self, batch: &WriteBatch) -> Result<()>;

    /// Commit. The SDK refuses every call on this transaction afterwards, even if this fails.
    ///
    /// # Errors
    /// `CONFLICT` (retryable) on a write-write conflict; engine failures.
    fn commit(&mut self) -> Result<()>;

    /// Roll back. The SDK refuses every call on this transaction afterwards.
    ///
    /// # Errors
    /// Engine failures.
    fn rollback(&mut self) -> Result<()>;
}

/// A scan cursor.
pub trait StorageCursor: Send + 'static {
    /// Fill `out` (already cleared) with the next rows, following the contract of
    /// [`crate::abi::Cursor::next_batch`]; leave it empty at the end.
    ///
    /// # Errors
    /// Engine failures.
    fn next_batch(&mut self, max_rows: u32, max_bytes: u64, out: &mut KvBatch) -> Result<()>;
}
