//! Reading a snapshot at the level of term ids, for query engines: look a term's id up, scan
//! the orderings for an id pattern, list the named graphs' ids, and turn ids into terms only
//! when a value is needed. Joins, `DISTINCT` and `sameTerm` then compare integers.

use std::collections::VecDeque;

use kgdb_plugin_api::ScanSpec;
use oxrdf::Term;

use super::dictionary::{lookup, Resolver, TermScope};
use super::encoding::{read_ids, TermId};
use super::error::{Context, StoreError};
use super::index::{plan, EncodedQuad, IdPattern};
use super::reader::{EncodedScan, Snapshot};
use super::transaction::Transaction;
use super::Store;
use crate::plugin::BackendTxn;

/// A view of the store at the level of term ids: a snapshot's ([`Snapshot::id_view`]) or a
/// write transaction's, its own writes included ([`Transaction::id_view`]).
#[derive(Clone, Copy)]
pub struct IdView<'t> {
    store: &'t Store,
    txn: &'t BackendTxn,
    scope: TermScope<'t>,
    /// Whether resolved terms go through the store's shared cache (snapshots only: a writer
    /// may read its own uncommitted ids).
    shares_terms: bool,
}

impl std::fmt::Debug for IdView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdView")
    }
}

impl Snapshot<'_> {
    /// The snapshot at the level of term ids.
    #[must_use]
    pub fn id_view(&self) -> IdView<'_> {
        IdView {
            store: self.store,
            txn: &self.txn,
            scope: self.scope(),
            shares_terms: true,
        }
    }
}

impl Transaction<'_> {
    /// The transaction's view at the level of term ids, its own writes so far included.
    ///
    /// # Errors
    /// Backend failures while handing buffered writes to the backend.
    pub fn id_view(&mut self) -> Result<IdView<'_>, StoreError> {
        let (store, txn, scope) = self.view_parts()?;
        Ok(IdView {
            store,
            txn,
            scope,
            shares_terms: false,
        })
    }
}

impl<'t> IdView<'t> {
    /// The id of `term`, or `None` when the view holds no such term (then no quad of the
    /// view contains it).
    ///
    /// # Errors
    /// Backend failures; a term the store cannot encode.
    pub fn term_id(&self, term: &Term) -> Result<Option<TermId>, StoreError> {
        lookup(self.store, self.txn, self.scope, term)
    }

    /// The quads matching `pattern`, as ids, streamed in batches from the orderings' prefix
    /// scans (the default graph's quads first when the pattern covers both kinds of graph).
    pub fn encoded_quads(&self, pattern: &IdPattern) -> EncodedQuads<'t> {
        EncodedQuads {
            scan: EncodedScan::new(self.txn, self.store.tables, plan(pattern)),
            buffer: VecDeque::new(),
            done: false,
        }
    }

    /// The ids of the named graphs: those holding quads and the empty ones `CREATE GRAPH`
    /// made.
    ///
    /// # Errors
    /// Backend failures; a malformed key.
    pub fn named_graph_ids(&self) -> Result<Vec<TermId>, StoreError> {
        let mut ids = Vec::new();
        for row in self
            .txn
            .scan(self.store.tables.graphs, ScanSpec::all())
            .context("listing graphs")?
        {
            let (key, _) = row.context("listing graphs")?;
            let [id] = read_ids::<1>(&key)?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// A reader of terms by id, with its own cache (in front of the store's, for a snapshot).
    #[must_use]
    pub fn term_reader(&self) -> TermReader<'t> {
        let resolver = match (self.shares_terms, self.scope.generation) {
            (true, Some(generation)) => Resolver::shared(self.store, generation),
            _ => Resolver::default(),
        };
        TermReader {
            view: *self,
            resolver,
        }
    }
}

/// The quads of an id pattern, as ids ([`IdView::encoded_quads`]).
#[must_use = "an iterator does nothing unless consumed"]
pub struct EncodedQuads<'t> {
    scan: EncodedScan<'t>,
    buffer: VecDeque<EncodedQuad>,
    done: bool,
}

impl std::fmt::Debug for EncodedQuads<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncodedQuads")
    }
}

impl Iterator for EncodedQuads<'_> {
    type Item = Result<EncodedQuad, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.buffer.is_empty() && !self.done {
            let mut batch = Vec::new();
            match self.scan.next_batch(&mut batch) {
                Ok(more) => {
                    self.done = !more;
                    self.buffer.extend(batch);
                }
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
        self.buffer.pop_front().map(Ok)
    }
}

/// Turns ids of one view into terms, through its own cache, the store's shared cache (for a
/// snapshot) and batched reads of the dictionary ([`IdView::term_reader`]).
pub struct TermReader<'t> {
    view: IdView<'t>,
    resolver: Resolver<'t>,
}

impl std::fmt::Debug for TermReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TermReader")
    }
}

impl TermReader<'_> {
    /// Reads every term of `ids` not cached yet, in one batch.
    ///
    /// # Errors
    /// Backend failures; an id the dictionary lacks ([`StoreError::Corrupt`]).
    pub fn prefetch(&mut self, ids: impl IntoIterator<Item = TermId>) -> Result<(), StoreError> {
        self.resolver
            .resolve_all(self.view.txn, &self.view.store.tables, ids)
    }

    /// The term of `id`.
    ///
    /// # Errors
    /// Backend failures; an id the dictionary lacks ([`StoreError::Corrupt`]).
    pub fn term(&mut self, id: TermId) -> Result<Term, StoreError> {
        self.prefetch([id])?;
        self.resolver.term(id).cloned()
    }
}
