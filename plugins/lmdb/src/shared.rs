//! What the backend, its transactions, cursors and writer thread share: the environment,
//! its tables, growing the map, read snapshots, and reading and writing batches of rows.

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use heed::types::Bytes;
use heed::{MdbError, RoTxn, WithoutTls};
use kgdb_plugin_api::sdk::{locks, Logger, TableRegistry};
use kgdb_plugin_api::{BatchEntry, ErrorCode, KvBatch, PluginError, ScanSpec, WriteBatch};

use crate::error::{is_map_resized, lmdb_error};
use crate::gate::{ReaderGate, ReaderToken, Remap};

/// A table: an LMDB named database of raw bytes.
pub(crate) type Db = heed::Database<Bytes, Bytes>;
/// The environment, with read transactions that are not tied to a thread.
pub(crate) type Env = heed::Env<WithoutTls>;

const TABLES: &str = "table registry";

/// The file LMDB keeps its pages in, inside the environment's directory.
pub(crate) const DATA_FILE: &str = "data.mdb";

/// Bytes of the pages LMDB's meta page counts as used: what the data file must hold.
pub(crate) fn used_bytes(env: &Env) -> u64 {
    let page_size = u64::from(env.stat().page_size);
    (env.info().last_page_number as u64 + 1).saturating_mul(page_size)
}

/// What the backend, its transactions, cursors and writer thread share.
pub struct Shared {
    pub(crate) env: Env,
    pub(crate) tables: RwLock<TableRegistry<Db>>,
    pub(crate) gate: Arc<ReaderGate>,
    pub(crate) max_map_size: Option<u64>,
    pub(crate) resize_wait: Duration,
    pub(crate) resizes: AtomicU64,
    pub(crate) logger: Logger,
    /// Opened read-only: another process may be the writer.
    pub(crate) read_only: bool,
    /// Set when growing the map failed and the old map could not be restored either: LMDB
    /// then holds no map at all, and any transaction would touch unmapped memory.
    pub(crate) map_lost: std::sync::OnceLock<String>,
}

impl Shared {
    /// Refuses every transaction once the map is lost (see `map_lost`).
    pub(crate) fn check_map(&self) -> Result<(), PluginError> {
        if let Some(cause) = self.map_lost.get() {
            return Err(PluginError::new(
                ErrorCode::IO,
                format!("the LMDB map is gone: remapping it failed ({cause}); close and reopen the store"),
            ));
        }
        Ok(())
    }

