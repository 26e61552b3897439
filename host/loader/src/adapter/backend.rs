//! An open backend instance.

use std::path::Path;
use std::sync::Arc;

use abi_stable::std_types::{ROption, RSlice, RStr};
use kgdb_plugin_api::abi::{BackendBox, CacheBudgetV1Ref};
use kgdb_plugin_api::{
    Capabilities, SortedRun, TableId, TxnOptions, WriteBatch, WriteLimits, WriteOptions,
};

use super::meter::Meter;
use super::{result, BackendTxn};
use crate::error::BackendError;
use crate::stats::{Collector, Op};

/// An engine-native statistic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatEntry {
    /// The engine's name for it.
    pub name: String,
    /// Its value.
    pub value: u64,
    /// Its unit, or empty.
    pub unit: String,
}

/// An open backend instance. Shareable between threads; closed when dropped. Every call through
/// it, its transactions and cursors is counted by its [`Collector`].
pub struct Backend {
    inner: BackendBox,
    collector: Arc<Collector>,
    /// The plugin's `kgdb.cache-budget.v1` extension, when it offers one.
    cache_budget: Option<CacheBudgetV1Ref>,
    /// What one commit may carry, as the plugin answered `kgdb.write-limits.v1` at open.
    write_limits: Option<WriteLimits>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("capabilities", &self.capabilities())
            .finish()
    }
}

impl Backend {
    pub(super) fn new(
        inner: BackendBox,
        collector: Arc<Collector>,
        cache_budget: Option<CacheBudgetV1Ref>,
        write_limits: Option<WriteLimits>,
    ) -> Self {
        Self {
            inner,
            collector,
            cache_budget,
            write_limits,
        }
    }

    /// The most one commit of this instance may carry, or `None` when commits are not bounded
    /// (the plugin does not offer `kgdb.write-limits.v1`, or answers none). A commit past them
    /// fails with `FULL` and writes nothing: split work into commits that fit.
    #[must_use]
    pub fn write_limits(&self) -> Option<WriteLimits> {
        self.write_limits
    }

    /// The capacity in bytes of the instance's own cache (RocksDB's block cache), or `None`
    /// when it has none the host can size (the plugin does not offer `kgdb.cache-budget.v1`,
    /// or answers `UNSUPPORTED`).
    ///
    /// # Errors
    /// Engine failures, a closed instance.
    pub fn cache_capacity(&self) -> Result<Option<u64>, BackendError> {
        let Some(module) = self.cache_budget else {
            return Ok(None);
        };
        unsupported_as_none(result((module.cache_capacity())(&self.inner)))
    }

    /// Sets the capacity of the instance's own cache to `bytes`, returning the capacity it had,
    /// or `None` (nothing changed) when it has none the host can size.
    ///
    /// # Errors
    /// Engine failures, a closed instance.
    pub fn set_cache_capacity(&self, bytes: u64) -> Result<Option<u64>, BackendError> {
        let Some(module) = self.cache_budget else {
            return Ok(None);
        };
        unsupported_as_none(result((module.set_cache_capacity())(&self.inner, bytes)))
    }

    /// What this instance can do.
    #[must_use]
    pub fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    /// The operation stats of this instance.
    #[must_use]
    pub fn collector(&self) -> &Arc<Collector> {
        &self.collector
    }

    /// Opens table `name`, creating it if `create`.
    ///
    /// # Errors
    /// `NOT_FOUND` when absent and not `create`; engine failures.
    pub fn open_table(&self, name: &str, create: bool) -> Result<TableId, BackendError> {
        let id = self.metered(Op::OpenTable, name.len(), || {
            result(self.inner.open_table(RStr::from_str(name), create))
        })?;
        self.collector.name_table(id.0, name);
        Ok(id)
    }

    /// Drops table `name`; `false` if it did not exist.
    ///
    /// # Errors
    /// Engine failures.
    pub fn drop_table(&self, name: &str) -> Result<bool, BackendError> {
        self.metered(Op::DropTable, name.len(), || {
            result(self.inner.drop_table(RStr::from_str(name)))
        })
    }

    /// Every table name, sorted.
    ///
    /// # Errors
    /// Engine failures.
    pub fn list_tables(&self) -> Result<Vec<String>, BackendError> {
        Ok(self
            .metered(Op::ListTables, 0, || result(self.inner.list_tables()))?
            .into_iter()
            .map(|name| name.into_string())
            .collect())
    }

