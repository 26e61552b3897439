//! The fixture every case gets: the plugin loaded through the host's loader, one backend open on
//! a fresh scratch directory, and small helpers.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use kgdb_loader::{
    Backend, BackendError, BackendTxn, Capabilities, ErrorCode, LoadedPlugin, OpenSettings,
    PluginLoader, ScanSpec, TableId, TxnOptions, WriteBatch,
};
use tempfile::TempDir;

use crate::Target;

/// One loader for the process: it loads (and checks, and hashes) each library file once.
static LOADER: LazyLock<PluginLoader> = LazyLock::new(PluginLoader::new);

/// One open backend on a scratch directory.
pub struct Fixture {
    /// The backend under test.
    pub backend: Arc<Backend>,
    /// Scratch space (removed at the end); the data directory is `dir/data`.
    pub dir: TempDir,
    /// The plugin and how it is run.
    pub target: Target,
    plugin: Arc<LoadedPlugin>,
    notes: Vec<String>,
}

impl Fixture {
    /// Loads `target`'s library and opens a backend on a fresh directory.
    ///
    /// # Panics
    /// When the library does not load or the backend does not open.
    #[must_use]
    pub fn open(target: &Target) -> Self {
        let dir = tempfile::tempdir().expect("a scratch directory");
        let plugin = match &target.loaded {
            Some(plugin) => Arc::clone(plugin),
            None => LOADER
                .load(&target.library, None, "conformance")
                .unwrap_or_else(|error| panic!("loading {}: {error}", target.library.display())),
        };
        let backend = plugin
            .open(&settings(&dir.path().join("data"), &target.config))
            .unwrap_or_else(|error| panic!("opening a backend: {error}"));
        let mut target = target.clone();
        if target.full_config.is_none() {
            // A plugin offering the `kgdb.test-configs.v1` extension says how to fill it.
            target.full_config = plugin
                .full_config_for_tests()
                .unwrap_or_else(|error| panic!("{error}"));
        }
        Self {
            backend: Arc::new(backend),
            dir,
            target,
            plugin,
            notes: Vec::new(),
        }
    }

    /// The data directory.
    #[must_use]
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Closes the backend and opens the same data directory again.
    pub fn reopen(&mut self) {
        self.backend.close().expect("close");
        self.backend = Arc::new(
            self.open_other(&self.data_dir())
                .unwrap_or_else(|error| panic!("reopening: {error}")),
        );
    }

    /// Opens another instance of the same plugin on `dir` with the target's config.
    ///
    /// # Errors
    /// Whatever the plugin reports.
    pub fn open_other(&self, dir: &Path) -> Result<Backend, BackendError> {
        self.open_with(dir, &self.target.config, false)
    }

    /// Opens another instance of the plugin on `dir` with `config`, read-only or not.
    ///
    /// # Errors
    /// Whatever the plugin reports.
    pub fn open_with(
        &self,
        dir: &Path,
        config: &str,
        read_only: bool,
    ) -> Result<Backend, BackendError> {
        let mut settings = settings(dir, config);
        settings.read_only = read_only;
        settings.create = !read_only;
        self.plugin.open(&settings)
    }

    /// Records something the case could not check with this plugin or machine; shown beside a
    /// passing case.
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    pub(crate) fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// The instance's capabilities.
    #[must_use]
    pub fn caps(&self) -> Capabilities {
        self.backend.capabilities()
    }

    /// Whether the instance declares every bit of `bits`.
    #[must_use]
    pub fn has(&self, bits: u64) -> bool {
        self.caps().has(bits)
    }

    /// Creates (or opens) a table.
    #[must_use]
    pub fn table(&self, name: &str) -> TableId {
        self.backend.open_table(name, true).expect("open_table")
    }

    /// A read-write transaction.
    #[must_use]
    pub fn write(&self) -> BackendTxn {
        self.backend.begin(TxnOptions::READ_WRITE).expect("begin")
    }

    /// A read-only transaction.
    #[must_use]
    pub fn read(&self) -> BackendTxn {
        self.backend.begin(TxnOptions::READ_ONLY).expect("begin")
    }

    /// Commits `rows` into `table` in one transaction, or in as few as the backend's write
    /// limits allow (see [`Backend::write_limits`]).
    pub fn put_all(&self, table: TableId, rows: &[(&[u8], &[u8])]) {
        self.put_within_limits(table, rows.iter().map(|(key, value)| (*key, *value)));
    }

    /// Commits owned `rows` into `table` in one transaction, or in as few as the backend's
    /// write limits allow.
    pub fn write_rows(&self, table: TableId, rows: &[(Vec<u8>, Vec<u8>)]) {
        self.put_within_limits(
            table,
            rows.iter()
                .map(|(key, value)| (key.as_slice(), value.as_slice())),
        );
    }

