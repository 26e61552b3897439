//! A commit is one etcd txn. Its compares check that the writer lock is still this
//! instance's, that the commit's marker does not exist yet, and (for a transaction) that
//! nothing it read or wrote changed after its snapshot revision S: each key read has the mod
//! revision it was read at, each key written or range scanned has none above S, and each table
//! it scanned or wrote has no delete above S (a deleted key leaves nothing to compare, so
//! every commit that deletes rows of a table bumps the table's generation key). Its
//! operations are the writes and the marker.
//!
//! An unknown outcome (the member went away, or did not answer in time) is resolved on
//! another member: one txn puts the marker as "abandoned" unless it exists. If it existed, the
//! commit was applied; if not, it now never can be (its compare on the marker fails), and the
//! caller is told nothing was written. So a commit is never reported done when it was not,
//! and never applied twice.

use std::collections::{BTreeMap, BTreeSet};

use std::time::Instant;

use etcd_client::{Compare, CompareOp, DeleteOptions, PutOptions, Txn, TxnOp, TxnOpResponse};
use kgdb_plugin_api::{ErrorCode, PluginError, WriteLimits};

use crate::config::{EtcdConfig, REQUEST_OVERHEAD_BYTES};
use crate::keys::Keyspace;

use crate::cluster::Failure;
use crate::shared::Shared;
use crate::writes::Writes;

/// Keys `[start, end)`.
pub(crate) type KeyRange = (Vec<u8>, Vec<u8>);

/// What a transaction read from its snapshot, for the commit's compares.
#[derive(Debug, Default)]
pub(crate) struct ReadSet {
    /// Keys read (etcd keys), with the mod revision read (0: absent), per table.
    pub(crate) keys: BTreeMap<u32, BTreeMap<Vec<u8>, i64>>,
    /// Ranges scanned (etcd keys, `[start, end)`), per table.
    pub(crate) ranges: BTreeMap<u32, Vec<KeyRange>>,
}

/// The value of the marker of a commit that was applied.
const COMMITTED: &[u8] = b"committed";
/// The value of the marker put by the resolution of a commit that was not applied.
const ABANDONED: &[u8] = b"abandoned";
/// Settled markers one commit deletes at most.
const MARKER_DELETES: usize = 8;

/// The request bytes of one compare beyond its keys.
const ITEM_BYTES: u64 = 24;
/// The request bytes a commit's compares may take: beyond it, they are coarsened to one range
/// per table (a part of `REQUEST_OVERHEAD_BYTES`, which the write limits leave free).
const COMPARE_BYTES: u64 = 32 * 1024;
/// The request bytes of one write beyond its key and value: the protobuf framing and the
/// namespace prefix of its key are counted apart from them, as `framing` per operation.
const OP_FRAMING: u64 = 16;

