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
//! | `store.meta` | counter name | counter (format, next id, quads, terms…) |
//! | `store.graphs` | graph id | quads in that named graph |
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
//! # Transactions
//! [`Store::snapshot`] gives a consistent read-only view. [`Store::transaction`] gives the
//! store's single writer: snapshot reads, read-your-writes, insert and remove, and one atomic
//! commit across every ordering, the dictionary and the counters; dropped without
//! [`Transaction::commit`], it rolls back. Writers of one store are serialised by the store
//! (`transaction` waits for the previous writer to finish), and a data directory belongs to
//! one process at a time (the plugins lock it), so two writers never conflict; readers never
//! wait for writers. Should a backend still report a write-write conflict, the commit fails
//! with a [`StoreError`] whose [`StoreError::is_retryable`] is true, and nothing was written.
//!
//! With the LMDB plugin, a write that must grow the memory map waits until the process has no
//! read transaction open: do not keep a [`Snapshot`] open on the thread that writes a lot (the
//! write fails with `timed-out` after the plugin's `resize_wait_seconds`).
//!
//! # Loads
//! [`BulkLoad`] loads any number of quads atomically with bounded memory: it commits chunks
//! of `chunk_quads` quads and records each chunk's new quads and the first new term id in a
//! journal, written in the same commits. If the load fails, is dropped or the process dies,
//! the journal is undone (at once, or when the store is next opened), so the store holds
//! what it held before the load. A load that fits in one chunk is one plain transaction.
//! Where the backend's transactions track conflicts (RocksDB), a load writes atomic backend
//! batches outside transactions instead ([`LoadPath`]): each batch carries its quads, terms,
//! counters and journal entries, so the same undo applies.

mod bulk;
mod counters;
mod dictionary;
pub mod encoding;
mod error;
pub mod index;
mod reader;
mod verify;
mod writer;

use rustc_hash::FxHashMap as HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use kgdb_plugin_api::{Capabilities, TableId, TxnOptions};
use oxrdf::{NamedOrBlankNode, Term};

use crate::plugin::Backend;
pub use bulk::{BulkLoad, LoadOptions, LoadPath, LoadSummary};
use counters::StoreCounters;
pub use counters::StoreFigures;
use encoding::{decode_count, TermHash, TermHasher, TermId};
pub use error::StoreError;
use error::{Context, StoreError as E};
use index::Ordering;
pub use reader::{QuadIter, Snapshot};
pub use verify::VerifyReport;
pub use writer::Transaction;

/// The store format this code writes.
const FORMAT: &str = "kgdb-quadstore 1";

/// The `store.meta` key of note `name` (a prefix no counter name has).
fn note_key(name: &str) -> Vec<u8> {
    [b"note:".as_slice(), name.as_bytes()].concat()
}

/// Counter names in `store.meta`.
pub(crate) mod meta {
    pub const FORMAT: &[u8] = b"format";
    pub const HASH_KEY: &[u8] = b"hash-key";
    pub const NEXT_ID: &[u8] = b"next-id";
    pub const QUADS: &[u8] = b"quads";
    pub const DEFAULT_GRAPH_QUADS: &[u8] = b"default-graph-quads";
    pub const TERMS: &[u8] = b"terms";
    pub const LOAD_JOURNAL: &[u8] = b"load-journal";
}

/// Table name of the load journal.
const JOURNAL_TABLE: &str = "load.journal";

/// Entries the shared term-id cache may hold before it starts over.
const TERM_CACHE_LIMIT: usize = 1 << 20;
/// Decoded terms the shared id-to-term cache may hold before it starts over.
const RESOLVED_CACHE_LIMIT: usize = 1 << 19;

/// The tables of a store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tables {
    orderings: [TableId; 9],
    id2term: TableId,
    term2id: TableId,
    meta: TableId,
    graphs: TableId,
}

