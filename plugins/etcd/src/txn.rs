//! Transactions: a snapshot at the revision a linearizable read returned when the transaction
//! began, every read at that revision, the writes held here until commit (read-your-writes by
//! merging them over the snapshot), and a commit of one etcd txn (see `commit.rs`).

use std::cell::RefCell;
use std::ops::Bound;
use std::sync::Arc;

use kgdb_plugin_api::sdk::StorageTxn;
use kgdb_plugin_api::{PluginError, ScanSpec, TableId, WriteBatch};

use crate::commit::{commit, ReadSet};
use crate::cursor::EtcdCursor;
use crate::shared::Shared;
use crate::writes::{successor, Writes};

/// A transaction on the etcd store.
pub struct EtcdTxn {
    shared: Arc<Shared>,
    /// The snapshot's revision.
    revision: i64,
    read_only: bool,
    writes: Writes,
    /// What was read, for the commit's compares (writers only).
    reads: RefCell<ReadSet>,
}

impl EtcdTxn {
    pub(crate) fn new(shared: Arc<Shared>, revision: i64, read_only: bool) -> Self {
        Self {
            shared,
            revision,
            read_only,
            writes: Writes::default(),
            reads: RefCell::new(ReadSet::default()),
        }
    }

    fn data_key(&self, table: u32, key: &[u8]) -> Vec<u8> {
        [self.shared.keys.data_prefix(table).as_slice(), key].concat()
    }

    fn note_read(&self, table: u32, key: Vec<u8>, mod_revision: i64) {
        if !self.read_only {
            self.reads
                .borrow_mut()
                .keys
                .entry(table)
                .or_default()
                .entry(key)
                .or_insert(mod_revision);
        }
    }
}

/// The etcd keys `[start, end)` of `range` over table `number`'s rows.
pub(crate) fn etcd_range(shared: &Shared, number: u32, range: &ScanSpec) -> (Vec<u8>, Vec<u8>) {
    let prefix = shared.keys.data_prefix(number);
    let with_prefix = |key: &[u8]| [prefix.as_slice(), key].concat();
    let start = match range.start_bound() {
        Bound::Included(key) => with_prefix(key),
        Bound::Excluded(key) => with_prefix(&successor(key)),
        Bound::Unbounded => prefix.clone(),
    };
    let end = match range.end_bound() {
        Bound::Included(key) => with_prefix(&successor(key)),
        Bound::Excluded(key) => with_prefix(key),
        Bound::Unbounded => shared.keys.data_range(number).1,
    };
    (start, end)
}

impl StorageTxn for EtcdTxn {
    type Cursor = EtcdCursor;

    fn get(&self, table: TableId, key: &[u8]) -> Result<Option<Vec<u8>>, PluginError> {
        let number = self.shared.table_number(table)?;
        if let Some(own) = self
            .writes
            .table(number)
            .and_then(|writes| writes.lookup(key))
        {
            return Ok(own.map(<[u8]>::to_vec));
        }
        let etcd_key = self.data_key(number, key);
        let (value, mod_revision) = self.shared.read_key(&etcd_key, self.revision)?;
        self.note_read(number, etcd_key, mod_revision);
        Ok(value)
    }

    fn get_many(
        &self,
        table: TableId,
        keys: &[&[u8]],
    ) -> Result<Vec<Option<Vec<u8>>>, PluginError> {
        let number = self.shared.table_number(table)?;
        let own = self.writes.table(number);
        let mut found: Vec<Option<Vec<u8>>> = Vec::with_capacity(keys.len());
        let mut remote = Vec::new();
        let mut remote_at = Vec::new();
        for (index, key) in keys.iter().enumerate() {
            match own.and_then(|writes| writes.lookup(key)) {
                Some(value) => found.push(value.map(<[u8]>::to_vec)),
                None => {
                    found.push(None);
                    remote.push(self.data_key(number, key));
                    remote_at.push(index);
                }
            }
        }
        if !remote.is_empty() {
            let values = self.shared.read_keys(&remote, self.revision)?;
            for ((etcd_key, index), (value, mod_revision)) in
                remote.into_iter().zip(remote_at).zip(values)
            {
                found[index] = value;
                self.note_read(number, etcd_key, mod_revision);
            }
        }
        Ok(found)
    }

    fn scan(&self, table: TableId, range: ScanSpec) -> Result<EtcdCursor, PluginError> {
        let number = self.shared.table_number(table)?;
        if range.reverse {
            return Err(PluginError::unsupported("reverse scans"));
        }
        if !self.read_only {
            let bounds = etcd_range(&self.shared, number, &range);
            self.reads
                .borrow_mut()
                .ranges
                .entry(number)
                .or_default()
                .push(bounds);
        }
        let own = self
            .writes
            .table(number)
            .map(|writes| writes.slice(&range))
            .unwrap_or_default();
        Ok(EtcdCursor::new(
            Arc::clone(&self.shared),
            number,
            self.revision,
            own,
            range,
        ))
    }

    fn put(&mut self, table: TableId, key: &[u8], value: &[u8]) -> Result<(), PluginError> {
        let number = self.shared.table_number(table)?;
        self.writes.table_mut(number).put(key, value);
        Ok(())
    }

    fn delete(&mut self, table: TableId, key: &[u8]) -> Result<(), PluginError> {
        let number = self.shared.table_number(table)?;
        self.writes.table_mut(number).delete(key);
        Ok(())
    }

    fn delete_range(
        &mut self,
        table: TableId,
        start: &[u8],
        end: &[u8],
    ) -> Result<(), PluginError> {
        let number = self.shared.table_number(table)?;
        self.writes.table_mut(number).delete_range(start, end);
        Ok(())
    }

    fn write_batch(&mut self, batch: &WriteBatch) -> Result<(), PluginError> {
        // All or none: check every entry before applying any.
        let entries = batch.iter().collect::<Result<Vec<_>, _>>()?;
        for entry in &entries {
            self.shared.table_number(entry.table())?;
        }
        for entry in entries {
            let number = self.shared.table_number(entry.table())?;
            self.writes.table_mut(number).apply(entry);
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), PluginError> {
        if self.read_only {
            return Ok(());
        }
        let writes = std::mem::take(&mut self.writes);
        let reads = std::mem::take(&mut *self.reads.borrow_mut());
        commit(&self.shared, Some((self.revision, &reads)), &writes)
    }

    fn rollback(&mut self) -> Result<(), PluginError> {
        self.writes = Writes::default();
        Ok(())
    }
}
