//! A backend transaction.

use std::sync::Arc;
use std::time::Duration;

use abi_stable::std_types::RSlice;
use kgdb_plugin_api::abi::TxnBox;
use kgdb_plugin_api::{ScanSpec, TableId, WriteBatch};

use super::meter::Meter;
use super::{result, Cursor};
use crate::error::BackendError;
use crate::stats::{Call, Collector, Op, Tally};

/// A transaction; dropped without `commit`, it rolls back.
pub struct BackendTxn {
    inner: TxnBox,
    collector: Arc<Collector>,
    /// This transaction's counts, folded into the collector when it ends.
    tally: Tally,
    /// Committed or rolled back explicitly; otherwise dropping a read-write transaction counts
    /// as a rollback (a read-only one just ends).
    finished: bool,
    read_only: bool,
}

impl Drop for BackendTxn {
    fn drop(&mut self) {
        self.collector.fold(&self.tally);
        if !self.finished && !self.read_only {
            self.collector
                .record(Op::Rollback, Call::default(), Duration::ZERO, None);
        }
    }
}

impl std::fmt::Debug for BackendTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackendTxn")
    }
}

impl BackendTxn {
    pub(super) fn new(inner: TxnBox, collector: Arc<Collector>, read_only: bool) -> Self {
        Self {
            inner,
            collector,
            tally: Tally::default(),
            finished: false,
            read_only,
        }
    }

    /// The value of `key`, if any.
    ///
    /// # Errors
    /// Engine failures; `CLOSED` after the transaction ended.
    pub fn get(&self, table: TableId, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        Meter::through(&self.collector, &self.tally).measure(
            Op::Get,
            Some(table),
            key.len(),
            || {
                result(self.inner.get(table, RSlice::from_slice(key)))
                    .map(|value| value.into_option().map(|value| value.into_vec()))
            },
            |v| v.as_ref().map_or(0, Vec::len),
        )
    }

    /// The values of many keys, in order.
    ///
    /// # Errors
    /// As [`BackendTxn::get`].
    pub fn get_many(
        &self,
        table: TableId,
        keys: &[&[u8]],
    ) -> Result<Vec<Option<Vec<u8>>>, BackendError> {
        let bytes_in = keys.iter().map(|key| key.len()).sum();
        Meter::through(&self.collector, &self.tally).measure(
            Op::GetMany,
            Some(table),
            bytes_in,
            || {
                let keys: Vec<RSlice<'_, u8>> =
                    keys.iter().map(|key| RSlice::from_slice(key)).collect();
                result(self.inner.get_many(table, RSlice::from_slice(&keys))).map(|values| {
                    values
                        .into_iter()
                        .map(|value| value.into_option().map(|v| v.into_vec()))
                        .collect::<Vec<_>>()
                })
            },
            |values| values.iter().flatten().map(Vec::len).sum(),
        )
    }

    /// A cursor over `range`.
    ///
    /// # Errors
    /// Engine failures; `UNSUPPORTED` for a reverse scan without `REVERSE_SCAN`.
    pub fn scan(&self, table: TableId, range: ScanSpec) -> Result<Cursor, BackendError> {
        let bytes_in = range.start.len() + range.end.len();
        let inner = Meter::through(&self.collector, &self.tally).measure(
            Op::Scan,
            Some(table),
            bytes_in,
            || result(self.inner.scan(table, range)),
            |_| 0,
        )?;
        Ok(Cursor::new(inner, table, Arc::clone(&self.collector)))
    }

    /// Inserts or overwrites.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` over the size limits; `READ_ONLY`; engine failures.
    pub fn put(&mut self, table: TableId, key: &[u8], value: &[u8]) -> Result<(), BackendError> {
        Meter::through(&self.collector, &self.tally).measure(
            Op::Put,
            Some(table),
            key.len() + value.len(),
            || {
                result(
                    self.inner
                        .put(table, RSlice::from_slice(key), RSlice::from_slice(value)),
                )
            },
            |()| 0,
        )
    }

    /// Removes a key.
    ///
    /// # Errors
    /// As [`BackendTxn::put`].
    pub fn delete(&mut self, table: TableId, key: &[u8]) -> Result<(), BackendError> {
        Meter::through(&self.collector, &self.tally).measure(
            Op::Delete,
            Some(table),
            key.len(),
            || result(self.inner.delete(table, RSlice::from_slice(key))),
            |()| 0,
        )
    }

    /// Removes `[start, end)`.
    ///
    /// # Errors
    /// `UNSUPPORTED` without `DELETE_RANGE`.
    pub fn delete_range(
        &mut self,
        table: TableId,
        start: &[u8],
        end: &[u8],
    ) -> Result<(), BackendError> {
        Meter::through(&self.collector, &self.tally).measure(
            Op::DeleteRange,
            Some(table),
            start.len() + end.len(),
            || {
                result(self.inner.delete_range(
                    table,
                    RSlice::from_slice(start),
                    RSlice::from_slice(end),
                ))
            },
            |()| 0,
        )
    }

    /// Applies a batch inside the transaction, all or none.
    ///
    /// # Errors
    /// As [`BackendTxn::put`].
    pub fn write_batch(&mut self, batch: &WriteBatch) -> Result<(), BackendError> {
        Meter::through(&self.collector, &self.tally).measure(
            Op::WriteBatch,
            None,
            batch.byte_len(),
            || result(self.inner.write_batch(batch)),
            |()| 0,
        )
    }

    /// Commits atomically.
    ///
    /// # Errors
    /// Retryable `CONFLICT` on a write-write conflict; engine failures. Either way the
    /// transaction is over.
    pub fn commit(mut self) -> Result<(), BackendError> {
        self.finished = true;
        Meter::direct(&self.collector).measure(
            Op::Commit,
            None,
            0,
            || result(self.inner.commit()),
            |()| 0,
        )
    }

    /// Rolls back.
    ///
    /// # Errors
    /// Engine failures.
    pub fn rollback(mut self) -> Result<(), BackendError> {
        self.finished = true;
        Meter::direct(&self.collector).measure(
            Op::Rollback,
            None,
            0,
            || result(self.inner.rollback()),
            |()| 0,
        )
    }
}
