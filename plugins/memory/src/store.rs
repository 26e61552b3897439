//! The engine: persistent ordered maps, snapshots and first-committer-wins commits.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use imbl::{OrdMap, OrdSet};
use kgdb_plugin_api::sdk::{StorageBackend, StorageCursor, StorageTxn};
use kgdb_plugin_api::{
    BatchEntry, Capabilities, ErrorCode, KvBatch, NativeStat, PluginError, ScanSpec, SortedRun,
    TableId, TxnOptions, WriteBatch, WriteOptions,
};

/// Keys and values are shared slices: cloning a tree node clones pointers, not bytes.
type Bytes = Arc<[u8]>;
/// One table: a persistent B-tree, O(1) to clone.
type Rows = OrdMap<Bytes, Bytes>;
/// The keys a transaction wrote.
type WriteSet = OrdSet<(TableId, Bytes)>;

#[derive(Clone)]
struct Table {
    name: Arc<str>,
    rows: Rows,
}

/// Every table by id; a dropped table leaves `None` so ids are never reused.
type Tables = Vec<Option<Table>>;

struct State {
    closed: bool,
    /// Incremented by every commit that changed something.
    version: u64,
    tables: Tables,
    /// Bytes of keys and values over every table.
    bytes: u64,
    /// Commits that a live read-write transaction may conflict with: `(version, keys written)`.
    recent: VecDeque<(u64, WriteSet)>,
    /// Start versions of live read-write transactions, with how many started there.
    active: BTreeMap<u64, usize>,
}

impl State {
    fn check_open(&self) -> Result<(), PluginError> {
        if self.closed {
            Err(PluginError::closed("the memory backend is closed"))
        } else {
            Ok(())
        }
    }

    fn table_id(&self, name: &str) -> Option<TableId> {
        self.tables.iter().enumerate().find_map(|(index, table)| {
            let table = table.as_ref()?;
            (&*table.name == name).then_some(TableId(index as u32))
        })
    }

    fn end_txn(&mut self, start: u64) {
        if let Some(count) = self.active.get_mut(&start) {
            *count -= 1;
            if *count == 0 {
                self.active.remove(&start);
            }
        }
        self.prune();
    }

    /// Forgets commits no live transaction can conflict with.
    fn prune(&mut self) {
        match self.active.keys().next().copied() {
            None => self.recent.clear(),
            Some(oldest) => {
                while self.recent.front().is_some_and(|(v, _)| *v <= oldest) {
                    self.recent.pop_front();
                }
            }
        }
    }

    /// Applies the writes of a transaction that began at `start` and now sees `view`.
    fn commit(
        &mut self,
        start: u64,
        written: &WriteSet,
        view: &Tables,
        limit: Option<u64>,
    ) -> Result<(), PluginError> {
        self.check_open()?;
        if written.is_empty() {
            return Ok(());
        }
        for (version, keys) in self.recent.iter() {
            if *version <= start {
                continue;
            }
            let (small, large) = if keys.len() < written.len() {
                (keys, written)
            } else {
                (written, keys)
            };
            if let Some((table, _)) = small.iter().find(|entry| large.contains(*entry)) {
                return Err(PluginError::conflict(format!(
                    "write-write conflict on table `{}`: another transaction committed a write \
                     to the same key after this one began",
                    self.table_name(*table)
                )));
            }
        }
        let mut delta: i128 = 0;
        for (table, key) in written.iter() {
            let current = self.live_table(*table)?;
            let old = current.rows.get(&**key).map_or(0, |v| key.len() + v.len());
            let new = view
                .get(table.0 as usize)
                .and_then(Option::as_ref)
                .and_then(|t| t.rows.get(&**key))
                .map_or(0, |v| key.len() + v.len());
            delta += new as i128 - old as i128;
        }
        let new_bytes = (i128::from(self.bytes) + delta).max(0) as u64;
        if let Some(limit) = limit {
            if delta > 0 && new_bytes > limit {
                return Err(PluginError::new(
                    ErrorCode::FULL,
                    format!(
                        "memory_limit reached: this commit needs {new_bytes} bytes of keys and \
                         values, the limit is {limit}"
                    ),
                ));
            }
        }
        for (table, key) in written.iter() {
            let value = view
                .get(table.0 as usize)
                .and_then(Option::as_ref)
                .and_then(|t| t.rows.get(&**key))
                .cloned();
            let rows = &mut self.tables[table.0 as usize]
                .as_mut()
                .ok_or_else(|| dropped(*table))?
                .rows;
            match value {
                Some(value) => {
                    rows.insert(Arc::clone(key), value);
                }
                None => {
                    rows.remove(&**key);
                }
            }
        }
        self.bytes = new_bytes;
        self.version += 1;
        if !self.active.is_empty() {
            self.recent.push_back((self.version, written.clone()));
        }
        Ok(())
    }

