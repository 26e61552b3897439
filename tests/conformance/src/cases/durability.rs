use kgdb_loader::{table_of_table_bytes, Capabilities, ErrorCode, ScanSpec, SyncMode, TxnOptions};

use super::register;
use crate::fixture::{binary_rows, expect_code, numbered, scan_all, Fixture};

/// Data survives close and reopen byte for byte (persistent backends); a backend that is not
/// persistent comes back empty, as it declares.
pub(crate) fn reopen_keeps_every_byte(f: &mut Fixture) {
    let t = f.table("t");
    let rows = binary_rows();
    f.write_rows(t, &rows);
    f.reopen();
    let persistent = f.caps().has(Capabilities::PERSISTENT);
    if !persistent {
        expect_code(f.backend.open_table("t", false), ErrorCode::NOT_FOUND);
        return;
    }
    assert_eq!(f.backend.list_tables().unwrap(), vec!["t"]);
    let t = f.backend.open_table("t", false).unwrap();
    assert_eq!(scan_all(&f.read(), t, ScanSpec::all()), rows);
}

/// A flushed backend dropped without `close` reopens with every row.
pub(crate) fn reopen_after_flush(f: &mut Fixture) {
    let t = f.table("t");
    let rows = binary_rows();
    f.write_rows(t, &rows);
    if !f.caps().has(Capabilities::FLUSH) {
        expect_code(f.backend.flush(), ErrorCode::UNSUPPORTED);
        return;
    }
    f.backend.flush().unwrap();
    f.reopen();
    if f.caps().has(Capabilities::PERSISTENT) {
        let t = f.backend.open_table("t", false).unwrap();
        assert_eq!(scan_all(&f.read(), t, ScanSpec::all()), rows);
    }
}

/// A checkpoint opens as a data directory holding what was committed before it, and nothing
/// committed after.
pub(crate) fn checkpoint_opens_as_a_copy(f: &mut Fixture) {
    let t = f.table("t");
    let rows = binary_rows();
    f.write_rows(t, &rows);
    let target = f.dir.path().join("checkpoint");
    if !f.caps().has(Capabilities::CHECKPOINT) {
        expect_code(f.backend.checkpoint(&target), ErrorCode::UNSUPPORTED);
        return;
    }
    f.backend.checkpoint(&target).unwrap();
    f.put_all(t, &[(b"after-checkpoint", b"x")]);
    let copy = f.open_other(&target).unwrap();
    let table = copy.open_table("t", false).unwrap();
    let read = copy.begin(TxnOptions::READ_ONLY).unwrap();
    assert_eq!(scan_all(&read, table, ScanSpec::all()), rows);
    assert_eq!(read.get(table, b"after-checkpoint").unwrap(), None);
    // Checkpointing into an existing directory is refused, never merged.
    assert!(f.backend.checkpoint(&target).is_err());
}

/// Compaction keeps every key.
pub(crate) fn compact_keeps_every_key(f: &mut Fixture) {
    let t = f.table("t");
    let rows = binary_rows();
    f.write_rows(t, &rows);
    let mut txn = f.write();
    for (k, _) in rows.iter().step_by(3) {
        txn.delete(t, k).unwrap();
    }
    txn.commit().unwrap();
    let expected: Vec<_> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, r)| r.clone())
        .collect();
    if !f.caps().has(Capabilities::COMPACT) {
        expect_code(f.backend.compact(None), ErrorCode::UNSUPPORTED);
        return;
    }
    f.backend.compact(Some(t)).unwrap();
    f.backend.compact(None).unwrap();
    assert_eq!(scan_all(&f.read(), t, ScanSpec::all()), expected);
}

/// Native statistics count what is stored, under the engine's own names.
pub(crate) fn stats_agree_with_the_data(f: &mut Fixture) {
    let t = f.table("t");
    f.write_rows(t, &binary_rows());
    if !f.caps().has(Capabilities::NATIVE_STATS) {
        expect_code(f.backend.stats(), ErrorCode::UNSUPPORTED);
        return;
    }
    if f.caps().has(Capabilities::FLUSH) {
        f.backend.flush().unwrap();
    }
    let stats = f.backend.stats().unwrap();
    assert!(!stats.is_empty());
    let keys = stats
        .iter()
        .find(|s| s.unit == "keys" && !s.name.contains('['))
        .unwrap_or_else(|| panic!("a key count among {stats:?}"));
    // RocksDB's count is an estimate; the others are exact.
    let expected = binary_rows().len() as u64;
    assert!(
        keys.value.abs_diff(expected) <= expected / 10,
        "{} = {}, stored {expected}",
        keys.name,
        keys.value
    );
    // Bytes per table, where the plugin tells: only tables that exist, and the one written to
    // is not empty.
    let tables = f.backend.list_tables().unwrap();
    let sizes: Vec<(&str, u64)> = stats
        .iter()
        .filter_map(|s| table_of_table_bytes(&s.name, &s.unit).map(|table| (table, s.value)))
        .collect();
    for (table, _) in &sizes {
        assert!(
            tables.iter().any(|t| t == table),
            "bytes of `{table}`, which is not a table ({tables:?})"
        );
    }
    if !sizes.is_empty() {
        let written = sizes.iter().find(|(table, _)| *table == "t");
        assert!(
            written.is_some_and(|(_, bytes)| *bytes > 0),
            "table `t` holds rows but its bytes are {written:?}"
        );
    } else {
        f.note("the plugin reports no bytes per table (`kgdb.table_bytes[…]`)");
    }
}

