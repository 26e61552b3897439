//! Undoing a load that did not finish: on error, on drop, or (after a crash) at the next
//! writing open of the store.
//!
//! The journal's quads are removed, then the terms from the journal marker's id on, in
//! commits of [`UNDO_CHUNK`] entries; each commit deletes the journal entries it undid, so an
//! undo interrupted in turn resumes where it stopped. The first commit moves the dictionary
//! to a new generation (term ids from the marker on will be handed out again), the last
//! deletes the marker.

use kgdb_plugin_api::{ScanSpec, TableId, TxnOptions};

use super::encoding::{decode_count, encode_count, key_of, EncodedTerm, TermId};
use super::error::{Context, StoreError};
use super::index::{EncodedQuad, Ordering};
use super::layout::{meta, JOURNAL_TABLE};
use super::transaction::Transaction;
use super::Store;

/// Journal entries or terms undone per commit, on a backend that does not bound commits.
const UNDO_CHUNK: usize = 50_000;

/// Journal entries, index keys or terms undone per commit on `store`: [`UNDO_CHUNK`], or
/// fewer within the backend's write limits (a journaled quad deletes up to a dozen keys).
fn undo_chunk(store: &Store) -> usize {
    store.items_per_commit(UNDO_CHUNK, 12, 512)
}

/// The first `chunk` keys of `table`, as `txn` sees it (`what` names the read in errors).
fn first_keys(
    txn: &mut Transaction<'_>,
    table: TableId,
    chunk: usize,
    what: &str,
) -> Result<Vec<Vec<u8>>, StoreError> {
    txn.backend_txn()?
        .scan(table, ScanSpec::all())
        .context(what)?
        .take(chunk)
        .map(|row| row.map(|(key, _)| key))
        .collect::<Result<_, _>>()
        .context(what)
}

/// Deletes every key of the nine orderings, in commits of [`undo_chunk`] keys (the first
/// also restarts the ids at `first_new_id`); returns how many went.
fn clear_orderings(store: &Store, first_new_id: u64) -> Result<u64, StoreError> {
    let chunk = undo_chunk(store);
    let mut removed = 0u64;
    let mut first = true;
    for ordering in Ordering::ALL {
        let table = store.tables.ordering(ordering);
        loop {
            let mut txn = Transaction::begin(store, None)?;
            if first {
                txn.restart_ids_at(first_new_id);
                first = false;
            }
            let keys = first_keys(&mut txn, table, chunk, "reading an index")?;
            let done = keys.len() < chunk;
            for key in &keys {
                txn.delete_raw(table, key);
            }
            txn.commit()?;
            removed += keys.len() as u64;
            if done {
                break;
            }
            tracing::info!(
                stage = "quads",
                keys = removed,
                "undo: removed the load's index keys so far"
            );
        }
    }
    Ok(removed)
}

/// At a writing open: undoes an interrupted load, if the store records one, and drops a
/// leftover journal table; `true` when a load was undone.
pub(super) fn recover(store: &Store) -> Result<bool, StoreError> {
    let _writer = store.lock_writer();
    undo(store)
}