/// Commits `writes`; `snapshot` is the revision a transaction read at and what it read
/// (`None` for writes outside transactions, which check only the lock).
///
/// # Errors
/// `CONFLICT` (retryable) when something read or written changed after the snapshot; `FULL`
/// before anything is sent when the commit does not fit one etcd txn, naming both limits;
/// `IN_USE` when the writer lock was lost; `TIMED_OUT` when no member answered (then nothing
/// was written); the cluster's errors.
pub(crate) fn commit(
    shared: &Shared,
    snapshot: Option<(i64, &ReadSet)>,
    writes: &Writes,
) -> Result<(), PluginError> {
    let Some(lock) = shared.writer.as_ref() else {
        return Err(shared.read_only_error());
    };
    if writes.is_empty() {
        return Ok(());
    }
    if lock.lost.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(lock.lost_error());
    }
    let keys = &shared.keys;
    let limits = Limits::of(shared);

    // The operations.
    let mut ops = Vec::new();
    let mut op_bytes = 0u64;
    let mut deleted_tables = BTreeSet::new();
    for (&table, table_writes) in &writes.tables {
        let prefix = keys.data_prefix(table);
        let with_prefix = |key: &[u8]| [prefix.as_slice(), key].concat();
        for (start, end) in table_writes.range_deletes() {
            op_bytes += (start.len() + end.len()) as u64;
            let (start, end) = (with_prefix(&start), with_prefix(&end));
            ops.push(TxnOp::delete(
                start,
                Some(DeleteOptions::new().with_range(end)),
            ));
            deleted_tables.insert(table);
        }
        for (key, value) in &table_writes.rows {
            op_bytes += (key.len() + value.as_ref().map_or(0, Vec::len)) as u64;
            let key = with_prefix(key);
            match value {
                Some(value) => {
                    ops.push(TxnOp::put(key, value.clone(), None));
                }
                None => {
                    ops.push(TxnOp::delete(key, None));
                    deleted_tables.insert(table);
                }
            }
        }
    }
    let data_ops = ops.len();
    for &table in &deleted_tables {
        ops.push(TxnOp::put(keys.generation(table), Vec::new(), None));
    }
    // Markers of earlier commits, deleted by this one (given back if it fails).
    let drained: Vec<u64> = {
        let mut settled = lock
            .settled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let room = (limits.txn_ops as usize)
            .saturating_sub(ops.len() + 1)
            .min(MARKER_DELETES);
        let take = room.min(settled.len());
        settled.drain(..take).collect()
    };
    for &old in &drained {
        ops.push(TxnOp::delete(keys.marker(&lock.instance, old), None));
    }

    // The compares.
    let mut compares = vec![lock.compare(keys)];
    if let Some((revision, reads)) = snapshot {
        let conflicts = conflict_compares(
            shared,
            revision,
            reads,
            writes,
            &deleted_tables,
            limits.txn_ops as usize - compares.len() - 1,
        );
        compares.extend(conflicts);
    }
    let result = if !limits.data.fits(data_ops as u64, op_bytes)
        || ops.len() + 1 > limits.txn_ops as usize
        || compares.len() + 1 > limits.txn_ops as usize
    {
        Err(limits.too_large(data_ops, op_bytes))
    } else {
        send(shared, ops, compares)
    };
    if result.is_err() {
        // Nothing was written: the markers are still there, for a later commit to delete.
        for old in drained {
            lock.settle(old);
        }
    }
    result
}

