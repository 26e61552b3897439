//! The etcd plugin on a real 3-member cluster started by this test (loopback ports, every
//! member ended by PID when the tests end): the whole conformance suite, one test per case
//! (`etcd::CATEGORY::CASE`), and the plugin's own statistics (`etcd::stats::…`).

use std::sync::{Mutex, PoisonError};

use kgdb_host::plugin::{Backend, TxnOptions};
use kgdb_tests::etcd_cluster::EtcdCluster;
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

fn main() {
    let arguments = Arguments::from_args();
    let mut trials = vec![Trial::test(
        "etcd::stats::requests_and_write_txns_are_counted",
        requests_and_write_txns_are_counted,
    )];
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
