//! The frozen 1.x boundary: the root module a plugin exports and the trait objects it hands out.
//!
//! Everything reachable from [`PluginModule`] is frozen for the whole 1.x series: abi_stable
//! refuses a plugin built against an older minor as soon as one of these types grows. New
//! optional features arrive as separately named extension interfaces answered by
//! [`PluginModule::extension`].

// The `sabi_trait` expansion trips these lints in code we do not write.
#![allow(unused_qualifications, non_local_definitions)]

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RBox, ROption, RResult, RSlice, RStr, RString, RVec},
    type_layout::TypeLayout,
    StableAbi,
};

use crate::{
    Capabilities, KvBatch, NativeStat, PluginError, ScanSpec, SortedRun, TableId, TxnOptions,
    WriteBatch, WriteLimits, WriteOptions,
};

/// A documented configuration key of a plugin, shown by `kgdb-host plugins info`.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct ConfigKey {
    /// The key as written in `[plugin.config]`.
    pub name: RString,
    /// Its type, in words (`byte size`, `bool`, `"lz4" | "zstd"`).
    pub kind: RString,
    /// Its default value, as TOML text, or empty when there is none.
    pub default: RString,
    /// What it does.
    pub doc: RString,
}

/// What a plugin says about itself before any instance is opened.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct PluginInfo {
    /// Short unique name (`memory`, `rocksdb`, …).
    pub name: RString,
    /// The plugin's own version.
    pub version: RString,
    /// The `kgdb-plugin-api` version the plugin was built against.
    pub api_version: RString,
    /// The target triple it was built for.
    pub target: RString,
    /// `debug` or `release`.
    pub profile: RString,
    /// One-line description.
    pub description: RString,
    /// What any instance can do (an instance may report fewer, depending on its config).
    pub capabilities: Capabilities,
    /// Every accepted configuration key.
    pub config_keys: RVec<ConfigKey>,
}

/// Severity of a plugin log record, mapped onto the host's `tracing` levels.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogLevel(pub u8);

impl LogLevel {
    /// Logging disabled (only meaningful as `LogSink::max_level`).
    pub const OFF: Self = Self(0);
    /// Errors.
    pub const ERROR: Self = Self(1);
    /// Warnings.
    pub const WARN: Self = Self(2);
    /// Information.
    pub const INFO: Self = Self(3);
    /// Debugging detail.
    pub const DEBUG: Self = Self(4);
    /// Tracing detail.
    pub const TRACE: Self = Self(5);
}

/// The host's log callback: plugins have their own copies of `tracing`/`log` globals, so their
/// records reach the host only through this.
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct LogSink {
    /// Receives one record: level, target (module path) and message.
    pub log: extern "C" fn(level: LogLevel, target: RStr<'_>, message: RStr<'_>),
    /// Records above this level are dropped by the plugin without formatting them.
    pub max_level: LogLevel,
}

/// Everything `open` needs.
#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct OpenRequest {
    /// Directory the instance stores its data in (created if missing and `create` is set);
    /// empty for backends that store nothing on disk.
    pub data_dir: RString,
    /// The `[plugin.config]` table as TOML text.
    pub config: RString,
    /// Open without writing anything (requires `READ_ONLY_OPEN`).
    pub read_only: bool,
    /// Create the data directory and its files when they do not exist.
    pub create: bool,
    /// Where plugin logs go.
    pub log: LogSink,
}

/// An optional interface added after 1.0, found by id through [`PluginModule::extension`].
///
/// The host checks `layout` against its own definition with
/// `abi_stable::abi_stability::check_layout_compatibility` before using `module`.
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct Extension {
    /// The extension id, such as `kgdb.test-configs.v1`.
    pub id: RStr<'static>,
    /// Layout of the type `module` points to.
    pub layout: &'static TypeLayout,
    /// The extension's module (a prefix type), type-erased.
    pub module: *const (),
}

// SAFETY: `module` points to an immutable, leaked `'static` prefix-type module.
unsafe impl Send for Extension {}
// SAFETY: as above, the pointee is never mutated.
unsafe impl Sync for Extension {}

/// Id of the [`TestConfigsV1`] extension.
pub const TEST_CONFIGS_V1: &str = "kgdb.test-configs.v1";

