//! Reading: snapshots, pattern queries and counters.

use std::collections::VecDeque;

use kgdb_plugin_api::{ScanSpec, TxnOptions};
use oxrdf::{GraphName, NamedOrBlankNode, Quad, QuadRef, Term};

use super::dictionary::{lookup, Resolver, TermScope};
use super::encoding::{decode_count, read_ids};
use super::error::{Context, StoreError};
use super::index::{plan, EncodedQuad, GraphIds, IdPattern, Ordering, Scan};
use super::layout::{meta, read_counter, Tables};
use super::{Counts, GraphPattern, QuadPattern, Store};
use crate::plugin::{BackendTxn, Cursor};

/// Rows per scan batch.
const SCAN_BATCH_ROWS: u32 = 1024;
/// Bytes per scan batch.
const SCAN_BATCH_BYTES: u64 = 1 << 20;

/// A consistent read-only view of a [`Store`]: it sees the commits made before it began and
/// none after.
pub struct Snapshot<'a> {
    pub(super) store: &'a Store,
    pub(super) txn: BackendTxn,
    pub(super) generation: u64,
    /// The first term id committed after the snapshot began.
    pub(super) next_id: u64,
}

impl std::fmt::Debug for Snapshot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Snapshot")
    }
}

impl<'a> Snapshot<'a> {
    /// Begins a snapshot. While the store records an unfinished load, the snapshot would see
    /// part of it: it waits (polling) until the load ends or is undone, up to the store's
    /// load wait.
    pub(super) fn new(store: &'a Store) -> Result<Self, StoreError> {
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(5);
        // One read of `store.meta` per snapshot: the load marker, the dictionary generation
        // and the next term id.
        let (txn, generation, next_id) = loop {
            let txn = store
                .backend
                .begin(TxnOptions::READ_ONLY)
                .context("starting a read transaction")?;
            let values = txn
                .get_many(
                    store.tables.meta,
                    &[
                        meta::LOAD_JOURNAL,
                        meta::DICTIONARY_GENERATION,
                        meta::NEXT_ID,
                    ],
                )
                .context("reading the store's counters")?;
            if let [None, generation, next_id] = values.as_slice() {
                let counter = |value: &Option<Vec<u8>>, what| {
                    value
                        .as_deref()
                        .map_or(Ok(0), |bytes| decode_count(bytes, what))
                };
                let generation = counter(generation, "dictionary-generation")?;
                let next_id = counter(next_id, "next-id")?.max(1);
                break (txn, generation, next_id);
            }
            drop(txn);
            if started.elapsed() >= store.load_wait {
                return Err(StoreError::LoadUnfinished(format!(
                    "a load into this store has not finished after waiting {} s: it is still being written, or it was interrupted and waits for `kgdb-host recover` (or any writing command) to undo it; readers see a load whole or not at all",
                    store.load_wait.as_secs()
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(std::time::Duration::from_millis(200));
        };
        store.terms.observe(generation);
        Ok(Self {
            store,
            txn,
            generation,
            next_id,
        })
    }

    pub(super) fn scope(&self) -> TermScope<'static> {
        TermScope::snapshot(self.generation, super::encoding::TermId(self.next_id))
    }

    /// The exact counts.
    ///
    /// # Errors
    /// Backend failures.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        counts(&self.txn, &self.store.tables)
    }

    /// Number of quads in `graph` (every graph for [`GraphPattern::Any`]), in O(1).
    ///
    /// # Errors
    /// Backend failures.
    pub fn graph_len(&self, graph: &GraphPattern) -> Result<u64, StoreError> {
        graph_len(self.store, &self.txn, self.scope(), graph)
    }

    /// The named graphs, with their quad counts: those holding quads and the empty ones
    /// [`Transaction::create_graph`](super::Transaction::create_graph) made.
    ///
    /// # Errors
    /// Backend failures.
    pub fn named_graphs(&self) -> Result<Vec<(NamedOrBlankNode, u64)>, StoreError> {
        named_graphs(&self.txn, &self.store.tables)
    }

    /// Whether the named graph `name` exists: it holds quads, or was created empty.
    ///
    /// # Errors
    /// Backend failures.
    pub fn graph_exists(&self, name: &NamedOrBlankNode) -> Result<bool, StoreError> {
        let Some(id) = lookup(
            self.store,
            &self.txn,
            self.scope(),
            &Term::from(name.clone()),
        )?
        else {
            return Ok(false);
        };
        Ok(self
            .txn
            .get(self.store.tables.graphs, &super::encoding::key_of(&[id]))
            .context("reading a graph counter")?
            .is_some())
    }

    /// Whether the store holds `quad`.
    ///
    /// # Errors
    /// Backend failures.
    pub fn contains<'q>(&self, quad: impl Into<QuadRef<'q>>) -> Result<bool, StoreError> {
        contains(self.store, &self.txn, self.scope(), quad.into())
    }

    /// The quads matching `pattern`, streamed.
    ///
    /// # Errors
    /// Backend failures while looking up the pattern's terms.
    pub fn quads_for_pattern(&self, pattern: &QuadPattern) -> Result<QuadIter<'_>, StoreError> {
        quads_for_pattern(self.store, &self.txn, self.scope(), pattern)
    }
}

