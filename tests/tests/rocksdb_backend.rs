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

/// The sum of a whole-store statistic (the totals carry no `[table]` suffix).
fn stat(f: &kgdb_conformance::Fixture, name: &str) -> u64 {
    f.backend
        .stats()
        .unwrap()
        .into_iter()
        .find(|stat| stat.name == name)
        .unwrap_or_else(|| panic!("no statistic {name}"))
        .value
}

#[test]
fn the_memtable_budget_flushes_before_any_table_fills_its_write_buffer() {
    // Three tables, each written 12 MiB: under their 64 MiB write buffers, far over the 1 MiB
    // budget of all memtables together, which flushes the largest as it is reached.
    let f = fixture(
        "kgdb_plugin_rocksdb",
        "write_buffer_size = \"64 MiB\"\nmemtable_budget = \"1 MiB\"",
    );
    let tables = [f.table("a"), f.table("b"), f.table("c")];
    let value = vec![7u8; 1024];
    for chunk in 0..120u32 {
        let mut txn = f.write();
        for i in 0..100u32 {
            for table in tables {
                txn.put(table, &(chunk * 100 + i).to_be_bytes(), &value)
                    .unwrap();
            }
        }
        txn.commit().unwrap();
    }
    // Flushes run in the background, and flushed memtables are freed once trimmed: wait (up
    // to a minute, on a busy machine) for the memtables to come down. 36 MiB were written;
    // without the budget the memtables would hold all of it, and so would flushed memtables
    // kept for conflict checks if they were not bounded by the budget too. With both bounds
    // they hold the arena blocks of the three active memtables and of at most one kept
    // memtable each (4–7 MiB when measured; a few arena blocks each at worst).
    let bound = 24 << 20;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let (on_disk, in_memtables) = loop {
        let on_disk = stat(&f, "rocksdb.live-sst-files-size");
        // Active, unflushed and flushed-but-kept memtables.
        let in_memtables = stat(&f, "rocksdb.size-all-mem-tables");
        if (on_disk > 0 && in_memtables < bound) || std::time::Instant::now() > deadline {
            break (on_disk, in_memtables);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(
        on_disk > 0,
        "nothing was flushed: {in_memtables} bytes in memtables"
    );
    assert!(
        in_memtables < bound,
        "{in_memtables} bytes in memtables with a 1 MiB budget"
    );
    // Every row is still there.
    let read = f.read();
    for table in tables {
        let rows = read
            .scan(table, kgdb_host::plugin::ScanSpec::all())
            .unwrap()
            .count();
        assert_eq!(rows, 12_000);
    }
}
