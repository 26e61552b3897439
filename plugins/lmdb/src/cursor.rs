//! Cursors: each batch re-seeks from the remaining range ([`RangeScan`]), so a cursor holds no
//! LMDB cursor between batches and its memory does not grow with the range.

use std::sync::{Arc, Mutex};

use kgdb_plugin_api::sdk::{RangeScan, StorageCursor};
use kgdb_plugin_api::{KvBatch, PluginError, TableId};

use crate::shared::{lock, read_batch, Shared, Snapshot};
use crate::writer::Link;

/// A cursor over a read snapshot or over the writer's transaction.
pub enum LmdbCursor {
    /// Over a read snapshot.
    Read {
        /// The snapshot of the transaction.
        snapshot: Arc<Mutex<Snapshot>>,
        /// The backend.
        shared: Arc<Shared>,
        /// The table.
        table: TableId,
        /// What is left to read.
        scan: RangeScan,
    },
    /// Over the writer's transaction (sees its uncommitted writes).
    Write {
        /// The channel to the writer thread.
        link: Link,
        /// The table.
        table: TableId,
        /// What is left to read.
        scan: RangeScan,
    },
}

impl StorageCursor for LmdbCursor {
    fn next_batch(
        &mut self,
        max_rows: u32,
        max_bytes: u64,
        out: &mut KvBatch,
    ) -> Result<(), PluginError> {
        match self {
            Self::Read {
                snapshot,
                shared,
                table,
                scan,
            } => scan.next_batch(out, |range, out| {
                let snapshot = lock(snapshot)?;
                read_batch(
                    shared.db(*table)?,
                    &snapshot.rtxn,
                    range,
                    max_rows,
                    max_bytes,
                    out,
                )?;
                Ok(false)
            }),
            Self::Write { link, table, scan } => scan.next_batch(out, |range, out| {
                *out = link.scan(*table, range.clone(), max_rows, max_bytes)?;
                Ok(false)
            }),
        }
    }
}
