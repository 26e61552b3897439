//! The backend: opening the database in its data directory (for writing, or read-only beside
//! a writing process), tables, batches outside transactions, bulk ingest and the engine's own
//! operations.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kgdb_plugin_api::sdk::{
    locks, no_table_named, DataDir, OpenOptions, Sharing, StorageBackend, TableRegistry,
};
use kgdb_plugin_api::{
    BatchEntry, Capabilities, NativeStat, PluginError, SortedRun, SyncMode, TableId, TxnOptions,
    WriteBatch, WriteOptions,
};
use rocksdb::checkpoint::Checkpoint;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBCompressionType, ErrorKind,
    IngestExternalFileOptions, OptimisticTransactionOptions, Options, ReadOptions, SstFileWriter,
    WriteBatchWithTransaction,
};

use crate::cell::{TxnCell, TxnParts};
use crate::config::{Compression, RocksConfig};
use crate::engine::{
    entry_position, range_read_options, with_db, Db, Engine, Families, Handle, ReadOnlyDb,
    TABLE_PREFIX,
};
use crate::error::rocks_error;
use crate::txn::RocksTxn;
use crate::{CAPABILITIES, FORMAT_VERSION, PLUGIN_NAME};

const ENGINE: &str = "engine";

/// Attempts at a read-only open that meets files a writing process removed meanwhile.
const READ_ONLY_OPEN_ATTEMPTS: u32 = 5;

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
    /// Opens (or creates) the database in the data directory of `options`: a writing
    /// instance, or (`read_only`) a read-only one, beside any writing process.
    ///
    /// # Errors
    /// `IN_USE`, `INCOMPATIBLE`, `CORRUPTION`, `NOT_FOUND` and I/O failures, with the directory.
    pub fn open(config: &RocksConfig, options: &OpenOptions) -> Result<Self, PluginError> {
        // A read-only instance reads the files as they are and takes no lock.
        let data_dir = DataDir::open(
            options,
            PLUGIN_NAME,
            FORMAT_VERSION,
            Sharing::ReadersBesideWriter,
        )?;
        let dir = data_dir.path().to_owned();
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
        // Two settings for full disks (the Rust binding has no setters for them; the options
        // string is RocksDB's own). No space reserved ahead with fallocate: RocksDB would
        // reserve 1.1 write buffers for each new log and 4 MiB for each manifest, so that even a
        // tiny write needs ~70 MB free. No flush of the logs' contents at open: it writes new
        // table files before the logs can go, so that a store whose disk filled up could not
        // be opened again until as much space as its unflushed logs was free.
        let mut cf_options = Options::default()
            .get_options_from_string("allow_fallocate=false;avoid_flush_during_recovery=true")
            .map_err(|e| rocks_error("setting up the options", &e))?;
        cf_options.set_block_based_table_factory(&table_options);
        cf_options.set_compression_type(compression(config.compression));
        let write_buffer = usize::try_from(config.write_buffer_size.as_u64()).map_err(|_| {
            PluginError::invalid_config("write_buffer_size", "larger than the address space")
        })?;
        cf_options.set_write_buffer_size(write_buffer);
        // Optimistic transactions check conflicts against recent memtables, so each table keeps
        // some flushed ones (a transaction whose snapshot is older than what its tables keep
        // fails with a retryable conflict). Kept memtables are outside the budget below, so
        // they get a share of it: a thirty-second per table, at most one write buffer.
        let budget = usize::try_from(config.memtable_budget.as_u64()).map_err(|_| {
            PluginError::invalid_config("memtable_budget", "larger than the address space")
        })?;
        cf_options.set_max_write_buffer_size_to_maintain(
            i64::try_from(write_buffer.min(budget / 32)).unwrap_or(i64::MAX),
        );
        let mut db_options = cf_options.clone();
        // One bound for the memtables of every table together: without it each of the ~15
        // tables could hold `write_buffer_size` before its first flush.
        db_options.set_db_write_buffer_size(budget);
        db_options.create_if_missing(true);
        db_options.create_missing_column_families(true);
        db_options.set_max_open_files(config.max_open_files);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        db_options.increase_parallelism(i32::try_from(cores).unwrap_or(2));

        // A store that exists is never created anew: without `CURRENT` its other files
        // would be deleted by a fresh database (RocksDB removes files it does not know).
        if !dir.join("CURRENT").exists() && !data_dir.may_create_engine()? {
            return Err(data_dir.missing_engine_file("CURRENT", "missing"));
        }
        let (db, existing) = if options.read_only {
            open_read_only(&dir, db_options, &cf_options)?
        } else {
            open_primary(&dir, &db_options, &cf_options)?
        };
        let mut registry = TableRegistry::new();
        for family in &existing {
            if let Some(name) = family.strip_prefix(TABLE_PREFIX) {
                registry.insert(name, family.clone());
            }
        }
        options.logger.info(
            "kgdb_plugin_rocksdb",
            format_args!(
                "opened {} ({} tables{})",
                dir.display(),
                registry.len(),
                if options.read_only { ", read-only" } else { "" }
            ),
        );
        let engine = Engine {
            db,
            tables: RwLock::new(registry),
            cache,
            cache_capacity: Mutex::new(config.block_cache_size.as_u64()),
            cf_options,
            sync_default: config.sync,
            path: dir,
            ingest_sequence: AtomicU64::new(0),
            logger: options.logger,
            _dir: data_dir,
        };
        Ok(Self {
            engine: RwLock::new(Some(Arc::new(engine))),
        })
    }

    fn engine(&self) -> Result<Arc<Engine>, PluginError> {
        locks::read(&self.engine, ENGINE)?
            .clone()
            .ok_or_else(|| PluginError::closed("the rocksdb backend is closed"))
    }

    fn write_options(engine: &Engine, sync: SyncMode) -> rocksdb::WriteOptions {
        let mut write = rocksdb::WriteOptions::default();
        write.set_sync(engine.sync_for(sync));
        write
    }
}

