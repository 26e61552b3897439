//! The QuadStore's own counters: quads committed in and out, and how term look-ups were
//! answered. Reported with the backend's operation stats (`--stats`, `stats --json`).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

use crate::plugin::stats::{CounterSource, NamedCount};

/// Counters of one open store, shared by its transactions and snapshots. Quads count once
/// their transaction commits; dictionary figures count every term occurrence looked up (a
/// triple inserted is three), as it happens, whether its transaction commits or not.
#[derive(Debug, Default)]
pub struct StoreCounters {
    quads_inserted: AtomicU64,
    quads_removed: AtomicU64,
    cache_hits: AtomicU64,
    table_hits: AtomicU64,
    misses: AtomicU64,
}

/// A copy of [`StoreCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreFigures {
    /// Quads added by committed transactions (a quad already present is not counted).
    pub quads_inserted: u64,
    /// Quads removed by committed transactions (clears and undone loads included).
    pub quads_removed: u64,
    /// Term look-ups answered from memory (the shared id cache or the writer's new terms).
    pub dictionary_cache_hits: u64,
    /// Term look-ups answered by the dictionary table.
    pub dictionary_table_hits: u64,
    /// Term look-ups of terms the dictionary does not hold (a writer then adds them).
    pub dictionary_misses: u64,
}

impl StoreCounters {
    /// Adds a committed transaction's quads.
    pub(super) fn committed(&self, inserted: u64, removed: u64) {
        for (counter, n) in [
            (&self.quads_inserted, inserted),
            (&self.quads_removed, removed),
        ] {
            if n > 0 {
                counter.fetch_add(n, Relaxed);
            }
        }
    }

    /// Adds the outcome of some term look-ups.
    pub(super) fn looked_up(&self, cache_hits: u64, table_hits: u64, misses: u64) {
        for (counter, n) in [
            (&self.cache_hits, cache_hits),
            (&self.table_hits, table_hits),
            (&self.misses, misses),
        ] {
            if n > 0 {
                counter.fetch_add(n, Relaxed);
            }
        }
    }

    /// The current values.
    #[must_use]
    pub fn figures(&self) -> StoreFigures {
        StoreFigures {
            quads_inserted: self.quads_inserted.load(Relaxed),
            quads_removed: self.quads_removed.load(Relaxed),
            dictionary_cache_hits: self.cache_hits.load(Relaxed),
            dictionary_table_hits: self.table_hits.load(Relaxed),
            dictionary_misses: self.misses.load(Relaxed),
        }
    }
}

impl CounterSource for StoreCounters {
    fn counters(&self) -> Vec<NamedCount> {
        let f = self.figures();
        [
            ("quads_inserted", f.quads_inserted),
            ("quads_removed", f.quads_removed),
            ("dictionary_cache_hits", f.dictionary_cache_hits),
            ("dictionary_table_hits", f.dictionary_table_hits),
            ("dictionary_misses", f.dictionary_misses),
        ]
        .into_iter()
        .map(|(name, value)| NamedCount {
            name: name.to_owned(),
            value,
        })
        .collect()
    }
}
