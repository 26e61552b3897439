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
use std::ops::Bound;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};

use kgdb_plugin_api::sdk::serde::Deserialize;
use kgdb_plugin_api::sdk::{
    parse_config, ConfigKeyDoc, OpenOptions, Plugin, PluginDescription, Result, StorageBackend,
    StorageCursor, StorageTxn,
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

/// The config table. It has no keys yet; `deny_unknown_fields` makes a misspelt key an
/// `INVALID_CONFIG` error that names it.
#[derive(Debug, Default, Deserialize)]
#[serde(crate = "kgdb_plugin_api::sdk::serde", deny_unknown_fields)]
pub struct Config {}

impl Plugin for TemplatePlugin {
    type Backend = TemplateBackend;

    fn describe() -> PluginDescription {
        PluginDescription {
            name: "template",
            version: env!("CARGO_PKG_VERSION"),
            description: "Template plugin: ordered in-memory tables with snapshot transactions",
            capabilities: CAPABILITIES,
            config_keys: &[] as &[ConfigKeyDoc],
        }
    }

    fn validate_config(config: &str) -> Result<()> {
        parse_config::<Config>(config).map(drop)
    }

    fn open(options: OpenOptions) -> Result<TemplateBackend> {
        parse_config::<Config>(&options.config)?;
        options
            .logger
            .debug("template", format_args!("opening a template backend (in memory)"));
        Ok(TemplateBackend {
            shared: Arc::new(Shared::default()),
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

/// Table names and ids. Kept outside snapshots: a table exists from `open_table` on, and a
/// transaction that began earlier reads it as empty.
#[derive(Default)]
struct Tables {
    by_name: BTreeMap<String, u32>,
    next_id: u32,
}

impl Tables {
    fn exists(&self, table: TableId) -> bool {
        self.by_name.values().any(|id| *id == table.0)
    }
}

#[derive(Default)]
struct Shared {
    state: RwLock<Arc<Snapshot>>,
    tables: Mutex<Tables>,
    /// Whether a write transaction is open; writers wait on `writer_done`.
    writer_busy: Mutex<bool>,
    writer_done: Condvar,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock is turned into an error by the SDK; the data it guards is
    // only ever replaced whole, so it is still consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn current(&self) -> Arc<Snapshot> {
        Arc::clone(&self.state.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn check_table(&self, table: TableId) -> Result<()> {
        if lock(&self.tables).exists(table) {
            Ok(())
        } else {
            Err(PluginError::not_found(format!("no table with id {}", table.0)))
        }
    }
}

/// An open template backend.
pub struct TemplateBackend {
    shared: Arc<Shared>,
}

impl StorageBackend for TemplateBackend {
    type Txn = TemplateTxn;

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn open_table(&self, name: &str, create: bool) -> Result<TableId> {
        let mut tables = lock(&self.shared.tables);
        if let Some(id) = tables.by_name.get(name) {
            return Ok(TableId(*id));
        }
        if !create {
            return Err(PluginError::not_found(format!("no table named {name:?}")));
        }
        let id = tables.next_id;
        tables.next_id += 1;
        tables.by_name.insert(name.to_owned(), id);
        Ok(TableId(id))
    }

    fn drop_table(&self, name: &str) -> Result<bool> {
        let Some(id) = lock(&self.shared.tables).by_name.remove(name) else {
            return Ok(false);
        };
        let mut state = self.shared.state.write().unwrap_or_else(PoisonError::into_inner);
        let mut next = Snapshot::clone(&state);
        next.tables.remove(&id);
        *state = Arc::new(next);
        Ok(true)
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        Ok(lock(&self.shared.tables).by_name.keys().cloned().collect())
    }

    fn begin(&self, options: TxnOptions) -> Result<TemplateTxn> {
        if !options.read_only {
            let mut busy = lock(&self.shared.writer_busy);
            while *busy {
                busy = self
                    .shared
                    .writer_done
                    .wait(busy)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            *busy = true;
        }
        Ok(TemplateTxn {
            shared: Arc::clone(&self.shared),
            snapshot: self.shared.current(),
            overlay: BTreeMap::new(),
            writer: !options.read_only,
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

/// A transaction: the snapshot it began with and its own uncommitted writes.
pub struct TemplateTxn {
    shared: Arc<Shared>,
    snapshot: Arc<Snapshot>,
    /// Uncommitted writes by table: `Some(value)` to put, `None` to delete.
    overlay: BTreeMap<u32, BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
    writer: bool,
}

impl TemplateTxn {
    /// The rows `table` has for this transaction: the snapshot's, with the overlay applied.
    fn view(&self, table: TableId) -> Arc<Rows> {
        let base = self
            .snapshot
            .tables
            .get(&table.0)
            .cloned()
            .unwrap_or_default();
        match self.overlay.get(&table.0) {
            None => base,
            Some(writes) => {
                let mut rows = Rows::clone(&base);
                apply(&mut rows, writes);
                Arc::new(rows)
            }
        }
    }

    fn write(&mut self, table: TableId, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        self.shared.check_table(table)?;
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
            *lock(&self.shared.writer_busy) = false;
            self.shared.writer_done.notify_one();
        }
    }
}

fn apply(rows: &mut Rows, writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
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
        Ok(TemplateCursor {
            rows: self.view(table),
            range: Some(range),
        })
    }

    fn put(&mut self, table: TableId, key: &[u8], value: &[u8]) -> Result<()> {
        self.write(table, key, Some(value))
    }

    fn delete(&mut self, table: TableId, key: &[u8]) -> Result<()> {
        self.write(table, key, None)
    }

    fn delete_range(&mut self, table: TableId, start: &[u8], end: &[u8]) -> Result<()> {
        self.shared.check_table(table)?;
        if start >= end {
            return Ok(());
        }
        let doomed: Vec<Vec<u8>> = self
            .view(table)
            .range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)))
            .map(|(key, _)| key.clone())
            .collect();
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
            let tables = lock(&self.shared.tables);
            let mut state = self.shared.state.write().unwrap_or_else(PoisonError::into_inner);
            let mut next = Snapshot::clone(&state);
            for (table, writes) in &self.overlay {
                if !tables.exists(TableId(*table)) {
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

/// A scan over a table as its transaction saw it when the scan began.
pub struct TemplateCursor {
    rows: Arc<Rows>,
    /// What is left to read; `None` once the end was reached.
    range: Option<ScanSpec>,
}

impl StorageCursor for TemplateCursor {
    fn next_batch(&mut self, max_rows: u32, max_bytes: u64, out: &mut KvBatch) -> Result<()> {
        let Some(range) = self.range.as_mut() else {
            return Ok(());
        };
        if range.is_empty() {
            self.range = None;
            return Ok(());
        }
        let bounds = (range.start_bound(), range.end_bound());
        let rows = self.rows.range::<[u8], _>(bounds);
        let rows: Box<dyn Iterator<Item = (&Vec<u8>, &Vec<u8>)>> = if range.reverse {
            Box::new(rows.rev())
        } else {
            Box::new(rows)
        };
        for (key, value) in rows {
            if !out.push_within(key, value, max_rows, max_bytes)? {
                break;
            }
        }
        if !range.advance_past(out) {
            self.range = None;
        }
        Ok(())
    }
}
