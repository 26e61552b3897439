//! The ABI adapter: the only module of the host that names `abi_stable` types. It loads a
//! library, checks it, and turns the boundary's trait objects and `R*` types into plain Rust.
//!
//! Nothing above this module knows abi_stable; nothing below it knows RDF.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use abi_stable::abi_stability::abi_checking::check_layout_compatibility;
use abi_stable::library::{lib_header_from_path, LibraryError};
use abi_stable::pointer_trait::ImmutableRef;
use abi_stable::std_types::{ROption, RResult, RSlice, RStr, RString};
use abi_stable::StableAbi;
use kgdb_plugin_api::abi::{
    BackendBox, CursorBox, PluginModuleRef, TestConfigsV1Ref, TxnBox, TEST_CONFIGS_V1,
};
use kgdb_plugin_api::{
    Capabilities, KvBatch, LogLevel, LogSink, OpenRequest, PluginError, ScanSpec, SortedRun,
    TableId, TxnOptions, WriteBatch, WriteOptions,
};

use crate::error::{BackendError, LoadError};
use crate::stats::{Call, Collector, Op, Tally, Timer};

/// Rows per batch that [`Cursor`]'s iterator asks for.
pub const DEFAULT_BATCH_ROWS: u32 = 512;
/// Bytes per batch that [`Cursor`]'s iterator asks for.
pub const DEFAULT_BATCH_BYTES: u64 = 1 << 20;

fn convert(error: PluginError) -> BackendError {
    BackendError {
        code: error.code,
        message: error.message.into_string(),
        retryable: error.retryable,
        key: error.key.into_string(),
    }
}

fn result<T>(value: RResult<T, PluginError>) -> Result<T, BackendError> {
    value.into_result().map_err(convert)
}

/// A documented config key of a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigKeyInfo {
    /// The key.
    pub name: String,
    /// Its type in words.
    pub kind: String,
    /// Its default as TOML text, or empty.
    pub default: String,
    /// What it does.
    pub doc: String,
}

/// What a plugin says about itself, in plain Rust types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginDetails {
    /// Short unique name.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// The `kgdb-plugin-api` version it was built against.
    pub api_version: String,
    /// Target triple it was built for.
    pub target: String,
    /// `debug` or `release`.
    pub profile: String,
    /// One line.
    pub description: String,
    /// What an instance can do at most.
    pub capabilities: Capabilities,
    /// Accepted config keys.
    pub config_keys: Vec<ConfigKeyInfo>,
}

/// The root module of a loaded library.
#[derive(Clone, Copy)]
pub(crate) struct Module {
    root: PluginModuleRef,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Module")
    }
}

/// The ABI version this host speaks.
#[must_use]
pub fn host_abi_version() -> &'static str {
    kgdb_plugin_api::API_VERSION
}

