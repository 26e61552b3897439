//! The etcd plugin on a real 3-member cluster started by this test (loopback ports, every
//! member ended by PID when the tests end): the whole conformance suite, one test per case
//! (`etcd::CATEGORY::CASE`).

use std::sync::{Mutex, PoisonError};

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

fn main() {
    let arguments = Arguments::from_args();
    let mut trials = Vec::new();
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
