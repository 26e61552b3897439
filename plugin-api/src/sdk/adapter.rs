//! Generic glue from the SDK traits to the ABI trait objects. Everything here is monomorphised
//! inside the plugin by [`export_plugin!`](crate::export_plugin).
//!
//! Every call goes through [`guard`], which refuses calls on a poisoned, closed or finished
//! object and catches panics. The capability, size-limit and read-only checks live here too, so
//! every plugin answers them the same way.

use std::any::Any;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use abi_stable::{
    prefix_type::{PrefixTypeTrait, WithMetadata},
    sabi_trait::TD_Opaque,
    std_types::{ROption, RResult, RSlice, RStr, RString, RVec},
    StableAbi,
};

use super::{OpenOptions, Plugin, StorageBackend, StorageCursor, StorageTxn};
use crate::abi::{
    Backend, BackendBox, Backend_TO, Cursor, CursorBox, Cursor_TO, PluginModule, PluginModuleRef,
    TestConfigsV1, TestConfigsV1Ref, Txn, TxnBox, Txn_TO, TEST_CONFIGS_V1,
};
use crate::{
    BatchEntry, Capabilities, ConfigKey, Extension, KvBatch, NativeStat, OpenRequest, PluginError,
    PluginInfo, ScanSpec, SortedRun, TableId, TxnOptions, WriteBatch, WriteOptions,
};

/// State shared by one backend instance and every transaction and cursor it made.
struct Instance {
    /// Set once, by the first panic: every later call is refused with this message.
    poison: OnceLock<String>,
    closed: AtomicBool,
    capabilities: Capabilities,
}

impl Instance {
    fn check(&self) -> Result<(), PluginError> {
        if let Some(reason) = self.poison.get() {
            return Err(PluginError::internal(format!(
                "this plugin instance is poisoned: {reason}"
            )));
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(PluginError::closed("the backend instance is closed"));
        }
        Ok(())
    }

    fn require(&self, bit: u64, operation: &str) -> Result<(), PluginError> {
        if self.capabilities.has(bit) {
            Ok(())
        } else {
            Err(PluginError::unsupported(operation))
        }
    }

    fn check_sync(&self, sync: crate::SyncMode) -> Result<(), PluginError> {
        if sync == crate::SyncMode::SYNC {
            self.require(Capabilities::DURABLE_SYNC, "a durable (sync) commit")?;
        }
        Ok(())
    }

    /// A key to write or delete: 1 to `max_key_size` bytes; a value: up to `max_value_size`.
    fn check_sizes(&self, key: &[u8], value: Option<&[u8]>) -> Result<(), PluginError> {
        if key.is_empty() {
            return Err(PluginError::invalid_argument("a key cannot be empty").with_key("key"));
        }
        self.check_bound(key)?;
        if let Some(value) = value {
            let limit = self.capabilities.max_value_size;
            if value.len() > limit as usize {
                return Err(PluginError::invalid_argument(format!(
                    "value of {} bytes is over this backend's limit of {limit} bytes",
                    value.len()
                ))
                .with_key("value"));
            }
        }
        Ok(())
    }

    /// A range bound: up to `max_key_size` bytes (empty is allowed).
    fn check_bound(&self, key: &[u8]) -> Result<(), PluginError> {
        let limit = self.capabilities.max_key_size;
        if key.len() > limit as usize {
            return Err(PluginError::invalid_argument(format!(
                "key of {} bytes is over this backend's limit of {limit} bytes",
                key.len()
            ))
            .with_key("key"));
        }
        Ok(())
    }

    fn check_batch(&self, batch: &WriteBatch) -> Result<(), PluginError> {
        for entry in batch.iter() {
            match entry? {
                BatchEntry::Put { key, value, .. } => self.check_sizes(key, Some(value))?,
                BatchEntry::Delete { key, .. } => self.check_sizes(key, None)?,
                BatchEntry::DeleteRange { start, end, .. } => {
                    self.require(Capabilities::DELETE_RANGE, "delete_range")?;
                    self.check_bound(start)?;
                    self.check_bound(end)?;
                }
            }
        }
        Ok(())
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-text payload".to_owned()
    }
}

