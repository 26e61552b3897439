//! Atomic loads of any size with bounded memory: chunked commits under an undo journal.
//!
//! Each chunk is one backend transaction. Before the first chunk commits, the store's
//! `load-journal` counter records the first term id the load may create; every chunk writes,
//! in its own commit, one `load.journal` entry per quad it added. The last chunk deletes the
//! counter in its commit, and the journal table is dropped. Undoing (on error, on drop, or
//! when [`Store::open`] finds the counter) removes the journaled quads and the terms from
//! that id on, chunk by chunk; each undo chunk deletes its journal entries in the same commit,
//! so an undo interrupted in turn resumes where it stopped.

use std::sync::MutexGuard;

use kgdb_plugin_api::{Capabilities, ScanSpec, TableId};
use oxrdf::Quad;

use super::encoding::{decode_count, encode_count, key_of, EncodedTerm, TermId};
use super::error::{Context, StoreError};
use super::index::EncodedQuad;
use super::writer::Transaction;
use super::{meta, Store, JOURNAL_TABLE};

/// Quads handed to the writer at once.
const BATCH: usize = 1024;
/// Quads per atomic batch of a batched load, at most (each carries about ten writes per quad).
const MAX_BATCH_QUADS: usize = 16 * 1024;
/// Journal entries or terms undone per commit.
const UNDO_CHUNK: usize = 50_000;

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
/// drop, or when the store is next opened after a crash.
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
    /// no transaction bookkeeping (RocksDB's conflict tracking, say); readers may see a
    /// load in progress. Needs `atomic-batch`.
    Batches,
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

/// An atomic load: add quads, then [`BulkLoad::commit`]; dropped or failed, it is undone.
/// It holds the store's writer slot for its whole life.
pub struct BulkLoad<'a> {
    store: &'a Store,
    txn: Option<Transaction<'a>>,
    options: LoadOptions,
    buffer: Vec<Quad>,
    in_chunk: usize,
    journal: Journal,
    summary: LoadSummary,
    finished: bool,
    _writer: MutexGuard<'a, ()>,
}

/// The journal of a load.
#[derive(Debug, Clone, Copy)]
struct Journal {
    /// The `load.journal` table, created before the load's first transaction (LMDB cannot
    /// create a table while the same thread holds a write transaction).
    table: TableId,
    /// The first term id the load may create.
    first_new_id: u64,
    /// Whether a chunk has committed (and the store records the journal).
    started: bool,
    /// Whether the load writes atomic batches (which journal themselves) instead of chunks.
    batched: bool,
}

