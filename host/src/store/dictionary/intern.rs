//! Interning: a writer's terms to ids, adding the terms the dictionary lacks.

use kgdb_plugin_api::WriteBatch;
use oxrdf::{GraphName, Quad, Term, TermRef};
use rustc_hash::FxHashMap as HashMap;

use super::super::encoding::{key_of, EncodedTerm, TermHash, TermId, MAX_TERM_ID};
use super::super::error::{Context, StoreError};
use super::super::index::EncodedQuad;
use super::super::Store;
use super::decode_id_value;
use crate::plugin::BackendTxn;

/// A term position of a batch on its way to an id.
enum Slot {
    /// No term (the default graph).
    Empty,
    /// Already interned (triple terms).
    Known(TermId),
    /// To look up or add.
    Hashed(TermHash, EncodedTerm),
}

/// Where an interner reads and writes: the writer's view of the store, the dictionary
/// generation it may use the shared cache in (`None` once it emptied the dictionary itself),
/// and the batch its new dictionary entries go into.
pub(in crate::store) struct Interned<'a> {
    /// The store.
    pub store: &'a Store,
    /// The writer's backend transaction (reads see its flushed writes).
    pub txn: &'a BackendTxn,
    /// The generation the shared cache may serve.
    pub generation: Option<u64>,
    /// The writer's buffered writes.
    pub pending: &'a mut WriteBatch,
}

/// A writer's side of the dictionary: its new terms and the next id to hand out. A term is
/// looked up in the writer's new terms, then the store's shared cache, then (in one batched
/// `get_many` per batch of quads) in `dict.term2id`; one still unknown gets the next id, and
/// its two dictionary entries go into the writer's batch.
#[derive(Debug)]
pub(in crate::store) struct Interner {
    new_terms: HashMap<TermHash, TermId>,
    next_id: u64,
    /// `next_id` as `store.meta` records it (when the counters were last written).
    recorded_next_id: u64,
    /// Terms added since the counters were last written.
    added: u64,
}

impl Interner {
    /// An interner handing out ids from `next_id` (what `store.meta` records).
    pub fn new(next_id: u64) -> Self {
        Self {
            new_terms: HashMap::default(),
            next_id,
            recorded_next_id: next_id,
            added: 0,
        }
    }

    /// The terms this writer added (not yet in the shared cache).
    pub fn new_terms(&self) -> &HashMap<TermHash, TermId> {
        &self.new_terms
    }

    /// Takes the terms this writer added, once they are written (for the shared cache).
    pub fn take_new_terms(&mut self) -> HashMap<TermHash, TermId> {
        std::mem::take(&mut self.new_terms)
    }

    /// The next id this writer would hand out.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Starts over at `next_id`, forgetting every new term (the dictionary was emptied or a
    /// load's terms undone); `store.meta` is taken to record `next_id` already.
    pub fn restart_at(&mut self, next_id: u64) {
        self.new_terms.clear();
        self.next_id = next_id;
        self.recorded_next_id = next_id;
        self.added = 0;
    }

    /// Terms added since the counters were last written.
    pub fn unrecorded_terms(&self) -> u64 {
        self.added
    }

    /// The counter changes since the last call: terms added, and the next id if it moved.
    pub fn take_counter_changes(&mut self) -> (u64, Option<u64>) {
        let added = std::mem::take(&mut self.added);
        let moved = (self.next_id != self.recorded_next_id).then_some(self.next_id);
        self.recorded_next_id = self.next_id;
        (added, moved)
    }