pub(super) fn counts(txn: &BackendTxn, tables: &Tables) -> Result<Counts, StoreError> {
    Ok(Counts {
        quads: read_counter(txn, tables.meta, meta::QUADS)?,
        default_graph_quads: read_counter(txn, tables.meta, meta::DEFAULT_GRAPH_QUADS)?,
        terms: read_counter(txn, tables.meta, meta::TERMS)?,
    })
}

pub(super) fn graph_len(
    store: &Store,
    txn: &BackendTxn,
    scope: TermScope<'_>,
    graph: &GraphPattern,
) -> Result<u64, StoreError> {
    match graph {
        GraphPattern::Any => read_counter(txn, store.tables.meta, meta::QUADS),
        GraphPattern::Default => read_counter(txn, store.tables.meta, meta::DEFAULT_GRAPH_QUADS),
        GraphPattern::Named(name) => match lookup(store, txn, scope, &Term::from(name.clone()))? {
            Some(id) => read_counter(txn, store.tables.graphs, &super::encoding::key_of(&[id])),
            None => Ok(0),
        },
    }
}

pub(super) fn named_graphs(
    txn: &BackendTxn,
    tables: &Tables,
) -> Result<Vec<(NamedOrBlankNode, u64)>, StoreError> {
    let mut entries = Vec::new();
    for row in txn
        .scan(tables.graphs, ScanSpec::all())
        .context("listing graphs")?
    {
        let (key, value) = row.context("listing graphs")?;
        let [id] = read_ids::<1>(&key)?;
        entries.push((id, decode_count(&value, "graph quads")?));
    }
    let mut resolver = Resolver::default();
    resolver.resolve_all(txn, tables, entries.iter().map(|(id, _)| *id))?;
    entries
        .into_iter()
        .map(|(id, count)| Ok((resolver.subject(id)?, count)))
        .collect()
}

/// The ids of a quad's terms, or `None` when one is not in the dictionary (or cannot stand
/// where it stands).
pub(super) fn quad_ids(
    store: &Store,
    txn: &BackendTxn,
    scope: TermScope<'_>,
    quad: QuadRef<'_>,
) -> Result<Option<EncodedQuad>, StoreError> {
    let find = |term: Term| lookup(store, txn, scope, &term);
    let (Some(subject), Some(predicate), Some(object)) = (
        find(quad.subject.into_owned().into())?,
        find(quad.predicate.into_owned().into())?,
        find(quad.object.into_owned())?,
    ) else {
        return Ok(None);
    };
    let graph = match quad.graph_name.into_owned() {
        GraphName::DefaultGraph => None,
        GraphName::NamedNode(node) => match find(node.into())? {
            Some(id) => Some(id),
            None => return Ok(None),
        },
        GraphName::BlankNode(node) => match find(node.into())? {
            Some(id) => Some(id),
            None => return Ok(None),
        },
    };
    Ok(Some(EncodedQuad {
        subject,
        predicate,
        object,
        graph,
    }))
}

