//! The etcd plugin on a real 3-member cluster started by this test (loopback ports, every
//! member ended by PID when the tests end): the whole conformance suite, one test per case
//! (`etcd::CATEGORY::CASE`), and the plugin's own statistics (`etcd::stats::…`).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Mutex, PoisonError};

use kgdb_host::plugin::{Backend, ScanSpec, TxnOptions};
use kgdb_tests::etcd_cluster::{etcd_binary, EtcdCluster};
use libtest_mimic::{Arguments, Failed, Trial};

/// The cluster, started by the first test that needs it and ended by `main`.
static CLUSTER: Mutex<Option<EtcdCluster>> = Mutex::new(None);

/// The plugin config for the cluster (started on first use).
fn config() -> String {
    let mut cluster = CLUSTER.lock().unwrap_or_else(PoisonError::into_inner);
    cluster
        .get_or_insert_with(|| EtcdCluster::start(3))
        .plugin_config("")
}

/// The value of native statistic `name`.
fn stat(backend: &Backend, name: &str) -> u64 {
    let stats = backend.stats().unwrap();
    stats
        .iter()
        .find(|stat| stat.name == name)
        .unwrap_or_else(|| panic!("no {name} in {stats:?}"))
        .value
}

/// `etcd.requests` counts the round trips of the store's work, and `etcd.write_txns` its
/// write transactions; reading the statistics is not counted.
fn requests_and_write_txns_are_counted() -> Result<(), Failed> {
    let dir = tempfile::tempdir().unwrap();
    let backend = kgdb_tests::open_backend("kgdb_plugin_etcd", &dir.path().join("d"), &config());
    let table = backend.open_table("t", true).unwrap();
    let requests = |backend: &Backend| stat(backend, "etcd.requests");
    let write_txns = |backend: &Backend| stat(backend, "etcd.write_txns");
    let before = requests(&backend);
    assert_eq!(
        requests(&backend),
        before,
        "reading the statistics was counted"
    );

    // A snapshot (one linearizable read of the revision) and one key read at it.
    let txn = backend.begin(TxnOptions::READ_ONLY).unwrap();
    assert_eq!(txn.get(table, b"absent").unwrap(), None);
    drop(txn);
    assert_eq!(requests(&backend), before + 2);

    // A commit is one write transaction, sent once.
    let (before, txns_before) = (requests(&backend), write_txns(&backend));
    let mut txn = backend.begin(TxnOptions::READ_WRITE).unwrap();
    txn.put(table, b"k", b"v").unwrap();
    txn.commit().unwrap();
    assert_eq!(write_txns(&backend), txns_before + 1);
    assert_eq!(requests(&backend), before + 2, "a snapshot and a commit");

    // Reads of many keys are batched: 3000 look-ups in one `get_many` take a few requests.
    let before = requests(&backend);
    let txn = backend.begin(TxnOptions::READ_ONLY).unwrap();
    let keys: Vec<Vec<u8>> = (0..3000u32).map(|n| n.to_be_bytes().to_vec()).collect();
    let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let found = txn.get_many(table, &keys).unwrap();
    assert!(found.iter().all(Option::is_none));
    drop(txn);
    let used = requests(&backend) - before;
    assert!((2..=5).contains(&used), "3000 reads took {used} requests");
    backend.close().unwrap();
    Ok(())
}

