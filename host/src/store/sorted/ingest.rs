//! The ingest of a sorted load: the marker commit, the dictionary, each ordering's keys as
//! sorted runs, and the last commit with the counters.
//!
//! Order matters for the undo: every quad the load adds is journaled before any of its keys
//! reaches the backend (the primary orderings `spo` and `gspo` go first, each chunk's journal
//! entries ingested before or with the chunk), so a load killed at any point is undone whole.
//! A load into a store that holds no quad journals nothing: its undo empties the orderings.

use std::path::PathBuf;
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};

use kgdb_plugin_api::{
    Capabilities, KvBatch, SortedRun, SyncMode, TableId, TxnOptions, WriteOptions,
};
use rustc_hash::FxHashMap as HashMap;

use super::super::encoding::{encode_count, key_of, read_id, TermId};
use super::super::error::{Context, StoreError};
use super::super::index::Ordering;
use super::super::layout::{load_owner, meta, read_counter};
use super::super::staged::apply;
use super::super::transaction::Transaction;
use super::super::Store;
use super::runs::{KeySource, Merge, Run, SpillReader};
use super::terms::{split_record, NewTerms};
use super::{LoadProgress, LoadStage, ProgressFn};
use crate::plugin::Backend;

/// Bytes of keys handed to the backend per `ingest_sorted` call, about.
pub(super) const CHUNK_BYTES: usize = 16 << 20;
/// Keys per look-up when a load into a store with quads checks which of its quads exist.
const EXISTENCE_CHECK_KEYS: usize = 16_384;
/// Chunks alive at once while ingesting: the one being built, the one queued, the one the
/// backend writes, and the backend's own copy and pages of it.
pub(super) const CHUNKS_IN_FLIGHT: u64 = 5;
/// Rows a fresh chunk has room for (keys of about a dozen bytes), before it reallocates.
const CHUNK_ROWS: usize = CHUNK_BYTES / 12;
/// Emptied chunks kept for reuse, at most.
const SPARE_CHUNKS: usize = 2;

/// The orderings in ingest order: the primary ones (checked and journaled) first.
const INGEST_ORDER: [Ordering; 9] = [
    Ordering::Spo,
    Ordering::Gspo,
    Ordering::Pos,
    Ordering::Osp,
    Ordering::Spog,
    Ordering::Posg,
    Ordering::Ospg,
    Ordering::Gpos,
    Ordering::Gosp,
];

/// Where the load's quads are.
pub(super) enum Sources {
    /// One run, in memory, not yet sorted.
    Memory(Run),
    /// Runs spilled as files `run-N-ORDERING` in `dir`, and the last run in memory.
    Spilled {
        /// The spill directory.
        dir: PathBuf,
        /// How many runs.
        runs: u64,
        /// The last run, not yet sorted.
        last: Run,
    },
}

/// What the last commit adds to the counters.
pub(super) struct Counted {
    pub inserted: u64,
    pub default_graph_inserted: u64,
    pub graphs: HashMap<u64, i64>,
    pub added_terms: u64,
    pub next_id: Option<u64>,
}

/// The ingest of one load.
pub(super) struct Ingest<'s, 'p, 'a> {
    store: &'s Store,
    /// The `load.journal` table.
    journal: TableId,
    /// Whether the store held quads before the load (the primary orderings are then checked).
    check_existing: bool,
    progress: Option<&'p mut ProgressFn<'a>>,
    /// Keys handed to the backend so far.
    ingested: u64,
    /// Quads the store did not hold.
    pub inserted: u64,
    pub default_graph_inserted: u64,
    /// New quads per named graph id.
    pub graphs: HashMap<u64, i64>,
    /// Where runs go while [`Ingest::pipelined`] runs: the thread that hands them to the
    /// backend, in order.
    queue: Option<SyncSender<Vec<SortedRun>>>,
    /// Runs gathered for one call, and their bytes.
    gathered: Vec<SortedRun>,
    gathered_bytes: usize,
    /// Chunks the ingest thread wrote and emptied, to fill again (fresh allocations of this
    /// size cost a page fault and a zeroed page per 4 KiB).
    written: Option<Receiver<KvBatch>>,
    spare: Vec<KvBatch>,
}