/// Opens (or creates) `dir` for writing; returns the database and its column families.
fn open_primary(
    dir: &Path,
    db_options: &Options,
    cf_options: &Options,
) -> Result<(Handle, Vec<String>), PluginError> {
    let existing = if dir.join("CURRENT").exists() {
        Db::list_cf(db_options, dir)
            .map_err(|e| rocks_error(&format!("listing the tables of {}", dir.display()), &e))?
    } else {
        vec![rocksdb::DEFAULT_COLUMN_FAMILY_NAME.to_owned()]
    };
    let descriptors = existing
        .iter()
        .map(|name| ColumnFamilyDescriptor::new(name, cf_options.clone()));
    let db = Db::open_cf_descriptors(db_options, dir, descriptors)
        .map_err(|e| rocks_error(&format!("opening {}", dir.display()), &e))?;
    Ok((Handle::Primary(db), existing))
}

/// Whether an open failed on a file that the writer removed after the manifest naming it was
/// read: RocksDB reports it as not found, as an I/O error, or (while reading the manifest's
/// files) as corruption of the manifest naming a file that is "No such file or directory".
fn is_file_gone(error: &rocksdb::Error) -> bool {
    match error.kind() {
        ErrorKind::NotFound | ErrorKind::IOError => true,
        ErrorKind::Corruption => error.as_ref().contains("No such file or directory"),
        _ => false,
    }
}

/// Opens `dir` read-only: the data as it is now, beside any writing process. Every file is
/// kept open (`max_open_files = -1`), so the writer's flushes and compactions cannot take one
/// away; an open that meets a file removed between reading the manifest and opening it is
/// tried again.
fn open_read_only(
    dir: &Path,
    mut db_options: Options,
    cf_options: &Options,
) -> Result<(Handle, Vec<String>), PluginError> {
    db_options.create_if_missing(false);
    db_options.create_missing_column_families(false);
    db_options.set_max_open_files(-1);
    if !dir.join("CURRENT").exists() {
        return Err(PluginError::not_found(format!(
            "{} holds no RocksDB data yet (no CURRENT file)",
            dir.display()
        )));
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let opened = ReadOnlyDb::list_cf(&db_options, dir).and_then(|existing| {
            let descriptors = existing
                .iter()
                .map(|name| ColumnFamilyDescriptor::new(name, cf_options.clone()));
            ReadOnlyDb::open_cf_descriptors_read_only(&db_options, dir, descriptors, false)
                .map(|db| (Handle::ReadOnly(db), existing))
        });
        match opened {
            Ok(opened) => return Ok(opened),
            Err(error) if attempt < READ_ONLY_OPEN_ATTEMPTS && is_file_gone(&error) => {
                std::thread::sleep(Duration::from_millis(20 << attempt));
            }
            Err(error) => {
                return Err(rocks_error(
                    &format!("opening {} read-only", dir.display()),
                    &error,
                ))
            }
        }
    }
}