fn host_abi_major() -> u32 {
    host_abi_version()
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

/// Loads the library at `load_path` (reported as `shown_path`) and checks that it is a kgdb
/// plugin of this host's ABI. The library is never unloaded.
pub(crate) fn load_module(load_path: &Path, shown_path: &Path) -> Result<Module, LoadError> {
    let path = shown_path.to_owned();
    let header =
        lib_header_from_path(load_path).map_err(|error| library_error(&path, load_path, error))?;
    let consts = header.root_mod_consts();
    let name = consts.name().as_str();
    let version = consts.version_strings();
    if name != kgdb_plugin_api::ROOT_MODULE_NAME {
        return Err(LoadError::NotAPlugin {
            path,
            found: format!(
                "an abi_stable library whose root module is `{name}` version {}",
                version.version
            ),
        });
    }
    let root = header
        .init_root_module::<PluginModuleRef>()
        .map_err(|error| library_error(&path, load_path, error))?;
    Ok(Module { root })
}

fn library_error(path: &Path, load_path: &Path, error: LibraryError) -> LoadError {
    let path = path.to_owned();
    let unalias =
        |text: String| text.replace(&*load_path.to_string_lossy(), &path.to_string_lossy());
    match error {
        LibraryError::OpenError { err, .. } => LoadError::Dlopen {
            path: path.clone(),
            message: unalias(err.to_string()),
        },
        LibraryError::GetSymbolError { .. } => LoadError::NotAPlugin {
            path,
            found: "a shared library without it".into(),
        },
        LibraryError::ParseVersionError(error) => LoadError::Other {
            path,
            message: format!("its plugin ABI version string is malformed: {error}"),
        },
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => LoadError::AbiVersion {
            path,
            expected: expected_version.to_string(),
            found: actual_version.to_string(),
            major: host_abi_major(),
        },
        LibraryError::RootModule { err, version, .. } => LoadError::Other {
            path,
            message: format!(
                "the plugin's root module (ABI {}) failed to initialise: {err}",
                version.version
            ),
        },
        LibraryError::AbiInstability(error) => {
            let full = error.to_string();
            tracing::debug!(library = %path.display(), "abi_stable layout check failed:\n{full}");
            let detail = full
                .lines()
                .map(str::trim)
                .find(|line| !line.is_empty())
                .unwrap_or("layouts differ")
                .to_owned();
            LoadError::AbiLayout {
                path,
                expected: host_abi_version().to_owned(),
                found: "1.x".into(),
                detail: format!("{detail} (run with -vv for the full report)"),
            }
        }
        LibraryError::InvalidAbiHeader(header) => LoadError::Other {
            path,
            message: format!(
                "built with an incompatible abi_stable (ABI header {header:?}); expected abi_stable 0.11"
            ),
        },
        LibraryError::InvalidCAbi { expected, found } => LoadError::Other {
            path,
            message: format!("its C ABI differs from the host's: expected {expected}, found {found}"),
        },
        LibraryError::Many(errors) => match errors.into_iter().next() {
            Some(first) => library_error(&path, load_path, first),
            None => LoadError::Other {
                path,
                message: "abi_stable refused the library without saying why".into(),
            },
        },
    }
}

extern "C" fn log_to_tracing(level: LogLevel, target: RStr<'_>, message: RStr<'_>) {
    let (target, message) = (target.as_str(), message.as_str());
    match level {
        LogLevel::ERROR => tracing::error!(target: "kgdb::plugin", plugin = target, "{message}"),
        LogLevel::WARN => tracing::warn!(target: "kgdb::plugin", plugin = target, "{message}"),
        LogLevel::INFO => tracing::info!(target: "kgdb::plugin", plugin = target, "{message}"),
        LogLevel::DEBUG => tracing::debug!(target: "kgdb::plugin", plugin = target, "{message}"),
        _ => tracing::trace!(target: "kgdb::plugin", plugin = target, "{message}"),
    }
}

fn log_sink() -> LogSink {
    use tracing::level_filters::LevelFilter;
    let max_level = match LevelFilter::current() {
        LevelFilter::OFF => LogLevel::OFF,
        LevelFilter::ERROR => LogLevel::ERROR,
        LevelFilter::WARN => LogLevel::WARN,
        LevelFilter::INFO => LogLevel::INFO,
        LevelFilter::DEBUG => LogLevel::DEBUG,
        _ => LogLevel::TRACE,
    };
    LogSink {
        log: log_to_tracing,
        max_level,
    }
}

/// How to open a backend instance.
#[derive(Debug, Clone, Default)]
pub struct OpenSettings {
    /// Where the instance keeps its data (`None` for backends that keep nothing on disk).
    pub data_dir: Option<PathBuf>,
    /// The `[plugin.config]` table as TOML text.
    pub config: String,
    /// Open without writing.
    pub read_only: bool,
    /// Create the data directory when missing.
    pub create: bool,
}

impl Module {
    pub(crate) fn details(self) -> PluginDetails {
        let info = (self.root.info())();
        PluginDetails {
            name: info.name.into_string(),
            version: info.version.into_string(),
            api_version: info.api_version.into_string(),
            target: info.target.into_string(),
            profile: info.profile.into_string(),
            description: info.description.into_string(),
            capabilities: info.capabilities,
            config_keys: info
                .config_keys
                .into_iter()
                .map(|key| ConfigKeyInfo {
                    name: key.name.into_string(),
                    kind: key.kind.into_string(),
                    default: key.default.into_string(),
                    doc: key.doc.into_string(),
                })
                .collect(),
        }
    }

    pub(crate) fn validate_config(self, config: &str) -> Result<(), BackendError> {
        result((self.root.validate_config())(RStr::from_str(config)))
    }

    pub(crate) fn open(self, settings: &OpenSettings) -> Result<Backend, BackendError> {
        let request = OpenRequest {
            data_dir: settings
                .data_dir
                .as_ref()
                .map(|dir| dir.to_string_lossy().into_owned())
                .unwrap_or_default()
                .into(),
            config: settings.config.clone().into(),
            read_only: settings.read_only,
            create: settings.create,
            log: log_sink(),
        };
        let inner = result((self.root.open())(request))?;
        Ok(Backend {
            inner,
            collector: Arc::new(Collector::new()),
        })
    }

    /// Whether the plugin offers extension interface `id`.
    pub(crate) fn has_extension(self, id: &str) -> bool {
        (self.root.extension())(RStr::from_str(id)).is_some()
    }

    /// The `kgdb.test-configs.v1` extension's full-store config: `Ok(None)` when the plugin does
    /// not offer the extension (it predates it) or has no such config.
    ///
    /// # Errors
    /// The plugin offers the extension with a layout this host does not know.
    pub(crate) fn full_config_for_tests(self) -> Result<Option<String>, String> {
        let Some(extension) =
            (self.root.extension())(RStr::from_str(TEST_CONFIGS_V1)).into_option()
        else {
            return Ok(None);
        };
        if extension.id.as_str() != TEST_CONFIGS_V1 || extension.module.is_null() {
            return Err(format!(
                "answered {TEST_CONFIGS_V1} with extension {:?}",
                extension.id.as_str()
            ));
        }
        check_layout_compatibility(<TestConfigsV1Ref as StableAbi>::LAYOUT, extension.layout)
            .map_err(|error| {
                let detail = error.to_string();
                format!(
                    "its {TEST_CONFIGS_V1} layout differs from the host's: {}",
                    detail
                        .lines()
                        .map(str::trim)
                        .find(|l| !l.is_empty())
                        .unwrap_or("")
                )
            })?;
        let module = Self::test_configs_module(extension.module);
        Ok((module.full_config())()
            .into_option()
            .map(RString::into_string))
    }

    /// The extension module behind `pointer`, once its id and layout were checked.
    #[allow(unsafe_code)]
    fn test_configs_module(pointer: *const ()) -> TestConfigsV1Ref {
        // SAFETY: `pointer` is the non-null `module` of an `Extension` answered for
        // `kgdb.test-configs.v1`, whose layout abi_stable just found compatible with
        // `TestConfigsV1Ref`; the SDK makes it from `TestConfigsV1Ref::to_raw_ptr` of a module in
        // static memory, and libraries are never unloaded, so it stays valid.
        let module = unsafe { TestConfigsV1Ref::from_raw_ptr(pointer.cast()) };
        module.unwrap_or_else(|| unreachable!("checked non-null above"))
    }
}

/// An engine-native statistic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatEntry {
    /// The engine's name for it.
    pub name: String,
    /// Its value.
    pub value: u64,
    /// Its unit, or empty.
    pub unit: String,
}

