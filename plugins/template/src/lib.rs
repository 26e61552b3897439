//! # kgdb-plugin-template
//!
//! A complete, small kgdb storage plugin to copy: ordered in-memory tables, snapshot
//! transactions with read-your-writes, one writer at a time, atomic write batches, reverse
//! scans and range deletes. It depends on `kgdb-plugin-api` only and passes
//! `kgdb-host conformance`. Replace the in-memory [`Tables`] with your engine, keep the shape.
//!
//! How it works:
//! - The committed state is an immutable [`Snapshot`] behind an `Arc`; each table is an
//!   `Arc<BTreeMap>`. A transaction keeps the snapshot it began with, so readers never wait and
//!   always see one consistent state.
//! - Writes go to the transaction's private overlay (key → new value, or deleted). Reads merge
//!   the overlay over the snapshot. Commit copies only the tables it touched and swaps the
//!   state in one step.
//! - One write transaction at a time (`serialized-writers`): `begin` of a second writer waits
//!   until the first commits, rolls back or is dropped, so commits never conflict.
//!
//! What the SDK already does before this code runs: refusing calls on a closed backend or a
//! finished transaction (`CLOSED`), writes in read-only transactions (`READ_ONLY`), empty or
//! oversized keys and values (`INVALID_ARGUMENT`), operations whose capability bit is clear
//! (`UNSUPPORTED`), invalid scan bounds; and it turns any panic into an `INTERNAL` error.

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::ops::Bound;
use std::sync::{Arc, Condvar, Mutex, RwLock};

use kgdb_plugin_api::sdk::{
    locks, no_table_named, parse_config, OpenOptions, Plugin, PluginDescription, RangeScan,
    Result, StorageBackend, StorageCursor, StorageTxn, TableRegistry,
};
use kgdb_plugin_api::{
    BatchEntry, Capabilities, KvBatch, PluginError, ScanSpec, TableId, TxnOptions, WriteBatch,
    WriteOptions,
};

/// What every instance can do.
pub const CAPABILITIES: Capabilities = Capabilities::new(
    Capabilities::TRANSACTIONS
        | Capabilities::SNAPSHOT_READS
        | Capabilities::READ_YOUR_WRITES
        | Capabilities::SERIALIZED_WRITERS
        | Capabilities::ATOMIC_BATCH
        | Capabilities::REVERSE_SCAN
        | Capabilities::DELETE_RANGE
        | Capabilities::SEND_TXN,
    64 * 1024,
    16 * 1024 * 1024,
);

/// The plugin: its description, config check and `open`.
pub struct TemplatePlugin;

kgdb_plugin_api::plugin_config! {
    /// The config table, declared once: each key's doc comment, type in words and default
    /// (TOML text) give the struct, its defaults and the list `plugins info` shows. A
    /// misspelt key is an `INVALID_CONFIG` error that names it.
    pub struct Config {
        /// Most bytes a single value may take; larger writes fail with `invalid-argument`
        /// (the SDK checks the declared `max_value_size` already; this is tighter).
        #[config(kind = "integer", default = "16777216")]
        pub max_value_bytes: u64,
    }
}

impl Plugin for TemplatePlugin {
    type Backend = TemplateBackend;

    fn describe() -> PluginDescription {
        PluginDescription {
            name: "template",
            version: env!("CARGO_PKG_VERSION"),
            description: "Template plugin: ordered in-memory tables with snapshot transactions",
            capabilities: CAPABILITIES,
            config_keys: Config::KEYS,
        }
    }

    fn validate_config(config: &str) -> Result<()> {
        parse_config::<Config>(config).map(drop)
    }

    fn open(options: OpenOptions) -> Result<TemplateBackend> {
        // A persistent plugin claims its data directory first:
        // `DataDir::open(&options, "mine", FORMAT_VERSION, Sharing::…)`, kept for the life of
        // the backend.
        let config = parse_config::<Config>(&options.config)?;
        options
            .logger
            .debug("template", format_args!("opening a template backend (in memory)"));
        Ok(TemplateBackend {
            shared: Arc::new(Shared::default()),
            max_value_bytes: config.max_value_bytes,
        })
    }
}

kgdb_plugin_api::export_plugin!(TemplatePlugin);

/// One table's rows.
type Rows = BTreeMap<Vec<u8>, Vec<u8>>;

/// The committed state: tables by id, each shared until a commit changes it.
#[derive(Clone, Default)]
pub struct Snapshot {
    tables: BTreeMap<u32, Arc<Rows>>,
}

#[derive(Default)]
struct Shared {
    state: RwLock<Arc<Snapshot>>,
    /// Table names and ids (the SDK's registry). Kept outside snapshots: a table exists from
    /// `open_table` on, and a transaction that began earlier reads it as empty.
    tables: Mutex<TableRegistry<()>>,
    /// Whether a write transaction is open; writers wait on `writer_done`.
    writer_busy: Mutex<bool>,
    writer_done: Condvar,
}

// Locks follow the SDK's policy (`sdk::locks`): a poisoned lock is an `INTERNAL` error naming
// it, never unwrapped.
const STATE: &str = "committed state";
const TABLES: &str = "table registry";
const WRITER: &str = "writer slot";