impl std::fmt::Debug for BulkLoad<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkLoad")
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl<'a> BulkLoad<'a> {
    pub(super) fn new(store: &'a Store, options: LoadOptions) -> Result<Self, StoreError> {
        let writer = store.lock_writer();
        let table = store
            .backend
            .open_table(JOURNAL_TABLE, true)
            .context("creating the load journal")?;
        let capabilities = store.backend.capabilities();
        let batched = match options.path {
            LoadPath::Transactions => false,
            LoadPath::Batches => {
                if !capabilities.has(Capabilities::ATOMIC_BATCH) {
                    return Err(StoreError::InvalidInput(
                        "this backend has no atomic batches (`atomic-batch`): load through transactions".into(),
                    ));
                }
                true
            }
            LoadPath::Auto => {
                capabilities.has(Capabilities::ATOMIC_BATCH)
                    && capabilities.has(Capabilities::CONFLICT_DETECTION)
            }
        };
        let txn = if batched {
            Transaction::begin_batched(store, table)?
        } else {
            let mut txn = Transaction::begin(store, None)?;
            txn.record_new_quads();
            txn
        };
        let journal = Journal {
            table,
            first_new_id: txn.next_id(),
            started: false,
            batched,
        };
        Ok(Self {
            store,
            txn: Some(txn),
            options: LoadOptions {
                chunk_quads: options.chunk_quads.max(1),
                ..options
            },
            buffer: Vec::with_capacity(BATCH),
            in_chunk: 0,
            journal,
            summary: LoadSummary::default(),
            finished: false,
            _writer: writer,
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

    fn txn(&mut self) -> Result<&mut Transaction<'a>, StoreError> {
        self.txn
            .as_mut()
            .ok_or_else(|| StoreError::InvalidInput("the load already failed".into()))
    }

    fn write_buffer(&mut self) -> Result<(), StoreError> {
        let quads = std::mem::take(&mut self.buffer);
        let inserted = self.txn()?.insert_all(&quads)?;
        self.summary.inserted += inserted;
        self.in_chunk += quads.len();
        self.buffer = quads;
        self.buffer.clear();
        if self.journal.batched {
            if self.in_chunk >= self.options.chunk_quads.min(MAX_BATCH_QUADS) {
                let txn = self.txn()?;
                txn.flush()?;
                self.summary.chunks = txn.batches_written();
                self.in_chunk = 0;
                tracing::info!(
                    batch = self.summary.chunks,
                    quads = self.summary.read,
                    "wrote load batch"
                );
            }
        } else if self.in_chunk >= self.options.chunk_quads {
            self.commit_chunk()?;
        }
        Ok(())
    }

    /// Commits the current chunk under the journal and starts the next one.
    fn commit_chunk(&mut self) -> Result<(), StoreError> {
        let store = self.store;
        let journal = self.journal;
        let mut txn = self
            .txn
            .take()
            .ok_or_else(|| StoreError::InvalidInput("the load already failed".into()))?;
        if !journal.started {
            txn.put_raw(
                store.tables.meta,
                meta::LOAD_JOURNAL,
                &encode_count(journal.first_new_id),
            );
        }
        for quad in txn.take_new_quads() {
            txn.put_raw(journal.table, &quad.journal_key(), b"");
        }
        txn.commit()?;
        self.journal.started = true;
        self.summary.chunks += 1;
        tracing::info!(
            chunk = self.summary.chunks,
            quads = self.summary.read,
            "committed load chunk"
        );
        self.in_chunk = 0;
        let mut txn = Transaction::begin(store, None)?;
        txn.record_new_quads();
        self.txn = Some(txn);
        Ok(())
    }

    /// Commits the rest: the whole load becomes visible at once if it fit in one chunk, and
    /// durable as a whole either way.
    ///
    /// # Errors
    /// Backend failures; the load is then undone.
    pub fn commit(mut self) -> Result<LoadSummary, StoreError> {
        let result = self.finish();
        if result.is_err() {
            self.undo_now();
        }
        result
    }

    fn finish(&mut self) -> Result<LoadSummary, StoreError> {
        if !self.buffer.is_empty() {
            let quads = std::mem::take(&mut self.buffer);
            self.summary.inserted += self.txn()?.insert_all(&quads)?;
        }
        let mut txn = self
            .txn
            .take()
            .ok_or_else(|| StoreError::InvalidInput("the load already failed".into()))?;
        if self.journal.batched {
            // The last batch removes the journal marker itself.
            self.summary.chunks += txn.commit_counting_batches()?;
        } else {
            if self.journal.started {
                txn.delete_raw(self.store.tables.meta, meta::LOAD_JOURNAL);
            }
            txn.commit()?;
            self.summary.chunks += 1;
        }
        self.journal.started = false;
        self.finished = true;
        self.store
            .backend
            .drop_table(JOURNAL_TABLE)
            .context("dropping the load journal")?;
        Ok(self.summary)
    }

    fn undo_now(&mut self) {
        self.txn = None;
        if !self.finished {
            self.finished = true;
            if let Err(error) = undo(self.store) {
                tracing::error!(
                    "undoing the failed load stopped: {error}; it resumes when the store is next opened"
                );
            }
        }
    }
}

impl Drop for BulkLoad<'_> {
    fn drop(&mut self) {
        self.undo_now();
    }
}

/// Undoes an interrupted load, if the store records one; drops a leftover journal table.
pub(super) fn recover(store: &Store) -> Result<(), StoreError> {
    let _writer = store.lock_writer();
    undo(store)
}

fn undo(store: &Store) -> Result<(), StoreError> {
    let tables = store.backend.list_tables().context("listing tables")?;
    let has_journal_table = tables.iter().any(|name| name == JOURNAL_TABLE);
    let start = {
        let mut txn = Transaction::begin(store, None)?;
        let value = txn
            .backend_txn()?
            .get(store.tables.meta, meta::LOAD_JOURNAL)
            .context("reading the load journal")?;
        value
            .map(|bytes| decode_count(&bytes, "load-journal"))
            .transpose()?
    };
    let Some(first_new_id) = start else {
        if has_journal_table {
            store
                .backend
                .drop_table(JOURNAL_TABLE)
                .context("dropping a finished load journal")?;
        }
        return Ok(());
    };
    if !has_journal_table {
        return Err(StoreError::corrupt(
            "the store records an interrupted load, but its journal table `load.journal` is missing",
        ));
    }
    tracing::warn!("undoing an interrupted load (terms from id {first_new_id} on)");
    store.forget_cached_terms();
    {
        let journal = store
            .backend
            .open_table(JOURNAL_TABLE, false)
            .context("opening the load journal")?;
        loop {
            let mut txn = Transaction::begin(store, None)?;
            let keys: Vec<Vec<u8>> = txn
                .backend_txn()?
                .scan(journal, ScanSpec::all())
                .context("reading the load journal")?
                .take(UNDO_CHUNK)
                .map(|row| row.map(|(key, _)| key))
                .collect::<Result<_, _>>()
                .context("reading the load journal")?;
            if keys.is_empty() {
                break;
            }
            for key in &keys {
                let quad = EncodedQuad::from_journal_key(key)?;
                txn.remove_encoded_if_present(&quad)?;
                txn.delete_raw(journal, key);
            }
            txn.commit()?;
        }
    }
    let start_key = key_of(&[TermId(first_new_id)]);
    loop {
        let mut txn = Transaction::begin(store, None)?;
        let entries: Vec<(Vec<u8>, Vec<u8>)> = txn
            .backend_txn()?
            .scan(
                store.tables.id2term,
                ScanSpec::range(
                    std::ops::Bound::Included(&start_key),
                    std::ops::Bound::Unbounded,
                ),
            )
            .context("reading the dictionary")?
            .take(UNDO_CHUNK)
            .collect::<Result<_, _>>()
            .context("reading the dictionary")?;
        let done = entries.is_empty();
        for (key, value) in entries {
            let hash = EncodedTerm::from_bytes(value).hash(&store.hasher);
            txn.delete_raw(store.tables.term2id, &hash);
            txn.delete_raw(store.tables.id2term, &key);
            txn.count_removed_term();
        }
        if done {
            txn.reset_next_id(first_new_id);
            txn.put_raw(
                store.tables.meta,
                meta::NEXT_ID,
                &encode_count(first_new_id),
            );
            txn.delete_raw(store.tables.meta, meta::LOAD_JOURNAL);
            txn.commit()?;
            break;
        }
        txn.commit()?;
    }
    if has_journal_table {
        store
            .backend
            .drop_table(JOURNAL_TABLE)
            .context("dropping the load journal")?;
    }
    store.forget_cached_terms();
    tracing::info!("the interrupted load was undone");
    Ok(())
}
