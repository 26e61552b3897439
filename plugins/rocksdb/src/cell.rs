//! A transaction's state, shared with its cursors: the RocksDB transaction (or a reader's
//! snapshot) together with the engine it borrows, and the read options that pin its view.

use std::sync::{Arc, Mutex, MutexGuard};

use kgdb_plugin_api::sdk::locks;
use kgdb_plugin_api::{ErrorCode, PluginError};
use rocksdb::{ReadOptions, Transaction};
use self_cell::self_cell;

use crate::engine::{Db, Engine};

/// A RocksDB transaction (none for a reader) with the read options that pin its snapshot.
pub struct TxnParts<'a> {
    pub(crate) read: ReadOptions,
    pub(crate) txn: Option<Transaction<'a, Db>>,
    /// A reader's snapshot on a writing instance (a writer's belongs to its transaction; a
    /// read-only instance needs none).
    pub(crate) snapshot: Option<rocksdb::SnapshotWithThreadMode<'a, Db>>,
}

impl<'a> TxnParts<'a> {
    /// The transaction that writes.
    pub(crate) fn writer(&self) -> Result<&Transaction<'a, Db>, PluginError> {
        self.txn.as_ref().ok_or_else(|| {
            PluginError::new(ErrorCode::READ_ONLY, "write in a read-only transaction")
        })
    }
}

self_cell!(
    /// A transaction together with the engine it borrows.
    pub struct TxnCell {
        owner: Arc<Engine>,
        #[covariant]
        dependent: TxnParts,
    }
);

/// Locks a transaction's cell.
pub(crate) fn lock(
    cell: &Mutex<Option<TxnCell>>,
) -> Result<MutexGuard<'_, Option<TxnCell>>, PluginError> {
    locks::lock(cell, "transaction")
}

/// The error of a call on an ended transaction.
pub(crate) fn ended() -> PluginError {
    PluginError::closed("the transaction has already ended")
}
