//! The backend: opening the environment in its data directory, tables, batches outside
//! transactions, and the engine's own operations (flush, checkpoint, stats, close).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};

use heed::types::Bytes;
use heed::{EnvFlags, EnvOpenOptions, MdbError};
use kgdb_plugin_api::sdk::{
    locks, no_table_named, DataDir, OpenOptions, Sharing, StorageBackend, TableRegistry,
};
use kgdb_plugin_api::{
    Capabilities, ErrorCode, NativeStat, PluginError, SortedRun, TableId, TxnOptions, WriteBatch,
    WriteOptions,
};

use crate::config::LmdbConfig;
use crate::error::lmdb_error;
use crate::gate::ReaderGate;
use crate::shared::{Db, Shared, Snapshot};
use crate::txn::LmdbTxn;
use crate::writer::Writer;
use crate::{CAPABILITIES, FORMAT_VERSION, MAX_KEY_SIZE, PLUGIN_NAME};

const BACKEND: &str = "backend";

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
    /// Opens (or creates) the environment in the data directory of `options`.
    ///
    /// # Errors
    /// `IN_USE`, `INCOMPATIBLE`, `CORRUPTION`, `NOT_FOUND` and I/O failures, with the directory.
    pub fn open(config: &LmdbConfig, options: &OpenOptions) -> Result<Self, PluginError> {
        // LMDB's own lock file lets reading processes work beside the writing one.
        let data_dir = DataDir::open(
            options,
            PLUGIN_NAME,
            FORMAT_VERSION,
            Sharing::ReadersBesideWriter,
        )?;
        let dir = data_dir.path().to_owned();
        let dir = dir.as_path();
        // A store that exists is never created anew: LMDB would start an empty environment in
        // place of a missing or empty `data.mdb`.
        let data_file = std::fs::metadata(dir.join("data.mdb"));
        if !data_file.as_ref().is_ok_and(|meta| meta.len() > 0) && !data_dir.may_create_engine()? {
            let what = if data_file.is_ok() {
                "empty"
            } else {
                "missing"
            };
            return Err(data_dir.missing_engine_file("data.mdb", what));
        }
        let mut env_options = EnvOpenOptions::new().read_txn_without_tls();
        let map_size = usize::try_from(config.map_bytes()).map_err(|_| {
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
        // under it: a writer's `DataDir` holds `kgdb.lock`, which keeps every other writing kgdb
        // process out of the directory for as long as this backend lives; other processes
        // only read, through LMDB's own multi-process protocol (its `lock.mdb` reader table),
        // which is what LMDB is built for; and heed refuses a second environment on the same
        // path in this process.
        let env = unsafe { env_options.open(dir) }
            .map_err(|e| lmdb_error(&format!("opening {}", dir.display()), e))?;
        check_file_length(&env, dir)?;
        let mut registry = TableRegistry::new();
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
            read_only: options.read_only,
            gate: Arc::new(ReaderGate::default()),
            max_map_size: config.max_map_size.map(|m| m.as_u64()),
            resize_wait: config.resize_wait(),
            resizes: AtomicU64::new(0),
            logger: options.logger,
            map_lost: std::sync::OnceLock::new(),
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
                shared.registry()?.len(),
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
        locks::read(&self.open, BACKEND)?
            .as_ref()
            .map(|open| Arc::clone(&open.shared))
            .ok_or_else(Self::closed)
    }

    /// Runs `body` with the writer, without holding the backend's lock while it waits.
    fn writer<T>(
        &self,
        body: impl FnOnce(&Writer) -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        let writer = locks::read(&self.open, BACKEND)?
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
        let mut caps = if self.read_only {
            // A read-only environment cannot sync either; a checkpoint only reads.
            CAPABILITIES.read_only()
        } else {
            CAPABILITIES
        };
        caps.max_key_size = MAX_KEY_SIZE.min(engine_max);
        caps
    }

    fn open_table(&self, name: &str, create: bool) -> Result<TableId, PluginError> {
        let shared = self.shared()?;
        if let Some(id) = shared.registry()?.id(name) {
            return Ok(id);
        }
        if self.read_only {
            // The writing process may have created it since this instance opened.
            return open_existing(&shared, name)?.ok_or_else(|| no_table_named(name));
        }
        if !create {
            return Err(no_table_named(name));
        }
        let name = name.to_owned();
        self.writer(|writer| {
            writer.run(move |shared| {
                let mut registry = shared.registry_mut()?;
                if let Some(id) = registry.id(&name) {
                    return Ok(id);
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
                        .with_key("max_tables")
                    } else {
                        e
                    }
                })?;
                Ok(registry.insert(&name, db))
            })
        })
    }

    fn drop_table(&self, name: &str) -> Result<bool, PluginError> {
        if self.shared()?.registry()?.id(name).is_none() {
            return Ok(false);
        }
        let name = name.to_owned();
        self.writer(|writer| {
            writer.run(move |shared| {
                let mut registry = shared.registry_mut()?;
                let Some(id) = registry.id(&name) else {
                    return Ok(false);
                };
                let db = *registry.get(id)?;
                let mut wtxn = shared.write_txn("dropping a table")?;
                // SAFETY: the handle is removed from the registry below while its write lock is
                // held, so no transaction, cursor or the writer can use it again; every reader
                // looks tables up through the registry on each call.
                unsafe { db.remove(&mut wtxn) }
                    .map_err(|e| lmdb_error(&format!("dropping table `{name}`"), e))?;
                wtxn.commit()
                    .map_err(|e| lmdb_error(&format!("dropping table `{name}`"), e))?;
                registry.remove(&name);
                Ok(true)
            })
        })
    }

    fn list_tables(&self) -> Result<Vec<String>, PluginError> {
        Ok(self
            .shared()?
            .registry()?
            .names()
            .map(str::to_owned)
            .collect())
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
        // The writer thread owns every write transaction: the runs go to it (a copy, as a
        // write batch would be).
        let runs = runs.to_vec();
        self.writer(|writer| writer.run_long(move |shared| crate::ingest::ingest(shared, &runs)))
    }

    fn flush(&self) -> Result<(), PluginError> {
        let shared = self.shared()?;
        shared.env.force_sync().map_err(|e| {
            kgdb_plugin_api::sdk::or_disk_full(lmdb_error("syncing to disk", e), shared.env.path())
        })
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
        // Pages the tables' trees hold: the main database's (the table list) to begin with.
        let mut tree_pages = (stat.branch_pages + stat.leaf_pages + stat.overflow_pages) as u64;
        for (name, _, db) in registry.iter() {
            let table = match db.stat(&snapshot.rtxn) {
                Ok(table) => table,
                // A reader's handle of a table the writing process has dropped since.
                Err(heed::Error::Mdb(MdbError::NotFound | MdbError::BadDbi)) if self.read_only => {
                    continue
                }
                Err(e) => return Err(lmdb_error(&format!("reading statistics of `{name}`"), e)),
            };
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
            tree_pages += pages as u64;
            stats.push(NativeStat::table_bytes(name, pages as u64 * page_size));
        }
        // The rest of the used pages, but LMDB's two meta pages, are free: on its free list
        // (whose own few pages are counted with them), reused by later writes.
        stats.push(NativeStat::new(
            "lmdb.free_pages",
            pages_used.saturating_sub(2 + tree_pages),
            "pages",
        ));
        stats.push(NativeStat::new("lmdb.entries", entries, "keys"));
        stats.push(NativeStat::new("lmdb.depth", depth, "count"));
        Ok(stats)
    }

    fn close(&self) -> Result<(), PluginError> {
        let open = locks::write(&self.open, BACKEND)?.take();
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

/// Opens table `name` if the environment holds it and registers it (a read-only instance
/// learns of tables the writing process created after it opened).
fn open_existing(shared: &Shared, name: &str) -> Result<Option<TableId>, PluginError> {
    let mut registry = shared.registry_mut()?;
    if let Some(id) = registry.id(name) {
        return Ok(Some(id));
    }
    let snapshot = Snapshot::begin(shared)?;
    let db: Option<Db> = shared
        .env
        .open_database(&snapshot.rtxn, Some(name))
        .map_err(|e| lmdb_error(&format!("opening table `{name}`"), e))?;
    // A handle opened in a read transaction lasts beyond it once the transaction commits.
    snapshot.commit()?;
    Ok(db.map(|db| registry.insert(name, db)))
}

/// Refuses a `data.mdb` shorter than the pages LMDB's meta page says are in use: reading a
/// page past the end of a memory-mapped file kills the process with `SIGBUS`. (LMDB keeps no
/// page checksums: bytes damaged inside the file are not detected; see README.)
fn check_file_length(env: &crate::shared::Env, dir: &Path) -> Result<(), PluginError> {
    let needed = crate::shared::used_bytes(env);
    let file = dir.join(crate::shared::DATA_FILE);
    let len = std::fs::metadata(&file)
        .map_err(|e| {
            let mut error = PluginError::from(e);
            error.message = format!("{}: {}", file.display(), error.message).into();
            error
        })?
        .len();
    if len < needed {
        return Err(PluginError::new(
            ErrorCode::CORRUPTION,
            format!(
                "{}: truncated: {len} bytes, but LMDB's meta page says {needed} are in use; nothing was changed, restore the file from a backup",
                file.display()
            ),
        ));
    }
    Ok(())
}
