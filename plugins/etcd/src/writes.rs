//! A transaction's own writes, held in the process until commit: rows put or deleted, and key
//! ranges deleted, per table, in the table's own key space. Reads merge them over the
//! snapshot (read-your-writes); the commit turns them into etcd operations.

use std::collections::BTreeMap;
use std::ops::Bound;

use kgdb_plugin_api::{BatchEntry, ScanSpec};

/// The writes of one table.
#[derive(Debug, Default, Clone)]
pub(crate) struct TableWrites {
    /// Rows put (`Some`) or deleted (`None`) one by one, after any range delete.
    pub(crate) rows: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Ranges `[start, end)` deleted, in the order they were deleted; rows written later
    /// in them are in `rows`.
    pub(crate) deleted: Vec<(Vec<u8>, Vec<u8>)>,
}

impl TableWrites {
    /// Puts a row.
    pub(crate) fn put(&mut self, key: &[u8], value: &[u8]) {
        self.rows.insert(key.to_vec(), Some(value.to_vec()));
    }

    /// Deletes a row.
    pub(crate) fn delete(&mut self, key: &[u8]) {
        self.rows.insert(key.to_vec(), None);
    }

    /// Applies one entry of a write batch (its table already resolved to these writes).
    pub(crate) fn apply(&mut self, entry: BatchEntry<'_>) {
        match entry {
            BatchEntry::Put { key, value, .. } => self.put(key, value),
            BatchEntry::Delete { key, .. } => self.delete(key),
            BatchEntry::DeleteRange { start, end, .. } => self.delete_range(start, end),
        }
    }

    /// Deletes `[start, end)`: rows written before in it are forgotten.
    pub(crate) fn delete_range(&mut self, start: &[u8], end: &[u8]) {
        if start >= end {
            return;
        }
        let mut tail = self.rows.split_off(start);
        let mut rest = tail.split_off(end);
        self.rows.append(&mut rest);
        self.deleted.push((start.to_vec(), end.to_vec()));
    }

    /// What this transaction wrote at `key`: `Some(Some(value))`, `Some(None)` when it deleted
    /// it, `None` when the snapshot decides.
    pub(crate) fn lookup(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        if let Some(row) = self.rows.get(key) {
            return Some(row.as_deref());
        }
        self.in_deleted_range(key).then_some(None)
    }

    /// Whether `key` lies in a range this transaction deleted.
    pub(crate) fn in_deleted_range(&self, key: &[u8]) -> bool {
        self.deleted
            .iter()
            .any(|(start, end)| start.as_slice() <= key && key < end.as_slice())
    }

    /// The part of these writes a scan of `range` needs.
    pub(crate) fn slice(&self, range: &ScanSpec) -> Self {
        let bounds = (range.start_bound(), range.end_bound());
        Self {
            rows: self
                .rows
                .range::<[u8], _>(bounds)
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
            deleted: self.deleted.clone(),
        }
    }

    /// The deleted ranges merged where they overlap or touch, sorted, each split around
    /// the rows written in it (etcd refuses a txn that puts a key inside a range it deletes).
    pub(crate) fn range_deletes(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut ranges = self.deleted.clone();
        ranges.sort();
        let mut merged: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if start <= last.1 => {
                    if end > last.1 {
                        last.1 = end;
                    }
                }
                _ => merged.push((start, end)),
            }
        }
        let mut pieces = Vec::new();
        for (start, end) in merged {
            let mut from = start;
            for key in self
                .rows
                .range::<[u8], _>((
                    Bound::Included(from.as_slice()),
                    Bound::Excluded(end.as_slice()),
                ))
                .map(|(key, _)| key.clone())
                .collect::<Vec<_>>()
            {
                if from < key {
                    pieces.push((from, key.clone()));
                }
                from = successor(&key);
            }
            if from < end {
                pieces.push((from, end));
            }
        }
        pieces
    }

    /// Whether there is nothing to write.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.deleted.is_empty()
    }
}

/// The smallest key after `key`.
pub(crate) fn successor(key: &[u8]) -> Vec<u8> {
    let mut next = Vec::with_capacity(key.len() + 1);
    next.extend_from_slice(key);
    next.push(0);
    next
}

/// Every table's writes.
#[derive(Debug, Default)]
pub(crate) struct Writes {
    pub(crate) tables: BTreeMap<u32, TableWrites>,
}

impl Writes {
    /// The writes of `table`, made on first use.
    pub(crate) fn table_mut(&mut self, table: u32) -> &mut TableWrites {
        self.tables.entry(table).or_default()
    }

    /// The writes of `table`, if any.
    pub(crate) fn table(&self, table: u32) -> Option<&TableWrites> {
        self.tables.get(&table)
    }

    /// Whether there is nothing to write.
    pub(crate) fn is_empty(&self) -> bool {
        self.tables.values().all(TableWrites::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_deletes_are_merged_and_split_around_later_writes() {
        let mut writes = TableWrites::default();
        writes.put(b"b", b"old");
        writes.delete_range(b"a", b"c");
        assert_eq!(writes.lookup(b"b"), Some(None));
        writes.put(b"b", b"new");
        writes.delete_range(b"c", b"e");
        writes.delete(b"d");
        assert_eq!(writes.lookup(b"b"), Some(Some(&b"new"[..])));
        assert_eq!(writes.lookup(b"z"), None);
        assert_eq!(
            writes.range_deletes(),
            [
                (b"a".to_vec(), b"b".to_vec()),
                (b"b\0".to_vec(), b"d".to_vec()),
                (b"d\0".to_vec(), b"e".to_vec())
            ]
        );
    }
}
