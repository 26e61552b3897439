//! Caches sized for a load: while a sorted load into a store that already holds terms runs,
//! the store's cache of term ids and the engine's own cache (RocksDB's block cache, through
//! the plugin's `kgdb.cache-budget.v1` extension) each take a share of `--memory-budget`, so
//! that looking up the store's terms (and checking its quads) does not slow down as the store
//! grows; both are set back when the load ends. A load into a store without terms looks
//! nothing up, and leaves both as they are.

use super::super::dictionary::{CACHED_ID_BYTES, SHARED_TERM_IDS_LIMIT};
use super::super::Store;

/// Each cache gets one part in this many of the memory budget.
const SHARE_DIVISOR: u64 = 8;

/// The raised caches of one load, set back when dropped.
pub(super) struct CacheLease<'a> {
    store: &'a Store,
    /// The engine cache's capacity before the load, when the load raised it.
    engine_before: Option<u64>,
    /// The term-id cache's limit before the load, when the load raised it.
    ids_before: Option<usize>,
    /// Bytes the raised caches may hold beyond what they held before.
    extra_bytes: u64,
}

impl<'a> CacheLease<'a> {
    /// Raises the caches of `store` to their share of `memory_budget`, where that is more than
    /// they have; `store_has_terms`: whether the load will look anything up.
    pub fn take(store: &'a Store, memory_budget: u64, store_has_terms: bool) -> Self {
        let mut lease = Self {
            store,
            engine_before: None,
            ids_before: None,
            extra_bytes: 0,
        };
        if !store_has_terms {
            return lease;
        }
        let share = memory_budget / SHARE_DIVISOR;
        let ids = usize::try_from(share / CACHED_ID_BYTES).unwrap_or(usize::MAX);
        if ids > SHARED_TERM_IDS_LIMIT {
            let before = store.terms.set_ids_limit(ids);
            lease.ids_before = Some(before);
            lease.extra_bytes += (ids.saturating_sub(before) as u64) * CACHED_ID_BYTES;
        }
        match store.backend.cache_capacity() {
            Ok(Some(capacity)) if capacity < share => {
                match store.backend.set_cache_capacity(share) {
                    Ok(Some(before)) => {
                        lease.engine_before = Some(before);
                        lease.extra_bytes += share - capacity;
                        tracing::info!(
                            before,
                            during_load = share,
                            "raised the engine's cache for the load"
                        );
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!("cannot raise the engine's cache for the load: {error}")
                    }
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!("cannot read the engine's cache capacity: {error}"),
        }
        lease
    }

    /// Bytes the raised caches may hold beyond what they held before (to count against the
    /// load's budget).
    pub fn extra_bytes(&self) -> u64 {
        self.extra_bytes
    }
}

impl Drop for CacheLease<'_> {
    /// Sets both caches back (a failure to is logged: the engine cache then keeps the load's
    /// size until the store is reopened).
    fn drop(&mut self) {
        if let Some(before) = self.ids_before.take() {
            self.store.terms.set_ids_limit(before);
        }
        if let Some(before) = self.engine_before.take() {
            if let Err(error) = self.store.backend.set_cache_capacity(before) {
                tracing::warn!("cannot set the engine's cache back to {before} bytes: {error}");
            }
        }
    }
}
