//! Cursors over an O(1) copy of one table.

use kgdb_plugin_api::sdk::{RangeScan, StorageCursor};
use kgdb_plugin_api::{KvBatch, PluginError, ScanSpec};

use crate::state::Rows;

/// A cursor over an O(1) copy of one table as its transaction saw it when the scan began.
///
/// Each batch seeks from the last key returned ([`RangeScan`]), so the cursor holds no borrow
/// and its memory does not grow with the size of the range.
pub struct MemoryCursor {
    rows: Rows,
    scan: RangeScan,
}

impl MemoryCursor {
    pub(crate) fn new(rows: Rows, range: ScanSpec) -> Self {
        Self {
            rows,
            scan: RangeScan::new(range),
        }
    }
}

impl StorageCursor for MemoryCursor {
    fn next_batch(
        &mut self,
        max_rows: u32,
        max_bytes: u64,
        out: &mut KvBatch,
    ) -> Result<(), PluginError> {
        let rows = &self.rows;
        self.scan.next_batch(out, |range, out| {
            let bounds = (range.start_bound(), range.end_bound());
            let mut iter = rows.range::<_, [u8]>(bounds);
            loop {
                let next = if range.reverse {
                    iter.next_back()
                } else {
                    iter.next()
                };
                let Some((key, value)) = next else {
                    return Ok(true);
                };
                if !out.push_within(key, value, max_rows, max_bytes)? {
                    return Ok(false);
                }
            }
        })
    }
}
