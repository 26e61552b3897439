use kgdb_loader::{
    BackendError, Capabilities, ErrorCode, KvBatch, ScanSpec, SortedRun, SyncMode, TableId,
    WriteBatch, WriteOptions,
};

use super::register;
use crate::fixture::{expect_code, keys, numbered, owned, scan_all, Fixture};

/// Write batches: last write wins, mixed puts and deletes, all or none when one op is invalid.
pub(crate) fn write_batches_are_atomic(f: &mut Fixture) {
    let t = f.table("t");
    let mut batch = WriteBatch::new();
    batch.put(t, b"a", b"1");
    batch.put(t, b"a", b"2");
    batch.put(t, b"b", b"1");
    batch.delete(t, b"b");
    batch.put(t, b"c", b"1");
    let options = WriteOptions {
        sync: SyncMode::DEFAULT,
    };
    if !f.caps().has(Capabilities::ATOMIC_BATCH) {
        expect_code(
            f.backend.write_batch(&batch, options),
            ErrorCode::UNSUPPORTED,
        );
        return;
    }
    f.backend.write_batch(&WriteBatch::new(), options).unwrap();
    f.backend.write_batch(&batch, options).unwrap();
    assert_eq!(f.get(t, b"a").as_deref(), Some(&b"2"[..]));
    assert_eq!(f.get(t, b"b"), None);
    let mut bad = WriteBatch::new();
    bad.put(t, b"d", b"1");
    bad.put(t, &vec![0u8; f.caps().max_key_size as usize + 1], b"x");
    expect_code(
        f.backend.write_batch(&bad, options),
        ErrorCode::INVALID_ARGUMENT,
    );
    assert_eq!(
        f.get(t, b"d"),
        None,
        "nothing of a refused batch is applied"
    );
    // The same inside a transaction.
    let mut txn = f.write();
    expect_code(txn.write_batch(&bad), ErrorCode::INVALID_ARGUMENT);
    assert_eq!(txn.get(t, b"d").unwrap(), None);
    txn.write_batch(&batch).unwrap();
    txn.commit().unwrap();
}

/// Range deletes remove exactly `[start, end)`, or answer `UNSUPPORTED`.
pub(crate) fn delete_range_removes_exactly_the_range(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"a", b""), (b"b", b""), (b"c", b""), (b"d", b"")]);
    let mut txn = f.write();
    if !f.caps().has(Capabilities::DELETE_RANGE) {
        expect_code(txn.delete_range(t, b"b", b"d"), ErrorCode::UNSUPPORTED);
        return;
    }
    txn.delete_range(t, b"b", b"d").unwrap();
    txn.commit().unwrap();
    let read = f.read();
    assert_eq!(
        keys(&scan_all(&read, t, ScanSpec::all())),
        vec![b"a".to_vec(), b"d".to_vec()]
    );
}

/// Sorted runs ingest; an unsorted run is refused whole.
pub(crate) fn ingest_sorted_runs(f: &mut Fixture) {
    let t = f.table("t");
    let u = f.table("u");
    let options = WriteOptions {
        sync: SyncMode::DEFAULT,
    };
    let mut rows = KvBatch::new();
    for i in 0..1000 {
        rows.push(&numbered(i), b"v").unwrap();
    }
    let mut other = KvBatch::new();
    other.push(b"x", b"y").unwrap();
    let runs = [
        SortedRun { table: t, rows },
        SortedRun {
            table: u,
            rows: other,
        },
    ];
    if !f.caps().has(Capabilities::BULK_INGEST) {
        expect_code(
            f.backend.ingest_sorted(&runs, options),
            ErrorCode::UNSUPPORTED,
        );
        return;
    }
    f.backend.ingest_sorted(&runs, options).unwrap();
    let read = f.read();
    assert_eq!(scan_all(&read, t, ScanSpec::all()).len(), 1000);
    assert_eq!(read.get(u, b"x").unwrap().as_deref(), Some(&b"y"[..]));
    let mut unsorted = KvBatch::new();
    unsorted.push(b"n2", b"").unwrap();
    unsorted.push(b"n1", b"").unwrap();
    expect_code(
        f.backend.ingest_sorted(
            &[SortedRun {
                table: t,
                rows: unsorted,
            }],
            options,
        ),
        ErrorCode::INVALID_ARGUMENT,
    );
    assert_eq!(f.get(t, b"n2"), None);
}

const DEFAULT_WRITE: WriteOptions = WriteOptions {
    sync: SyncMode::DEFAULT,
};