/// Runs `body` for `operation` unless `instance` is poisoned or closed, turning a panic into
/// an `INTERNAL` error that poisons the instance.
fn guard<T>(
    instance: &Instance,
    operation: &str,
    body: impl FnOnce() -> Result<T, PluginError>,
) -> RResult<T, PluginError> {
    let outcome = instance
        .check()
        .and_then(|()| match catch_unwind(AssertUnwindSafe(body)) {
            Ok(result) => result,
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                let reason = format!("{operation} panicked: {message}");
                let _ = instance.poison.set(reason.clone());
                Err(PluginError::internal(format!(
                    "{reason} (this instance is now poisoned)"
                )))
            }
        });
    outcome.into()
}

/// Like [`guard`] for the root-module entry points, which have no instance to poison.
fn guard_entry<T>(
    operation: &str,
    body: impl FnOnce() -> Result<T, PluginError>,
) -> RResult<T, PluginError> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result.into(),
        Err(payload) => RResult::RErr(PluginError::internal(format!(
            "{operation} panicked: {}",
            panic_message(payload.as_ref())
        ))),
    }
}

/// Drops `value` without letting a panic escape (a destructor runs across the boundary too).
fn drop_quietly<T>(instance: &Instance, what: &str, value: T) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
        let _ = instance.poison.set(format!(
            "dropping a {what} panicked: {}",
            panic_message(payload.as_ref())
        ));
    }
}

struct BackendAdapter<B: StorageBackend> {
    inner: Option<B>,
    instance: Arc<Instance>,
}

impl<B: StorageBackend> BackendAdapter<B> {
    fn inner(&self) -> Result<&B, PluginError> {
        self.inner
            .as_ref()
            .ok_or_else(|| PluginError::closed("the backend instance is closed"))
    }

    fn run<T>(
        &self,
        operation: &str,
        body: impl FnOnce(&B) -> Result<T, PluginError>,
    ) -> RResult<T, PluginError> {
        guard(&self.instance, operation, || body(self.inner()?))
    }
}

impl<B: StorageBackend> Drop for BackendAdapter<B> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            if self.instance.check().is_ok() {
                let _ = guard(&self.instance, "close", || inner.close());
                self.instance.closed.store(true, Ordering::Release);
            }
            drop_quietly(&self.instance, "backend", inner);
        }
    }
}

impl<B: StorageBackend> Backend for BackendAdapter<B> {
    fn capabilities(&self) -> Capabilities {
        self.instance.capabilities
    }

    fn open_table(&self, name: RStr<'_>, create: bool) -> RResult<TableId, PluginError> {
        self.run("open_table", |b| {
            if name.is_empty() {
                return Err(
                    PluginError::invalid_argument("a table name cannot be empty").with_key("name"),
                );
            }
            b.open_table(name.as_str(), create)
        })
    }

    fn drop_table(&self, name: RStr<'_>) -> RResult<bool, PluginError> {
        self.run("drop_table", |b| b.drop_table(name.as_str()))
    }

    fn list_tables(&self) -> RResult<RVec<RString>, PluginError> {
        self.run("list_tables", |b| {
            Ok(b.list_tables()?.into_iter().map(RString::from).collect())
        })
    }

    fn begin(&self, options: TxnOptions) -> RResult<TxnBox, PluginError> {
        self.run("begin", |b| {
            self.instance
                .require(Capabilities::TRANSACTIONS, "transactions")?;
            self.instance.check_sync(options.sync)?;
            let txn = b.begin(options)?;
            let adapter = TxnAdapter {
                inner: Some(txn),
                read_only: options.read_only,
                finished: Arc::new(AtomicBool::new(false)),
                instance: Arc::clone(&self.instance),
            };
            Ok(Txn_TO::from_value(adapter, TD_Opaque))
        })
    }

    fn write_batch(&self, batch: &WriteBatch, options: WriteOptions) -> RResult<(), PluginError> {
        self.run("write_batch", |b| {
            self.instance
                .require(Capabilities::ATOMIC_BATCH, "write_batch")?;
            self.instance.check_sync(options.sync)?;
            self.instance.check_batch(batch)?;
            b.write_batch(batch, options)
        })
    }

