//! The sorted-run load: large loads through the backend's `ingest_sorted` instead of one
//! write per key.
//!
//! 1. **Parsing** ([`SortedLoad::add_all`]): quads arrive in batches; their terms are interned
//!    in one place, in bulk (new terms get ascending ids; nothing is written to the backend),
//!    and each quad joins the current run as four ids (packed into 16 bytes while every id
//!    fits 32 bits).
//! 2. **Sorting**: a run that reaches its share of the memory budget is sorted once per
//!    ordering and spilled to files in the spill directory on a thread of its own, while
//!    parsing fills the next run (one spill at a time; the spilling run counts against the
//!    budget); the last run stays in memory, sorted one ordering at a time while the backend
//!    writes (and merged with the spilled runs, if any).
//! 3. **Ingesting** ([`SortedLoad::commit`]): a commit records the load's journal marker (the
//!    first new term id, and that the counters do not include the load yet); then the new
//!    dictionary entries, each ordering's merged keys (the primary orderings `spo` and
//!    `gspo` checked against what the store held, each new quad journaled before it is
//!    ingested) go to the backend as sorted runs; a last commit writes the counters and
//!    removes the marker.
//!
//! A load that fails, is dropped or is killed before that last commit is undone (at once, or
//! by the next writing open): the journal names every quad it added, the marker the first
//! term id it added. Readers never see part of a load: a snapshot that finds the marker waits
//! until it is gone (see [`Snapshot`](super::Snapshot)).

mod caches;
mod ingest;
mod runs;
mod terms;

use std::path::PathBuf;
use std::sync::MutexGuard;

use kgdb_plugin_api::{TxnOptions, WriteBatch};
use oxrdf::Quad;

use super::bulk::LoadSummary;
use super::dictionary::{Interned, Interner};
use super::error::{Context, StoreError};
use super::layout::{meta, read_counter, JOURNAL_TABLE};
use super::undo::undo;
use super::Store;
use crate::plugin::BackendTxn;
use caches::CacheLease;
use runs::{id_quad, Run};
use terms::NewTerms;

/// Quads interned at once.
const INTERN_BATCH: usize = 4096;
/// The smallest memory budget a sorted load takes.
pub const MIN_MEMORY_BUDGET: u64 = 1 << 20;
/// Bytes the interner's map of new terms takes per term, about.
const INTERNER_BYTES_PER_TERM: u64 = 48;

/// How a [`SortedLoad`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortedLoadOptions {
    /// Bytes the load's runs and dictionary may hold in memory before they are spilled
    /// (at least [`MIN_MEMORY_BUDGET`]).
    pub memory_budget: u64,
    /// Where spilled runs go: a fresh directory is made inside it (the store's data directory,
    /// so the spills share its disk), removed when the load ends. `None`: the system's
    /// temporary directory.
    pub spill_dir: Option<PathBuf>,
    /// Threads the load may keep busy (default: the machine's cores): two parse and intern,
    /// the rest (at least one) sort spilling runs.
    pub threads: usize,
}

impl Default for SortedLoadOptions {
    fn default() -> Self {
        Self {
            memory_budget: 1 << 30,
            spill_dir: None,
            threads: std::thread::available_parallelism().map_or(2, usize::from),
        }
    }
}

/// The stage a sorted load is in, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadStage {
    /// Reading quads and interning their terms (spilling sorted runs as the budget asks).
    Parsing,
    /// Sorting the last run.
    Sorting,
    /// Handing sorted runs to the backend.
    Ingesting,
}

impl LoadStage {
    /// Its name in messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Parsing => "parsing",
            Self::Sorting => "sorting",
            Self::Ingesting => "ingesting",
        }
    }
}

/// A progress report: the stage, and how far it is (quads read while parsing, keys handed to
/// the backend while ingesting, of `total` when known).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadProgress {
    /// The stage.
    pub stage: LoadStage,
    /// Quads read, or keys ingested.
    pub done: u64,
    /// What `done` counts up to, when known.
    pub total: Option<u64>,
}

/// Called with progress reports.
pub type ProgressFn<'a> = Box<dyn FnMut(LoadProgress) + 'a>;

/// A run being sorted and written to files on a thread of its own, while parsing goes on.
struct Spilling {
    handle: std::thread::JoinHandle<Result<(), StoreError>>,
    /// Bytes it holds: the run and its sorting copy.
    bytes: u64,
}

