//! The environment, its tables, read snapshots and the reader gate that lets the map grow.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use heed::types::Bytes;
use heed::{EnvFlags, EnvOpenOptions, MdbError, RoTxn, WithoutTls};
use kgdb_plugin_api::sdk::{
    DataDir, Logger, OpenOptions, StorageBackend, StorageCursor, StorageTxn,
};
use kgdb_plugin_api::{
    BatchEntry, Capabilities, ErrorCode, KvBatch, NativeStat, PluginError, ScanSpec, SortedRun,
    TableId, TxnOptions, WriteBatch, WriteOptions,
};

use crate::writer::{Link, Session, Writer};
use crate::{LmdbConfig, CAPABILITIES, FORMAT_VERSION, MAX_KEY_SIZE, PLUGIN_NAME};

/// A table: an LMDB named database of raw bytes.
pub(crate) type Db = heed::Database<Bytes, Bytes>;
/// The environment, with read transactions that are not tied to a thread.
pub(crate) type Env = heed::Env<WithoutTls>;

/// Maps an LMDB error to a stable code, keeping LMDB's message.
pub(crate) fn lmdb_error(context: &str, error: heed::Error) -> PluginError {
    let code = match &error {
        heed::Error::Mdb(mdb) => match mdb {
            MdbError::MapFull
            | MdbError::DbsFull
            | MdbError::ReadersFull
            | MdbError::TxnFull
            | MdbError::PageFull => ErrorCode::FULL,
            MdbError::Corrupted
            | MdbError::PageNotFound
            | MdbError::VersionMismatch
            | MdbError::Invalid
            | MdbError::Panic => ErrorCode::CORRUPTION,
            MdbError::NotFound | MdbError::BadDbi => ErrorCode::NOT_FOUND,
            MdbError::BadValSize => ErrorCode::INVALID_ARGUMENT,
            MdbError::Incompatible => ErrorCode::INCOMPATIBLE,
            _ => ErrorCode::INTERNAL,
        },
        heed::Error::Io(io) => PluginError::from(std::io::Error::new(io.kind(), "")).code,
        heed::Error::EnvAlreadyOpened => ErrorCode::IN_USE,
        heed::Error::Encoding(_) | heed::Error::Decoding(_) => ErrorCode::INTERNAL,
    };
    let retryable = matches!(&error, heed::Error::Mdb(MdbError::ReadersFull));
    PluginError::new(code, format!("{context}: lmdb: {error}")).with_retryable(retryable)
}

pub(crate) fn is_map_full(error: &heed::Error) -> bool {
    matches!(error, heed::Error::Mdb(MdbError::MapFull))
}

/// Counts this process's open read transactions so the map can be resized when there are
/// none: LMDB may only remap while no transaction of the process is open.
#[derive(Default)]
pub(crate) struct ReaderGate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    readers: usize,
    resizing: bool,
}

/// Held by every open read transaction; releases its slot when dropped.
pub(crate) struct ReaderToken {
    gate: Arc<ReaderGate>,
}

impl Drop for ReaderToken {
    fn drop(&mut self) {
        if let Ok(mut state) = self.gate.state.lock() {
            state.readers -= 1;
        }
        self.gate.changed.notify_all();
    }
}

impl ReaderGate {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, GateState>, PluginError> {
        self.state
            .lock()
            .map_err(|_| PluginError::internal("the reader gate lock is poisoned"))
    }

    /// Registers a reader, waiting while the map is being resized.
    pub(crate) fn enter(self: &Arc<Self>) -> Result<ReaderToken, PluginError> {
        let mut state = self.lock()?;
        while state.resizing {
            state = self
                .changed
                .wait(state)
                .map_err(|_| PluginError::internal("the reader gate lock is poisoned"))?;
        }
        state.readers += 1;
        Ok(ReaderToken {
            gate: Arc::clone(self),
        })
    }