/// Applies `batch` atomically: with `Backend::write_batch` where the plugin declares
/// `atomic-batch` (after checking it is refused where it does not), else in one transaction.
fn apply(f: &Fixture, batch: &WriteBatch) -> Result<(), BackendError> {
    if f.has(Capabilities::ATOMIC_BATCH) {
        f.backend.write_batch(batch, DEFAULT_WRITE)
    } else {
        expect_code(
            f.backend.write_batch(batch, DEFAULT_WRITE),
            ErrorCode::UNSUPPORTED,
        );
        let mut txn = f.write();
        txn.write_batch(batch)?;
        txn.commit()
    }
}

fn puts(t: TableId, count: usize) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for i in 0..count {
        batch.put(t, &numbered(i), &(i as u32).to_le_bytes());
    }
    batch
}

fn check_numbered(f: &Fixture, t: TableId, count: usize) {
    let mut expected = 0;
    for row in f.read().scan(t, ScanSpec::all()).unwrap() {
        let (key, value) = row.unwrap();
        assert_eq!(key, numbered(expected));
        assert_eq!(value, (expected as u32).to_le_bytes());
        expected += 1;
    }
    assert_eq!(expected, count);
}

/// An empty batch succeeds and changes nothing, on the backend and in a transaction.
pub(crate) fn empty_batch_changes_nothing(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"k", b"v")]);
    apply(f, &WriteBatch::new()).unwrap();
    let mut txn = f.write();
    txn.write_batch(&WriteBatch::new()).unwrap();
    txn.commit().unwrap();
    assert_eq!(f.rows(t), vec![(b"k".to_vec(), b"v".to_vec())]);
}

/// A batch of one put, then one delete, each applies.
pub(crate) fn one_operation(f: &mut Fixture) {
    let t = f.table("t");
    let mut batch = WriteBatch::new();
    batch.put(t, b"only", b"one");
    apply(f, &batch).unwrap();
    assert_eq!(f.get(t, b"only").as_deref(), Some(&b"one"[..]));
    let mut batch = WriteBatch::new();
    batch.delete(t, b"only");
    apply(f, &batch).unwrap();
    assert_eq!(f.get(t, b"only"), None);
}

/// A batch of 10,000 puts applies whole.
pub(crate) fn ten_thousand_puts(f: &mut Fixture) {
    let t = f.table("t");
    apply(f, &puts(t, 10_000)).unwrap();
    check_numbered(f, t, 10_000);
}

/// A batch of 100,000 puts applies whole.
///
/// Past the backend's declared write limits, the batch is refused whole with `FULL` (nothing
/// written), then applied in batches that fit.
pub(crate) fn a_hundred_thousand_puts(f: &mut Fixture) {
    let t = f.table("t");
    let all = puts(t, 100_000);
    match f.backend.write_limits() {
        Some(limits) if !limits.fits(all.len() as u64, all.byte_len() as u64) => {
            let error = expect_code(apply(f, &all), ErrorCode::FULL);
            assert!(
                f.rows(t).is_empty(),
                "a batch refused with `{error}` wrote rows"
            );
            let mut batch = WriteBatch::new();
            for i in 0..100_000 {
                let (key, value) = (numbered(i), (i as u32).to_le_bytes());
                let size = (key.len() + value.len()) as u64;
                if !limits.fits(batch.len() as u64 + 1, batch.byte_len() as u64 + size) {
                    apply(f, &batch).unwrap();
                    batch.clear();
                }
                batch.put(t, &key, &value);
            }
            apply(f, &batch).unwrap();
            f.note(format!(
                "write limits of {} writes and {} bytes per commit: the batch was refused whole, then applied in parts",
                limits.max_ops, limits.max_bytes
            ));
        }
        _ => apply(f, &all).unwrap(),
    }
    check_numbered(f, t, 100_000);
}

/// Several writes of one key in a batch: the last wins, whether a put or a delete.
pub(crate) fn duplicates_last_wins(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"c", b"stored")]);
    let mut batch = WriteBatch::new();
    batch.put(t, b"a", b"1");
    batch.put(t, b"a", b"2");
    batch.delete(t, b"a");
    batch.put(t, b"a", b"3");
    batch.put(t, b"b", b"1");
    batch.delete(t, b"b");
    batch.delete(t, b"c");
    batch.put(t, b"c", b"new");
    batch.put(t, b"c", b"newer");
    apply(f, &batch).unwrap();
    assert_eq!(
        f.rows(t),
        vec![
            (b"a".to_vec(), b"3".to_vec()),
            (b"c".to_vec(), b"newer".to_vec())
        ]
    );
}

