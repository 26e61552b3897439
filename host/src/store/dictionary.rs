//! The two-way term dictionary: terms to ids (look-up) and ids to terms (resolution).
//! Interning new terms is the writer's job ([`super::writer`]).

use rustc_hash::FxHashMap as HashMap;

use oxrdf::{NamedNode, NamedOrBlankNode, Term, Triple};

use super::encoding::{key_of, DecodedTerm, EncodedTerm, TermHash, TermId};
use super::error::{Context, StoreError};
use super::{Store, Tables};
use crate::plugin::Transaction as BackendTxn;

/// Entries a resolver keeps before it starts over.
const RESOLVER_CACHE_LIMIT: usize = 1 << 18;

/// Where a view looks terms up: its own new terms, then the store's shared cache (if the
/// view began in the cache's current generation), then the dictionary.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TermScope<'l> {
    /// A writer's new terms.
    pub local: Option<&'l HashMap<TermHash, TermId>>,
    /// The cache generation the view began in; `None` when the view must not use the cache
    /// (it emptied the dictionary itself).
    pub generation: Option<u64>,
}

/// The id of `term` if the view `scope` of the store holds it.
///
/// # Errors
/// Backend failures; a corrupt id.
pub(crate) fn lookup(
    store: &Store,
    txn: &BackendTxn,
    scope: TermScope<'_>,
    term: &Term,
) -> Result<Option<TermId>, StoreError> {
    let encoded = match term {
        Term::Triple(triple) => {
            let parts = [
                Term::from(triple.subject.clone()),
                Term::from(triple.predicate.clone()),
                triple.object.clone(),
            ];
            let mut ids = [TermId(0); 3];
            for (slot, part) in ids.iter_mut().zip(&parts) {
                match lookup(store, txn, scope, part)? {
                    Some(id) => *slot = id,
                    None => return Ok(None),
                }
            }
            EncodedTerm::triple(ids[0], ids[1], ids[2])
        }
        other => EncodedTerm::plain(other.as_ref())
            .ok_or_else(|| StoreError::InvalidInput("a term the store cannot encode".into()))?,
    };
    let hash = encoded.hash(&store.hasher);
    if let Some(id) = scope
        .local
        .and_then(|local| local.get(&hash))
        .copied()
        .or_else(|| {
            scope
                .generation
                .and_then(|generation| store.cached_term(generation, &hash))
        })
    {
        store.counters.looked_up(1, 0, 0);
        return Ok(Some(id));
    }
    match txn
        .get(store.tables.term2id, &hash)
        .context("looking up a term")?
    {
        Some(bytes) => {
            let id = decode_id_value(&bytes)?;
            if let Some(generation) = scope.generation {
                store.cache_terms(generation, [(hash, id)]);
            }
            store.counters.looked_up(0, 1, 0);
            Ok(Some(id))
        }
        None => {
            store.counters.looked_up(0, 0, 1);
            Ok(None)
        }
    }
}

/// Reads a `term2id` value.
pub(crate) fn decode_id_value(bytes: &[u8]) -> Result<TermId, StoreError> {
    let (id, rest) = super::encoding::read_id(bytes)?;
    if rest.is_empty() && id.0 != 0 {
        Ok(id)
    } else {
        Err(StoreError::corrupt("a term2id entry is not a term id"))
    }
}

/// Turns ids into terms, with a bounded cache; triple terms are resolved part by part.
#[derive(Debug, Default)]
pub(crate) struct Resolver<'s> {
    cache: HashMap<TermId, Term>,
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
        if self.cache.len() > RESOLVER_CACHE_LIMIT {
            self.cache.clear();
        }
        let mut requested: rustc_hash::FxHashSet<TermId> = rustc_hash::FxHashSet::default();
        let mut missing: Vec<TermId> = ids
            .into_iter()
            .filter(|id| !self.cache.contains_key(id) && requested.insert(*id))
            .collect();
        if let Some((store, generation)) = self.shared {
            missing = store.resolved_terms(generation, missing, &mut self.cache);
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
                    let triple =
                        Triple::new(self.subject(s)?, self.predicate(p)?, self.term(o)?.clone());
                    self.cache.insert(id, Term::Triple(Box::new(triple)));
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
                store.cache_resolved(generation, fetched);
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