/// An open backend instance. Shareable between threads; closed when dropped. Every call through
/// it, its transactions and cursors is counted by its [`Collector`].
pub struct Backend {
    inner: BackendBox,
    collector: Arc<Collector>,
}

/// Where a call is counted: the collector, through the caller's [`Tally`] when it has one (a
/// transaction does; the backend and cursors count straight into the collector).
#[derive(Clone, Copy)]
struct Meter<'a> {
    collector: &'a Collector,
    tally: Option<&'a Tally>,
}

impl<'a> Meter<'a> {
    fn direct(collector: &'a Collector) -> Self {
        Self {
            collector,
            tally: None,
        }
    }

    fn through(collector: &'a Collector, tally: &'a Tally) -> Self {
        Self {
            collector,
            tally: Some(tally),
        }
    }

    /// Runs `call` as one `op`; `bytes_out` measures a successful result.
    fn measure<T>(
        self,
        op: Op,
        table: Option<TableId>,
        bytes_in: usize,
        call: impl FnOnce() -> Result<T, BackendError>,
        bytes_out: impl FnOnce(&T) -> usize,
    ) -> Result<T, BackendError> {
        let timer = self.start(op);
        let outcome = call();
        self.note(table, bytes_in, timer, &outcome, bytes_out);
        outcome
    }