    /// Puts `rows` into `table` one `put` at a time, committing whenever the next row would
    /// take the transaction past the backend's write limits, and at the end.
    pub fn put_within_limits<'a>(
        &self,
        table: TableId,
        rows: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) {
        self.write_within_limits(table, rows, None);
    }

    /// Puts `rows` into `table` through write batches of up to 4,096 rows (for many rows: a
    /// plugin's `put` may cost more per row), committing whenever the next row would take the
    /// transaction past the backend's write limits, and at the end.
    pub fn batch_within_limits<'a>(
        &self,
        table: TableId,
        rows: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) {
        self.write_within_limits(table, rows, Some(4_096));
    }

    fn write_within_limits<'a>(
        &self,
        table: TableId,
        rows: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        batch_rows: Option<usize>,
    ) {
        let limits = self.backend.write_limits();
        let mut txn = self.write();
        let mut batch = WriteBatch::new();
        let (mut ops, mut bytes) = (0u64, 0u64);
        for (key, value) in rows {
            let size = (key.len() + value.len()) as u64;
            if ops > 0 && limits.is_some_and(|limits| !limits.fits(ops + 1, bytes + size)) {
                if !batch.is_empty() {
                    txn.write_batch(&batch).expect("write_batch");
                    batch.clear();
                }
                txn.commit().expect("commit");
                txn = self.write();
                (ops, bytes) = (0, 0);
            }
            match batch_rows {
                None => txn.put(table, key, value).expect("put"),
                Some(most) => {
                    batch.put(table, key, value);
                    if batch.len() == most {
                        txn.write_batch(&batch).expect("write_batch");
                        batch.clear();
                    }
                }
            }
            ops += 1;
            bytes += size;
        }
        if !batch.is_empty() {
            txn.write_batch(&batch).expect("write_batch");
        }
        txn.commit().expect("commit");
    }

    /// The committed value of `key`.
    #[must_use]
    pub fn get(&self, table: TableId, key: &[u8]) -> Option<Vec<u8>> {
        self.read().get(table, key).expect("get")
    }

    /// Every committed row of `table`, in key order.
    #[must_use]
    pub fn rows(&self, table: TableId) -> Vec<(Vec<u8>, Vec<u8>)> {
        scan_all(&self.read(), table, ScanSpec::all())
    }

    /// Every committed key of `table`, in key order.
    #[must_use]
    pub fn keys(&self, table: TableId) -> Vec<Vec<u8>> {
        keys(&self.rows(table))
    }
}

fn settings(dir: &Path, config: &str) -> OpenSettings {
    OpenSettings {
        data_dir: Some(dir.to_owned()),
        config: config.to_owned(),
        read_only: false,
        create: true,
    }
}

/// Every row of a scan, in the order returned.
///
/// # Panics
/// When the scan fails.
#[must_use]
pub fn scan_all(txn: &BackendTxn, table: TableId, range: ScanSpec) -> Vec<(Vec<u8>, Vec<u8>)> {
    txn.scan(table, range)
        .expect("scan")
        .collect::<Result<Vec<_>, _>>()
        .expect("scan rows")
}

/// The keys of `rows`.
pub(crate) fn keys(rows: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
    rows.iter().map(|(k, _)| k.clone()).collect()
}

/// Owned copies of byte-string literals, for comparing key lists.
pub(crate) fn owned(list: &[&[u8]]) -> Vec<Vec<u8>> {
    list.iter().map(|k| k.to_vec()).collect()
}

/// Asserts `result` failed with `code`, and returns the error.
///
/// # Panics
/// When `result` is `Ok` or another code.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(
    result: Result<T, BackendError>,
    code: ErrorCode,
) -> BackendError {
    match result {
        Ok(value) => panic!("expected {code}, got Ok({value:?})"),
        Err(error) => {
            assert_eq!(error.code, code, "unexpected error: {error}");
            error
        }
    }
}

/// `key00000042`: fixed-width keys whose byte order is their numeric order.
pub(crate) fn numbered(i: usize) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

/// 301 rows with binary keys (zero and 0xFF bytes), values of 0–96 bytes and a Unicode key,
/// sorted.
pub(crate) fn binary_rows() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut rows: Vec<(Vec<u8>, Vec<u8>)> = (0..300u32)
        .map(|i| {
            let key = [
                b"row".as_slice(),
                &i.to_be_bytes(),
                &[0, 0xff, (i % 251) as u8],
            ]
            .concat();
            let value: Vec<u8> = (0..(i % 97))
                .map(|j| (i.wrapping_mul(31) + j) as u8)
                .collect();
            (key, value)
        })
        .collect();
    rows.push((Vec::from("ключ ✓".as_bytes()), Vec::new()));
    rows.sort();
    rows
}
