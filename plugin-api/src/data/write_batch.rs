//! Write batches: many writes applied in order, atomically, and the sorted runs of bulk
//! ingest.

use abi_stable::{std_types::RVec, StableAbi};

use super::{KvBatch, TableId};
use crate::PluginError;

/// The kind of one write-batch operation.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpKind(pub u8);

impl OpKind {
    /// Insert or overwrite a key.
    pub const PUT: Self = Self(1);
    /// Remove a key (absent keys are not an error).
    pub const DELETE: Self = Self(2);
    /// Remove every key in `[key, value)`: the "value" holds the exclusive end key.
    pub const DELETE_RANGE: Self = Self(3);
}

/// One operation in a [`WriteBatch`], with offsets into the batch arena.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchOp {
    /// What to do.
    pub kind: OpKind,
    /// Which table.
    pub table: TableId,
    /// End of the key in the arena (the key starts where the previous op's value ended).
    pub key_end: u32,
    /// End of the value (or range end) in the arena.
    pub value_end: u32,
}

/// One decoded operation of a [`WriteBatch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchEntry<'a> {
    /// Insert or overwrite.
    Put {
        /// Table.
        table: TableId,
        /// Key.
        key: &'a [u8],
        /// Value.
        value: &'a [u8],
    },
    /// Remove one key.
    Delete {
        /// Table.
        table: TableId,
        /// Key.
        key: &'a [u8],
    },
    /// Remove `[start, end)`.
    DeleteRange {
        /// Table.
        table: TableId,
        /// Inclusive start.
        start: &'a [u8],
        /// Exclusive end.
        end: &'a [u8],
    },
}

impl BatchEntry<'_> {
    /// The table the operation writes to.
    #[must_use]
    pub fn table(&self) -> TableId {
        match self {
            Self::Put { table, .. }
            | Self::Delete { table, .. }
            | Self::DeleteRange { table, .. } => *table,
        }
    }
}

/// Many writes applied in order, atomically: all or none. Later writes to a key win.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    arena: RVec<u8>,
    ops: RVec<BatchOp>,
}

impl WriteBatch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of operations.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch holds no operation.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Total key and value bytes.
    #[must_use]
    pub fn byte_len(&self) -> usize {
        self.arena.len()
    }

    /// Removes every operation, keeping the allocations.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.ops.clear();
    }

    fn push(&mut self, kind: OpKind, table: TableId, key: &[u8], value: &[u8]) {
        // Offsets past 4 GiB are clamped, which `iter` reports as a malformed op; callers split
        // batches long before that.
        let key_end = u32::try_from(self.arena.len() + key.len()).unwrap_or(u32::MAX);
        let value_end = u32::try_from(self.arena.len() + key.len() + value.len()).unwrap_or(0);
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value);
        self.ops.push(BatchOp {
            kind,
            table,
            key_end,
            value_end,
        });
    }

    /// Adds an insert-or-overwrite.
    pub fn put(&mut self, table: TableId, key: &[u8], value: &[u8]) {
        self.push(OpKind::PUT, table, key, value);
    }

    /// Adds a removal of one key.
    pub fn delete(&mut self, table: TableId, key: &[u8]) {
        self.push(OpKind::DELETE, table, key, &[]);
    }

    /// Adds a removal of every key in `[start, end)`.
    pub fn delete_range(&mut self, table: TableId, start: &[u8], end: &[u8]) {
        self.push(OpKind::DELETE_RANGE, table, start, end);
    }

    /// Appends every operation of `other`, in order.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` if `other` holds a malformed operation.
    pub fn append(&mut self, other: &WriteBatch) -> Result<(), PluginError> {
        for entry in other.iter() {
            match entry? {
                BatchEntry::Put { table, key, value } => self.put(table, key, value),
                BatchEntry::Delete { table, key } => self.delete(table, key),
                BatchEntry::DeleteRange { table, start, end } => {
                    self.delete_range(table, start, end);
                }
            }
        }
        Ok(())
    }

    /// The operations in order. A malformed operation (bad offsets, unknown kind, as could
    /// come from a buggy peer) yields `INVALID_ARGUMENT`.
    pub fn iter(&self) -> impl Iterator<Item = Result<BatchEntry<'_>, PluginError>> + '_ {
        let mut start = 0usize;
        self.ops.iter().enumerate().map(move |(index, op)| {
            let key_end = op.key_end as usize;
            let value_end = op.value_end as usize;
            if !(start <= key_end && key_end <= value_end && value_end <= self.arena.len()) {
                return Err(PluginError::invalid_argument(format!(
                    "write batch operation {index} has malformed offsets"
                )));
            }
            let key = &self.arena[start..key_end];
            let value = &self.arena[key_end..value_end];
            start = value_end;
            let table = op.table;
            match op.kind {
                OpKind::PUT => Ok(BatchEntry::Put { table, key, value }),
                OpKind::DELETE => Ok(BatchEntry::Delete { table, key }),
                OpKind::DELETE_RANGE => Ok(BatchEntry::DeleteRange {
                    table,
                    start: key,
                    end: value,
                }),
                OpKind(other) => Err(PluginError::invalid_argument(format!(
                    "write batch operation {index} has unknown kind {other}"
                ))),
            }
        })
    }
}

/// One sorted run for `Backend::ingest_sorted`: strictly ascending keys for one table.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct SortedRun {
    /// Target table.
    pub table: TableId,
    /// The rows, keys strictly ascending. Existing keys are overwritten.
    pub rows: KvBatch,
}
