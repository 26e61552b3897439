//! Copying a whole store, at one snapshot, into an empty backend of any plugin (`backup`'s
//! generic path, `migrate`): table by table, at the key level (no term is decoded), as sorted
//! runs through `ingest_sorted` where the target has `bulk-ingest`, else in transactions.
//!
//! The target is marked as an unfinished copy ([`COPY_UNFINISHED`] as its format marker) by
//! its first commit, and gets the source's real marker, with the rest of `store.meta`, in its
//! last: a copy that stops half-way (an error, a killed process) is refused by every open,
//! naming what happened, and is never taken for a store. Nothing is written to the source.

use std::sync::mpsc::{channel, sync_channel};
use std::time::{Duration, Instant};

use kgdb_plugin_api::{
    Capabilities, KvBatch, ScanSpec, SortedRun, SyncMode, TableId, TxnOptions, WriteBatch,
    WriteOptions,
};

use super::error::{Context, StoreError};
use super::layout::{meta, read_counter, COPY_UNFINISHED, JOURNAL_TABLE};
use super::Store;
use crate::plugin::Backend;

/// Rows and bytes per cursor batch read from the source.
const READ_ROWS: u32 = 4096;
const READ_BYTES: u64 = 1 << 20;

/// How a copy writes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CopyOptions {
    /// Bytes of rows per write to the target (a sorted run, or a transaction), about; two
    /// such chunks are in memory at once. 16 MiB unless set.
    pub chunk_bytes: usize,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self {
            chunk_bytes: 16 << 20,
        }
    }
}

impl CopyOptions {
    /// The default options with `chunk_bytes` instead.
    #[must_use]
    pub fn with_chunk_bytes(chunk_bytes: usize) -> Self {
        Self {
            chunk_bytes: chunk_bytes.max(1),
        }
    }
}

/// How far a copy is, for a progress display.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CopyProgress {
    /// The table being read.
    pub table: String,
    /// Rows read so far, every table together.
    pub rows: u64,
    /// Rows the copy expects in all (from the store's counters; notes and graphs make it a
    /// little more).
    pub expected_rows: u64,
}

/// What a finished copy did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CopySummary {
    /// Tables copied.
    pub tables: usize,
    /// Rows copied.
    pub rows: u64,
    /// Bytes of keys and values copied.
    pub bytes: u64,
    /// Whether the rows went in as sorted runs (`bulk-ingest`), else in transactions.
    pub ingested: bool,
    /// Quads the copy holds (the source's count at the snapshot).
    pub quads: u64,
    /// Terms the copy holds.
    pub terms: u64,
    /// Whether the snapshot caught a load half-way: its journal was copied, and the copy's
    /// first writing open undoes it (the counts above include what it had counted).
    pub load_pending: bool,
    /// Time taken.
    pub elapsed: Duration,
}