    /// Starts a call (see [`Meter::note`]).
    fn start(self, op: Op) -> Option<Timer> {
        match self.tally {
            Some(tally) => self.collector.start_in(tally, op),
            None => self.collector.start(op),
        }
    }

    /// Records one call's outcome; `bytes_out` measures a successful result.
    fn note<T>(
        self,
        table: Option<TableId>,
        bytes_in: usize,
        timer: Option<Timer>,
        outcome: &Result<T, BackendError>,
        bytes_out: impl FnOnce(&T) -> usize,
    ) {
        let Some(timer) = timer else {
            return;
        };
        let (out, error) = match outcome {
            Ok(value) => (bytes_out(value), None),
            Err(error) => (0, Some(error.code)),
        };
        let call = Call {
            table: table.map(|t| t.0),
            bytes_in: bytes_in as u64,
            bytes_out: out as u64,
        };
        match self.tally {
            Some(tally) => self.collector.finish_in(tally, timer, call, error),
            None => self.collector.finish(timer, call, error),
        }
    }
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("capabilities", &self.capabilities())
            .finish()
    }
}

impl Backend {
    /// What this instance can do.
    #[must_use]
    pub fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    /// The operation stats of this instance.
    #[must_use]
    pub fn collector(&self) -> &Arc<Collector> {
        &self.collector
    }

    /// Opens table `name`, creating it if `create`.
    ///
    /// # Errors
    /// `NOT_FOUND` when absent and not `create`; engine failures.
    pub fn open_table(&self, name: &str, create: bool) -> Result<TableId, BackendError> {
        let id = result(self.inner.open_table(RStr::from_str(name), create))?;
        self.collector.name_table(id.0, name);
        Ok(id)
    }

    /// Drops table `name`; `false` if it did not exist.
    ///
    /// # Errors
    /// Engine failures.
    pub fn drop_table(&self, name: &str) -> Result<bool, BackendError> {
        result(self.inner.drop_table(RStr::from_str(name)))
    }

    /// Every table name, sorted.
    ///
    /// # Errors
    /// Engine failures.
    pub fn list_tables(&self) -> Result<Vec<String>, BackendError> {
        Ok(result(self.inner.list_tables())?
            .into_iter()
            .map(|name| name.into_string())
            .collect())
    }

    /// Starts a transaction.
    ///
    /// # Errors
    /// `UNSUPPORTED` without transactions; engine failures.
    pub fn begin(&self, options: TxnOptions) -> Result<Transaction, BackendError> {
        let inner = Meter::direct(&self.collector).measure(
            Op::Begin,
            None,
            0,
            || result(self.inner.begin(options)),
            |_| 0,
        )?;
        Ok(Transaction {
            inner,
            collector: Arc::clone(&self.collector),
            tally: Tally::default(),
            finished: false,
            read_only: options.read_only,
        })
    }

    /// Applies a batch atomically outside transactions.
    ///
    /// # Errors
    /// `UNSUPPORTED` without `ATOMIC_BATCH`; engine failures.
    pub fn write_batch(
        &self,
        batch: &WriteBatch,
        options: WriteOptions,
    ) -> Result<(), BackendError> {
        Meter::direct(&self.collector).measure(
            Op::WriteBatch,
            None,
            batch.byte_len(),
            || result(self.inner.write_batch(batch, options)),
            |()| 0,
        )
    }

    /// Bulk-loads sorted runs.
    ///
    /// # Errors
    /// `UNSUPPORTED` without `BULK_INGEST`; `INVALID_ARGUMENT` for unsorted runs.
    pub fn ingest_sorted(
        &self,
        runs: &[SortedRun],
        options: WriteOptions,
    ) -> Result<(), BackendError> {
        Meter::direct(&self.collector).measure(
            Op::Ingest,
            None,
            runs.iter().map(|run| run.rows.byte_len()).sum(),
            || result(self.inner.ingest_sorted(RSlice::from_slice(runs), options)),
            |()| 0,
        )
    }

    /// Writes buffered data to stable storage.
    ///
    /// # Errors
    /// `UNSUPPORTED` without `FLUSH`.
    pub fn flush(&self) -> Result<(), BackendError> {
        result(self.inner.flush())
    }

