//! The two-way term dictionary: terms to ids (`lookup`), ids to terms (`resolve`), new terms
//! to new ids (`intern`), and the store-wide cache all three share (`cache`).
//!
//! `dict.term2id` maps a term's keyed 128-bit hash to its id; `dict.id2term` maps the id to
//! the encoded term. Every term has exactly one id; triple terms are encoded from the ids of
//! their parts, so a triple term's parts are interned before it.

mod cache;
mod intern;
mod lookup;
mod resolve;

use rustc_hash::FxHashMap as HashMap;

use super::encoding::{TermHash, TermId};
use super::error::StoreError;

pub(super) use cache::{TermCache, CACHED_ID_BYTES, SHARED_TERM_IDS_LIMIT};
pub(super) use intern::{Interned, Interner};
pub(super) use lookup::lookup;
pub(super) use resolve::Resolver;

/// Where a view looks terms up: its own new terms, then the store's shared cache (if the
/// view's generation is the cache's), then the dictionary.
#[derive(Debug, Clone, Copy)]
pub(super) struct TermScope<'l> {
    /// A writer's new terms.
    pub local: Option<&'l HashMap<TermHash, TermId>>,
    /// The dictionary generation the view reads; `None` when the view must not use the
    /// shared cache (it emptied the dictionary itself).
    pub generation: Option<u64>,
    /// The first id the view does not see: ids are given in order, so a cached id at or past
    /// it was committed after a snapshot began and is no id of the snapshot's (the
    /// dictionary of the snapshot lacks it). `None` for a writer, which sees every commit.
    pub unseen_from: Option<TermId>,
}

impl TermScope<'static> {
    /// The scope of a snapshot of `generation` whose next term id is `next_id`.
    pub fn snapshot(generation: u64, next_id: TermId) -> Self {
        Self {
            local: None,
            generation: Some(generation),
            unseen_from: Some(next_id),
        }
    }
}

impl TermScope<'_> {
    /// Whether the view sees `id` (a cached id may be newer than a snapshot).
    pub fn sees(&self, id: TermId) -> bool {
        self.unseen_from.is_none_or(|unseen| id < unseen)
    }
}

/// Roughly the bytes a resolved term takes in a cache (its text, its struct and its table
/// slot): what bounds the caches, since one long literal costs as much as thousands of IRIs.
pub(super) fn cached_bytes(term: &oxrdf::Term) -> usize {
    /// The term's struct, its allocation header and its hash table slot, about.
    const OVERHEAD: usize = 96;
    OVERHEAD
        + match term {
            oxrdf::Term::NamedNode(node) => node.as_str().len(),
            oxrdf::Term::BlankNode(node) => node.as_str().len(),
            oxrdf::Term::Literal(literal) => {
                literal.value().len()
                    + literal.language().map_or(0, str::len)
                    + literal.datatype().as_str().len()
            }
            oxrdf::Term::Triple(triple) => {
                triple.subject.to_string().len()
                    + triple.predicate.as_str().len()
                    + cached_bytes(&triple.object)
            }
        }
}

/// Reads a `term2id` value.
pub(super) fn decode_id_value(bytes: &[u8]) -> Result<TermId, StoreError> {
    let (id, rest) = super::encoding::read_id(bytes)?;
    if rest.is_empty() && id.0 != 0 {
        Ok(id)
    } else {
        Err(StoreError::corrupt("a term2id entry is not a term id"))
    }
}
