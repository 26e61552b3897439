//! The store's write transaction.

use std::sync::MutexGuard;

use kgdb_plugin_api::{ScanSpec, TableId, TxnOptions};
use oxrdf::{NamedOrBlankNode, Quad, QuadRef, Term};

use super::dictionary::lookup;
use super::encoding::{encode_count, key_of};
use super::error::{Context, StoreError};
use super::index::{plan, EncodedQuad, GraphIds, IdPattern};
use super::layout::{meta, read_counter};
use super::reader::{self, EncodedScan, QuadIter};
use super::staged::{apply, Staged};
use super::{Counts, GraphPattern, QuadPattern, Store};
use crate::plugin::BackendTxn;

/// Buffered operations sent to the backend transaction in one call.
const FLUSH_OPS: usize = 16 * 1024;
/// Quads handled per batched look-up.
pub(super) const BATCH_QUADS: usize = 1024;

/// Numbers the store's write transactions for their spans.
static NEXT_TRANSACTION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The store's write transaction: snapshot reads, read-your-writes, insert and remove, one
/// atomic commit across every ordering, the dictionary and the counters.
///
/// - [`Transaction::commit`] writes everything or nothing; on a retryable error
///   ([`StoreError::is_retryable`]) run the transaction again.
/// - Dropped without a commit (or after [`Transaction::rollback`]), nothing it did reaches the
///   store.
/// - It holds the store's writer slot until it ends: another writer of the same store waits.
pub struct Transaction<'a> {
    store: &'a Store,
    _writer: Option<MutexGuard<'a, ()>>,
    txn: BackendTxn,
    staged: Staged,
    /// `transaction{id=N}`: the span its log lines carry.
    span: tracing::Span,
    started: std::time::Instant,
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("pending_ops", &self.staged.pending.len())
            .field("new_terms", &self.staged.interner.new_terms().len())
            .finish_non_exhaustive()
    }
}

impl<'a> Transaction<'a> {
    /// Begins; `writer` is the store's writer slot (held by the caller when `None`).
    pub(super) fn begin(
        store: &'a Store,
        writer: Option<MutexGuard<'a, ()>>,
    ) -> Result<Self, StoreError> {
        store.check_writable()?;
        let txn = store
            .backend
            .begin(TxnOptions::READ_WRITE)
            .context("starting a write transaction")?;
        let generation = store.view_generation(&txn)?;
        let next_id = read_counter(&txn, store.tables.meta, meta::NEXT_ID)?.max(1);
        Ok(Self {
            store,
            _writer: writer,
            txn,
            staged: Staged::new(next_id, generation),
            span: tracing::debug_span!(
                "transaction",
                id = NEXT_TRANSACTION.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ),
            started: std::time::Instant::now(),
        })
    }

