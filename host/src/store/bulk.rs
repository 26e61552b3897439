//! Atomic loads of any size with bounded memory: chunked commits (or journaled atomic
//! batches) under an undo journal.
//!
//! Chunks: each chunk is one backend transaction. Before the first chunk commits, the store's
//! `load-journal` counter records the first term id the load may create; every chunk writes,
//! in its own commit, one `load.journal` entry per quad it added. The last chunk deletes the
//! counter in its commit, and the journal table is dropped.
//!
//! Batches ([`LoadPath::Batches`]): each atomic backend batch carries the same journal entries
//! and counter (see `batched.rs`); the last one deletes the counter.
//!
//! Either way a load that fails, is dropped or dies with the process is undone (at once, or
//! by the next writing open of the store; see `undo.rs`), so the store holds what it held
//! before the load.

use std::sync::MutexGuard;

use kgdb_plugin_api::{Capabilities, TableId};
use oxrdf::Quad;

use super::batched::BatchedWriter;
use super::encoding::encode_count;
use super::error::{Context, StoreError};
use super::layout::{load_owner, meta, JOURNAL_TABLE};
use super::transaction::Transaction;
use super::undo::undo;
use super::Store;

/// Quads handed to the writer at once.
const BATCH: usize = 1024;
/// Quads per atomic batch of a batched load, at most (each carries about ten writes per quad).
const MAX_BATCH_QUADS: usize = 16 * 1024;

/// How a [`BulkLoad`] commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Quads per backend transaction (or per atomic batch, up to 16,384): the bound on the
    /// memory a load holds in the backend.
    pub chunk_quads: usize,
    /// How the load reaches the backend.
    pub path: LoadPath,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            chunk_quads: 250_000,
            path: LoadPath::Auto,
        }
    }
}

/// How a [`BulkLoad`] writes. Either way the load is atomic: undone as a whole on error, on
/// drop, or when the store is next opened for writing after a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadPath {
    /// Batches where the backend has atomic batches (`atomic-batch`) and concurrent writers
    /// with conflict detection (`conflict-detection`: its transactions track every key they
    /// write, which a load does not need, holding the store's writer slot); else transactions.
    #[default]
    Auto,
    /// Chunks of [`LoadOptions::chunk_quads`] quads, each one backend transaction: other
    /// readers see the whole load at once if it fits in one chunk.
    Transactions,
    /// Atomic backend batches outside transactions, each carrying its own journal entries:
    /// no transaction bookkeeping (RocksDB's conflict tracking, say). Needs `atomic-batch`.
    Batches,
    /// Sorted runs handed to the backend's `ingest_sorted` ([`SortedLoad`](super::SortedLoad),
    /// started with [`Store::sorted_load`](super::Store::sorted_load), not with a
    /// [`BulkLoad`]). Needs `bulk-ingest`.
    Sorted,
}

/// What a finished load did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadSummary {
    /// Quads handed to the load.
    pub read: u64,
    /// Quads the store did not hold before.
    pub inserted: u64,
    /// Backend transactions committed, or atomic batches written (see [`LoadPath`]).
    pub chunks: u64,
}

/// The writer of a load.
#[derive(Debug)]
enum LoadWriter<'a> {
    /// A transaction per chunk.
    Chunks(Transaction<'a>),
    /// Journaled atomic batches.
    Batches(BatchedWriter<'a>),
}

/// An atomic load: add quads, then [`BulkLoad::commit`]. Dropped or failed, it is undone
/// before the call returns (or, if the process dies, by the next writing open). It holds the
/// store's writer slot for its whole life.
pub struct BulkLoad<'a> {
    store: &'a Store,
    writer: Option<LoadWriter<'a>>,
    options: LoadOptions,
    buffer: Vec<Quad>,
    in_chunk: usize,
    /// The `load.journal` table, created before the load's first transaction (LMDB cannot
    /// create a table while the same thread holds a write transaction).
    journal: TableId,
    /// The first term id the load may create.
    first_new_id: u64,
    /// Whether a chunk has committed (and the store records the journal).
    chunks_committed: bool,
    summary: LoadSummary,
    finished: bool,
    _writer_slot: MutexGuard<'a, ()>,
}

