use std::sync::Arc;
use std::thread;

use kgdb_loader::{
    Backend, BackendError, BackendTxn, Capabilities, ScanSpec, SyncMode, TableId, TxnOptions,
    WriteBatch, WriteOptions,
};

use super::transaction::with_retries;
use std::sync::mpsc;
use std::time::Duration;

use super::register;
use crate::fixture::{binary_rows, numbered, scan_all, Fixture};

/// A scan keeps reading its snapshot while another transaction commits into the range.
pub(crate) fn scans_are_stable_under_concurrent_writes(f: &mut Fixture) {
    let t = f.table("t");
    let rows: Vec<(Vec<u8>, Vec<u8>)> =
        (0..200).map(|i| (numbered(i * 2), b"v".to_vec())).collect();
    f.write_rows(t, &rows);
    let read = f.read();
    let mut cursor = read.scan(t, ScanSpec::all()).unwrap();
    let mut seen = cursor.next_batch(50, u64::MAX).unwrap().len();
    let backend = Arc::clone(&f.backend);
    thread::spawn(move || {
        let mut writer = backend.begin(TxnOptions::READ_WRITE).unwrap();
        for i in 0..200 {
            writer.put(t, &numbered(i * 2 + 1), b"new").unwrap();
        }
        writer.delete(t, &numbered(398)).unwrap();
        writer.commit().unwrap();
    })
    .join()
    .unwrap();
    loop {
        let batch = cursor.next_batch(50, u64::MAX).unwrap();
        if batch.is_empty() {
            break;
        }
        assert!(batch.iter().all(|(_, v)| v == b"v"), "only snapshot rows");
        seen += batch.len();
    }
    assert_eq!(seen, 200);
}