    /// Begins an LMDB write transaction, unless the map is lost.
    pub(crate) fn write_txn(&self, context: &str) -> Result<heed::RwTxn<'_>, PluginError> {
        self.check_map()?;
        self.env.write_txn().map_err(|e| lmdb_error(context, e))
    }

    pub(crate) fn registry(&self) -> Result<RwLockReadGuard<'_, TableRegistry<Db>>, PluginError> {
        locks::read(&self.tables, TABLES)
    }

    pub(crate) fn registry_mut(
        &self,
    ) -> Result<RwLockWriteGuard<'_, TableRegistry<Db>>, PluginError> {
        locks::write(&self.tables, TABLES)
    }

    /// The database of `table`.
    pub(crate) fn db(&self, table: kgdb_plugin_api::TableId) -> Result<Db, PluginError> {
        self.registry()?.get(table).copied()
    }

    /// Extends the data file, after a commit, to cover every page LMDB counts as used. A
    /// commit does not write the pages its transaction dirtied and then freed ("loose" pages,
    /// which go to the free list: `mdb_page_flush` skips them), so after a large delete the
    /// file can end before the meta page's last page, and the next open would take it for a
    /// truncated file. The pages added are free pages, read as zeros until LMDB reuses them.
    /// Best effort: the commit is durable already, and a file left short is reported by the
    /// next open as before.
    pub(crate) fn cover_used_pages(&self) {
        let needed = used_bytes(&self.env);
        let path = self.env.path().join(DATA_FILE);
        let short = std::fs::metadata(&path).is_ok_and(|meta| meta.len() < needed);
        if !short {
            return;
        }
        let extended = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_len(needed));
        if let Err(error) = extended {
            self.logger.warn(
                "kgdb_plugin_lmdb",
                format_args!(
                    "{}: could not extend the file over its free pages to {needed} bytes: {error}",
                    path.display()
                ),
            );
        }
    }

    /// Doubles the map (up to `max_map_size`). Called by the writer thread with no write
    /// transaction open.
    pub(crate) fn grow_map(&self) -> Result<(), PluginError> {
        let current = self.env.info().map_size as u64;
        let page = u64::from(self.env.stat().page_size.max(4096));
        let mut target = current.saturating_mul(2).div_ceil(page) * page;
        if let Some(max) = self.max_map_size {
            if current >= max {
                return Err(PluginError::new(
                    ErrorCode::FULL,
                    format!(
                        "the LMDB map is full at max_map_size ({} bytes); raise max_map_size",
                        max
                    ),
                ));
            }
            target = target.min(max / page * page).max(current + page);
        }
        let target = usize::try_from(target).map_err(|_| {
            PluginError::new(
                ErrorCode::FULL,
                "the LMDB map cannot grow past the address space",
            )
        })?;
        let remap = Remap {
            why: "the LMDB map is full and growing it",
            code: ErrorCode::FULL,
        };
        self.gate.exclusive(self.resize_wait, &remap, || {
            // SAFETY: LMDB may remap only while no transaction of this process is open. The
            // caller is the writer thread between write transactions (it aborted or committed
            // its own, and it is the only thread that writes), and `exclusive` holds every read
            // transaction of this process out. Other processes are only readers (`kgdb.lock`
            // keeps a second writer out); LMDB tells them to adopt the new size themselves.
            let outcome = unsafe { self.env.resize(target) };
            if let Err(error) = &outcome {
                // LMDB unmapped the old map before failing to map the new one, and a later
                // `resize` would only record a size without mapping anything: the environment
                // has no map until it is opened again.
                let _ = self
                    .map_lost
                    .set(format!("growing it to {target} bytes: {error}"));
            }
            outcome.map_err(|e| lmdb_error("growing the map", e))
        })?;
        self.resizes.fetch_add(1, Ordering::Relaxed);
        self.logger.info(
            "kgdb_plugin_lmdb",
            format_args!("LMDB map grew from {current} to {target} bytes"),
        );
        Ok(())
    }

    /// Adopts the map size another process grew the environment to (LMDB's
    /// `MDB_MAP_RESIZED`), once no read transaction of this process is open. Only a read-only
    /// instance meets this: the one writing process grows the map itself.
    fn adopt_map_size(&self) -> Result<(), PluginError> {
        if !self.read_only {
            return Err(PluginError::internal(
                "another process grew the LMDB map, but this process holds the writer lock",
            ));
        }
        let remap = Remap {
            why: "the store grew in another process, and adopting its new map size",
            code: ErrorCode::TIMED_OUT,
        };
        self.gate.exclusive(self.resize_wait, &remap, || {
            // SAFETY: LMDB may remap only while no transaction of this process is open: this
            // instance is read-only (no writer thread, no write transaction), and `exclusive`
            // holds every read transaction of this process out. A size of 0 adopts the size
            // the writing process recorded.
            let outcome = unsafe { self.env.resize(0) };
            if let Err(error) = &outcome {
                // As in `grow_map`: LMDB holds no map after a failed remap.
                let _ = self.map_lost.set(format!(
                    "adopting the size another process grew it to: {error}"
                ));
            }
            outcome.map_err(|e| lmdb_error("adopting the map size", e))
        })?;
        self.logger.debug(
            "kgdb_plugin_lmdb",
            format_args!(
                "adopted the map size {} another process grew to",
                self.env.info().map_size
            ),
        );
        Ok(())
    }
}