/// Puts and deletes mixed over existing and new keys apply exactly.
pub(crate) fn mixed_puts_and_deletes(f: &mut Fixture) {
    let t = f.table("t");
    let rows: Vec<_> = (0..100).map(|i| (numbered(i), b"old".to_vec())).collect();
    f.write_rows(t, &rows);
    let mut batch = WriteBatch::new();
    for i in 0..150 {
        match i % 3 {
            0 => batch.delete(t, &numbered(i)),
            1 => batch.put(t, &numbered(i), b"new"),
            _ => {}
        }
    }
    batch.delete(t, b"never-written");
    apply(f, &batch).unwrap();
    let expected: Vec<_> = (0..150)
        .filter_map(|i| match i % 3 {
            0 => None,
            1 => Some((numbered(i), b"new".to_vec())),
            _ => (i < 100).then(|| (numbered(i), b"old".to_vec())),
        })
        .collect();
    assert_eq!(f.rows(t), expected);
}

/// One invalid operation (an empty key, an oversized key or value), wherever it stands in the
/// batch, fails the batch with `INVALID_ARGUMENT` and applies none of it.
pub(crate) fn one_invalid_operation_applies_nothing(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"kept", b"v")]);
    let caps = f.caps();
    let long_key = vec![b'k'; caps.max_key_size as usize + 1];
    let long_value = vec![0u8; caps.max_value_size as usize + 1];
    let invalid: [(&[u8], &[u8]); 3] = [(b"", b"v"), (&long_key, b"v"), (b"key", &long_value)];
    for (key, value) in invalid {
        for position in [0, 5, 10] {
            let mut batch = WriteBatch::new();
            for i in 0..10 {
                if i == position {
                    batch.put(t, key, value);
                }
                batch.put(t, &numbered(i), b"x");
            }
            if position == 10 {
                batch.put(t, key, value);
            }
            batch.delete(t, b"kept");
            expect_code(apply(f, &batch), ErrorCode::INVALID_ARGUMENT);
            assert_eq!(f.keys(t), owned(&[b"kept"]), "invalid op at {position}");
        }
    }
}

/// A batch over three tables applies to all of them, or (one operation invalid) to none.
pub(crate) fn spans_tables_atomically(f: &mut Fixture) {
    let tables = [f.table("one"), f.table("two"), f.table("three")];
    let mut batch = WriteBatch::new();
    for (i, t) in tables.iter().enumerate() {
        batch.put(*t, b"k", &[i as u8]);
    }
    let mut bad = batch.clone();
    bad.put(tables[2], b"", b"empty key");
    expect_code(apply(f, &bad), ErrorCode::INVALID_ARGUMENT);
    for t in tables {
        assert_eq!(f.get(t, b"k"), None);
    }
    apply(f, &batch).unwrap();
    for (i, t) in tables.iter().enumerate() {
        assert_eq!(f.get(*t, b"k"), Some(vec![i as u8]));
    }
}

/// A batch naming a table that does not exist (dropped) fails with `NOT_FOUND` and applies
/// nothing to the tables that do, on the backend and inside a transaction.
pub(crate) fn unknown_table_applies_nothing(f: &mut Fixture) {
    let t = f.table("t");
    let gone = f.table("gone");
    assert!(f.backend.drop_table("gone").unwrap());
    let mut batch = WriteBatch::new();
    batch.put(t, b"a", b"1");
    batch.put(gone, b"b", b"2");
    expect_code(apply(f, &batch), ErrorCode::NOT_FOUND);
    assert_eq!(f.get(t, b"a"), None);
    // Inside a transaction too: the refused batch leaves nothing behind, and the transaction
    // goes on to commit its other writes.
    let mut txn = f.write();
    txn.put(t, b"before", b"kept").unwrap();
    expect_code(txn.write_batch(&batch), ErrorCode::NOT_FOUND);
    assert_eq!(
        txn.get(t, b"a").unwrap(),
        None,
        "half a refused batch is visible"
    );
    txn.commit().unwrap();
    assert_eq!(f.keys(t), owned(&[b"before"]));
}

/// A range delete inside a batch removes `[start, end)` in order with the batch's other
/// operations, or the batch answers `UNSUPPORTED` without `delete-range`.
pub(crate) fn delete_range_in_a_batch(f: &mut Fixture) {
    let t = f.table("t");
    let rows: Vec<_> = (0..20).map(|i| (numbered(i), b"v".to_vec())).collect();
    f.write_rows(t, &rows);
    let mut batch = WriteBatch::new();
    batch.put(t, &numbered(100), b"before");
    batch.delete_range(t, &numbered(5), &numbered(15));
    batch.put(t, &numbered(10), b"after");
    if !f.has(Capabilities::DELETE_RANGE) {
        let mut txn = f.write();
        expect_code(txn.write_batch(&batch), ErrorCode::UNSUPPORTED);
        return;
    }
    apply(f, &batch).unwrap();
    let mut expected: Vec<_> = (0..5).chain(15..20).map(numbered).collect();
    expected.push(numbered(10));
    expected.push(numbered(100));
    expected.sort();
    assert_eq!(f.keys(t), expected);
    assert_eq!(f.get(t, &numbered(10)).as_deref(), Some(&b"after"[..]));
}

