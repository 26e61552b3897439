//! Reading a snapshot at the level of term ids, for query engines: look a term's id up, scan
//! the orderings for an id pattern, list the named graphs' ids, and turn ids into terms only
//! when a value is needed. Joins, `DISTINCT` and `sameTerm` then compare integers.

use std::collections::VecDeque;

use kgdb_plugin_api::ScanSpec;
use oxrdf::Term;

use super::dictionary::{lookup, Resolver};
use super::encoding::{read_ids, TermId};
use super::error::{Context, StoreError};
use super::index::{plan, EncodedQuad, IdPattern};
use super::reader::{EncodedScan, Snapshot};

impl<'a> Snapshot<'a> {
    /// The id of `term`, or `None` when the store holds no such term (then no quad of the
    /// snapshot contains it).
    ///
    /// # Errors
    /// Backend failures; a term the store cannot encode.
    pub fn term_id(&self, term: &Term) -> Result<Option<TermId>, StoreError> {
        lookup(self.store, &self.txn, self.scope(), term)
    }

    /// The quads matching `pattern`, as ids, streamed in batches from the orderings' prefix
    /// scans (the default graph's quads first when the pattern covers both kinds of graph).
    pub fn encoded_quads(&self, pattern: &IdPattern) -> EncodedQuads<'_> {
        EncodedQuads {
            scan: EncodedScan::new(&self.txn, self.store.tables, plan(pattern)),
            buffer: VecDeque::new(),
            done: false,
        }
    }

    /// The ids of the named graphs that hold at least one quad.
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

    /// A reader of terms by id, with its own cache in front of the store's.
    #[must_use]
    pub fn term_reader(&self) -> TermReader<'_> {
        TermReader {
            snapshot: self,
            resolver: Resolver::shared(self.store, self.generation),
        }
    }
}

/// The quads of an id pattern, as ids ([`Snapshot::encoded_quads`]).
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

/// Turns ids of one snapshot into terms, through its own cache, the store's shared cache and
/// batched reads of the dictionary ([`Snapshot::term_reader`]).
pub struct TermReader<'t> {
    snapshot: &'t Snapshot<'t>,
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
            .resolve_all(&self.snapshot.txn, &self.snapshot.store.tables, ids)
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