impl Tables {
    fn ordering(&self, ordering: Ordering) -> TableId {
        self.orderings[ordering.index()]
    }
}

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
    writer: Mutex<()>,
    term_cache: Mutex<TermCache>,
    counters: Arc<StoreCounters>,
}

/// Committed term ids, shared by every view of the store. Ids never change meaning within a
/// generation; emptying the dictionary (a whole `clear`, undoing a load) starts a new one.
#[derive(Debug, Default)]
struct TermCache {
    generation: u64,
    map: HashMap<TermHash, TermId>,
    /// Terms by id, as snapshots resolved them (committed ids only).
    resolved: HashMap<TermId, Term>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store kept by `backend`, creating its tables on first use and undoing a load
    /// that was interrupted.
    ///
    /// # Errors
    /// A backend without transactions, snapshot reads or read-your-writes; a data directory
    /// of another format; backend failures.
    pub fn open(backend: Backend) -> Result<Self, StoreError> {
        let capabilities = backend.capabilities();
        for (bit, name) in [
            (Capabilities::TRANSACTIONS, "transactions"),
            (Capabilities::SNAPSHOT_READS, "snapshot reads"),
            (Capabilities::READ_YOUR_WRITES, "read-your-writes"),
        ] {
            if !capabilities.has(bit) {
                return Err(E::Incompatible(format!(
                    "this plugin does not offer {name}, which the QuadStore needs"
                )));
            }
        }
        let open = |name: &str| {
            backend
                .open_table(name, true)
                .context(&format!("opening table `{name}`"))
        };
        let mut orderings = [TableId(0); 9];
        for (slot, ordering) in orderings.iter_mut().zip(Ordering::ALL) {
            *slot = open(&ordering.table_name())?;
        }
        let tables = Tables {
            orderings,
            id2term: open("dict.id2term")?,
            term2id: open("dict.term2id")?,
            meta: open("store.meta")?,
            graphs: open("store.graphs")?,
        };
        let hash_key = check_format(&backend, &tables)?;
        let counters = Arc::new(StoreCounters::default());
        backend.collector().attach(Arc::clone(&counters) as _);
        let store = Self {
            backend,
            tables,
            hasher: TermHasher::new(hash_key),
            writer: Mutex::new(()),
            term_cache: Mutex::new(TermCache::default()),
            counters,
        };
        bulk::recover(&store)?;
        Ok(store)
    }

    /// The backend beneath the store.
    #[must_use]
    pub fn backend(&self) -> &Backend {
        &self.backend
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
    /// Backend failures.
    pub fn transaction(&self) -> Result<Transaction<'_>, StoreError> {
        Transaction::begin(self, Some(self.lock_writer()))
    }

    /// Starts a bulk load (see [`BulkLoad`]).
    ///
    /// # Errors
    /// Backend failures.
    pub fn bulk_load(&self, options: LoadOptions) -> Result<BulkLoad<'_>, StoreError> {
        BulkLoad::new(self, options)
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
    /// Backend failures.
    pub fn clear(&self, graph: &GraphPattern) -> Result<u64, StoreError> {
        let mut txn = self.transaction()?;
        let removed = txn.clear(graph)?;
        txn.commit()?;
        Ok(removed)
    }

    /// Keeps `value` under `name` among the store's notes (in `store.meta`, beside the
    /// counters), in a transaction of its own: the last load's operation stats, for example.
    ///
    /// # Errors
    /// Backend failures.
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
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn term_cache(&self) -> MutexGuard<'_, TermCache> {
        self.term_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The current cache generation. A view reads it before its backend transaction begins.
    fn cache_generation(&self) -> u64 {
        self.term_cache().generation
    }

    /// A cached id, for a view of `generation`.
    fn cached_term(&self, generation: u64, hash: &TermHash) -> Option<TermId> {
        let cache = self.term_cache();
        if cache.generation == generation {
            cache.map.get(hash).copied()
        } else {
            None
        }
    }