    fn live_table(&self, table: TableId) -> Result<&Table, PluginError> {
        self.tables
            .get(table.0 as usize)
            .and_then(Option::as_ref)
            .ok_or_else(|| dropped(table))
    }

    fn table_name(&self, table: TableId) -> String {
        self.live_table(table)
            .map_or_else(|_| format!("#{}", table.0), |t| t.name.to_string())
    }
}

fn dropped(table: TableId) -> PluginError {
    PluginError::not_found(format!(
        "table #{} does not exist (it was never opened or has been dropped)",
        table.0
    ))
    .with_key("table")
}

struct Shared {
    state: Mutex<State>,
    limit: Option<u64>,
}

impl Shared {
    fn lock(&self) -> Result<MutexGuard<'_, State>, PluginError> {
        // A poisoned mutex means a panic mid-commit; the SDK already poisons the instance, but
        // refuse here too rather than read half-applied state.
        self.state
            .lock()
            .map_err(|_| PluginError::internal("the memory backend's state lock is poisoned"))
    }
}

/// An open memory backend.
pub struct MemoryBackend {
    shared: Arc<Shared>,
}

impl MemoryBackend {
    /// A new, empty backend; `limit` bounds the bytes of keys and values held.
    #[must_use]
    pub fn new(limit: Option<u64>) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    closed: false,
                    version: 0,
                    tables: Vec::new(),
                    bytes: 0,
                    recent: VecDeque::new(),
                    active: BTreeMap::new(),
                }),
                limit,
            }),
        }
    }

    /// Runs `apply` on a private copy of the current tables and commits it atomically.
    fn apply_atomically(
        &self,
        apply: impl FnOnce(&mut Tables, &mut WriteSet) -> Result<(), PluginError>,
    ) -> Result<(), PluginError> {
        let mut state = self.shared.lock()?;
        state.check_open()?;
        let mut view = state.tables.clone();
        let mut written = WriteSet::new();
        apply(&mut view, &mut written)?;
        let start = state.version;
        state.commit(start, &written, &view, self.shared.limit)
    }
}

impl StorageBackend for MemoryBackend {
    type Txn = MemoryTxn;

    fn capabilities(&self) -> Capabilities {
        crate::CAPABILITIES
    }

    fn open_table(&self, name: &str, create: bool) -> Result<TableId, PluginError> {
        let mut state = self.shared.lock()?;
        state.check_open()?;
        if let Some(id) = state.table_id(name) {
            return Ok(id);
        }
        if !create {
            return Err(PluginError::not_found(format!("no table named `{name}`")).with_key("name"));
        }
        let id = u32::try_from(state.tables.len())
            .map_err(|_| PluginError::new(ErrorCode::FULL, "too many tables"))?;
        state.tables.push(Some(Table {
            name: Arc::from(name),
            rows: Rows::new(),
        }));
        Ok(TableId(id))
    }

    fn drop_table(&self, name: &str) -> Result<bool, PluginError> {
        let mut state = self.shared.lock()?;
        state.check_open()?;
        let Some(id) = state.table_id(name) else {
            return Ok(false);
        };
        if let Some(table) = state.tables[id.0 as usize].take() {
            let freed: u64 = table
                .rows
                .iter()
                .map(|(k, v)| (k.len() + v.len()) as u64)
                .sum();
            state.bytes = state.bytes.saturating_sub(freed);
            state.version += 1;
        }
        Ok(true)
    }

    fn list_tables(&self) -> Result<Vec<String>, PluginError> {
        let state = self.shared.lock()?;
        state.check_open()?;
        let mut names: Vec<String> = state
            .tables
            .iter()
            .flatten()
            .map(|t| t.name.to_string())
            .collect();
        names.sort();
        Ok(names)
    }

    fn begin(&self, options: TxnOptions) -> Result<MemoryTxn, PluginError> {
        let mut state = self.shared.lock()?;
        state.check_open()?;
        let start = state.version;
        if !options.read_only {
            *state.active.entry(start).or_default() += 1;
        }
        Ok(MemoryTxn {
            shared: Arc::clone(&self.shared),
            start,
            read_only: options.read_only,
            registered: !options.read_only,
            view: state.tables.clone(),
            written: WriteSet::new(),
        })
    }

    fn write_batch(&self, batch: &WriteBatch, _options: WriteOptions) -> Result<(), PluginError> {
        self.apply_atomically(|view, written| apply_batch(view, written, batch))
    }