/// A batch written inside a transaction is visible to that transaction only, and disappears
/// with a rollback.
pub(crate) fn batch_in_a_transaction_is_private(f: &mut Fixture) {
    let t = f.table("t");
    let mut txn = f.write();
    txn.write_batch(&puts(t, 100)).unwrap();
    assert_eq!(scan_all(&txn, t, ScanSpec::all()).len(), 100);
    assert_eq!(
        txn.get(t, &numbered(42)).unwrap(),
        Some(42u32.to_le_bytes().to_vec())
    );
    assert!(f.rows(t).is_empty(), "uncommitted batch seen outside");
    txn.rollback().unwrap();
    assert!(f.rows(t).is_empty());
    let mut txn = f.write();
    txn.write_batch(&puts(t, 100)).unwrap();
    txn.commit().unwrap();
    check_numbered(f, t, 100);
}

/// A `sync` batch is durable where `durable-sync` is declared and answers `UNSUPPORTED`
/// where it is not; the default mode always works.
pub(crate) fn sync_mode_follows_the_capability(f: &mut Fixture) {
    let t = f.table("t");
    if !f.has(Capabilities::ATOMIC_BATCH) {
        expect_code(
            f.backend.write_batch(&puts(t, 1), DEFAULT_WRITE),
            ErrorCode::UNSUPPORTED,
        );
        return;
    }
    let sync = WriteOptions {
        sync: SyncMode::SYNC,
    };
    let result = f.backend.write_batch(&puts(t, 10), sync);
    if f.has(Capabilities::DURABLE_SYNC) {
        result.unwrap();
        check_numbered(f, t, 10);
    } else {
        expect_code(result, ErrorCode::UNSUPPORTED);
        assert!(f.rows(t).is_empty());
    }
    let no_sync = WriteOptions {
        sync: SyncMode::NO_SYNC,
    };
    f.backend.write_batch(&puts(t, 20), no_sync).unwrap();
    check_numbered(f, t, 20);
}

/// `ingest_sorted` with several runs where one is unsorted is refused whole: no run applied.
pub(crate) fn ingest_refuses_all_runs_for_one_bad_run(f: &mut Fixture) {
    let t = f.table("t");
    let u = f.table("u");
    let mut good = KvBatch::new();
    for i in 0..100 {
        good.push(&numbered(i), b"v").unwrap();
    }
    let mut bad = KvBatch::new();
    bad.push(b"b", b"").unwrap();
    bad.push(b"a", b"").unwrap();
    let runs = [
        SortedRun {
            table: t,
            rows: good,
        },
        SortedRun {
            table: u,
            rows: bad,
        },
    ];
    if !f.has(Capabilities::BULK_INGEST) {
        expect_code(
            f.backend.ingest_sorted(&runs, DEFAULT_WRITE),
            ErrorCode::UNSUPPORTED,
        );
        return;
    }
    expect_code(
        f.backend.ingest_sorted(&runs, DEFAULT_WRITE),
        ErrorCode::INVALID_ARGUMENT,
    );
    assert!(f.rows(t).is_empty() && f.rows(u).is_empty());
}

fn run_of(table: TableId, rows: &[(Vec<u8>, &[u8])]) -> SortedRun {
    let mut batch = KvBatch::new();
    for (key, value) in rows {
        batch.push(key, value).unwrap();
    }
    SortedRun { table, rows: batch }
}

