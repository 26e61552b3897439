//! `kgdb-host backup` of a store that a running server writes to: the backup holds a state
//! that existed (its count is one that a committed update left), verifies, and the server
//! goes on.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use kgdb_tests::{plugin_library, Run};

use super::support::{host, json_number, query, triples, update, Server};

/// Quads each update inserts, in one transaction.
const PER_UPDATE: u64 = 10;

/// The writing thread: stopped and joined by [`Writer::finish`], or when dropped (a check
/// failed), so that it lets go of the server and the server's process ends with the test.
struct Writer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn finish(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn backup_beside_a_writing_server(stem: &str, method: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("data.nt"), triples(1000)).unwrap();
    host(d, stem, &["load", "data.nt"]).expect_success();
    let server = Arc::new(Server::start(d, stem, &[]));
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (server, acked, stop) = (Arc::clone(&server), Arc::clone(&acked), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let body: String = (0..PER_UPDATE)
                    .map(|j| format!("<http://e/w{n}> <http://e/p> \"{j}\" . "))
                    .collect();
                update(&server, &format!("INSERT DATA {{ {body} }}")).expect(204);
                n += 1;
                acked.store(n, Ordering::SeqCst);
            }
        })
    };
    let writer = Writer {
        stop: Arc::clone(&stop),
        thread: Some(thread),
    };
    // Let some updates commit first.
    while acked.load(Ordering::SeqCst) < 3 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let before = acked.load(Ordering::SeqCst);
    let library = plugin_library(stem);
    let lib = library.to_str().unwrap();
    let out = Run::host(
        d,
        &["--plugin", lib, "--data-dir", "data", "backup", "saved"],
    )
    .expect_success()
    .to_owned();
    let after = acked.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    writer.finish();
    assert!(
        out.contains(&format!(" into saved by {method} in ")),
        "{stem}: {out}"
    );
    assert!(out.contains("; verified: "), "{stem}: {out}");
    let counted: u64 = Run::host(d, &["--plugin", lib, "--data-dir", "saved", "count"])
        .expect_success()
        .trim()
        .parse()
        .unwrap();
    // A point some committed update left: 1000 + 10 k, with k between the updates
    // acknowledged before the backup began and those committed when it ended (one more may
    // have committed without its answer having arrived).
    assert_eq!((counted - 1000) % PER_UPDATE, 0, "{stem}: {counted}");
    let k = (counted - 1000) / PER_UPDATE;
    assert!(
        before <= k && k <= after + 1,
        "{stem}: {before} <= {k} <= {after} + 1"
    );
    Run::host(d, &["--plugin", lib, "--data-dir", "saved", "verify"]).expect_success();
    // The server went on and holds every acknowledged update.
    let total = acked.load(Ordering::SeqCst);
    let reply = query(&server, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", None);
    assert_eq!(
        json_number(&reply, "n"),
        1000 + PER_UPDATE * total,
        "{stem}"
    );
}

#[test]
fn a_backup_of_lmdb_under_a_writing_server_is_a_checkpoint_of_a_committed_state() {
    backup_beside_a_writing_server(
        "kgdb_plugin_lmdb",
        "checkpoint (the plugin's consistent copy)",
    );
}

#[test]
fn a_backup_of_rocksdb_under_a_writing_server_copies_one_snapshot() {
    // The server holds RocksDB's writer lock, and a read-only instance cannot checkpoint.
    backup_beside_a_writing_server("kgdb_plugin_rocksdb", "copying every table at one snapshot");
}