impl Shared {
    fn current(&self) -> Result<Arc<Snapshot>> {
        Ok(Arc::clone(&*locks::read(&self.state, STATE)?))
    }

    fn check_table(&self, table: TableId) -> Result<()> {
        locks::lock(&self.tables, TABLES)?.get(table).map(drop)
    }
}

/// An open template backend.
pub struct TemplateBackend {
    shared: Arc<Shared>,
    max_value_bytes: u64,
}

impl StorageBackend for TemplateBackend {
    type Txn = TemplateTxn;

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn open_table(&self, name: &str, create: bool) -> Result<TableId> {
        let mut tables = locks::lock(&self.shared.tables, TABLES)?;
        if let Some(id) = tables.id(name) {
            return Ok(id);
        }
        if !create {
            return Err(no_table_named(name));
        }
        Ok(tables.insert(name, ()))
    }

    fn drop_table(&self, name: &str) -> Result<bool> {
        let Some((id, ())) = locks::lock(&self.shared.tables, TABLES)?.remove(name) else {
            return Ok(false);
        };
        let mut state = locks::write(&self.shared.state, STATE)?;
        let mut next = Snapshot::clone(&state);
        next.tables.remove(&id.0);
        *state = Arc::new(next);
        Ok(true)
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        Ok(locks::lock(&self.shared.tables, TABLES)?
            .names()
            .map(str::to_owned)
            .collect())
    }

    fn begin(&self, options: TxnOptions) -> Result<TemplateTxn> {
        if !options.read_only {
            let mut busy = locks::lock(&self.shared.writer_busy, WRITER)?;
            while *busy {
                busy = locks::wait(&self.shared.writer_done, busy, WRITER)?;
            }
            *busy = true;
        }
        Ok(TemplateTxn {
            shared: Arc::clone(&self.shared),
            snapshot: self.shared.current()?,
            overlay: BTreeMap::new(),
            writer: !options.read_only,
            max_value_bytes: self.max_value_bytes,
        })
    }

    fn write_batch(&self, batch: &WriteBatch, options: WriteOptions) -> Result<()> {
        let _ = options; // Nothing to sync: the template keeps no files.
        let mut txn = self.begin(TxnOptions::READ_WRITE)?;
        txn.write_batch(batch)?;
        txn.commit()
    }

    fn close(&self) -> Result<()> {
        Ok(())
    }
}

/// One table's uncommitted writes: `Some(value)` to put, `None` to delete.
type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A transaction: the snapshot it began with and its own uncommitted writes.
pub struct TemplateTxn {
    shared: Arc<Shared>,
    snapshot: Arc<Snapshot>,
    /// Uncommitted writes by table.
    overlay: BTreeMap<u32, Writes>,
    writer: bool,
    max_value_bytes: u64,
}

impl TemplateTxn {
    /// The snapshot's rows of `table`.
    fn base(&self, table: TableId) -> Arc<Rows> {
        self.snapshot
            .tables
            .get(&table.0)
            .cloned()
            .unwrap_or_default()
    }

    fn write(&mut self, table: TableId, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        self.shared.check_table(table)?;
        if let Some(value) = value {
            if value.len() as u64 > self.max_value_bytes {
                return Err(PluginError::invalid_argument(format!(
                    "a value of {} bytes is over max_value_bytes ({})",
                    value.len(),
                    self.max_value_bytes
                ))
                .with_key("max_value_bytes"));
            }
        }
        self.overlay
            .entry(table.0)
            .or_default()
            .insert(key.to_vec(), value.map(<[u8]>::to_vec));
        Ok(())
    }

    /// Ends the transaction: lets the next writer in.
    fn finish(&mut self) {
        self.overlay.clear();
        if std::mem::take(&mut self.writer) {
            // Even with a poisoned slot the next writer must get in: the flag is only a bool.
            let mut busy = self
                .shared
                .writer_busy
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *busy = false;
            drop(busy);
            self.shared.writer_done.notify_one();
        }
    }
}

fn apply(rows: &mut Rows, writes: &Writes) {
    for (key, value) in writes {
        match value {
            Some(value) => rows.insert(key.clone(), value.clone()),
            None => rows.remove(key),
        };
    }
}

impl Drop for TemplateTxn {
    fn drop(&mut self) {
        self.finish();
    }
}

impl StorageTxn for TemplateTxn {
    type Cursor = TemplateCursor;

    fn get(&self, table: TableId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.shared.check_table(table)?;
        if let Some(write) = self.overlay.get(&table.0).and_then(|w| w.get(key)) {
            return Ok(write.clone());
        }
        Ok(self
            .snapshot
            .tables
            .get(&table.0)
            .and_then(|rows| rows.get(key).cloned()))
    }

