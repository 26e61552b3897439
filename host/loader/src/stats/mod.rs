//! The operation stats collector: every call the host makes through a [`Backend`](crate::Backend),
//! its transactions and cursors is counted here, for every plugin alike.
//!
//! The hot path takes no lock: counters are atomics, latencies go into a fixed log-linear
//! histogram of atomic buckets (at most 12.5% above the true value: eight sub-buckets per power
//! of two), and per-table counters sit in a fixed array indexed by table id. Counts, bytes and
//! errors are exact; latency is timed for the first 64 calls of each operation and one call in
//! 64 after that, which keeps two clock reads off most calls. A transaction counts its own calls
//! in a [`Tally`] of plain cells and folds it into the atomics when it ends (or every
//! [`FOLD_EVERY`] calls), so a point get costs no atomic add at all.

//!
//! | file | what |
//! |---|---|
//! | `histogram.rs` | the latency histogram |
//! | `tally.rs` | a transaction's own counts, and the sampling rule for timing |
//! | `collector.rs` | the collector of one backend |
//! | `report.rs` | the figures a collector reports, serialisable |

mod collector;
mod histogram;
mod report;
mod tally;
#[cfg(test)]
mod tests;

pub use collector::{Call, Collector, CounterSource};
pub use histogram::{Histogram, LatencySummary};
pub use report::{
    ErrorCount, NamedCount, OpCount, OperationFigures, OperationStats, TableFigures,
    TransactionFigures,
};
pub use tally::{Tally, Timer, FOLD_EVERY};

/// The operations the collector tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `Backend::begin`.
    Begin,
    /// `Transaction::get` (one key).
    Get,
    /// `Transaction::get_many` (one call, many keys).
    GetMany,
    /// `Transaction::scan` (opening a cursor).
    Scan,
    /// `Cursor::next_batch` (one batch of rows).
    CursorBatch,
    /// `Transaction::put`.
    Put,
    /// `Transaction::delete`.
    Delete,
    /// `Transaction::delete_range`.
    DeleteRange,
    /// `write_batch`, in a transaction or on the backend.
    WriteBatch,
    /// `Backend::ingest_sorted`.
    Ingest,
    /// `Transaction::commit`.
    Commit,
    /// `Transaction::rollback`, explicit or by drop.
    Rollback,
    /// `Backend::open_table`.
    OpenTable,
    /// `Backend::drop_table`.
    DropTable,
    /// `Backend::list_tables`.
    ListTables,
    /// `Backend::flush`.
    Flush,
    /// `Backend::compact`.
    Compact,
    /// `Backend::checkpoint`.
    Checkpoint,
    /// `Backend::stats`.
    Stats,
    /// `Backend::close`.
    Close,
}

impl Op {
    /// Every operation, in report order.
    pub const ALL: [Self; 20] = [
        Self::Begin,
        Self::Get,
        Self::GetMany,
        Self::Scan,
        Self::CursorBatch,
        Self::Put,
        Self::Delete,
        Self::DeleteRange,
        Self::WriteBatch,
        Self::Ingest,
        Self::Commit,
        Self::Rollback,
        Self::OpenTable,
        Self::DropTable,
        Self::ListTables,
        Self::Flush,
        Self::Compact,
        Self::Checkpoint,
        Self::Stats,
        Self::Close,
    ];

    /// The operation's name in reports.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Begin => "begin",
            Self::Get => "get",
            Self::GetMany => "get_many",
            Self::Scan => "scan",
            Self::CursorBatch => "cursor_batch",
            Self::Put => "put",
            Self::Delete => "delete",
            Self::DeleteRange => "delete_range",
            Self::WriteBatch => "write_batch",
            Self::Ingest => "ingest",
            Self::Commit => "commit",
            Self::Rollback => "rollback",
            Self::OpenTable => "open_table",
            Self::DropTable => "drop_table",
            Self::ListTables => "list_tables",
            Self::Flush => "flush",
            Self::Compact => "compact",
            Self::Checkpoint => "checkpoint",
            Self::Stats => "stats",
            Self::Close => "close",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}
