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

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::ErrorCode;

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
    Batch,
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
}

impl Op {
    /// Every operation, in report order.
    pub const ALL: [Self; 12] = [
        Self::Begin,
        Self::Get,
        Self::GetMany,
        Self::Scan,
        Self::Batch,
        Self::Put,
        Self::Delete,
        Self::DeleteRange,
        Self::WriteBatch,
        Self::Ingest,
        Self::Commit,
        Self::Rollback,
    ];

    /// The operation's name in reports.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Begin => "begin",
            Self::Get => "get",
            Self::GetMany => "get_many",
            Self::Scan => "scan",
            Self::Batch => "batch",
            Self::Put => "put",
            Self::Delete => "delete",
            Self::DeleteRange => "delete_range",
            Self::WriteBatch => "write_batch",
            Self::Ingest => "ingest",
            Self::Commit => "commit",
            Self::Rollback => "rollback",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// Sub-buckets per power of two.
const SUB_BITS: u32 = 3;
const SUB: usize = 1 << SUB_BITS;
/// Values below this are counted exactly, one bucket each.
const LINEAR: u64 = 2 * SUB as u64;
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

fn bucket_of(value: u64) -> usize {
    if value < LINEAR {
        return value as usize;
    }
    let exponent = 63 - value.leading_zeros();
    let sub = ((value >> (exponent - SUB_BITS)) as usize) & (SUB - 1);
    let index = LINEAR as usize + (exponent - SUB_BITS - 1) as usize * SUB + sub;
    index.min(BUCKETS - 1)
}

/// The largest value that falls in bucket `index`.
fn bucket_high(index: usize) -> u64 {
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

/// Error codes are small integers; anything larger is counted under "other".
const ERROR_SLOTS: usize = 16;

#[derive(Default)]
struct OpCounters {
    calls: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    errors: [AtomicU64; ERROR_SLOTS],
    latency: Histogram,
}

/// Per-table counters for table ids below this; higher ids share one overflow slot.
const TABLE_SLOTS: usize = 64;

#[derive(Default)]
struct TableCounters {
    calls: [AtomicU64; Op::ALL.len()],
    /// Keys and values sent and returned.
    bytes: AtomicU64,
}

/// Calls of an operation that are always timed; after them one in [`SAMPLE_EVERY`] is.
const EXACT_CALLS: u64 = 64;
/// One call in this many is timed once an operation passed [`EXACT_CALLS`].
const SAMPLE_EVERY: u64 = 64;

/// A transaction folds its [`Tally`] into the collector after this many calls, so figures of a
/// long transaction lag by at most this many calls.
pub const FOLD_EVERY: u64 = 4096;

/// Tables a [`Tally`] keeps apart before it folds one into the collector to make room.
const TALLY_TABLES: usize = 4;

/// One table's calls inside a [`Tally`].
struct TableTally {
    /// The table id, or `u32::MAX` for a free slot.
    id: Cell<u32>,
    calls: [Cell<u64>; Op::ALL.len()],
    bytes: Cell<u64>,
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
    calls: [Cell<u64>; Op::ALL.len()],
    bytes_in: [Cell<u64>; Op::ALL.len()],
    bytes_out: [Cell<u64>; Op::ALL.len()],
    tables: [TableTally; TALLY_TABLES],
    /// The slot the next new table takes.
    next_slot: Cell<usize>,
    /// Calls since the last fold.
    pending: Cell<u64>,
}

impl std::fmt::Debug for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tally")
            .field("pending", &self.pending.get())
            .finish_non_exhaustive()
    }
}

fn bump(cell: &Cell<u64>, by: u64) {
    cell.set(cell.get() + by);
}

/// A call in progress (see [`Collector::start`]).
#[derive(Debug, Clone, Copy)]
pub struct Timer {
    op: Op,
    started: Option<Instant>,
}

impl Timer {
    /// The timer of the `n`th call of `op` (from 0): started for the first [`EXACT_CALLS`],
    /// then for one in [`SAMPLE_EVERY`].
    fn for_call(op: Op, n: u64) -> Self {
        let timed = n < EXACT_CALLS || n.is_multiple_of(SAMPLE_EVERY);
        Self {
            op,
            started: timed.then(Instant::now),
        }
    }
}

