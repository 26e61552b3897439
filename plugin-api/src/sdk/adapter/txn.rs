//! The `Txn` trait object over a [`StorageTxn`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{ROption, RResult, RSlice, RVec},
};

use super::super::StorageTxn;
use super::cursor::CursorAdapter;
use super::*;
use crate::abi::{CursorBox, Cursor_TO, Txn};
use crate::{Capabilities, PluginError, ScanSpec, TableId, WriteBatch};

pub(super) struct TxnAdapter<T: StorageTxn> {
    pub(super) inner: Option<T>,
    pub(super) read_only: bool,
    /// Shared with this transaction's cursors: set when it commits or rolls back.
    pub(super) finished: Arc<AtomicBool>,
    pub(super) instance: Arc<Instance>,
}

impl<T: StorageTxn> TxnAdapter<T> {
    pub(super) fn live(&self) -> Result<&T, PluginError> {
        self.inner
            .as_ref()
            .ok_or_else(|| PluginError::closed("the transaction has already ended"))
    }

    pub(super) fn live_mut(&mut self, operation: &str) -> Result<&mut T, PluginError> {
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
    pub(super) fn finish(
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