/// A read snapshot: an LMDB read transaction plus its slot in the reader gate.
pub struct Snapshot {
    // Field order matters: the transaction ends before the gate slot is released.
    pub(crate) rtxn: RoTxn<'static, WithoutTls>,
    _token: ReaderToken,
}

impl Snapshot {
    /// Begins a read transaction; when another process grew the map past this one's, adopts
    /// its size first.
    pub(crate) fn begin(shared: &Shared) -> Result<Self, PluginError> {
        let mut attempts = 0;
        loop {
            shared.check_map()?;
            let token = shared.gate.enter()?;
            match shared.env.clone().static_read_txn() {
                Ok(rtxn) => {
                    return Ok(Self {
                        rtxn,
                        _token: token,
                    })
                }
                Err(error) if is_map_resized(&error) && attempts < 3 => {
                    attempts += 1;
                    drop(token);
                    shared.adopt_map_size()?;
                }
                Err(error) => return Err(lmdb_error("beginning a read transaction", error)),
            }
        }
    }
}

/// Locks a read transaction's snapshot (LMDB allows one thread at a time in a read
/// transaction).
pub(crate) fn lock(snapshot: &Mutex<Snapshot>) -> Result<MutexGuard<'_, Snapshot>, PluginError> {
    locks::lock(snapshot, "read transaction")
}

impl Snapshot {
    /// Ends the transaction by committing it, which keeps the table handles it opened.
    pub(crate) fn commit(self) -> Result<(), PluginError> {
        let Self { rtxn, _token } = self;
        rtxn.commit()
            .map_err(|e| lmdb_error("ending a read transaction", e))
    }
}

/// Reads up to one batch of `range` from `db` as seen by `txn`.
pub(crate) fn read_batch(
    db: Db,
    txn: &RoTxn<'_, heed::AnyTls>,
    range: &ScanSpec,
    max_rows: u32,
    max_bytes: u64,
    out: &mut KvBatch,
) -> Result<(), PluginError> {
    // LMDB keys are never empty, and LMDB refuses an empty key even as a bound: an empty lower
    // bound is no bound, and an empty upper bound leaves nothing to read.
    let start = match range.start_bound() {
        Bound::Included([]) | Bound::Excluded([]) => Bound::Unbounded,
        other => other,
    };
    let end = range.end_bound();
    if range.is_empty() || matches!(end, Bound::Included([]) | Bound::Excluded([])) {
        return Ok(());
    }
    let bounds = (start, end);
    let scan_error = |e| lmdb_error("scanning", e);
    if range.reverse {
        for row in db.rev_range(txn, &bounds).map_err(scan_error)? {
            let (key, value) = row.map_err(scan_error)?;
            if !out.push_within(key, value, max_rows, max_bytes)? {
                break;
            }
        }
    } else {
        for row in db.range(txn, &bounds).map_err(scan_error)? {
            let (key, value) = row.map_err(scan_error)?;
            if !out.push_within(key, value, max_rows, max_bytes)? {
                break;
            }
        }
    }
    Ok(())
}

/// Applies `batch` inside `txn`; the caller restores the transaction on error.
pub(crate) fn apply_batch(
    registry: &TableRegistry<Db>,
    txn: &mut heed::RwTxn<'_>,
    batch: &WriteBatch,
) -> Result<(), heed::Error> {
    for entry in batch.iter() {
        let entry = entry.map_err(|e| heed::Error::Encoding(e.message.into_string().into()))?;
        let db = *registry
            .get(entry.table())
            .map_err(|_| heed::Error::Mdb(MdbError::BadDbi))?;
        match entry {
            BatchEntry::Put { key, value, .. } => db.put(txn, key, value)?,
            BatchEntry::Delete { key, .. } => {
                db.delete(txn, key)?;
            }
            BatchEntry::DeleteRange { start, end, .. } => {
                if start < end {
                    db.delete_range(txn, &(Bound::Included(start), Bound::Excluded(end)))?;
                }
            }
        }
    }
    Ok(())
}
