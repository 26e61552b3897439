use std::ops::Bound;
use std::sync::Arc;
use std::thread;

use kgdb_loader::{
    Backend, BackendError, BackendTxn, Capabilities, ErrorCode, ScanSpec, TxnOptions, WriteBatch,
};

use super::register;
use crate::fixture::{expect_code, keys, numbered, owned, scan_all, Fixture};

/// A transaction reads the snapshot taken when it began.
pub(crate) fn snapshot_isolation(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"k", b"old")]);
    let reader = f.read();
    assert_eq!(reader.get(t, b"k").unwrap().as_deref(), Some(&b"old"[..]));
    let mut writer = f.write();
    writer.put(t, b"k", b"new").unwrap();
    writer.put(t, b"k2", b"added").unwrap();
    writer.commit().unwrap();
    assert_eq!(reader.get(t, b"k").unwrap().as_deref(), Some(&b"old"[..]));
    assert_eq!(reader.get(t, b"k2").unwrap(), None);
    assert_eq!(scan_all(&reader, t, ScanSpec::all()).len(), 1);
    assert_eq!(f.get(t, b"k").as_deref(), Some(&b"new"[..]));
}

/// A transaction sees its own writes and deletes, in gets and scans, before commit.
pub(crate) fn read_your_writes(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"a", b"1"), (b"b", b"2")]);
    let mut txn = f.write();
    txn.put(t, b"c", b"3").unwrap();
    txn.delete(t, b"a").unwrap();
    txn.put(t, b"b", b"22").unwrap();
    assert_eq!(txn.get(t, b"c").unwrap().as_deref(), Some(&b"3"[..]));
    assert_eq!(txn.get(t, b"a").unwrap(), None);
    let rows = scan_all(&txn, t, ScanSpec::all());
    assert_eq!(
        rows,
        vec![
            (b"b".to_vec(), b"22".to_vec()),
            (b"c".to_vec(), b"3".to_vec())
        ]
    );
    assert_eq!(f.get(t, b"c"), None, "uncommitted writes stay private");
    txn.commit().unwrap();
    assert_eq!(f.get(t, b"c").as_deref(), Some(&b"3"[..]));
}

/// Rollback and drop both discard every write.
pub(crate) fn rollback_and_drop_discard(f: &mut Fixture) {
    let t = f.table("t");
    let mut txn = f.write();
    txn.put(t, b"rolled", b"back").unwrap();
    txn.rollback().unwrap();
    let mut txn = f.write();
    txn.put(t, b"dropped", b"too").unwrap();
    drop(txn);
    let read = f.read();
    assert_eq!(read.get(t, b"rolled").unwrap(), None);
    assert_eq!(read.get(t, b"dropped").unwrap(), None);
}