/// An atomic load through sorted runs: [`SortedLoad::add_all`], then [`SortedLoad::commit`].
/// It holds the store's writer slot for its whole life. Dropped or failed, whatever it wrote
/// is undone before the call returns (or, if the process dies, by the next writing open).
pub struct SortedLoad<'a> {
    store: &'a Store,
    options: SortedLoadOptions,
    /// A read view of the store as the load began (term look-ups).
    txn: Option<BackendTxn>,
    generation: u64,
    /// The first term id the load hands out.
    first_new_id: u64,
    interner: Interner,
    /// The interner's dictionary writes, moved to `terms` after every batch.
    scratch: WriteBatch,
    terms: NewTerms,
    /// The current run.
    run: Run,
    /// Spilled runs: a directory of files per run and ordering.
    spills: Option<runs_dir::SpillDir>,
    /// The run being spilled in the background.
    spilling: Option<Spilling>,
    spilled_runs: u64,
    /// Whether the store held quads as the load began (else nothing needs checking).
    store_had_quads: bool,
    summary: LoadSummary,
    progress: Option<ProgressFn<'a>>,
    /// Set once the load's marker is committed: from then on a failure needs an undo.
    marked: bool,
    finished: bool,
    /// The store's and the engine's caches, raised for the load (set back after its undo).
    caches: CacheLease<'a>,
    _writer_slot: MutexGuard<'a, ()>,
}

impl std::fmt::Debug for SortedLoad<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SortedLoad")
            .field("summary", &self.summary)
            .field("spilled_runs", &self.spilled_runs)
            .finish_non_exhaustive()
    }
}

mod runs_dir {
    //! The spill directory of one load.

    use std::path::{Path, PathBuf};

    use super::super::error::StoreError;

    /// Prefix of spill directories (a leftover one, from a killed load, is removed by
    /// [`remove_load_leftovers`](super::remove_load_leftovers): `kgdb-host`'s next writing
    /// command on the same data directory).
    pub const PREFIX: &str = ".kgdb-load-";

    /// A load's spill directory, removed when dropped.
    pub struct SpillDir(tempfile::TempDir);

    impl SpillDir {
        /// Makes a fresh one inside `parent`.
        pub fn create(parent: &Path) -> Result<Self, StoreError> {
            tempfile::Builder::new()
                .prefix(PREFIX)
                .tempdir_in(parent)
                .map(Self)
                .map_err(|e| {
                    StoreError::InvalidInput(format!(
                        "cannot make the load's temporary directory in {}: {e}",
                        parent.display()
                    ))
                })
        }

        /// Its path.
        pub fn path(&self) -> &Path {
            self.0.path()
        }

        /// A file in it.
        pub fn file(&self, name: &str) -> PathBuf {
            self.0.path().join(name)
        }
    }

    /// Removes spill directories that killed loads left in `parent` (one process writes a
    /// data directory at a time, so none of them is in use).
    pub fn remove_leftovers(parent: &Path) {
        let Ok(entries) = std::fs::read_dir(parent) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(PREFIX) {
                match std::fs::remove_dir_all(entry.path()) {
                    Ok(()) => tracing::info!(
                        "removed {} left by a load that did not finish",
                        entry.path().display()
                    ),
                    Err(error) => tracing::warn!(
                        "cannot remove {} left by a load that did not finish: {error}",
                        entry.path().display()
                    ),
                }
            }
        }
    }
}

/// Removes the spill directories that killed sorted loads left in `data_dir`. Call it only
/// from the process that writes the data directory (no load of another process is then
/// running there).
pub fn remove_load_leftovers(data_dir: &std::path::Path) {
    runs_dir::remove_leftovers(data_dir);
}

impl<'a> SortedLoad<'a> {
    pub(super) fn new(store: &'a Store, options: SortedLoadOptions) -> Result<Self, StoreError> {
        store.check_writable()?;
        if !store
            .backend
            .capabilities()
            .has(crate::plugin::Capabilities::BULK_INGEST)
        {
            return Err(StoreError::InvalidInput(
                "this backend cannot ingest sorted runs (`bulk-ingest`): load through transactions or batches".into(),
            ));
        }
        let writer_slot = store.lock_writer();
        let txn = store
            .backend
            .begin(TxnOptions::READ_ONLY)
            .context("starting a read transaction")?;
        let generation = store.view_generation(&txn)?;
        let next_id = read_counter(&txn, store.tables.meta, meta::NEXT_ID)?.max(1);
        let store_had_quads = read_counter(&txn, store.tables.meta, meta::QUADS)? > 0;
        let memory_budget = options.memory_budget.max(MIN_MEMORY_BUDGET);
        // Term ids start at 1: a store that handed none out holds no terms to look up.
        let caches = CacheLease::take(store, memory_budget, next_id > 1);
        Ok(Self {
            store,
            options: SortedLoadOptions {
                memory_budget,
                ..options
            },
            txn: Some(txn),
            generation,
            first_new_id: next_id,
            interner: Interner::new(next_id),
            scratch: WriteBatch::new(),
            terms: NewTerms::new(store.tables.id2term, store.tables.term2id),
            run: Run::default(),
            spills: None,
            spilling: None,
            spilled_runs: 0,
            store_had_quads,
            summary: LoadSummary::default(),
            progress: None,
            marked: false,
            finished: false,
            caches,
            _writer_slot: writer_slot,
        })
    }

