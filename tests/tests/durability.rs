//! Crash durability of the persistent plugins: SIGKILL a writer at random moments (20 times per
//! backend), reopen, and check that every acknowledged `sync` commit is whole and that no commit
//! is there in part. Also: data written by one process is there, byte for byte, in the next.

use std::process::Command;

use kgdb_conformance::crash::{crash_key, crash_value, kill_and_check, KEYS_PER_TXN, TABLE};
use kgdb_host::plugin::{OpenSettings, PluginLoader, ScanSpec, TxnOptions};
use kgdb_tests::{crash_writer, plugin_library};

const ROUNDS: usize = 20;

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64)
}

#[test]
fn lmdb_survives_sigkill() {
    let seed = seed();
    let acked = kill_and_check(
        &crash_writer(),
        &plugin_library("kgdb_plugin_lmdb"),
        "map_size = \"1 MiB\"",
        ROUNDS,
        seed,
    );
    assert!(acked > 0, "seed {seed}: the writer never got to commit");
}

#[test]
fn rocksdb_survives_sigkill() {
    let seed = seed();
    let acked = kill_and_check(
        &crash_writer(),
        &plugin_library("kgdb_plugin_rocksdb"),
        "",
        ROUNDS,
        seed,
    );
    assert!(acked > 0, "seed {seed}: the writer never got to commit");
}

fn written_by_another_process(stem: &str) {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("data");
    let library = plugin_library(stem);
    let writer = crash_writer();
    let status = Command::new(&writer.program)
        .args(&writer.args)
        .arg(&library)
        .arg(&data_dir)
        .args(["0", "25"])
        .status()
        .unwrap();
    assert!(status.success(), "the writer exits cleanly");
    let loader = PluginLoader::new();
    let backend = kgdb_tests::load_plugin(&loader, stem)
        .open(&OpenSettings {
            data_dir: Some(data_dir),
            create: false,
            ..OpenSettings::default()
        })
        .unwrap();
    let table = backend.open_table(TABLE, false).unwrap();
    let txn = backend.begin(TxnOptions::READ_ONLY).unwrap();
    let rows: Vec<_> = txn
        .scan(table, ScanSpec::all())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let expected: Vec<_> = (0..25u64)
        .flat_map(|n| (0..KEYS_PER_TXN).map(move |i| (crash_key(n, i), crash_value(n, i))))
        .collect();
    assert_eq!(rows, expected);
}

#[test]
fn lmdb_data_outlives_the_writing_process() {
    written_by_another_process("kgdb_plugin_lmdb");
}

#[test]
fn rocksdb_data_outlives_the_writing_process() {
    written_by_another_process("kgdb_plugin_rocksdb");
}

#[test]
fn a_data_directory_belongs_to_one_plugin() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("data");
    let loader = PluginLoader::new();
    let settings = OpenSettings {
        data_dir: Some(data_dir.clone()),
        create: true,
        ..OpenSettings::default()
    };
    let lmdb = kgdb_tests::load_plugin(&loader, "kgdb_plugin_lmdb");
    let backend = lmdb.open(&settings).unwrap();
    backend.open_table("t", true).unwrap();
    backend.close().unwrap();
    drop(backend);
    let rocksdb = kgdb_tests::load_plugin(&loader, "kgdb_plugin_rocksdb");
    let error = rocksdb.open(&settings).unwrap_err();
    assert_eq!(
        error.code,
        kgdb_host::plugin::ErrorCode::INCOMPATIBLE,
        "{error}"
    );
    assert!(
        error.message.contains("belongs to plugin `lmdb`"),
        "{error}"
    );
    // The LMDB data is untouched and still opens.
    let backend = lmdb.open(&settings).unwrap();
    assert_eq!(backend.list_tables().unwrap(), vec!["t"]);
}

fn a_second_process_is_told_who_holds_the_directory(stem: &str) {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("data");
    let loader = PluginLoader::new();
    let backend = kgdb_tests::load_plugin(&loader, stem)
        .open(&OpenSettings {
            data_dir: Some(data_dir.clone()),
            create: true,
            ..OpenSettings::default()
        })
        .unwrap();
    let started = std::time::Instant::now();
    let writer = crash_writer();
    let output = Command::new(&writer.program)
        .args(&writer.args)
        .arg(plugin_library(stem))
        .arg(&data_dir)
        .args(["0", "5"])
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "the second process must not open the directory"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("in use by process {}", std::process::id())),
        "{stderr}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "no hang"
    );
    drop(backend);
}

#[test]
fn lmdb_refuses_a_second_process() {
    a_second_process_is_told_who_holds_the_directory("kgdb_plugin_lmdb");
}

#[test]
fn rocksdb_refuses_a_second_process() {
    a_second_process_is_told_who_holds_the_directory("kgdb_plugin_rocksdb");
}

/// Writes a store, damages `file` in it, and checks that opening reports `corruption`.
fn a_damaged_file_is_reported_as_corruption(stem: &str, file: &str, damage: &[u8]) {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("data");
    let loader = PluginLoader::new();
    let plugin = kgdb_tests::load_plugin(&loader, stem);
    let settings = OpenSettings {
        data_dir: Some(data_dir.clone()),
        create: true,
        ..OpenSettings::default()
    };
    let backend = plugin.open(&settings).unwrap();
    let table = backend.open_table("t", true).unwrap();
    let mut txn = backend.begin(TxnOptions::READ_WRITE).unwrap();
    txn.put(table, b"k", b"v").unwrap();
    txn.commit().unwrap();
    backend.close().unwrap();
    drop(backend);
    std::fs::write(data_dir.join(file), damage).unwrap();
    let error = plugin.open(&settings).unwrap_err();
    assert_eq!(
        error.code,
        kgdb_host::plugin::ErrorCode::CORRUPTION,
        "{error}"
    );
}

#[test]
fn lmdb_reports_a_damaged_data_file() {
    a_damaged_file_is_reported_as_corruption("kgdb_plugin_lmdb", "data.mdb", &[0xAB; 8192]);
}

#[test]
fn rocksdb_reports_a_damaged_manifest_pointer() {
    a_damaged_file_is_reported_as_corruption("kgdb_plugin_rocksdb", "CURRENT", b"garbage");
}
