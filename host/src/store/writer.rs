//! The store's write transaction.

use rustc_hash::FxHashMap as HashMap;
use std::sync::MutexGuard;

use kgdb_plugin_api::{ScanSpec, SyncMode, TableId, TxnOptions, WriteBatch, WriteOptions};
use oxrdf::{NamedOrBlankNode, Quad, QuadRef, Term, TermRef};

use super::dictionary::{decode_id_value, lookup, TermScope};
use super::encoding::{encode_count, key_of, EncodedTerm, TermHash, TermId, MAX_TERM_ID};
use super::error::{Context, StoreError};
use super::index::{plan, EncodedQuad, GraphIds, IdPattern, Ordering};
use super::reader::{self, EncodedScan, QuadIter};
use super::{meta, read_counter, Counts, GraphPattern, QuadPattern, Store};
use crate::plugin::Transaction as BackendTxn;

/// Buffered operations sent to the backend in one call.
const FLUSH_OPS: usize = 16 * 1024;
/// Buffered operations a batched load's writer holds at most (see [`Transaction::begin_batched`]):
/// the load flushes its batches before this, but a batch never grows past it.
const BATCHED_FLUSH_OPS: usize = 1024 * 1024;
/// Quads handled per batched look-up.
const BATCH_QUADS: usize = 1024;

/// A term position of a batch on its way to an id.
enum Slot {
    /// No term (the default graph).
    Empty,
    /// Already interned (triple terms).
    Known(TermId),
    /// To look up or add.
    Hashed(TermHash, EncodedTerm),
}

/// Counter changes made by a transaction, applied at commit.
#[derive(Debug, Default)]
struct Deltas {
    quads: i64,
    default_graph_quads: i64,
    terms: i64,
    graphs: HashMap<TermId, i64>,
}

/// The store's write transaction: snapshot reads, read-your-writes, insert and remove, one
/// atomic commit. Dropped without [`Transaction::commit`], it rolls back and the store is as
/// it was.
pub struct Transaction<'a> {
    store: &'a Store,
    _writer: Option<MutexGuard<'a, ()>>,
    txn: BackendTxn,
    pending: WriteBatch,
    pending_quads: HashMap<EncodedQuad, bool>,
    new_terms: HashMap<TermHash, TermId>,
    next_id: u64,
    first_new_id: u64,
    deltas: Deltas,
    /// Quads added and removed, reported to the store's counters at commit.
    inserted: u64,
    removed: u64,
    journal: Option<Vec<EncodedQuad>>,
    generation: u64,
    dictionary_cleared: bool,
    /// Set when the writes go to the backend as atomic batches outside a transaction.
    batched: Option<Batched>,
    /// `transaction{id=N}`: the span its log lines carry.
    span: tracing::Span,
    started: std::time::Instant,
}

/// A batched load's write path: every flush is one atomic `Backend::write_batch` that carries
/// its quads, their terms, the counters updated for them and their load journal entries, so
/// the store is consistent (and undoable) after each batch. Reads go through a read-only
/// transaction begun again after each batch.
#[derive(Debug, Clone, Copy)]
struct Batched {
    /// The load journal table.
    journal: TableId,
    /// The first term id the load may create (the journal marker's value).
    first_new_id: u64,
    /// Whether a batch has written the journal marker.
    marked: bool,
    /// Batches written so far.
    batches: u64,
}

/// Numbers the store's write transactions for their spans.
static NEXT_TRANSACTION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("pending_ops", &self.pending.len())
            .field("new_terms", &self.new_terms.len())
            .finish_non_exhaustive()
    }
}

impl<'a> Transaction<'a> {
    /// Begins; `writer` is the store's writer slot (held by the caller when `None`).
    pub(super) fn begin(
        store: &'a Store,
        writer: Option<MutexGuard<'a, ()>>,
    ) -> Result<Self, StoreError> {
        // Read before the transaction begins: see `Store::cache_terms`.
        let generation = store.cache_generation();
        let txn = store
            .backend
            .begin(TxnOptions::READ_WRITE)
            .context("starting a write transaction")?;
        let next_id = read_counter(&txn, store.tables.meta, meta::NEXT_ID)?.max(1);
        Ok(Self::with_backend_txn(
            store, writer, txn, next_id, generation,
        ))
    }

