//! The engine: an optimistic-transaction RocksDB with one column family per table.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use kgdb_plugin_api::sdk::{
    DataDir, Logger, OpenOptions, StorageBackend, StorageCursor, StorageTxn,
};
use kgdb_plugin_api::{
    BatchEntry, Capabilities, ErrorCode, KvBatch, NativeStat, PluginError, ScanSpec, SortedRun,
    SyncMode, TableId, TxnOptions, WriteBatch, WriteOptions,
};
use rocksdb::checkpoint::Checkpoint;
use rocksdb::{
    BlockBasedOptions, BoundColumnFamily, Cache, ColumnFamilyDescriptor, DBCompressionType,
    ErrorKind, IngestExternalFileOptions, MultiThreaded, OptimisticTransactionDB,
    OptimisticTransactionOptions, Options, ReadOptions, SstFileWriter, Transaction,
    WriteBatchWithTransaction,
};
use self_cell::self_cell;

use crate::config::{Compression, RocksConfig};
use crate::{CAPABILITIES, FORMAT_VERSION, PLUGIN_NAME};

type Db = OptimisticTransactionDB<MultiThreaded>;

/// Column families of tables carry this prefix, so the `default` family is never a table.
const TABLE_PREFIX: &str = "t:";

/// Maps a RocksDB error to a stable code, keeping RocksDB's message.
fn rocks_error(context: &str, error: &rocksdb::Error) -> PluginError {
    let text = error.to_string();
    let code = match error.kind() {
        ErrorKind::NotFound | ErrorKind::ColumnFamilyDropped => ErrorCode::NOT_FOUND,
        ErrorKind::Corruption => ErrorCode::CORRUPTION,
        ErrorKind::NotSupported => ErrorCode::UNSUPPORTED,
        ErrorKind::InvalidArgument => ErrorCode::INVALID_ARGUMENT,
        ErrorKind::Busy | ErrorKind::TryAgain => ErrorCode::CONFLICT,
        ErrorKind::TimedOut => ErrorCode::TIMED_OUT,
        ErrorKind::ShutdownInProgress => ErrorCode::CLOSED,
        ErrorKind::IOError if text.contains("No space left") => ErrorCode::FULL,
        ErrorKind::IOError if text.contains("lock") => ErrorCode::IN_USE,
        ErrorKind::IOError => ErrorCode::IO,
        _ => ErrorCode::INTERNAL,
    };
    let message = if code == ErrorCode::CONFLICT {
        format!("{context}: write-write conflict with a transaction that committed first (rocksdb: {text})")
    } else {
        format!("{context}: rocksdb: {text}")
    };
    PluginError::new(code, message)
}

/// Tables by id; ids are never reused within an instance.
#[derive(Default)]
struct Registry {
    names: BTreeMap<String, TableId>,
    families: Vec<Option<String>>,
}

impl Registry {
    fn insert(&mut self, name: &str) -> TableId {
        let id = TableId(self.families.len() as u32);
        self.families.push(Some(format!("{TABLE_PREFIX}{name}")));
        self.names.insert(name.to_owned(), id);
        id
    }
}

/// The open database and what it needs. Fields drop in order: the database closes before the
/// data directory's lock is released.
pub struct Engine {
    db: Db,
    tables: RwLock<Registry>,
    cache: Cache,
    cf_options: Options,
    sync_default: bool,
    path: PathBuf,
    ingest_sequence: AtomicU64,
    logger: Logger,
    _dir: DataDir,
}

