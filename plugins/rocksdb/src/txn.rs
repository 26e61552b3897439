//! Transactions: an optimistic transaction with its snapshot (writers), a bare snapshot
//! (readers of a writing instance), or nothing to pin (a read-only instance).

use std::sync::{Arc, Mutex};

use kgdb_plugin_api::sdk::StorageTxn;
use kgdb_plugin_api::{BatchEntry, PluginError, ScanSpec, TableId, WriteBatch};

use crate::cell::{ended, lock, TxnCell, TxnParts};
use crate::cursor::RocksCursor;
use crate::engine::{range_read_options, with_db, Engine, Families};
use crate::error::rocks_error;

/// A transaction, shared with its cursors.
pub struct RocksTxn {
    cell: Arc<Mutex<Option<TxnCell>>>,
    read_only: bool,
}

impl RocksTxn {
    pub(crate) fn new(cell: Arc<Mutex<Option<TxnCell>>>, read_only: bool) -> Self {
        Self { cell, read_only }
    }

    fn with<T>(
        &self,
        body: impl FnOnce(&Engine, &TxnParts<'_>) -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        let guard = lock(&self.cell)?;
        let cell = guard.as_ref().ok_or_else(ended)?;
        cell.with_dependent(|engine, parts| body(engine, parts))
    }

    fn apply(
        families: &mut Families<'_>,
        parts: &TxnParts<'_>,
        entry: BatchEntry<'_>,
    ) -> Result<(), PluginError> {
        let txn = parts.writer()?;
        match entry {
            BatchEntry::Put { table, key, value } => txn
                .put_cf(families.get(table)?, key, value)
                .map_err(|e| rocks_error("writing", &e)),
            BatchEntry::Delete { table, key } => txn
                .delete_cf(families.get(table)?, key)
                .map_err(|e| rocks_error("deleting", &e)),
            BatchEntry::DeleteRange { table, start, end } => {
                if start >= end {
                    return Ok(());
                }
                let family = Arc::clone(families.get(table)?);
                let mut read = range_read_options(start, end);
                read.set_snapshot(&txn.snapshot());
                let iterator = txn.raw_iterator_cf_opt(&family, read);
                for key in families.engine.keys_in_range(iterator, start)? {
                    txn.delete_cf(&family, key)
                        .map_err(|e| rocks_error("deleting a range", &e))?;
                }
                Ok(())
            }
        }
    }
}

impl StorageTxn for RocksTxn {
    type Cursor = RocksCursor;

    fn get(&self, table: TableId, key: &[u8]) -> Result<Option<Vec<u8>>, PluginError> {
        self.with(|engine, parts| {
            let family = engine.family(table)?;
            match &parts.txn {
                Some(txn) => txn.get_pinned_cf_opt(&family, key, &parts.read),
                None => with_db!(&engine.db, db => db.get_pinned_cf_opt(&family, key, &parts.read)),
            }
            .map(|value| value.map(|v| v.to_vec()))
            .map_err(|e| rocks_error("reading", &e))
        })
    }

    fn get_many(
        &self,
        table: TableId,
        keys: &[&[u8]],
    ) -> Result<Vec<Option<Vec<u8>>>, PluginError> {
        self.with(|engine, parts| {
            let family = engine.family(table)?;
            let keys = keys.iter().map(|key| (&family, *key));
            match &parts.txn {
                Some(txn) => txn.multi_get_cf_opt(keys, &parts.read),
                None => with_db!(&engine.db, db => db.multi_get_cf_opt(keys, &parts.read)),
            }
            .into_iter()
            .map(|value| value.map_err(|e| rocks_error("reading", &e)))
            .collect()
        })
    }

    fn scan(&self, table: TableId, range: ScanSpec) -> Result<RocksCursor, PluginError> {
        self.with(|engine, _| engine.family(table).map(drop))?;
        Ok(RocksCursor::new(Arc::clone(&self.cell), table, range))
    }

    fn put(&mut self, table: TableId, key: &[u8], value: &[u8]) -> Result<(), PluginError> {
        self.with(|engine, parts| {
            Self::apply(
                &mut Families::new(engine),
                parts,
                BatchEntry::Put { table, key, value },
            )
        })
    }

    fn delete(&mut self, table: TableId, key: &[u8]) -> Result<(), PluginError> {
        self.with(|engine, parts| {
            Self::apply(
                &mut Families::new(engine),
                parts,
                BatchEntry::Delete { table, key },
            )
        })
    }

    fn delete_range(
        &mut self,
        table: TableId,
        start: &[u8],
        end: &[u8],
    ) -> Result<(), PluginError> {
        self.with(|engine, parts| {
            Self::apply(
                &mut Families::new(engine),
                parts,
                BatchEntry::DeleteRange { table, start, end },
            )
        })
    }

    fn write_batch(&mut self, batch: &WriteBatch) -> Result<(), PluginError> {
        self.with(|engine, parts| {
            let mut families = Families::new(engine);
            let txn = parts.writer()?;
            txn.set_savepoint();
            let applied = batch
                .iter()
                .try_for_each(|entry| Self::apply(&mut families, parts, entry?));
            if applied.is_err() {
                txn.rollback_to_savepoint()
                    .map_err(|e| rocks_error("undoing a failed batch", &e))?;
            }
            applied
        })
    }

    fn commit(&mut self) -> Result<(), PluginError> {
        let mut cell = lock(&self.cell)?.take().ok_or_else(ended)?;
        if self.read_only {
            return Ok(());
        }
        cell.with_dependent_mut(|_, parts| match parts.txn.take() {
            Some(finished) => finished.commit().map_err(|e| rocks_error("committing", &e)),
            None => Ok(()),
        })
    }

    fn rollback(&mut self) -> Result<(), PluginError> {
        let cell = lock(&self.cell)?.take().ok_or_else(ended)?;
        cell.with_dependent(|_, parts| match &parts.txn {
            Some(txn) => txn.rollback().map_err(|e| rocks_error("rolling back", &e)),
            None => Ok(()),
        })
    }
}
