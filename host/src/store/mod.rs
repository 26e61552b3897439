//! The QuadStore: an RDF dataset (RDF 1.2, triple terms included) on any storage plugin,
//! reached only through the loader's [`Backend`] adapter.
//!
//! # Layout
//! | table | key | value |
//! |---|---|---|
//! | `dict.id2term` | term id | encoded term |
//! | `dict.term2id` | 128-bit keyed hash (SipHash-1-3, random key per store) of the encoded term | term id |
//! | `quads.spo`, `quads.pos`, `quads.osp` | 3 ids | empty (default graph) |
//! | `quads.spog` … `quads.gosp` | 4 ids | empty (named graphs, six orderings) |
//! | `store.meta` | counter name | counter (format, next id, quads, terms, dictionary generation…), and notes |
//! | `store.graphs` | graph id | quads in that named graph (0: an empty graph made by `CREATE GRAPH`) |
//! | `load.journal` | quad | empty: quads a chunked load added, until it ends |
//!
//! # Term ids
//! Terms get sequential 64-bit ids, written in keys in a prefix-free, order-preserving
//! variable-length form (1 byte below 32, 2 below 8,192, 3 below 2.1 M, 4 below 537 M). A
//! store of a few million terms thus uses 3-byte ids: an index key is 9 bytes for a default
//! graph triple and 12 for a named-graph quad, against 24/32 bytes with Jena TDB2's fixed
//! 8-byte ids and up to 4 × 33 bytes with Oxigraph's terms. A default-graph triple costs three
//! keys (≈27 bytes), a named-graph quad six (≈72 bytes), before the engine's own prefix
//! compression. Literals are not inlined: every term has exactly one dictionary entry, so
//! `term_count` is exact and a pattern compares ids only.
//!
//! Dictionary look-ups per insert: at most one batched `get_many` on `dict.term2id` per
//! batch of quads for the terms not already in the id cache (a bulk load of N quads with T
//! distinct terms does about T look-ups, not 4N), plus one batched existence check of the
//! quads on their primary ordering (`spo` or `gspo`) to keep set semantics and exact counts.
//! Reading a quad resolves ids through a cache and batched `get_many` on `dict.id2term`.
//!
//! The dictionary only grows while the store lives: removing quads leaves their terms, so
//! `term_count` counts every term ever stored; [`Store::clear`] of the whole store empties it.
//!
//! # Opening
//! [`Store::open`] opens a store for reading and writing: it creates the tables and the format
//! marker of a new store, and undoes a load that was interrupted. [`Store::open_read_only`]
//! writes nothing: it checks the format in a read-only transaction, refuses every write with
//! [`StoreError::ReadOnly`], and leaves an interrupted load to the next writing open
//! ([`Store::load_pending`] says when there is one). Open the backend read-only too where the
//! plugin can (`read-only-open`): then other processes can read the same data directory while
//! one process writes, where the engine allows it (see README.md, "Readers beside a writer").
//!
//! # Transactions
//! [`Store::snapshot`] gives a consistent read-only view. [`Store::transaction`] gives the
//! store's single writer: snapshot reads, read-your-writes, insert and remove, and one atomic
//! commit across every ordering, the dictionary and the counters; dropped without
//! [`Transaction::commit`], it rolls back. Writers of one store are serialised by the store
//! (`transaction` waits for the previous writer to finish), and a data directory has one
//! writing process at a time (the plugins lock it), so two writers never conflict; readers never
//! wait for writers. Should a backend still report a write-write conflict, the commit fails
//! with a [`StoreError`] whose [`StoreError::is_retryable`] is true, and nothing was written.
//!
//! Term ids are cached store-wide (ids by term, terms by id). The cache holds one dictionary
//! generation, a counter in `store.meta` that a whole `clear` and an undone load move on;
//! every view reads it in its own transaction, so ids cached before another process (or
//! another writer of this one) emptied the dictionary are never used after.
//!
//! With the LMDB plugin, a write that must grow the memory map waits until the process has no
//! read transaction open: do not keep a [`Snapshot`] open on the thread that writes a lot (the
//! write fails with `timed-out` after the plugin's `resize_wait_seconds`).
//!
//! # Loads
//! [`BulkLoad`] loads any number of quads atomically with bounded memory: it commits chunks
//! of `chunk_quads` quads and records each chunk's new quads and the first new term id in a
//! journal, written in the same commits. If the load fails, is dropped or the process dies,
//! the journal is undone (at once, or when the store is next opened for writing), so the
//! store holds what it held before the load. A load that fits in one chunk is one plain
//! transaction. Where the backend's transactions track conflicts (RocksDB), a load writes
//! atomic backend batches outside transactions instead ([`LoadPath`]): each batch carries its
//! quads, terms, counters and journal entries, so the same undo applies.
//!
//! [`SortedLoad`] (the `sorted` path, for large loads on backends with `bulk-ingest`) interns
//! terms in bulk, sorts runs of id tuples per ordering within a memory budget (spilling to
//! files), and hands the backend sorted runs through `ingest_sorted`, under the same journal
//! (see `sorted/mod.rs`).
//!
//! Readers see a load whole or not at all: while `store.meta` records an unfinished load, a
//! new [`Snapshot`] waits for it to end ([`Store::set_load_wait`]).

