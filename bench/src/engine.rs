//! What a store's work costs its engine, where the engine counts it: round trips (native
//! statistics of unit `requests`, e.g. `etcd.requests`), write transactions (`*.write_txns`)
//! and the size the engine keeps the data in outside the data directory (`*.db_size`). Only
//! engines reached over a network report these; for the others every figure is `None`.

use kgdb_host::plugin::{Backend, Capabilities};
use serde::{Deserialize, Serialize};

/// The engine's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineCounters {
    /// Requests sent to the engine so far.
    pub requests: u64,
    /// Write transactions sent so far.
    pub write_txns: u64,
    /// Bytes the engine keeps the data in (one copy).
    pub stored_bytes: Option<u64>,
}

impl EngineCounters {
    /// The counters `backend` reports, or `None` when it counts no requests.
    #[must_use]
    pub fn read(backend: &Backend) -> Option<Self> {
        if !backend.capabilities().has(Capabilities::NATIVE_STATS) {
            return None;
        }
        let stats = backend.stats().ok()?;
        let requests: Vec<u64> = stats
            .iter()
            .filter(|stat| stat.unit == "requests")
            .map(|stat| stat.value)
            .collect();
        if requests.is_empty() {
            return None;
        }
        let named = |suffix: &str| {
            stats
                .iter()
                .find(|stat| stat.name.ends_with(suffix))
                .map(|stat| stat.value)
        };
        Some(Self {
            requests: requests.iter().sum(),
            write_txns: named(".write_txns").unwrap_or(0),
            stored_bytes: named(".db_size"),
        })
    }

    /// What was spent between `self` and `later`.
    #[must_use]
    pub fn spent_until(self, later: Self) -> Spent {
        Spent {
            requests: later.requests.saturating_sub(self.requests),
            write_txns: later.write_txns.saturating_sub(self.write_txns),
        }
    }
}

/// Requests and write transactions one piece of work took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spent {
    /// Requests (round trips).
    pub requests: u64,
    /// Write transactions among them.
    pub write_txns: u64,
}

/// A run's engine figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineFigures {
    /// The bulk load.
    pub bulk: Spent,
    /// The transactional load, when measured.
    pub transactional: Option<Spent>,
    /// Bytes the engine keeps the data in after compaction (one copy).
    pub stored_bytes: Option<u64>,
    /// Requests per look-up, by shape (in the look-up table's order).
    pub requests_per_lookup: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spent_is_the_difference() {
        let before = EngineCounters {
            requests: 10,
            write_txns: 2,
            stored_bytes: None,
        };
        let after = EngineCounters {
            requests: 25,
            write_txns: 5,
            stored_bytes: Some(1),
        };
        assert_eq!(
            before.spent_until(after),
            Spent {
                requests: 15,
                write_txns: 3
            }
        );
    }
}