/// The collector of one backend instance (shared by its transactions and cursors).
pub struct Collector {
    enabled: AtomicBool,
    started: Instant,
    ops: [OpCounters; Op::ALL.len()],
    tables: Box<[TableCounters]>,
    rows_scanned: AtomicU64,
    committed: AtomicU64,
    rolled_back: AtomicU64,
    conflicts: AtomicU64,
    table_names: Mutex<Vec<(u32, String)>>,
    sources: Mutex<Vec<Arc<dyn CounterSource>>>,
}

/// Counters kept by a layer above the backend (the QuadStore's quads inserted and dictionary
/// hits, …), reported with the collector's own figures once attached with
/// [`Collector::attach`].
pub trait CounterSource: Send + Sync {
    /// The counters' current values, under stable `snake_case` names.
    fn counters(&self) -> Vec<NamedCount>;
}

/// One counter of a [`CounterSource`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedCount {
    /// Its name, `snake_case`, stable.
    pub name: String,
    /// Its value.
    pub value: u64,
}

impl Default for Collector {
    fn default() -> Self {
        Self {
            enabled: AtomicBool::new(true),
            started: Instant::now(),
            ops: Default::default(),
            tables: (0..=TABLE_SLOTS)
                .map(|_| TableCounters::default())
                .collect(),
            rows_scanned: AtomicU64::new(0),
            committed: AtomicU64::new(0),
            rolled_back: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            table_names: Mutex::new(Vec::new()),
            sources: Mutex::new(Vec::new()),
        }
    }
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector").finish_non_exhaustive()
    }
}

/// What one call did, recorded by [`Collector::record`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Call {
    /// The table, where the operation has one.
    pub table: Option<u32>,
    /// Bytes sent to the backend (keys and values written or looked up).
    pub bytes_in: u64,
    /// Bytes returned (values read, rows scanned).
    pub bytes_out: u64,
}

