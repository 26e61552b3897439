//! What only the RocksDB plugin does (its config keys, conflict detection, durability), on the
//! plugin loaded from its `cdylib` through the real loader. The shared contract is
//! `conformance.rs`.

use kgdb_conformance::expect_code;
use kgdb_host::plugin::{Capabilities, ErrorCode};
use kgdb_tests::fixture;

const CONFIG: &str = "block_cache_size = \"8 MiB\"\nwrite_buffer_size = \"4 MiB\"";

#[test]
fn rocksdb_declares_conflict_detection_and_durability() {
    let f = fixture("kgdb_plugin_rocksdb", CONFIG);
    let caps = f.caps();
    assert!(caps.has(
        Capabilities::CONFLICT_DETECTION | Capabilities::PERSISTENT | Capabilities::DURABLE_SYNC
    ));
    assert!(caps.has(Capabilities::BULK_INGEST | Capabilities::CHECKPOINT | Capabilities::COMPACT));
    assert!(!caps.has(Capabilities::SERIALIZED_WRITERS));
}

#[test]
fn bad_config_values_are_refused_with_their_key() {
    let loader = kgdb_host::plugin::PluginLoader::new();
    let plugin = kgdb_tests::load_plugin(&loader, "kgdb_plugin_rocksdb");
    let error = plugin
        .validate_config("compression = \"snappy\"")
        .unwrap_err();
    assert_eq!(
        (error.code, error.key.as_str()),
        (ErrorCode::INVALID_CONFIG, "compression")
    );
    let error = plugin.validate_config("max_open_files = 0").unwrap_err();
    assert_eq!(error.key, "max_open_files");
    let error = plugin.validate_config("block_cache_size = 10").unwrap_err();
    assert_eq!(error.key, "block_cache_size");
    plugin
        .validate_config("compression = \"zstd\"\nsync = true\nbloom_bits_per_key = 0")
        .unwrap();
}

#[test]
fn ingested_runs_are_visible_to_later_transactions_and_survive_reopen() {
    let mut f = fixture("kgdb_plugin_rocksdb", CONFIG);
    let t = f.table("t");
    let mut rows = kgdb_host::plugin::KvBatch::new();
    for i in 0..50_000u32 {
        rows.push(&i.to_be_bytes(), &i.to_le_bytes()).unwrap();
    }
    let options = kgdb_host::plugin::WriteOptions {
        sync: kgdb_host::plugin::SyncMode::DEFAULT,
    };
    f.backend
        .ingest_sorted(&[kgdb_host::plugin::SortedRun { table: t, rows }], options)
        .unwrap();
    f.reopen();
    let t = f.backend.open_table("t", false).unwrap();
    let read = f.read();
    assert_eq!(
        read.get(t, &49_999u32.to_be_bytes()).unwrap(),
        Some(49_999u32.to_le_bytes().to_vec())
    );
    let count = read
        .scan(t, kgdb_host::plugin::ScanSpec::all())
        .unwrap()
        .count();
    assert_eq!(count, 50_000);
    expect_code(f.backend.open_table("absent", false), ErrorCode::NOT_FOUND);
}
