//! The record a load leaves in the store: what it read and inserted, how long it took, the
//! size on disk after it, and every backend operation it made. [`load`](super::load) writes
//! it as a store note; `kgdb-host stats` shows it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::plugin::stats::OperationStats;
use crate::plugin::Capabilities;
use crate::store::{LoadSummary, Store, StoreError};

/// The store note the last load's record is kept under.
pub const LAST_LOAD_NOTE: &str = "last-load";

/// A load's figures, kept in the store by [`load`](super::load).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LastLoad {
    /// Statements read.
    pub read: u64,
    /// Quads that were new to the store.
    pub inserted: u64,
    /// Statements skipped (`--lenient`).
    pub skipped: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Statements read per second.
    pub quads_per_second: f64,
    /// Bytes in the data directory after the load, where the backend keeps files.
    pub bytes_on_disk: Option<u64>,
    /// Every backend operation of the load.
    pub operations: OperationStats,
}

/// The last load recorded in `store`, if any (a record this version cannot read counts as
/// none).
///
/// # Errors
/// Backend failures.
pub fn last_load(store: &Store) -> Result<Option<LastLoad>, StoreError> {
    Ok(store
        .note(LAST_LOAD_NOTE)?
        .and_then(|bytes| serde_json::from_slice::<LastLoad>(&bytes).ok()))
}

/// Builds the record of a committed load and keeps it in the store. Where the backend keeps
/// files in `data_dir`, it is flushed first so the size on disk is what the load left.
pub(super) fn record(
    store: &Store,
    summary: LoadSummary,
    skipped: u64,
    elapsed: std::time::Duration,
    data_dir: Option<&Path>,
) -> Result<LastLoad, StoreError> {
    let capabilities = store.backend().capabilities();
    let persistent = capabilities.has(Capabilities::PERSISTENT);
    let data_dir = data_dir.filter(|_| persistent);
    if data_dir.is_some() && capabilities.has(Capabilities::FLUSH) {
        store
            .backend()
            .flush()
            .map_err(|source| StoreError::Backend {
                context: "flushing after the load".into(),
                source,
            })?;
    }
    let seconds = elapsed.as_secs_f64();
    let record = LastLoad {
        read: summary.read,
        inserted: summary.inserted,
        skipped,
        seconds,
        quads_per_second: summary.read as f64 / seconds.max(1e-9),
        bytes_on_disk: data_dir.map(crate::disk::bytes_on_disk),
        operations: store.backend().collector().snapshot(),
    };
    let note = serde_json::to_vec(&record)
        .map_err(|e| StoreError::InvalidInput(format!("encoding the load's record: {e}")))?;
    store.set_note(LAST_LOAD_NOTE, &note)?;
    Ok(record)
}