    /// Runs `resize` once no reader is open, holding new readers back meanwhile.
    pub(crate) fn exclusive<T>(
        &self,
        wait: Duration,
        resize: impl FnOnce() -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        let mut state = self.lock()?;
        state.resizing = true;
        let deadline = Instant::now() + wait;
        while state.readers > 0 {
            let now = Instant::now();
            if now >= deadline {
                let open = state.readers;
                state.resizing = false;
                drop(state);
                self.changed.notify_all();
                return Err(PluginError::new(
                    ErrorCode::FULL,
                    format!(
                        "the LMDB map is full and cannot grow while {open} read transaction(s) of this process stay open (waited {} s, resize_wait_seconds); end them and retry",
                        wait.as_secs()
                    ),
                )
                .with_retryable(true));
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .map_err(|_| PluginError::internal("the reader gate lock is poisoned"))?
                .0;
        }
        let result = resize();
        state.resizing = false;
        drop(state);
        self.changed.notify_all();
        result
    }
}

/// Tables by id; ids are never reused within an instance.
#[derive(Default)]
pub(crate) struct Registry {
    names: BTreeMap<String, TableId>,
    dbs: Vec<Option<(String, Db)>>,
}

impl Registry {
    pub(crate) fn db(&self, table: TableId) -> Result<Db, PluginError> {
        self.dbs
            .get(table.0 as usize)
            .and_then(Option::as_ref)
            .map(|(_, db)| *db)
            .ok_or_else(|| {
                PluginError::not_found(format!(
                    "table #{} does not exist (it was never opened or has been dropped)",
                    table.0
                ))
                .with_key("table")
            })
    }

    fn insert(&mut self, name: &str, db: Db) -> TableId {
        let id = TableId(self.dbs.len() as u32);
        self.dbs.push(Some((name.to_owned(), db)));
        self.names.insert(name.to_owned(), id);
        id
    }
}

/// What the backend, its transactions, cursors and writer thread share.
pub struct Shared {
    pub(crate) env: Env,
    pub(crate) tables: RwLock<Registry>,
    pub(crate) gate: Arc<ReaderGate>,
    pub(crate) max_map_size: Option<u64>,
    pub(crate) resize_wait: Duration,
    pub(crate) resizes: AtomicU64,
    pub(crate) logger: Logger,
}

impl Shared {
    pub(crate) fn registry(&self) -> Result<RwLockReadGuard<'_, Registry>, PluginError> {
        self.tables
            .read()
            .map_err(|_| PluginError::internal("the table registry lock is poisoned"))
    }

