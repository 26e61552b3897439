//! The backend: tables, batches and ingest outside transactions, native stats.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use kgdb_plugin_api::sdk::{no_table_named, StorageBackend};
use kgdb_plugin_api::{
    Capabilities, ErrorCode, NativeStat, PluginError, SortedRun, TableId, TxnOptions, WriteBatch,
    WriteOptions,
};

use crate::state::{apply_batch, table_mut, Bytes, Rows, Shared, State, Table, Tables, WriteSet};
use crate::txn::MemoryTxn;

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
            return Err(no_table_named(name));
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
        Ok(MemoryTxn::new(
            Arc::clone(&self.shared),
            start,
            options.read_only,
            state.tables.clone(),
        ))
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