impl Store {
    /// Copies the whole store (dictionary, the nine orderings, counters, named graphs, notes,
    /// and the journal of a load that had not finished) as one snapshot shows it into
    /// `target`, which must hold no data. The source is only read; `progress` is called after
    /// each chunk and each table. The copy is what a crash at the snapshot would have left: open it with
    /// [`Store::open`] (which undoes a load caught half-way) before reading it.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when `target` holds data; backend failures of either
    /// side. A failed copy leaves `target` marked unfinished (every open refuses it): remove
    /// its data and copy again.
    pub fn copy_into(
        &self,
        target: &Backend,
        options: &CopyOptions,
        mut progress: Option<&mut dyn FnMut(&CopyProgress)>,
    ) -> Result<CopySummary, StoreError> {
        let chunk_bytes = options.chunk_bytes;
        let started = Instant::now();
        check_empty(target)?;
        let source = self
            .backend
            .begin(TxnOptions::READ_ONLY)
            .context("starting the snapshot to copy")?;
        let quads = read_counter(&source, self.tables.meta, meta::QUADS)?;
        let default_quads = read_counter(&source, self.tables.meta, meta::DEFAULT_GRAPH_QUADS)?;
        let terms = read_counter(&source, self.tables.meta, meta::TERMS)?;
        let load_pending = source
            .get(self.tables.meta, meta::LOAD_JOURNAL)
            .context("reading the load journal marker")?
            .is_some();
        let mut tables = self.tables.named();
        if load_pending {
            // A load caught half-way: its journal goes along, so that the copy's first
            // writing open undoes it as the source's would.
            match self.backend.open_table(JOURNAL_TABLE, false) {
                Ok(journal) => tables.push((JOURNAL_TABLE.to_owned(), journal)),
                Err(error) if error.code == kgdb_plugin_api::ErrorCode::NOT_FOUND => {}
                Err(error) => {
                    return Err(error).context(&format!("opening table `{JOURNAL_TABLE}`"));
                }
            }
        }
        let meta_table = self.tables.meta;
        let mut target_tables = Vec::with_capacity(tables.len());
        for (name, _) in &tables {
            target_tables.push(
                target
                    .open_table(name, true)
                    .context(&format!("creating table `{name}` in the copy"))?,
            );
        }
        let target_meta = target
            .open_table("store.meta", true)
            .context("creating table `store.meta` in the copy")?;
        commit_rows(
            target,
            target_meta,
            [(meta::FORMAT, COPY_UNFINISHED.as_bytes())],
        )
        .context("marking the copy unfinished")?;

        let ingest = target.capabilities().has(Capabilities::BULK_INGEST);
        let writers = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .clamp(1, 2);
        let mut report = CopyProgress {
            table: String::new(),
            rows: 0,
            expected_rows: 3 * default_quads + 6 * quads.saturating_sub(default_quads) + 2 * terms,
        };
        let mut bytes = 0u64;
        let mut meta_rows = Vec::new();
        std::thread::scope(|scope| -> Result<(), StoreError> {
            // Writer threads, each given whole tables (a table's runs arrive in key order, on
            // one thread), so that the target builds two tables at once where it can.
            let (give_back, emptied) = channel::<KvBatch>();
            let mut senders = Vec::with_capacity(writers);
            let mut handles = Vec::with_capacity(writers);
            for _ in 0..writers {
                let (sender, receiver) = sync_channel::<SortedRun>(1);
                let give_back = give_back.clone();
                let handle = std::thread::Builder::new()
                    .name("kgdb-copy-write".into())
                    .spawn_scoped(scope, move || -> Result<(), StoreError> {
                        for mut run in receiver {
                            write_run(target, &run, ingest)?;
                            run.rows.clear();
                            let _ = give_back.send(run.rows);
                        }
                        Ok(())
                    })
                    .map_err(|error| {
                        StoreError::InvalidInput(format!(
                            "starting the copy's writer thread: {error}"
                        ))
                    })?;
                senders.push(sender);
                handles.push(handle);
            }
            drop(give_back);
            let read = (|| -> Result<(), StoreError> {
                for (index, ((name, table), &target_table)) in
                    tables.iter().zip(&target_tables).enumerate()
                {
                    let sender = &senders[index % senders.len()];
                    report.table.clone_from(name);
                    let mut cursor = source
                        .scan(*table, ScanSpec::all())
                        .context(&format!("reading table `{name}`"))?;
                    let mut rows = fresh(&emptied, chunk_bytes);
                    loop {
                        let batch = cursor
                            .next_batch(READ_ROWS, READ_BYTES)
                            .context(&format!("reading table `{name}`"))?;
                        if batch.is_empty() {
                            break;
                        }
                        for (key, value) in batch.iter() {
                            if *table == meta_table {
                                // Written last, in one commit with the format marker.
                                meta_rows.push((key.to_vec(), value.to_vec()));
                                continue;
                            }
                            rows.push(key, value).map_err(|error| {
                                StoreError::InvalidInput(format!(
                                    "copying a row of table `{name}`: {}",
                                    error.message
                                ))
                            })?;
                        }
                        report.rows += batch.len() as u64;
                        bytes += batch.byte_len() as u64;
                        if rows.byte_len() >= chunk_bytes {
                            let full = std::mem::replace(&mut rows, fresh(&emptied, chunk_bytes));
                            if sender
                                .send(SortedRun {
                                    table: target_table,
                                    rows: full,
                                })
                                .is_err()
                            {
                                return Ok(()); // The writer failed: its error is returned.
                            }
                            if let Some(progress) = progress.as_deref_mut() {
                                progress(&report);
                            }
                        }
                    }
                    if !rows.is_empty()
                        && sender
                            .send(SortedRun {
                                table: target_table,
                                rows,
                            })
                            .is_err()
                    {
                        return Ok(());
                    }
                    if let Some(progress) = progress.as_deref_mut() {
                        progress(&report);
                    }
                }
                Ok(())
            })();
            drop(senders);
            let mut written = Ok(());
            for handle in handles {
                let outcome = handle.join().unwrap_or_else(|_| {
                    Err(StoreError::InvalidInput(
                        "the copy's writer thread panicked".into(),
                    ))
                });
                written = written.and(outcome);
            }
            read.and(written)
        })?;
        drop(source);

        // The last commit: the rest of `store.meta` and the real format marker, which turns
        // the target into a store.
        let rows = meta_rows
            .iter()
            .map(|(key, value)| (key.as_slice(), value.as_slice()));
        commit_rows(target, target_meta, rows).context("writing the copy's counters")?;
        if target.capabilities().has(Capabilities::FLUSH) {
            target.flush().context("flushing the copy")?;
        }
        Ok(CopySummary {
            tables: tables.len(),
            rows: report.rows,
            bytes,
            ingested: ingest,
            quads,
            terms,
            load_pending,
            elapsed: started.elapsed(),
        })
    }
}

