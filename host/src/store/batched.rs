//! The batched load writer: a load's writes go to the backend as atomic batches outside any
//! transaction, where the backend's transactions would cost more than they give (RocksDB's
//! optimistic transactions track every key written, which a load holding the store's writer
//! slot does not need).
//!
//! Every batch carries its quads, their terms, the counters updated for them and their load
//! journal entries (the first one also the journal marker), so the store is consistent and
//! undoable after each batch: a load that fails, is dropped or is killed is undone like a
//! chunked one. The last batch removes the marker. Reads go through a read-only transaction
//! begun again after each batch.

use kgdb_plugin_api::{SyncMode, TableId, TxnOptions, WriteOptions};
use oxrdf::Quad;

use super::encoding::encode_count;
use super::error::{Context, StoreError};
use super::layout::{load_owner, meta, read_counter};
use super::staged::Staged;
use super::transaction::BATCH_QUADS;
use super::Store;
use crate::plugin::BackendTxn;

/// Buffered operations a batched writer holds at most: the load writes its batches before
/// this, but a batch never grows past it.
const MAX_BATCH_OPS: usize = 1024 * 1024;

/// A load's writer of atomic batches (the caller holds the store's writer slot).
pub(super) struct BatchedWriter<'a> {
    store: &'a Store,
    /// A read-only view that sees every batch written so far.
    txn: BackendTxn,
    staged: Staged,
    /// The load journal table.
    journal: TableId,
    /// The first term id the load may create (the journal marker's value).
    first_new_id: u64,
    /// Whether a batch has written the journal marker.
    marked: bool,
    /// Batches written so far.
    batches: u64,
}

impl std::fmt::Debug for BatchedWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchedWriter")
            .field("batches", &self.batches)
            .finish_non_exhaustive()
    }
}

impl<'a> BatchedWriter<'a> {
    /// Begins; journal entries go into `journal`.
    pub fn begin(store: &'a Store, journal: TableId) -> Result<Self, StoreError> {
        store.check_writable()?;
        let txn = store
            .backend
            .begin(TxnOptions::READ_ONLY)
            .context("starting a read transaction")?;
        let generation = store.view_generation(&txn)?;
        let next_id = read_counter(&txn, store.tables.meta, meta::NEXT_ID)?.max(1);
        let mut staged = Staged::new(next_id, generation);
        staged.record_added_quads();
        Ok(Self {
            store,
            txn,
            staged,
            journal,
            first_new_id: next_id,
            marked: false,
            batches: 0,
        })
    }

    /// Adds quads; returns how many were new. Writes a batch early only if the buffer would
    /// pass its bound.
    pub fn insert_all(&mut self, quads: &[Quad]) -> Result<u64, StoreError> {
        let mut inserted = 0;
        for chunk in quads.chunks(BATCH_QUADS) {
            inserted += self.staged.insert_batch(self.store, &self.txn, chunk)?;
            if self.staged.is_full(MAX_BATCH_OPS) {
                self.write_batch()?;
            }
        }
        Ok(inserted)
    }

    /// Batches written so far.
    pub fn batches_written(&self) -> u64 {
        self.batches
    }

    /// Writes what is buffered as one journaled atomic batch.
    pub fn write_batch(&mut self) -> Result<(), StoreError> {
        self.write(false)
    }

    /// Writes the last batch, which also removes the journal marker (so the load can no longer
    /// be undone); returns how many batches the load wrote in all.
    pub fn finish(mut self) -> Result<u64, StoreError> {
        self.write(true)?;
        self.staged.report_committed(self.store);
        Ok(self.batches)
    }

    /// Writes the buffered operations as one atomic batch with the counters they change and,
    /// unless it is the `last`, their journal entries (and the journal marker, the first
    /// time); the last batch removes the marker instead. Then reads see the batch.
    fn write(&mut self, last: bool) -> Result<(), StoreError> {
        self.staged.write_counters(self.store, &self.txn)?;
        let added = self.staged.take_added_quads();
        let meta_table = self.store.tables.meta;
        if last {
            if self.marked {
                self.staged.pending.delete(meta_table, meta::LOAD_JOURNAL);
                self.staged.pending.delete(meta_table, meta::LOAD_OWNER);
            }
        } else if !self.staged.pending.is_empty() {
            if !self.marked {
                self.staged
                    .pending
                    .put(meta_table, meta::LOAD_OWNER, &load_owner());
                self.staged.pending.put(
                    meta_table,
                    meta::LOAD_JOURNAL,
                    &encode_count(self.first_new_id),
                );
                self.marked = true;
            }
            for quad in added {
                self.staged
                    .pending
                    .put(self.journal, &quad.journal_key(), b"");
            }
        }
        if !self.staged.pending.is_empty() {
            // Only the last batch needs to reach the disk before the call returns: an earlier
            // one lost to a power failure is undone (or was never there) all the same.
            let sync = if last {
                SyncMode::DEFAULT
            } else {
                SyncMode::NO_SYNC
            };
            self.store
                .backend
                .write_batch(&self.staged.pending, WriteOptions { sync })
                .context("writing a load batch")?;
            self.batches += 1;
            self.txn = self
                .store
                .backend
                .begin(TxnOptions::READ_ONLY)
                .context("starting a read transaction")?;
            // The batch's terms are in the dictionary now: the shared cache may serve them,
            // and this writer need not hold them.
            let written = self.staged.interner.take_new_terms();
            if let Some(generation) = self.staged.cache_generation() {
                self.store.terms.remember_ids(generation, written);
            }
        }
        self.staged.flushed();
        Ok(())
    }

    /// The next term id this writer would hand out.
    pub fn next_id(&self) -> u64 {
        self.staged.interner.next_id()
    }
}