    /// Caches committed ids seen by a view of `generation`; ignored if the generation has
    /// moved on since the view began (its ids may be stale).
    fn cache_terms(&self, generation: u64, terms: impl IntoIterator<Item = (TermHash, TermId)>) {
        let mut cache = self.term_cache();
        if cache.generation != generation {
            return;
        }
        for (hash, id) in terms {
            if cache.map.len() >= TERM_CACHE_LIMIT {
                cache.map.clear();
            }
            cache.map.insert(hash, id);
        }
    }

    /// Moves the cached terms of `ids` into `out`, for a view of `generation`; returns the
    /// ids not cached.
    fn resolved_terms(
        &self,
        generation: u64,
        ids: Vec<TermId>,
        out: &mut HashMap<TermId, Term>,
    ) -> Vec<TermId> {
        let cache = self.term_cache();
        if cache.generation != generation || cache.resolved.is_empty() {
            return ids;
        }
        ids.into_iter()
            .filter(|id| match cache.resolved.get(id) {
                Some(term) => {
                    out.insert(*id, term.clone());
                    false
                }
                None => true,
            })
            .collect()
    }

    /// Caches terms a snapshot of `generation` read from the dictionary.
    fn cache_resolved(&self, generation: u64, terms: Vec<(TermId, Term)>) {
        let mut cache = self.term_cache();
        if cache.generation != generation {
            return;
        }
        for (id, term) in terms {
            if cache.resolved.len() >= RESOLVED_CACHE_LIMIT {
                cache.resolved.clear();
            }
            cache.resolved.insert(id, term);
        }
    }

    /// Starts a new generation: called after a commit that removed dictionary entries.
    fn forget_cached_terms(&self) {
        let mut cache = self.term_cache();
        cache.generation += 1;
        cache.map.clear();
        cache.resolved.clear();
    }
}

/// Checks (or, for a new store, writes) the format marker; returns the store's hash key.
fn check_format(backend: &Backend, tables: &Tables) -> Result<[u8; 16], StoreError> {
    let mut txn = backend
        .begin(TxnOptions::READ_WRITE)
        .context("starting a transaction")?;
    match txn
        .get(tables.meta, meta::FORMAT)
        .context("reading the store format")?
    {
        Some(found) if found == FORMAT.as_bytes() => {
            let key = txn
                .get(tables.meta, meta::HASH_KEY)
                .context("reading the store's hash key")?
                .unwrap_or_default();
            key.as_slice().try_into().map_err(|_| {
                E::corrupt(format!(
                    "the store's hash key holds {} bytes, not 16",
                    key.len()
                ))
            })
        }
        Some(found) => Err(E::Incompatible(format!(
            "the data directory holds `{}`, but this kgdb reads `{FORMAT}`",
            String::from_utf8_lossy(&found)
        ))),
        None => {
            let mut others = backend.list_tables().context("listing tables")?;
            others.retain(|name| !is_store_table(name));
            if !others.is_empty() {
                return Err(E::Incompatible(format!(
                    "the data directory holds tables that are not a kgdb QuadStore's: {}",
                    others.join(", ")
                )));
            }
            let key = TermHasher::random_key();
            txn.put(tables.meta, meta::FORMAT, FORMAT.as_bytes())
                .context("writing the store format")?;
            txn.put(tables.meta, meta::HASH_KEY, &key)
                .context("writing the store format")?;
            txn.commit().context("committing the store format")?;
            Ok(key)
        }
    }
}

/// Whether a table name is one the store uses.
fn is_store_table(name: &str) -> bool {
    name.starts_with("quads.")
        || name.starts_with("dict.")
        || name.starts_with("store.")
        || name == JOURNAL_TABLE
}

/// Reads an optional counter.
fn read_counter(
    txn: &crate::plugin::Transaction,
    table: TableId,
    key: &[u8],
) -> Result<u64, StoreError> {
    match txn.get(table, key).context("reading a counter")? {
        Some(bytes) => decode_count(&bytes, &String::from_utf8_lossy(key)),
        None => Ok(0),
    }
}
