//! Row batches: what a cursor returns and what an ingest run carries, one byte arena plus
//! offsets.

use abi_stable::{std_types::RVec, StableAbi};

use crate::PluginError;

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

    /// An empty batch with room for `bytes` of keys and values in `rows` rows before it
    /// reallocates.
    #[must_use]
    pub fn with_capacity(bytes: usize, rows: usize) -> Self {
        Self {
            arena: RVec::with_capacity(bytes),
            ends: RVec::with_capacity(rows.saturating_mul(2)),
        }
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