impl Engine {
    fn registry(&self) -> Result<std::sync::RwLockReadGuard<'_, Registry>, PluginError> {
        self.tables
            .read()
            .map_err(|_| PluginError::internal("the table registry lock is poisoned"))
    }

    fn registry_mut(&self) -> Result<std::sync::RwLockWriteGuard<'_, Registry>, PluginError> {
        self.tables
            .write()
            .map_err(|_| PluginError::internal("the table registry lock is poisoned"))
    }

    fn family(&self, table: TableId) -> Result<Arc<BoundColumnFamily<'_>>, PluginError> {
        let missing = || {
            PluginError::not_found(format!(
                "table #{} does not exist (it was never opened or has been dropped)",
                table.0
            ))
            .with_key("table")
        };
        let name = {
            let registry = self.registry()?;
            registry
                .families
                .get(table.0 as usize)
                .cloned()
                .flatten()
                .ok_or_else(missing)?
        };
        self.db.cf_handle(&name).ok_or_else(missing)
    }

    fn sync_for(&self, mode: SyncMode) -> bool {
        match mode {
            SyncMode::SYNC => true,
            SyncMode::NO_SYNC => false,
            _ => self.sync_default,
        }
    }

    /// Every key of `[start, end)` in `table` as `read` sees it, through `open` (a database or a
    /// transaction iterator).
    fn keys_in_range<'a>(
        &'a self,
        mut iterator: rocksdb::DBRawIteratorWithThreadMode<'a, impl rocksdb::DBAccess>,
        start: &[u8],
    ) -> Result<Vec<Vec<u8>>, PluginError> {
        let mut keys = Vec::new();
        iterator.seek(start);
        while let Some(key) = iterator.key() {
            keys.push(key.to_vec());
            iterator.next();
        }
        iterator
            .status()
            .map_err(|e| rocks_error("scanning a range to delete", &e))?;
        Ok(keys)
    }
}

/// The (table, key) a batch entry writes first, for ordering a batch.
fn entry_position<'b>(entry: &BatchEntry<'b>) -> (u32, &'b [u8]) {
    match entry {
        BatchEntry::Put { table, key, .. } | BatchEntry::Delete { table, key } => (table.0, key),
        BatchEntry::DeleteRange { table, start, .. } => (table.0, start),
    }
}

/// Column family handles of one call, looked up once per table instead of once per write
/// (a store writes to a dozen tables at most: a short list beats a map).
struct Families<'e> {
    engine: &'e Engine,
    handles: Vec<(TableId, Arc<BoundColumnFamily<'e>>)>,
}

impl<'e> Families<'e> {
    fn new(engine: &'e Engine) -> Self {
        Self {
            engine,
            handles: Vec::new(),
        }
    }

    fn get(&mut self, table: TableId) -> Result<&Arc<BoundColumnFamily<'e>>, PluginError> {
        let index = match self.handles.iter().position(|(id, _)| *id == table) {
            Some(index) => index,
            None => {
                self.handles.push((table, self.engine.family(table)?));
                self.handles.len() - 1
            }
        };
        Ok(&self.handles[index].1)
    }
}

fn range_read_options(start: &[u8], end: &[u8]) -> ReadOptions {
    let mut read = ReadOptions::default();
    read.set_iterate_lower_bound(start.to_vec());
    read.set_iterate_upper_bound(end.to_vec());
    read
}

/// An open RocksDB backend.
pub struct RocksBackend {
    engine: RwLock<Option<Arc<Engine>>>,
}

fn compression(kind: Compression) -> DBCompressionType {
    match kind {
        Compression::Lz4 => DBCompressionType::Lz4,
        Compression::Zstd => DBCompressionType::Zstd,
        Compression::None => DBCompressionType::None,
    }
}

