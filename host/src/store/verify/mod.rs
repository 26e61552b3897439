//! `verify`: every ordering agrees with every other, with the dictionary and with the
//! counters. Memory stays bounded by the number of distinct terms (the set of ids already
//! checked), never by the number of quads.
//!
//! Each table is read once, in key order: the orderings of a group (default graph, named
//! graphs) and the two directions of the dictionary are compared by order-independent digests
//! ([`digest`]), not by a look-up per entry; the look-ups run only where digests disagree, to
//! name what differs. On a store open for writing, whose writer slot `verify` holds (nothing
//! else can write it meanwhile), the tables are read by two threads, each in a read
//! transaction of its own that sees the same data; a read-only store is read in one
//! transaction, which another process may write beside.

mod dictionary;
mod digest;
mod orderings;

use std::collections::HashSet;

use kgdb_plugin_api::{KvBatch, ScanSpec, TableId, TxnOptions};

use super::encoding::TermId;
use super::error::{Context, StoreError};
use super::index::Ordering;
use super::layout::{meta, read_counter};
use super::Store;
use crate::plugin::BackendTxn;
use digest::{DigestKeys, SetDigest};

/// Rows per batch while verifying.
const ROWS: u32 = 4096;

/// Calls `visit` with every batch of a whole-table scan.
fn scan_batches(
    txn: &BackendTxn,
    table: TableId,
    what: &str,
    mut visit: impl FnMut(&KvBatch) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut cursor = txn.scan(table, ScanSpec::all()).context(what)?;
    loop {
        let batch = cursor.next_batch(ROWS, 4 << 20).context(what)?;
        if batch.is_empty() {
            return Ok(());
        }
        visit(batch)?;
    }
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Index entries read, over every ordering.
    pub index_entries: u64,
    /// Dictionary entries read.
    pub terms: u64,
    /// The first differences found, in words.
    pub differences: Vec<String>,
    /// How many differences were found in all.
    pub difference_count: u64,
}

impl VerifyReport {
    /// Whether nothing disagreed.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.difference_count == 0
    }
}

struct Checker {
    report: VerifyReport,
    max: usize,
}

impl Checker {
    fn new(max: usize) -> Self {
        Self {
            report: VerifyReport::default(),
            max,
        }
    }

    /// Takes in what another checker found.
    fn merge(&mut self, other: Checker) {
        self.report.index_entries += other.report.index_entries;
        self.report.terms += other.report.terms;
        self.report.difference_count += other.report.difference_count;
        let room = self.max.saturating_sub(self.report.differences.len());
        self.report
            .differences
            .extend(other.report.differences.into_iter().take(room));
    }

    fn differ(&mut self, message: String) {
        self.report.difference_count += 1;
        if self.report.differences.len() < self.max {
            self.report.differences.push(message);
        }
    }
}

/// One piece of `verify`'s reading, done in one transaction.
#[derive(Debug, Clone, Copy)]
enum Part {
    /// Read one ordering.
    Ordering(Ordering),
    /// Check the dictionary.
    Dictionary,
}

/// What one thread found.
struct Found {
    checker: Checker,
    digests: Vec<(Ordering, orderings::OrderingRead)>,
    terms: Option<u64>,
}

/// Does `parts` in a read transaction of its own.
fn read_parts_apart(
    store: &Store,
    parts: &[Part],
    next_id: u64,
    keys: DigestKeys,
    max: usize,
) -> Result<Found, StoreError> {
    let txn = store
        .backend
        .begin(TxnOptions::READ_ONLY)
        .context("starting a read transaction")?;
    read_parts(store, &txn, parts, next_id, keys, max)
}

/// Does `parts` in `txn`.
fn read_parts(
    store: &Store,
    txn: &BackendTxn,
    parts: &[Part],
    next_id: u64,
    keys: DigestKeys,
    max: usize,
) -> Result<Found, StoreError> {
    let mut found = Found {
        checker: Checker::new(max),
        digests: Vec::new(),
        terms: None,
    };
    let mut known_ids: HashSet<TermId> = HashSet::new();
    for part in parts {
        match *part {
            Part::Ordering(ordering) => {
                let read = orderings::read_ordering(
                    store,
                    txn,
                    ordering,
                    keys,
                    &mut found.checker,
                    &mut known_ids,
                )?;
                found.digests.push((ordering, read));
            }
            Part::Dictionary => {
                found.terms = Some(dictionary::check_dictionary(
                    store,
                    txn,
                    next_id,
                    keys,
                    &mut found.checker,
                )?);
            }
        }
    }
    Ok(found)
}