/// Extension `kgdb.test-configs.v1` (added in 1.1): configs the conformance suite runs a plugin
/// with. A plugin built against 1.0 does not offer it, and the suite then reports what it could
/// not simulate instead.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = TestConfigsV1Ref)))]
#[sabi(missing_field(panic))]
pub struct TestConfigsV1 {
    /// A `[plugin.config]` table (TOML) that makes an instance small enough to fill with a few
    /// MiB of writes, so the suite can check that the write that does not fit fails with
    /// `FULL` and loses nothing.
    #[sabi(last_prefix_field)]
    pub full_config: extern "C" fn() -> ROption<RString>,
}

/// Id of the [`CacheBudgetV1`] extension.
pub const CACHE_BUDGET_V1: &str = "kgdb.cache-budget.v1";

/// Extension `kgdb.cache-budget.v1` (added in 1.3): the capacity of an open instance's own
/// caches (such as RocksDB's block cache), which the host raises for the length of a large
/// load and then sets back. Both functions take the instance the plugin's own `open` returned;
/// an instance of another plugin is refused with `INVALID_ARGUMENT`. A plugin without a cache
/// of its own to size (LMDB reads through the operating system's page cache) answers
/// `UNSUPPORTED`, or does not offer the extension.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = CacheBudgetV1Ref)))]
#[sabi(missing_field(panic))]
pub struct CacheBudgetV1 {
    /// The instance's cache capacity in bytes.
    pub cache_capacity: extern "C" fn(backend: &BackendBox) -> RResult<u64, PluginError>,
    /// Sets the instance's cache capacity to `bytes`, returning the capacity it had. Entries
    /// over a smaller capacity are evicted; nothing stored changes.
    #[sabi(last_prefix_field)]
    pub set_cache_capacity:
        extern "C" fn(backend: &BackendBox, bytes: u64) -> RResult<u64, PluginError>,
}

/// Id of the [`WriteLimitsV1`] extension.
pub const WRITE_LIMITS_V1: &str = "kgdb.write-limits.v1";

/// Extension `kgdb.write-limits.v1` (added in 1.4): the most one commit of an open instance
/// may carry, for a backend whose engine bounds it (etcd's request size and operation count).
/// The host splits loads and copies into commits that fit. The function takes the instance
/// the plugin's own `open` returned (another plugin's is refused with `INVALID_ARGUMENT`) and
/// answers `None` when commits are not bounded; a plugin that does not offer the extension
/// (it predates it) is taken to have no bound.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = WriteLimitsV1Ref)))]
#[sabi(missing_field(panic))]
pub struct WriteLimitsV1 {
    /// The instance's write limits, or `None` when it has none.
    #[sabi(last_prefix_field)]
    pub write_limits:
        extern "C" fn(backend: &BackendBox) -> RResult<ROption<WriteLimits>, PluginError>,
}

/// A cursor over a scan: it reads the snapshot of its transaction, in batches.
#[sabi_trait]
pub trait Cursor: Send {
    /// Clears `out` and fills it with the next rows: at most `max_rows`, and no row that
    /// would take the batch past `max_bytes` of keys and values, except that the first row is
    /// always returned whatever its size. An empty `out` means the scan is over. Once the
    /// transaction has ended, this answers `CLOSED`.
    #[sabi(last_prefix_field)]
    fn next_batch(
        &mut self,
        max_rows: u32,
        max_bytes: u64,
        out: &mut KvBatch,
    ) -> RResult<(), PluginError>;
}

/// A boxed cursor as it crosses the boundary.
pub type CursorBox = Cursor_TO<'static, RBox<()>>;

/// The answer of `Txn::get_many`: one optional value per key asked.
pub type MaybeValues = RVec<ROption<RVec<u8>>>;