impl<'s, 'p, 'a> Ingest<'s, 'p, 'a> {
    /// The ingest of a load into `store`, journaling into `journal`; `check_existing` when
    /// the store held quads as the load began.
    pub fn new(
        store: &'s Store,
        journal: TableId,
        check_existing: bool,
        progress: Option<&'p mut ProgressFn<'a>>,
    ) -> Self {
        Self {
            store,
            journal,
            check_existing,
            progress,
            ingested: 0,
            inserted: 0,
            default_graph_inserted: 0,
            graphs: HashMap::default(),
            queue: None,
            gathered: Vec::new(),
            gathered_bytes: 0,
            written: None,
            spare: Vec::new(),
        }
    }
}

impl Ingest<'_, '_, '_> {
    /// An empty chunk: one written and emptied if there is one, else a fresh one.
    fn chunk(&mut self) -> KvBatch {
        if let Some(written) = &self.written {
            self.spare.extend(written.try_iter());
        }
        self.spare
            .pop()
            .unwrap_or_else(|| KvBatch::with_capacity(CHUNK_BYTES + (64 << 10), CHUNK_ROWS))
    }

    /// Keeps an emptied chunk for reuse (up to [`SPARE_CHUNKS`]).
    fn keep(&mut self, mut chunk: KvBatch) {
        if self.spare.len() < SPARE_CHUNKS {
            chunk.clear();
            self.spare.push(chunk);
        }
    }

    fn report(&mut self) {
        let done = self.ingested;
        if let Some(progress) = &mut self.progress {
            progress(LoadProgress {
                stage: LoadStage::Ingesting,
                done,
                total: None,
            });
        }
    }

    /// Commits the load's marker: from here on the store records an unfinished load (undone
    /// by the next writing open if this process dies), and readers wait for its end.
    pub fn mark(&mut self, first_new_id: u64) -> Result<(), StoreError> {
        let mut txn = Transaction::begin(self.store, None)?;
        txn.put_raw(
            self.store.tables.meta,
            meta::LOAD_JOURNAL,
            &encode_count(first_new_id),
        );
        let uncounted: &[u8] = if self.check_existing {
            b""
        } else {
            meta::INTO_EMPTY
        };
        txn.put_raw(self.store.tables.meta, meta::LOAD_UNCOUNTED, uncounted);
        txn.put_raw(self.store.tables.meta, meta::LOAD_OWNER, &load_owner());
        txn.commit()
    }

    /// Runs `body` with its runs handed to the backend by a thread of their own, in order, so
    /// that the next runs are sorted, checked and encoded while the backend writes the last
    /// ones. Returns once every run is written (or one failed: that error).
    pub fn pipelined(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let backend = &self.store.backend;
        std::thread::scope(|scope| {
            let (sender, receiver) = sync_channel::<Vec<SortedRun>>(1);
            let (give_back, written) = channel::<KvBatch>();
            self.written = Some(written);
            let writer = std::thread::Builder::new()
                .name("kgdb-load-ingest".into())
                .spawn_scoped(scope, move || -> Result<(), StoreError> {
                    for runs in receiver {
                        write_runs(backend, &runs)?;
                        for mut run in runs {
                            run.rows.clear();
                            // The producer may be gone already: the chunk is then freed.
                            let _ = give_back.send(run.rows);
                        }
                    }
                    Ok(())
                })
                .map_err(|e| {
                    StoreError::InvalidInput(format!("cannot start the ingest thread: {e}"))
                })?;
            self.queue = Some(sender);
            let produced = body(self).and_then(|()| self.flush_gathered());
            // Dropping the sender ends the writer after the last runs.
            self.queue = None;
            self.written = None;
            self.spare = Vec::new();
            let written = writer
                .join()
                .map_err(|_| StoreError::corrupt("the ingest thread panicked"))?;
            // A failed write stops the producer too: the write's error is the cause.
            written.and(produced)
        })
    }

    /// Hands `runs` to the backend (empty ones dropped). Where the backend applies every run
    /// of a call atomically, runs are gathered into calls of about [`CHUNK_BYTES`]: fewer
    /// commits for a small load.
    fn ingest(&mut self, runs: Vec<SortedRun>) -> Result<(), StoreError> {
        let runs: Vec<SortedRun> = runs
            .into_iter()
            .filter(|run| !run.rows.is_empty())
            .collect();
        if runs.is_empty() {
            return Ok(());
        }
        if !self
            .store
            .backend
            .capabilities()
            .has(Capabilities::ATOMIC_MULTI_INGEST)
        {
            return self.send(runs);
        }
        self.gathered_bytes += runs.iter().map(|run| run.rows.byte_len()).sum::<usize>();
        self.gathered.extend(runs);
        if self.gathered_bytes >= CHUNK_BYTES {
            self.flush_gathered()?;
        }
        Ok(())
    }

    /// Sends the gathered runs as one call.
    fn flush_gathered(&mut self) -> Result<(), StoreError> {
        self.gathered_bytes = 0;
        let runs = std::mem::take(&mut self.gathered);
        if runs.is_empty() {
            return Ok(());
        }
        self.send(runs)
    }

    /// Hands `runs` to the backend in one call, through the ingest thread when one runs.
    fn send(&mut self, runs: Vec<SortedRun>) -> Result<(), StoreError> {
        let keys = runs.iter().map(|run| run.rows.len() as u64).sum::<u64>();
        match &self.queue {
            Some(queue) => queue
                .send(runs)
                .map_err(|_| StoreError::InvalidInput("the ingest thread stopped".into()))?,
            None => write_runs(&self.store.backend, &runs)?,
        }
        self.ingested += keys;
        tracing::info!(
            stage = "ingesting",
            keys = self.ingested,
            "ingested sorted runs"
        );
        self.report();
        Ok(())
    }

    /// Ingests the new dictionary entries.
    pub fn dictionary(&mut self, terms: &mut NewTerms) -> Result<(), StoreError> {
        terms.each_id2term_batch(|table, rows| self.ingest(vec![SortedRun { table, rows }]))?;
        let table = terms.term2id_table();
        let mut merge = Merge::new(terms.term2id_source()?)?;
        let mut rows = self.chunk();
        let mut record = Vec::new();
        while merge.next_key(&mut record)? {
            let (hash, id) = split_record(&record)?;
            push(&mut rows, hash, &key_of(&[TermId(id)]))?;
            if rows.byte_len() >= CHUNK_BYTES {
                let next = self.chunk();
                self.ingest(vec![SortedRun {
                    table,
                    rows: std::mem::replace(&mut rows, next),
                }])?;
            }
        }
        self.ingest(vec![SortedRun { table, rows }])
    }

    /// Ingests every ordering's keys.
    pub fn quads(&mut self, sources: Sources) -> Result<(), StoreError> {
        match sources {
            Sources::Memory(run) => {
                // One ordering at a time, into one copy of the run: the backend writes on the
                // other core meanwhile.
                let mut sorted = Run::default();
                for ordering in INGEST_ORDER {
                    run.sort_into(ordering, &mut sorted);
                    self.ordering(ordering, sorted.source(ordering))?;
                }
                Ok(())
            }
            Sources::Spilled { dir, runs, last } => {
                let mut sorted = Run::default();
                for ordering in INGEST_ORDER {
                    let mut readers = (0..runs)
                        .map(|run| {
                            let path = dir.join(format!("run-{run}-{}", ordering.name()));
                            SpillReader::open(&path)
                                .map(|reader| Box::new(reader) as Box<dyn KeySource + Send>)
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    if !last.is_empty() {
                        last.sort_into(ordering, &mut sorted);
                        readers.push(sorted.source(ordering));
                    }
                    self.ordering(ordering, Box::new(Merge::new(readers)?))?;
                    for run in 0..runs {
                        let _ = std::fs::remove_file(
                            dir.join(format!("run-{run}-{}", ordering.name())),
                        );
                    }
                }
                Ok(())
            }
        }
    }

    /// Ingests one ordering's ascending keys in chunks.
    fn ordering(
        &mut self,
        ordering: Ordering,
        mut keys: Box<dyn KeySource + Send + '_>,
    ) -> Result<(), StoreError> {
        let table = self.store.tables.ordering(ordering);
        let primary = ordering == Ordering::primary(ordering.is_named());
        let mut rows = self.chunk();
        let mut key = Vec::new();
        loop {
            let more = keys.next_key(&mut key)?;
            if more {
                push(&mut rows, &key, b"")?;
            }
            if rows.byte_len() >= CHUNK_BYTES || (!more && !rows.is_empty()) {
                let next = if more { self.chunk() } else { KvBatch::new() };
                let chunk = std::mem::replace(&mut rows, next);
                if primary {
                    self.primary_chunk(ordering, table, chunk)?;
                } else {
                    self.ingest(vec![SortedRun { table, rows: chunk }])?;
                }
            }
            if !more {
                return Ok(());
            }
        }
    }

    /// Ingests a chunk of a primary ordering: only the quads the store lacks, journaled first,
    /// and counted.
    fn primary_chunk(
        &mut self,
        ordering: Ordering,
        table: TableId,
        chunk: KvBatch,
    ) -> Result<(), StoreError> {
        let fresh = if self.check_existing {
            // A fresh view per chunk: it sees the store as it was, plus earlier chunks (whose
            // keys all sort before these), so what it finds was there before the load.
            let txn = self
                .store
                .backend
                .begin(TxnOptions::READ_ONLY)
                .context("starting a read transaction")?;
            let keys: Vec<&[u8]> = chunk.iter().map(|(key, _)| key).collect();
            let mut fresh = self.chunk();
            // In slices: an engine may hold a few hundred bytes per key of one call
            // (RocksDB's MultiGet does), which for a whole chunk's 1.4 million keys was
            // 400 MiB outside the budget.
            for keys in keys.chunks(EXISTENCE_CHECK_KEYS) {
                let found = txn
                    .get_many(table, keys)
                    .context("checking which quads exist")?;
                for (key, value) in keys.iter().zip(found) {
                    if value.is_none() {
                        push(&mut fresh, key, b"")?;
                    }
                }
            }
            self.keep(chunk);
            fresh
        } else {
            chunk
        };
        let mut journal = if self.check_existing {
            self.chunk()
        } else {
            KvBatch::new()
        };
        let mut journal_key = Vec::with_capacity(40);
        for (key, _) in fresh.iter() {
            journal_key.clear();
            if ordering.is_named() {
                let (graph, _) = read_id(key)?;
                *self.graphs.entry(graph.0).or_default() += 1;
            } else {
                // Journal keys lead with the graph, 0 for the default graph.
                journal_key.push(0);
                self.default_graph_inserted += 1;
            }
            if self.check_existing {
                journal_key.extend_from_slice(key);
                push(&mut journal, &journal_key, b"")?;
            }
        }
        self.inserted += fresh.len() as u64;
        if !self.check_existing {
            // A load into a store without quads journals nothing: its undo empties the orderings.
            return self.ingest(vec![SortedRun { table, rows: fresh }]);
        }
        let journal_run = SortedRun {
            table: self.journal,
            rows: journal,
        };
        let quads_run = SortedRun { table, rows: fresh };
        if self
            .store
            .backend
            .capabilities()
            .has(Capabilities::ATOMIC_MULTI_INGEST)
        {
            self.ingest(vec![journal_run, quads_run])
        } else {
            self.ingest(vec![journal_run])?;
            self.ingest(vec![quads_run])
        }
    }

    /// The last commit: the counters include the load, the marker is gone.
    pub fn finish(&mut self, counted: &Counted) -> Result<(), StoreError> {
        let tables = self.store.tables;
        let mut txn = Transaction::begin(self.store, None)?;
        let view = txn.backend_txn()?;
        let mut puts: Vec<(TableId, Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        let delta = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        for (key, added, what) in [
            (meta::QUADS, counted.inserted, "quads"),
            (
                meta::DEFAULT_GRAPH_QUADS,
                counted.default_graph_inserted,
                "default-graph quads",
            ),
            (meta::TERMS, counted.added_terms, "terms"),
        ] {
            if added > 0 {
                let value = apply(read_counter(view, tables.meta, key)?, delta(added), what)?;
                puts.push((
                    tables.meta,
                    key.to_vec(),
                    Some(encode_count(value).to_vec()),
                ));
            }
        }
        if let Some(next_id) = counted.next_id {
            puts.push((
                tables.meta,
                meta::NEXT_ID.to_vec(),
                Some(encode_count(next_id).to_vec()),
            ));
        }
        for (graph, added) in &counted.graphs {
            let key = key_of(&[TermId(*graph)]);
            let value = apply(
                read_counter(view, tables.graphs, &key)?,
                *added,
                "graph quads",
            )?;
            puts.push((tables.graphs, key, Some(encode_count(value).to_vec())));
        }
        puts.push((tables.meta, meta::LOAD_JOURNAL.to_vec(), None));
        puts.push((tables.meta, meta::LOAD_UNCOUNTED.to_vec(), None));
        puts.push((tables.meta, meta::LOAD_OWNER.to_vec(), None));
        for (table, key, value) in puts {
            match value {
                Some(value) => txn.put_raw(table, &key, &value),
                None => txn.delete_raw(table, &key),
            }
        }
        txn.commit()
    }
}

/// Hands `runs` to the backend in one `ingest_sorted` call.
fn write_runs(backend: &Backend, runs: &[SortedRun]) -> Result<(), StoreError> {
    backend
        .ingest_sorted(
            runs,
            WriteOptions {
                sync: SyncMode::DEFAULT,
            },
        )
        .context("ingesting sorted runs")
}

fn push(rows: &mut KvBatch, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
    rows.push(key, value)
        .map_err(|e| StoreError::InvalidInput(e.message.to_string()))
}