/// Ingest into a table that holds keys: keys before, between and after the existing ones land,
/// an existing key takes the run's value, the other existing keys stay; then a run that sorts
/// wholly after the table's last key (the append case) lands after them.
pub(crate) fn ingest_into_a_table_that_holds_keys(f: &mut Fixture) {
    let t = f.table("t");
    if !f.has(Capabilities::BULK_INGEST) {
        return;
    }
    let mut existing = WriteBatch::new();
    for i in (10..50).step_by(10) {
        existing.put(t, &numbered(i), b"old");
    }
    apply(f, &existing).unwrap();
    let rows: Vec<(Vec<u8>, &[u8])> = [5, 15, 20, 35, 60]
        .iter()
        .map(|i| (numbered(*i), &b"new"[..]))
        .collect();
    f.backend
        .ingest_sorted(&[run_of(t, &rows)], DEFAULT_WRITE)
        .unwrap();
    let after: Vec<(Vec<u8>, Vec<u8>)> = [
        (5, "new"),
        (10, "old"),
        (15, "new"),
        (20, "new"),
        (30, "old"),
        (35, "new"),
        (40, "old"),
        (60, "new"),
    ]
    .iter()
    .map(|(i, v)| (numbered(*i), v.as_bytes().to_vec()))
    .collect();
    assert_eq!(f.rows(t), after);
    let tail: Vec<(Vec<u8>, &[u8])> = (100..2100).map(|i| (numbered(i), &b"tail"[..])).collect();
    f.backend
        .ingest_sorted(&[run_of(t, &tail)], DEFAULT_WRITE)
        .unwrap();
    let rows = f.rows(t);
    assert_eq!(rows.len(), after.len() + 2000);
    assert_eq!(rows[..after.len()], after[..]);
    assert_eq!(rows.last().unwrap(), &(numbered(2099), b"tail".to_vec()));
}

/// Runs of one call that overlap each other apply in order: the later run's value wins, and
/// an empty table takes them as well as one that holds keys.
pub(crate) fn ingest_overlapping_runs_in_order(f: &mut Fixture) {
    let t = f.table("t");
    if !f.has(Capabilities::BULK_INGEST) {
        return;
    }
    let first: Vec<(Vec<u8>, &[u8])> = (0..300).map(|i| (numbered(i), &b"first"[..])).collect();
    let second: Vec<(Vec<u8>, &[u8])> = (200..400).map(|i| (numbered(i), &b"second"[..])).collect();
    f.backend
        .ingest_sorted(&[run_of(t, &first), run_of(t, &second)], DEFAULT_WRITE)
        .unwrap();
    let rows = f.rows(t);
    assert_eq!(rows.len(), 400);
    for (i, (key, value)) in rows.iter().enumerate() {
        assert_eq!(key, &numbered(i));
        let expected: &[u8] = if i < 200 { b"first" } else { b"second" };
        assert_eq!(value.as_slice(), expected, "key {i}");
    }
}

/// A call that fails part-way (its second run names a table that is gone) applies nothing of
/// the failing run; nothing at all where the plugin declares `atomic-multi-ingest`.
pub(crate) fn ingest_failing_mid_call_applies_nothing_of_the_run(f: &mut Fixture) {
    let t = f.table("t");
    let gone = f.table("gone");
    if !f.has(Capabilities::BULK_INGEST) {
        return;
    }
    assert!(f.backend.drop_table("gone").unwrap());
    let good: Vec<(Vec<u8>, &[u8])> = (0..100).map(|i| (numbered(i), &b"v"[..])).collect();
    let lost: Vec<(Vec<u8>, &[u8])> = (0..100).map(|i| (numbered(i), &b"w"[..])).collect();
    let outcome = f
        .backend
        .ingest_sorted(&[run_of(t, &good), run_of(gone, &lost)], DEFAULT_WRITE);
    assert!(outcome.is_err(), "an ingest into a dropped table succeeded");
    let rows = f.rows(t);
    if f.has(Capabilities::ATOMIC_MULTI_INGEST) {
        assert!(
            rows.is_empty(),
            "atomic-multi-ingest, yet {} rows landed",
            rows.len()
        );
    } else {
        assert!(rows.is_empty() || rows.len() == 100, "{} rows", rows.len());
    }
    assert!(rows.iter().all(|(_, value)| value == b"v"));
    assert!(f
        .backend
        .list_tables()
        .unwrap()
        .iter()
        .all(|name| name != "gone"));
}

register!(Batch:
    write_batches_are_atomic,
    delete_range_removes_exactly_the_range,
    ingest_sorted_runs,
    empty_batch_changes_nothing,
    one_operation,
    ten_thousand_puts,
    a_hundred_thousand_puts,
    duplicates_last_wins,
    mixed_puts_and_deletes,
    one_invalid_operation_applies_nothing,
    spans_tables_atomically,
    unknown_table_applies_nothing,
    delete_range_in_a_batch,
    batch_in_a_transaction_is_private,
    sync_mode_follows_the_capability,
    ingest_refuses_all_runs_for_one_bad_run,
    ingest_into_a_table_that_holds_keys,
    ingest_overlapping_runs_in_order,
    ingest_failing_mid_call_applies_nothing_of_the_run,
);
