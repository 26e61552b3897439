//! Scan ranges: bounds, direction, and the prefix helper.

use std::ops::Bound;

use abi_stable::{std_types::RVec, StableAbi};

use super::KvBatch;
use crate::PluginError;

/// The kind of one side of a scan range.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoundKind(pub u8);

impl BoundKind {
    /// No limit on this side.
    pub const UNBOUNDED: Self = Self(0);
    /// The key itself is in the range.
    pub const INCLUDED: Self = Self(1);
    /// The key itself is not in the range.
    pub const EXCLUDED: Self = Self(2);
}

/// A key range to scan, ascending or descending.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct ScanSpec {
    /// Lower key (meaningless when `start_kind` is `UNBOUNDED`).
    pub start: RVec<u8>,
    /// Whether `start` is included, excluded or ignored.
    pub start_kind: BoundKind,
    /// Upper key (meaningless when `end_kind` is `UNBOUNDED`).
    pub end: RVec<u8>,
    /// Whether `end` is included, excluded or ignored.
    pub end_kind: BoundKind,
    /// Descending order (requires `REVERSE_SCAN`).
    pub reverse: bool,
}

fn to_parts(bound: Bound<&[u8]>) -> (RVec<u8>, BoundKind) {
    match bound {
        Bound::Unbounded => (RVec::new(), BoundKind::UNBOUNDED),
        Bound::Included(key) => (RVec::from(key), BoundKind::INCLUDED),
        Bound::Excluded(key) => (RVec::from(key), BoundKind::EXCLUDED),
    }
}

impl ScanSpec {
    /// Every key of the table.
    #[must_use]
    pub fn all() -> Self {
        Self::range(Bound::Unbounded, Bound::Unbounded)
    }

    /// Keys between two bounds, ascending.
    #[must_use]
    pub fn range(start: Bound<&[u8]>, end: Bound<&[u8]>) -> Self {
        let (start, start_kind) = to_parts(start);
        let (end, end_kind) = to_parts(end);
        Self {
            start,
            start_kind,
            end,
            end_kind,
            reverse: false,
        }
    }

    /// Keys that start with `prefix`, ascending, as a plain range: `[prefix, successor)`.
    #[must_use]
    pub fn prefix(prefix: &[u8]) -> Self {
        match prefix_successor(prefix) {
            Some(end) => Self::range(Bound::Included(prefix), Bound::Excluded(&end)),
            None => Self::range(Bound::Included(prefix), Bound::Unbounded),
        }
    }

    /// The same range in descending order.
    #[must_use]
    pub fn reversed(mut self) -> Self {
        self.reverse = !self.reverse;
        self
    }

    /// What is left of this scan after a batch that ended at key `last`: cursors that re-seek
    /// at every batch narrow their range with this.
    #[must_use]
    pub fn remaining_after(&self, last: &[u8]) -> Self {
        if self.reverse {
            Self::range(self.start_bound(), Bound::Excluded(last)).reversed()
        } else {
            Self::range(Bound::Excluded(last), self.end_bound())
        }
    }

    /// Narrows this scan past the last row of `batch`, for the next batch; `false` when the
    /// batch is empty, which means the scan is over.
    pub fn advance_past(&mut self, batch: &KvBatch) -> bool {
        match batch.len().checked_sub(1).and_then(|last| batch.get(last)) {
            Some((last, _)) => {
                *self = self.remaining_after(last);
                true
            }
            None => false,
        }
    }

    /// The lower bound as a standard `Bound`.
    #[must_use]
    pub fn start_bound(&self) -> Bound<&[u8]> {
        bound(&self.start, self.start_kind)
    }

    /// The upper bound as a standard `Bound`.
    #[must_use]
    pub fn end_bound(&self) -> Bound<&[u8]> {
        bound(&self.end, self.end_kind)
    }

    /// Whether `key` lies inside the range (direction ignored).
    #[must_use]
    pub fn contains(&self, key: &[u8]) -> bool {
        let above = match self.start_bound() {
            Bound::Unbounded => true,
            Bound::Included(s) => key >= s,
            Bound::Excluded(s) => key > s,
        };
        let below = match self.end_bound() {
            Bound::Unbounded => true,
            Bound::Included(e) => key <= e,
            Bound::Excluded(e) => key < e,
        };
        above && below
    }

    /// Whether no key can lie in the range (inverted or empty bounds).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        match (self.start_bound(), self.end_bound()) {
            (Bound::Included(s), Bound::Included(e)) => s > e,
            (Bound::Included(s), Bound::Excluded(e))
            | (Bound::Excluded(s), Bound::Included(e))
            | (Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
            _ => false,
        }
    }

    /// Checks that both bound kinds are known values.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` naming the bad side.
    pub fn validate(&self) -> Result<(), PluginError> {
        for (kind, side) in [(self.start_kind, "start"), (self.end_kind, "end")] {
            if kind.0 > 2 {
                return Err(PluginError::invalid_argument(format!(
                    "unknown bound kind {} for the scan {side}",
                    kind.0
                ))
                .with_key(side));
            }
        }
        Ok(())
    }
}

fn bound(key: &[u8], kind: BoundKind) -> Bound<&[u8]> {
    match kind {
        BoundKind::INCLUDED => Bound::Included(key),
        BoundKind::EXCLUDED => Bound::Excluded(key),
        _ => Bound::Unbounded,
    }
}

/// The smallest key greater than every key starting with `prefix`, or `None` when there is
/// none (the prefix is empty or all `0xFF`).
#[must_use]
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last != 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}
