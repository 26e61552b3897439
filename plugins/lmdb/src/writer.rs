//! The writer thread: LMDB binds a write transaction to the thread that began it, so one
//! thread per backend owns every write transaction, and the `Txn` the host holds sends it
//! requests. Jobs run one after another, which serialises writers: `begin` waits until the
//! writer is free (at most `resize_wait_seconds`, then `TIMED_OUT`).
//!
//! Every write transaction keeps a redo log of its writes. When LMDB reports `MDB_MAP_FULL`,
//! or a batch fails half-way, the LMDB transaction is aborted and begun again from the log
//! (after growing the map, for a full map), so a failed batch leaves nothing behind and a full
//! map loses no write.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread;

use heed::RwTxn;
use kgdb_plugin_api::{ErrorCode, KvBatch, PluginError, ScanSpec, TableId, WriteBatch};

use crate::error::{is_map_full, lmdb_error};
use crate::shared::{apply_batch, read_batch, Shared};

type Job = Box<dyn FnOnce(&Shared) + Send>;

/// Most times one write grows the map before giving up.
const MAX_GROWTHS: usize = 48;

/// The writer thread of one backend (cheap to clone: a channel and the shared state).
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: Sender<Job>,
    shared: Arc<Shared>,
}

fn writer_gone() -> PluginError {
    PluginError::internal("the lmdb writer thread has stopped")
}

fn session_gone() -> PluginError {
    PluginError::closed("the write transaction has ended")
}

impl Writer {
    /// Starts the thread; the receiver hears when it has ended.
    pub(crate) fn spawn(shared: Arc<Shared>) -> Result<(Self, Receiver<()>), PluginError> {
        let (jobs, receiver) = mpsc::channel::<Job>();
        let (finished, ended) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("kgdb-lmdb-writer".into())
            .spawn(move || {
                for job in receiver {
                    // A panicking job drops its reply channel: the caller sees an error, and
                    // the thread stays up for the next job.
                    let _ = catch_unwind(AssertUnwindSafe(|| job(&thread_shared)));
                }
                drop(thread_shared);
                let _ = finished.send(());
            })
            .map_err(|e| {
                PluginError::internal(format!("cannot start the lmdb writer thread: {e}"))
            })?;
        Ok((Self { jobs, shared }, ended))
    }

    fn submit<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Shared, Sender<Result<T, PluginError>>) + Send + 'static,
    ) -> Result<T, PluginError> {
        let (reply, answer) = mpsc::channel();
        self.jobs
            .send(Box::new(move |shared| job(shared, reply)))
            .map_err(|_| writer_gone())?;
        match answer.recv_timeout(self.shared.resize_wait) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => Err(PluginError::new(
                ErrorCode::TIMED_OUT,
                format!(
                    "the lmdb writer stayed busy for {} s (resize_wait_seconds): another write transaction is open, perhaps on this very thread",
                    self.shared.resize_wait.as_secs()
                ),
            )),
            Err(RecvTimeoutError::Disconnected) => Err(writer_gone()),
        }
    }

    /// Runs `body` on the writer thread between write transactions.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        body: impl FnOnce(&Shared) -> Result<T, PluginError> + Send + 'static,
    ) -> Result<T, PluginError> {
        self.submit(move |shared, reply| {
            let _ = reply.send(body(shared));
        })
    }

    /// Runs `body` on the writer thread between write transactions, waiting at most
    /// `resize_wait` for the thread to be free and then as long as `body` takes (an ingest of a
    /// large run may take longer than the wait).
    pub(crate) fn run_long<T: Send + 'static>(
        &self,
        body: impl FnOnce(&Shared) -> Result<T, PluginError> + Send + 'static,
    ) -> Result<T, PluginError> {
        let (result, outcome) = mpsc::channel();
        self.submit(move |shared, started| {
            let _ = started.send(Ok(()));
            let _ = result.send(body(shared));
        })?;
        outcome.recv().map_err(|_| writer_gone())?
    }

    /// Begins a write transaction on the writer thread, waiting for it to be free.
    pub(crate) fn begin(&self) -> Result<Session, PluginError> {
        let (ops, requests) = mpsc::channel();
        self.submit(move |shared, started| session(shared, &requests, &started))?;
        Ok(Session {
            link: Link { ops },
            ended: false,
        })
    }

    /// Stops accepting jobs; the thread ends once its current session does.
    pub(crate) fn shutdown(self) {
        drop(self.jobs);
    }
}