pub(super) fn run(store: &Store, max_differences: usize) -> Result<VerifyReport, StoreError> {
    // A store open for writing whose writer slot is free: holding the slot, nothing writes
    // the store until the end (other processes cannot write a store this one writes), so
    // transactions begun meanwhile see the same data and the reading can be shared out.
    let writer = if store.read_only {
        None
    } else {
        store.try_lock_writer()
    };
    let threads = if writer.is_some() {
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(2)
    } else {
        1
    };
    let txn = store
        .backend
        .begin(TxnOptions::READ_ONLY)
        .context("starting a read transaction")?;
    let next_id = read_counter(&txn, store.tables.meta, meta::NEXT_ID)?.max(1);
    let keys = DigestKeys::random();
    // The dictionary and the orderings, in shares of about equal work (the named orderings
    // hold twice as many keys per quad as the default-graph ones, roughly).
    let mut shares: Vec<Vec<Part>> = vec![Vec::new(); threads];
    let all: Vec<Part> = std::iter::once(Part::Dictionary)
        .chain(Ordering::ALL.into_iter().map(Part::Ordering))
        .collect();
    for (index, part) in all.into_iter().enumerate() {
        shares[index % threads].push(part);
    }
    let found: Vec<Result<Found, StoreError>> = if threads == 1 {
        vec![read_parts(
            store,
            &txn,
            &shares[0],
            next_id,
            keys,
            max_differences,
        )]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = shares
                .iter()
                .map(|share| {
                    scope.spawn(move || {
                        read_parts_apart(store, share, next_id, keys, max_differences)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle.join().unwrap_or_else(|_| {
                        Err(StoreError::InvalidInput("a verify thread panicked".into()))
                    })
                })
                .collect()
        })
    };
    let mut checker = Checker::new(max_differences);
    let mut digests: Vec<Option<orderings::OrderingRead>> = Ordering::ALL.map(|_| None).into();
    let mut terms = 0;
    for found in found {
        let found = found?;
        checker.merge(found.checker);
        for (ordering, read) in found.digests {
            digests[ordering.index()] = Some(read);
        }
        terms += found.terms.unwrap_or(0);
    }
    let digest = |ordering: Ordering| {
        digests[ordering.index()]
            .as_ref()
            .map_or_else(SetDigest::default, |read| read.digest)
    };
    // Each ordering against its group's primary; where they differ, the quads that differ are
    // looked up, both ways, to be named.
    for ordering in Ordering::ALL {
        let primary = Ordering::primary(ordering.is_named());
        if ordering != primary && digest(ordering) != digest(primary) {
            let named = checker.report.difference_count;
            orderings::name_differences(store, &txn, ordering, primary, &mut checker)?;
            orderings::name_differences(store, &txn, primary, ordering, &mut checker)?;
            if checker.report.difference_count == named {
                checker.differ(format!(
                    "orderings {} and {} hold different quads",
                    ordering.name(),
                    primary.name()
                ));
            }
        }
    }
    let counters = super::reader::counts(&txn, &store.tables)?;
    for ordering in Ordering::ALL {
        let expected = if ordering.is_named() {
            counters.quads.saturating_sub(counters.default_graph_quads)
        } else {
            counters.default_graph_quads
        };
        let count = digest(ordering).count;
        if count != expected {
            checker.differ(format!(
                "ordering {} holds {count} quads, the counters say {expected}",
                ordering.name(),
            ));
        }
    }
    if counters.quads < counters.default_graph_quads {
        checker.differ(format!(
            "the quad counter ({}) is below the default-graph counter ({})",
            counters.quads, counters.default_graph_quads
        ));
    }
    let per_graph = digests[Ordering::Gspo.index()]
        .as_ref()
        .map(|read| read.per_graph.as_slice())
        .unwrap_or_default();
    orderings::check_graph_counts(store, &txn, per_graph, &mut checker)?;
    if terms != counters.terms {
        checker.differ(format!(
            "the dictionary holds {terms} terms, the counter says {}",
            counters.terms
        ));
    }
    checker.report.terms = terms;
    drop(writer);
    Ok(checker.report)
}