    fn ingest_sorted(&self, runs: &[SortedRun], _options: WriteOptions) -> Result<(), PluginError> {
        self.apply_atomically(|view, written| {
            for run in runs {
                let rows = &mut table_mut(view, run.table)?.rows;
                for (key, value) in run.rows.iter() {
                    let key: Bytes = Arc::from(key);
                    rows.insert(Arc::clone(&key), Arc::from(value));
                    written.insert((run.table, key));
                }
            }
            Ok(())
        })
    }

    fn stats(&self) -> Result<Vec<NativeStat>, PluginError> {
        let state = self.shared.lock()?;
        state.check_open()?;
        let tables = state.tables.iter().flatten();
        let keys: usize = tables.clone().map(|t| t.rows.len()).sum();
        let mut stats = vec![
            NativeStat::new("memory.tables", tables.count() as u64, "count"),
            NativeStat::new("memory.keys", keys as u64, "keys"),
            NativeStat::new("memory.bytes", state.bytes, "bytes"),
            NativeStat::new("memory.version", state.version, "count"),
            NativeStat::new(
                "memory.active_write_txns",
                state.active.values().sum::<usize>() as u64,
                "count",
            ),
            NativeStat::new(
                "memory.conflict_log_entries",
                state.recent.len() as u64,
                "count",
            ),
        ];
        if let Some(limit) = self.shared.limit {
            stats.push(NativeStat::new("memory.limit", limit, "bytes"));
        }
        for table in state.tables.iter().flatten() {
            let bytes: usize = table.rows.iter().map(|(k, v)| k.len() + v.len()).sum();
            stats.push(NativeStat::table_bytes(&table.name, bytes as u64));
        }
        Ok(stats)
    }

    fn close(&self) -> Result<(), PluginError> {
        let mut state = self.shared.lock()?;
        state.closed = true;
        state.tables.clear();
        state.recent.clear();
        state.bytes = 0;
        Ok(())
    }
}

fn table_mut(view: &mut Tables, table: TableId) -> Result<&mut Table, PluginError> {
    view.get_mut(table.0 as usize)
        .and_then(Option::as_mut)
        .ok_or_else(|| dropped(table))
}

fn table_ref(view: &Tables, table: TableId) -> Result<&Table, PluginError> {
    view.get(table.0 as usize)
        .and_then(Option::as_ref)
        .ok_or_else(|| dropped(table))
}

fn put(
    view: &mut Tables,
    written: &mut WriteSet,
    table: TableId,
    key: &[u8],
    value: &[u8],
) -> Result<(), PluginError> {
    let key: Bytes = Arc::from(key);
    table_mut(view, table)?
        .rows
        .insert(Arc::clone(&key), Arc::from(value));
    written.insert((table, key));
    Ok(())
}

fn delete(
    view: &mut Tables,
    written: &mut WriteSet,
    table: TableId,
    key: &[u8],
) -> Result<(), PluginError> {
    let rows = &mut table_mut(view, table)?.rows;
    // Record the key even when absent: the delete is a write that must conflict.
    rows.remove(key);
    written.insert((table, Arc::from(key)));
    Ok(())
}

fn delete_range(
    view: &mut Tables,
    written: &mut WriteSet,
    table: TableId,
    start: &[u8],
    end: &[u8],
) -> Result<(), PluginError> {
    let rows = &mut table_mut(view, table)?.rows;
    if start >= end {
        return Ok(());
    }
    let doomed: Vec<Bytes> = rows
        .range::<_, [u8]>((Bound::Included(start), Bound::Excluded(end)))
        .map(|(key, _)| Arc::clone(key))
        .collect();
    for key in doomed {
        rows.remove(&*key);
        written.insert((table, key));
    }
    Ok(())
}

fn apply_batch(
    view: &mut Tables,
    written: &mut WriteSet,
    batch: &WriteBatch,
) -> Result<(), PluginError> {
    for entry in batch.iter() {
        match entry? {
            BatchEntry::Put { table, key, value } => put(view, written, table, key, value)?,
            BatchEntry::Delete { table, key } => delete(view, written, table, key)?,
            BatchEntry::DeleteRange { table, start, end } => {
                delete_range(view, written, table, start, end)?;
            }
        }
    }
    Ok(())
}

/// A transaction: a snapshot of every table plus the keys it wrote.
pub struct MemoryTxn {
    shared: Arc<Shared>,
    start: u64,
    read_only: bool,
    /// Whether `start` is registered in `State::active` and must be released.
    registered: bool,
    /// The snapshot, with this transaction's writes applied.
    view: Tables,
    written: WriteSet,
}

