//! The orderings' part of `verify`: each ordering read once (its keys decode, a primary
//! ordering's ids are in the dictionary, `gspo`'s quads per graph against `store.graphs`), its
//! digest compared with its group's primary, and the quads that differ named by look-ups
//! where the digests disagree.

use std::collections::HashSet;

use kgdb_plugin_api::ScanSpec;

use super::super::encoding::{decode_count, key_of, read_ids, TermId};
use super::super::error::{Context, StoreError};
use super::super::index::{EncodedQuad, Ordering};
use super::super::Store;
use super::digest::{DigestKeys, SetDigest};
use super::{scan_batches, Checker};
use crate::plugin::BackendTxn;

/// What reading one ordering found.
pub(super) struct OrderingRead {
    /// Its digest.
    pub digest: SetDigest,
    /// Quads per graph id, in graph order (only for `gspo`).
    pub per_graph: Vec<(TermId, u64)>,
}

/// Reads one ordering; checks that each key decodes and, in a primary ordering, refers to
/// terms the dictionary holds (`known_ids` caches the ids found).
pub(super) fn read_ordering(
    store: &Store,
    txn: &BackendTxn,
    ordering: Ordering,
    keys: DigestKeys,
    checker: &mut Checker,
    known_ids: &mut HashSet<TermId>,
) -> Result<OrderingRead, StoreError> {
    let primary = Ordering::primary(ordering.is_named());
    let mut read = OrderingRead {
        digest: SetDigest::default(),
        per_graph: Vec::new(),
    };
    scan_batches(
        txn,
        store.tables.ordering(ordering),
        "scanning an index",
        |batch| {
            let mut quads = Vec::with_capacity(batch.len());
            for (key, _) in batch.iter() {
                match ordering.decode(key) {
                    Ok(quad) => {
                        read.digest.add_quad(keys, &quad);
                        quads.push(quad);
                    }
                    Err(error) => {
                        read.digest.add_unreadable();
                        checker.differ(format!("ordering {}: {error}", ordering.name()));
                    }
                }
            }
            checker.report.index_entries += quads.len() as u64;
            if ordering == Ordering::Gspo {
                for graph in quads.iter().filter_map(|quad| quad.graph) {
                    match read.per_graph.last_mut() {
                        Some((last, count)) if *last == graph => *count += 1,
                        _ => read.per_graph.push((graph, 1)),
                    }
                }
            }
            if ordering == primary {
                check_ids(store, txn, &quads, checker, known_ids)?;
            }
            Ok(())
        },
    )?;
    Ok(read)
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

/// Names the quads ordering `from` holds that `other` lacks, looking each up.
pub(super) fn name_differences(
    store: &Store,
    txn: &BackendTxn,
    from: Ordering,
    other: Ordering,
    checker: &mut Checker,
) -> Result<(), StoreError> {
    scan_batches(
        txn,
        store.tables.ordering(from),
        "scanning an index",
        |batch| {
            let quads: Vec<EncodedQuad> = batch
                .iter()
                .filter_map(|(key, _)| from.decode(key).ok())
                .collect();
            let keys: Vec<Vec<u8>> = quads.iter().map(|quad| other.key(quad)).collect();
            let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
            let found = txn
                .get_many(store.tables.ordering(other), &refs)
                .context("looking up quads")?;
            for (quad, value) in quads.iter().zip(found) {
                if value.is_none() {
                    checker.differ(format!(
                        "ordering {} holds {} that {} lacks",
                        from.name(),
                        show(quad),
                        other.name()
                    ));
                }
            }
            Ok(())
        },
    )
}

/// The `store.graphs` counters against the quads `gspo` holds per graph (a counter of zero is
/// an empty graph, which holds no quads).
pub(super) fn check_graph_counts(
    store: &Store,
    txn: &BackendTxn,
    counted: &[(TermId, u64)],
    checker: &mut Checker,
) -> Result<(), StoreError> {
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
    for (graph, count) in counted {
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