/// A chunk the writer emptied, or a new one.
fn fresh(emptied: &std::sync::mpsc::Receiver<KvBatch>, chunk_bytes: usize) -> KvBatch {
    emptied.try_recv().unwrap_or_else(|_| {
        KvBatch::with_capacity(
            chunk_bytes + READ_BYTES as usize,
            (chunk_bytes / 12).min(1 << 20),
        )
    })
}

/// Refuses a target that holds a row in any table.
fn check_empty(target: &Backend) -> Result<(), StoreError> {
    let names = target
        .list_tables()
        .context("listing the target's tables")?;
    if names.is_empty() {
        return Ok(());
    }
    let txn = target
        .begin(TxnOptions::READ_ONLY)
        .context("reading the target")?;
    for name in names {
        let table = target
            .open_table(&name, false)
            .context(&format!("opening the target's table `{name}`"))?;
        let mut cursor = txn
            .scan(table, ScanSpec::all())
            .context(&format!("reading the target's table `{name}`"))?;
        if !cursor
            .next_batch(1, 1 << 20)
            .context(&format!("reading the target's table `{name}`"))?
            .is_empty()
        {
            return Err(StoreError::InvalidInput(format!(
                "the target holds data already (table `{name}`): copy into an empty one"
            )));
        }
    }
    Ok(())
}

/// Writes one run of rows: through `ingest_sorted`, or in one transaction.
fn write_run(target: &Backend, run: &SortedRun, ingest: bool) -> Result<(), StoreError> {
    if ingest {
        target
            .ingest_sorted(
                std::slice::from_ref(run),
                WriteOptions {
                    sync: SyncMode::DEFAULT,
                },
            )
            .context("writing the copy")
    } else {
        commit_rows(target, run.table, run.rows.iter()).context("writing the copy")
    }
}

/// Puts `rows` into `table` in one durable transaction.
fn commit_rows<'r>(
    target: &Backend,
    table: TableId,
    rows: impl IntoIterator<Item = (&'r [u8], &'r [u8])>,
) -> Result<(), crate::plugin::BackendError> {
    let sync = if target.capabilities().has(Capabilities::DURABLE_SYNC) {
        SyncMode::SYNC
    } else {
        SyncMode::DEFAULT
    };
    let mut batch = WriteBatch::new();
    for (key, value) in rows {
        batch.put(table, key, value);
    }
    let mut txn = target.begin(TxnOptions {
        read_only: false,
        sync,
    })?;
    txn.write_batch(&batch)?;
    txn.commit()
}