    /// Starts a transaction.
    ///
    /// # Errors
    /// `UNSUPPORTED` without transactions; engine failures.
    pub fn begin(&self, options: TxnOptions) -> Result<BackendTxn, BackendError> {
        let inner = Meter::direct(&self.collector).measure(
            Op::Begin,
            None,
            0,
            || result(self.inner.begin(options)),
            |_| 0,
        )?;
        Ok(BackendTxn::new(
            inner,
            Arc::clone(&self.collector),
            options.read_only,
        ))
    }

    /// Applies a batch atomically outside transactions.
    ///
    /// # Errors
    /// `UNSUPPORTED` without `ATOMIC_BATCH`; engine failures.
    pub fn write_batch(
        &self,
        batch: &WriteBatch,
        options: WriteOptions,
    ) -> Result<(), BackendError> {
        Meter::direct(&self.collector).measure(
            Op::WriteBatch,
            None,
            batch.byte_len(),
            || result(self.inner.write_batch(batch, options)),
            |()| 0,
        )
    }

    /// Bulk-loads sorted runs.
    ///
    /// # Errors
    /// `UNSUPPORTED` without `BULK_INGEST`; `INVALID_ARGUMENT` for unsorted runs.
    pub fn ingest_sorted(
        &self,
        runs: &[SortedRun],
        options: WriteOptions,
    ) -> Result<(), BackendError> {
        Meter::direct(&self.collector).measure(
            Op::Ingest,
            None,
            runs.iter().map(|run| run.rows.byte_len()).sum(),
            || result(self.inner.ingest_sorted(RSlice::from_slice(runs), options)),
            |()| 0,
        )
    }

    /// Writes buffered data to stable storage.
    ///
    /// # Errors
    /// `UNSUPPORTED` without `FLUSH`.
    pub fn flush(&self) -> Result<(), BackendError> {
        self.metered(Op::Flush, 0, || result(self.inner.flush()))
    }

    /// Compacts one table or all.
    ///
    /// # Errors
    /// `UNSUPPORTED` without `COMPACT`.
    pub fn compact(&self, table: Option<TableId>) -> Result<(), BackendError> {
        Meter::direct(&self.collector).measure(
            Op::Compact,
            table,
            0,
            || result(self.inner.compact(ROption::from(table))),
            |()| 0,
        )
    }

    /// Writes a consistent copy into the new directory `dir`.
    ///
    /// # Errors
    /// `UNSUPPORTED` without `CHECKPOINT`.
    pub fn checkpoint(&self, dir: &Path) -> Result<(), BackendError> {
        let dir = dir.to_string_lossy();
        self.metered(Op::Checkpoint, dir.len(), || {
            result(self.inner.checkpoint(RStr::from_str(&dir)))
        })
    }

    /// Engine-native statistics.
    ///
    /// # Errors
    /// `UNSUPPORTED` without `NATIVE_STATS`.
    pub fn stats(&self) -> Result<Vec<StatEntry>, BackendError> {
        Ok(self
            .metered(Op::Stats, 0, || result(self.inner.stats()))?
            .into_iter()
            .map(|stat| StatEntry {
                name: stat.name.into_string(),
                value: stat.value,
                unit: stat.unit.into_string(),
            })
            .collect())
    }

    /// Flushes and closes; every later call answers `CLOSED`.
    ///
    /// # Errors
    /// Engine failures while flushing.
    pub fn close(&self) -> Result<(), BackendError> {
        self.metered(Op::Close, 0, || result(self.inner.close()))
    }

    /// Runs a backend-level `call` as one `op` with `bytes_in` bytes sent (nothing measured
    /// out: what these calls return is not data).
    fn metered<T>(
        &self,
        op: Op,
        bytes_in: usize,
        call: impl FnOnce() -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        Meter::direct(&self.collector).measure(op, None, bytes_in, call, |_| 0)
    }
}

/// `UNSUPPORTED` as `None`.
fn unsupported_as_none<T>(answer: Result<T, BackendError>) -> Result<Option<T>, BackendError> {
    match answer {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.code == kgdb_plugin_api::ErrorCode::UNSUPPORTED => Ok(None),
        Err(error) => Err(error),
    }
}