    /// Reports progress to `progress` from now on.
    pub fn set_progress(&mut self, progress: impl FnMut(LoadProgress) + 'a) {
        self.progress = Some(Box::new(progress));
    }

    /// What the load did so far.
    #[must_use]
    pub fn summary(&self) -> LoadSummary {
        self.summary
    }

    /// Runs spilled to disk so far.
    #[must_use]
    pub fn spilled_runs(&self) -> u64 {
        self.spilled_runs
    }

    fn report(&mut self, stage: LoadStage, done: u64, total: Option<u64>) {
        if let Some(progress) = &mut self.progress {
            progress(LoadProgress { stage, done, total });
        }
    }

    /// Adds quads (interning their terms).
    ///
    /// # Errors
    /// A term the store cannot hold; backend failures reading the dictionary; a spill that
    /// cannot be written. The load should then be dropped.
    pub fn add_all(&mut self, quads: &[Quad]) -> Result<(), StoreError> {
        if self.finished {
            return Err(StoreError::InvalidInput("the load already ended".into()));
        }
        for chunk in quads.chunks(INTERN_BATCH) {
            let txn = self
                .txn
                .as_ref()
                .ok_or_else(|| StoreError::InvalidInput("the load already ended".into()))?;
            let mut at = Interned {
                store: self.store,
                txn,
                generation: Some(self.generation),
                pending: &mut self.scratch,
            };
            let encoded = self.interner.encode_quads(&mut at, chunk)?;
            self.terms.take_from(&mut self.scratch)?;
            for quad in &encoded {
                self.run.push(id_quad(quad));
            }
            self.summary.read += chunk.len() as u64;
            if self.run_is_full() {
                self.spill()?;
            }
        }
        let read = self.summary.read;
        self.report(LoadStage::Parsing, read, None);
        Ok(())
    }

    /// Whether the run takes its share of the budget: what the new terms, the caches raised
    /// for the load and the ingest's chunks in flight leave of it, and at least a quarter (the
    /// interner's map of new terms stays in memory for the whole load).
    fn run_is_full(&self) -> bool {
        let budget = self.options.memory_budget;
        let terms = self.terms.memory()
            + self.terms.count * INTERNER_BYTES_PER_TERM
            + self.caches.extra_bytes();
        let in_flight = ingest::CHUNKS_IN_FLIGHT * ingest::CHUNK_BYTES as u64
            + self.spilling.as_ref().map_or(0, |spilling| spilling.bytes);
        let share = budget.saturating_sub(terms + in_flight).max(budget / 4);
        // The run's allocation, and the copies its spill sorts at once (one per thread).
        let run = self.run.allocated_bytes()
            + self.run.len() as u64 * self.run.tuple_bytes() * self.spill_threads() as u64;
        run >= share
    }

    fn spill_dir(&mut self) -> Result<&runs_dir::SpillDir, StoreError> {
        if self.spills.is_none() {
            let parent = self
                .options
                .spill_dir
                .clone()
                .unwrap_or_else(std::env::temp_dir);
            self.spills = Some(runs_dir::SpillDir::create(&parent)?);
        }
        self.spills
            .as_ref()
            .ok_or_else(|| StoreError::corrupt("the spill directory vanished"))
    }

    /// Threads that sort a spilling run: what parsing and interning (two threads) leave of
    /// [`SortedLoadOptions::threads`], at least one.
    fn spill_threads(&self) -> usize {
        self.options.threads.saturating_sub(2).max(1)
    }

    /// Sorts the current run for every ordering and writes it to files on a thread of its own
    /// (with [`Self::spill_threads`] sorting), and the dictionary entries held, at once.
    fn spill(&mut self) -> Result<(), StoreError> {
        // At most one run is spilling at a time.
        self.wait_for_spill()?;
        let run = std::mem::take(&mut self.run);
        let number = self.spilled_runs;
        let quads = self.summary.read;
        let dir = self.spill_dir()?;
        let paths: Vec<PathBuf> = super::index::Ordering::ALL
            .iter()
            .map(|ordering| dir.file(&format!("run-{number}-{}", ordering.name())))
            .collect();
        let dir_path = dir.path().to_owned();
        // The run and the copies being sorted.
        let threads = self.spill_threads();
        let bytes = run.len() as u64 * run.tuple_bytes() * (1 + threads as u64);
        let job = move || -> Result<(), StoreError> {
            let started = std::time::Instant::now();
            run.sort_each(&super::index::Ordering::ALL, threads, |ordering, tuples| {
                tuples.spill(&paths[ordering.index()], ordering)
            })?;
            tracing::info!(
                stage = "spilling",
                run = number + 1,
                quads,
                seconds = started.elapsed().as_secs_f64(),
                "spilled a sorted run"
            );
            Ok(())
        };
        let mut sequence = number * 2;
        self.terms.spill(&dir_path, &mut sequence)?;
        self.spilled_runs += 1;
        let handle = std::thread::Builder::new()
            .name("kgdb-load-spill".into())
            .spawn(job)
            .map_err(|e| {
                StoreError::InvalidInput(format!("cannot start a thread to spill a run: {e}"))
            })?;
        self.spilling = Some(Spilling { handle, bytes });
        Ok(())
    }