impl Collector {
    /// An empty collector.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Turns recording on or off (on by default). Off, calls are neither timed nor counted;
    /// the overhead benchmark compares the two.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Relaxed);
    }

    /// Whether recording is on.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.enabled.load(Relaxed)
    }

    /// Starts a call of `op`: counts it and, for the first 64 calls of each operation and
    /// one in 64 after that, takes the time (so latency histograms are sampled while counts,
    /// bytes and errors are exact). `None` while recording is off.
    #[must_use]
    pub fn start(&self, op: Op) -> Option<Timer> {
        if !self.enabled.load(Relaxed) {
            return None;
        }
        let n = self.ops[op.index()].calls.fetch_add(1, Relaxed);
        Some(Timer::for_call(op, n))
    }

    /// Ends a call begun with [`Collector::start`].
    pub fn finish(&self, timer: Timer, call: Call, error: Option<ErrorCode>) {
        let op = timer.op;
        let counters = &self.ops[op.index()];
        if call.bytes_in > 0 {
            counters.bytes_in.fetch_add(call.bytes_in, Relaxed);
        }
        if call.bytes_out > 0 {
            counters.bytes_out.fetch_add(call.bytes_out, Relaxed);
        }
        if let Some(started) = timer.started {
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            counters.latency.record(nanos);
        }
        if let Some(table) = call.table {
            let slot = &self.tables[(table as usize).min(TABLE_SLOTS)];
            slot.calls[op.index()].fetch_add(1, Relaxed);
            if call.bytes_in + call.bytes_out > 0 {
                slot.bytes
                    .fetch_add(call.bytes_in + call.bytes_out, Relaxed);
            }
        }
        self.outcome(op, error);
    }

    /// Starts a call of `op` made by the owner of `tally`: like [`Collector::start`], but the
    /// call is counted in the tally (no atomic add).
    #[must_use]
    pub fn start_in(&self, tally: &Tally, op: Op) -> Option<Timer> {
        if !self.enabled.load(Relaxed) {
            return None;
        }
        let local = &tally.calls[op.index()];
        let n = self.ops[op.index()].calls.load(Relaxed) + local.get();
        bump(local, 1);
        Some(Timer::for_call(op, n))
    }

    /// Ends a call begun with [`Collector::start_in`]: bytes and the table go into the tally,
    /// the latency (when timed) and errors straight into the collector.
    pub fn finish_in(&self, tally: &Tally, timer: Timer, call: Call, error: Option<ErrorCode>) {
        let op = timer.op;
        bump(&tally.bytes_in[op.index()], call.bytes_in);
        bump(&tally.bytes_out[op.index()], call.bytes_out);
        if let Some(started) = timer.started {
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.ops[op.index()].latency.record(nanos);
        }
        if let Some(table) = call.table {
            let slot = match tally.tables.iter().find(|t| t.id.get() == table) {
                Some(slot) => slot,
                None => {
                    let index = tally.next_slot.get();
                    tally.next_slot.set((index + 1) % TALLY_TABLES);
                    let slot = &tally.tables[index];
                    self.fold_table(slot);
                    slot.id.set(table);
                    slot
                }
            };
            bump(&slot.calls[op.index()], 1);
            bump(&slot.bytes, call.bytes_in + call.bytes_out);
        }
        if error.is_some() {
            self.outcome(op, error);
        }
        bump(&tally.pending, 1);
        if tally.pending.get() >= FOLD_EVERY {
            self.fold(tally);
        }
    }

    /// Adds a tally's counts to the collector and empties it (a transaction does this when it
    /// ends).
    pub fn fold(&self, tally: &Tally) {
        for op in Op::ALL {
            let i = op.index();
            for (cell, total) in [
                (&tally.calls[i], &self.ops[i].calls),
                (&tally.bytes_in[i], &self.ops[i].bytes_in),
                (&tally.bytes_out[i], &self.ops[i].bytes_out),
            ] {
                let value = cell.replace(0);
                if value > 0 {
                    total.fetch_add(value, Relaxed);
                }
            }
        }
        for slot in &tally.tables {
            self.fold_table(slot);
        }
        tally.pending.set(0);
    }

    fn fold_table(&self, slot: &TableTally) {
        let id = slot.id.replace(u32::MAX);
        if id == u32::MAX {
            return;
        }
        let total = &self.tables[(id as usize).min(TABLE_SLOTS)];
        for (cell, count) in slot.calls.iter().zip(&total.calls) {
            let value = cell.replace(0);
            if value > 0 {
                count.fetch_add(value, Relaxed);
            }
        }
        let bytes = slot.bytes.replace(0);
        if bytes > 0 {
            total.bytes.fetch_add(bytes, Relaxed);
        }
    }

    /// Reports `source`'s counters with this collector's figures from now on.
    pub fn attach(&self, source: Arc<dyn CounterSource>) {
        self.sources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(source);
    }

    /// Remembers a table's name for reports.
    pub fn name_table(&self, id: u32, name: &str) {
        let mut names = self
            .table_names
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !names.iter().any(|(known, _)| *known == id) {
            names.push((id, name.to_owned()));
        }
    }

    /// Records one whole call of `op` that took `elapsed` (always timed).
    pub fn record(&self, op: Op, call: Call, elapsed: Duration, error: Option<ErrorCode>) {
        if !self.enabled.load(Relaxed) {
            return;
        }
        self.ops[op.index()].calls.fetch_add(1, Relaxed);
        self.ops[op.index()]
            .latency
            .record(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
        self.finish(Timer { op, started: None }, call, error);
    }

    fn outcome(&self, op: Op, error: Option<ErrorCode>) {
        if let Some(code) = error {
            let slot = (code.0 as usize).min(ERROR_SLOTS - 1);
            self.ops[op.index()].errors[slot].fetch_add(1, Relaxed);
        }
        match (op, error) {
            (Op::Commit, None) => {
                self.committed.fetch_add(1, Relaxed);
            }
            (Op::Commit, Some(code)) => {
                if code == ErrorCode::CONFLICT {
                    self.conflicts.fetch_add(1, Relaxed);
                }
                self.rolled_back.fetch_add(1, Relaxed);
            }
            (Op::Rollback, _) => {
                self.rolled_back.fetch_add(1, Relaxed);
            }
            _ => {}
        }
    }

    /// Counts rows returned by a cursor batch.
    pub fn rows(&self, rows: u64) {
        self.rows_scanned.fetch_add(rows, Relaxed);
    }

    /// A consistent-enough copy of every figure (each counter is read once; calls in flight may
    /// land on either side).
    #[must_use]
    pub fn snapshot(&self) -> OperationStats {
        let operations = Op::ALL
            .iter()
            .filter_map(|op| {
                let c = &self.ops[op.index()];
                let calls = c.calls.load(Relaxed);
                (calls > 0).then(|| OperationFigures {
                    op: op.name().to_owned(),
                    calls,
                    bytes_in: c.bytes_in.load(Relaxed),
                    bytes_out: c.bytes_out.load(Relaxed),
                    errors: c
                        .errors
                        .iter()
                        .enumerate()
                        .filter_map(|(code, n)| {
                            let n = n.load(Relaxed);
                            (n > 0).then(|| ErrorCount {
                                code: ErrorCode(code as u32)
                                    .name()
                                    .map_or_else(|| format!("code-{code}"), str::to_owned),
                                count: n,
                            })
                        })
                        .collect(),
                    latency: c.latency.summary(),
                })
            })
            .collect();
        let names = self
            .table_names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let tables = self
            .tables
            .iter()
            .enumerate()
            .filter_map(|(slot, t)| {
                let calls: Vec<(&'static str, u64)> = Op::ALL
                    .iter()
                    .map(|op| (op.name(), t.calls[op.index()].load(Relaxed)))
                    .filter(|(_, n)| *n > 0)
                    .collect();
                if calls.is_empty() {
                    return None;
                }
                let name = if slot == TABLE_SLOTS {
                    format!("(ids {TABLE_SLOTS} and above)")
                } else {
                    names
                        .iter()
                        .find(|(id, _)| *id as usize == slot)
                        .map_or_else(|| format!("table {slot}"), |(_, n)| n.clone())
                };
                Some(TableFigures {
                    table: name,
                    calls: calls
                        .into_iter()
                        .map(|(op, count)| OpCount {
                            op: op.to_owned(),
                            count,
                        })
                        .collect(),
                    bytes: t.bytes.load(Relaxed),
                })
            })
            .collect();
        OperationStats {
            elapsed_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            transactions: TransactionFigures {
                committed: self.committed.load(Relaxed),
                rolled_back: self.rolled_back.load(Relaxed),
                conflicts: self.conflicts.load(Relaxed),
            },
            rows_scanned: self.rows_scanned.load(Relaxed),
            operations,
            tables,
            counters: self
                .sources
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .flat_map(|source| source.counters())
                .collect(),
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_bound_their_values() {
        let mut previous = 0;
        for value in (0..5_000u64).chain((12..47).map(|e| (1u64 << e) + 12_345)) {
            let index = bucket_of(value);
            assert!(
                index >= previous || value < 5_000,
                "bucket order at {value}"
            );
            previous = index;
            assert!(bucket_high(index) >= value, "{value} above its bucket");
            if value >= LINEAR {
                // Relative error of the bucket bound: at most one sub-bucket (12.5%).
                assert!(bucket_high(index) - value <= value / SUB as u64, "{value}");
            }
        }
    }

    #[test]
    fn percentiles_follow_the_recorded_values() {
        let histogram = Histogram::default();
        for nanos in 1..=1000u64 {
            histogram.record(nanos * 1000);
        }
        let summary = histogram.summary();
        assert_eq!(summary.count, 1000);
        assert_eq!(summary.max_ns, 1_000_000);
        assert_eq!(summary.mean_ns, 500_500);
        for (got, want) in [
            (summary.p50_ns, 500_000),
            (summary.p90_ns, 900_000),
            (summary.p99_ns, 990_000),
        ] {
            assert!(got >= want && got - want <= want / 8, "{got} vs {want}");
        }
        assert_eq!(Histogram::default().summary(), LatencySummary::default());
    }

    #[test]
    fn calls_errors_tables_and_transactions_are_counted() {
        let collector = Collector::new();
        collector.name_table(3, "quads.spo");
        let call = Call {
            table: Some(3),
            bytes_in: 10,
            bytes_out: 20,
        };
        collector.record(Op::Get, call, Duration::from_micros(2), None);
        collector.record(
            Op::Get,
            call,
            Duration::from_micros(4),
            Some(ErrorCode::NOT_FOUND),
        );
        collector.record(Op::Commit, Call::default(), Duration::ZERO, None);
        collector.record(
            Op::Commit,
            Call::default(),
            Duration::ZERO,
            Some(ErrorCode::CONFLICT),
        );
        collector.record(Op::Rollback, Call::default(), Duration::ZERO, None);
        collector.rows(7);
        let stats = collector.snapshot();
        let get = &stats.operations[0];
        assert_eq!(
            (get.op.as_str(), get.calls, get.bytes_in, get.bytes_out),
            ("get", 2, 20, 40)
        );
        assert_eq!(
            get.errors,
            vec![ErrorCount {
                code: "not-found".into(),
                count: 1
            }]
        );
        assert_eq!(get.latency.max_ns, 4_000);
        assert_eq!(
            stats.transactions,
            TransactionFigures {
                committed: 1,
                rolled_back: 2,
                conflicts: 1
            }
        );
        assert_eq!(stats.rows_scanned, 7);
        assert_eq!(stats.tables.len(), 1);
        assert_eq!(stats.tables[0].table, "quads.spo");
        assert_eq!(
            stats.tables[0].calls,
            vec![OpCount {
                op: "get".into(),
                count: 2
            }]
        );
    }

    #[test]
    fn a_tally_lands_in_the_collector_when_folded() {
        let collector = Collector::new();
        let tally = Tally::default();
        // Six tables through a tally that keeps four apart: the evicted ones are folded early.
        for round in 0..3u32 {
            for table in 0..6u32 {
                let timer = collector.start_in(&tally, Op::Get).expect("enabled");
                let call = Call {
                    table: Some(table),
                    bytes_in: 4,
                    bytes_out: u64::from(round),
                };
                let error = (table == 5).then_some(ErrorCode::NOT_FOUND);
                collector.finish_in(&tally, timer, call, error);
            }
        }
        // Until the tally is folded its calls are not counted.
        let before = collector.snapshot();
        assert!(before.operations.iter().all(|op| op.op != "get"));
        let folded: u64 = before.tables.iter().map(|t| t.calls[0].count).sum();
        assert!(folded < 18, "tables still in the tally are not counted yet");
        collector.fold(&tally);
        let stats = collector.snapshot();
        let get = &stats.operations[0];
        assert_eq!((get.calls, get.bytes_in, get.bytes_out), (18, 72, 18));
        assert_eq!(get.latency.count, 18, "the first 64 calls are all timed");
        assert_eq!(get.errors[0].count, 3);
        assert_eq!(stats.tables.len(), 6);
        for table in &stats.tables {
            assert_eq!(table.calls[0].count, 3, "{}", table.table);
            assert_eq!(table.bytes, 12 + 3);
        }
        // A second fold adds nothing.
        collector.fold(&tally);
        assert_eq!(collector.snapshot().operations[0].calls, 18);
        // A tally folds itself every FOLD_EVERY calls.
        let busy = Tally::default();
        for _ in 0..FOLD_EVERY {
            let timer = collector.start_in(&busy, Op::Put).expect("enabled");
            collector.finish_in(&busy, timer, Call::default(), None);
        }
        let put = collector
            .snapshot()
            .operations
            .into_iter()
            .find(|op| op.op == "put");
        assert_eq!(put.map(|op| op.calls), Some(FOLD_EVERY));
    }
}