impl std::fmt::Debug for BulkLoad<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkLoad")
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

/// Whether a load with `path` writes batches on a backend with `capabilities`.
fn writes_batches(path: LoadPath, capabilities: Capabilities) -> Result<bool, StoreError> {
    match path {
        LoadPath::Transactions => Ok(false),
        LoadPath::Batches if !capabilities.has(Capabilities::ATOMIC_BATCH) => {
            Err(StoreError::InvalidInput(
                "this backend has no atomic batches (`atomic-batch`): load through transactions"
                    .into(),
            ))
        }
        LoadPath::Batches => Ok(true),
        LoadPath::Sorted => Err(StoreError::InvalidInput(
            "a sorted load is started with `Store::sorted_load`, not `Store::bulk_load`".into(),
        )),
        LoadPath::Auto => Ok(capabilities.has(Capabilities::ATOMIC_BATCH)
            && capabilities.has(Capabilities::CONFLICT_DETECTION)),
    }
}

impl<'a> BulkLoad<'a> {
    pub(super) fn new(store: &'a Store, options: LoadOptions) -> Result<Self, StoreError> {
        store.check_writable()?;
        let writer_slot = store.lock_writer();
        let batched = writes_batches(options.path, store.backend.capabilities())?;
        let journal = store
            .backend
            .open_table(JOURNAL_TABLE, true)
            .context("creating the load journal")?;
        let (writer, first_new_id) = if batched {
            let writer = BatchedWriter::begin(store, journal)?;
            let next_id = writer.next_id();
            (LoadWriter::Batches(writer), next_id)
        } else {
            let mut txn = Transaction::begin(store, None)?;
            txn.record_added_quads();
            let next_id = txn.next_id();
            (LoadWriter::Chunks(txn), next_id)
        };
        Ok(Self {
            store,
            writer: Some(writer),
            options: LoadOptions {
                // A quad writes nine index keys, its new terms both ways, a journal entry and
                // counters: within a backend's write limits, chunks are that much smaller.
                chunk_quads: store.items_per_commit(options.chunk_quads.max(1), 24, 1024),
                ..options
            },
            buffer: Vec::with_capacity(BATCH),
            in_chunk: 0,
            journal,
            first_new_id,
            chunks_committed: false,
            summary: LoadSummary::default(),
            finished: false,
            _writer_slot: writer_slot,
        })
    }

    /// Adds a quad.
    ///
    /// # Errors
    /// Backend failures; the load should then be dropped (which undoes it).
    pub fn add(&mut self, quad: Quad) -> Result<(), StoreError> {
        self.buffer.push(quad);
        self.summary.read += 1;
        if self.buffer.len() >= BATCH.min(self.options.chunk_quads) {
            self.write_buffer()?;
        }
        Ok(())
    }

    /// What the load did so far.
    #[must_use]
    pub fn summary(&self) -> LoadSummary {
        self.summary
    }