impl RocksBackend {
    /// Opens (or creates) the database in `dir`.
    ///
    /// # Errors
    /// `IN_USE`, `INCOMPATIBLE`, `CORRUPTION`, `NOT_FOUND` and I/O failures, with the directory.
    pub fn open(
        dir: &Path,
        config: &RocksConfig,
        options: &OpenOptions,
    ) -> Result<Self, PluginError> {
        let data_dir = DataDir::claim(
            dir,
            PLUGIN_NAME,
            FORMAT_VERSION,
            options.create,
            options.read_only,
        )?;
        let cache_size = usize::try_from(config.block_cache_size.as_u64()).map_err(|_| {
            PluginError::invalid_config("block_cache_size", "larger than the address space")
        })?;
        let cache = Cache::new_lru_cache(cache_size);
        let mut table_options = BlockBasedOptions::default();
        table_options.set_block_cache(&cache);
        if config.bloom_bits_per_key > 0.0 {
            table_options.set_bloom_filter(config.bloom_bits_per_key, false);
            table_options.set_whole_key_filtering(true);
        }
        let mut cf_options = Options::default();
        cf_options.set_block_based_table_factory(&table_options);
        cf_options.set_compression_type(compression(config.compression));
        let write_buffer = usize::try_from(config.write_buffer_size.as_u64()).map_err(|_| {
            PluginError::invalid_config("write_buffer_size", "larger than the address space")
        })?;
        cf_options.set_write_buffer_size(write_buffer);
        // Optimistic transactions check conflicts against recent memtables; keep enough of them.
        cf_options.set_max_write_buffer_size_to_maintain(
            i64::try_from(write_buffer)
                .unwrap_or(i64::MAX)
                .saturating_mul(2),
        );
        let mut db_options = cf_options.clone();
        db_options.create_if_missing(true);
        db_options.create_missing_column_families(true);
        db_options.set_max_open_files(config.max_open_files);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        db_options.increase_parallelism(i32::try_from(cores).unwrap_or(2));

        let existing = if dir.join("CURRENT").exists() {
            Db::list_cf(&db_options, dir)
                .map_err(|e| rocks_error(&format!("listing the tables of {}", dir.display()), &e))?
        } else {
            vec![rocksdb::DEFAULT_COLUMN_FAMILY_NAME.to_owned()]
        };
        let descriptors = existing
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(name, cf_options.clone()));
        let db = Db::open_cf_descriptors(&db_options, dir, descriptors)
            .map_err(|e| rocks_error(&format!("opening {}", dir.display()), &e))?;
        let mut registry = Registry::default();
        for family in &existing {
            if let Some(name) = family.strip_prefix(TABLE_PREFIX) {
                registry.insert(name);
            }
        }
        options.logger.info(
            "kgdb_plugin_rocksdb",
            format_args!("opened {} ({} tables)", dir.display(), registry.names.len()),
        );
        let engine = Engine {
            db,
            tables: RwLock::new(registry),
            cache,
            cf_options,
            sync_default: config.sync,
            path: dir.to_owned(),
            ingest_sequence: AtomicU64::new(0),
            logger: options.logger,
            _dir: data_dir,
        };
        Ok(Self {
            engine: RwLock::new(Some(Arc::new(engine))),
        })
    }

    fn engine(&self) -> Result<Arc<Engine>, PluginError> {
        self.engine
            .read()
            .map_err(|_| PluginError::internal("the engine lock is poisoned"))?
            .clone()
            .ok_or_else(|| PluginError::closed("the rocksdb backend is closed"))
    }

    fn write_options(engine: &Engine, sync: SyncMode) -> rocksdb::WriteOptions {
        let mut write = rocksdb::WriteOptions::default();
        write.set_sync(engine.sync_for(sync));
        write
    }
}

impl StorageBackend for RocksBackend {
    type Txn = RocksTxn;

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn open_table(&self, name: &str, create: bool) -> Result<TableId, PluginError> {
        let engine = self.engine()?;
        let mut registry = engine.registry_mut()?;
        if let Some(id) = registry.names.get(name) {
            return Ok(*id);
        }
        if !create {
            return Err(PluginError::not_found(format!("no table named `{name}`")).with_key("name"));
        }
        engine
            .db
            .create_cf(format!("{TABLE_PREFIX}{name}"), &engine.cf_options)
            .map_err(|e| rocks_error(&format!("creating table `{name}`"), &e))?;
        Ok(registry.insert(name))
    }

