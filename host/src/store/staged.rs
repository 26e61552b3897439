//! What a writer holds before it reaches the backend: the buffered writes, which quads it
//! knows to be present or absent, its new terms and the counter changes. Shared by the two
//! writers: [`Transaction`](super::Transaction), which flushes into its backend transaction,
//! and [`BatchedWriter`](super::batched::BatchedWriter), which writes atomic backend batches.

use kgdb_plugin_api::WriteBatch;
use oxrdf::Quad;
use rustc_hash::FxHashMap as HashMap;

use super::dictionary::{Interned, Interner, TermScope};
use super::encoding::{encode_count, key_of, TermId};
use super::error::{Context, StoreError};
use super::index::{EncodedQuad, Ordering};
use super::layout::{meta, read_counter};
use super::{Counts, Store};
use crate::plugin::BackendTxn;

/// Counter changes made by a writer, folded into `store.meta` and `store.graphs` when it
/// writes its counters.
#[derive(Debug, Default)]
struct Deltas {
    quads: i64,
    default_graph_quads: i64,
    /// Terms removed (an undo); added terms are the interner's.
    removed_terms: u64,
    graphs: HashMap<TermId, i64>,
}

/// A writer's buffered state.
#[derive(Debug)]
pub(super) struct Staged {
    /// Writes not yet sent to the backend.
    pub pending: WriteBatch,
    /// Quads whose presence the writer knows since its last flush (`true`: present).
    known_quads: HashMap<EncodedQuad, bool>,
    /// Its side of the dictionary.
    pub interner: Interner,
    deltas: Deltas,
    /// Quads added and removed, reported to the store's counters at commit.
    inserted: u64,
    removed: u64,
    /// Quads added since the last [`Staged::take_added_quads`], when recording.
    added_quads: Option<Vec<EncodedQuad>>,
    /// The dictionary generation the writer began in.
    pub generation: u64,
    /// Set once the writer emptied the dictionary: the shared cache no longer applies.
    pub dictionary_cleared: bool,
}

impl Staged {
    /// A writer's state at the start: ids from `next_id`, in dictionary `generation`.
    pub fn new(next_id: u64, generation: u64) -> Self {
        Self {
            pending: WriteBatch::new(),
            known_quads: HashMap::default(),
            interner: Interner::new(next_id),
            deltas: Deltas::default(),
            inserted: 0,
            removed: 0,
            added_quads: None,
            generation,
            dictionary_cleared: false,
        }
    }