pub(super) fn contains_encoded(
    txn: &BackendTxn,
    tables: &Tables,
    quad: &EncodedQuad,
) -> Result<bool, StoreError> {
    let ordering = Ordering::primary(quad.graph.is_some());
    Ok(txn
        .get(tables.ordering(ordering), &ordering.key(quad))
        .context("looking up a quad")?
        .is_some())
}

pub(super) fn contains(
    store: &Store,
    txn: &BackendTxn,
    scope: TermScope<'_>,
    quad: QuadRef<'_>,
) -> Result<bool, StoreError> {
    match quad_ids(store, txn, scope, quad)? {
        Some(encoded) => contains_encoded(txn, &store.tables, &encoded),
        None => Ok(false),
    }
}

/// The ids of a pattern, or `None` when it cannot match (a bound term the store lacks, or a
/// literal where only an IRI or blank node can stand).
pub(super) fn pattern_ids(
    store: &Store,
    txn: &BackendTxn,
    scope: TermScope<'_>,
    pattern: &QuadPattern,
) -> Result<Option<IdPattern>, StoreError> {
    let subject_ok = !matches!(
        pattern.subject,
        Some(Term::Literal(_)) | Some(Term::Triple(_))
    );
    let predicate_ok = matches!(pattern.predicate, None | Some(Term::NamedNode(_)));
    if !subject_ok || !predicate_ok {
        return Ok(None);
    }
    let mut ids = [None; 3];
    for (slot, term) in ids
        .iter_mut()
        .zip([&pattern.subject, &pattern.predicate, &pattern.object])
    {
        if let Some(term) = term {
            match lookup(store, txn, scope, term)? {
                Some(id) => *slot = Some(id),
                None => return Ok(None),
            }
        }
    }
    let graph = match &pattern.graph {
        GraphPattern::Any => GraphIds::Any,
        GraphPattern::Default => GraphIds::Default,
        GraphPattern::Named(name) => match lookup(store, txn, scope, &Term::from(name.clone()))? {
            Some(id) => GraphIds::Named(id),
            None => return Ok(None),
        },
    };
    Ok(Some(IdPattern {
        subject: ids[0],
        predicate: ids[1],
        object: ids[2],
        graph,
    }))
}

pub(super) fn quads_for_pattern<'t>(
    store: &'t Store,
    txn: &'t BackendTxn,
    scope: TermScope<'_>,
    pattern: &QuadPattern,
) -> Result<QuadIter<'t>, StoreError> {
    // A scan whose prefix is a whole key (everything bound) is a point read: see
    // `EncodedScan::next_batch`.
    let scans = match pattern_ids(store, txn, scope, pattern)? {
        Some(ids) => plan(&ids),
        None => Vec::new(),
    };
    // Snapshots share resolved terms through the store; a writer's view may hold ids of its
    // own that are not committed, so it resolves on its own.
    let resolver = match (scope.local, scope.generation) {
        (None, Some(generation)) => Resolver::shared(store, generation),
        _ => Resolver::default(),
    };
    Ok(QuadIter::new(txn, store.tables, scans, resolver))
}

/// Encoded quads of a list of prefix scans, in batches.
pub(super) struct EncodedScan<'t> {
    txn: &'t BackendTxn,
    tables: Tables,
    scans: VecDeque<Scan>,
    cursor: Option<(Ordering, Cursor)>,
}

impl<'t> EncodedScan<'t> {
    pub(super) fn new(txn: &'t BackendTxn, tables: Tables, scans: Vec<Scan>) -> Self {
        Self {
            txn,
            tables,
            scans: scans.into(),
            cursor: None,
        }
    }

