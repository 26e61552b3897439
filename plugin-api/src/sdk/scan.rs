//! What a cursor keeps between batches: the part of its range still to read, and whether
//! the end was reached. Each batch re-seeks from the remaining range, so a cursor holds no
//! engine iterator between batches and its memory does not grow with the range.

use crate::{KvBatch, PluginError, ScanSpec};

/// The remaining range of a scan.
#[derive(Debug, Clone)]
pub struct RangeScan {
    range: ScanSpec,
    done: bool,
}

impl RangeScan {
    /// A scan of `range` (empty ranges are done at once).
    #[must_use]
    pub fn new(range: ScanSpec) -> Self {
        let done = range.is_empty();
        Self { range, done }
    }

    /// What is left to read.
    #[must_use]
    pub fn remaining(&self) -> &ScanSpec {
        &self.range
    }

    /// Whether the scan has ended.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Fills `out` (already empty) with the next batch: `fill` reads rows of the remaining
    /// range, in its direction and within the caller's limits, into `out`, and answers whether
    /// it reached the end of the range (`false` when unsure). The remaining range then starts
    /// past the last row; an empty batch, or one that reached the end, ends the scan, and
    /// nothing is read after that.
    ///
    /// # Errors
    /// Whatever `fill` returns; the scan can be retried.
    pub fn next_batch(
        &mut self,
        out: &mut KvBatch,
        fill: impl FnOnce(&ScanSpec, &mut KvBatch) -> Result<bool, PluginError>,
    ) -> Result<(), PluginError> {
        if self.done {
            return Ok(());
        }
        let reached_end = fill(&self.range, out)?;
        self.done = !self.range.advance_past(out) || reached_end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_narrows_past_each_batch_until_it_ends() {
        let rows: Vec<(Vec<u8>, Vec<u8>)> = (0u8..5).map(|i| (vec![i], vec![])).collect();
        let mut scan = RangeScan::new(ScanSpec::all());
        let mut seen = Vec::new();
        let mut calls = 0;
        loop {
            let mut out = KvBatch::new();
            scan.next_batch(&mut out, |range, out| {
                calls += 1;
                let mut left = rows.iter().filter(|(k, _)| range.contains(k));
                for (key, value) in left.by_ref().take(2) {
                    out.push(key, value)?;
                }
                Ok(left.next().is_none())
            })
            .unwrap();
            if out.is_empty() {
                break;
            }
            seen.extend(out.iter().map(|(k, _)| k[0]));
        }
        assert_eq!(seen, [0, 1, 2, 3, 4]);
        // The third batch reached the end: no fourth call.
        assert_eq!(calls, 3);
        assert!(scan.is_done());
    }
}