    fn with_backend_txn(
        store: &'a Store,
        writer: Option<MutexGuard<'a, ()>>,
        txn: BackendTxn,
        next_id: u64,
        generation: u64,
    ) -> Self {
        Self {
            store,
            _writer: writer,
            txn,
            pending: WriteBatch::new(),
            pending_quads: HashMap::default(),
            new_terms: HashMap::default(),
            next_id,
            first_new_id: next_id,
            deltas: Deltas::default(),
            inserted: 0,
            removed: 0,
            journal: None,
            generation,
            dictionary_cleared: false,
            batched: None,
            span: tracing::debug_span!(
                "transaction",
                id = NEXT_TRANSACTION.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ),
            started: std::time::Instant::now(),
        }
    }

    /// Begins a batched load's writer (the caller holds the writer slot): writes go to the
    /// backend in atomic batches outside any transaction, each journaled in `journal`; the
    /// load is made durable and unjournaled by [`Transaction::commit`], and undone by the
    /// caller otherwise.
    pub(super) fn begin_batched(store: &'a Store, journal: TableId) -> Result<Self, StoreError> {
        let generation = store.cache_generation();
        let txn = store
            .backend
            .begin(TxnOptions::READ_ONLY)
            .context("starting a read transaction")?;
        let next_id = read_counter(&txn, store.tables.meta, meta::NEXT_ID)?.max(1);
        let mut writer = Self::with_backend_txn(store, None, txn, next_id, generation);
        writer.journal = Some(Vec::new());
        writer.batched = Some(Batched {
            journal,
            first_new_id: next_id,
            marked: false,
            batches: 0,
        });
        Ok(writer)
    }