    /// The ids of `quads`, interning their terms.
    pub fn encode_quads(
        &mut self,
        at: &mut Interned<'_>,
        quads: &[Quad],
    ) -> Result<Vec<EncodedQuad>, StoreError> {
        let mut slots: Vec<Slot> = Vec::with_capacity(quads.len() * 4);
        for quad in quads {
            let graph: Option<TermRef<'_>> = match &quad.graph_name {
                GraphName::DefaultGraph => None,
                GraphName::NamedNode(node) => Some(node.as_ref().into()),
                GraphName::BlankNode(node) => Some(node.as_ref().into()),
            };
            for term in [
                Some(quad.subject.as_ref().into()),
                Some(quad.predicate.as_ref().into()),
                Some(quad.object.as_ref()),
                graph,
            ] {
                slots.push(match term {
                    None => Slot::Empty,
                    // Triple terms are interned part by part, one at a time.
                    Some(TermRef::Triple(triple)) => {
                        Slot::Known(self.intern(at, &Term::Triple(Box::new(triple.clone())))?)
                    }
                    Some(term) => {
                        at.store.term_limits.check(term)?;
                        let encoded = EncodedTerm::plain(term).ok_or_else(|| {
                            StoreError::InvalidInput("a term the store cannot encode".into())
                        })?;
                        Slot::Hashed(encoded.hash(&at.store.hasher), encoded)
                    }
                });
            }
        }
        let ids = self.ids(at, &slots)?;
        Ok(ids
            .chunks_exact(4)
            .map(|ids| EncodedQuad {
                subject: ids[0].unwrap_or(TermId(0)),
                predicate: ids[1].unwrap_or(TermId(0)),
                object: ids[2].unwrap_or(TermId(0)),
                graph: ids[3],
            })
            .collect())
    }

    /// The id of one term, interning it (and, for a triple term, its parts).
    pub fn intern(&mut self, at: &mut Interned<'_>, term: &Term) -> Result<TermId, StoreError> {
        let encoded = match term {
            Term::Triple(triple) => {
                let subject = self.intern(at, &triple.subject.clone().into())?;
                let predicate = self.intern(at, &triple.predicate.clone().into())?;
                let object = self.intern(at, &triple.object)?;
                EncodedTerm::triple(subject, predicate, object)
            }
            other => {
                at.store.term_limits.check(other.as_ref())?;
                EncodedTerm::plain(other.as_ref()).ok_or_else(|| {
                    StoreError::InvalidInput("a term the store cannot encode".into())
                })?
            }
        };
        let hash = encoded.hash(&at.store.hasher);
        let ids = self.ids(at, &[Slot::Hashed(hash, encoded)])?;
        ids[0].ok_or_else(|| StoreError::corrupt("a term could not be interned"))
    }

    /// Ids for term slots: the writer's new terms, the shared cache (one lock for the whole
    /// batch), then one `get_many` for the rest; terms still unknown get new ids.
    fn ids(
        &mut self,
        at: &mut Interned<'_>,
        slots: &[Slot],
    ) -> Result<Vec<Option<TermId>>, StoreError> {
        let store = at.store;
        let mut ids: Vec<Option<TermId>> = vec![None; slots.len()];
        let mut unresolved: Vec<usize> = Vec::new();
        let (mut cache_hits, mut table_hits, mut misses) = (0, 0, 0);
        for (index, slot) in slots.iter().enumerate() {
            match slot {
                Slot::Empty => {}
                Slot::Known(id) => ids[index] = Some(*id),
                Slot::Hashed(hash, _) => match self.new_terms.get(hash) {
                    Some(id) => {
                        ids[index] = Some(*id);
                        cache_hits += 1;
                    }
                    None => unresolved.push(index),
                },
            }
        }
        let mut unknown: Vec<usize> = Vec::new();
        if let (Some(generation), false) = (at.generation, unresolved.is_empty()) {
            let cached = store.terms.ids(
                generation,
                unresolved.iter().filter_map(|index| match &slots[*index] {
                    Slot::Hashed(hash, _) => Some(hash),
                    _ => None,
                }),
            );
            for (index, id) in unresolved.into_iter().zip(cached) {
                match id {
                    Some(id) => {
                        ids[index] = Some(id);
                        cache_hits += 1;
                    }
                    None => unknown.push(index),
                }
            }
        } else {
            unknown = unresolved;
        }
        if !unknown.is_empty() {
            let mut keys: Vec<&[u8]> = unknown
                .iter()
                .filter_map(|index| match &slots[*index] {
                    Slot::Hashed(hash, _) => Some(&hash[..]),
                    _ => None,
                })
                .collect();
            keys.sort_unstable();
            keys.dedup();
            let found = at
                .txn
                .get_many(store.tables.term2id, &keys)
                .context("looking up terms")?;
            let mut in_table: HashMap<TermHash, TermId> = HashMap::default();
            for (key, value) in keys.iter().zip(found) {
                if let Some(value) = value {
                    let mut hash = [0; 16];
                    hash.copy_from_slice(key);
                    in_table.insert(hash, decode_id_value(&value)?);
                }
            }
            if let Some(generation) = at.generation {
                store
                    .terms
                    .remember_ids(generation, in_table.iter().map(|(h, id)| (*h, *id)));
            }
            for index in unknown {
                let Slot::Hashed(hash, encoded) = &slots[index] else {
                    continue;
                };
                let id = if let Some(id) = in_table.get(hash) {
                    table_hits += 1;
                    *id
                } else if let Some(id) = self.new_terms.get(hash) {
                    // Added for an earlier slot of this batch.
                    cache_hits += 1;
                    *id
                } else {
                    misses += 1;
                    self.add(at, *hash, encoded)?
                };
                ids[index] = Some(id);
            }
        }
        store.counters.looked_up(cache_hits, table_hits, misses);
        Ok(ids)
    }

    fn add(
        &mut self,
        at: &mut Interned<'_>,
        hash: TermHash,
        encoded: &EncodedTerm,
    ) -> Result<TermId, StoreError> {
        if self.next_id > MAX_TERM_ID {
            return Err(StoreError::InvalidInput(
                "the store has used every term id".into(),
            ));
        }
        let id = TermId(self.next_id);
        self.next_id += 1;
        let key = key_of(&[id]);
        let tables = &at.store.tables;
        at.pending.put(tables.id2term, &key, encoded.bytes());
        at.pending.put(tables.term2id, &hash, &key);
        self.new_terms.insert(hash, id);
        self.added += 1;
        Ok(id)
    }
}