/// Two writers of one key: with conflict detection the later commit fails with a retryable
/// `CONFLICT` and applies nothing; with serialised writers the second waits for the first.
pub(crate) fn write_write_conflicts_follow_the_declared_policy(f: &mut Fixture) {
    let t = f.table("t");
    let caps = f.caps();
    if caps.has(Capabilities::CONFLICT_DETECTION) {
        let mut first = f.write();
        let mut second = f.write();
        first.put(t, b"k", b"first").unwrap();
        second.put(t, b"k", b"second").unwrap();
        second.put(t, b"other", b"second").unwrap();
        first.commit().unwrap();
        let error = expect_code(second.commit(), ErrorCode::CONFLICT);
        assert!(error.retryable, "a conflict must be retryable: {error}");
        assert_eq!(f.get(t, b"k").as_deref(), Some(&b"first"[..]));
        assert_eq!(f.get(t, b"other"), None, "a failed commit applies nothing");
        // Disjoint writers both commit.
        let mut left = f.write();
        let mut right = f.write();
        left.put(t, b"left", b"1").unwrap();
        right.put(t, b"right", b"2").unwrap();
        left.commit().unwrap();
        right.commit().unwrap();
        assert!(f.get(t, b"left").is_some() && f.get(t, b"right").is_some());
    } else {
        assert!(
            caps.has(Capabilities::SERIALIZED_WRITERS),
            "a transactional backend must declare conflict-detection or serialized-writers"
        );
        let mut first = f.write();
        first.put(t, b"k", b"first").unwrap();
        let backend = Arc::clone(&f.backend);
        let (calling, called) = std::sync::mpsc::channel();
        let (began, begun) = std::sync::mpsc::channel();
        let waiter = thread::spawn(move || {
            calling.send(()).unwrap();
            let mut second = backend.begin(TxnOptions::READ_WRITE).unwrap();
            began.send(()).unwrap();
            let seen = second.get(t, b"k").unwrap();
            second.put(t, b"k", b"second").unwrap();
            second.commit().unwrap();
            seen
        });
        called.recv().unwrap();
        // The second `begin` is under way: it must not return while the first writer is open.
        let timeout = std::sync::mpsc::RecvTimeoutError::Timeout;
        assert_eq!(
            begun.recv_timeout(std::time::Duration::from_millis(300)),
            Err(timeout),
            "a second writer began while the first was open: writers are not serialised"
        );
        first.commit().unwrap();
        begun
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the second writer begins once the first commits");
        let seen = waiter.join().unwrap();
        assert_eq!(
            seen.as_deref(),
            Some(&b"first"[..]),
            "the second writer starts after the first"
        );
        assert_eq!(f.get(t, b"k").as_deref(), Some(&b"second"[..]));
    }
}

/// A cursor outlives nothing: once its transaction ends it answers `CLOSED`; a read-only
/// transaction refuses writes with `READ_ONLY`.
pub(crate) fn finished_and_read_only_transactions(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"a", b"1")]);
    let txn = f.write();
    let mut cursor = txn.scan(t, ScanSpec::all()).unwrap();
    txn.commit().unwrap();
    expect_code(cursor.next_batch(10, 1024), ErrorCode::CLOSED);
    let mut read = f.read();
    expect_code(read.put(t, b"x", b"y"), ErrorCode::READ_ONLY);
    expect_code(read.delete(t, b"a"), ErrorCode::READ_ONLY);
    assert_eq!(read.get(t, b"a").unwrap().as_deref(), Some(&b"1"[..]));
}

/// A failed operation leaves the transaction usable, and its commit applies the rest.
pub(crate) fn commit_after_a_failed_operation(f: &mut Fixture) {
    let t = f.table("t");
    let mut txn = f.write();
    txn.put(t, b"good", b"1").unwrap();
    let too_long = vec![0u8; f.caps().max_key_size as usize + 1];
    expect_code(txn.put(t, &too_long, b"x"), ErrorCode::INVALID_ARGUMENT);
    txn.commit().unwrap();
    assert_eq!(f.get(t, b"good").as_deref(), Some(&b"1"[..]));
}

/// A commit is seen by every transaction that begins after it, across tables, and by none
/// that began before.
pub(crate) fn commit_is_visible_to_later_transactions(f: &mut Fixture) {
    let (a, b) = (f.table("a"), f.table("b"));
    let before = f.read();
    let mut txn = f.write();
    txn.put(a, b"k", b"in a").unwrap();
    txn.put(b, b"k", b"in b").unwrap();
    txn.commit().unwrap();
    assert_eq!(before.get(a, b"k").unwrap(), None);
    assert_eq!(before.get(b, b"k").unwrap(), None);
    let after = f.read();
    assert_eq!(after.get(a, b"k").unwrap().as_deref(), Some(&b"in a"[..]));
    assert_eq!(after.get(b, b"k").unwrap().as_deref(), Some(&b"in b"[..]));
}

/// A rollback discards only its own transaction's writes: earlier commits stay as they were.
pub(crate) fn rollback_keeps_earlier_commits(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"a", b"1"), (b"b", b"2")]);
    let mut txn = f.write();
    txn.put(t, b"a", b"changed").unwrap();
    txn.delete(t, b"b").unwrap();
    txn.put(t, b"c", b"new").unwrap();
    txn.rollback().unwrap();
    assert_eq!(
        f.rows(t),
        vec![
            (b"a".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"2".to_vec())
        ]
    );
}