    /// Compacts one table or all.
    ///
    /// # Errors
    /// `UNSUPPORTED` without `COMPACT`.
    pub fn compact(&self, table: Option<TableId>) -> Result<(), BackendError> {
        result(self.inner.compact(ROption::from(table)))
    }

    /// Writes a consistent copy into the new directory `dir`.
    ///
    /// # Errors
    /// `UNSUPPORTED` without `CHECKPOINT`.
    pub fn checkpoint(&self, dir: &Path) -> Result<(), BackendError> {
        result(
            self.inner
                .checkpoint(RStr::from_str(&dir.to_string_lossy())),
        )
    }

    /// Engine-native statistics.
    ///
    /// # Errors
    /// `UNSUPPORTED` without `NATIVE_STATS`.
    pub fn stats(&self) -> Result<Vec<StatEntry>, BackendError> {
        Ok(result(self.inner.stats())?
            .into_iter()
            .map(|stat| StatEntry {
                name: stat.name.into_string(),
                value: stat.value,
                unit: stat.unit.into_string(),
            })
            .collect())
    }

    /// Flushes and closes; every later call answers `CLOSED`.
    ///
    /// # Errors
    /// Engine failures while flushing.
    pub fn close(&self) -> Result<(), BackendError> {
        result(self.inner.close())
    }
}

/// A transaction; dropped without `commit`, it rolls back.
pub struct Transaction {
    inner: TxnBox,
    collector: Arc<Collector>,
    /// This transaction's counts, folded into the collector when it ends.
    tally: Tally,
    /// Committed or rolled back explicitly; otherwise dropping a read-write transaction counts
    /// as a rollback (a read-only one just ends).
    finished: bool,
    read_only: bool,
}

impl Drop for Transaction {
    fn drop(&mut self) {
        self.collector.fold(&self.tally);
        if !self.finished && !self.read_only {
            self.collector
                .record(Op::Rollback, Call::default(), Duration::ZERO, None);
        }
    }
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transaction")
    }
}

impl Transaction {
    /// The value of `key`, if any.
    ///
    /// # Errors
    /// Engine failures; `CLOSED` after the transaction ended.
    pub fn get(&self, table: TableId, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        Meter::through(&self.collector, &self.tally).measure(
            Op::Get,
            Some(table),
            key.len(),
            || {
                result(self.inner.get(table, RSlice::from_slice(key)))
                    .map(|value| value.into_option().map(|value| value.into_vec()))
            },
            |v| v.as_ref().map_or(0, Vec::len),
        )
    }

    /// The values of many keys, in order.
    ///
    /// # Errors
    /// As [`Transaction::get`].
    pub fn get_many(
        &self,
        table: TableId,
        keys: &[&[u8]],
    ) -> Result<Vec<Option<Vec<u8>>>, BackendError> {
        let bytes_in = keys.iter().map(|key| key.len()).sum();
        Meter::through(&self.collector, &self.tally).measure(
            Op::GetMany,
            Some(table),
            bytes_in,
            || {
                let keys: Vec<RSlice<'_, u8>> =
                    keys.iter().map(|key| RSlice::from_slice(key)).collect();
                result(self.inner.get_many(table, RSlice::from_slice(&keys))).map(|values| {
                    values
                        .into_iter()
                        .map(|value| value.into_option().map(|v| v.into_vec()))
                        .collect::<Vec<_>>()
                })
            },
            |values| values.iter().flatten().map(Vec::len).sum(),
        )
    }

    /// A cursor over `range`.
    ///
    /// # Errors
    /// Engine failures; `UNSUPPORTED` for a reverse scan without `REVERSE_SCAN`.
    pub fn scan(&self, table: TableId, range: ScanSpec) -> Result<Cursor, BackendError> {
        let bytes_in = range.start.len() + range.end.len();
        let inner = Meter::through(&self.collector, &self.tally).measure(
            Op::Scan,
            Some(table),
            bytes_in,
            || result(self.inner.scan(table, range)),
            |_| 0,
        )?;
        Ok(Cursor {
            inner,
            batch: KvBatch::new(),
            position: 0,
            finished: false,
            table,
            collector: Arc::clone(&self.collector),
        })
    }

