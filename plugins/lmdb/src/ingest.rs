//! Bulk ingest of sorted runs: every run of one call in one LMDB write transaction (all or
//! none, `atomic-multi-ingest`), the map grown ahead from the runs' sizes, and LMDB's append
//! mode (`MDB_APPEND`) for a run whose keys all sort after the table's last key, so pages are
//! filled whole and the file stays dense. Other runs are plain puts in key order.
//!
//! No redo log: the runs are the log. A full map aborts the transaction, grows the map and
//! applies the runs again.

use heed::{PutFlags, RwTxn};
use kgdb_plugin_api::sdk::{or_disk_full, TableRegistry};
use kgdb_plugin_api::{PluginError, SortedRun};

use crate::shared::{Db, Shared};
use crate::writer::with_growth;

/// Bytes of B-tree the ingest of `bytes` of keys and values takes, about: pages written
/// in append mode are full, others half full on average, plus the branch pages.
fn pages_needed(bytes: u64) -> u64 {
    bytes.saturating_mul(2).saturating_add(1 << 20)
}

/// Ingests `runs` in one write transaction. Called on the writer thread, between write
/// transactions.
pub(crate) fn ingest(shared: &Shared, runs: &[SortedRun]) -> Result<(), PluginError> {
    let bytes: u64 = runs.iter().map(|run| run.rows.byte_len() as u64).sum();
    let disk_full = |error| or_disk_full(error, shared.env.path());
    grow_ahead(shared, pages_needed(bytes)).map_err(disk_full)?;
    with_growth(shared, |txn| {
        let registry = shared
            .registry()
            .map_err(|e| heed::Error::Encoding(e.message.into_string().into()))?;
        for run in runs {
            apply_run(&registry, txn, run)?;
        }
        Ok(())
    })
    .map_err(disk_full)
}

/// Grows the map until `needed` bytes are free past the last page in use.
fn grow_ahead(shared: &Shared, needed: u64) -> Result<(), PluginError> {
    loop {
        let info = shared.env.info();
        let page = u64::from(shared.env.stat().page_size.max(4096));
        let used = (info.last_page_number as u64 + 1) * page;
        if (info.map_size as u64).saturating_sub(used) >= needed {
            return Ok(());
        }
        shared.grow_map()?;
    }
}

/// Puts one run's rows: appended when they all sort after the table's last key.
fn apply_run(
    registry: &TableRegistry<Db>,
    txn: &mut RwTxn<'_>,
    run: &SortedRun,
) -> Result<(), heed::Error> {
    let Some((first, _)) = run.rows.get(0) else {
        return Ok(());
    };
    let db = *registry
        .get(run.table)
        .map_err(|_| heed::Error::Mdb(heed::MdbError::BadDbi))?;
    let appends = match db.last(txn)? {
        None => true,
        Some((last, _)) => first > last,
    };
    for (key, value) in run.rows.iter() {
        if appends {
            db.put_with_flags(txn, PutFlags::APPEND, key, value)?;
        } else {
            db.put(txn, key, value)?;
        }
    }
    Ok(())
}