/// A one-off write transaction for `body`, committed, growing the map as needed.
pub(crate) fn with_growth<T>(
    shared: &Shared,
    mut body: impl FnMut(&mut RwTxn<'_>) -> heed::Result<T>,
) -> Result<T, PluginError> {
    for _ in 0..MAX_GROWTHS {
        let mut wtxn = shared.write_txn("beginning a write transaction")?;
        let outcome = body(&mut wtxn).and_then(|value| wtxn.commit().map(|()| value));
        match outcome {
            Ok(value) => {
                shared.cover_used_pages();
                return Ok(value);
            }
            Err(error) if is_map_full(&error) => shared.grow_map()?,
            Err(error) => return Err(lmdb_error("writing", error)),
        }
    }
    Err(PluginError::new(
        ErrorCode::FULL,
        "the LMDB map kept filling up while growing",
    ))
}

enum Op {
    Get {
        table: TableId,
        keys: Vec<Vec<u8>>,
        reply: Sender<Result<Vec<Option<Vec<u8>>>, PluginError>>,
    },
    Scan {
        table: TableId,
        range: ScanSpec,
        max_rows: u32,
        max_bytes: u64,
        reply: Sender<Result<KvBatch, PluginError>>,
    },
    Write {
        batch: WriteBatch,
        reply: Sender<Result<(), PluginError>>,
    },
    Commit {
        reply: Sender<Result<(), PluginError>>,
    },
    Rollback {
        reply: Sender<Result<(), PluginError>>,
    },
}

/// A cloneable channel to one write transaction (cursors hold one).
#[derive(Clone)]
pub struct Link {
    ops: Sender<Op>,
}

impl Link {
    fn call<T>(
        &self,
        op: impl FnOnce(Sender<Result<T, PluginError>>) -> Op,
    ) -> Result<T, PluginError> {
        let (reply, answer) = mpsc::channel();
        self.ops.send(op(reply)).map_err(|_| session_gone())?;
        answer.recv().map_err(|_| session_gone())?
    }

    /// One batch of a scan inside the write transaction.
    pub(crate) fn scan(
        &self,
        table: TableId,
        range: ScanSpec,
        max_rows: u32,
        max_bytes: u64,
    ) -> Result<KvBatch, PluginError> {
        self.call(|reply| Op::Scan {
            table,
            range,
            max_rows,
            max_bytes,
            reply,
        })
    }
}

/// The host's handle on a write transaction; dropping it rolls the transaction back.
pub struct Session {
    link: Link,
    ended: bool,
}

impl Session {
    /// A channel for a cursor.
    pub(crate) fn link(&self) -> Link {
        self.link.clone()
    }

    /// Reads one key.
    pub(crate) fn get(&self, table: TableId, key: &[u8]) -> Result<Option<Vec<u8>>, PluginError> {
        let mut values = self.get_many(table, &[key])?;
        Ok(values.pop().flatten())
    }

    /// Reads many keys.
    pub(crate) fn get_many(
        &self,
        table: TableId,
        keys: &[&[u8]],
    ) -> Result<Vec<Option<Vec<u8>>>, PluginError> {
        let keys = keys.iter().map(|k| k.to_vec()).collect();
        self.link.call(|reply| Op::Get { table, keys, reply })
    }

    /// Applies a batch, all or none.
    pub(crate) fn write(&mut self, batch: WriteBatch) -> Result<(), PluginError> {
        self.link.call(|reply| Op::Write { batch, reply })
    }

    /// Commits (every LMDB commit is synced to disk).
    pub(crate) fn commit(&mut self) -> Result<(), PluginError> {
        self.ended = true;
        self.link.call(|reply| Op::Commit { reply })
    }

    /// Rolls back.
    pub(crate) fn rollback(&mut self) -> Result<(), PluginError> {
        self.ended = true;
        self.link.call(|reply| Op::Rollback { reply })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.ended {
            // Ends the session even while cursors still hold links to it.
            let _ = self.rollback();
        }
    }
}

/// Begins an LMDB write transaction and replays `log` into it.
fn restart<'e>(shared: &'e Shared, log: &WriteBatch) -> Result<RwTxn<'e>, PluginError> {
    let mut txn = shared.write_txn("beginning a write transaction")?;
    if !log.is_empty() {
        let registry = shared.registry()?;
        apply_batch(&registry, &mut txn, log)
            .map_err(|e| lmdb_error("replaying the transaction after growing the map", e))?;
    }
    Ok(txn)
}