mod batched;
mod bulk;
mod copy;
mod counters;
mod dictionary;
pub mod encoding;
mod error;
mod ids;
pub mod index;
mod layout;
mod limits;
mod reader;
mod sorted;
mod staged;
mod transaction;
mod undo;
mod verify;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use kgdb_plugin_api::TxnOptions;
use oxrdf::{NamedOrBlankNode, Term};

use crate::plugin::{Backend, BackendTxn, Capabilities};
pub use bulk::{BulkLoad, LoadOptions, LoadPath, LoadSummary};
pub use copy::{CopyOptions, CopyProgress, CopySummary};
use counters::StoreCounters;
pub use counters::StoreFigures;
use dictionary::TermCache;
use encoding::TermHasher;
use error::Context;
pub use error::StoreError;
pub use ids::{EncodedQuads, IdView, TermReader};
pub use layout::{describe_format, FORMAT_VERSION};
use layout::{meta, note_key, read_counter, Tables};
pub use limits::{TermLimit, TermLimits, TermTooLarge, MAX_TERM_TEXT_BYTES};
pub use reader::{QuadIter, Snapshot};
pub use sorted::{
    remove_load_leftovers, LoadProgress, LoadStage, SortedLoad, SortedLoadOptions,
    MIN_MEMORY_BUDGET,
};
pub use transaction::Transaction;
pub use verify::VerifyReport;

/// How long a new snapshot waits for an unfinished load, unless set.
const DEFAULT_LOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Which graphs a quad pattern covers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum GraphPattern {
    /// Every graph, default and named.
    #[default]
    Any,
    /// The default graph only.
    Default,
    /// One named graph.
    Named(NamedOrBlankNode),
}

/// A quad pattern: `None` is unbound.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuadPattern {
    /// Subject (a literal or triple term here matches nothing).
    pub subject: Option<Term>,
    /// Predicate (only an IRI can match).
    pub predicate: Option<Term>,
    /// Object.
    pub object: Option<Term>,
    /// Graphs.
    pub graph: GraphPattern,
}

/// Exact counts, kept with the data and read in O(1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Quads in every graph.
    pub quads: u64,
    /// Quads in the default graph.
    pub default_graph_quads: u64,
    /// Terms in the dictionary.
    pub terms: u64,
}

/// An RDF dataset on a storage backend. Share it between threads by reference or `Arc`.
pub struct Store {
    backend: Backend,
    tables: Tables,
    hasher: TermHasher,
    /// The writer slot: one write transaction or load at a time.
    writer: Mutex<()>,
    terms: TermCache,
    term_limits: TermLimits,
    counters: Arc<StoreCounters>,
    read_only: bool,
    load_pending: bool,
    recovered_load: bool,
    /// How long a new snapshot waits for an unfinished load to end.
    load_wait: std::time::Duration,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// Refuses a backend that lacks what the QuadStore needs.
fn check_capabilities(backend: &Backend) -> Result<(), StoreError> {
    let capabilities = backend.capabilities();
    for (bit, name) in [
        (Capabilities::TRANSACTIONS, "transactions"),
        (Capabilities::SNAPSHOT_READS, "snapshot reads"),
        (Capabilities::READ_YOUR_WRITES, "read-your-writes"),
    ] {
        if !capabilities.has(bit) {
            return Err(StoreError::Incompatible(format!(
                "this plugin does not offer {name}, which the QuadStore needs"
            )));
        }
    }
    Ok(())
}

impl Store {
    /// Opens the store kept by `backend` for reading and writing: creates its tables and format
    /// marker on first use, and undoes a load that was interrupted. Opening an existing store
    /// with nothing to undo writes nothing.
    ///
    /// # Errors
    /// A backend without transactions, snapshot reads or read-your-writes; a data directory
    /// of another format; backend failures.
    pub fn open(backend: Backend) -> Result<Self, StoreError> {
        check_capabilities(&backend)?;
        let tables = Tables::open(&backend, true)?;
        let header = layout::read_or_create_header(&backend, &tables)?;
        let mut store = Self::with_parts(backend, tables, header.hash_key, false, false);
        let journal_left = store
            .backend
            .list_tables()
            .context("listing tables")?
            .iter()
            .any(|name| name == layout::JOURNAL_TABLE);
        if header.load_pending || journal_left {
            store.recovered_load = undo::recover(&store)?;
        }
        Ok(store)
    }