    /// Inserts or overwrites.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` over the size limits; `READ_ONLY`; engine failures.
    pub fn put(&mut self, table: TableId, key: &[u8], value: &[u8]) -> Result<(), BackendError> {
        Meter::through(&self.collector, &self.tally).measure(
            Op::Put,
            Some(table),
            key.len() + value.len(),
            || {
                result(
                    self.inner
                        .put(table, RSlice::from_slice(key), RSlice::from_slice(value)),
                )
            },
            |()| 0,
        )
    }

    /// Removes a key.
    ///
    /// # Errors
    /// As [`Transaction::put`].
    pub fn delete(&mut self, table: TableId, key: &[u8]) -> Result<(), BackendError> {
        Meter::through(&self.collector, &self.tally).measure(
            Op::Delete,
            Some(table),
            key.len(),
            || result(self.inner.delete(table, RSlice::from_slice(key))),
            |()| 0,
        )
    }

    /// Removes `[start, end)`.
    ///
    /// # Errors
    /// `UNSUPPORTED` without `DELETE_RANGE`.
    pub fn delete_range(
        &mut self,
        table: TableId,
        start: &[u8],
        end: &[u8],
    ) -> Result<(), BackendError> {
        Meter::through(&self.collector, &self.tally).measure(
            Op::DeleteRange,
            Some(table),
            start.len() + end.len(),
            || {
                result(self.inner.delete_range(
                    table,
                    RSlice::from_slice(start),
                    RSlice::from_slice(end),
                ))
            },
            |()| 0,
        )
    }

    /// Applies a batch inside the transaction, all or none.
    ///
    /// # Errors
    /// As [`Transaction::put`].
    pub fn write_batch(&mut self, batch: &WriteBatch) -> Result<(), BackendError> {
        Meter::through(&self.collector, &self.tally).measure(
            Op::WriteBatch,
            None,
            batch.byte_len(),
            || result(self.inner.write_batch(batch)),
            |()| 0,
        )
    }

    /// Commits atomically.
    ///
    /// # Errors
    /// Retryable `CONFLICT` on a write-write conflict; engine failures. Either way the
    /// transaction is over.
    pub fn commit(mut self) -> Result<(), BackendError> {
        self.finished = true;
        Meter::direct(&self.collector).measure(
            Op::Commit,
            None,
            0,
            || result(self.inner.commit()),
            |()| 0,
        )
    }

    /// Rolls back.
    ///
    /// # Errors
    /// Engine failures.
    pub fn rollback(mut self) -> Result<(), BackendError> {
        self.finished = true;
        Meter::direct(&self.collector).measure(
            Op::Rollback,
            None,
            0,
            || result(self.inner.rollback()),
            |()| 0,
        )
    }
}

/// A scan cursor: batches through [`Cursor::next_batch`], or rows through `Iterator`.
pub struct Cursor {
    inner: CursorBox,
    batch: KvBatch,
    position: usize,
    finished: bool,
    table: TableId,
    collector: Arc<Collector>,
}

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cursor")
    }
}

impl Cursor {
    /// The next batch (empty at the end of the scan).
    ///
    /// # Errors
    /// Engine failures; `CLOSED` once the transaction ended.
    pub fn next_batch(&mut self, max_rows: u32, max_bytes: u64) -> Result<&KvBatch, BackendError> {
        self.position = 0;
        let meter = Meter::direct(&self.collector);
        let started = meter.start(Op::Batch);
        let outcome = result(self.inner.next_batch(max_rows, max_bytes, &mut self.batch));
        let bytes_out = self.batch.byte_len();
        meter.note(Some(self.table), 0, started, &outcome, |()| bytes_out);
        outcome?;
        if self.collector.enabled() {
            self.collector.rows(self.batch.len() as u64);
        }
        if self.batch.is_empty() {
            self.finished = true;
        }
        Ok(&self.batch)
    }
}

impl Iterator for Cursor {
    type Item = Result<(Vec<u8>, Vec<u8>), BackendError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((key, value)) = self.batch.get(self.position) {
                self.position += 1;
                return Some(Ok((key.to_vec(), value.to_vec())));
            }
            if self.finished {
                return None;
            }
            if let Err(error) = self.next_batch(DEFAULT_BATCH_ROWS, DEFAULT_BATCH_BYTES) {
                self.finished = true;
                return Some(Err(error));
            }
        }
    }
}