    fn scope(&self) -> TermScope<'_> {
        TermScope {
            local: Some(&self.new_terms),
            generation: (!self.dictionary_cleared).then_some(self.generation),
        }
    }

    /// Inserts a quad; `false` if the store already held it.
    ///
    /// # Errors
    /// Backend failures.
    pub fn insert<'q>(&mut self, quad: impl Into<QuadRef<'q>>) -> Result<bool, StoreError> {
        Ok(self.insert_all(&[quad.into().into_owned()])? == 1)
    }

    /// Inserts quads; returns how many were new.
    ///
    /// # Errors
    /// Backend failures.
    pub fn insert_all(&mut self, quads: &[Quad]) -> Result<u64, StoreError> {
        let mut inserted = 0;
        for chunk in quads.chunks(BATCH_QUADS) {
            inserted += self.insert_batch(chunk)?;
        }
        Ok(inserted)
    }

    /// Removes a quad; `false` if the store did not hold it.
    ///
    /// # Errors
    /// Backend failures.
    pub fn remove<'q>(&mut self, quad: impl Into<QuadRef<'q>>) -> Result<bool, StoreError> {
        let Some(encoded) = reader::quad_ids(self.store, &self.txn, self.scope(), quad.into())?
        else {
            return Ok(false);
        };
        if !self.exists(&encoded)? {
            return Ok(false);
        }
        self.remove_encoded(&encoded)?;
        Ok(true)
    }

    /// Removes every quad matching `pattern`; returns how many.
    ///
    /// # Errors
    /// Backend failures.
    pub fn remove_pattern(&mut self, pattern: &QuadPattern) -> Result<u64, StoreError> {
        self.flush()?;
        let Some(ids) = reader::pattern_ids(self.store, &self.txn, self.scope(), pattern)? else {
            return Ok(0);
        };
        self.remove_ids_pattern(&ids)
    }

    fn remove_ids_pattern(&mut self, ids: &IdPattern) -> Result<u64, StoreError> {
        let mut matches = Vec::new();
        let mut scan = EncodedScan::new(&self.txn, self.store.tables, plan(ids));
        while scan.next_batch(&mut matches)? {}
        for quad in &matches {
            self.remove_encoded(quad)?;
        }
        Ok(matches.len() as u64)
    }

    /// Removes every quad of `graph`; for [`GraphPattern::Any`] it empties the store, the
    /// dictionary included. Returns how many quads went.
    ///
    /// # Errors
    /// Backend failures.
    pub fn clear(&mut self, graph: &GraphPattern) -> Result<u64, StoreError> {
        self.flush()?;
        match graph {
            GraphPattern::Any => self.clear_all(),
            GraphPattern::Default => self.remove_ids_pattern(&IdPattern {
                subject: None,
                predicate: None,
                object: None,
                graph: GraphIds::Default,
            }),
            GraphPattern::Named(name) => {
                match lookup(
                    self.store,
                    &self.txn,
                    self.scope(),
                    &Term::from(name.clone()),
                )? {
                    Some(id) => self.remove_ids_pattern(&IdPattern {
                        subject: None,
                        predicate: None,
                        object: None,
                        graph: GraphIds::Named(id),
                    }),
                    None => Ok(0),
                }
            }
        }
    }

    fn clear_all(&mut self) -> Result<u64, StoreError> {
        let removed = self.counts()?.quads;
        self.removed += removed;
        let tables = self.store.tables;
        let mut wiped: Vec<TableId> = tables.orderings.to_vec();
        wiped.extend([tables.id2term, tables.term2id, tables.graphs]);
        for table in wiped {
            let keys: Vec<Vec<u8>> = self
                .txn
                .scan(table, ScanSpec::all())
                .context("clearing the store")?
                .map(|row| row.map(|(key, _)| key))
                .collect::<Result<_, _>>()
                .context("clearing the store")?;
            for key in keys {
                self.pending.delete(table, &key);
                self.flush_if_full()?;
            }
        }
        for key in [
            meta::QUADS,
            meta::DEFAULT_GRAPH_QUADS,
            meta::TERMS,
            meta::NEXT_ID,
        ] {
            self.pending.delete(tables.meta, key);
        }
        self.flush()?;
        self.new_terms.clear();
        self.dictionary_cleared = true;
        self.deltas = Deltas::default();
        self.next_id = 1;
        self.first_new_id = 1;
        Ok(removed)
    }

    /// Whether the store, with this transaction's writes, holds `quad`.
    ///
    /// # Errors
    /// Backend failures.
    pub fn contains<'q>(&mut self, quad: impl Into<QuadRef<'q>>) -> Result<bool, StoreError> {
        self.flush()?;
        reader::contains(self.store, &self.txn, self.scope(), quad.into())
    }

    /// The quads matching `pattern`, this transaction's writes included.
    ///
    /// # Errors
    /// Backend failures.
    pub fn quads_for_pattern(&mut self, pattern: &QuadPattern) -> Result<QuadIter<'_>, StoreError> {
        self.flush()?;
        reader::quads_for_pattern(self.store, &self.txn, self.scope(), pattern)
    }

    /// The exact counts, this transaction's writes included.
    ///
    /// # Errors
    /// Backend failures.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let base = reader::counts(&self.txn, &self.store.tables)?;
        Ok(Counts {
            quads: apply(base.quads, self.deltas.quads, "quads")?,
            default_graph_quads: apply(
                base.default_graph_quads,
                self.deltas.default_graph_quads,
                "default-graph quads",
            )?,
            terms: apply(base.terms, self.deltas.terms, "terms")?,
        })
    }

    /// Quads in `graph`, this transaction's writes included.
    ///
    /// # Errors
    /// Backend failures.
    pub fn graph_len(&self, graph: &GraphPattern) -> Result<u64, StoreError> {
        let base = reader::graph_len(self.store, &self.txn, self.scope(), graph)?;
        let delta = match graph {
            GraphPattern::Any => self.deltas.quads,
            GraphPattern::Default => self.deltas.default_graph_quads,
            GraphPattern::Named(name) => lookup(
                self.store,
                &self.txn,
                self.scope(),
                &Term::from(name.clone()),
            )?
            .and_then(|id| self.deltas.graphs.get(&id).copied())
            .unwrap_or(0),
        };
        apply(base, delta, "graph quads")
    }

    /// The named graphs holding quads, this transaction's writes included.
    ///
    /// # Errors
    /// Backend failures.
    pub fn named_graphs(&mut self) -> Result<Vec<(NamedOrBlankNode, u64)>, StoreError> {
        self.write_counters()?;
        self.flush()?;
        reader::named_graphs(&self.txn, &self.store.tables)
    }

    /// Commits every write atomically.
    ///
    /// # Errors
    /// A retryable conflict ([`StoreError::is_retryable`]) or a backend failure; either way
    /// nothing of the transaction was written.
    pub fn commit(self) -> Result<(), StoreError> {
        self.commit_counting_batches().map(drop)
    }

    /// Commits; returns how many atomic batches a batched load wrote in all (0 otherwise).
    pub(super) fn commit_counting_batches(mut self) -> Result<u64, StoreError> {
        let span = self.span.clone();
        let _entered = span.enter();
        let (quads, terms) = (self.deltas.quads, self.deltas.terms);
        let started = self.started;
        if self.batched.is_some() {
            self.write_batched(true)?;
        } else {
            self.write_counters()?;
            self.flush()?;
        }
        let new_terms = std::mem::take(&mut self.new_terms);
        self.txn.commit().context("committing")?;
        self.store.counters.committed(self.inserted, self.removed);
        tracing::debug!(
            quads_delta = quads,
            terms_delta = terms,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "committed"
        );
        if self.dictionary_cleared {
            // Every cached id may now name another term (or none).
            self.store.forget_cached_terms();
        } else {
            self.store.cache_terms(self.generation, new_terms);
        }
        Ok(self.batched.map_or(0, |batched| batched.batches))
    }

    /// Rolls back every write.
    ///
    /// # Errors
    /// Backend failures.
    pub fn rollback(self) -> Result<(), StoreError> {
        let _entered = self.span.clone().entered();
        tracing::debug!(
            elapsed_ms = self.started.elapsed().as_millis() as u64,
            "rolled back"
        );
        self.txn.rollback().context("rolling back")
    }

    // ---- the batched insert path ----

    fn insert_batch(&mut self, quads: &[Quad]) -> Result<u64, StoreError> {
        let mut hashes: Vec<Slot> = Vec::with_capacity(quads.len() * 4);
        for quad in quads {
            let graph: Option<TermRef<'_>> = match &quad.graph_name {
                oxrdf::GraphName::DefaultGraph => None,
                oxrdf::GraphName::NamedNode(node) => Some(node.as_ref().into()),
                oxrdf::GraphName::BlankNode(node) => Some(node.as_ref().into()),
            };
            for term in [
                Some(quad.subject.as_ref().into()),
                Some(quad.predicate.as_ref().into()),
                Some(quad.object.as_ref()),
                graph,
            ] {
                hashes.push(match term {
                    None => Slot::Empty,
                    // Triple terms are interned part by part, one at a time.
                    Some(TermRef::Triple(triple)) => {
                        Slot::Known(self.intern_one(&Term::Triple(Box::new(triple.clone())))?)
                    }
                    Some(term) => {
                        let encoded = EncodedTerm::plain(term).ok_or_else(|| {
                            StoreError::InvalidInput("a term the store cannot encode".into())
                        })?;
                        Slot::Hashed(encoded.hash(&self.store.hasher), encoded)
                    }
                });
            }
        }
        let ids = self.intern_hashed(&hashes)?;
        let encoded: Vec<EncodedQuad> = ids
            .chunks_exact(4)
            .map(|ids| EncodedQuad {
                subject: ids[0].unwrap_or(TermId(0)),
                predicate: ids[1].unwrap_or(TermId(0)),
                object: ids[2].unwrap_or(TermId(0)),
                graph: ids[3],
            })
            .collect();
        self.check_existence(&encoded)?;
        let mut inserted = 0;
        for quad in &encoded {
            if self.pending_quads.get(quad) == Some(&true) {
                continue;
            }
            for ordering in quad.orderings() {
                self.pending.put(
                    self.store.tables.ordering(*ordering),
                    &ordering.key(quad),
                    b"",
                );
            }
            self.pending_quads.insert(*quad, true);
            self.count_quad(quad, 1);
            if let Some(journal) = &mut self.journal {
                journal.push(*quad);
            }
            inserted += 1;
        }
        self.flush_if_full()?;
        Ok(inserted)
    }

    /// Ids for term slots: the writer's new terms, the shared cache, then one `get_many`
    /// for the rest; terms still unknown get new ids.
    fn intern_hashed(&mut self, terms: &[Slot]) -> Result<Vec<Option<TermId>>, StoreError> {
        let mut ids: Vec<Option<TermId>> = vec![None; terms.len()];
        let mut unknown: Vec<usize> = Vec::new();
        let mut batch_known: HashMap<TermHash, TermId> = HashMap::default();
        let (mut cache_hits, mut table_hits, mut misses) = (0, 0, 0);
        for (index, slot) in terms.iter().enumerate() {
            let hash = match slot {
                Slot::Empty => continue,
                Slot::Known(id) => {
                    ids[index] = Some(*id);
                    continue;
                }
                Slot::Hashed(hash, _) => hash,
            };
            if let Some(id) = self.new_terms.get(hash).copied().or_else(|| {
                (!self.dictionary_cleared)
                    .then(|| self.store.cached_term(self.generation, hash))
                    .flatten()
            }) {
                ids[index] = Some(id);
                cache_hits += 1;
            } else {
                unknown.push(index);
            }
        }
        if !unknown.is_empty() {
            let mut keys: Vec<&[u8]> = unknown
                .iter()
                .filter_map(|index| match &terms[*index] {
                    Slot::Hashed(hash, _) => Some(&hash[..]),
                    _ => None,
                })
                .collect();
            keys.sort_unstable();
            keys.dedup();
            let found = self
                .txn
                .get_many(self.store.tables.term2id, &keys)
                .context("looking up terms")?;
            let mut fetched = Vec::new();
            for (key, value) in keys.iter().zip(found) {
                if let Some(value) = value {
                    let mut hash = [0; 16];
                    hash.copy_from_slice(key);
                    let id = decode_id_value(&value)?;
                    batch_known.insert(hash, id);
                    fetched.push((hash, id));
                }
            }
            if !self.dictionary_cleared {
                self.store.cache_terms(self.generation, fetched);
            }
            for index in unknown {
                let Slot::Hashed(hash, encoded) = &terms[index] else {
                    continue;
                };
                let id = if let Some(id) = batch_known.get(hash) {
                    table_hits += 1;
                    *id
                } else if let Some(id) = self.new_terms.get(hash) {
                    // Added for an earlier slot of this batch.
                    cache_hits += 1;
                    *id
                } else {
                    misses += 1;
                    self.add_term(*hash, encoded)?
                };
                ids[index] = Some(id);
            }
        }
        self.store
            .counters
            .looked_up(cache_hits, table_hits, misses);
        Ok(ids)
    }

    fn add_term(&mut self, hash: TermHash, encoded: &EncodedTerm) -> Result<TermId, StoreError> {
        if self.next_id > MAX_TERM_ID {
            return Err(StoreError::InvalidInput(
                "the store has used every term id".into(),
            ));
        }
        let id = TermId(self.next_id);
        self.next_id += 1;
        let key = key_of(&[id]);
        self.pending
            .put(self.store.tables.id2term, &key, encoded.bytes());
        self.pending.put(self.store.tables.term2id, &hash, &key);
        self.new_terms.insert(hash, id);
        self.deltas.terms += 1;
        Ok(id)
    }

    fn intern_one(&mut self, term: &Term) -> Result<TermId, StoreError> {
        let encoded = match term {
            Term::Triple(triple) => {
                let subject = self.intern_one(&triple.subject.clone().into())?;
                let predicate = self.intern_one(&triple.predicate.clone().into())?;
                let object = self.intern_one(&triple.object)?;
                EncodedTerm::triple(subject, predicate, object)
            }
            other => EncodedTerm::plain(other.as_ref())
                .ok_or_else(|| StoreError::InvalidInput("a term the store cannot encode".into()))?,
        };
        let hash = encoded.hash(&self.store.hasher);
        let ids = self.intern_hashed(&[Slot::Hashed(hash, encoded)])?;
        ids[0].ok_or_else(|| StoreError::corrupt("a term could not be interned"))
    }

    /// Marks in `pending_quads` which of `quads` exist (read from the backend for those the
    /// pending batch says nothing about).
    fn check_existence(&mut self, quads: &[EncodedQuad]) -> Result<(), StoreError> {
        let mut unknown: Vec<&EncodedQuad> = quads
            .iter()
            .filter(|quad| !self.pending_quads.contains_key(quad))
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        if unknown.is_empty() {
            return Ok(());
        }
        for named in [false, true] {
            let group: Vec<&EncodedQuad> = unknown
                .iter()
                .copied()
                .filter(|quad| quad.graph.is_some() == named)
                .collect();
            if group.is_empty() {
                continue;
            }
            let ordering = Ordering::primary(named);
            let keys: Vec<Vec<u8>> = group.iter().map(|quad| ordering.key(quad)).collect();
            let key_refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
            let found = self
                .txn
                .get_many(self.store.tables.ordering(ordering), &key_refs)
                .context("checking which quads exist")?;
            for (quad, value) in group.into_iter().zip(found) {
                self.pending_quads.insert(*quad, value.is_some());
            }
        }
        Ok(())
    }

    fn exists(&mut self, quad: &EncodedQuad) -> Result<bool, StoreError> {
        if let Some(state) = self.pending_quads.get(quad) {
            return Ok(*state);
        }
        self.check_existence(std::slice::from_ref(quad))?;
        Ok(self.pending_quads.get(quad) == Some(&true))
    }

    /// Removes a quad known to exist.
    pub(super) fn remove_encoded(&mut self, quad: &EncodedQuad) -> Result<(), StoreError> {
        for ordering in quad.orderings() {
            self.pending
                .delete(self.store.tables.ordering(*ordering), &ordering.key(quad));
        }
        self.pending_quads.insert(*quad, false);
        self.count_quad(quad, -1);
        self.flush_if_full()
    }

    /// Removes the quad if it exists; `false` otherwise.
    pub(super) fn remove_encoded_if_present(
        &mut self,
        quad: &EncodedQuad,
    ) -> Result<bool, StoreError> {
        if self.exists(quad)? {
            self.remove_encoded(quad)?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn count_quad(&mut self, quad: &EncodedQuad, delta: i64) {
        if delta > 0 {
            self.inserted += 1;
        } else {
            self.removed += 1;
        }
        self.deltas.quads += delta;
        match quad.graph {
            None => self.deltas.default_graph_quads += delta,
            Some(graph) => *self.deltas.graphs.entry(graph).or_default() += delta,
        }
    }

    fn flush_if_full(&mut self) -> Result<(), StoreError> {
        let limit = if self.batched.is_some() {
            BATCHED_FLUSH_OPS
        } else {
            FLUSH_OPS
        };
        if self.pending.len() >= limit {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends the buffered operations to the backend transaction (or, loading in batches, to
    /// the backend as one journaled batch).
    pub(super) fn flush(&mut self) -> Result<(), StoreError> {
        if self.batched.is_some() {
            return self.write_batched(false);
        }
        if !self.pending.is_empty() {
            self.txn
                .write_batch(&self.pending)
                .context("writing to the backend")?;
            self.pending.clear();
        }
        self.pending_quads.clear();
        Ok(())
    }

    /// Writes the buffered operations as one atomic batch with the counters they change and,
    /// unless it is the `last`, their journal entries (and the journal marker, the first
    /// time); the last batch removes the marker instead. Then reads see the batch.
    fn write_batched(&mut self, last: bool) -> Result<(), StoreError> {
        let Some(mut batched) = self.batched else {
            return Err(StoreError::InvalidInput("not a batched load".into()));
        };
        self.write_counters()?;
        let added = self.take_new_quads();
        let meta_table = self.store.tables.meta;
        if last {
            if batched.marked {
                self.pending.delete(meta_table, meta::LOAD_JOURNAL);
            }
        } else if !self.pending.is_empty() {
            if !batched.marked {
                self.pending.put(
                    meta_table,
                    meta::LOAD_JOURNAL,
                    &encode_count(batched.first_new_id),
                );
                batched.marked = true;
            }
            for quad in added {
                self.pending.put(batched.journal, &quad.journal_key(), b"");
            }
        }
        if !self.pending.is_empty() {
            // Only the last batch needs to reach the disk before the call returns: an earlier
            // one lost to a power failure is undone (or was never there) all the same.
            let sync = if last {
                SyncMode::DEFAULT
            } else {
                SyncMode::NO_SYNC
            };
            self.store
                .backend
                .write_batch(&self.pending, WriteOptions { sync })
                .context("writing a load batch")?;
            self.pending.clear();
            batched.batches += 1;
            self.txn = self
                .store
                .backend
                .begin(TxnOptions::READ_ONLY)
                .context("starting a read transaction")?;
            // The batch's terms are in the dictionary now: the shared cache may serve them,
            // and this writer need not hold them.
            let written = std::mem::take(&mut self.new_terms);
            if !self.dictionary_cleared {
                self.store.cache_terms(self.generation, written);
            }
        }
        self.pending_quads.clear();
        self.batched = Some(batched);
        Ok(())
    }

    /// Folds the counter deltas into the counters (read-modify-write inside the backend
    /// transaction).
    fn write_counters(&mut self) -> Result<(), StoreError> {
        let tables = self.store.tables;
        let deltas = std::mem::take(&mut self.deltas);
        for (key, delta, what) in [
            (meta::QUADS, deltas.quads, "quads"),
            (
                meta::DEFAULT_GRAPH_QUADS,
                deltas.default_graph_quads,
                "default-graph quads",
            ),
            (meta::TERMS, deltas.terms, "terms"),
        ] {
            if delta != 0 {
                let value = apply(read_counter(&self.txn, tables.meta, key)?, delta, what)?;
                self.pending.put(tables.meta, key, &encode_count(value));
            }
        }
        if self.next_id != self.first_new_id {
            self.pending
                .put(tables.meta, meta::NEXT_ID, &encode_count(self.next_id));
            self.first_new_id = self.next_id;
        }
        for (graph, delta) in deltas.graphs {
            if delta == 0 {
                continue;
            }
            let key = key_of(&[graph]);
            let value = apply(
                read_counter(&self.txn, tables.graphs, &key)?,
                delta,
                "graph quads",
            )?;
            if value == 0 {
                self.pending.delete(tables.graphs, &key);
            } else {
                self.pending.put(tables.graphs, &key, &encode_count(value));
            }
        }
        Ok(())
    }

    // ---- what bulk loads and their recovery need ----

    /// Starts recording the quads this transaction adds.
    pub(super) fn record_new_quads(&mut self) {
        self.journal = Some(Vec::new());
    }

    /// The quads added since the last call.
    pub(super) fn take_new_quads(&mut self) -> Vec<EncodedQuad> {
        self.journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The next term id this transaction would hand out.
    pub(super) fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Atomic batches a batched load wrote so far.
    pub(super) fn batches_written(&self) -> u64 {
        self.batched.map_or(0, |batched| batched.batches)
    }

    /// Resets the id counter (undoing a load).
    pub(super) fn reset_next_id(&mut self, next_id: u64) {
        self.next_id = next_id;
        self.first_new_id = 0;
    }

    /// A raw write into one of the store's tables.
    pub(super) fn put_raw(&mut self, table: TableId, key: &[u8], value: &[u8]) {
        self.pending.put(table, key, value);
    }

    /// A raw delete from one of the store's tables.
    pub(super) fn delete_raw(&mut self, table: TableId, key: &[u8]) {
        self.pending.delete(table, key);
    }

    /// Counts a dictionary entry removed by an undo.
    pub(super) fn count_removed_term(&mut self) {
        self.deltas.terms -= 1;
    }

    /// The backend transaction, after flushing buffered writes.
    pub(super) fn backend_txn(&mut self) -> Result<&BackendTxn, StoreError> {
        self.flush()?;
        Ok(&self.txn)
    }
}

fn apply(base: u64, delta: i64, what: &str) -> Result<u64, StoreError> {
    base.checked_add_signed(delta).ok_or_else(|| {
        StoreError::corrupt(format!(
            "the {what} counter ({base}) would go below zero by {delta}"
        ))
    })
}
