//! A lock-free log-linear latency histogram: eight sub-buckets per power of two, so a
//! percentile is at most 12.5% above the true value.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

/// Sub-buckets per power of two.
const SUB_BITS: u32 = 3;
pub(super) const SUB: usize = 1 << SUB_BITS;
/// Values below this are counted exactly, one bucket each.
pub(super) const LINEAR: u64 = 2 * SUB as u64;
/// Powers of two covered above the linear range: up to 2^48 ns (about 3 days).
const BUCKETS: usize = LINEAR as usize + (48 - (SUB_BITS as usize + 1)) * SUB;

/// A lock-free latency histogram in nanoseconds.
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum: AtomicU64,
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }
}

pub(super) fn bucket_of(value: u64) -> usize {
    if value < LINEAR {
        return value as usize;
    }
    let exponent = 63 - value.leading_zeros();
    let sub = ((value >> (exponent - SUB_BITS)) as usize) & (SUB - 1);
    let index = LINEAR as usize + (exponent - SUB_BITS - 1) as usize * SUB + sub;
    index.min(BUCKETS - 1)
}

/// The largest value that falls in bucket `index`.
pub(super) fn bucket_high(index: usize) -> u64 {
    if index < LINEAR as usize {
        return index as u64;
    }
    let offset = index - LINEAR as usize;
    let exponent = (offset / SUB) as u32 + SUB_BITS + 1;
    let sub = (offset % SUB) as u64;
    let low = (1u64 << exponent) + (sub << (exponent - SUB_BITS));
    low + (1u64 << (exponent - SUB_BITS)) - 1
}

impl Histogram {
    /// Records one value (nanoseconds).
    pub fn record(&self, nanos: u64) {
        self.buckets[bucket_of(nanos)].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.sum.fetch_add(nanos, Relaxed);
        self.max.fetch_max(nanos, Relaxed);
    }

    /// Count, mean, p50, p90, p99 and max, in nanoseconds (percentiles are bucket upper bounds,
    /// never above the true maximum).
    #[must_use]
    pub fn summary(&self) -> LatencySummary {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        let max = self.max.load(Relaxed);
        let quantile = |q: f64| -> u64 {
            if total == 0 {
                return 0;
            }
            let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
            let mut seen = 0;
            for (index, count) in counts.iter().enumerate() {
                seen += count;
                if seen >= rank {
                    return bucket_high(index).min(max);
                }
            }
            max
        };
        LatencySummary {
            count: total,
            mean_ns: self.sum.load(Relaxed).checked_div(total).unwrap_or(0),
            p50_ns: quantile(0.50),
            p90_ns: quantile(0.90),
            p99_ns: quantile(0.99),
            max_ns: max,
        }
    }
}

/// Latency figures of one operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Calls timed.
    pub count: u64,
    /// Mean, in nanoseconds.
    pub mean_ns: u64,
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// Slowest call.
    pub max_ns: u64,
}
