//! Order-independent digests of what a table holds, so that two tables can be compared by
//! scanning each once instead of looking every row of one up in the other.
//!
//! A digest is the number of items and the wrapping sums of two keyed 64-bit hashes of each
//! item. Items are unique within a table (its keys), so two tables with equal digests hold the
//! same items, but for a chance of about 2^-64 per difference; the keys are drawn anew for each
//! `verify`, so no stored data can aim at a collision.

use std::hash::{BuildHasher, RandomState};

use super::super::encoding::TermId;
use super::super::index::EncodedQuad;

/// The keys of a digest's two hashes, random per `verify`.
#[derive(Debug, Clone, Copy)]
pub(super) struct DigestKeys([u64; 2]);

impl DigestKeys {
    /// Fresh random keys.
    pub fn random() -> Self {
        let state = RandomState::new();
        Self([state.hash_one(1u8), state.hash_one(2u8)])
    }
}

/// SplitMix64's finaliser: every input bit moves about half the output bits.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The digest of a set of items (quads, or dictionary entries).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct SetDigest {
    /// Items added.
    pub count: u64,
    sums: [u64; 2],
}

impl SetDigest {
    /// Adds an item given as words.
    fn add_words(&mut self, keys: DigestKeys, words: [u64; 4]) {
        self.count += 1;
        for (sum, key) in self.sums.iter_mut().zip(keys.0) {
            let hash = words
                .into_iter()
                .fold(key, |hash, word| mix(hash ^ word).wrapping_add(key));
            *sum = sum.wrapping_add(hash);
        }
    }

    /// Adds a quad, by its ids (the same whatever ordering it was read from).
    pub fn add_quad(&mut self, keys: DigestKeys, quad: &EncodedQuad) {
        // Ids start at 1: 0 stands for the default graph.
        let graph = quad.graph.map_or(0, |graph| graph.0);
        self.add_words(
            keys,
            [quad.subject.0, quad.predicate.0, quad.object.0, graph],
        );
    }

    /// Adds a dictionary entry: a term's 16-byte hash and its id (the same from either
    /// direction of the dictionary).
    pub fn add_term(&mut self, keys: DigestKeys, hash: &[u8; 16], id: TermId) {
        let (high, low) = hash.split_at(8);
        let word = |bytes: &[u8]| u64::from_le_bytes(bytes.try_into().unwrap_or_default());
        self.add_words(keys, [word(high), word(low), id.0, 0]);
    }

    /// Counts an item that could not be read, so that the counts still differ where the
    /// tables do.
    pub fn add_unreadable(&mut self) {
        self.count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quad(ids: [u64; 4]) -> EncodedQuad {
        EncodedQuad {
            subject: TermId(ids[0]),
            predicate: TermId(ids[1]),
            object: TermId(ids[2]),
            graph: (ids[3] != 0).then_some(TermId(ids[3])),
        }
    }

    #[test]
    fn equal_sets_in_any_order_have_equal_digests_and_a_change_shows() {
        let keys = DigestKeys::random();
        let quads: Vec<EncodedQuad> = (1..200)
            .map(|n| quad([n, n % 7 + 1, n * 3, n % 2]))
            .collect();
        let mut forward = SetDigest::default();
        quads.iter().for_each(|q| forward.add_quad(keys, q));
        let mut backward = SetDigest::default();
        quads.iter().rev().for_each(|q| backward.add_quad(keys, q));
        assert_eq!(forward, backward);
        // One quad with two ids swapped: same count, different digest.
        let mut swapped = SetDigest::default();
        for (n, q) in quads.iter().enumerate() {
            if n == 50 {
                swapped.add_quad(keys, &quad([q.predicate.0, q.subject.0, q.object.0, 0]));
            } else {
                swapped.add_quad(keys, q);
            }
        }
        assert_eq!(swapped.count, forward.count);
        assert_ne!(swapped, forward);
        // A quad in the default graph is not the same quad in graph 1.
        let (mut default, mut named) = (SetDigest::default(), SetDigest::default());
        default.add_quad(keys, &quad([1, 2, 3, 0]));
        named.add_quad(keys, &quad([1, 2, 3, 1]));
        assert_ne!(default, named);
    }

    #[test]
    fn dictionary_entries_differ_by_hash_and_by_id() {
        let keys = DigestKeys::random();
        let entry = |hash: u8, id: u64| {
            let mut digest = SetDigest::default();
            digest.add_term(keys, &[hash; 16], TermId(id));
            digest
        };
        assert_eq!(entry(1, 5), entry(1, 5));
        assert_ne!(entry(1, 5), entry(2, 5));
        assert_ne!(entry(1, 5), entry(1, 6));
    }
}