    fn scan(&self, table: TableId, range: ScanSpec) -> Result<TemplateCursor> {
        self.shared.check_table(table)?;
        // The cursor streams the snapshot's rows merged with this transaction's writes in the
        // range (made before the scan began); it never copies the table.
        let writes: Writes = self
            .overlay
            .get(&table.0)
            .map(|writes| {
                writes
                    .range::<[u8], _>((range.start_bound(), range.end_bound()))
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(TemplateCursor {
            base: self.base(table),
            writes,
            scan: RangeScan::new(range),
        })
    }

    // `put` and `delete` are the SDK's defaults: one-operation `write_batch`es.

    fn delete_range(&mut self, table: TableId, start: &[u8], end: &[u8]) -> Result<()> {
        self.shared.check_table(table)?;
        if start >= end {
            return Ok(());
        }
        let bounds = (Bound::Included(start), Bound::Excluded(end));
        let mut doomed: Vec<Vec<u8>> = self
            .base(table)
            .range::<[u8], _>(bounds)
            .map(|(key, _)| key.clone())
            .collect();
        if let Some(writes) = self.overlay.get(&table.0) {
            doomed.extend(writes.range::<[u8], _>(bounds).map(|(key, _)| key.clone()));
        }
        for key in doomed {
            self.write(table, &key, None)?;
        }
        Ok(())
    }

    fn write_batch(&mut self, batch: &WriteBatch) -> Result<()> {
        // All or nothing: check every entry (and its table) before touching the overlay.
        let mut entries = Vec::with_capacity(batch.len());
        for entry in batch.iter() {
            let entry = entry?;
            self.shared.check_table(entry.table())?;
            entries.push(entry);
        }
        let saved = self.overlay.clone();
        for entry in entries {
            let outcome = match entry {
                BatchEntry::Put { table, key, value } => self.write(table, key, Some(value)),
                BatchEntry::Delete { table, key } => self.write(table, key, None),
                BatchEntry::DeleteRange { table, start, end } => {
                    self.delete_range(table, start, end)
                }
            };
            if let Err(error) = outcome {
                self.overlay = saved;
                return Err(error);
            }
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        if !self.overlay.is_empty() {
            let tables = locks::lock(&self.shared.tables, TABLES)?;
            let mut state = locks::write(&self.shared.state, STATE)?;
            let mut next = Snapshot::clone(&state);
            for (table, writes) in &self.overlay {
                if tables.get(TableId(*table)).is_err() {
                    // Dropped while this transaction was open: its writes go with it.
                    continue;
                }
                let rows = next.tables.entry(*table).or_default();
                apply(Arc::make_mut(rows), writes);
            }
            *state = Arc::new(next);
        }
        self.finish();
        Ok(())
    }

    fn rollback(&mut self) -> Result<()> {
        self.finish();
        Ok(())
    }
}

/// A scan over a table as its transaction saw it when the scan began: the snapshot's rows
/// merged, batch by batch, with the transaction's writes in the range.
pub struct TemplateCursor {
    base: Arc<Rows>,
    writes: Writes,
    scan: RangeScan,
}

/// The next row of two sorted row iterators merged, the write winning on equal keys (a
/// deletion hides the row); `reverse` walks downwards.
fn next_merged<'r>(
    base: &mut Peekable<impl Iterator<Item = (&'r Vec<u8>, &'r Vec<u8>)>>,
    writes: &mut Peekable<impl Iterator<Item = (&'r Vec<u8>, &'r Option<Vec<u8>>)>>,
    reverse: bool,
) -> Option<(&'r Vec<u8>, &'r Vec<u8>)> {
    loop {
        let order = match (base.peek(), writes.peek()) {
            (None, None) => return None,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((b, _)), Some((w, _))) if reverse => w.cmp(b),
            (Some((b, _)), Some((w, _))) => b.cmp(w),
        };
        if order == std::cmp::Ordering::Less {
            return base.next();
        }
        if order == std::cmp::Ordering::Equal {
            base.next();
        }
        if let Some((key, Some(value))) = writes.next() {
            return Some((key, value));
        }
    }
}

impl StorageCursor for TemplateCursor {
    fn next_batch(&mut self, max_rows: u32, max_bytes: u64, out: &mut KvBatch) -> Result<()> {
        let (base, writes) = (&self.base, &self.writes);
        self.scan.next_batch(out, |range, out| {
            let bounds = (range.start_bound(), range.end_bound());
            let (rows, written) = (base.range::<[u8], _>(bounds), writes.range::<[u8], _>(bounds));
            let limits = (max_rows, max_bytes);
            if range.reverse {
                fill(rows.rev().peekable(), written.rev().peekable(), true, limits, out)
            } else {
                fill(rows.peekable(), written.peekable(), false, limits, out)
            }
        })
    }
}

/// Fills `out` with merged rows within `(max_rows, max_bytes)`; `true` when the rows ran out.
fn fill<'r>(
    mut rows: Peekable<impl Iterator<Item = (&'r Vec<u8>, &'r Vec<u8>)>>,
    mut written: Peekable<impl Iterator<Item = (&'r Vec<u8>, &'r Option<Vec<u8>>)>>,
    reverse: bool,
    (max_rows, max_bytes): (u32, u64),
    out: &mut KvBatch,
) -> Result<bool> {
    while let Some((key, value)) = next_merged(&mut rows, &mut written, reverse) {
        if !out.push_within(key, value, max_rows, max_bytes)? {
            return Ok(false);
        }
    }
    Ok(true)
}