    pub(crate) fn registry_mut(
        &self,
    ) -> Result<std::sync::RwLockWriteGuard<'_, Registry>, PluginError> {
        self.tables
            .write()
            .map_err(|_| PluginError::internal("the table registry lock is poisoned"))
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
        self.gate.exclusive(self.resize_wait, || {
            // SAFETY: LMDB may remap only while no transaction of this process is open. The
            // caller is the writer thread between write transactions (it aborted or committed
            // its own, and it is the only thread that writes), `exclusive` holds every read
            // transaction of this process out, and `kgdb.lock` keeps other processes out.
            unsafe { self.env.resize(target) }.map_err(|e| lmdb_error("growing the map", e))
        })?;
        self.resizes.fetch_add(1, Ordering::Relaxed);
        self.logger.info(
            "kgdb_plugin_lmdb",
            format_args!("LMDB map grew from {current} to {target} bytes"),
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
    pub(crate) fn begin(shared: &Shared) -> Result<Self, PluginError> {
        let token = shared.gate.enter()?;
        let rtxn = shared
            .env
            .clone()
            .static_read_txn()
            .map_err(|e| lmdb_error("beginning a read transaction", e))?;
        Ok(Self {
            rtxn,
            _token: token,
        })
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
    registry: &Registry,
    txn: &mut heed::RwTxn<'_>,
    batch: &WriteBatch,
) -> Result<(), heed::Error> {
    for entry in batch.iter() {
        let entry = entry.map_err(|e| heed::Error::Encoding(e.message.into_string().into()))?;
        let db = registry
            .db(entry.table())
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

/// An open LMDB backend.
pub struct LmdbBackend {
    /// Everything open; `None` once closed.
    open: RwLock<Option<Open>>,
    read_only: bool,
    path: PathBuf,
}

/// The open environment with its writer thread and the claim on the data directory.
struct Open {
    shared: Arc<Shared>,
    writer: Option<(Writer, Mutex<mpsc::Receiver<()>>)>,
    dir: DataDir,
}

impl LmdbBackend {
    /// Opens (or creates) the environment in `dir`.
    ///
    /// # Errors
    /// `IN_USE`, `INCOMPATIBLE`, `CORRUPTION`, `NOT_FOUND` and I/O failures, with the directory.
    pub fn open(
        dir: &Path,
        config: &LmdbConfig,
        options: &OpenOptions,
    ) -> Result<Self, PluginError> {
        let data_dir = DataDir::claim(
            dir,
            PLUGIN_NAME,
            FORMAT_VERSION,
            options.create,
            options.read_only,
        )?;
        let mut env_options = EnvOpenOptions::new().read_txn_without_tls();
        let map_size = usize::try_from(config.map_size.as_u64()).map_err(|_| {
            PluginError::invalid_config("map_size", "larger than the address space")
        })?;
        env_options
            .map_size(map_size)
            .max_dbs(config.max_tables)
            .max_readers(config.max_readers);
        if options.read_only {
            // SAFETY: READ_ONLY only stops this environment from writing; it is not one of the
            // flags (NO_SYNC, NO_LOCK, …) whose misuse can corrupt data.
            unsafe { env_options.flags(EnvFlags::READ_ONLY) };
        }
        // SAFETY: the memory map stays valid because no one truncates or rewrites the files
        // under it: `DataDir::claim` holds `kgdb.lock`, which keeps every other kgdb process (and
        // a second instance in this one) out of the directory for as long as this backend lives.
        let env = unsafe { env_options.open(dir) }
            .map_err(|e| lmdb_error(&format!("opening {}", dir.display()), e))?;
        let mut registry = Registry::default();
        {
            let rtxn = env
                .read_txn()
                .map_err(|e| lmdb_error("reading the table list", e))?;
            let main: Option<Db> = env
                .open_database(&rtxn, None)
                .map_err(|e| lmdb_error("opening the main database", e))?;
            let mut names = Vec::new();
            if let Some(main) = main {
                for row in main
                    .iter(&rtxn)
                    .map_err(|e| lmdb_error("listing tables", e))?
                {
                    let (name, _) = row.map_err(|e| lmdb_error("listing tables", e))?;
                    names.push(String::from_utf8(name.to_vec()).map_err(|_| {
                        PluginError::new(
                            ErrorCode::CORRUPTION,
                            format!("{}: a table name is not UTF-8", dir.display()),
                        )
                    })?);
                }
            }
            for name in names {
                let db: Db = env
                    .open_database(&rtxn, Some(&name))
                    .map_err(|e| lmdb_error(&format!("opening table `{name}`"), e))?
                    .ok_or_else(|| {
                        PluginError::new(
                            ErrorCode::CORRUPTION,
                            format!(
                                "{}: table `{name}` is listed but cannot be opened",
                                dir.display()
                            ),
                        )
                    })?;
                registry.insert(&name, db);
            }
            rtxn.commit()
                .map_err(|e| lmdb_error("reading the table list", e))?;
        }
        let shared = Arc::new(Shared {
            env,
            tables: RwLock::new(registry),
            gate: Arc::new(ReaderGate::default()),
            max_map_size: config.max_map_size.map(|m| m.as_u64()),
            resize_wait: config.resize_wait(),
            resizes: AtomicU64::new(0),
            logger: options.logger,
        });
        let writer = if options.read_only {
            None
        } else {
            Writer::spawn(Arc::clone(&shared))
                .map(|(writer, ended)| Some((writer, Mutex::new(ended))))?
        };
        options.logger.info(
            "kgdb_plugin_lmdb",
            format_args!(
                "opened {} ({} tables, map {} bytes, max key {} bytes)",
                dir.display(),
                shared.registry()?.names.len(),
                shared.env.info().map_size,
                shared.env.max_key_size()
            ),
        );
        Ok(Self {
            open: RwLock::new(Some(Open {
                shared,
                writer,
                dir: data_dir,
            })),
            read_only: options.read_only,
            path: dir.to_owned(),
        })
    }

    fn closed() -> PluginError {
        PluginError::closed("the lmdb backend is closed")
    }

    /// The shared state, unless closed.
    fn shared(&self) -> Result<Arc<Shared>, PluginError> {
        self.open
            .read()
            .map_err(|_| PluginError::internal("the backend lock is poisoned"))?
            .as_ref()
            .map(|open| Arc::clone(&open.shared))
            .ok_or_else(Self::closed)
    }

    /// Runs `body` with the writer, without holding the backend's lock while it waits.
    fn writer<T>(
        &self,
        body: impl FnOnce(&Writer) -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        let writer = self
            .open
            .read()
            .map_err(|_| PluginError::internal("the backend lock is poisoned"))?
            .as_ref()
            .ok_or_else(Self::closed)?
            .writer
            .as_ref()
            .map(|(writer, _)| writer.clone());
        match writer {
            Some(writer) => body(&writer),
            None => Err(PluginError::new(
                ErrorCode::READ_ONLY,
                format!("{} is open read-only", self.path.display()),
            )),
        }
    }
}

impl StorageBackend for LmdbBackend {
    type Txn = LmdbTxn;

    fn capabilities(&self) -> Capabilities {
        let engine_max = self.shared().map_or(MAX_KEY_SIZE, |shared| {
            u32::try_from(shared.env.max_key_size()).unwrap_or(u32::MAX)
        });
        let mut caps = CAPABILITIES;
        caps.max_key_size = MAX_KEY_SIZE.min(engine_max);
        if self.read_only {
            caps.flags &= !(Capabilities::ATOMIC_BATCH
                | Capabilities::BULK_INGEST
                | Capabilities::ATOMIC_MULTI_INGEST
                | Capabilities::DELETE_RANGE);
        }
        caps
    }

    fn open_table(&self, name: &str, create: bool) -> Result<TableId, PluginError> {
        if let Some(id) = self.shared()?.registry()?.names.get(name) {
            return Ok(*id);
        }
        if !create {
            return Err(PluginError::not_found(format!("no table named `{name}`")).with_key("name"));
        }
        let name = name.to_owned();
        self.writer(|writer| {
            writer.run(move |shared| {
                let mut registry = shared.registry_mut()?;
                if let Some(id) = registry.names.get(&name) {
                    return Ok(*id);
                }
                let db = crate::writer::with_growth(shared, |wtxn| {
                    shared.env.create_database::<Bytes, Bytes>(wtxn, Some(&name))
                })
                .map_err(|e| {
                    if e.code == ErrorCode::FULL && e.message.contains("MDB_DBS_FULL") {
                        PluginError::new(
                            ErrorCode::FULL,
                            format!("cannot create table `{name}`: every one of the max_tables slots is used; raise max_tables"),
                        )
                    } else {
                        e
                    }
                })?;
                Ok(registry.insert(&name, db))
            })
        })
    }

    fn drop_table(&self, name: &str) -> Result<bool, PluginError> {
        if !self.shared()?.registry()?.names.contains_key(name) {
            return Ok(false);
        }
        let name = name.to_owned();
        self.writer(|writer| {
            writer.run(move |shared| {
                let mut registry = shared.registry_mut()?;
                let Some(id) = registry.names.get(&name).copied() else {
                    return Ok(false);
                };
                let db = registry.db(id)?;
                let mut wtxn = shared
                    .env
                    .write_txn()
                    .map_err(|e| lmdb_error("dropping a table", e))?;
                // SAFETY: the handle is removed from the registry below while its write lock is
                // held, so no transaction, cursor or the writer can use it again; every reader
                // looks tables up through the registry on each call.
                unsafe { db.remove(&mut wtxn) }
                    .map_err(|e| lmdb_error(&format!("dropping table `{name}`"), e))?;
                wtxn.commit()
                    .map_err(|e| lmdb_error(&format!("dropping table `{name}`"), e))?;
                registry.names.remove(&name);
                registry.dbs[id.0 as usize] = None;
                Ok(true)
            })
        })
    }

    fn list_tables(&self) -> Result<Vec<String>, PluginError> {
        Ok(self.shared()?.registry()?.names.keys().cloned().collect())
    }

    fn begin(&self, options: TxnOptions) -> Result<LmdbTxn, PluginError> {
        let shared = self.shared()?;
        if options.read_only {
            return Ok(LmdbTxn::Read {
                snapshot: Arc::new(Mutex::new(Snapshot::begin(&shared)?)),
                shared,
            });
        }
        // Every LMDB commit is synced, so `options.sync` needs nothing more.
        let session = self.writer(Writer::begin)?;
        Ok(LmdbTxn::Write { session, shared })
    }

    fn write_batch(&self, batch: &WriteBatch, _options: WriteOptions) -> Result<(), PluginError> {
        let mut session = self.writer(Writer::begin)?;
        session.write(batch.clone())?;
        session.commit()
    }

    fn ingest_sorted(&self, runs: &[SortedRun], _options: WriteOptions) -> Result<(), PluginError> {
        let mut session = self.writer(Writer::begin)?;
        for run in runs {
            let mut batch = WriteBatch::new();
            for (key, value) in run.rows.iter() {
                batch.put(run.table, key, value);
            }
            session.write(batch)?;
        }
        session.commit()
    }

    fn flush(&self) -> Result<(), PluginError> {
        self.shared()?
            .env
            .force_sync()
            .map_err(|e| lmdb_error("syncing to disk", e))
    }

    fn checkpoint(&self, dir: &Path) -> Result<(), PluginError> {
        std::fs::create_dir(dir).map_err(|e| {
            let mut error = PluginError::from(e);
            error.message =
                format!("checkpoint directory {}: {}", dir.display(), error.message).into();
            error
        })?;
        self.shared()?
            .env
            .copy_to_path(dir.join("data.mdb"), heed::CompactionOption::Enabled)
            .map_err(|e| lmdb_error(&format!("copying into {}", dir.display()), e))?;
        DataDir::mark(dir, PLUGIN_NAME, FORMAT_VERSION)
    }

    fn stats(&self) -> Result<Vec<NativeStat>, PluginError> {
        let shared = self.shared()?;
        let env = &shared.env;
        let info = env.info();
        let stat = env.stat();
        let page_size = u64::from(stat.page_size);
        let pages_used = info.last_page_number as u64 + 1;
        let mut stats = vec![
            NativeStat::new("lmdb.map_size", info.map_size as u64, "bytes"),
            NativeStat::new("lmdb.page_size", page_size, "bytes"),
            NativeStat::new("lmdb.pages_used", pages_used, "pages"),
            NativeStat::new("lmdb.bytes_used", pages_used * page_size, "bytes"),
            NativeStat::new("lmdb.last_txn_id", info.last_txn_id as u64, "count"),
            NativeStat::new("lmdb.readers", u64::from(info.number_of_readers), "count"),
            NativeStat::new(
                "lmdb.max_readers",
                u64::from(info.maximum_number_of_readers),
                "count",
            ),
            NativeStat::new(
                "lmdb.map_resizes",
                shared.resizes.load(Ordering::Relaxed),
                "count",
            ),
            NativeStat::new("lmdb.max_key_size", env.max_key_size() as u64, "bytes"),
        ];
        let snapshot = Snapshot::begin(&shared)?;
        let registry = shared.registry()?;
        let (mut entries, mut depth) = (0u64, 0u64);
        for (name, id) in &registry.names {
            let db = registry.db(*id)?;
            let table = db
                .stat(&snapshot.rtxn)
                .map_err(|e| lmdb_error(&format!("reading statistics of `{name}`"), e))?;
            entries += table.entries as u64;
            depth = depth.max(u64::from(table.depth));
            stats.push(NativeStat::new(
                format!("lmdb.entries[{name}]"),
                table.entries as u64,
                "keys",
            ));
            stats.push(NativeStat::new(
                format!("lmdb.depth[{name}]"),
                u64::from(table.depth),
                "count",
            ));
            let pages = table.branch_pages + table.leaf_pages + table.overflow_pages;
            stats.push(NativeStat::table_bytes(name, pages as u64 * page_size));
        }
        stats.push(NativeStat::new("lmdb.entries", entries, "keys"));
        stats.push(NativeStat::new("lmdb.depth", depth, "count"));
        Ok(stats)
    }

    fn close(&self) -> Result<(), PluginError> {
        let open = self
            .open
            .write()
            .map_err(|_| PluginError::internal("the backend lock is poisoned"))?
            .take();
        let Some(Open {
            shared,
            writer,
            dir,
        }) = open
        else {
            return Ok(());
        };
        let wait = shared.resize_wait;
        let logger = shared.logger;
        if let Some((writer, finished)) = writer {
            writer.shutdown();
            // The thread ends once its current write transaction (if the host still holds one)
            // ends; it then drops its share of the environment.
            let ended = finished
                .into_inner()
                .map(|ended| ended.recv_timeout(wait).is_ok());
            if !matches!(ended, Ok(true)) {
                logger.warn(
                    "kgdb_plugin_lmdb",
                    format_args!(
                        "closing {} while a write transaction is still open",
                        self.path.display()
                    ),
                );
            }
        }
        // Close the environment now if nothing else holds it; open read transactions keep it
        // until they end.
        match Arc::try_unwrap(shared) {
            Ok(shared) => {
                let closing = shared.env.prepare_for_closing();
                closing.wait();
            }
            Err(_) => logger.debug(
                "kgdb_plugin_lmdb",
                format_args!(
                    "{} stays mapped until its open transactions end",
                    self.path.display()
                ),
            ),
        }
        drop(dir);
        Ok(())
    }
}

impl Drop for LmdbBackend {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

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

fn lock(snapshot: &Mutex<Snapshot>) -> Result<std::sync::MutexGuard<'_, Snapshot>, PluginError> {
    snapshot
        .lock()
        .map_err(|_| PluginError::internal("a read transaction's lock is poisoned"))
}

fn single(op: impl FnOnce(&mut WriteBatch)) -> WriteBatch {
    let mut batch = WriteBatch::new();
    op(&mut batch);
    batch
}

impl StorageTxn for LmdbTxn {
    type Cursor = LmdbCursor;

    fn get(&self, table: TableId, key: &[u8]) -> Result<Option<Vec<u8>>, PluginError> {
        match self {
            Self::Read { snapshot, shared } => {
                let snapshot = lock(snapshot)?;
                let registry = shared.registry()?;
                let db = registry.db(table)?;
                db.get(&snapshot.rtxn, key)
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
            Self::Read { .. } => keys.iter().map(|key| self.get(table, key)).collect(),
            Self::Write { session, .. } => session.get_many(table, keys),
        }
    }

    fn scan(&self, table: TableId, range: ScanSpec) -> Result<LmdbCursor, PluginError> {
        match self {
            Self::Read { snapshot, shared } => {
                shared.registry()?.db(table)?;
                Ok(LmdbCursor::Read {
                    snapshot: Arc::clone(snapshot),
                    shared: Arc::clone(shared),
                    table,
                    range,
                    done: false,
                })
            }
            Self::Write { session, .. } => Ok(LmdbCursor::Write {
                link: session.link(),
                table,
                range,
                done: false,
            }),
        }
    }

    fn put(&mut self, table: TableId, key: &[u8], value: &[u8]) -> Result<(), PluginError> {
        self.write_batch(&single(|b| b.put(table, key, value)))
    }

    fn delete(&mut self, table: TableId, key: &[u8]) -> Result<(), PluginError> {
        self.write_batch(&single(|b| b.delete(table, key)))
    }

    fn delete_range(
        &mut self,
        table: TableId,
        start: &[u8],
        end: &[u8],
    ) -> Result<(), PluginError> {
        self.write_batch(&single(|b| b.delete_range(table, start, end)))
    }

    fn write_batch(&mut self, batch: &WriteBatch) -> Result<(), PluginError> {
        match self {
            Self::Read { .. } => Err(PluginError::new(
                ErrorCode::READ_ONLY,
                "write in a read-only transaction",
            )),
            Self::Write {
                session, shared, ..
            } => {
                let registry = shared.registry()?;
                for entry in batch.iter() {
                    registry.db(entry?.table())?;
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

/// A cursor: it re-seeks from the last key at every batch, so it holds no LMDB cursor and its
/// memory does not grow with the range.
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
        range: ScanSpec,
        /// Whether the end was reached.
        done: bool,
    },
    /// Over the writer's transaction (sees its uncommitted writes).
    Write {
        /// The channel to the writer thread.
        link: Link,
        /// The table.
        table: TableId,
        /// What is left to read.
        range: ScanSpec,
        /// Whether the end was reached.
        done: bool,
    },
}

impl StorageCursor for LmdbCursor {
    fn next_batch(
        &mut self,
        max_rows: u32,
        max_bytes: u64,
        out: &mut KvBatch,
    ) -> Result<(), PluginError> {
        let (range, done) = match self {
            Self::Read {
                snapshot,
                shared,
                table,
                range,
                done,
            } => {
                if *done {
                    return Ok(());
                }
                let snapshot = lock(snapshot)?;
                let registry = shared.registry()?;
                read_batch(
                    registry.db(*table)?,
                    &snapshot.rtxn,
                    range,
                    max_rows,
                    max_bytes,
                    out,
                )?;
                (range, done)
            }
            Self::Write {
                link,
                table,
                range,
                done,
            } => {
                if *done {
                    return Ok(());
                }
                *out = link.scan(*table, range.clone(), max_rows, max_bytes)?;
                (range, done)
            }
        };
        *done = !range.advance_past(out);
        Ok(())
    }
}