/// Undoes the recorded load, if any (the caller holds the writer slot); `true` when there was
/// one.
pub(super) fn undo(store: &Store) -> Result<bool, StoreError> {
    let tables = store.backend.list_tables().context("listing tables")?;
    let has_journal_table = tables.iter().any(|name| name == JOURNAL_TABLE);
    let start = store
        .backend
        .begin(TxnOptions::READ_ONLY)
        .context("starting a read transaction")?
        .get(store.tables.meta, meta::LOAD_JOURNAL)
        .context("reading the load journal")?
        .map(|bytes| decode_count(&bytes, "load-journal"))
        .transpose()?;
    let Some(first_new_id) = start else {
        if has_journal_table {
            store
                .backend
                .drop_table(JOURNAL_TABLE)
                .context("dropping a finished load journal")?;
        }
        return Ok(false);
    };
    if !has_journal_table {
        return Err(StoreError::corrupt(
            "the store records an interrupted load, but its journal table `load.journal` is missing",
        ));
    }
    tracing::info!(
        stage = "start",
        "undoing a load that did not finish (terms from id {first_new_id} on)"
    );
    let journal = store
        .backend
        .open_table(JOURNAL_TABLE, false)
        .context("opening the load journal")?;
    // A sorted load writes its counters in its last commit: until then they leave it out.
    let uncounted = store
        .backend
        .begin(TxnOptions::READ_ONLY)
        .context("starting a read transaction")?
        .get(store.tables.meta, meta::LOAD_UNCOUNTED)
        .context("reading the load journal")?;
    let counted = uncounted.is_none();
    let chunk = undo_chunk(store);
    let started = std::time::Instant::now();
    let (mut quads_removed, mut terms_removed) = (0u64, 0u64);
    let mut first = true;
    if uncounted.as_deref() == Some(meta::INTO_EMPTY) {
        // The store held no quad when the load began: every quad it holds is the load's.
        quads_removed = clear_orderings(store, first_new_id)?;
        first = false;
    }
    loop {
        let mut txn = Transaction::begin(store, None)?;
        if first {
            txn.restart_ids_at(first_new_id);
            first = false;
        }
        let keys = first_keys(&mut txn, journal, chunk, "reading the load journal")?;
        let done = keys.is_empty();
        for key in &keys {
            // A journaled quad is in the store: the load wrote both in one commit, and each
            // undo commit removes both. No read per quad.
            let quad = EncodedQuad::from_journal_key(key)?;
            if counted {
                txn.remove_journaled(&quad)?;
            } else {
                txn.delete_quad_keys(&quad)?;
            }
            txn.delete_raw(journal, key);
        }
        txn.commit()?;
        quads_removed += keys.len() as u64;
        if done {
            break;
        }
        tracing::info!(
            stage = "quads",
            quads = quads_removed,
            "undo: removed the load's quads so far"
        );
    }
    let start_key = key_of(&[TermId(first_new_id)]);
    loop {
        let mut txn = Transaction::begin(store, None)?;
        let entries: Vec<(Vec<u8>, Vec<u8>)> = txn
            .backend_txn()?
            .scan(
                store.tables.id2term,
                ScanSpec::range(
                    std::ops::Bound::Included(&start_key),
                    std::ops::Bound::Unbounded,
                ),
            )
            .context("reading the dictionary")?
            .take(chunk)
            .collect::<Result<_, _>>()
            .context("reading the dictionary")?;
        let done = entries.is_empty();
        terms_removed += entries.len() as u64;
        for (key, value) in entries {
            let hash = EncodedTerm::from_bytes(value).hash(&store.hasher);
            txn.delete_raw(store.tables.term2id, &hash);
            txn.delete_raw(store.tables.id2term, &key);
            if counted {
                txn.count_removed_term();
            }
        }
        if done {
            txn.put_raw(
                store.tables.meta,
                meta::NEXT_ID,
                &encode_count(first_new_id),
            );
            txn.delete_raw(store.tables.meta, meta::LOAD_JOURNAL);
            txn.delete_raw(store.tables.meta, meta::LOAD_UNCOUNTED);
            txn.delete_raw(store.tables.meta, meta::LOAD_OWNER);
        }
        txn.commit()?;
        if done {
            break;
        }
        tracing::info!(
            stage = "terms",
            quads = quads_removed,
            terms = terms_removed,
            "undo: removed the load's terms so far"
        );
    }
    store
        .backend
        .drop_table(JOURNAL_TABLE)
        .context("dropping the load journal")?;
    tracing::info!(
        stage = "done",
        quads = quads_removed,
        terms = terms_removed,
        seconds = started.elapsed().as_secs_f64(),
        "the interrupted load was undone"
    );
    Ok(true)
}