    fn drop_table(&self, name: &str) -> Result<bool, PluginError> {
        let engine = self.engine()?;
        let mut registry = engine.registry_mut()?;
        let Some(id) = registry.names.get(name).copied() else {
            return Ok(false);
        };
        engine
            .db
            .drop_cf(&format!("{TABLE_PREFIX}{name}"))
            .map_err(|e| rocks_error(&format!("dropping table `{name}`"), &e))?;
        registry.names.remove(name);
        registry.families[id.0 as usize] = None;
        Ok(true)
    }

    fn list_tables(&self) -> Result<Vec<String>, PluginError> {
        let engine = self.engine()?;
        let registry = engine.registry()?;
        Ok(registry.names.keys().cloned().collect())
    }

    fn begin(&self, options: TxnOptions) -> Result<RocksTxn, PluginError> {
        let engine = self.engine()?;
        let write = Self::write_options(&engine, options.sync);
        let mut txn_options = OptimisticTransactionOptions::default();
        txn_options.set_snapshot(true);
        let read_only = options.read_only;
        let cell = TxnCell::new(engine, |engine| {
            let mut read = ReadOptions::default();
            if read_only {
                // A reader needs only a snapshot, not a transaction (which would allocate a
                // write batch and its index for nothing).
                let snapshot = engine.db.snapshot();
                read.set_snapshot(&snapshot);
                TxnParts {
                    read,
                    txn: None,
                    snapshot: Some(snapshot),
                }
            } else {
                let txn = engine.db.transaction_opt(&write, &txn_options);
                // The read options keep the snapshot the transaction owns; the wrapper returned
                // by `snapshot()` can go, the snapshot lives as long as the transaction.
                read.set_snapshot(&txn.snapshot());
                TxnParts {
                    read,
                    txn: Some(txn),
                    snapshot: None,
                }
            }
        });
        Ok(RocksTxn {
            cell: Arc::new(Mutex::new(Some(cell))),
            read_only: options.read_only,
        })
    }

    fn write_batch(&self, batch: &WriteBatch, options: WriteOptions) -> Result<(), PluginError> {
        let engine = self.engine()?;
        let mut families = Families::new(&engine);
        let mut entries = batch.iter().collect::<Result<Vec<_>, _>>()?;
        if !entries
            .iter()
            .any(|entry| matches!(entry, BatchEntry::DeleteRange { .. }))
        {
            // In (table, key) order, each memtable insert starts where the previous one
            // ended (RocksDB's skip list reuses its last position for ascending keys). The
            // sort is stable: writes to one key keep their order, so the batch means the same.
            entries.sort_by(|a, b| entry_position(a).cmp(&entry_position(b)));
        }
        let mut rocks_batch = WriteBatchWithTransaction::<true>::default();
        for entry in entries {
            match entry {
                BatchEntry::Put { table, key, value } => {
                    rocks_batch.put_cf(families.get(table)?, key, value);
                }
                BatchEntry::Delete { table, key } => {
                    rocks_batch.delete_cf(families.get(table)?, key);
                }
                BatchEntry::DeleteRange { table, start, end } => {
                    if start >= end {
                        continue;
                    }
                    let family = families.get(table)?;
                    let iterator = engine
                        .db
                        .raw_iterator_cf_opt(family, range_read_options(start, end));
                    for key in engine.keys_in_range(iterator, start)? {
                        rocks_batch.delete_cf(family, key);
                    }
                }
            }
        }
        engine
            .db
            .write_opt(rocks_batch, &Self::write_options(&engine, options.sync))
            .map_err(|e| rocks_error("writing a batch", &e))
    }