/// The instance's own cache (the `kgdb.cache-budget.v1` extension, which the host raises for a
/// large load): where it has one the host can size, a new capacity reads back, each call
/// answers the capacity it replaced, and every key reads as before, also with a capacity too
/// small to hold anything; a plugin without one answers none to both calls.
pub(crate) fn cache_resize_keeps_every_key(f: &mut Fixture) {
    let t = f.table("t");
    let rows = binary_rows();
    f.write_rows(t, &rows);
    let Some(before) = f.backend.cache_capacity().unwrap() else {
        assert_eq!(f.backend.set_cache_capacity(1 << 20).unwrap(), None);
        assert_eq!(f.backend.cache_capacity().unwrap(), None);
        f.note("the plugin has no cache the host can size (`kgdb.cache-budget.v1`)");
        return;
    };
    let raised = before.saturating_mul(2).max(1 << 20);
    assert_eq!(f.backend.set_cache_capacity(raised).unwrap(), Some(before));
    assert_eq!(f.backend.cache_capacity().unwrap(), Some(raised));
    assert_eq!(scan_all(&f.read(), t, ScanSpec::all()), rows);
    assert_eq!(f.backend.set_cache_capacity(1).unwrap(), Some(raised));
    assert_eq!(scan_all(&f.read(), t, ScanSpec::all()), rows);
    assert_eq!(f.backend.set_cache_capacity(before).unwrap(), Some(1));
    assert_eq!(f.backend.cache_capacity().unwrap(), Some(before));
    assert_eq!(scan_all(&f.read(), t, ScanSpec::all()), rows);
}

/// Whether reopened data can be checked: the backend declares `persistent`. Otherwise the
/// case checks that a reopened backend is empty, as declared.
fn reopened_is_checkable(f: &mut Fixture) -> bool {
    if f.has(Capabilities::PERSISTENT) {
        return true;
    }
    f.reopen();
    assert!(
        f.backend.list_tables().unwrap().is_empty(),
        "a backend without `persistent` kept tables across a reopen"
    );
    false
}

/// A writer child process committing with `SyncMode::SYNC` is killed (SIGKILL) three times at
/// random moments; after each kill every acknowledged commit is there whole and no commit is
/// there in part.
pub(crate) fn sigkill_keeps_acknowledged_sync_commits(f: &mut Fixture) {
    if !f.has(Capabilities::PERSISTENT | Capabilities::DURABLE_SYNC) {
        let sync = TxnOptions {
            read_only: false,
            sync: SyncMode::SYNC,
        };
        if !f.has(Capabilities::DURABLE_SYNC) {
            expect_code(f.backend.begin(sync).map(drop), ErrorCode::UNSUPPORTED);
        }
        f.note("not `persistent` + `durable-sync`: nothing survives a process, checked `sync` is refused or harmless");
        return;
    }
    let writer = f
        .target
        .crash_writer
        .clone()
        .expect("this case needs a crash-writer program (kgdb-host provides one)");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64);
    let acked = crate::crash::kill_and_check(&writer, &f.target.library, &f.target.config, 3, seed);
    assert!(acked > 0, "seed {seed}: the writer never got to commit");
}

/// Five hundred small commits all survive close and reopen.
pub(crate) fn reopen_after_many_small_commits(f: &mut Fixture) {
    let t = f.table("t");
    for i in 0..500 {
        f.put_all(t, &[(&numbered(i), &(i as u32).to_be_bytes())]);
    }
    if !reopened_is_checkable(f) {
        return;
    }
    f.reopen();
    let t = f.backend.open_table("t", false).unwrap();
    let rows = f.rows(t);
    assert_eq!(rows.len(), 500);
    for (i, (key, value)) in rows.iter().enumerate() {
        assert_eq!(key, &numbered(i));
        assert_eq!(value, &(i as u32).to_be_bytes());
    }
}