    /// Waits for the run spilling in the background, if any; its failure is the load's.
    fn wait_for_spill(&mut self) -> Result<(), StoreError> {
        match self.spilling.take() {
            Some(spilling) => spilling
                .handle
                .join()
                .map_err(|_| StoreError::corrupt("the thread spilling a run panicked"))?,
            None => Ok(()),
        }
    }

    /// Sorts, merges and ingests everything, then commits the counters: the whole load
    /// becomes visible at once, and durable.
    ///
    /// # Errors
    /// Backend failures, a spill that cannot be read; the load is then undone.
    pub fn commit(mut self) -> Result<LoadSummary, StoreError> {
        self.finish()
            .map_err(|error| error.after_undo(self.undo_marked()))
    }

    /// Gives the load up, undoing what it wrote (as dropping it does), reporting how that went.
    ///
    /// # Errors
    /// The undo's failure: the load's part then stays, flagged as an unfinished load, until
    /// the next writing open undoes it.
    pub fn rollback(mut self) -> Result<(), StoreError> {
        self.undo_marked()
    }

    fn undo_marked(&mut self) -> Result<(), StoreError> {
        self.txn = None;
        // The spill directory goes only once nothing writes into it.
        let _ = self.wait_for_spill();
        self.spills = None;
        if self.finished || !self.marked {
            self.finished = true;
            return Ok(());
        }
        self.finished = true;
        undo(self.store).map(drop)
    }

    fn finish(&mut self) -> Result<LoadSummary, StoreError> {
        if self.finished {
            return Err(StoreError::InvalidInput("the load already ended".into()));
        }
        // LMDB grows its map only while the process holds no read transaction.
        self.txn = None;
        if self.spilling.is_some() {
            self.report(LoadStage::Sorting, 0, None);
        }
        self.wait_for_spill()?;
        let sources = if self.spilled_runs > 0 {
            // The last run stays in memory, sorted one ordering at a time as it is merged
            // with the spilled ones.
            let dir = self.spill_dir()?.path().to_owned();
            ingest::Sources::Spilled {
                dir,
                runs: self.spilled_runs,
                last: std::mem::take(&mut self.run),
            }
        } else {
            ingest::Sources::Memory(std::mem::take(&mut self.run))
        };
        let journal = self
            .store
            .backend
            .open_table(JOURNAL_TABLE, true)
            .context("creating the load journal")?;
        let first_new_id = self.first_new_id;
        let mut ingest = ingest::Ingest::new(
            self.store,
            journal,
            self.store_had_quads,
            self.progress.as_mut(),
        );
        ingest.mark(first_new_id)?;
        self.marked = true;
        let terms = &mut self.terms;
        ingest.pipelined(|ingest| {
            ingest.dictionary(terms)?;
            ingest.quads(sources)
        })?;
        let (added_terms, next_id) = self.interner.take_counter_changes();
        let counted = ingest::Counted {
            inserted: ingest.inserted,
            default_graph_inserted: ingest.default_graph_inserted,
            graphs: std::mem::take(&mut ingest.graphs),
            added_terms,
            next_id,
        };
        ingest.finish(&counted)?;
        self.finished = true;
        self.summary.inserted = counted.inserted;
        self.summary.chunks = 1;
        self.store.counters.committed(counted.inserted, 0);
        self.store
            .terms
            .remember_ids(self.generation, self.interner.take_new_terms());
        self.spills = None;
        if let Err(error) = self.store.backend.drop_table(JOURNAL_TABLE) {
            tracing::warn!("the load committed, but dropping its journal table failed ({error}); the next writing open drops it");
        }
        Ok(self.summary)
    }
}

impl Drop for SortedLoad<'_> {
    /// Undoes what a load that did not finish wrote; a failure is logged, and the next writing
    /// open of the store resumes the undo.
    fn drop(&mut self) {
        if let Err(error) = self.undo_marked() {
            tracing::error!(
                "undoing the failed load stopped: {error}; the next writing open of the store resumes it"
            );
        }
    }
}