    /// Inserts a quad; `false` if the store already held it.
    ///
    /// # Errors
    /// Backend failures; a term the store cannot hold.
    pub fn insert<'q>(&mut self, quad: impl Into<QuadRef<'q>>) -> Result<bool, StoreError> {
        Ok(self.insert_all(&[quad.into().into_owned()])? == 1)
    }

    /// Inserts quads; returns how many were new.
    ///
    /// # Errors
    /// Backend failures; a term the store cannot hold.
    pub fn insert_all(&mut self, quads: &[Quad]) -> Result<u64, StoreError> {
        let mut inserted = 0;
        for chunk in quads.chunks(BATCH_QUADS) {
            inserted += self.staged.insert_batch(self.store, &self.txn, chunk)?;
            self.flush_if_full()?;
        }
        Ok(inserted)
    }

    /// Removes a quad; `false` if the store did not hold it.
    ///
    /// # Errors
    /// Backend failures.
    pub fn remove<'q>(&mut self, quad: impl Into<QuadRef<'q>>) -> Result<bool, StoreError> {
        let Some(encoded) =
            reader::quad_ids(self.store, &self.txn, self.staged.scope(), quad.into())?
        else {
            return Ok(false);
        };
        self.remove_if_present(&encoded)
    }

    /// Removes every quad matching `pattern`; returns how many.
    ///
    /// # Errors
    /// Backend failures.
    pub fn remove_pattern(&mut self, pattern: &QuadPattern) -> Result<u64, StoreError> {
        self.flush()?;
        let Some(ids) = reader::pattern_ids(self.store, &self.txn, self.staged.scope(), pattern)?
        else {
            return Ok(0);
        };
        self.remove_ids_pattern(&ids)
    }

    fn remove_ids_pattern(&mut self, ids: &IdPattern) -> Result<u64, StoreError> {
        let mut matches = Vec::new();
        let mut scan = EncodedScan::new(&self.txn, self.store.tables, plan(ids));
        while scan.next_batch(&mut matches)? {}
        for quad in &matches {
            self.staged.remove_present(self.store, quad);
            self.flush_if_full()?;
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
        let graph = match graph {
            GraphPattern::Any => return self.clear_all(),
            GraphPattern::Default => GraphIds::Default,
            GraphPattern::Named(name) => {
                match lookup(
                    self.store,
                    &self.txn,
                    self.staged.scope(),
                    &Term::from(name.clone()),
                )? {
                    Some(id) => GraphIds::Named(id),
                    None => return Ok(0),
                }
            }
        };
        self.remove_ids_pattern(&IdPattern {
            subject: None,
            predicate: None,
            object: None,
            graph,
        })
    }

    fn clear_all(&mut self) -> Result<u64, StoreError> {
        let removed = self.counts()?.quads;
        self.staged.count_cleared(removed);
        let tables = self.store.tables;
        for table in tables.data_tables() {
            let keys: Vec<Vec<u8>> = self
                .txn
                .scan(table, ScanSpec::all())
                .context("clearing the store")?
                .map(|row| row.map(|(key, _)| key))
                .collect::<Result<_, _>>()
                .context("clearing the store")?;
            for key in keys {
                self.staged.pending.delete(table, &key);
                self.flush_if_full()?;
            }
        }
        for key in [
            meta::QUADS,
            meta::DEFAULT_GRAPH_QUADS,
            meta::TERMS,
            meta::NEXT_ID,
        ] {
            self.staged.pending.delete(tables.meta, key);
        }
        self.staged.interner.restart_at(1);
        self.staged.advance_generation(self.store);
        self.flush()?;
        Ok(removed)
    }

    /// Whether the store, with this transaction's writes, holds `quad`.
    ///
    /// # Errors
    /// Backend failures.
    pub fn contains<'q>(&mut self, quad: impl Into<QuadRef<'q>>) -> Result<bool, StoreError> {
        self.flush()?;
        reader::contains(self.store, &self.txn, self.staged.scope(), quad.into())
    }

    /// The quads matching `pattern`, this transaction's writes included.
    ///
    /// # Errors
    /// Backend failures.
    pub fn quads_for_pattern(&mut self, pattern: &QuadPattern) -> Result<QuadIter<'_>, StoreError> {
        self.flush()?;
        reader::quads_for_pattern(self.store, &self.txn, self.staged.scope(), pattern)
    }

    /// The exact counts, this transaction's writes included.
    ///
    /// # Errors
    /// Backend failures.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        self.staged.counts(&self.txn, self.store)
    }

    /// Quads in `graph`, this transaction's writes included.
    ///
    /// # Errors
    /// Backend failures.
    pub fn graph_len(&self, graph: &GraphPattern) -> Result<u64, StoreError> {
        let base = reader::graph_len(self.store, &self.txn, self.staged.scope(), graph)?;
        let (default_graph, all) = self.staged.quad_deltas();
        let delta = match graph {
            GraphPattern::Any => all,
            GraphPattern::Default => default_graph,
            GraphPattern::Named(name) => lookup(
                self.store,
                &self.txn,
                self.staged.scope(),
                &Term::from(name.clone()),
            )?
            .map_or(0, |id| self.staged.graph_delta(id)),
        };
        apply(base, delta, "graph quads")
    }

    /// The named graphs (those holding quads and the empty ones
    /// [`Transaction::create_graph`] made), this transaction's writes included.
    ///
    /// # Errors
    /// Backend failures.
    pub fn named_graphs(&mut self) -> Result<Vec<(NamedOrBlankNode, u64)>, StoreError> {
        self.staged.write_counters(self.store, &self.txn)?;
        self.flush()?;
        reader::named_graphs(&self.txn, &self.store.tables)
    }

    /// Whether the named graph `name` exists: it holds quads, or it was created empty by
    /// [`Transaction::create_graph`] and has not held any since.
    ///
    /// # Errors
    /// Backend failures.
    pub fn graph_exists(&mut self, name: &NamedOrBlankNode) -> Result<bool, StoreError> {
        self.staged.write_counters(self.store, &self.txn)?;
        self.flush()?;
        let Some(id) = lookup(
            self.store,
            &self.txn,
            self.staged.scope(),
            &Term::from(name.clone()),
        )?
        else {
            return Ok(false);
        };
        Ok(self
            .txn
            .get(self.store.tables.graphs, &key_of(&[id]))
            .context("reading a graph counter")?
            .is_some())
    }

    /// Creates the empty named graph `name` (SPARQL's `CREATE GRAPH`); `false` when it exists
    /// already. An empty graph is listed by `named_graphs` with no quads until it is dropped
    /// or until it has held quads and lost the last of them.
    ///
    /// # Errors
    /// Backend failures; a name the store cannot hold.
    pub fn create_graph(&mut self, name: &NamedOrBlankNode) -> Result<bool, StoreError> {
        if self.graph_exists(name)? {
            return Ok(false);
        }
        let id = self
            .staged
            .intern(self.store, &self.txn, &Term::from(name.clone()))?;
        self.staged
            .pending
            .put(self.store.tables.graphs, &key_of(&[id]), &encode_count(0));
        self.flush()?;
        Ok(true)
    }

    /// Removes the named graph `name` and its quads (SPARQL's `DROP GRAPH`); returns how many
    /// quads went, or `None` when the graph did not exist.
    ///
    /// # Errors
    /// Backend failures.
    pub fn drop_graph(&mut self, name: &NamedOrBlankNode) -> Result<Option<u64>, StoreError> {
        if !self.graph_exists(name)? {
            return Ok(None);
        }
        let removed = self.clear(&GraphPattern::Named(name.clone()))?;
        self.staged.write_counters(self.store, &self.txn)?;
        if let Some(id) = lookup(
            self.store,
            &self.txn,
            self.staged.scope(),
            &Term::from(name.clone()),
        )? {
            self.staged
                .pending
                .delete(self.store.tables.graphs, &key_of(&[id]));
        }
        self.flush()?;
        Ok(Some(removed))
    }

    /// Commits every write atomically.
    ///
    /// # Errors
    /// A retryable conflict ([`StoreError::is_retryable`]) or a backend failure; either way
    /// nothing of the transaction was written.
    pub fn commit(mut self) -> Result<(), StoreError> {
        let span = self.span.clone();
        let _entered = span.enter();
        let (_, quads_delta) = self.staged.quad_deltas();
        let terms_added = self.staged.interner.unrecorded_terms();
        self.staged.write_counters(self.store, &self.txn)?;
        self.flush()?;
        let new_terms = self.staged.interner.take_new_terms();
        self.txn.commit().context("committing")?;
        self.staged.report_committed(self.store);
        tracing::debug!(
            quads_delta,
            terms_added,
            elapsed_ms = self.started.elapsed().as_millis() as u64,
            "committed"
        );
        if self.staged.dictionary_cleared {
            // Every cached id of the earlier generation may now name another term (or none).
            self.store.terms.observe(self.staged.generation);
        } else {
            self.store
                .terms
                .remember_ids(self.staged.generation, new_terms);
        }
        Ok(())
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

    fn flush_if_full(&mut self) -> Result<(), StoreError> {
        if self.staged.is_full(FLUSH_OPS) {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends the buffered operations to the backend transaction.
    fn flush(&mut self) -> Result<(), StoreError> {
        if !self.staged.pending.is_empty() {
            self.txn
                .write_batch(&self.staged.pending)
                .context("writing to the backend")?;
        }
        self.staged.flushed();
        Ok(())
    }

    // ---- what loads and their undo need ----

    /// Starts recording the quads this transaction adds.
    pub(super) fn record_added_quads(&mut self) {
        self.staged.record_added_quads();
    }

    /// The quads added since the last call.
    pub(super) fn take_added_quads(&mut self) -> Vec<EncodedQuad> {
        self.staged.take_added_quads()
    }

    /// The next term id this transaction would hand out.
    pub(super) fn next_id(&self) -> u64 {
        self.staged.interner.next_id()
    }

    /// Removes the quad if it exists; `false` otherwise.
    fn remove_if_present(&mut self, quad: &EncodedQuad) -> Result<bool, StoreError> {
        if self.staged.exists(self.store, &self.txn, quad)? {
            self.staged.remove_present(self.store, quad);
            self.flush_if_full()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Removes a quad the caller knows the store holds (a load journal entry: the journal and
    /// the quads it lists are written and removed in the same commits), without reading it.
    pub(super) fn remove_journaled(&mut self, quad: &EncodedQuad) -> Result<(), StoreError> {
        self.staged.remove_present(self.store, quad);
        self.flush_if_full()
    }

    /// Deletes a quad's keys from its orderings, leaving the counters alone (the undo of a
    /// load whose counters never included it).
    pub(super) fn delete_quad_keys(&mut self, quad: &EncodedQuad) -> Result<(), StoreError> {
        for ordering in quad.orderings() {
            self.staged
                .pending
                .delete(self.store.tables.ordering(*ordering), &ordering.key(quad));
        }
        self.flush_if_full()
    }

    /// A raw write into one of the store's tables.
    pub(super) fn put_raw(&mut self, table: TableId, key: &[u8], value: &[u8]) {
        self.staged.pending.put(table, key, value);
    }

    /// A raw delete from one of the store's tables.
    pub(super) fn delete_raw(&mut self, table: TableId, key: &[u8]) {
        self.staged.pending.delete(table, key);
    }

    /// Counts a dictionary entry removed by an undo.
    pub(super) fn count_removed_term(&mut self) {
        self.staged.count_removed_term();
    }

    /// Restarts the id counter at `next_id` (an undo removed the terms from it on) and moves
    /// the dictionary to a new generation.
    pub(super) fn restart_ids_at(&mut self, next_id: u64) {
        self.staged.interner.restart_at(next_id);
        self.staged.advance_generation(self.store);
    }

    /// The backend transaction, after flushing buffered writes.
    /// What an id-level view of the transaction needs, its buffered writes handed to the
    /// backend first.
    pub(super) fn view_parts(
        &mut self,
    ) -> Result<(&'a Store, &BackendTxn, super::dictionary::TermScope<'_>), StoreError> {
        self.flush()?;
        Ok((self.store, &self.txn, self.staged.scope()))
    }

    pub(super) fn backend_txn(&mut self) -> Result<&BackendTxn, StoreError> {
        self.flush()?;
        Ok(&self.txn)
    }
}