    /// Appends the next batch to `out`; `false` once every scan is done.
    pub(super) fn next_batch(&mut self, out: &mut Vec<EncodedQuad>) -> Result<bool, StoreError> {
        loop {
            if self.cursor.is_none() {
                let Some(scan) = self.scans.pop_front() else {
                    return Ok(false);
                };
                if scan.prefix_terms == scan.ordering.positions().len() {
                    // The prefix is a whole key: a point read, no cursor.
                    let table = self.tables.ordering(scan.ordering);
                    if self
                        .txn
                        .get(table, &scan.prefix)
                        .context("looking up a quad")?
                        .is_some()
                    {
                        out.push(scan.ordering.decode(&scan.prefix)?);
                        return Ok(true);
                    }
                    continue;
                }
                let spec = if scan.prefix.is_empty() {
                    ScanSpec::all()
                } else {
                    ScanSpec::prefix(&scan.prefix)
                };
                let cursor = self
                    .txn
                    .scan(self.tables.ordering(scan.ordering), spec)
                    .context("scanning an index")?;
                self.cursor = Some((scan.ordering, cursor));
            }
            let Some((ordering, cursor)) = &mut self.cursor else {
                continue;
            };
            let ordering = *ordering;
            let batch = cursor
                .next_batch(SCAN_BATCH_ROWS, SCAN_BATCH_BYTES)
                .context("scanning an index")?;
            if batch.is_empty() {
                self.cursor = None;
                continue;
            }
            for (key, _) in batch.iter() {
                out.push(ordering.decode(key)?);
            }
            return Ok(true);
        }
    }
}

/// The quads matching a pattern, decoded batch by batch; `#[must_use]` like every iterator.
#[must_use = "an iterator does nothing unless consumed"]
pub struct QuadIter<'t> {
    txn: &'t BackendTxn,
    tables: Tables,
    scan: EncodedScan<'t>,
    buffer: VecDeque<EncodedQuad>,
    resolver: Resolver<'t>,
    failed: bool,
}

impl std::fmt::Debug for QuadIter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QuadIter")
    }
}

impl<'t> QuadIter<'t> {
    pub(super) fn new(
        txn: &'t BackendTxn,
        tables: Tables,
        scans: Vec<Scan>,
        resolver: Resolver<'t>,
    ) -> Self {
        Self {
            txn,
            tables,
            scan: EncodedScan::new(txn, tables, scans),
            buffer: VecDeque::new(),
            resolver,
            failed: false,
        }
    }

    fn refill(&mut self) -> Result<bool, StoreError> {
        let mut batch = Vec::new();
        while batch.is_empty() {
            if !self.scan.next_batch(&mut batch)? {
                return Ok(false);
            }
        }
        self.resolver.resolve_all(
            self.txn,
            &self.tables,
            batch.iter().flat_map(|quad| {
                [quad.subject, quad.predicate, quad.object]
                    .into_iter()
                    .chain(quad.graph)
            }),
        )?;
        self.buffer.extend(batch);
        Ok(true)
    }

    fn build(&self, quad: &EncodedQuad) -> Result<Quad, StoreError> {
        Ok(Quad::new(
            self.resolver.subject(quad.subject)?,
            self.resolver.predicate(quad.predicate)?,
            self.resolver.term(quad.object)?.clone(),
            match quad.graph {
                None => GraphName::DefaultGraph,
                Some(id) => match self.resolver.subject(id)? {
                    NamedOrBlankNode::NamedNode(node) => node.into(),
                    NamedOrBlankNode::BlankNode(node) => node.into(),
                },
            },
        ))
    }
}

impl Iterator for QuadIter<'_> {
    type Item = Result<Quad, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.buffer.is_empty() {
            match self.refill() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(error) => {
                    self.failed = true;
                    return Some(Err(error));
                }
            }
        }
        let quad = self.buffer.pop_front()?;
        let result = self.build(&quad);
        if result.is_err() {
            self.failed = true;
        }
        Some(result)
    }
}