/// A reader that began before a delete committed still reads the deleted rows, in gets and
/// scans.
pub(crate) fn snapshot_keeps_deleted_rows(f: &mut Fixture) {
    let t = f.table("t");
    let rows: Vec<_> = (0..50).map(|i| (numbered(i), b"v".to_vec())).collect();
    f.write_rows(t, &rows);
    let reader = f.read();
    let mut txn = f.write();
    for i in 0..50 {
        txn.delete(t, &numbered(i)).unwrap();
    }
    txn.commit().unwrap();
    assert!(f.rows(t).is_empty());
    assert_eq!(
        reader.get(t, &numbered(7)).unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(scan_all(&reader, t, ScanSpec::all()), rows);
}

/// Inside a transaction, bounded ranges, prefixes and reverse scans merge its own puts and
/// deletes with the committed rows.
pub(crate) fn own_writes_in_ranges_and_prefixes(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(
        t,
        &[(b"a1", b"c"), (b"a2", b"c"), (b"a3", b"c"), (b"b1", b"c")],
    );
    let mut txn = f.write();
    txn.delete(t, b"a2").unwrap();
    txn.put(t, b"a2", b"again").unwrap();
    txn.delete(t, b"a3").unwrap();
    txn.put(t, b"a0", b"new").unwrap();
    txn.put(t, b"c1", b"new").unwrap();
    let range = ScanSpec::range(Bound::Excluded(&b"a0"[..]), Bound::Included(&b"b1"[..]));
    assert_eq!(
        scan_all(&txn, t, range.clone()),
        vec![
            (b"a1".to_vec(), b"c".to_vec()),
            (b"a2".to_vec(), b"again".to_vec()),
            (b"b1".to_vec(), b"c".to_vec())
        ]
    );
    assert_eq!(
        keys(&scan_all(&txn, t, ScanSpec::prefix(b"a"))),
        owned(&[b"a0", b"a1", b"a2"])
    );
    if f.has(Capabilities::REVERSE_SCAN) {
        assert_eq!(
            keys(&scan_all(&txn, t, range.reversed())),
            owned(&[b"b1", b"a2", b"a1"])
        );
    }
    txn.commit().unwrap();
    assert_eq!(f.keys(t), owned(&[b"a0", b"a1", b"a2", b"b1", b"c1"]));
}

/// A reader held open across a hundred commits keeps its view; a new reader sees the last.
pub(crate) fn long_reader_across_many_commits(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"counter", &0u32.to_be_bytes())]);
    let reader = f.read();
    for i in 1..=100u32 {
        let mut txn = f.write();
        txn.put(t, b"counter", &i.to_be_bytes()).unwrap();
        txn.put(t, &numbered(i as usize), b"row").unwrap();
        txn.commit().unwrap();
        if i % 25 == 0 {
            assert_eq!(
                reader.get(t, b"counter").unwrap(),
                Some(0u32.to_be_bytes().to_vec())
            );
        }
    }
    assert_eq!(scan_all(&reader, t, ScanSpec::all()).len(), 1);
    assert_eq!(f.get(t, b"counter"), Some(100u32.to_be_bytes().to_vec()));
    assert_eq!(f.rows(t).len(), 101);
}

/// Commits `work` in a new write transaction, retrying on a retryable conflict.
pub(crate) fn with_retries(
    backend: &Backend,
    mut work: impl FnMut(&mut BackendTxn) -> Result<(), BackendError>,
) -> usize {
    for attempt in 0..1000 {
        let mut txn = backend.begin(TxnOptions::READ_WRITE).unwrap();
        let outcome = work(&mut txn).and_then(|()| txn.commit());
        match outcome {
            Ok(()) => return attempt,
            Err(error) if error.retryable => thread::yield_now(),
            Err(error) => panic!("a transaction failed: {error}"),
        }
    }
    panic!("a transaction still conflicted after 1000 attempts");
}