    /// Opens the store kept by `backend` for reading only: nothing is written, whether or not
    /// the backend itself was opened read-only. A load that is running in another process or
    /// was interrupted is left alone ([`Store::load_pending`]); snapshots wait for it to end,
    /// never seeing part of it ([`Store::set_load_wait`]).
    ///
    /// # Errors
    /// [`StoreError::NoStore`] when the backend holds no store; as [`Store::open`] otherwise.
    pub fn open_read_only(backend: Backend) -> Result<Self, StoreError> {
        check_capabilities(&backend)?;
        let tables = Tables::open(&backend, false)?;
        let header = layout::read_header(&backend, &tables)?;
        if header.load_pending {
            tracing::info!("the store records a load that has not finished");
        }
        Ok(Self::with_parts(
            backend,
            tables,
            header.hash_key,
            true,
            header.load_pending,
        ))
    }

    fn with_parts(
        backend: Backend,
        tables: Tables,
        hash_key: [u8; 16],
        read_only: bool,
        load_pending: bool,
    ) -> Self {
        let counters = Arc::new(StoreCounters::default());
        backend.collector().attach(Arc::clone(&counters) as _);
        let term_limits = TermLimits {
            text_bytes: MAX_TERM_TEXT_BYTES,
            stored_bytes: usize::try_from(backend.capabilities().max_value_size)
                .unwrap_or(usize::MAX),
        };
        Self {
            backend,
            tables,
            hasher: TermHasher::new(hash_key),
            writer: Mutex::new(()),
            terms: TermCache::default(),
            term_limits,
            counters,
            read_only,
            load_pending,
            recovered_load: false,
            load_wait: DEFAULT_LOAD_WAIT,
        }
    }

    /// The backend beneath the store.
    #[must_use]
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// How many items of work one commit takes: `default`, or fewer where the backend bounds
    /// its commits ([`Backend::write_limits`]) and an item writes up to `writes_per_item`
    /// keys of about `bytes_per_item` bytes in all. Half the limits are planned for, leaving
    /// room for what a commit adds (journal entries, counters) and for items larger than
    /// planned; an item larger still fails its commit with the backend's `FULL`, whole.
    #[must_use]
    pub fn items_per_commit(
        &self,
        default: usize,
        writes_per_item: usize,
        bytes_per_item: usize,
    ) -> usize {
        let Some(limits) = self.backend.write_limits() else {
            return default;
        };
        let by_writes = limits.max_ops / 2 / writes_per_item.max(1) as u64;
        let by_bytes = limits.max_bytes / 2 / bytes_per_item.max(1) as u64;
        usize::try_from(by_writes.min(by_bytes))
            .unwrap_or(usize::MAX)
            .clamp(1, default.max(1))
    }

    /// How large a term this store takes ([`MAX_TERM_TEXT_BYTES`] and the backend's value
    /// limit). Writes check every term against them ([`StoreError::TermTooLarge`]); loaders
    /// check first to say where the term is.
    #[must_use]
    pub fn term_limits(&self) -> TermLimits {
        self.term_limits
    }

    /// Whether the store was opened with [`Store::open_read_only`].
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Whether, when a read-only store was opened, the store recorded a load that had not
    /// finished: one running in another process (snapshots wait for it) or one interrupted,
    /// which the next writing open undoes ([`Store::unfinished_load`] says which now). Always `false` for a writing open,
    /// which undoes an interrupted load before it returns.
    #[must_use]
    pub fn load_pending(&self) -> bool {
        self.load_pending
    }

    /// Whether the store records an unfinished load now (read in a fresh transaction), and the
    /// id of the process that writes it, where the store records one.
    ///
    /// # Errors
    /// Backend failures.
    pub fn unfinished_load(&self) -> Result<Option<Option<u32>>, StoreError> {
        let txn = self
            .backend
            .begin(TxnOptions::READ_ONLY)
            .context("starting a read transaction")?;
        if txn
            .get(self.tables.meta, meta::LOAD_JOURNAL)
            .context("reading the load journal marker")?
            .is_none()
        {
            return Ok(None);
        }
        let owner = txn
            .get(self.tables.meta, meta::LOAD_OWNER)
            .context("reading the load journal marker")?
            .and_then(|bytes| String::from_utf8(bytes).ok()?.parse().ok());
        Ok(Some(owner))
    }

    /// Whether [`Store::open`] found an interrupted load and undid it.
    #[must_use]
    pub fn recovered_load(&self) -> bool {
        self.recovered_load
    }

