//! The `Backend` trait object over a [`StorageBackend`].

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{ROption, RResult, RSlice, RStr, RString, RVec},
};

use super::super::StorageBackend;
use super::txn::TxnAdapter;
use super::*;
use crate::abi::{Backend, TxnBox, Txn_TO};
use crate::{
    Capabilities, NativeStat, PluginError, SortedRun, TableId, TxnOptions, WriteBatch, WriteOptions,
};

pub(super) struct BackendAdapter<B: StorageBackend> {
    pub(super) inner: Option<B>,
    pub(super) instance: Arc<Instance>,
}

impl<B: StorageBackend> BackendAdapter<B> {
    pub(super) fn inner(&self) -> Result<&B, PluginError> {
        self.inner
            .as_ref()
            .ok_or_else(|| PluginError::closed("the backend instance is closed"))
    }

    pub(super) fn run<T>(
        &self,
        operation: &str,
        body: impl FnOnce(&B) -> Result<T, PluginError>,
    ) -> RResult<T, PluginError> {
        guard(&self.instance, operation, || body(self.inner()?))
    }
}

impl<B: StorageBackend> Drop for BackendAdapter<B> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            if self.instance.check().is_ok() {
                let _ = guard(&self.instance, "close", || inner.close());
                self.instance.closed.store(true, Ordering::Release);
            }
            drop_quietly(&self.instance, "backend", inner);
        }
    }
}

impl<B: StorageBackend> Backend for BackendAdapter<B> {
    fn capabilities(&self) -> Capabilities {
        self.instance.capabilities
    }

    fn open_table(&self, name: RStr<'_>, create: bool) -> RResult<TableId, PluginError> {
        self.run("open_table", |b| {
            if name.is_empty() {
                return Err(
                    PluginError::invalid_argument("a table name cannot be empty").with_key("name"),
                );
            }
            b.open_table(name.as_str(), create)
        })
    }

    fn drop_table(&self, name: RStr<'_>) -> RResult<bool, PluginError> {
        self.run("drop_table", |b| b.drop_table(name.as_str()))
    }

    fn list_tables(&self) -> RResult<RVec<RString>, PluginError> {
        self.run("list_tables", |b| {
            Ok(b.list_tables()?.into_iter().map(RString::from).collect())
        })
    }

    fn begin(&self, options: TxnOptions) -> RResult<TxnBox, PluginError> {
        self.run("begin", |b| {
            self.instance
                .require(Capabilities::TRANSACTIONS, "transactions")?;
            self.instance.check_sync(options.sync)?;
            let txn = b.begin(options)?;
            let adapter = TxnAdapter {
                inner: Some(txn),
                read_only: options.read_only,
                finished: Arc::new(AtomicBool::new(false)),
                instance: Arc::clone(&self.instance),
            };
            Ok(Txn_TO::from_value(adapter, TD_Opaque))
        })
    }

    fn write_batch(&self, batch: &WriteBatch, options: WriteOptions) -> RResult<(), PluginError> {
        self.run("write_batch", |b| {
            self.instance
                .require(Capabilities::ATOMIC_BATCH, "write_batch")?;
            self.instance.check_sync(options.sync)?;
            self.instance.check_batch(batch)?;
            b.write_batch(batch, options)
        })
    }

    fn ingest_sorted(
        &self,
        runs: RSlice<'_, SortedRun>,
        options: WriteOptions,
    ) -> RResult<(), PluginError> {
        self.run("ingest_sorted", |b| {
            self.instance
                .require(Capabilities::BULK_INGEST, "ingest_sorted")?;
            self.instance.check_sync(options.sync)?;
            for run in runs.iter() {
                run.rows.check_sorted()?;
                for (key, value) in run.rows.iter() {
                    self.instance.check_sizes(key, Some(value))?;
                }
            }
            b.ingest_sorted(runs.as_slice(), options)
        })
    }

    fn flush(&self) -> RResult<(), PluginError> {
        self.run("flush", |b| {
            self.instance.require(Capabilities::FLUSH, "flush")?;
            b.flush()
        })
    }

    fn compact(&self, table: ROption<TableId>) -> RResult<(), PluginError> {
        self.run("compact", |b| {
            self.instance.require(Capabilities::COMPACT, "compact")?;
            b.compact(table.into_option())
        })
    }

    fn checkpoint(&self, dir: RStr<'_>) -> RResult<(), PluginError> {
        self.run("checkpoint", |b| {
            self.instance
                .require(Capabilities::CHECKPOINT, "checkpoint")?;
            b.checkpoint(Path::new(dir.as_str()))
        })
    }

    fn stats(&self) -> RResult<RVec<NativeStat>, PluginError> {
        self.run("stats", |b| {
            self.instance.require(Capabilities::NATIVE_STATS, "stats")?;
            Ok(RVec::from(b.stats()?))
        })
    }

    fn close(&self) -> RResult<(), PluginError> {
        self.run("close", |b| {
            let result = b.close();
            self.instance.closed.store(true, Ordering::Release);
            result
        })
    }
}
