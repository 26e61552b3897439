//! Transactions: an O(1) snapshot of every table plus the keys written, committed first
//! committer wins.

use std::sync::Arc;

use kgdb_plugin_api::sdk::StorageTxn;
use kgdb_plugin_api::{PluginError, ScanSpec, TableId, WriteBatch};

use crate::cursor::MemoryCursor;
use crate::state::{
    apply_batch, delete, delete_range, put, table_ref, Rows, Shared, Table, Tables, WriteSet,
};

/// A transaction: a snapshot of every table plus the keys it wrote.
pub struct MemoryTxn {
    shared: Arc<Shared>,
    start: u64,
    read_only: bool,
    /// Whether `start` is registered in `State::active` and must be released.
    registered: bool,
    /// The snapshot, with this transaction's writes applied.
    view: Tables,
    written: WriteSet,
}

impl MemoryTxn {
    /// A transaction that began at version `start` over `view`; a writer is registered in
    /// `State::active` by the caller.
    pub(crate) fn new(shared: Arc<Shared>, start: u64, read_only: bool, view: Tables) -> Self {
        Self {
            shared,
            start,
            read_only,
            registered: !read_only,
            view,
            written: WriteSet::new(),
        }
    }
}

impl MemoryTxn {
    /// Makes a table created after this transaction began visible to it, empty as of its
    /// snapshot.
    fn table_for_write(&mut self, table: TableId) -> Result<(), PluginError> {
        let index = table.0 as usize;
        if self.view.get(index).is_some_and(Option::is_some) {
            return Ok(());
        }
        let state = self.shared.lock()?;
        let current = state.live_table(table)?;
        let name = Arc::clone(&current.name);
        drop(state);
        if self.view.len() <= index {
            self.view.resize(index + 1, None);
        }
        self.view[index] = Some(Table {
            name,
            rows: Rows::new(),
        });
        Ok(())
    }

    fn release(&mut self) {
        if std::mem::take(&mut self.registered) {
            if let Ok(mut state) = self.shared.lock() {
                state.end_txn(self.start);
            }
        }
    }

    fn rows(&self, table: TableId) -> Result<Rows, PluginError> {
        match table_ref(&self.view, table) {
            Ok(table) => Ok(table.rows.clone()),
            // Created after the snapshot: empty as far as this transaction can see.
            Err(error) => {
                let state = self.shared.lock()?;
                state.live_table(table).map_err(|_| error)?;
                Ok(Rows::new())
            }
        }
    }
}

impl Drop for MemoryTxn {
    fn drop(&mut self) {
        self.release();
    }
}

impl StorageTxn for MemoryTxn {
    type Cursor = MemoryCursor;

    fn get(&self, table: TableId, key: &[u8]) -> Result<Option<Vec<u8>>, PluginError> {
        match table_ref(&self.view, table) {
            Ok(table) => Ok(table.rows.get(key).map(|value| value.to_vec())),
            Err(_) => self.rows(table).map(|_| None),
        }
    }

    fn scan(&self, table: TableId, range: ScanSpec) -> Result<MemoryCursor, PluginError> {
        Ok(MemoryCursor::new(self.rows(table)?, range))
    }

    fn put(&mut self, table: TableId, key: &[u8], value: &[u8]) -> Result<(), PluginError> {
        self.table_for_write(table)?;
        put(&mut self.view, &mut self.written, table, key, value)
    }

    fn delete(&mut self, table: TableId, key: &[u8]) -> Result<(), PluginError> {
        self.table_for_write(table)?;
        delete(&mut self.view, &mut self.written, table, key)
    }

    fn delete_range(
        &mut self,
        table: TableId,
        start: &[u8],
        end: &[u8],
    ) -> Result<(), PluginError> {
        self.table_for_write(table)?;
        delete_range(&mut self.view, &mut self.written, table, start, end)
    }

    fn write_batch(&mut self, batch: &WriteBatch) -> Result<(), PluginError> {
        for entry in batch.iter() {
            self.table_for_write(entry?.table())?;
        }
        // Apply to copies (O(1) each) so a failure leaves this transaction as it was.
        let mut view = self.view.clone();
        let mut written = self.written.clone();
        apply_batch(&mut view, &mut written, batch)?;
        self.view = view;
        self.written = written;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), PluginError> {
        if self.read_only {
            return Ok(());
        }
        let result = {
            let mut state = self.shared.lock()?;
            let result = state.commit(self.start, &self.written, &self.view, self.shared.limit);
            state.end_txn(self.start);
            result
        };
        self.registered = false;
        result
    }

    fn rollback(&mut self) -> Result<(), PluginError> {
        self.release();
        Ok(())
    }
}