    fn ingest_sorted(
        &self,
        runs: RSlice<'_, SortedRun>,
        options: WriteOptions,
    ) -> RResult<(), PluginError> {
        self.run("ingest_sorted", |b| {
            self.instance
                .require(Capabilities::BULK_INGEST, "ingest_sorted")?;
            self.instance.check_sync(options.sync)?;
            for run in runs.iter() {
                run.rows.check_sorted()?;
                for (key, value) in run.rows.iter() {
                    self.instance.check_sizes(key, Some(value))?;
                }
            }
            b.ingest_sorted(runs.as_slice(), options)
        })
    }

    fn flush(&self) -> RResult<(), PluginError> {
        self.run("flush", |b| {
            self.instance.require(Capabilities::FLUSH, "flush")?;
            b.flush()
        })
    }

    fn compact(&self, table: ROption<TableId>) -> RResult<(), PluginError> {
        self.run("compact", |b| {
            self.instance.require(Capabilities::COMPACT, "compact")?;
            b.compact(table.into_option())
        })
    }

    fn checkpoint(&self, dir: RStr<'_>) -> RResult<(), PluginError> {
        self.run("checkpoint", |b| {
            self.instance
                .require(Capabilities::CHECKPOINT, "checkpoint")?;
            b.checkpoint(Path::new(dir.as_str()))
        })
    }

    fn stats(&self) -> RResult<RVec<NativeStat>, PluginError> {
        self.run("stats", |b| {
            self.instance.require(Capabilities::NATIVE_STATS, "stats")?;
            Ok(RVec::from(b.stats()?))
        })
    }

    fn close(&self) -> RResult<(), PluginError> {
        self.run("close", |b| {
            let result = b.close();
            self.instance.closed.store(true, Ordering::Release);
            result
        })
    }
}

struct TxnAdapter<T: StorageTxn> {
    inner: Option<T>,
    read_only: bool,
    /// Shared with this transaction's cursors: set when it commits or rolls back.
    finished: Arc<AtomicBool>,
    instance: Arc<Instance>,
}

impl<T: StorageTxn> TxnAdapter<T> {
    fn live(&self) -> Result<&T, PluginError> {
        self.inner
            .as_ref()
            .ok_or_else(|| PluginError::closed("the transaction has already ended"))
    }

    fn live_mut(&mut self, operation: &str) -> Result<&mut T, PluginError> {
        if self.inner.is_some() && self.read_only {
            return Err(PluginError::new(
                crate::ErrorCode::READ_ONLY,
                format!("{operation} in a read-only transaction"),
            ));
        }
        self.inner
            .as_mut()
            .ok_or_else(|| PluginError::closed("the transaction has already ended"))
    }

    /// Ends the transaction with `end` (commit or rollback): whatever it returns, the
    /// transaction is over.
    fn finish(
        &mut self,
        operation: &str,
        end: impl FnOnce(&mut T) -> Result<(), PluginError>,
    ) -> RResult<(), PluginError> {
        let instance = Arc::clone(&self.instance);
        guard(&instance, operation, || {
            let mut txn = self
                .inner
                .take()
                .ok_or_else(|| PluginError::closed("the transaction has already ended"))?;
            self.finished.store(true, Ordering::Release);
            let result = end(&mut txn);
            drop_quietly(&instance, "transaction", txn);
            result
        })
    }
}

impl<T: StorageTxn> Drop for TxnAdapter<T> {
    fn drop(&mut self) {
        self.finished.store(true, Ordering::Release);
        if let Some(txn) = self.inner.take() {
            drop_quietly(&self.instance, "transaction", txn);
        }
    }
}

impl<T: StorageTxn> Txn for TxnAdapter<T> {
    fn get(&self, table: TableId, key: RSlice<'_, u8>) -> RResult<ROption<RVec<u8>>, PluginError> {
        guard(&self.instance, "get", || {
            Ok(self
                .live()?
                .get(table, key.as_slice())?
                .map(RVec::from)
                .into())
        })
    }

    fn get_many(
        &self,
        table: TableId,
        keys: RSlice<'_, RSlice<'_, u8>>,
    ) -> RResult<crate::abi::MaybeValues, PluginError> {
        guard(&self.instance, "get_many", || {
            let keys: Vec<&[u8]> = keys.iter().map(RSlice::as_slice).collect();
            let values = self.live()?.get_many(table, &keys)?;
            if values.len() != keys.len() {
                return Err(PluginError::internal(format!(
                    "get_many returned {} values for {} keys",
                    values.len(),
                    keys.len()
                )));
            }
            Ok(values
                .into_iter()
                .map(|value| value.map(RVec::from).into())
                .collect())
        })
    }