/// Deletes and overwrites are what a reopened backend shows: no deleted key comes back, no
/// old value reappears.
pub(crate) fn reopen_keeps_deletes_and_overwrites(f: &mut Fixture) {
    let t = f.table("t");
    let rows = binary_rows();
    f.write_rows(t, &rows);
    let mut txn = f.write();
    for (i, (key, _)) in rows.iter().enumerate() {
        match i % 3 {
            0 => txn.delete(t, key).unwrap(),
            1 => txn.put(t, key, b"overwritten").unwrap(),
            _ => {}
        }
    }
    txn.commit().unwrap();
    let expected = f.rows(t);
    assert_eq!(expected.len(), rows.len() - rows.len().div_ceil(3));
    if !reopened_is_checkable(f) {
        return;
    }
    f.reopen();
    let t = f.backend.open_table("t", false).unwrap();
    assert_eq!(f.rows(t), expected);
}

/// Tables dropped before a reopen stay dropped; the others keep their rows.
pub(crate) fn dropped_tables_stay_dropped(f: &mut Fixture) {
    for name in ["keep", "drop-me", "keep-too"] {
        let t = f.table(name);
        f.put_all(t, &[(name.as_bytes(), b"v")]);
    }
    assert!(f.backend.drop_table("drop-me").unwrap());
    if !reopened_is_checkable(f) {
        return;
    }
    f.reopen();
    assert_eq!(f.backend.list_tables().unwrap(), vec!["keep", "keep-too"]);
    expect_code(f.backend.open_table("drop-me", false), ErrorCode::NOT_FOUND);
    let keep = f.backend.open_table("keep", false).unwrap();
    assert_eq!(f.keys(keep), vec![b"keep".to_vec()]);
}

/// A checkpoint is independent of its source: writes to either after the copy do not reach
/// the other, and the copy opens after the source is closed.
pub(crate) fn checkpoint_is_independent_of_its_source(f: &mut Fixture) {
    let t = f.table("t");
    let rows = binary_rows();
    f.write_rows(t, &rows);
    let target = f.dir.path().join("copy");
    if !f.has(Capabilities::CHECKPOINT) {
        expect_code(f.backend.checkpoint(&target), ErrorCode::UNSUPPORTED);
        return;
    }
    f.backend.checkpoint(&target).unwrap();
    f.put_all(t, &[(b"source-only", b"x")]);
    f.backend.close().unwrap();
    let copy = f.open_other(&target).unwrap();
    let ct = copy.open_table("t", false).unwrap();
    let mut txn = copy.begin(TxnOptions::READ_WRITE).unwrap();
    txn.put(ct, b"copy-only", b"y").unwrap();
    txn.commit().unwrap();
    let read = copy.begin(TxnOptions::READ_ONLY).unwrap();
    assert_eq!(read.get(ct, b"source-only").unwrap(), None);
    assert_eq!(scan_all(&read, ct, ScanSpec::all()).len(), rows.len() + 1);
    drop(read);
    copy.close().unwrap();
    if f.has(Capabilities::PERSISTENT) {
        let source = f.open_other(&f.data_dir()).unwrap();
        let st = source.open_table("t", false).unwrap();
        let read = source.begin(TxnOptions::READ_ONLY).unwrap();
        assert_eq!(read.get(st, b"copy-only").unwrap(), None);
        assert_eq!(
            read.get(st, b"source-only").unwrap().as_deref(),
            Some(&b"x"[..])
        );
        drop(read);
        source.close().unwrap();
    }
}

/// After compaction and a reopen, every key and value is still there.
pub(crate) fn reopen_after_compaction(f: &mut Fixture) {
    let t = f.table("t");
    let rows: Vec<_> = (0..5_000)
        .map(|i| (numbered(i), vec![(i % 256) as u8; 100]))
        .collect();
    f.write_rows(t, &rows);
    let mut txn = f.write();
    for i in (0..5_000).step_by(2) {
        txn.delete(t, &numbered(i)).unwrap();
    }
    txn.commit().unwrap();
    if f.has(Capabilities::COMPACT) {
        f.backend.compact(None).unwrap();
    } else {
        expect_code(f.backend.compact(None), ErrorCode::UNSUPPORTED);
    }
    let expected: Vec<_> = rows.into_iter().skip(1).step_by(2).collect();
    assert_eq!(f.rows(t), expected);
    if !reopened_is_checkable(f) {
        return;
    }
    f.reopen();
    let t = f.backend.open_table("t", false).unwrap();
    assert_eq!(f.rows(t), expected);
}

register!(Durability:
    reopen_keeps_every_byte,
    reopen_after_flush,
    checkpoint_opens_as_a_copy,
    compact_keeps_every_key,
    stats_agree_with_the_data,
    sigkill_keeps_acknowledged_sync_commits,
    reopen_after_many_small_commits,
    reopen_keeps_deletes_and_overwrites,
    dropped_tables_stay_dropped,
    checkpoint_is_independent_of_its_source,
    reopen_after_compaction,
    cache_resize_keeps_every_key,
);
