//! A panic inside a plugin never crosses the boundary: the host gets `internal`, the instance
//! is poisoned from then on, other instances and the process carry on.

use kgdb_host::plugin::{ErrorCode, OpenSettings, PluginLoader, TxnOptions};

#[test]
fn a_panicking_method_poisons_only_its_instance() {
    let loader = PluginLoader::new();
    let plugin = kgdb_tests::load_plugin(&loader, "kgdb_fixture_panic_plugin");
    let backend = plugin.open(&OpenSettings::default()).unwrap();
    let healthy = plugin.open(&OpenSettings::default()).unwrap();
    let table = backend.open_table("only", true).unwrap();
    let mut txn = backend.begin(TxnOptions::READ_WRITE).unwrap();
    assert_eq!(txn.get(table, b"k").unwrap(), None);

    let error = txn.put(table, b"k", b"v").unwrap_err();
    assert_eq!(error.code, ErrorCode::INTERNAL);
    assert!(error.message.contains("put panicked"), "{error}");
    assert!(
        error.message.contains("the panic fixture panics in put"),
        "{error}"
    );

    // Every later call on that instance, its transactions and the backend itself, says poisoned.
    let error = txn.get(table, b"k").unwrap_err();
    assert_eq!(error.code, ErrorCode::INTERNAL);
    assert!(error.message.contains("poisoned"), "{error}");
    let error = backend.begin(TxnOptions::READ_ONLY).unwrap_err();
    assert!(error.message.contains("poisoned"), "{error}");
    drop(txn);
    drop(backend);

    // Another instance of the same plugin is unaffected.
    let txn = healthy.begin(TxnOptions::READ_ONLY).unwrap();
    assert_eq!(txn.get(table, b"k").unwrap(), None);
}

#[test]
fn a_panic_in_open_is_an_internal_error() {
    let loader = PluginLoader::new();
    let plugin = kgdb_tests::load_plugin(&loader, "kgdb_fixture_panic_plugin");
    let settings = OpenSettings {
        config: "panic_in_open = true".into(),
        ..OpenSettings::default()
    };
    let error = plugin.open(&settings).unwrap_err();
    assert_eq!(error.code, ErrorCode::INTERNAL);
    assert!(error.message.contains("open panicked"), "{error}");
    // The plugin still opens with a sane config.
    assert!(plugin.open(&OpenSettings::default()).is_ok());
}
