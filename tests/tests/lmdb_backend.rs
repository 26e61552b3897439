//! What only the LMDB plugin does (its map grows by itself, its config keys), on the plugin
//! loaded from its `cdylib` through the real loader. The shared contract is `conformance.rs`.

use kgdb_conformance::expect_code;
use kgdb_host::plugin::{Capabilities, ErrorCode, TxnOptions};
use kgdb_tests::fixture;

#[test]
fn the_map_grows_without_losing_a_write() {
    let f = fixture("kgdb_plugin_lmdb", "map_size = \"64 KiB\"");
    let t = f.table("t");
    let mut txn = f.write();
    for i in 0..2000u32 {
        txn.put(t, &i.to_be_bytes(), &[i as u8; 500]).unwrap();
    }
    // Reads inside the transaction see every write, across the regrowths.
    assert_eq!(
        txn.get(t, &7u32.to_be_bytes()).unwrap().map(|v| v.len()),
        Some(500)
    );
    txn.commit().unwrap();
    let read = f.read();
    for i in (0..2000u32).step_by(97) {
        assert_eq!(
            read.get(t, &i.to_be_bytes()).unwrap(),
            Some(vec![i as u8; 500])
        );
    }
    let stats = f.backend.stats().unwrap();
    let resizes = stats
        .iter()
        .find(|s| s.name == "lmdb.map_resizes")
        .unwrap()
        .value;
    assert!(
        resizes >= 4,
        "1 MB of data in a 64 KiB map needs several resizes, saw {resizes}"
    );
}

#[test]
fn a_full_map_at_its_bound_is_a_clear_error() {
    let f = fixture(
        "kgdb_plugin_lmdb",
        "map_size = \"64 KiB\"\nmax_map_size = \"256 KiB\"",
    );
    let t = f.table("t");
    let mut txn = f.write();
    let mut failed = None;
    for i in 0..2000u32 {
        if let Err(error) = txn.put(t, &i.to_be_bytes(), &[0u8; 1000]) {
            failed = Some(error);
            break;
        }
    }
    let error = failed.expect("256 KiB cannot hold 2 MB");
    assert_eq!(error.code, ErrorCode::FULL);
    assert!(error.message.contains("max_map_size"), "{error}");
    drop(txn);
    // The store is intact and usable after the failure.
    f.put_all(t, &[(b"after", b"ok")]);
    assert_eq!(f.get(t, b"after").as_deref(), Some(&b"ok"[..]));
}

#[test]
fn lmdb_declares_serialized_writers_and_durability() {
    let f = fixture("kgdb_plugin_lmdb", "");
    let caps = f.caps();
    assert!(caps.has(
        Capabilities::SERIALIZED_WRITERS | Capabilities::PERSISTENT | Capabilities::DURABLE_SYNC
    ));
    assert!(!caps.has(Capabilities::CONFLICT_DETECTION));
    assert!(caps.max_key_size >= 511);
}

#[test]
fn bad_config_values_are_refused_with_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let loader = kgdb_host::plugin::PluginLoader::new();
    let plugin = kgdb_tests::load_plugin(&loader, "kgdb_plugin_lmdb");
    let error = plugin.validate_config("map_size = \"1 KiB\"").unwrap_err();
    assert_eq!(
        (error.code, error.key.as_str()),
        (ErrorCode::INVALID_CONFIG, "map_size")
    );
    let error = plugin
        .validate_config("map_size = \"1 GiB\"\nmax_map_size = \"1 MiB\"")
        .unwrap_err();
    assert_eq!(error.key, "max_map_size");
    let error = plugin.validate_config("max_tables = 0").unwrap_err();
    assert_eq!(error.key, "max_tables");
    drop(dir);
}

#[test]
fn a_read_transaction_never_waits_for_the_writer() {
    let f = fixture("kgdb_plugin_lmdb", "");
    let t = f.table("t");
    f.put_all(t, &[(b"k", b"v")]);
    let mut writer = f.write();
    writer.put(t, b"k", b"uncommitted").unwrap();
    // With the writer busy, readers still begin and read the last committed state.
    let reader = f.backend.begin(TxnOptions::READ_ONLY).unwrap();
    assert_eq!(reader.get(t, b"k").unwrap().as_deref(), Some(&b"v"[..]));
    writer.commit().unwrap();
    expect_code(f.backend.open_table("missing", false), ErrorCode::NOT_FOUND);
}

#[test]
fn a_read_transaction_moves_between_threads() {
    let f = fixture("kgdb_plugin_lmdb", "");
    let t = f.table("t");
    f.put_all(t, &[(b"k", b"v")]);
    let read = f.read();
    let mut cursor = read.scan(t, kgdb_host::plugin::ScanSpec::all()).unwrap();
    let (read, rows) = std::thread::spawn(move || {
        let value = read.get(t, b"k").unwrap();
        let rows = cursor.next_batch(10, 1024).unwrap().len();
        assert_eq!(value.as_deref(), Some(&b"v"[..]));
        (read, rows)
    })
    .join()
    .unwrap();
    assert_eq!(rows, 1);
    assert_eq!(read.get(t, b"k").unwrap().as_deref(), Some(&b"v"[..]));
}