/// Applies `batch` to the session's transaction, restarting it from `log` on failure.
fn write<'e>(
    shared: &'e Shared,
    txn: &mut Option<RwTxn<'e>>,
    log: &mut WriteBatch,
    batch: &WriteBatch,
) -> Result<(), PluginError> {
    for _ in 0..MAX_GROWTHS {
        let current = txn.as_mut().ok_or_else(session_gone)?;
        let outcome = {
            let registry = shared.registry()?;
            apply_batch(&registry, current, batch)
        };
        let error = match outcome {
            Ok(()) => return log.append(batch),
            Err(error) => error,
        };
        // The LMDB transaction may hold part of the batch, or be unusable after
        // `MDB_MAP_FULL`: abort it and begin again from the log.
        drop(txn.take());
        let grown = if is_map_full(&error) {
            shared.grow_map()
        } else {
            Err(lmdb_error("writing", error))
        };
        *txn = Some(restart(shared, log)?);
        grown?;
    }
    Err(PluginError::new(
        ErrorCode::FULL,
        "the LMDB map kept filling up while growing",
    ))
}

fn commit<'e>(
    shared: &'e Shared,
    mut txn: Option<RwTxn<'e>>,
    log: &WriteBatch,
) -> Result<(), PluginError> {
    for _ in 0..MAX_GROWTHS {
        let current = txn.take().ok_or_else(session_gone)?;
        match current.commit() {
            Ok(()) => {
                shared.cover_used_pages();
                return Ok(());
            }
            Err(error) if is_map_full(&error) => {
                shared.grow_map()?;
                txn = Some(restart(shared, log)?);
            }
            Err(error) => {
                // LMDB reports a write that found the disk full as `Input/output error`.
                let error = lmdb_error("committing", error);
                return Err(kgdb_plugin_api::sdk::or_disk_full(error, shared.env.path()));
            }
        }
    }
    Err(PluginError::new(
        ErrorCode::FULL,
        "the LMDB map kept filling up while growing",
    ))
}

fn session(shared: &Shared, requests: &Receiver<Op>, started: &Sender<Result<(), PluginError>>) {
    let mut txn = match shared.write_txn("beginning a write transaction") {
        Ok(txn) => Some(txn),
        Err(error) => {
            let _ = started.send(Err(error));
            return;
        }
    };
    if started.send(Ok(())).is_err() {
        return; // The caller gave up waiting; `txn` aborts on drop.
    }
    let mut log = WriteBatch::new();
    while let Ok(op) = requests.recv() {
        match op {
            Op::Get { table, keys, reply } => {
                let result = (|| {
                    let current = txn.as_ref().ok_or_else(session_gone)?;
                    let db = shared.db(table)?;
                    keys.iter()
                        .map(|key| {
                            db.get(current, key)
                                .map(|v| v.map(<[u8]>::to_vec))
                                .map_err(|e| lmdb_error("reading", e))
                        })
                        .collect()
                })();
                let _ = reply.send(result);
            }
            Op::Scan {
                table,
                range,
                max_rows,
                max_bytes,
                reply,
            } => {
                let result = (|| {
                    let current = txn.as_ref().ok_or_else(session_gone)?;
                    let mut out = KvBatch::new();
                    read_batch(
                        shared.db(table)?,
                        current,
                        &range,
                        max_rows,
                        max_bytes,
                        &mut out,
                    )?;
                    Ok(out)
                })();
                let _ = reply.send(result);
            }
            Op::Write { batch, reply } => {
                let _ = reply.send(write(shared, &mut txn, &mut log, &batch));
            }
            Op::Commit { reply } => {
                let _ = reply.send(commit(shared, txn.take(), &log));
                return;
            }
            Op::Rollback { reply } => {
                drop(txn.take());
                let _ = reply.send(Ok(()));
                return;
            }
        }
    }
}
