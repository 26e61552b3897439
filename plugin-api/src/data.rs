//! Plain data that crosses the boundary: table ids, options, scan ranges, row batches and
//! write batches. Rows travel in one byte arena plus offsets, never one allocation per row.

use std::ops::Bound;

use abi_stable::{
    std_types::{RString, RVec},
    StableAbi,
};

use crate::PluginError;

/// A table handle returned by `Backend::open_table`, valid for that backend instance.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId(pub u32);

/// How hard a commit or batch pushes data to stable storage.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SyncMode(pub u8);

impl SyncMode {
    /// The backend's configured default.
    pub const DEFAULT: Self = Self(0);
    /// Durable once the call returns (requires `DURABLE_SYNC`).
    pub const SYNC: Self = Self(1);
    /// May be lost on power failure (but not on a process crash, for persistent backends).
    pub const NO_SYNC: Self = Self(2);
}

/// Options of `Backend::begin`.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnOptions {
    /// A read-only transaction: writes fail with `READ_ONLY`.
    pub read_only: bool,
    /// Durability of the commit.
    pub sync: SyncMode,
}

impl TxnOptions {
    /// A read-write transaction with the default sync mode.
    pub const READ_WRITE: Self = Self {
        read_only: false,
        sync: SyncMode::DEFAULT,
    };
    /// A read-only transaction.
    pub const READ_ONLY: Self = Self {
        read_only: true,
        sync: SyncMode::DEFAULT,
    };
}

/// Options of `Backend::write_batch` and `Backend::ingest_sorted`.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    /// Durability of the write.
    pub sync: SyncMode,
}

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

/// A batch of key/value rows in one arena: what a cursor returns, what an ingest run carries.
///
/// Row `i` is `arena[ends[2i-1]..ends[2i]]` (key, with `ends[-1] = 0`) followed by
/// `arena[ends[2i]..ends[2i+1]]` (value). Offsets are `u32`: one batch holds under 4 GiB.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, Default, PartialEq, Eq)]
pub struct KvBatch {
    arena: RVec<u8>,
    ends: RVec<u32>,
}

impl KvBatch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes every row, keeping the allocations for reuse.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.ends.clear();
    }

    /// Number of rows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ends.len() / 2
    }

    /// Whether the batch has no rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Total key and value bytes in the batch.
    #[must_use]
    pub fn byte_len(&self) -> usize {
        self.arena.len()
    }

    /// Appends a row.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` if the arena would pass 4 GiB.
    pub fn push(&mut self, key: &[u8], value: &[u8]) -> Result<(), PluginError> {
        let too_big = || PluginError::invalid_argument("a row batch cannot hold 4 GiB or more");
        let key_end = u32::try_from(self.arena.len() + key.len()).map_err(|_| too_big())?;
        let value_end = u32::try_from(key_end as usize + value.len()).map_err(|_| too_big())?;
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value);
        self.ends.push(key_end);
        self.ends.push(value_end);
        Ok(())
    }

    /// Appends a row if the batch has room for it under a cursor's limits: fewer than
    /// `max_rows` rows, and no more than `max_bytes` bytes with it, except that an empty batch
    /// always takes its first row. `false` means the batch is full.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` if the arena would pass 4 GiB.
    pub fn push_within(
        &mut self,
        key: &[u8],
        value: &[u8],
        max_rows: u32,
        max_bytes: u64,
    ) -> Result<bool, PluginError> {
        let room = if self.is_empty() {
            max_rows > 0
        } else {
            self.len() < max_rows as usize
                && (self.byte_len() + key.len() + value.len()) as u64 <= max_bytes
        };
        if room {
            self.push(key, value)?;
        }
        Ok(room)
    }

    /// Row `index` as `(key, value)`.
    #[must_use]
    pub fn get(&self, index: usize) -> Option<(&[u8], &[u8])> {
        let key_end = *self.ends.get(2 * index)? as usize;
        let value_end = *self.ends.get(2 * index + 1)? as usize;
        let key_start = if index == 0 {
            0
        } else {
            self.ends[2 * index - 1] as usize
        };
        Some((
            &self.arena[key_start..key_end],
            &self.arena[key_end..value_end],
        ))
    }

    /// The rows in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or((&[], &[])))
    }

    /// Checks that keys are strictly ascending (what `ingest_sorted` requires).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` naming the first row out of order.
    pub fn check_sorted(&self) -> Result<(), PluginError> {
        let mut previous: Option<&[u8]> = None;
        for (index, (key, _)) in self.iter().enumerate() {
            if let Some(previous) = previous {
                if key <= previous {
                    return Err(PluginError::invalid_argument(format!(
                        "ingest run is not strictly ascending at row {index}"
                    ))
                    .with_key("rows"));
                }
            }
            previous = Some(key);
        }
        Ok(())
    }
}

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