    fn ingest_sorted(&self, runs: &[SortedRun], _options: WriteOptions) -> Result<(), PluginError> {
        let engine = self.engine()?;
        for run in runs.iter().filter(|run| !run.rows.is_empty()) {
            let family = engine.family(run.table)?;
            let file = engine.path.join(format!(
                "ingest-{}-{}.sst",
                std::process::id(),
                engine.ingest_sequence.fetch_add(1, Ordering::Relaxed)
            ));
            let written = (|| {
                let writer = SstFileWriter::create(&engine.cf_options);
                writer.open(&file)?;
                let mut writer = writer;
                for (key, value) in run.rows.iter() {
                    writer.put(key, value)?;
                }
                writer.finish()
            })();
            let result = written
                .map_err(|e| rocks_error("writing an SST file for ingest", &e))
                .and_then(|()| {
                    let mut ingest = IngestExternalFileOptions::default();
                    ingest.set_move_files(true);
                    engine
                        .db
                        .ingest_external_file_cf_opts(&family, &ingest, vec![&file])
                        .map_err(|e| rocks_error("ingesting an SST file", &e))
                });
            if file.exists() {
                let _ = std::fs::remove_file(&file);
            }
            result?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), PluginError> {
        let engine = self.engine()?;
        let names: Vec<String> = engine
            .registry()?
            .families
            .iter()
            .flatten()
            .cloned()
            .collect();
        for name in names {
            if let Some(family) = engine.db.cf_handle(&name) {
                engine
                    .db
                    .flush_cf(&family)
                    .map_err(|e| rocks_error("flushing", &e))?;
            }
        }
        engine
            .db
            .flush_wal(true)
            .map_err(|e| rocks_error("syncing the write-ahead log", &e))
    }

    fn compact(&self, table: Option<TableId>) -> Result<(), PluginError> {
        let engine = self.engine()?;
        let ids: Vec<TableId> = match table {
            Some(table) => vec![table],
            None => engine.registry()?.names.values().copied().collect(),
        };
        for id in ids {
            let family = engine.family(id)?;
            engine
                .db
                .compact_range_cf(&family, None::<&[u8]>, None::<&[u8]>);
        }
        Ok(())
    }

    fn checkpoint(&self, dir: &Path) -> Result<(), PluginError> {
        let engine = self.engine()?;
        if dir.exists() {
            return Err(PluginError::invalid_argument(format!(
                "checkpoint directory {} already exists",
                dir.display()
            ))
            .with_key("dir"));
        }
        Checkpoint::new(&engine.db)
            .and_then(|checkpoint| checkpoint.create_checkpoint(dir))
            .map_err(|e| rocks_error(&format!("checkpoint into {}", dir.display()), &e))?;
        DataDir::mark(dir, PLUGIN_NAME, FORMAT_VERSION)
    }

    fn stats(&self) -> Result<Vec<NativeStat>, PluginError> {
        let engine = self.engine()?;
        let db_property = |name: &str| {
            engine
                .db
                .property_int_value(name)
                .ok()
                .flatten()
                .unwrap_or(0)
        };
        let mut stats = vec![
            NativeStat::new(
                "rocksdb.block-cache-usage",
                engine.cache.get_usage() as u64,
                "bytes",
            ),
            NativeStat::new(
                "rocksdb.num-running-compactions",
                db_property("rocksdb.num-running-compactions"),
                "count",
            ),
            NativeStat::new(
                "rocksdb.num-running-flushes",
                db_property("rocksdb.num-running-flushes"),
                "count",
            ),
        ];
        let per_table = [
            ("rocksdb.estimate-num-keys", "keys"),
            ("rocksdb.live-sst-files-size", "bytes"),
            ("rocksdb.total-sst-files-size", "bytes"),
            ("rocksdb.estimate-pending-compaction-bytes", "bytes"),
            ("rocksdb.cur-size-all-mem-tables", "bytes"),
        ];
        let mut totals = [0u64; 5];
        let tables: Vec<(String, TableId)> = engine
            .registry()?
            .names
            .iter()
            .map(|(name, id)| (name.clone(), *id))
            .collect();
        for (name, id) in tables {
            let family = engine.family(id)?;
            let mut values = [0u64; 5];
            for (index, (property, unit)) in per_table.iter().enumerate() {
                let value = engine
                    .db
                    .property_int_value_cf(&family, *property)
                    .map_err(|e| rocks_error("reading statistics", &e))?
                    .unwrap_or(0);
                totals[index] += value;
                values[index] = value;
                if index == 0 {
                    stats.push(NativeStat::new(format!("{property}[{name}]"), value, unit));
                }
            }
            // Live SST files plus what waits in memtables to be written.
            stats.push(NativeStat::table_bytes(&name, values[1] + values[4]));
        }
        for ((property, unit), total) in per_table.iter().zip(totals) {
            stats.push(NativeStat::new(*property, total, unit));
        }
        Ok(stats)
    }

    fn close(&self) -> Result<(), PluginError> {
        let engine = self
            .engine
            .write()
            .map_err(|_| PluginError::internal("the engine lock is poisoned"))?
            .take();
        if let Some(engine) = engine {
            let result = engine
                .db
                .flush_wal(true)
                .map_err(|e| rocks_error("syncing the write-ahead log at close", &e));
            engine.logger.debug(
                "kgdb_plugin_rocksdb",
                format_args!("closing {}", engine.path.display()),
            );
            // The database closes when the last transaction holding it ends.
            drop(engine);
            result?;
        }
        Ok(())
    }
}

/// A RocksDB transaction (none for a reader) with the read options that pin its snapshot.
pub struct TxnParts<'a> {
    read: ReadOptions,
    txn: Option<Transaction<'a, Db>>,
    /// A reader's snapshot (a writer's belongs to its transaction).
    snapshot: Option<rocksdb::SnapshotWithThreadMode<'a, Db>>,
}

