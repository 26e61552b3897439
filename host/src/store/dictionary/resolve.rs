//! Resolving ids: id → term, batched, through the view's own cache and the store's.

use oxrdf::{NamedNode, NamedOrBlankNode, Term, Triple};
use rustc_hash::FxHashMap as HashMap;

use super::super::encoding::{key_of, DecodedTerm, EncodedTerm, TermId};
use super::super::error::{Context, StoreError};
use super::super::layout::Tables;
use super::super::Store;
use super::cached_bytes;
use crate::plugin::BackendTxn;

/// Resolved terms one view keeps before it starts over.
const VIEW_TERMS_LIMIT: usize = 1 << 18;
/// Bytes of resolved terms ([`cached_bytes`]) one view keeps before it starts over.
const VIEW_TERM_BYTES_LIMIT: usize = 8 << 20;

/// Turns ids into terms, with a bounded cache; triple terms are resolved part by part.
#[derive(Debug, Default)]
pub(in crate::store) struct Resolver<'s> {
    cache: HashMap<TermId, Term>,
    /// [`cached_bytes`] of `cache`, about (a term replaced is counted twice).
    cached_bytes: usize,
    /// The store's shared id-to-term cache and the generation of the view: read before the
    /// dictionary, filled from it. Only snapshots share (a writer may read its own
    /// uncommitted ids).
    shared: Option<(&'s Store, u64)>,
}

impl<'s> Resolver<'s> {
    /// A resolver of a snapshot of `generation`, sharing the store's cache of resolved terms.
    pub fn shared(store: &'s Store, generation: u64) -> Self {
        Self {
            cache: HashMap::default(),
            cached_bytes: 0,
            shared: Some((store, generation)),
        }
    }

    /// Makes sure every id of `ids` is in the cache.
    ///
    /// # Errors
    /// Backend failures; an id the dictionary lacks ([`StoreError::Corrupt`]).
    pub fn resolve_all(
        &mut self,
        txn: &BackendTxn,
        tables: &Tables,
        ids: impl IntoIterator<Item = TermId>,
    ) -> Result<(), StoreError> {
        if self.cache.len() > VIEW_TERMS_LIMIT || self.cached_bytes > VIEW_TERM_BYTES_LIMIT {
            self.cache.clear();
            self.cached_bytes = 0;
        }
        let mut requested: rustc_hash::FxHashSet<TermId> = rustc_hash::FxHashSet::default();
        let mut missing: Vec<TermId> = ids
            .into_iter()
            .filter(|id| !self.cache.contains_key(id) && requested.insert(*id))
            .collect();
        if let Some((store, generation)) = self.shared {
            let (rest, bytes) = store.terms.take_terms(generation, missing, &mut self.cache);
            missing = rest;
            self.cached_bytes += bytes;
        }
        let mut fetched: Vec<(TermId, Term)> = Vec::new();
        let mut triples: Vec<(TermId, [TermId; 3])> = Vec::new();
        while !missing.is_empty() {
            missing.sort_unstable();
            let keys: Vec<Vec<u8>> = missing.iter().map(|id| key_of(&[*id])).collect();
            let key_refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
            let values = txn
                .get_many(tables.id2term, &key_refs)
                .context("reading the dictionary")?;
            let mut next = Vec::new();
            for (id, value) in missing.iter().zip(values) {
                let bytes = value.ok_or_else(|| {
                    StoreError::corrupt(format!(
                        "an index refers to term id {}, which the dictionary lacks",
                        id.0
                    ))
                })?;
                match EncodedTerm::from_bytes(bytes).decode()? {
                    DecodedTerm::Term(term) => {
                        if self.shared.is_some() {
                            fetched.push((*id, term.clone()));
                        }
                        self.cached_bytes += cached_bytes(&term);
                        self.cache.insert(*id, term);
                    }
                    DecodedTerm::Triple(s, p, o) => {
                        triples.push((*id, [s, p, o]));
                        for part in [s, p, o] {
                            if !self.cache.contains_key(&part) && requested.insert(part) {
                                next.push(part);
                            }
                        }
                    }
                }
            }
            missing = next;
        }
        // Build triple terms once their parts are built; a pass without progress means a
        // cycle, which no store writes.
        while !triples.is_empty() {
            let before = triples.len();
            let mut waiting = Vec::new();
            for (id, [s, p, o]) in triples {
                if [s, p, o].iter().all(|part| self.cache.contains_key(part)) {
                    let triple = Term::Triple(Box::new(Triple::new(
                        self.subject(s)?,
                        self.predicate(p)?,
                        self.term(o)?.clone(),
                    )));
                    self.cached_bytes += cached_bytes(&triple);
                    self.cache.insert(id, triple);
                } else {
                    waiting.push((id, [s, p, o]));
                }
            }
            if waiting.len() == before {
                return Err(StoreError::corrupt(format!(
                    "triple term {} is part of itself",
                    waiting[0].0 .0
                )));
            }
            triples = waiting;
        }
        if let Some((store, generation)) = self.shared {
            if !fetched.is_empty() {
                store.terms.remember_terms(generation, fetched);
            }
        }
        Ok(())
    }

    /// A resolved term.
    pub fn term(&self, id: TermId) -> Result<&Term, StoreError> {
        self.cache.get(&id).ok_or_else(|| {
            StoreError::corrupt(format!(
                "term id {} could not be resolved (a triple term refers to a later term)",
                id.0
            ))
        })
    }

    /// A resolved term that must be a subject or graph name.
    pub fn subject(&self, id: TermId) -> Result<NamedOrBlankNode, StoreError> {
        match self.term(id)? {
            Term::NamedNode(node) => Ok(node.clone().into()),
            Term::BlankNode(node) => Ok(node.clone().into()),
            other => Err(StoreError::corrupt(format!(
                "term id {} ({other}) stands as a subject or graph name",
                id.0
            ))),
        }
    }

    /// A resolved term that must be a predicate.
    pub fn predicate(&self, id: TermId) -> Result<NamedNode, StoreError> {
        match self.term(id)? {
            Term::NamedNode(node) => Ok(node.clone()),
            other => Err(StoreError::corrupt(format!(
                "term id {} ({other}) stands as a predicate",
                id.0
            ))),
        }
    }
}