/// Eight threads run twenty read-modify-write transactions each on one shared counter (with
/// retries where conflicts are detected): no increment is lost.
pub(crate) fn many_concurrent_transactions(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"counter", &0u64.to_be_bytes())]);
    let threads: Vec<_> = (0..8)
        .map(|n| {
            let backend = Arc::clone(&f.backend);
            thread::spawn(move || {
                for i in 0..20u64 {
                    with_retries(&backend, |txn| {
                        let value = txn.get(t, b"counter")?.expect("the counter");
                        let count = u64::from_be_bytes(value.try_into().expect("8 bytes"));
                        txn.put(t, b"counter", &(count + 1).to_be_bytes())?;
                        txn.put(t, format!("thread{n}-{i}").as_bytes(), b"done")
                    });
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(f.get(t, b"counter"), Some(160u64.to_be_bytes().to_vec()));
    assert_eq!(f.rows(t).len(), 161);
}

/// A delete and a put of one key in two concurrent transactions follow the declared policy:
/// the later commit conflicts (and applies nothing), or the second writer waits.
pub(crate) fn delete_against_put_follows_the_policy(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"k", b"original")]);
    if f.has(Capabilities::CONFLICT_DETECTION) {
        let mut deleter = f.write();
        let mut writer = f.write();
        deleter.delete(t, b"k").unwrap();
        writer.put(t, b"k", b"rewritten").unwrap();
        writer.put(t, b"side", b"effect").unwrap();
        writer.commit().unwrap();
        let error = expect_code(deleter.commit(), ErrorCode::CONFLICT);
        assert!(error.retryable);
        assert_eq!(f.get(t, b"k").as_deref(), Some(&b"rewritten"[..]));
    } else {
        let mut deleter = f.write();
        deleter.delete(t, b"k").unwrap();
        let backend = Arc::clone(&f.backend);
        let second = thread::spawn(move || {
            let mut writer = backend.begin(TxnOptions::READ_WRITE).unwrap();
            let seen = writer.get(t, b"k").unwrap();
            writer.put(t, b"k", b"rewritten").unwrap();
            writer.commit().unwrap();
            seen
        });
        thread::sleep(std::time::Duration::from_millis(30));
        deleter.commit().unwrap();
        assert_eq!(
            second.join().unwrap(),
            None,
            "the writer began after the delete"
        );
        assert_eq!(f.get(t, b"k").as_deref(), Some(&b"rewritten"[..]));
    }
}

/// After a conflict, the same work retried in a new transaction commits.
pub(crate) fn retry_after_a_conflict_commits(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"k", b"0")]);
    if !f.has(Capabilities::CONFLICT_DETECTION) {
        // Serialised writers never conflict: the retry helper commits on its first attempt.
        assert_eq!(with_retries(&f.backend, |txn| txn.put(t, b"k", b"1")), 0);
        assert_eq!(f.get(t, b"k").as_deref(), Some(&b"1"[..]));
        return;
    }
    let mut loser = f.write();
    loser.put(t, b"k", b"loser").unwrap();
    let mut winner = f.write();
    winner.put(t, b"k", b"winner").unwrap();
    winner.commit().unwrap();
    let error = expect_code(loser.commit(), ErrorCode::CONFLICT);
    assert!(error.retryable);
    let mut retry = f.write();
    assert_eq!(retry.get(t, b"k").unwrap().as_deref(), Some(&b"winner"[..]));
    retry.put(t, b"k", b"loser").unwrap();
    retry.commit().unwrap();
    assert_eq!(f.get(t, b"k").as_deref(), Some(&b"loser"[..]));
}