impl<'a> TxnParts<'a> {
    /// The transaction that writes.
    fn writer(&self) -> Result<&Transaction<'a, Db>, PluginError> {
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

/// A transaction, shared with its cursors.
pub struct RocksTxn {
    cell: Arc<Mutex<Option<TxnCell>>>,
    read_only: bool,
}

fn lock(cell: &Mutex<Option<TxnCell>>) -> Result<MutexGuard<'_, Option<TxnCell>>, PluginError> {
    cell.lock()
        .map_err(|_| PluginError::internal("a transaction's lock is poisoned"))
}

fn ended() -> PluginError {
    PluginError::closed("the transaction has already ended")
}

impl RocksTxn {
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
                None => engine.db.get_pinned_cf_opt(&family, key, &parts.read),
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
                None => engine.db.multi_get_cf_opt(keys, &parts.read),
            }
            .into_iter()
            .map(|value| value.map_err(|e| rocks_error("reading", &e)))
            .collect()
        })
    }

    fn scan(&self, table: TableId, range: ScanSpec) -> Result<RocksCursor, PluginError> {
        self.with(|engine, _| engine.family(table).map(drop))?;
        Ok(RocksCursor {
            cell: Arc::clone(&self.cell),
            table,
            range,
            done: false,
        })
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

/// A cursor: it re-seeks from the last key at every batch, so it holds no iterator between
/// batches and its memory does not grow with the range.
pub struct RocksCursor {
    cell: Arc<Mutex<Option<TxnCell>>>,
    table: TableId,
    range: ScanSpec,
    done: bool,
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
        if self.done || self.range.is_empty() {
            return Ok(());
        }
        let guard = lock(&self.cell)?;
        let cell = guard.as_ref().ok_or_else(ended)?;
        let range = &self.range;
        let exhausted = cell.with_dependent(|engine, parts| {
            let family = engine.family(self.table)?;
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
            // A reader iterates the database at its snapshot; a writer merges its own writes.
            match &parts.txn {
                Some(txn) => fill(
                    txn.raw_iterator_cf_opt(&family, read),
                    range,
                    max_rows,
                    max_bytes,
                    out,
                ),
                None => fill(
                    engine.db.raw_iterator_cf_opt(&family, read),
                    range,
                    max_rows,
                    max_bytes,
                    out,
                ),
            }
        })?;
        // A batch that stopped because the range ran out ends the scan: no empty batch (and no
        // seek) is needed to find that out.
        self.done = exhausted | !self.range.advance_past(out);
        Ok(())
    }
}