    fn scan(&self, table: TableId, range: ScanSpec) -> RResult<CursorBox, PluginError> {
        guard(&self.instance, "scan", || {
            range.validate()?;
            if range.reverse {
                self.instance
                    .require(Capabilities::REVERSE_SCAN, "reverse scans")?;
            }
            let cursor = self.live()?.scan(table, range)?;
            let adapter = CursorAdapter {
                inner: Some(cursor),
                finished: Arc::clone(&self.finished),
                instance: Arc::clone(&self.instance),
            };
            Ok(Cursor_TO::from_value(adapter, TD_Opaque))
        })
    }

    fn put(
        &mut self,
        table: TableId,
        key: RSlice<'_, u8>,
        value: RSlice<'_, u8>,
    ) -> RResult<(), PluginError> {
        let instance = Arc::clone(&self.instance);
        guard(&instance, "put", || {
            let txn = self.live_mut("put")?;
            instance.check_sizes(key.as_slice(), Some(value.as_slice()))?;
            txn.put(table, key.as_slice(), value.as_slice())
        })
    }

    fn delete(&mut self, table: TableId, key: RSlice<'_, u8>) -> RResult<(), PluginError> {
        let instance = Arc::clone(&self.instance);
        guard(&instance, "delete", || {
            let txn = self.live_mut("delete")?;
            instance.check_sizes(key.as_slice(), None)?;
            txn.delete(table, key.as_slice())
        })
    }

    fn delete_range(
        &mut self,
        table: TableId,
        start: RSlice<'_, u8>,
        end: RSlice<'_, u8>,
    ) -> RResult<(), PluginError> {
        let instance = Arc::clone(&self.instance);
        guard(&instance, "delete_range", || {
            let txn = self.live_mut("delete_range")?;
            instance.require(Capabilities::DELETE_RANGE, "delete_range")?;
            instance.check_bound(start.as_slice())?;
            instance.check_bound(end.as_slice())?;
            txn.delete_range(table, start.as_slice(), end.as_slice())
        })
    }

    fn write_batch(&mut self, batch: &WriteBatch) -> RResult<(), PluginError> {
        let instance = Arc::clone(&self.instance);
        guard(&instance, "write_batch", || {
            let txn = self.live_mut("write_batch")?;
            instance.check_batch(batch)?;
            txn.write_batch(batch)
        })
    }

    fn commit(&mut self) -> RResult<(), PluginError> {
        self.finish("commit", StorageTxn::commit)
    }

    fn rollback(&mut self) -> RResult<(), PluginError> {
        self.finish("rollback", StorageTxn::rollback)
    }
}

struct CursorAdapter<C: StorageCursor> {
    inner: Option<C>,
    finished: Arc<AtomicBool>,
    instance: Arc<Instance>,
}

impl<C: StorageCursor> Drop for CursorAdapter<C> {
    fn drop(&mut self) {
        if let Some(cursor) = self.inner.take() {
            drop_quietly(&self.instance, "cursor", cursor);
        }
    }
}

impl<C: StorageCursor> Cursor for CursorAdapter<C> {
    fn next_batch(
        &mut self,
        max_rows: u32,
        max_bytes: u64,
        out: &mut KvBatch,
    ) -> RResult<(), PluginError> {
        let instance = Arc::clone(&self.instance);
        guard(&instance, "next_batch", || {
            out.clear();
            if self.finished.load(Ordering::Acquire) {
                self.inner = None;
                return Err(PluginError::closed(
                    "the cursor's transaction has already ended",
                ));
            }
            if max_rows == 0 {
                return Err(PluginError::invalid_argument("max_rows must be at least 1")
                    .with_key("max_rows"));
            }
            let cursor = self
                .inner
                .as_mut()
                .ok_or_else(|| PluginError::closed("the cursor is closed"))?;
            cursor.next_batch(max_rows, max_bytes, out)
        })
    }
}