/// Many threads read while one writes; every reader sees a consistent pair.
pub(crate) fn readers_with_a_writer_see_consistent_state(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(
        t,
        &[(b"x", &0u64.to_be_bytes()), (b"y", &0u64.to_be_bytes())],
    );
    fn read_u64(txn: &BackendTxn, t: TableId, key: &[u8]) -> u64 {
        u64::from_be_bytes(txn.get(t, key).unwrap().unwrap().try_into().unwrap())
    }
    let writer = {
        let backend = Arc::clone(&f.backend);
        thread::spawn(move || {
            for i in 1..=200u64 {
                let mut txn = backend.begin(TxnOptions::READ_WRITE).unwrap();
                txn.put(t, b"x", &i.to_be_bytes()).unwrap();
                txn.put(t, b"y", &i.to_be_bytes()).unwrap();
                txn.commit().unwrap();
            }
        })
    };
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let backend = Arc::clone(&f.backend);
            thread::spawn(move || {
                for _ in 0..200 {
                    let txn = backend.begin(TxnOptions::READ_ONLY).unwrap();
                    let x = read_u64(&txn, t, b"x");
                    let y = read_u64(&txn, t, b"y");
                    assert_eq!(x, y, "a snapshot never shows half a commit");
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for reader in readers {
        reader.join().unwrap();
    }
    assert_eq!(read_u64(&f.read(), t, b"x"), 200);
}

/// Joins `threads`, failing if they have not all finished within `limit` of this call,
/// together (a deadlock).
fn join_within(threads: Vec<thread::JoinHandle<()>>, limit: Duration, what: &str) {
    let deadline = std::time::Instant::now() + limit;
    let (done, finished) = mpsc::channel();
    let count = threads.len();
    for handle in threads {
        let done = done.clone();
        thread::spawn(move || {
            let outcome = handle.join();
            let _ = done.send(outcome.is_ok());
        });
    }
    for _ in 0..count {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match finished.recv_timeout(left) {
            Ok(true) => {}
            Ok(false) => panic!("{what}: a thread failed (its message is above)"),
            Err(_) => panic!("{what}: threads still running after {limit:?}: a deadlock"),
        }
    }
}

const ACCOUNTS: usize = 10;
const TOTAL: u64 = 10_000;

fn account(i: usize) -> Vec<u8> {
    format!("account{i}").into_bytes()
}

fn open_accounts(f: &Fixture) -> TableId {
    let t = f.table("bank");
    let rows: Vec<_> = (0..ACCOUNTS)
        .map(|i| (account(i), (TOTAL / ACCOUNTS as u64).to_be_bytes().to_vec()))
        .collect();
    f.write_rows(t, &rows);
    t
}

fn balance_sum(txn: &BackendTxn, t: TableId) -> u64 {
    scan_all(txn, t, ScanSpec::all())
        .iter()
        .map(|(_, v)| u64::from_be_bytes(v.as_slice().try_into().expect("8 bytes")))
        .sum()
}

fn transfer(backend: &Backend, t: TableId, from: usize, to: usize, amount: u64) {
    assert_ne!(from, to, "a transfer needs two accounts");
    with_retries(backend, |txn| {
        let read = |txn: &BackendTxn, i: usize| -> Result<u64, BackendError> {
            let value = txn.get(t, &account(i))?.expect("an account");
            Ok(u64::from_be_bytes(value.try_into().expect("8 bytes")))
        };
        let (a, b) = (read(txn, from)?, read(txn, to)?);
        let moved = amount.min(a);
        txn.put(t, &account(from), &(a - moved).to_be_bytes())?;
        txn.put(t, &account(to), &(b + moved).to_be_bytes())
    });
}

/// Sixteen threads scan and read the same data at once and all see exactly it.
pub(crate) fn many_readers_agree(f: &mut Fixture) {
    let t = f.table("t");
    let rows = binary_rows();
    f.write_rows(t, &rows);
    let rows = Arc::new(rows);
    let threads = (0..16)
        .map(|n| {
            let backend = Arc::clone(&f.backend);
            let rows = Arc::clone(&rows);
            thread::spawn(move || {
                for _ in 0..10 {
                    let txn = backend.begin(TxnOptions::READ_ONLY).unwrap();
                    assert_eq!(scan_all(&txn, t, ScanSpec::all()), *rows);
                    let (key, value) = &rows[(n * 17) % rows.len()];
                    assert_eq!(txn.get(t, key).unwrap().as_ref(), Some(value));
                }
            })
        })
        .collect();
    join_within(threads, Duration::from_secs(120), "sixteen readers");
}

/// While a writer moves money between accounts, every reader's snapshot sums to the total.
pub(crate) fn readers_see_an_invariant_while_a_writer_commits(f: &mut Fixture) {
    let t = open_accounts(f);
    let mut threads = Vec::new();
    let backend = Arc::clone(&f.backend);
    threads.push(thread::spawn(move || {
        for i in 0..300 {
            transfer(&backend, t, i % ACCOUNTS, (i + 1 + i % 7) % ACCOUNTS, 37);
        }
    }));
    for _ in 0..3 {
        let backend = Arc::clone(&f.backend);
        threads.push(thread::spawn(move || {
            for _ in 0..200 {
                let txn = backend.begin(TxnOptions::READ_ONLY).unwrap();
                assert_eq!(
                    balance_sum(&txn, t),
                    TOTAL,
                    "a snapshot shows half a transfer"
                );
            }
        }));
    }
    join_within(threads, Duration::from_secs(120), "readers with a writer");
    assert_eq!(balance_sum(&f.read(), t), TOTAL);
}

/// Four threads write to four tables at once, each in fifty transactions: every row lands,
/// and writers on different tables never conflict.
pub(crate) fn writers_on_different_tables(f: &mut Fixture) {
    let tables: Vec<_> = (0..4).map(|i| f.table(&format!("table{i}"))).collect();
    let threads = tables
        .iter()
        .map(|&t| {
            let backend = Arc::clone(&f.backend);
            thread::spawn(move || {
                for round in 0..50 {
                    let mut txn = backend.begin(TxnOptions::READ_WRITE).unwrap();
                    for i in 0..10 {
                        txn.put(t, &numbered(round * 10 + i), b"v").unwrap();
                    }
                    txn.commit()
                        .unwrap_or_else(|e| panic!("writers on different tables conflicted: {e}"));
                }
            })
        })
        .collect();
    join_within(threads, Duration::from_secs(120), "writers on four tables");
    for t in tables {
        assert_eq!(f.keys(t), (0..500).map(numbered).collect::<Vec<_>>());
    }
}

/// Stress: four writer threads make random transfers (retrying conflicts), two readers check
/// the total, one thread appends to a log table with batches; at the end the total holds and
/// the log has every entry.
pub(crate) fn stress_keeps_invariants(f: &mut Fixture) {
    let t = open_accounts(f);
    let log = f.table("log");
    let mut threads = Vec::new();
    for w in 0..4usize {
        let backend = Arc::clone(&f.backend);
        threads.push(thread::spawn(move || {
            let mut state = (w as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            for _ in 0..150 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let from = (state % ACCOUNTS as u64) as usize;
                let to = (from + 1 + ((state >> 8) % (ACCOUNTS as u64 - 1)) as usize) % ACCOUNTS;
                transfer(&backend, t, from, to, state % 500);
            }
        }));
    }
    for _ in 0..2 {
        let backend = Arc::clone(&f.backend);
        threads.push(thread::spawn(move || {
            for _ in 0..150 {
                let txn = backend.begin(TxnOptions::READ_ONLY).unwrap();
                assert_eq!(balance_sum(&txn, t), TOTAL);
            }
        }));
    }
    let backend = Arc::clone(&f.backend);
    threads.push(thread::spawn(move || {
        for round in 0..100 {
            let mut batch = WriteBatch::new();
            for i in 0..10 {
                batch.put(log, &numbered(round * 10 + i), b"entry");
            }
            with_retries(&backend, |txn| txn.write_batch(&batch));
        }
    }));
    join_within(threads, Duration::from_secs(300), "the stress run");
    let read = f.read();
    assert_eq!(balance_sum(&read, t), TOTAL);
    assert_eq!(scan_all(&read, log, ScanSpec::all()).len(), 1_000);
}

/// Readers, writers, batches, scans and table opens mixed on eight threads all finish within
/// a generous bound: nothing deadlocks.
pub(crate) fn no_deadlock_within_a_time_bound(f: &mut Fixture) {
    let t = f.table("t");
    f.write_rows(t, &binary_rows());
    let threads = (0..8usize)
        .map(|n| {
            let backend = Arc::clone(&f.backend);
            thread::spawn(move || {
                for round in 0..40usize {
                    match (n + round) % 4 {
                        0 => {
                            let txn = backend.begin(TxnOptions::READ_ONLY).unwrap();
                            let mut cursor = txn.scan(t, ScanSpec::all()).unwrap();
                            while !cursor.next_batch(16, u64::MAX).unwrap().is_empty() {}
                        }
                        1 => {
                            with_retries(&backend, |txn| {
                                txn.put(t, format!("w{n}-{round}").as_bytes(), b"v")
                            });
                        }
                        2 => {
                            let mut batch = WriteBatch::new();
                            batch.put(t, format!("b{n}-{round}").as_bytes(), b"v");
                            with_retries(&backend, |txn| txn.write_batch(&batch));
                        }
                        _ => {
                            let other =
                                backend.open_table(&format!("side{}", n % 2), true).unwrap();
                            let txn = backend.begin(TxnOptions::READ_ONLY).unwrap();
                            txn.get(other, b"k").unwrap();
                        }
                    };
                }
            })
        })
        .collect();
    join_within(threads, Duration::from_secs(120), "mixed operations");
    assert_eq!(f.rows(t).len(), binary_rows().len() + 2 * 8 * 10);
}

/// Eight threads opening one new table name at once all get the same table.
pub(crate) fn concurrent_table_creation_agrees(f: &mut Fixture) {
    let (ids, received) = mpsc::channel();
    let threads = (0..8)
        .map(|_| {
            let backend = Arc::clone(&f.backend);
            let ids = ids.clone();
            thread::spawn(move || {
                let id = backend.open_table("created-at-once", true).unwrap();
                ids.send(id).unwrap();
            })
        })
        .collect();
    join_within(threads, Duration::from_secs(60), "table creation");
    drop(ids);
    let ids: Vec<TableId> = received.iter().collect();
    assert_eq!(ids.len(), 8);
    assert!(ids.iter().all(|id| *id == ids[0]), "different ids: {ids:?}");
    assert_eq!(f.backend.list_tables().unwrap(), vec!["created-at-once"]);
}

/// Batches from four threads on disjoint keys all land whole.
pub(crate) fn concurrent_batches_on_disjoint_keys(f: &mut Fixture) {
    let t = f.table("t");
    let threads = (0..4usize)
        .map(|n| {
            let backend = Arc::clone(&f.backend);
            thread::spawn(move || {
                for round in 0..25 {
                    let mut batch = WriteBatch::new();
                    for i in 0..40 {
                        batch.put(t, &numbered(n * 100_000 + round * 40 + i), b"v");
                    }
                    if backend.capabilities().has(Capabilities::ATOMIC_BATCH) {
                        backend
                            .write_batch(
                                &batch,
                                WriteOptions {
                                    sync: SyncMode::DEFAULT,
                                },
                            )
                            .unwrap();
                    } else {
                        with_retries(&backend, |txn| txn.write_batch(&batch));
                    }
                }
            })
        })
        .collect();
    join_within(threads, Duration::from_secs(120), "concurrent batches");
    let expected: Vec<_> = (0..4usize)
        .flat_map(|n| (0..1_000).map(move |i| numbered(n * 100_000 + i)))
        .collect();
    assert_eq!(f.keys(t), expected);
}

/// A write transaction left open (with uncommitted writes) does not hold readers back: a
/// reader on another thread begins, reads and ends, without seeing those writes.
pub(crate) fn readers_do_not_wait_for_an_open_writer(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"k", b"committed")]);
    let mut writer = f.write();
    writer.put(t, b"k", b"uncommitted").unwrap();
    writer.put(t, b"new", b"uncommitted").unwrap();
    let backend = Arc::clone(&f.backend);
    let reader = thread::spawn(move || {
        let txn = backend.begin(TxnOptions::READ_ONLY).unwrap();
        assert_eq!(
            txn.get(t, b"k").unwrap().as_deref(),
            Some(&b"committed"[..])
        );
        assert_eq!(scan_all(&txn, t, ScanSpec::all()).len(), 1);
    });
    join_within(
        vec![reader],
        Duration::from_secs(30),
        "a reader beside an open writer",
    );
    writer.commit().unwrap();
    assert_eq!(f.rows(t).len(), 2);
}

register!(Concurrency:
    scans_are_stable_under_concurrent_writes,
    readers_with_a_writer_see_consistent_state,
    many_readers_agree,
    readers_see_an_invariant_while_a_writer_commits,
    writers_on_different_tables,
    stress_keeps_invariants,
    no_deadlock_within_a_time_bound,
    concurrent_table_creation_agrees,
    concurrent_batches_on_disjoint_keys,
    readers_do_not_wait_for_an_open_writer,
);
