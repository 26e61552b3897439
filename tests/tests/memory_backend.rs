//! What only the memory plugin does (its memory limit, no persistence), on the plugin loaded
//! from its `cdylib` through the real loader. The shared contract is `conformance.rs`.

use kgdb_conformance::expect_code;
use kgdb_host::plugin::{Capabilities, ErrorCode, PluginLoader};
use kgdb_tests::fixture;

#[test]
fn memory_limit_refuses_a_commit_that_would_pass_it() {
    let f = fixture("kgdb_plugin_memory", "memory_limit = \"1 KiB\"");
    let t = f.table("t");
    f.put_all(t, &[(b"small", &[0u8; 100])]);
    let mut txn = f.write();
    txn.put(t, b"large", &[0u8; 2000]).unwrap();
    txn.put(t, b"other", b"x").unwrap();
    let error = expect_code(txn.commit(), ErrorCode::FULL);
    assert!(error.message.contains("memory_limit"), "{error}");
    assert_eq!(f.get(t, b"large"), None);
    assert_eq!(f.get(t, b"other"), None);
    assert_eq!(f.get(t, b"small").map(|v| v.len()), Some(100));
    // Freeing space makes room again.
    let mut txn = f.write();
    txn.delete(t, b"small").unwrap();
    txn.put(t, b"medium", &[0u8; 900]).unwrap();
    txn.commit().unwrap();
}

#[test]
fn memory_declares_no_persistence() {
    let f = fixture("kgdb_plugin_memory", "");
    let caps = f.caps();
    assert!(caps.has(Capabilities::CONFLICT_DETECTION));
    assert!(!caps.has(Capabilities::SERIALIZED_WRITERS));
    assert!(!caps.has(Capabilities::PERSISTENT));
    assert!(!caps.has(Capabilities::DURABLE_SYNC));
}

#[test]
fn two_plugins_live_in_one_process() {
    let loader = PluginLoader::new();
    let memory = kgdb_tests::load_plugin(&loader, "kgdb_plugin_memory");
    let fixture = kgdb_tests::load_plugin(&loader, "kgdb_fixture_panic_plugin");
    assert_eq!(memory.details().name, "memory");
    assert_eq!(fixture.details().name, "panic-fixture");
    // Loading the same file again returns the same library.
    let again = kgdb_tests::load_plugin(&loader, "kgdb_plugin_memory");
    assert!(std::sync::Arc::ptr_eq(&memory, &again));
    let settings = kgdb_host::plugin::OpenSettings::default();
    let a = memory.open(&settings).unwrap();
    let b = fixture.open(&settings).unwrap();
    assert!(a.capabilities().has(Capabilities::CONFLICT_DETECTION));
    assert!(!b.capabilities().has(Capabilities::CONFLICT_DETECTION));
    assert_eq!(b.list_tables().unwrap(), vec!["only"]);
    assert!(a.list_tables().unwrap().is_empty());
}

#[test]
fn unknown_config_keys_are_refused_with_their_path() {
    let loader = PluginLoader::new();
    let memory = kgdb_tests::load_plugin(&loader, "kgdb_plugin_memory");
    let error = memory.validate_config("memory_limt = 5").unwrap_err();
    assert_eq!(error.code, ErrorCode::INVALID_CONFIG);
    assert_eq!(error.key, "memory_limt");
    let error = memory
        .validate_config("memory_limit = \"lots\"")
        .unwrap_err();
    assert_eq!(error.key, "memory_limit");
}
