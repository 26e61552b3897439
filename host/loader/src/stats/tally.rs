//! A transaction's own counts, kept in plain cells and folded into the collector when it ends,
//! and the rule for which calls are timed.

use std::cell::Cell;
use std::time::Instant;

use super::Op;

/// Calls of an operation that are always timed; after them one in [`SAMPLE_EVERY`] is.
pub(super) const EXACT_CALLS: u64 = 64;
/// One call in this many is timed once an operation passed [`EXACT_CALLS`].
pub(super) const SAMPLE_EVERY: u64 = 64;

/// A transaction folds its [`Tally`] into the collector after this many calls, so figures of a
/// long transaction lag by at most this many calls.
pub const FOLD_EVERY: u64 = 4096;

/// Tables a [`Tally`] keeps apart before it folds one into the collector to make room.
pub(super) const TALLY_TABLES: usize = 4;

/// One table's calls inside a [`Tally`].
pub(super) struct TableTally {
    /// The table id, or `u32::MAX` for a free slot.
    pub(super) id: Cell<u32>,
    pub(super) calls: [Cell<u64>; Op::ALL.len()],
    pub(super) bytes: Cell<u64>,
}

impl Default for TableTally {
    fn default() -> Self {
        Self {
            id: Cell::new(u32::MAX),
            calls: Default::default(),
            bytes: Cell::new(0),
        }
    }
}

/// The counts of one transaction, owned by it and kept without atomics; see
/// [`Collector::start_in`] and [`Collector::fold`]. Not shared between threads.
#[derive(Default)]
pub struct Tally {
    pub(super) calls: [Cell<u64>; Op::ALL.len()],
    pub(super) bytes_in: [Cell<u64>; Op::ALL.len()],
    pub(super) bytes_out: [Cell<u64>; Op::ALL.len()],
    pub(super) tables: [TableTally; TALLY_TABLES],
    /// The slot the next new table takes.
    pub(super) next_slot: Cell<usize>,
    /// Calls since the last fold.
    pub(super) pending: Cell<u64>,
}

impl std::fmt::Debug for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tally")
            .field("pending", &self.pending.get())
            .finish_non_exhaustive()
    }
}

pub(super) fn bump(cell: &Cell<u64>, by: u64) {
    cell.set(cell.get() + by);
}

/// A call in progress (see [`Collector::start`]).
#[derive(Debug, Clone, Copy)]
pub struct Timer {
    pub(super) op: Op,
    pub(super) started: Option<Instant>,
}

impl Timer {
    /// The timer of the `n`th call of `op` (from 0): started for the first [`EXACT_CALLS`],
    /// then for one in [`SAMPLE_EVERY`].
    pub(super) fn for_call(op: Op, n: u64) -> Self {
        let timed = n < EXACT_CALLS || n.is_multiple_of(SAMPLE_EVERY);
        Self {
            op,
            started: timed.then(Instant::now),
        }
    }
}