impl StorageBackend for RocksBackend {
    type Txn = RocksTxn;

    fn capabilities(&self) -> Capabilities {
        let read_only = self
            .engine()
            .is_ok_and(|engine| matches!(engine.db, Handle::ReadOnly(_)));
        if read_only {
            // A checkpoint needs the writing instance too.
            let mut caps = CAPABILITIES.read_only();
            caps.flags &= !Capabilities::CHECKPOINT;
            caps
        } else {
            CAPABILITIES
        }
    }

    fn open_table(&self, name: &str, create: bool) -> Result<TableId, PluginError> {
        let engine = self.engine()?;
        let mut registry = engine.registry_mut()?;
        if let Some(id) = registry.id(name) {
            return Ok(id);
        }
        if !create || matches!(engine.db, Handle::ReadOnly(_)) {
            return Err(no_table_named(name));
        }
        let family = format!("{TABLE_PREFIX}{name}");
        engine
            .primary()?
            .create_cf(&family, &engine.cf_options)
            .map_err(|e| rocks_error(&format!("creating table `{name}`"), &e))?;
        Ok(registry.insert(name, family))
    }

    fn drop_table(&self, name: &str) -> Result<bool, PluginError> {
        let engine = self.engine()?;
        let mut registry = engine.registry_mut()?;
        let Some(id) = registry.id(name) else {
            return Ok(false);
        };
        let family = registry.get(id)?.clone();
        engine
            .primary()?
            .drop_cf(&family)
            .map_err(|e| rocks_error(&format!("dropping table `{name}`"), &e))?;
        registry.remove(name);
        Ok(true)
    }

    fn list_tables(&self) -> Result<Vec<String>, PluginError> {
        let engine = self.engine()?;
        let registry = engine.registry()?;
        Ok(registry.names().map(str::to_owned).collect())
    }

    fn begin(&self, options: TxnOptions) -> Result<RocksTxn, PluginError> {
        let engine = self.engine()?;
        if !options.read_only {
            engine.primary()?;
        }
        let write = Self::write_options(&engine, options.sync);
        let mut txn_options = OptimisticTransactionOptions::default();
        txn_options.set_snapshot(true);
        let read_only = options.read_only;
        let cell = TxnCell::new(engine, |engine| {
            let mut read = ReadOptions::default();
            match &engine.db {
                // A read-only instance sees one unchanging state: nothing to pin.
                Handle::ReadOnly(_) => TxnParts {
                    read,
                    txn: None,
                    snapshot: None,
                },
                // A reader needs only a snapshot, not a transaction (which would allocate a
                // write batch and its index for nothing).
                Handle::Primary(db) if read_only => {
                    let snapshot = db.snapshot();
                    read.set_snapshot(&snapshot);
                    TxnParts {
                        read,
                        txn: None,
                        snapshot: Some(snapshot),
                    }
                }
                Handle::Primary(db) => {
                    let txn = db.transaction_opt(&write, &txn_options);
                    // The read options keep the snapshot the transaction owns; the wrapper
                    // returned by `snapshot()` can go, the snapshot lives as long as the
                    // transaction.
                    read.set_snapshot(&txn.snapshot());
                    TxnParts {
                        read,
                        txn: Some(txn),
                        snapshot: None,
                    }
                }
            }
        });
        Ok(RocksTxn::new(Arc::new(Mutex::new(Some(cell))), read_only))
    }

