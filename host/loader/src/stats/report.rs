//! The figures a [`Collector`](super::Collector) reports: plain values, serialisable (they are
//! printed by `--stats`, saved with a load and written by `stats --json`).

use serde::{Deserialize, Serialize};

use super::histogram::LatencySummary;

/// Every figure of a [`Collector`], ready to print or serialise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationStats {
    /// Milliseconds since the collector started (the backend opened).
    pub elapsed_ms: u64,
    /// Transaction outcomes.
    pub transactions: TransactionFigures,
    /// Rows returned by cursor batches.
    pub rows_scanned: u64,
    /// Per operation, those called at least once.
    pub operations: Vec<OperationFigures>,
    /// Per table, those touched at least once.
    pub tables: Vec<TableFigures>,
    /// Counters of the layers above the backend (the QuadStore's), empty when none is attached
    /// (and in figures saved before they existed).
    #[serde(default)]
    pub counters: Vec<NamedCount>,
}

/// Transaction outcomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionFigures {
    /// Commits that succeeded.
    pub committed: u64,
    /// Explicit rollbacks, drops without commit, and failed commits.
    pub rolled_back: u64,
    /// Commits that failed with a write-write conflict.
    pub conflicts: u64,
}

/// One operation's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationFigures {
    /// `get`, `scan`, `batch`, `put`, …
    pub op: String,
    /// Calls.
    pub calls: u64,
    /// Bytes sent to the backend.
    pub bytes_in: u64,
    /// Bytes returned by the backend.
    pub bytes_out: u64,
    /// Failed calls by error code.
    pub errors: Vec<ErrorCount>,
    /// Latency of the calls: every call among the first 64, then one in 64.
    pub latency: LatencySummary,
}

/// Failed calls with one error code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCount {
    /// The code's name (`conflict`, `not-found`, …).
    pub code: String,
    /// How many.
    pub count: u64,
}

/// One table's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableFigures {
    /// The table's name.
    pub table: String,
    /// Calls per operation.
    pub calls: Vec<OpCount>,
    /// Bytes of keys and values sent to and returned from the backend for this table.
    pub bytes: u64,
}

/// Calls of one operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpCount {
    /// The operation.
    pub op: String,
    /// Calls.
    pub count: u64,
}

/// One counter of a [`CounterSource`](super::CounterSource).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedCount {
    /// Its name, `snake_case`, stable.
    pub name: String,
    /// Its value.
    pub value: u64,
}
