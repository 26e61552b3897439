//! The `Cursor` trait object over a [`StorageCursor`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use abi_stable::std_types::RResult;

use super::super::StorageCursor;
use super::*;
use crate::abi::Cursor;
use crate::{KvBatch, PluginError};

pub(super) struct CursorAdapter<C: StorageCursor> {
    pub(super) inner: Option<C>,
    pub(super) finished: Arc<AtomicBool>,
    pub(super) instance: Arc<Instance>,
}

impl<C: StorageCursor> Drop for CursorAdapter<C> {
    fn drop(&mut self) {
        if let Some(cursor) = self.inner.take() {
            drop_quietly(&self.instance, "cursor", cursor);
        }
    }
}

impl<C: StorageCursor> Cursor for CursorAdapter<C> {
    fn next_batch(
        &mut self,
        max_rows: u32,
        max_bytes: u64,
        out: &mut KvBatch,
    ) -> RResult<(), PluginError> {
        let instance = Arc::clone(&self.instance);
        guard(&instance, "next_batch", || {
            out.clear();
            if self.finished.load(Ordering::Acquire) {
                self.inner = None;
                return Err(PluginError::closed(
                    "the cursor's transaction has already ended",
                ));
            }
            if max_rows == 0 {
                return Err(PluginError::invalid_argument("max_rows must be at least 1")
                    .with_key("max_rows"));
            }
            let cursor = self
                .inner
                .as_mut()
                .ok_or_else(|| PluginError::closed("the cursor is closed"))?;
            cursor.next_batch(max_rows, max_bytes, out)
        })
    }
}