    fn write_batch(&self, batch: &WriteBatch, options: WriteOptions) -> Result<(), PluginError> {
        let engine = self.engine()?;
        let db = engine.primary()?;
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
                    let iterator = db.raw_iterator_cf_opt(family, range_read_options(start, end));
                    for key in engine.keys_in_range(iterator, start)? {
                        rocks_batch.delete_cf(family, key);
                    }
                }
            }
        }
        db.write_opt(rocks_batch, &Self::write_options(&engine, options.sync))
            .map_err(|e| rocks_error("writing a batch", &e))
    }

    fn ingest_sorted(&self, runs: &[SortedRun], _options: WriteOptions) -> Result<(), PluginError> {
        let engine = self.engine()?;
        let db = engine.primary()?;
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
                    db.ingest_external_file_cf_opts(&family, &ingest, vec![&file])
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
        let db = engine.primary()?;
        let families: Vec<String> = engine
            .registry()?
            .iter()
            .map(|(_, _, family)| family.clone())
            .collect();
        for name in families {
            if let Some(family) = db.cf_handle(&name) {
                db.flush_cf(&family)
                    .map_err(|e| rocks_error("flushing", &e))?;
            }
        }
        db.flush_wal(true)
            .map_err(|e| rocks_error("syncing the write-ahead log", &e))
    }

    fn compact(&self, table: Option<TableId>) -> Result<(), PluginError> {
        let engine = self.engine()?;
        let db = engine.primary()?;
        let ids: Vec<TableId> = match table {
            Some(table) => vec![table],
            None => engine.registry()?.iter().map(|(_, id, _)| id).collect(),
        };
        for id in ids {
            let family = engine.family(id)?;
            db.compact_range_cf(&family, None::<&[u8]>, None::<&[u8]>);
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
        Checkpoint::new(engine.primary()?)
            .and_then(|checkpoint| checkpoint.create_checkpoint(dir))
            .map_err(|e| rocks_error(&format!("checkpoint into {}", dir.display()), &e))?;
        DataDir::mark(dir, PLUGIN_NAME, FORMAT_VERSION)
    }

    fn cache_capacity(&self) -> Result<u64, PluginError> {
        let engine = self.engine()?;
        let capacity = *locks::lock(&engine.cache_capacity, "the block cache capacity")?;
        Ok(capacity)
    }

    fn set_cache_capacity(&self, bytes: u64) -> Result<u64, PluginError> {
        let engine = self.engine()?;
        let capacity = usize::try_from(bytes).map_err(|_| {
            PluginError::invalid_argument(format!(
                "a block cache of {bytes} bytes is larger than the address space"
            ))
        })?;
        let mut recorded = locks::lock(&engine.cache_capacity, "the block cache capacity")?;
        // The clone shares the engine's cache.
        engine.cache.clone().set_capacity(capacity);
        engine.logger.info(
            "kgdb_plugin_rocksdb",
            format_args!("block cache capacity {} -> {bytes} bytes", *recorded),
        );
        Ok(std::mem::replace(&mut *recorded, bytes))
    }

    fn stats(&self) -> Result<Vec<NativeStat>, PluginError> {
        let engine = self.engine()?;
        let db_property = |name: &str| {
            with_db!(&engine.db, db => db.property_int_value(name))
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
                "rocksdb.block-cache-capacity",
                *locks::lock(&engine.cache_capacity, "the block cache capacity")?,
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
            ("rocksdb.size-all-mem-tables", "bytes"),
            ("rocksdb.estimate-table-readers-mem", "bytes"),
        ];
        let mut totals = [0u64; 7];
        let tables: Vec<(String, TableId)> = engine
            .registry()?
            .iter()
            .map(|(name, id, _)| (name.to_owned(), id))
            .collect();
        for (name, id) in tables {
            let family = engine.family(id)?;
            let mut values = [0u64; 7];
            for (index, (property, unit)) in per_table.iter().enumerate() {
                let value =
                    with_db!(&engine.db, db => db.property_int_value_cf(&family, *property))
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
        let engine = locks::write(&self.engine, ENGINE)?.take();
        if let Some(engine) = engine {
            let result = match &engine.db {
                Handle::Primary(db) => db
                    .flush_wal(true)
                    .map_err(|e| rocks_error("syncing the write-ahead log at close", &e)),
                Handle::ReadOnly(_) => Ok(()),
            };
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
