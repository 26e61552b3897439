//! The store-wide cache of committed term ids and of resolved terms, shared by every view of
//! one open store. Ids never change meaning within a dictionary generation (see
//! `meta::DICTIONARY_GENERATION`), so the cache holds one generation: a view that sees a newer
//! one in the store (another process or a writer of this one emptied the dictionary) empties
//! it, and what a view of an older generation offers is ignored.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};

use oxrdf::Term;
use rustc_hash::FxHashMap as HashMap;

use super::super::encoding::{TermHash, TermId};
use super::cached_bytes;

/// Term ids the shared cache holds before it starts over, unless a load raised the limit
/// ([`TermCache::set_ids_limit`]).
pub(in crate::store) const SHARED_TERM_IDS_LIMIT: usize = 1 << 20;
/// Bytes a cached term id takes, about (hash, id and the map's share).
pub(in crate::store) const CACHED_ID_BYTES: u64 = 48;
/// Resolved terms the shared cache holds before it starts over.
const SHARED_TERMS_LIMIT: usize = 1 << 19;
/// Bytes of resolved terms ([`cached_bytes`]) the shared cache holds before it starts over.
const SHARED_TERM_BYTES_LIMIT: usize = 32 << 20;

/// Committed term ids and resolved terms of one dictionary generation.
#[derive(Debug)]
pub(in crate::store) struct TermCache {
    state: Mutex<CacheState>,
    /// Term ids held before the cache starts over.
    ids_limit: AtomicUsize,
}

impl Default for TermCache {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            ids_limit: AtomicUsize::new(SHARED_TERM_IDS_LIMIT),
        }
    }
}

#[derive(Debug, Default)]
struct CacheState {
    generation: u64,
    ids: HashMap<TermHash, TermId>,
    terms: HashMap<TermId, Term>,
    /// [`cached_bytes`] of `terms`.
    term_bytes: usize,
}

impl TermCache {
    fn state(&self) -> MutexGuard<'_, CacheState> {
        // The state is a cache: whatever a panicking holder left is still valid entries.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets how many term ids the cache holds before it starts over (a load raises it for its
    /// length), returning the limit it had; a cache over a lowered limit is emptied.
    pub fn set_ids_limit(&self, limit: usize) -> usize {
        let limit = limit.max(1);
        let previous = self.ids_limit.swap(limit, Relaxed);
        let mut state = self.state();
        if state.ids.len() > limit {
            state.ids = HashMap::default();
        }
        previous
    }

    /// A view saw `generation` in the store: a newer one than the cache's empties it.
    pub fn observe(&self, generation: u64) {
        let mut state = self.state();
        if generation > state.generation {
            state.generation = generation;
            state.ids.clear();
            state.terms.clear();
            state.term_bytes = 0;
        }
    }