    /// Where the writer looks terms up.
    pub fn scope(&self) -> TermScope<'_> {
        TermScope {
            local: Some(self.interner.new_terms()),
            generation: self.cache_generation(),
            unseen_from: None,
        }
    }

    /// The generation in which the shared cache may serve this writer, if any.
    pub fn cache_generation(&self) -> Option<u64> {
        (!self.dictionary_cleared).then_some(self.generation)
    }

    /// Adds `quads` (interning their terms) unless present; returns how many were new.
    pub fn insert_batch(
        &mut self,
        store: &Store,
        txn: &BackendTxn,
        quads: &[Quad],
    ) -> Result<u64, StoreError> {
        let mut at = Interned {
            store,
            txn,
            generation: self.cache_generation(),
            pending: &mut self.pending,
        };
        let encoded = self.interner.encode_quads(&mut at, quads)?;
        self.check_existence(store, txn, &encoded)?;
        let mut inserted = 0;
        for quad in &encoded {
            if self.known_quads.get(quad) == Some(&true) {
                continue;
            }
            for ordering in quad.orderings() {
                self.pending
                    .put(store.tables.ordering(*ordering), &ordering.key(quad), b"");
            }
            self.known_quads.insert(*quad, true);
            self.count_quad(quad, 1);
            if let Some(added) = &mut self.added_quads {
                added.push(*quad);
            }
            inserted += 1;
        }
        Ok(inserted)
    }

    /// The id of `term`, interned when the dictionary lacks it.
    pub fn intern(
        &mut self,
        store: &Store,
        txn: &BackendTxn,
        term: &oxrdf::Term,
    ) -> Result<TermId, StoreError> {
        let mut at = Interned {
            store,
            txn,
            generation: self.cache_generation(),
            pending: &mut self.pending,
        };
        self.interner.intern(&mut at, term)
    }

    /// Marks which of `quads` exist (read from the backend for those the writer does not know
    /// about yet).
    fn check_existence(
        &mut self,
        store: &Store,
        txn: &BackendTxn,
        quads: &[EncodedQuad],
    ) -> Result<(), StoreError> {
        let mut unknown: Vec<&EncodedQuad> = quads
            .iter()
            .filter(|quad| !self.known_quads.contains_key(quad))
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
            let found = txn
                .get_many(store.tables.ordering(ordering), &key_refs)
                .context("checking which quads exist")?;
            for (quad, value) in group.into_iter().zip(found) {
                self.known_quads.insert(*quad, value.is_some());
            }
        }
        Ok(())
    }

    /// Whether the store, with this writer's writes, holds `quad`.
    pub fn exists(
        &mut self,
        store: &Store,
        txn: &BackendTxn,
        quad: &EncodedQuad,
    ) -> Result<bool, StoreError> {
        if let Some(state) = self.known_quads.get(quad) {
            return Ok(*state);
        }
        self.check_existence(store, txn, std::slice::from_ref(quad))?;
        Ok(self.known_quads.get(quad) == Some(&true))
    }

    /// Removes a quad known to exist.
    pub fn remove_present(&mut self, store: &Store, quad: &EncodedQuad) {
        for ordering in quad.orderings() {
            self.pending
                .delete(store.tables.ordering(*ordering), &ordering.key(quad));
        }
        self.known_quads.insert(*quad, false);
        self.count_quad(quad, -1);
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

    /// Counts quads removed wholesale (a whole `clear`), whose counters are deleted.
    pub fn count_cleared(&mut self, quads: u64) {
        self.removed += quads;
        self.deltas = Deltas::default();
    }

    /// Counts a dictionary entry removed by an undo.
    pub fn count_removed_term(&mut self) {
        self.deltas.removed_terms += 1;
    }

    /// Whether the buffered writes reached `limit` operations.
    pub fn is_full(&self, limit: usize) -> bool {
        self.pending.len() >= limit
    }

    /// Forgets what was flushed: the writes (now in the backend) and what they told about
    /// quads (reads see them now).
    pub fn flushed(&mut self) {
        self.pending.clear();
        self.known_quads.clear();
    }

    /// Starts recording the quads this writer adds.
    pub fn record_added_quads(&mut self) {
        self.added_quads = Some(Vec::new());
    }

    /// The quads added since the last call (none unless recording).
    pub fn take_added_quads(&mut self) -> Vec<EncodedQuad> {
        self.added_quads
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Reports the quads committed to the store's counters.
    pub fn report_committed(&self, store: &Store) {
        store.counters.committed(self.inserted, self.removed);
    }

    /// The counts as `txn` sees them plus this writer's unwritten changes.
    pub fn counts(&self, txn: &BackendTxn, store: &Store) -> Result<Counts, StoreError> {
        let base = super::reader::counts(txn, &store.tables)?;
        let added = i64::try_from(self.interner.unrecorded_terms()).unwrap_or(i64::MAX);
        let removed = i64::try_from(self.deltas.removed_terms).unwrap_or(i64::MAX);
        Ok(Counts {
            quads: apply(base.quads, self.deltas.quads, "quads")?,
            default_graph_quads: apply(
                base.default_graph_quads,
                self.deltas.default_graph_quads,
                "default-graph quads",
            )?,
            terms: apply(base.terms, added - removed, "terms")?,
        })
    }

    /// The unwritten change of one named graph's quad count.
    pub fn graph_delta(&self, graph: TermId) -> i64 {
        self.deltas.graphs.get(&graph).copied().unwrap_or(0)
    }

    /// The unwritten change of the default graph's and the whole store's quad counts.
    pub fn quad_deltas(&self) -> (i64, i64) {
        (self.deltas.default_graph_quads, self.deltas.quads)
    }

    /// Folds the counter changes into the buffered writes (read-modify-write through `txn`).
    pub fn write_counters(&mut self, store: &Store, txn: &BackendTxn) -> Result<(), StoreError> {
        let tables = store.tables;
        let deltas = std::mem::take(&mut self.deltas);
        let (added_terms, next_id) = self.interner.take_counter_changes();
        let terms = i64::try_from(added_terms).unwrap_or(i64::MAX)
            - i64::try_from(deltas.removed_terms).unwrap_or(i64::MAX);
        for (key, delta, what) in [
            (meta::QUADS, deltas.quads, "quads"),
            (
                meta::DEFAULT_GRAPH_QUADS,
                deltas.default_graph_quads,
                "default-graph quads",
            ),
            (meta::TERMS, terms, "terms"),
        ] {
            if delta != 0 {
                let value = apply(read_counter(txn, tables.meta, key)?, delta, what)?;
                self.pending.put(tables.meta, key, &encode_count(value));
            }
        }
        if let Some(next_id) = next_id {
            self.pending
                .put(tables.meta, meta::NEXT_ID, &encode_count(next_id));
        }
        for (graph, delta) in deltas.graphs {
            if delta == 0 {
                continue;
            }
            let key = key_of(&[graph]);
            let value = apply(
                read_counter(txn, tables.graphs, &key)?,
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

    /// Moves the dictionary to the next generation in this writer's writes: what it commits
    /// makes every cached id of the current one stale.
    pub fn advance_generation(&mut self, store: &Store) {
        self.generation += 1;
        self.dictionary_cleared = true;
        self.pending.put(
            store.tables.meta,
            meta::DICTIONARY_GENERATION,
            &encode_count(self.generation),
        );
    }
}

/// `base + delta`, or corruption when that goes below zero.
pub(super) fn apply(base: u64, delta: i64, what: &str) -> Result<u64, StoreError> {
    base.checked_add_signed(delta).ok_or_else(|| {
        StoreError::corrupt(format!(
            "the {what} counter ({base}) would go below zero by {delta}"
        ))
    })
}
