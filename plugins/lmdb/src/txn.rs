//! Transactions: a read snapshot usable from any thread, or a session on the writer thread.

use std::sync::{Arc, Mutex};

use kgdb_plugin_api::sdk::{RangeScan, StorageTxn};
use kgdb_plugin_api::{ErrorCode, PluginError, ScanSpec, TableId, WriteBatch};

use crate::cursor::LmdbCursor;
use crate::error::lmdb_error;
use crate::shared::{lock, Shared, Snapshot};
use crate::writer::Session;

/// A transaction: a read snapshot, or a session on the writer thread.
pub enum LmdbTxn {
    /// Read-only: an LMDB MVCC snapshot usable from any thread.
    Read {
        /// The snapshot, shared with this transaction's cursors. LMDB allows one thread at a
        /// time in a read transaction, hence the mutex.
        snapshot: Arc<Mutex<Snapshot>>,
        /// The backend.
        shared: Arc<Shared>,
    },
    /// Read-write: requests to the writer thread, which owns the LMDB write transaction.
    Write {
        /// The channel to the writer thread.
        session: Session,
        /// The backend.
        shared: Arc<Shared>,
    },
}

impl StorageTxn for LmdbTxn {
    type Cursor = LmdbCursor;

    fn get(&self, table: TableId, key: &[u8]) -> Result<Option<Vec<u8>>, PluginError> {
        match self {
            Self::Read { snapshot, shared } => {
                let snapshot = lock(snapshot)?;
                shared
                    .db(table)?
                    .get(&snapshot.rtxn, key)
                    .map(|value| value.map(<[u8]>::to_vec))
                    .map_err(|e| lmdb_error("reading", e))
            }
            Self::Write { session, .. } => session.get(table, key),
        }
    }

    fn get_many(
        &self,
        table: TableId,
        keys: &[&[u8]],
    ) -> Result<Vec<Option<Vec<u8>>>, PluginError> {
        match self {
            Self::Read { snapshot, shared } => {
                let snapshot = lock(snapshot)?;
                let db = shared.db(table)?;
                keys.iter()
                    .map(|key| {
                        db.get(&snapshot.rtxn, key)
                            .map(|value| value.map(<[u8]>::to_vec))
                            .map_err(|e| lmdb_error("reading", e))
                    })
                    .collect()
            }
            Self::Write { session, .. } => session.get_many(table, keys),
        }
    }

    fn scan(&self, table: TableId, range: ScanSpec) -> Result<LmdbCursor, PluginError> {
        match self {
            Self::Read { snapshot, shared } => {
                shared.db(table)?;
                Ok(LmdbCursor::Read {
                    snapshot: Arc::clone(snapshot),
                    shared: Arc::clone(shared),
                    table,
                    scan: RangeScan::new(range),
                })
            }
            Self::Write { session, .. } => Ok(LmdbCursor::Write {
                link: session.link(),
                table,
                scan: RangeScan::new(range),
            }),
        }
    }

    fn delete_range(
        &mut self,
        table: TableId,
        start: &[u8],
        end: &[u8],
    ) -> Result<(), PluginError> {
        let mut batch = WriteBatch::new();
        batch.delete_range(table, start, end);
        self.write_batch(&batch)
    }

    fn write_batch(&mut self, batch: &WriteBatch) -> Result<(), PluginError> {
        match self {
            Self::Read { .. } => Err(PluginError::new(
                ErrorCode::READ_ONLY,
                "write in a read-only transaction",
            )),
            Self::Write { session, shared } => {
                let registry = shared.registry()?;
                for entry in batch.iter() {
                    registry.get(entry?.table())?;
                }
                drop(registry);
                session.write(batch.clone())
            }
        }
    }

    fn commit(&mut self) -> Result<(), PluginError> {
        match self {
            Self::Read { .. } => Ok(()),
            Self::Write { session, .. } => session.commit(),
        }
    }

    fn rollback(&mut self) -> Result<(), PluginError> {
        match self {
            Self::Read { .. } => Ok(()),
            Self::Write { session, .. } => session.rollback(),
        }
    }
}
