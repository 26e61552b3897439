//! The collector of one backend instance: atomic counters per operation and table, latency
//! histograms, transaction outcomes, and the counters of the layers above.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::histogram::Histogram;
use super::report::{
    ErrorCount, NamedCount, OpCount, OperationFigures, OperationStats, TableFigures,
    TransactionFigures,
};
use super::tally::{bump, TableTally, Tally, Timer, FOLD_EVERY, TALLY_TABLES};
use super::Op;
use crate::ErrorCode;

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
