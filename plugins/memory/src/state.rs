//! The engine's state: tables as persistent ordered maps, the committed version, the
//! writes of recent commits that live transactions may conflict with, and first-committer-wins
//! commits.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use imbl::{OrdMap, OrdSet};
use kgdb_plugin_api::sdk::{locks, unknown_table};
use kgdb_plugin_api::{BatchEntry, ErrorCode, PluginError, TableId, WriteBatch};

/// Keys and values are shared slices: cloning a tree node clones pointers, not bytes.
pub(crate) type Bytes = Arc<[u8]>;
/// One table: a persistent B-tree, O(1) to clone.
pub(crate) type Rows = OrdMap<Bytes, Bytes>;
/// The keys a transaction wrote.
pub(crate) type WriteSet = OrdSet<(TableId, Bytes)>;

#[derive(Clone)]
pub(crate) struct Table {
    pub(crate) name: Arc<str>,
    pub(crate) rows: Rows,
}

/// Every table by id; a dropped table leaves `None` so ids are never reused.
pub(crate) type Tables = Vec<Option<Table>>;

pub(crate) struct State {
    pub(crate) closed: bool,
    /// Incremented by every commit that changed something.
    pub(crate) version: u64,
    pub(crate) tables: Tables,
    /// Bytes of keys and values over every table.
    pub(crate) bytes: u64,
    /// Commits that a live read-write transaction may conflict with: `(version, keys written)`.
    pub(crate) recent: VecDeque<(u64, WriteSet)>,
    /// Start versions of live read-write transactions, with how many started there.
    pub(crate) active: BTreeMap<u64, usize>,
}

impl State {
    pub(crate) fn check_open(&self) -> Result<(), PluginError> {
        if self.closed {
            Err(PluginError::closed("the memory backend is closed"))
        } else {
            Ok(())
        }
    }

    pub(crate) fn table_id(&self, name: &str) -> Option<TableId> {
        self.tables.iter().enumerate().find_map(|(index, table)| {
            let table = table.as_ref()?;
            (&*table.name == name).then_some(TableId(index as u32))
        })
    }

    pub(crate) fn end_txn(&mut self, start: u64) {
        if let Some(count) = self.active.get_mut(&start) {
            *count -= 1;
            if *count == 0 {
                self.active.remove(&start);
            }
        }
        self.prune();
    }

    /// Forgets commits no live transaction can conflict with.
    pub(crate) fn prune(&mut self) {
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
    pub(crate) fn commit(
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

    pub(crate) fn live_table(&self, table: TableId) -> Result<&Table, PluginError> {
        self.tables
            .get(table.0 as usize)
            .and_then(Option::as_ref)
            .ok_or_else(|| dropped(table))
    }

    pub(crate) fn table_name(&self, table: TableId) -> String {
        self.live_table(table)
            .map_or_else(|_| format!("#{}", table.0), |t| t.name.to_string())
    }
}

pub(crate) fn dropped(table: TableId) -> PluginError {
    unknown_table(table)
}

pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) limit: Option<u64>,
}

impl Shared {
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, State>, PluginError> {
        locks::lock(&self.state, "memory backend's state")
    }
}

pub(crate) fn table_mut(view: &mut Tables, table: TableId) -> Result<&mut Table, PluginError> {
    view.get_mut(table.0 as usize)
        .and_then(Option::as_mut)
        .ok_or_else(|| dropped(table))
}

pub(crate) fn table_ref(view: &Tables, table: TableId) -> Result<&Table, PluginError> {
    view.get(table.0 as usize)
        .and_then(Option::as_ref)
        .ok_or_else(|| dropped(table))
}

pub(crate) fn put(
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

pub(crate) fn delete(
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

pub(crate) fn delete_range(
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

pub(crate) fn apply_batch(
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
