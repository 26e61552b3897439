//! A scan cursor.

use std::sync::Arc;

use kgdb_plugin_api::abi::CursorBox;
use kgdb_plugin_api::{KvBatch, TableId};

use super::meter::Meter;
use super::{result, DEFAULT_BATCH_BYTES, DEFAULT_BATCH_ROWS};
use crate::error::BackendError;
use crate::stats::{Collector, Op};

/// A scan cursor: batches through [`Cursor::next_batch`], or rows through `Iterator`.
pub struct Cursor {
    inner: CursorBox,
    batch: KvBatch,
    position: usize,
    finished: bool,
    table: TableId,
    collector: Arc<Collector>,
}

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cursor")
    }
}

impl Cursor {
    pub(super) fn new(inner: CursorBox, table: TableId, collector: Arc<Collector>) -> Self {
        Self {
            inner,
            batch: KvBatch::new(),
            position: 0,
            finished: false,
            table,
            collector,
        }
    }

    /// The next batch (empty at the end of the scan).
    ///
    /// # Errors
    /// Engine failures; `CLOSED` once the transaction ended.
    pub fn next_batch(&mut self, max_rows: u32, max_bytes: u64) -> Result<&KvBatch, BackendError> {
        self.position = 0;
        let meter = Meter::direct(&self.collector);
        let started = meter.start(Op::CursorBatch);
        let outcome = result(self.inner.next_batch(max_rows, max_bytes, &mut self.batch));
        let bytes_out = self.batch.byte_len();
        meter.note(Some(self.table), 0, started, &outcome, |()| bytes_out);
        outcome?;
        if self.collector.enabled() {
            self.collector.rows(self.batch.len() as u64);
        }
        if self.batch.is_empty() {
            self.finished = true;
        }
        Ok(&self.batch)
    }
}

impl Iterator for Cursor {
    type Item = Result<(Vec<u8>, Vec<u8>), BackendError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((key, value)) = self.batch.get(self.position) {
                self.position += 1;
                return Some(Ok((key.to_vec(), value.to_vec())));
            }
            if self.finished {
                return None;
            }
            if let Err(error) = self.next_batch(DEFAULT_BATCH_ROWS, DEFAULT_BATCH_BYTES) {
                self.finished = true;
                return Some(Err(error));
            }
        }
    }
}
