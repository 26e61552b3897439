//! `verify`: every ordering agrees with every other, with the dictionary and with the
//! counters. Memory stays bounded by the number of distinct terms (the set of ids already
//! checked), never by the number of quads.

use std::collections::HashSet;

use kgdb_plugin_api::{KvBatch, ScanSpec, TableId, TxnOptions};

use super::dictionary::decode_id_value;
use super::encoding::{decode_count, key_of, read_ids, EncodedTerm, TermId};
use super::error::{Context, StoreError};
use super::index::{EncodedQuad, Ordering};
use super::layout::{meta, read_counter};
use super::Store;
use crate::plugin::BackendTxn;

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
    fn differ(&mut self, message: String) {
        self.report.difference_count += 1;
        if self.report.differences.len() < self.max {
            self.report.differences.push(message);
        }
    }
}

pub(super) fn run(store: &Store, max_differences: usize) -> Result<VerifyReport, StoreError> {
    let txn = store
        .backend
        .begin(TxnOptions::READ_ONLY)
        .context("starting a read transaction")?;
    let mut checker = Checker {
        report: VerifyReport::default(),
        max: max_differences,
    };
    let next_id = read_counter(&txn, store.tables.meta, meta::NEXT_ID)?.max(1);
    let mut known_ids: HashSet<TermId> = HashSet::new();
    let mut counts = [0u64; 9];
    for (index, ordering) in Ordering::ALL.into_iter().enumerate() {
        counts[index] = check_ordering(store, &txn, ordering, &mut checker, &mut known_ids)?;
    }
    let counters = super::reader::counts(&txn, &store.tables)?;
    for (index, ordering) in Ordering::ALL.into_iter().enumerate() {
        let expected = if ordering.is_named() {
            counters.quads.saturating_sub(counters.default_graph_quads)
        } else {
            counters.default_graph_quads
        };
        if counts[index] != expected {
            checker.differ(format!(
                "ordering {} holds {} quads, the counters say {expected}",
                ordering.name(),
                counts[index]
            ));
        }
    }
    if counters.quads < counters.default_graph_quads {
        checker.differ(format!(
            "the quad counter ({}) is below the default-graph counter ({})",
            counters.quads, counters.default_graph_quads
        ));
    }
    check_graph_counts(store, &txn, &mut checker)?;
    let terms = check_dictionary(store, &txn, next_id, &mut checker)?;
    if terms != counters.terms {
        checker.differ(format!(
            "the dictionary holds {terms} terms, the counter says {}",
            counters.terms
        ));
    }
    checker.report.terms = terms;
    Ok(checker.report)
}

/// Reads one ordering; checks each key decodes, exists in the primary ordering and refers to
/// terms the dictionary holds. Returns its entry count.
fn check_ordering(
    store: &Store,
    txn: &BackendTxn,
    ordering: Ordering,
    checker: &mut Checker,
    known_ids: &mut HashSet<TermId>,
) -> Result<u64, StoreError> {
    let primary = Ordering::primary(ordering.is_named());
    let mut count = 0;
    scan_batches(
        txn,
        store.tables.ordering(ordering),
        "scanning an index",
        |batch| {
            let mut quads = Vec::with_capacity(batch.len());
            for (key, _) in batch.iter() {
                count += 1;
                match ordering.decode(key) {
                    Ok(quad) => quads.push(quad),
                    Err(error) => {
                        checker.differ(format!("ordering {}: {error}", ordering.name()));
                    }
                }
            }
            checker.report.index_entries += quads.len() as u64;
            if ordering != primary {
                let keys: Vec<Vec<u8>> = quads.iter().map(|quad| primary.key(quad)).collect();
                let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
                let found = txn
                    .get_many(store.tables.ordering(primary), &refs)
                    .context("looking up quads")?;
                for (quad, value) in quads.iter().zip(found) {
                    if value.is_none() {
                        checker.differ(format!(
                            "ordering {} holds {} that {} lacks",
                            ordering.name(),
                            show(quad),
                            primary.name()
                        ));
                    }
                }
                Ok(())
            } else {
                check_ids(store, txn, &quads, checker, known_ids)
            }
        },
    )?;
    Ok(count)
}

fn check_ids(
    store: &Store,
    txn: &BackendTxn,
    quads: &[EncodedQuad],
    checker: &mut Checker,
    known_ids: &mut HashSet<TermId>,
) -> Result<(), StoreError> {
    let mut missing: Vec<TermId> = quads
        .iter()
        .flat_map(|quad| {
            [quad.subject, quad.predicate, quad.object]
                .into_iter()
                .chain(quad.graph)
        })
        .filter(|id| !known_ids.contains(id))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    let keys: Vec<Vec<u8>> = missing.iter().map(|id| key_of(&[*id])).collect();
    let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let found = txn
        .get_many(store.tables.id2term, &refs)
        .context("reading the dictionary")?;
    for (id, value) in missing.into_iter().zip(found) {
        if value.is_some() {
            known_ids.insert(id);
        } else {
            checker.differ(format!(
                "a quad refers to term id {}, which the dictionary lacks",
                id.0
            ));
        }
    }
    Ok(())
}

