//! Cursors: each batch re-seeks from the remaining range ([`RangeScan`]) with a fresh
//! iterator, so a cursor holds no iterator between batches and its memory does not grow with
//! the range.

use std::ops::Bound;
use std::sync::{Arc, Mutex};

use kgdb_plugin_api::sdk::{RangeScan, StorageCursor};
use kgdb_plugin_api::{KvBatch, PluginError, ScanSpec, TableId};
use rocksdb::ReadOptions;

use crate::cell::{ended, lock, TxnCell, TxnParts};
use crate::engine::with_db;
use crate::error::rocks_error;

/// A cursor: it re-seeks from the last key at every batch, so it holds no iterator between
/// batches and its memory does not grow with the range.
pub struct RocksCursor {
    cell: Arc<Mutex<Option<TxnCell>>>,
    table: TableId,
    scan: RangeScan,
}

impl RocksCursor {
    pub(crate) fn new(cell: Arc<Mutex<Option<TxnCell>>>, table: TableId, range: ScanSpec) -> Self {
        Self {
            cell,
            table,
            scan: RangeScan::new(range),
        }
    }
}

/// Reads rows of `range` from a fresh `iterator` into `out` (within the limits); `true` when
/// the range ran out before the limits did.
fn fill<D: rocksdb::DBAccess>(
    mut iterator: rocksdb::DBRawIteratorWithThreadMode<'_, D>,
    range: &ScanSpec,
    max_rows: u32,
    max_bytes: u64,
    out: &mut KvBatch,
) -> Result<bool, PluginError> {
    if range.reverse {
        iterator.seek_to_last();
    } else {
        match range.start_bound() {
            Bound::Included(start) | Bound::Excluded(start) => iterator.seek(start),
            Bound::Unbounded => iterator.seek_to_first(),
        }
    }
    let excluded_start = match range.start_bound() {
        Bound::Excluded(start) => Some(start),
        _ => None,
    };
    let advance = |iterator: &mut rocksdb::DBRawIteratorWithThreadMode<'_, D>| {
        if range.reverse {
            iterator.prev();
        } else {
            iterator.next();
        }
    };
    let mut exhausted = true;
    while let (Some(key), Some(value)) = (iterator.key(), iterator.value()) {
        if excluded_start == Some(key) {
            advance(&mut iterator);
            continue;
        }
        if !out.push_within(key, value, max_rows, max_bytes)? {
            exhausted = false;
            break;
        }
        advance(&mut iterator);
    }
    iterator.status().map_err(|e| rocks_error("scanning", &e))?;
    Ok(exhausted)
}

impl StorageCursor for RocksCursor {
    fn next_batch(
        &mut self,
        max_rows: u32,
        max_bytes: u64,
        out: &mut KvBatch,
    ) -> Result<(), PluginError> {
        if self.scan.is_done() {
            return Ok(());
        }
        let guard = lock(&self.cell)?;
        let cell = guard.as_ref().ok_or_else(ended)?;
        let table = self.table;
        // A batch that stopped because the range ran out ends the scan: no empty batch (and
        // no seek) is needed to find that out.
        self.scan.next_batch(out, |range, out| {
            cell.with_dependent(|engine, parts| {
                let family = engine.family(table)?;
                let read = read_options(parts, range);
                // A reader iterates the database at its snapshot; a writer merges its own
                // writes.
                match &parts.txn {
                    Some(txn) => fill(
                        txn.raw_iterator_cf_opt(&family, read),
                        range,
                        max_rows,
                        max_bytes,
                        out,
                    ),
                    None => with_db!(&engine.db, db => fill(
                        db.raw_iterator_cf_opt(&family, read),
                        range,
                        max_rows,
                        max_bytes,
                        out,
                    )),
                }
            })
        })
    }
}

/// Read options for one batch of `range` in the transaction's view.
fn read_options(parts: &TxnParts<'_>, range: &ScanSpec) -> ReadOptions {
    let mut read = ReadOptions::default();
    match (&parts.txn, &parts.snapshot) {
        (Some(txn), _) => read.set_snapshot(&txn.snapshot()),
        (None, Some(snapshot)) => read.set_snapshot(snapshot),
        (None, None) => {}
    }
    if let Bound::Included(start) | Bound::Excluded(start) = range.start_bound() {
        read.set_iterate_lower_bound(start.to_vec());
    }
    match range.end_bound() {
        Bound::Excluded(end) => read.set_iterate_upper_bound(end.to_vec()),
        Bound::Included(end) => {
            // The smallest key after `end` is `end` followed by a zero byte.
            let mut after = end.to_vec();
            after.push(0);
            read.set_iterate_upper_bound(after);
        }
        Bound::Unbounded => {}
    }
    read
}