    fn writer(&mut self) -> Result<&mut LoadWriter<'a>, StoreError> {
        self.writer
            .as_mut()
            .ok_or_else(|| StoreError::InvalidInput("the load already failed".into()))
    }

    fn insert(&mut self, quads: &[Quad]) -> Result<u64, StoreError> {
        match self.writer()? {
            LoadWriter::Chunks(txn) => txn.insert_all(quads),
            LoadWriter::Batches(writer) => writer.insert_all(quads),
        }
    }

    fn write_buffer(&mut self) -> Result<(), StoreError> {
        let quads = std::mem::take(&mut self.buffer);
        self.summary.inserted += self.insert(&quads)?;
        self.in_chunk += quads.len();
        self.buffer = quads;
        self.buffer.clear();
        let chunk_quads = self.options.chunk_quads;
        match self.writer.as_mut() {
            Some(LoadWriter::Batches(writer))
                if self.in_chunk >= chunk_quads.min(MAX_BATCH_QUADS) =>
            {
                writer.write_batch()?;
                self.summary.chunks = writer.batches_written();
                self.in_chunk = 0;
                tracing::info!(
                    batch = self.summary.chunks,
                    quads = self.summary.read,
                    "wrote load batch"
                );
            }
            Some(LoadWriter::Chunks(_)) if self.in_chunk >= chunk_quads => self.commit_chunk()?,
            _ => {}
        }
        Ok(())
    }

    /// Commits the current chunk under the journal and starts the next one.
    fn commit_chunk(&mut self) -> Result<(), StoreError> {
        let Some(LoadWriter::Chunks(mut txn)) = self.writer.take() else {
            return Err(StoreError::InvalidInput("the load already failed".into()));
        };
        self.journal_chunk(&mut txn);
        txn.commit()?;
        self.chunks_committed = true;
        self.summary.chunks += 1;
        tracing::info!(
            chunk = self.summary.chunks,
            quads = self.summary.read,
            "committed load chunk"
        );
        self.in_chunk = 0;
        let mut txn = Transaction::begin(self.store, None)?;
        txn.record_added_quads();
        self.writer = Some(LoadWriter::Chunks(txn));
        Ok(())
    }

    /// Puts the chunk's journal entries (and, for the first chunk, the journal marker) into
    /// its transaction.
    fn journal_chunk(&self, txn: &mut Transaction<'_>) {
        if !self.chunks_committed {
            txn.put_raw(
                self.store.tables.meta,
                meta::LOAD_JOURNAL,
                &encode_count(self.first_new_id),
            );
            txn.put_raw(self.store.tables.meta, meta::LOAD_OWNER, &load_owner());
        }
        for quad in txn.take_added_quads() {
            txn.put_raw(self.journal, &quad.journal_key(), b"");
        }
    }

    /// Commits the rest: the whole load becomes visible at once if it fit in one chunk, and
    /// durable as a whole either way.
    ///
    /// # Errors
    /// Backend failures; the load is then undone.
    pub fn commit(mut self) -> Result<LoadSummary, StoreError> {
        self.finish()
            .map_err(|error| error.after_undo(self.undo_committed()))
    }

    /// Gives the load up now: undoes every chunk it committed, as dropping it does, but
    /// reports how that went.
    ///
    /// # Errors
    /// The undo's failure: what the load committed then stays, flagged as an unfinished load
    /// ([`Store::load_pending`]), until the next writing open of the store undoes it.
    pub fn rollback(mut self) -> Result<(), StoreError> {
        self.undo_committed()
    }

    /// Undoes the committed chunks once (nothing after the load finished or was undone).
    fn undo_committed(&mut self) -> Result<(), StoreError> {
        self.writer = None;
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        undo(self.store).map(drop)
    }

    fn finish(&mut self) -> Result<LoadSummary, StoreError> {
        if !self.buffer.is_empty() {
            let quads = std::mem::take(&mut self.buffer);
            self.summary.inserted += self.insert(&quads)?;
        }
        match self.writer.take() {
            None => return Err(StoreError::InvalidInput("the load already failed".into())),
            // The last batch removes the journal marker itself.
            Some(LoadWriter::Batches(writer)) => self.summary.chunks = writer.finish()?,
            Some(LoadWriter::Chunks(mut txn)) => {
                if self.chunks_committed {
                    txn.delete_raw(self.store.tables.meta, meta::LOAD_JOURNAL);
                    txn.delete_raw(self.store.tables.meta, meta::LOAD_OWNER);
                }
                txn.commit()?;
                self.summary.chunks += 1;
            }
        }
        self.finished = true;
        // The load is in: the leftover journal table is only cleanup, which the next
        // writing open retries.
        if let Err(error) = self.store.backend.drop_table(JOURNAL_TABLE) {
            tracing::warn!("the load committed, but dropping its journal table failed ({error}); the next writing open drops it");
        }
        Ok(self.summary)
    }
}

impl Drop for BulkLoad<'_> {
    /// Undoes what a load that did not finish committed; a failure is logged, and the next
    /// writing open of the store resumes the undo ([`BulkLoad::rollback`] reports it instead).
    fn drop(&mut self) {
        if let Err(error) = self.undo_committed() {
            tracing::error!(
                "undoing the failed load stopped: {error}; the next writing open of the store resumes it"
            );
        }
    }
}