    /// The store's own counters since it was opened: quads committed in and out, and how term
    /// look-ups were answered. They are also in the backend's operation stats
    /// (`backend().collector()`), under `counters`.
    #[must_use]
    pub fn figures(&self) -> StoreFigures {
        self.counters.figures()
    }

    /// A consistent read-only view of the store.
    ///
    /// # Errors
    /// Backend failures.
    pub fn snapshot(&self) -> Result<Snapshot<'_>, StoreError> {
        Snapshot::new(self)
    }

    /// Starts the store's write transaction, waiting for the current writer to finish.
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`] on a read-only store; backend failures.
    pub fn transaction(&self) -> Result<Transaction<'_>, StoreError> {
        self.check_writable()?;
        Transaction::begin(self, Some(self.lock_writer()))
    }

    /// Starts a bulk load (see [`BulkLoad`]).
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`] on a read-only store; backend failures.
    pub fn bulk_load(&self, options: LoadOptions) -> Result<BulkLoad<'_>, StoreError> {
        BulkLoad::new(self, options)
    }

    /// Starts a sorted-run load (see [`SortedLoad`]).
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`] on a read-only store; [`StoreError::InvalidInput`] on a
    /// backend without `bulk-ingest`; backend failures.
    pub fn sorted_load(&self, options: SortedLoadOptions) -> Result<SortedLoad<'_>, StoreError> {
        SortedLoad::new(self, options)
    }

    /// How long a new [`Snapshot`] waits while the store records an unfinished load (one being
    /// written by this or another process, or one interrupted that waits for its undo) before
    /// it fails with [`StoreError::LoadUnfinished`]; 60 s unless set.
    pub fn set_load_wait(&mut self, wait: std::time::Duration) {
        self.load_wait = wait;
    }

    /// Runs `body` in a transaction and commits it, retrying up to `attempts` times on a
    /// retryable conflict.
    ///
    /// # Errors
    /// `body`'s error, or the last commit error.
    pub fn update<T>(
        &self,
        attempts: usize,
        mut body: impl FnMut(&mut Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut txn = self.transaction()?;
            let value = body(&mut txn)?;
            match txn.commit() {
                Err(error) if error.is_retryable() && attempt < attempts => continue,
                Err(error) => return Err(error),
                Ok(()) => return Ok(value),
            }
        }
    }

    /// The exact counts.
    ///
    /// # Errors
    /// Backend failures.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        self.snapshot()?.counts()
    }

    /// Removes every quad of `graph` (every quad and every term for [`GraphPattern::Any`]),
    /// in one transaction; returns how many quads went.
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`] on a read-only store; backend failures.
    pub fn clear(&self, graph: &GraphPattern) -> Result<u64, StoreError> {
        let mut txn = self.transaction()?;
        let removed = txn.clear(graph)?;
        txn.commit()?;
        Ok(removed)
    }

    /// Keeps `value` under `name` among the store's notes (in `store.meta`, beside the
    /// counters), in a transaction of its own: the last load's figures, for example.
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`] on a read-only store; backend failures.
    pub fn set_note(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut txn = self.transaction()?;
        txn.put_raw(self.tables.meta, &note_key(name), value);
        txn.commit()
    }

    /// The note kept under `name`, if any.
    ///
    /// # Errors
    /// Backend failures.
    pub fn note(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self
            .backend
            .begin(TxnOptions::READ_ONLY)
            .context("reading a store note")?;
        txn.get(self.tables.meta, &note_key(name))
            .context("reading a store note")
    }

    /// Checks that every ordering agrees with every other, with the dictionary and with the
    /// counters.
    ///
    /// # Errors
    /// Backend failures (differences go into the report).
    pub fn verify(&self, max_differences: usize) -> Result<VerifyReport, StoreError> {
        verify::run(self, max_differences)
    }

    /// Closes the backend, flushing what it buffers.
    ///
    /// # Errors
    /// Backend failures.
    pub fn close(self) -> Result<(), StoreError> {
        self.backend.close().context("closing the backend")
    }

    fn lock_writer(&self) -> MutexGuard<'_, ()> {
        // The slot guards no data: a writer that panicked left nothing half-done in it.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The writer slot, if no writer of this process holds it now.
    fn try_lock_writer(&self) -> Option<MutexGuard<'_, ()>> {
        match self.writer.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        if self.read_only {
            Err(StoreError::ReadOnly(
                "the store is open read-only; open it for writing to change it".into(),
            ))
        } else {
            Ok(())
        }
    }

    /// The dictionary generation `txn` sees; the shared term cache moves to it if it is newer.
    fn view_generation(&self, txn: &BackendTxn) -> Result<u64, StoreError> {
        let generation = read_counter(txn, self.tables.meta, meta::DICTIONARY_GENERATION)?;
        self.terms.observe(generation);
        Ok(generation)
    }
}