/// An empty write transaction commits; read-only transactions commit and roll back; a key put
/// and deleted in one transaction is absent after it.
pub(crate) fn empty_and_read_only_transactions_end_cleanly(f: &mut Fixture) {
    let t = f.table("t");
    f.write().commit().unwrap();
    f.write().rollback().unwrap();
    f.read().commit().unwrap();
    f.read().rollback().unwrap();
    let mut txn = f.write();
    txn.put(t, b"transient", b"v").unwrap();
    txn.delete(t, b"transient").unwrap();
    txn.commit().unwrap();
    assert!(f.rows(t).is_empty());
}

/// A backend that declares write limits (`Backend::write_limits`) refuses a commit past them
/// with `FULL` and writes nothing of it, and commits one at them; one that declares none
/// commits a transaction of 20,000 puts.
pub(crate) fn commits_follow_the_declared_write_limits(f: &mut Fixture) {
    let t = f.table("t");
    let Some(limits) = f.backend.write_limits() else {
        let mut txn = f.write();
        for part in 0..5 {
            let mut batch = WriteBatch::new();
            for i in part * 4_000..(part + 1) * 4_000 {
                batch.put(t, &numbered(i), &[1]);
            }
            txn.write_batch(&batch).unwrap();
        }
        txn.commit().unwrap();
        assert_eq!(f.rows(t).len(), 20_000);
        return;
    };
    assert!(limits.max_ops > 0 && limits.max_bytes > 0, "{limits:?}");
    // Operations: exactly max_ops small puts commit; one more fails whole.
    if limits.max_ops <= 200_000 {
        let count = limits.max_ops as usize;
        let keys: Vec<Vec<u8>> = (0..=count).map(numbered).collect();
        let bytes: u64 = keys[..count].iter().map(|key| key.len() as u64).sum();
        if bytes <= limits.max_bytes {
            let batch_of = |table, keys: &[Vec<u8>]| {
                let mut batch = WriteBatch::new();
                for key in keys {
                    batch.put(table, key, b"");
                }
                batch
            };
            let mut txn = f.write();
            txn.write_batch(&batch_of(t, &keys[..count])).unwrap();
            txn.commit().unwrap();
            assert_eq!(f.rows(t).len(), count);
            let other = f.table("other");
            let mut txn = f.write();
            txn.write_batch(&batch_of(other, &keys)).unwrap();
            let error = expect_code(txn.commit(), ErrorCode::FULL);
            assert!(f.rows(other).is_empty(), "`{error}` wrote rows");
        }
    } else {
        f.note(format!(
            "{} writes per commit: too many to try",
            limits.max_ops
        ));
    }
    // Bytes: one byte past max_bytes, in values as large as the backend takes, fails whole.
    if limits.max_bytes > 256 << 20 {
        f.note(format!(
            "{} bytes per commit: too many to try",
            limits.max_bytes
        ));
        return;
    }
    let big = f.table("big");
    let max_value = u64::from(f.caps().max_value_size).max(1);
    let mut txn = f.write();
    let (mut left, mut index) = (limits.max_bytes + 1, 0u32);
    while left > 0 {
        let key = format!("big{index:08}").into_bytes();
        let key = &key[..(key.len() as u64).min(left) as usize];
        let value_len = (left - key.len() as u64).min(max_value);
        txn.put(big, key, &vec![7u8; value_len as usize]).unwrap();
        left -= key.len() as u64 + value_len;
        index += 1;
    }
    let error = expect_code(txn.commit(), ErrorCode::FULL);
    assert!(f.rows(big).is_empty(), "`{error}` wrote rows");
}

register!(Transaction:
    snapshot_isolation,
    read_your_writes,
    rollback_and_drop_discard,
    write_write_conflicts_follow_the_declared_policy,
    finished_and_read_only_transactions,
    commit_after_a_failed_operation,
    commit_is_visible_to_later_transactions,
    rollback_keeps_earlier_commits,
    snapshot_keeps_deleted_rows,
    own_writes_in_ranges_and_prefixes,
    long_reader_across_many_commits,
    many_concurrent_transactions,
    delete_against_put_follows_the_policy,
    retry_after_a_conflict_commits,
    empty_and_read_only_transactions_end_cleanly,
    commits_follow_the_declared_write_limits,
);