/// Sends a commit with a marker of its own, and again with a new marker while it is known not
/// to have been applied (its member went away before answering, and another member fenced
/// it), for at most the failover timeout.
fn send(shared: &Shared, ops: Vec<TxnOp>, compares: Vec<Compare>) -> Result<(), PluginError> {
    let Some(lock) = shared.writer.as_ref() else {
        return Err(shared.read_only_error());
    };
    let keys = &shared.keys;
    let deadline = Instant::now() + shared.cluster.failover_timeout();
    loop {
        let sequence = lock
            .sequence
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let marker = keys.marker(&lock.instance, sequence);
        let mut attempt_ops = ops.clone();
        attempt_ops.push(TxnOp::put(
            marker.clone(),
            COMMITTED,
            Some(PutOptions::new().with_lease(lock.lease)),
        ));
        let mut attempt_compares = compares.clone();
        attempt_compares.push(Compare::create_revision(
            marker.clone(),
            CompareOp::Equal,
            0,
        ));
        let txn = Txn::new()
            .when(attempt_compares)
            .and_then(attempt_ops)
            .or_else([TxnOp::get(keys.lock(), None)]);
        let why = match sent(shared, &txn, sequence) {
            Sent::Done(result) => return result,
            Sent::Unanswered(why) => why,
        };
        if resolve(shared, &marker, sequence, &why)? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(PluginError::new(
                ErrorCode::TIMED_OUT,
                format!("the commit did not reach the cluster ({why}), again until the failover timeout; checked on another member: nothing was written, retry"),
            )
            .with_retryable(true));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// What one send of a commit came to.
enum Sent {
    /// An answer: applied, refused, or in conflict.
    Done(Result<(), PluginError>),
    /// No answer: the outcome is to be resolved.
    Unanswered(String),
}

/// Sends `txn` once.
fn sent(shared: &Shared, txn: &Txn, sequence: u64) -> Sent {
    let Some(lock) = shared.writer.as_ref() else {
        return Sent::Done(Err(shared.read_only_error()));
    };

    shared.cluster.count_write_txn();
    let answer = shared.cluster.attempt(&mut |mut client| {
        let txn = txn.clone();
        async move { client.kv.txn(txn).await }
    });
    Sent::Done(match answer {
        Ok(response) if response.succeeded() => {
            lock.settle(sequence);
            Ok(())
        }
        Ok(response) => {
            lock.settle(sequence);
            let holder = response.op_responses().into_iter().find_map(|op| match op {
                TxnOpResponse::Get(get) => Some(get.kvs().first().map(|kv| kv.value().to_vec())),
                _ => None,
            });
            if holder.flatten().as_deref() == Some(lock.holder.as_slice()) {
                Err(PluginError::conflict(
                "another transaction changed what this one read or wrote after it began; nothing was written: retry",
            )
            .with_retryable(true))
            } else {
                lock.lost.store(true, std::sync::atomic::Ordering::SeqCst);
                Err(lock.lost_error())
            }
        }
        Err(Failure::Refused(error)) => {
            lock.settle(sequence);
            Err(error)
        }
        Err(Failure::Unreachable(why)) => return Sent::Unanswered(why),
    })
}

/// Finds out whether a commit whose answer was lost was applied (`true`), and makes sure
/// that one that was not never is (`false`).
///
/// # Errors
/// `TIMED_OUT` (not retryable) when no member could be asked: the outcome is unknown.
fn resolve(shared: &Shared, marker: &[u8], sequence: u64, why: &str) -> Result<bool, PluginError> {
    let Some(lock) = shared.writer.as_ref() else {
        return Err(shared.read_only_error());
    };
    let lease = lock.lease;
    let fence = Txn::new()
        .when([Compare::create_revision(
            marker.to_vec(),
            CompareOp::Equal,
            0,
        )])
        .and_then([TxnOp::put(
            marker.to_vec(),
            ABANDONED,
            Some(PutOptions::new().with_lease(lease)),
        )])
        .or_else([TxnOp::get(marker.to_vec(), None)]);
    let answer = shared
        .cluster
        .run("finding out whether a commit was applied", |mut client| {
            let fence = fence.clone();
            async move { client.kv.txn(fence).await }
        });
    match answer {
        Ok(response) => {
            lock.settle(sequence);
            // The fence was put: the commit was not applied, and now never will be.
            Ok(!response.succeeded())
        }
        Err(error) => Err(PluginError::new(
            ErrorCode::TIMED_OUT,
            format!(
                "the commit's outcome is unknown: the member went away before answering ({why}), and no other member could be asked ({}); reopen the store and check",
                error.message
            ),
        )),
    }
}

/// The compares that detect a conflict: per key where they fit, else per table range.
fn conflict_compares(
    shared: &Shared,
    revision: i64,
    reads: &ReadSet,
    writes: &Writes,
    deleted_tables: &BTreeSet<u32>,
    room: usize,
) -> Vec<Compare> {
    let keys = &shared.keys;
    let after = revision + 1;
    let mut tables: BTreeSet<u32> = reads.keys.keys().copied().collect();
    tables.extend(reads.ranges.keys().copied());
    tables.extend(writes.tables.keys().copied());
    tables.extend(deleted_tables.iter().copied());

    let mut compares = Vec::new();
    let mut bytes = 0u64;
    // Per key: exact.
    for &table in &tables {
        let prefix = keys.data_prefix(table);
        let read = reads.keys.get(&table);
        for (key, &seen) in read.into_iter().flatten() {
            bytes += key.len() as u64 + ITEM_BYTES;
            compares.push(Compare::mod_revision(key.clone(), CompareOp::Equal, seen));
        }
        if let Some(written) = writes.table(table) {
            for key in written.rows.keys() {
                let key = [prefix.as_slice(), key].concat();
                if read.is_some_and(|read| read.contains_key(&key)) {
                    continue;
                }
                bytes += key.len() as u64 + ITEM_BYTES;
                compares.push(Compare::mod_revision(key, CompareOp::Less, after));
            }
            for (start, end) in &written.deleted {
                let (start, end) = (
                    [prefix.as_slice(), start].concat(),
                    [prefix.as_slice(), end].concat(),
                );
                bytes += (start.len() + end.len()) as u64 + ITEM_BYTES;
                compares.push(Compare::mod_revision(start, CompareOp::Less, after).with_range(end));
            }
        }
        for (start, end) in reads.ranges.get(&table).into_iter().flatten() {
            bytes += (start.len() + end.len()) as u64 + ITEM_BYTES;
            compares.push(
                Compare::mod_revision(start.clone(), CompareOp::Less, after)
                    .with_range(end.clone()),
            );
        }
        let generation = keys.generation(table);
        bytes += generation.len() as u64 + ITEM_BYTES;
        compares.push(Compare::mod_revision(generation, CompareOp::Less, after));
    }
    if compares.len() <= room && bytes <= COMPARE_BYTES {
        return compares;
    }
    // Too many for one txn: one range per table, from its first key read or written to its
    // last, and its generation (coarser: a change next to what was read conflicts too).
    let mut compares = Vec::new();
    for &table in &tables {
        let prefix = keys.data_prefix(table);
        let mut first: Option<Vec<u8>> = None;
        let mut last: Option<Vec<u8>> = None;
        let mut widen = |start: &[u8], end_inclusive: &[u8]| {
            if first.as_deref().is_none_or(|first| start < first) {
                first = Some(start.to_vec());
            }
            if last.as_deref().is_none_or(|last| end_inclusive > last) {
                last = Some(end_inclusive.to_vec());
            }
        };
        for key in reads.keys.get(&table).into_iter().flat_map(BTreeMap::keys) {
            widen(key, key);
        }
        for (start, end) in reads.ranges.get(&table).into_iter().flatten() {
            widen(start, end);
        }
        if let Some(written) = writes.table(table) {
            for key in written.rows.keys() {
                let key = [prefix.as_slice(), key].concat();
                widen(&key, &key);
            }
            for (start, end) in &written.deleted {
                widen(
                    &[prefix.as_slice(), start].concat(),
                    &[prefix.as_slice(), end].concat(),
                );
            }
        }
        if let (Some(first), Some(last)) = (first, last) {
            let end = crate::writes::successor(&last);
            compares.push(Compare::mod_revision(first, CompareOp::Less, after).with_range(end));
        }
        compares.push(Compare::mod_revision(
            keys.generation(table),
            CompareOp::Less,
            after,
        ));
    }
    compares
}

/// The cluster's request limits, as configured, and what they leave a commit's data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// `max_txn_ops`.
    pub(crate) txn_ops: u32,
    /// `max_request_bytes`.
    pub(crate) request_bytes: u64,
    /// What one commit's writes may be: the operations and the request bytes left once the
    /// marker, generation keys, settled markers, compares and framing are set aside.
    pub(crate) data: WriteLimits,
}

impl Limits {
    /// The limits of `shared`'s config.
    pub(crate) fn of(shared: &Shared) -> Self {
        Self::new(&shared.config, &shared.keys)
    }

    /// The limits of `config` for keys under `keys`.
    pub(crate) fn new(config: &EtcdConfig, keys: &Keyspace) -> Self {
        let txn_ops = config.max_txn_ops;
        let request_bytes = config.max_request_bytes.as_u64();
        let data_ops = u64::from(txn_ops.saturating_sub(Self::RESERVED_OPS));
        let framing = OP_FRAMING + keys.data_prefix(0).len() as u64;
        Self {
            txn_ops,
            request_bytes,
            data: WriteLimits {
                max_ops: data_ops,
                max_bytes: request_bytes
                    .saturating_sub(REQUEST_OVERHEAD_BYTES)
                    .saturating_sub(data_ops * framing),
            },
        }
    }

    /// The operations one commit may carry beyond its data: the marker, the generation keys
    /// of the tables it deletes from, and settled markers.
    pub(crate) const RESERVED_OPS: u32 = 32;

    /// `FULL` for a commit of `ops` writes of `bytes` bytes of keys and values that does not
    /// fit.
    pub(crate) fn too_large(self, ops: usize, bytes: u64) -> PluginError {
        PluginError::new(
            ErrorCode::FULL,
            format!(
                "the commit holds {ops} writes of {bytes} bytes; one etcd txn takes at most {} writes of {} bytes here (from max_txn_ops = {} and max_request_bytes = {}: the members' --max-txn-ops and --max-request-bytes, and the plugin's config keys of the same names): nothing was sent; commit in smaller transactions",
                self.data.max_ops, self.data.max_bytes, self.txn_ops, self.request_bytes
            ),
        )
        .with_key("max_txn_ops")
    }
}