/// One engine-native statistic, under the engine's own name.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct NativeStat {
    /// The engine's name for it (`rocksdb.estimate-num-keys`, `lmdb.map_size`, …).
    pub name: RString,
    /// The value.
    pub value: u64,
    /// Unit: `bytes`, `keys`, `pages`, `count`, … or empty.
    pub unit: RString,
}

/// The name stem of the statistic that tells how many bytes one table takes: a plugin that
/// knows reports `kgdb.table_bytes[<table>]` in bytes for each table (see
/// [`NativeStat::table_bytes`]), and the host's `stats` lists them as bytes per table.
pub const TABLE_BYTES_STAT: &str = "kgdb.table_bytes";

/// The table a statistic of this name and unit gives the bytes of (see
/// [`NativeStat::table_bytes`]), `None` for any other statistic.
#[must_use]
pub fn table_of_table_bytes<'a>(name: &'a str, unit: &str) -> Option<&'a str> {
    name.strip_prefix(TABLE_BYTES_STAT)?
        .strip_prefix('[')?
        .strip_suffix(']')
        .filter(|_| unit == "bytes")
}

impl NativeStat {
    /// The bytes table `table` takes in the engine: on disk for a persistent engine (with what
    /// is buffered to be written), in memory otherwise.
    #[must_use]
    pub fn table_bytes(table: &str, bytes: u64) -> Self {
        Self::new(format!("{TABLE_BYTES_STAT}[{table}]"), bytes, "bytes")
    }

    /// The table named by a [`NativeStat::table_bytes`] statistic, `None` for any other.
    #[must_use]
    pub fn table_of_table_bytes(&self) -> Option<&str> {
        table_of_table_bytes(&self.name, &self.unit)
    }

    /// A statistic with a unit.
    pub fn new(name: impl Into<String>, value: u64, unit: &str) -> Self {
        Self {
            name: RString::from(name.into()),
            value,
            unit: RString::from(unit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_bytes_statistics_name_their_table() {
        let stat = NativeStat::table_bytes("quads.spo", 4096);
        assert_eq!(stat.name.as_str(), "kgdb.table_bytes[quads.spo]");
        assert_eq!(stat.table_of_table_bytes(), Some("quads.spo"));
        for other in [
            NativeStat::new("kgdb.table_bytes", 1, "bytes"),
            NativeStat::new("kgdb.table_bytes[x]", 1, "keys"),
            NativeStat::new("lmdb.entries[x]", 1, "bytes"),
        ] {
            assert_eq!(other.table_of_table_bytes(), None, "{other:?}");
        }
    }

    #[test]
    fn kv_batch_round_trips_rows_including_empty_ones() {
        let mut batch = KvBatch::new();
        batch.push(b"a", b"1").unwrap();
        batch.push(b"", b"").unwrap();
        batch.push(b"key\0", b"\xff\xfe").unwrap();
        let rows: Vec<_> = batch.iter().collect();
        assert_eq!(
            rows,
            vec![
                (&b"a"[..], &b"1"[..]),
                (&b""[..], &b""[..]),
                (&b"key\0"[..], &b"\xff\xfe"[..])
            ]
        );
        assert_eq!(batch.byte_len(), 8);
        assert!(batch.check_sorted().is_err());
    }

    #[test]
    fn write_batch_decodes_every_kind_in_order() {
        let mut batch = WriteBatch::new();
        batch.put(TableId(1), b"k", b"v");
        batch.delete(TableId(2), b"gone");
        batch.delete_range(TableId(1), b"a", b"c");
        let ops: Vec<_> = batch.iter().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            ops,
            vec![
                BatchEntry::Put {
                    table: TableId(1),
                    key: b"k",
                    value: b"v"
                },
                BatchEntry::Delete {
                    table: TableId(2),
                    key: b"gone"
                },
                BatchEntry::DeleteRange {
                    table: TableId(1),
                    start: b"a",
                    end: b"c"
                },
            ]
        );
    }

    #[test]
    fn prefix_ranges_handle_trailing_ff_bytes() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
        assert_eq!(prefix_successor(b""), None);
        let spec = ScanSpec::prefix(b"a\xff");
        assert!(spec.contains(b"a\xff"));
        assert!(spec.contains(b"a\xff\x00"));
        assert!(!spec.contains(b"b"));
        assert!(!spec.contains(b"a\xfe"));
    }

    #[test]
    fn inverted_and_empty_ranges_are_empty() {
        let inverted = ScanSpec::range(Bound::Included(b"b"), Bound::Excluded(b"a"));
        assert!(inverted.is_empty());
        let empty = ScanSpec::range(Bound::Included(b"a"), Bound::Excluded(b"a"));
        assert!(empty.is_empty());
        let single = ScanSpec::range(Bound::Included(b"a"), Bound::Included(b"a"));
        assert!(!single.is_empty());
    }
}