/// A transaction. Dropping it without `commit` rolls it back.
#[sabi_trait]
pub trait Txn: Send {
    /// The value of `key`, or none.
    fn get(&self, table: TableId, key: RSlice<'_, u8>) -> RResult<ROption<RVec<u8>>, PluginError>;

    /// The values of many keys of one table, in the order asked.
    fn get_many(
        &self,
        table: TableId,
        keys: RSlice<'_, RSlice<'_, u8>>,
    ) -> RResult<MaybeValues, PluginError>;

    /// A cursor over a key range.
    fn scan(&self, table: TableId, range: ScanSpec) -> RResult<CursorBox, PluginError>;

    /// Inserts or overwrites `key`. Keys are 1 to `max_key_size` bytes (an empty key is
    /// `INVALID_ARGUMENT`); values 0 to `max_value_size` bytes.
    fn put(
        &mut self,
        table: TableId,
        key: RSlice<'_, u8>,
        value: RSlice<'_, u8>,
    ) -> RResult<(), PluginError>;

    /// Removes `key`; an absent key is not an error.
    fn delete(&mut self, table: TableId, key: RSlice<'_, u8>) -> RResult<(), PluginError>;

    /// Removes every key in `[start, end)` (requires `DELETE_RANGE`).
    fn delete_range(
        &mut self,
        table: TableId,
        start: RSlice<'_, u8>,
        end: RSlice<'_, u8>,
    ) -> RResult<(), PluginError>;

    /// Applies every operation of `batch` in order inside this transaction; all or none.
    fn write_batch(&mut self, batch: &WriteBatch) -> RResult<(), PluginError>;

    /// Makes every write visible atomically. Afterwards every call answers `CLOSED`.
    fn commit(&mut self) -> RResult<(), PluginError>;

    /// Discards every write. Afterwards every call answers `CLOSED`.
    #[sabi(last_prefix_field)]
    fn rollback(&mut self) -> RResult<(), PluginError>;
}

/// A boxed transaction as it crosses the boundary.
pub type TxnBox = Txn_TO<'static, RBox<()>>;

/// One open backend instance. Shared between threads; every method takes `&self`.
#[sabi_trait]
pub trait Backend: Send + Sync {
    /// What this instance can do.
    fn capabilities(&self) -> Capabilities;

    /// Opens the table `name`, creating it when `create` is set (`NOT_FOUND` otherwise).
    fn open_table(&self, name: RStr<'_>, create: bool) -> RResult<TableId, PluginError>;

    /// Removes table `name` and its data; `false` if it did not exist.
    fn drop_table(&self, name: RStr<'_>) -> RResult<bool, PluginError>;

    /// The names of every table, sorted.
    fn list_tables(&self) -> RResult<RVec<RString>, PluginError>;

    /// Starts a transaction (requires `TRANSACTIONS`).
    fn begin(&self, options: TxnOptions) -> RResult<TxnBox, PluginError>;

    /// Applies a write batch atomically outside any transaction (requires `ATOMIC_BATCH`).
    fn write_batch(&self, batch: &WriteBatch, options: WriteOptions) -> RResult<(), PluginError>;

    /// Bulk-loads sorted runs (requires `BULK_INGEST`). Each run is applied atomically; all runs
    /// together too when `ATOMIC_MULTI_INGEST` is set.
    fn ingest_sorted(
        &self,
        runs: RSlice<'_, SortedRun>,
        options: WriteOptions,
    ) -> RResult<(), PluginError>;

    /// Writes buffered data to stable storage (requires `FLUSH`).
    fn flush(&self) -> RResult<(), PluginError>;

    /// Compacts one table, or all when none is given (requires `COMPACT`).
    fn compact(&self, table: ROption<TableId>) -> RResult<(), PluginError>;

    /// Writes a consistent copy of the data into the new directory `dir`, which a later `open`
    /// can use as its data directory (requires `CHECKPOINT`).
    fn checkpoint(&self, dir: RStr<'_>) -> RResult<(), PluginError>;

    /// Engine-native statistics (requires `NATIVE_STATS`).
    fn stats(&self) -> RResult<RVec<NativeStat>, PluginError>;

    /// Flushes and releases the instance. Afterwards every call, on it and on its transactions
    /// and cursors, answers `CLOSED`. Dropping the instance closes it too.
    #[sabi(last_prefix_field)]
    fn close(&self) -> RResult<(), PluginError>;
}

/// A boxed backend as it crosses the boundary.
pub type BackendBox = Backend_TO<'static, RBox<()>>;

/// The root module every kgdb plugin exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
#[sabi(missing_field(panic))]
pub struct PluginModule {
    /// What the plugin is.
    pub info: extern "C" fn() -> PluginInfo,
    /// Checks a `[plugin.config]` table (TOML text) without opening anything.
    pub validate_config: extern "C" fn(config: RStr<'_>) -> RResult<(), PluginError>,
    /// Opens a backend instance.
    pub open: extern "C" fn(request: OpenRequest) -> RResult<BackendBox, PluginError>,
    /// An optional interface added in a later 1.x release, or none when the plugin predates it.
    #[sabi(last_prefix_field)]
    pub extension: extern "C" fn(id: RStr<'_>) -> ROption<Extension>,
}

impl RootModule for PluginModuleRef {
    declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = "kgdb_plugin";
    const NAME: &'static str = "kgdb_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}