    /// The cached ids of `hashes` (one lock for all), for a view of `generation`.
    pub fn ids<'h>(
        &self,
        generation: u64,
        hashes: impl IntoIterator<Item = &'h TermHash>,
    ) -> Vec<Option<TermId>> {
        let state = self.state();
        let current = state.generation == generation;
        hashes
            .into_iter()
            .map(|hash| current.then(|| state.ids.get(hash).copied()).flatten())
            .collect()
    }

    /// Caches committed ids a view of `generation` read or wrote; ignored if the cache is of
    /// another generation.
    pub fn remember_ids(&self, generation: u64, ids: impl IntoIterator<Item = (TermHash, TermId)>) {
        let mut state = self.state();
        if state.generation != generation {
            return;
        }
        let limit = self.ids_limit.load(Relaxed);
        for (hash, id) in ids {
            if state.ids.len() >= limit {
                state.ids.clear();
            }
            state.ids.insert(hash, id);
        }
    }

    /// Copies the cached terms of `ids` into `out`, for a view of `generation`; returns the
    /// ids not cached and the [`cached_bytes`] copied.
    pub fn take_terms(
        &self,
        generation: u64,
        ids: Vec<TermId>,
        out: &mut HashMap<TermId, Term>,
    ) -> (Vec<TermId>, usize) {
        let state = self.state();
        if state.generation != generation || state.terms.is_empty() {
            return (ids, 0);
        }
        let mut bytes = 0;
        let missing = ids
            .into_iter()
            .filter(|id| match state.terms.get(id) {
                Some(term) => {
                    bytes += cached_bytes(term);
                    out.insert(*id, term.clone());
                    false
                }
                None => true,
            })
            .collect();
        (missing, bytes)
    }

    /// Caches terms a snapshot of `generation` read from the dictionary.
    pub fn remember_terms(&self, generation: u64, terms: Vec<(TermId, Term)>) {
        let mut state = self.state();
        if state.generation != generation {
            return;
        }
        for (id, term) in terms {
            if state.terms.len() >= SHARED_TERMS_LIMIT
                || state.term_bytes >= SHARED_TERM_BYTES_LIMIT
            {
                state.terms.clear();
                state.term_bytes = 0;
            }
            state.term_bytes += cached_bytes(&term);
            state.terms.insert(id, term);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_generation_empties_the_cache_and_an_older_one_is_ignored() {
        let cache = TermCache::default();
        cache.observe(3);
        cache.remember_ids(3, [([1; 16], TermId(7))]);
        assert_eq!(cache.ids(3, [&[1; 16]]), vec![Some(TermId(7))]);
        // A view of an older generation neither reads nor fills it.
        assert_eq!(cache.ids(2, [&[1; 16]]), vec![None]);
        cache.remember_ids(2, [([2; 16], TermId(8))]);
        assert_eq!(cache.ids(3, [&[2; 16]]), vec![None]);
        // An older generation observed changes nothing; a newer one empties it.
        cache.observe(2);
        assert_eq!(cache.ids(3, [&[1; 16]]), vec![Some(TermId(7))]);
        cache.observe(4);
        assert_eq!(cache.ids(4, [&[1; 16]]), vec![None]);
        cache.remember_terms(4, vec![(TermId(1), Term::from(oxrdf::Literal::from("a")))]);
        let mut out = HashMap::default();
        let (missing, bytes) = cache.take_terms(4, vec![TermId(1), TermId(2)], &mut out);
        assert_eq!(missing, vec![TermId(2)]);
        assert_eq!(out.len(), 1);
        assert!(bytes > 1, "the bytes of the term copied: {bytes}");
        cache.observe(5);
        let (missing, bytes) = cache.take_terms(5, vec![TermId(1)], &mut out);
        assert_eq!((missing, bytes), (vec![TermId(1)], 0));
    }

    #[test]
    fn a_raised_ids_limit_holds_more_and_lowering_it_empties_a_fuller_cache() {
        let cache = TermCache::default();
        cache.observe(1);
        assert_eq!(cache.set_ids_limit(4), SHARED_TERM_IDS_LIMIT);
        let hashes: Vec<TermHash> = (0..6u8).map(|i| [i; 16]).collect();
        cache.remember_ids(1, hashes.iter().map(|h| (*h, TermId(u64::from(h[0])))));
        // Four fit; the fifth made it start over.
        assert_eq!(cache.ids(1, &hashes).iter().flatten().count(), 2);
        assert_eq!(cache.set_ids_limit(8), 4);
        cache.remember_ids(1, hashes.iter().map(|h| (*h, TermId(u64::from(h[0])))));
        assert_eq!(cache.ids(1, &hashes).iter().flatten().count(), 6);
        // Back under what it holds: emptied.
        assert_eq!(cache.set_ids_limit(3), 8);
        assert_eq!(cache.ids(1, &hashes).iter().flatten().count(), 0);
    }

    #[test]
    fn long_terms_make_the_cache_start_over_by_their_bytes() {
        let cache = TermCache::default();
        cache.observe(1);
        let long = Term::from(oxrdf::Literal::from("x".repeat(1 << 20)));
        let terms: Vec<(TermId, Term)> = (1..=60).map(|id| (TermId(id), long.clone())).collect();
        cache.remember_terms(1, terms);
        let mut out = HashMap::default();
        let (missing, _) = cache.take_terms(1, (1..=60).map(TermId).collect(), &mut out);
        // 60 MiB of terms against a 32 MiB bound: the cache started over on the way.
        assert!(
            !missing.is_empty() && missing.len() < 60,
            "{} missing",
            missing.len()
        );
        assert!(out.len() <= 32, "{} cached", out.len());
    }
}
