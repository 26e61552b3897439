//! `kgdb-host compact`: RocksDB compacts and reports the bytes on disk before and after, LMDB
//! says it reuses the pages it frees and how many are free, the memory plugin has nothing on
//! disk; the store is the same after.

use std::path::Path;

use kgdb_tests::Run;

fn host(dir: &Path, stem: &str, args: &[&str]) -> Run {
    kgdb_tests::run_plugin(dir, stem, args)
}

/// A store of 20,000 quads, then emptied: what compaction can reclaim.
fn emptied_store(dir: &Path, stem: &str) {
    let text: String = (0..20_000)
        .map(|n| format!("<http://e/s{n}> <http://e/p{}> \"value {n}\" .\n", n % 50))
        .collect();
    std::fs::write(dir.join("data.nt"), text).unwrap();
    host(dir, stem, &["load", "data.nt"]).expect_success();
    host(dir, stem, &["remove", "*", "*", "*"]).expect_success();
}

/// The number before `unit` in `text`, e.g. `6541` in "(6541 free pages".
fn number_before(text: &str, unit: &str) -> u64 {
    let end = text
        .find(unit)
        .unwrap_or_else(|| panic!("no `{unit}` in {text}"));
    let digits: String = text[..end]
        .trim_end()
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.chars().rev().collect::<String>().parse().unwrap()
}

#[test]
fn rocksdb_compacts_and_reports_the_space_it_reclaimed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    emptied_store(d, "kgdb_plugin_rocksdb");
    let out = host(d, "kgdb_plugin_rocksdb", &["compact"])
        .expect_success()
        .to_owned();
    assert!(out.starts_with("compacted: "), "{out}");
    assert!(
        out.contains(" on disk before, ") && out.contains(" less)"),
        "{out}"
    );
    assert_eq!(
        host(d, "kgdb_plugin_rocksdb", &["count"]).expect_success(),
        "0\n"
    );
    host(d, "kgdb_plugin_rocksdb", &["verify"]).expect_success();
    // The store still takes writes.
    host(d, "kgdb_plugin_rocksdb", &["load", "data.nt"]).expect_success();
    assert_eq!(
        host(d, "kgdb_plugin_rocksdb", &["count"]).expect_success(),
        "20000\n"
    );
}

#[test]
fn lmdb_needs_no_compaction_and_says_how_many_pages_are_free() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    emptied_store(d, "kgdb_plugin_lmdb");
    let out = host(d, "kgdb_plugin_lmdb", &["compact"])
        .expect_success()
        .to_owned();
    assert!(
        out.starts_with("not needed: the `lmdb` plugin reuses the pages it frees"),
        "{out}"
    );
    // The emptied store's pages are free; a fresh load writes into them.
    assert!(number_before(&out, "free pages") > 100, "{out}");
    let status = host(d, "kgdb_plugin_lmdb", &["status"])
        .expect_success()
        .to_owned();
    assert!(status.contains("lmdb.free_pages"), "{status}");
    host(d, "kgdb_plugin_lmdb", &["verify"]).expect_success();
}

#[test]
fn the_memory_plugin_has_nothing_to_compact_and_a_missing_store_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = host(d, "kgdb_plugin_memory", &["compact"])
        .expect_success()
        .to_owned();
    assert_eq!(
        out,
        "nothing to compact: the `memory` plugin keeps nothing on disk\n"
    );
    host(d, "kgdb_plugin_rocksdb", &["compact"]).expect_one_line_error(&["no such data directory"]);
    assert!(!d.join("data").exists(), "compact made no store");
}