fn info<P: Plugin>() -> PluginInfo {
    let description = P::describe();
    PluginInfo {
        name: description.name.into(),
        version: description.version.into(),
        api_version: crate::API_VERSION.into(),
        target: crate::BUILD_TARGET.into(),
        profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .into(),
        description: description.description.into(),
        capabilities: description.capabilities,
        config_keys: description
            .config_keys
            .iter()
            .map(|key| ConfigKey {
                name: key.name.into(),
                kind: key.kind.into(),
                default: key.default.into(),
                doc: key.doc.into(),
            })
            .collect(),
    }
}

extern "C" fn info_entry<P: Plugin>() -> PluginInfo {
    match catch_unwind(info::<P>) {
        Ok(info) => info,
        Err(payload) => PluginInfo {
            name: RString::from("unknown"),
            version: RString::new(),
            api_version: crate::API_VERSION.into(),
            target: crate::BUILD_TARGET.into(),
            profile: RString::new(),
            description: format!("describe() panicked: {}", panic_message(payload.as_ref())).into(),
            capabilities: Capabilities::new(0, 0, 0),
            config_keys: RVec::new(),
        },
    }
}

extern "C" fn validate_config_entry<P: Plugin>(config: RStr<'_>) -> RResult<(), PluginError> {
    guard_entry("validate_config", || P::validate_config(config.as_str()))
}

extern "C" fn open_entry<P: Plugin>(request: OpenRequest) -> RResult<BackendBox, PluginError> {
    guard_entry("open", || {
        let declared = P::describe().capabilities;
        if request.read_only && !declared.has(Capabilities::READ_ONLY_OPEN) {
            return Err(PluginError::unsupported("opening read-only"));
        }
        P::validate_config(request.config.as_str())?;
        let options = OpenOptions {
            data_dir: (!request.data_dir.is_empty())
                .then(|| std::path::PathBuf::from(request.data_dir.as_str())),
            config: request.config.into_string(),
            read_only: request.read_only,
            create: request.create,
            logger: super::Logger::new(request.log),
        };
        let backend = P::open(options)?;
        let mut capabilities = backend.capabilities();
        // An instance never claims more than the plugin declared.
        capabilities.flags &= declared.flags;
        capabilities.max_key_size = capabilities.max_key_size.min(declared.max_key_size);
        capabilities.max_value_size = capabilities.max_value_size.min(declared.max_value_size);
        let adapter = BackendAdapter {
            inner: Some(backend),
            instance: Arc::new(Instance {
                poison: OnceLock::new(),
                closed: AtomicBool::new(false),
                capabilities,
            }),
        };
        Ok(Backend_TO::from_value(adapter, TD_Opaque))
    })
}

extern "C" fn extension_entry<P: Plugin>(id: RStr<'_>) -> ROption<Extension> {
    catch_unwind(|| {
        if id.as_str() == TEST_CONFIGS_V1 {
            P::full_config_for_tests().map(|_| Extension {
                id: RStr::from_str(TEST_CONFIGS_V1),
                layout: <TestConfigsV1Ref as StableAbi>::LAYOUT,
                module: TestConfigs::<P>::MODULE.0.to_raw_ptr().cast(),
            })
        } else {
            P::extension(id.as_str())
        }
    })
    .ok()
    .flatten()
    .into()
}

/// The `kgdb.test-configs.v1` module of plugin `P`, built at compile time (a `'static` that is
/// never freed, as the extension contract requires).
struct TestConfigs<P>(PhantomData<P>);

impl<P: Plugin> TestConfigs<P> {
    const VALUE: &'static WithMetadata<TestConfigsV1> = &WithMetadata::new(TestConfigsV1 {
        full_config: full_config_entry::<P>,
    });
    const MODULE: TestConfigsV1Ref = TestConfigsV1Ref(Self::VALUE.static_as_prefix());
}

extern "C" fn full_config_entry<P: Plugin>() -> ROption<RString> {
    catch_unwind(P::full_config_for_tests)
        .ok()
        .flatten()
        .map(RString::from)
        .into()
}

/// The root module of plugin `P`; called once by the loader the export macro generates.
#[must_use]
pub fn root_module<P: Plugin>() -> PluginModuleRef {
    PluginModule {
        info: info_entry::<P>,
        validate_config: validate_config_entry::<P>,
        open: open_entry::<P>,
        extension: extension_entry::<P>,
    }
    .leak_into_prefix()
}