/// The keys under `prefix` in the test cluster, counted by `etcdctl`.
fn keys_under(prefix: &str) -> u64 {
    let endpoint = CLUSTER
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .expect("the cluster runs")
        .members[0]
        .client_url
        .clone();
    let output = std::process::Command::new(etcd_binary().with_file_name("etcdctl"))
        .args([
            "--endpoints",
            &endpoint,
            "get",
            "--prefix",
            "--keys-only",
            "-w",
            "json",
            prefix,
        ])
        .env("ETCDCTL_API", "3")
        .output()
        .expect("etcdctl runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let json: serde_json::Value = serde_json::from_str(&text).expect("etcdctl's JSON");
    json["count"].as_u64().unwrap_or(0)
}

/// Commit markers do not pile up: each commit deletes settled ones, and a commit that fails
/// leaves the ones it was to delete for the next.
fn commit_markers_are_deleted_even_after_failed_commits() -> Result<(), Failed> {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let backend = kgdb_tests::open_backend("kgdb_plugin_etcd", &data, &config());
    let table = backend.open_table("t", true).unwrap();
    let identity = std::fs::read_to_string(data.join("etcd-store.toml")).unwrap();
    let namespace = identity
        .lines()
        .find_map(|line| line.strip_prefix("namespace = "))
        .expect("a namespace")
        .trim_matches('"')
        .to_owned();
    let markers = format!("kgdb/{namespace}/m");
    let mut failed = 0;
    for round in 0..20u32 {
        let mut txn = backend.begin(TxnOptions::READ_WRITE).unwrap();
        txn.put(table, b"k", &round.to_be_bytes()).unwrap();
        txn.commit().unwrap();
        // A transaction that read `k` before another one changed it fails in conflict.
        let mut stale = backend.begin(TxnOptions::READ_WRITE).unwrap();
        let _ = stale.get(table, b"k").unwrap();
        let mut other = backend.begin(TxnOptions::READ_WRITE).unwrap();
        other.put(table, b"k", b"other").unwrap();
        other.commit().unwrap();
        stale.put(table, b"k", b"stale").unwrap();
        if stale.commit().is_err() {
            failed += 1;
        }
    }
    assert_eq!(failed, 20, "the stale commits did not fail");
    let left = keys_under(&markers);
    assert!(
        left <= 4,
        "{left} commit markers were left after 60 commits"
    );
    backend.close().unwrap();
    // The writer's lease ends with it, and its markers with the lease.
    assert_eq!(keys_under(&markers), 0);
    Ok(())
}

/// 8 key bytes from a seeded generator; half the keys start with two zero bytes (a dense
/// region beside sparse ones, so that scan windows deepen and widen).
fn skewed_key(state: &mut u64) -> Vec<u8> {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    let mut key = (*state >> 8).to_be_bytes().to_vec();
    if *state & 1 == 0 {
        key[0] = 0;
        key[1] = 0;
    }
    key
}

/// Scans of a large table (read in windows: see the plugin's `paging.rs`) return every row
/// once, in order, with a transaction's own writes merged in, and take a number of requests
/// that grows with the rows read, not with the table's size times the pages.
fn windowed_scans_see_every_row_once() -> Result<(), Failed> {
    let dir = tempfile::tempdir().unwrap();
    let backend = kgdb_tests::open_backend("kgdb_plugin_etcd", &dir.path().join("d"), &config());
    let table = backend.open_table("wide", true).unwrap();
    let mut model = BTreeMap::new();
    let mut state = 42u64;
    for _ in 0..6 {
        let mut txn = backend.begin(TxnOptions::READ_WRITE).unwrap();
        for _ in 0..5000 {
            let key = skewed_key(&mut state);
            let value = key.iter().rev().copied().collect::<Vec<u8>>();
            txn.put(table, &key, &value).unwrap();
            model.insert(key, value);
        }
        txn.commit().unwrap();
    }
    let scan = |txn: &kgdb_host::plugin::BackendTxn, spec: ScanSpec| -> Vec<(Vec<u8>, Vec<u8>)> {
        txn.scan(table, spec).unwrap().map(Result::unwrap).collect()
    };
    let expect =
        |model: &BTreeMap<Vec<u8>, Vec<u8>>, from: &[u8], to: &[u8]| -> Vec<(Vec<u8>, Vec<u8>)> {
            model
                .range::<[u8], _>((Bound::Included(from), Bound::Excluded(to)))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        };

    let before = stat(&backend, "etcd.requests");
    let txn = backend.begin(TxnOptions::READ_ONLY).unwrap();
    let all = scan(&txn, ScanSpec::all());
    drop(txn);
    let used = stat(&backend, "etcd.requests") - before;
    assert_eq!(all.len(), model.len());
    assert!(
        all == expect(&model, &[], &[0xff; 9]),
        "a full scan differs"
    );
    assert!(
        used <= 200,
        "a scan of {} rows took {used} requests",
        all.len()
    );
    eprintln!("a scan of {} rows took {used} requests", all.len());

    // A transaction's own puts, deletes and a deleted range, seen by its scans.
    let mut txn = backend.begin(TxnOptions::READ_WRITE).unwrap();
    for _ in 0..500 {
        let key = skewed_key(&mut state);
        txn.put(table, &key, b"own").unwrap();
        model.insert(key, b"own".to_vec());
    }
    let doomed: Vec<Vec<u8>> = model.keys().step_by(97).cloned().collect();
    for key in &doomed {
        txn.delete(table, key).unwrap();
        model.remove(key);
    }
    let (cut_from, cut_to) = (vec![0x40, 0x00], vec![0x48, 0x00]);
    txn.delete_range(table, &cut_from, &cut_to).unwrap();
    model.retain(|key, _| {
        key.as_slice() < cut_from.as_slice() || key.as_slice() >= cut_to.as_slice()
    });
    assert!(
        scan(&txn, ScanSpec::all()) == expect(&model, &[], &[0xff; 9]),
        "own writes: full scan differs"
    );
    for (from, to) in [
        (vec![0x00, 0x00, 0x10], vec![0x00, 0x00, 0x90]),
        (vec![0x30], vec![0x50]),
        (vec![0x00, 0x01], vec![0xf0]),
    ] {
        let got = scan(
            &txn,
            ScanSpec::range(Bound::Included(&from), Bound::Excluded(&to)),
        );
        assert!(
            got == expect(&model, &from, &to),
            "own writes: scan of {from:02x?}..{to:02x?} differs"
        );
    }
    txn.commit().unwrap();
    let txn = backend.begin(TxnOptions::READ_ONLY).unwrap();
    assert!(
        scan(&txn, ScanSpec::all()) == expect(&model, &[], &[0xff; 9]),
        "after the commit: full scan differs"
    );
    drop(txn);
    backend.close().unwrap();
    Ok(())
}

fn main() {
    let arguments = Arguments::from_args();
    let mut trials = vec![
        Trial::test(
            "etcd::stats::requests_and_write_txns_are_counted",
            requests_and_write_txns_are_counted,
        ),
        Trial::test(
            "etcd::scan::windowed_scans_see_every_row_once",
            windowed_scans_see_every_row_once,
        ),
        Trial::test(
            "etcd::commit::commit_markers_are_deleted_even_after_failed_commits",
            commit_markers_are_deleted_even_after_failed_commits,
        ),
    ];
    for case in kgdb_conformance::cases() {
        trials.push(Trial::test(
            format!("etcd::{}", case.full_name()),
            move || {
                let target = kgdb_tests::target("kgdb_plugin_etcd", &config());
                match kgdb_conformance::run_case(&target, case) {
                    Ok(notes) => {
                        for note in notes {
                            eprintln!("note: etcd::{}: {note}", case.full_name());
                        }
                        Ok(())
                    }
                    Err(message) => Err(Failed::from(message)),
                }
            },
        ));
    }
    let conclusion = libtest_mimic::run(&arguments, trials);
    // A static is never dropped: end the members now.
    drop(
        CLUSTER
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take(),
    );
    conclusion.exit();
}