/// The `store.graphs` counters against the `gspo` ordering, graph by graph (a counter of zero
/// is an empty graph, which holds no quads).
fn check_graph_counts(
    store: &Store,
    txn: &BackendTxn,
    checker: &mut Checker,
) -> Result<(), StoreError> {
    let mut counted: Vec<(TermId, u64)> = Vec::new();
    let gspo = store.tables.ordering(Ordering::Gspo);
    scan_batches(txn, gspo, "scanning an index", |batch| {
        for (key, _) in batch.iter() {
            let Ok((graph, _)) = super::encoding::read_id(key) else {
                continue;
            };
            match counted.last_mut() {
                Some((last, count)) if *last == graph => *count += 1,
                _ => counted.push((graph, 1)),
            }
        }
        Ok(())
    })?;
    let mut stored: Vec<(TermId, u64)> = Vec::new();
    for row in txn
        .scan(store.tables.graphs, ScanSpec::all())
        .context("reading graph counters")?
    {
        let (key, value) = row.context("reading graph counters")?;
        match read_ids::<1>(&key) {
            Ok([graph]) => stored.push((graph, decode_count(&value, "graph quads")?)),
            Err(error) => checker.differ(format!("graph counters: {error}")),
        }
    }
    let mut expected = stored.iter().peekable();
    for (graph, count) in &counted {
        while let Some((other, stored_count)) = expected.peek() {
            if other < graph {
                if *stored_count != 0 {
                    checker.differ(format!(
                        "graph id {} has a counter ({stored_count}) but no quads",
                        other.0
                    ));
                }
                expected.next();
            } else {
                break;
            }
        }
        match expected.peek() {
            Some((other, stored_count)) if other == graph => {
                if stored_count != count {
                    checker.differ(format!(
                        "graph id {} holds {count} quads, its counter says {stored_count}",
                        graph.0
                    ));
                }
                expected.next();
            }
            _ => checker.differ(format!(
                "graph id {} holds {count} quads but has no counter",
                graph.0
            )),
        }
    }
    // A counter of zero is an empty graph made by `CREATE GRAPH`.
    for (other, stored_count) in expected.filter(|(_, count)| *count != 0) {
        checker.differ(format!(
            "graph id {} has a counter ({stored_count}) but no quads",
            other.0
        ));
    }
    Ok(())
}

/// Both directions of the dictionary; returns the number of terms.
fn check_dictionary(
    store: &Store,
    txn: &BackendTxn,
    next_id: u64,
    checker: &mut Checker,
) -> Result<u64, StoreError> {
    let mut terms = 0;
    scan_batches(
        txn,
        store.tables.id2term,
        "reading the dictionary",
        |batch| {
            let mut entries = Vec::with_capacity(batch.len());
            for (key, value) in batch.iter() {
                terms += 1;
                let id = match read_ids::<1>(key) {
                    Ok([id]) => id,
                    Err(error) => {
                        checker.differ(format!("dictionary: {error}"));
                        continue;
                    }
                };
                if id.0 >= next_id {
                    checker.differ(format!(
                        "term id {} is not below the next id {next_id}",
                        id.0
                    ));
                }
                let encoded = EncodedTerm::from_bytes(value.to_vec());
                if let Err(error) = encoded.decode() {
                    checker.differ(format!("term id {}: {error}", id.0));
                }
                entries.push((id, encoded.hash(&store.hasher)));
            }
            let refs: Vec<&[u8]> = entries.iter().map(|(_, hash)| &hash[..]).collect();
            let found = txn
                .get_many(store.tables.term2id, &refs)
                .context("reading the dictionary")?;
            for ((id, _), value) in entries.iter().zip(found) {
                match value.map(|bytes| decode_id_value(&bytes)) {
                    Some(Ok(found)) if found == *id => {}
                    Some(Ok(found)) => {
                        checker.differ(format!("term id {} maps back to id {}", id.0, found.0))
                    }
                    Some(Err(error)) => checker.differ(format!("term id {}: {error}", id.0)),
                    None => checker.differ(format!(
                        "term id {} has no entry in the term-to-id direction",
                        id.0
                    )),
                }
            }
            Ok(())
        },
    )?;
    let mut reverse = 0u64;
    scan_batches(
        txn,
        store.tables.term2id,
        "reading the dictionary",
        |batch| {
            reverse += batch.len() as u64;
            Ok(())
        },
    )?;
    if reverse != terms {
        checker.differ(format!(
            "the dictionary holds {terms} id-to-term entries but {reverse} term-to-id entries"
        ));
    }
    Ok(terms)
}

fn show(quad: &EncodedQuad) -> String {
    match quad.graph {
        Some(graph) => format!(
            "({} {} {} {})",
            quad.subject.0, quad.predicate.0, quad.object.0, graph.0
        ),
        None => format!(
            "({} {} {})",
            quad.subject.0, quad.predicate.0, quad.object.0
        ),
    }
}