impl MemoryTxn {
    /// Makes a table created after this transaction began visible to it, empty as of its
    /// snapshot.
    fn table_for_write(&mut self, table: TableId) -> Result<(), PluginError> {
        let index = table.0 as usize;
        if self.view.get(index).is_some_and(Option::is_some) {
            return Ok(());
        }
        let state = self.shared.lock()?;
        let current = state.live_table(table)?;
        let name = Arc::clone(&current.name);
        drop(state);
        if self.view.len() <= index {
            self.view.resize(index + 1, None);
        }
        self.view[index] = Some(Table {
            name,
            rows: Rows::new(),
        });
        Ok(())
    }

    fn release(&mut self) {
        if std::mem::take(&mut self.registered) {
            if let Ok(mut state) = self.shared.lock() {
                state.end_txn(self.start);
            }
        }
    }

    fn rows(&self, table: TableId) -> Result<Rows, PluginError> {
        match table_ref(&self.view, table) {
            Ok(table) => Ok(table.rows.clone()),
            // Created after the snapshot: empty as far as this transaction can see.
            Err(error) => {
                let state = self.shared.lock()?;
                state.live_table(table).map_err(|_| error)?;
                Ok(Rows::new())
            }
        }
    }
}

impl Drop for MemoryTxn {
    fn drop(&mut self) {
        self.release();
    }
}

impl StorageTxn for MemoryTxn {
    type Cursor = MemoryCursor;

    fn get(&self, table: TableId, key: &[u8]) -> Result<Option<Vec<u8>>, PluginError> {
        match table_ref(&self.view, table) {
            Ok(table) => Ok(table.rows.get(key).map(|value| value.to_vec())),
            Err(_) => self.rows(table).map(|_| None),
        }
    }

    fn scan(&self, table: TableId, range: ScanSpec) -> Result<MemoryCursor, PluginError> {
        Ok(MemoryCursor {
            rows: self.rows(table)?,
            range,
            done: false,
        })
    }

    fn put(&mut self, table: TableId, key: &[u8], value: &[u8]) -> Result<(), PluginError> {
        self.table_for_write(table)?;
        put(&mut self.view, &mut self.written, table, key, value)
    }

    fn delete(&mut self, table: TableId, key: &[u8]) -> Result<(), PluginError> {
        self.table_for_write(table)?;
        delete(&mut self.view, &mut self.written, table, key)
    }

    fn delete_range(
        &mut self,
        table: TableId,
        start: &[u8],
        end: &[u8],
    ) -> Result<(), PluginError> {
        self.table_for_write(table)?;
        delete_range(&mut self.view, &mut self.written, table, start, end)
    }

    fn write_batch(&mut self, batch: &WriteBatch) -> Result<(), PluginError> {
        for entry in batch.iter() {
            self.table_for_write(entry?.table())?;
        }
        // Apply to copies (O(1) each) so a failure leaves this transaction as it was.
        let mut view = self.view.clone();
        let mut written = self.written.clone();
        apply_batch(&mut view, &mut written, batch)?;
        self.view = view;
        self.written = written;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), PluginError> {
        if self.read_only {
            return Ok(());
        }
        let result = {
            let mut state = self.shared.lock()?;
            let result = state.commit(self.start, &self.written, &self.view, self.shared.limit);
            state.end_txn(self.start);
            result
        };
        self.registered = false;
        result
    }

    fn rollback(&mut self) -> Result<(), PluginError> {
        self.release();
        Ok(())
    }
}

/// A cursor over an O(1) copy of one table as its transaction saw it when the scan began.
///
/// Each batch seeks from the last key returned, so the cursor holds no borrow and its memory
/// does not grow with the size of the range.
pub struct MemoryCursor {
    rows: Rows,
    /// The remaining range: narrowed after every batch.
    range: ScanSpec,
    done: bool,
}

impl StorageCursor for MemoryCursor {
    fn next_batch(
        &mut self,
        max_rows: u32,
        max_bytes: u64,
        out: &mut KvBatch,
    ) -> Result<(), PluginError> {
        if self.done || self.range.is_empty() {
            return Ok(());
        }
        let bounds = (self.range.start_bound(), self.range.end_bound());
        let mut iter = self.rows.range::<_, [u8]>(bounds);
        loop {
            let next = if self.range.reverse {
                iter.next_back()
            } else {
                iter.next()
            };
            let Some((key, value)) = next else {
                self.done = true;
                break;
            };
            if !out.push_within(key, value, max_rows, max_bytes)? {
                break;
            }
        }
        self.range.advance_past(out);
        Ok(())
    }
}
